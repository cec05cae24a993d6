#include "deploy/rollback.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <optional>

#include "event/json_writer.h"

namespace cdc::deploy {
namespace {

constexpr std::string_view kApi = "/2015-03-31/functions/";

// Function and alias names are [A-Za-z0-9_-]; anything else is escaped for the path.
std::string PathEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<int64_t> VersionNumber(std::string_view v) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

Status Failed(const aws::Response& r, const std::string& what) {
  if (r.http_status == 404) return NotFound(what + ": not found (" + r.status.message() + ")");
  return Status(r.status.code(), what + ": " + r.status.message());
}

struct Version {
  int64_t number;
  std::string description;
};

Result<std::vector<Version>> ListVersions(aws::JsonClient& lambda, const std::string& function) {
  std::vector<Version> out;
  std::string marker;
  simdjson::dom::parser parser;
  for (int page = 0; page < 1000; ++page) {
    std::string path = std::string(kApi) + PathEscape(function) + "/versions?MaxItems=50";
    if (!marker.empty()) path += "&Marker=" + PathEscape(marker);
    aws::Response r = lambda.Rest("ListVersionsByFunction", "GET", path, "");
    if (!r.status.ok()) return Failed(r, "function " + function);
    simdjson::dom::element doc;
    simdjson::dom::array versions;
    if (parser.parse(r.body).get(doc) != simdjson::SUCCESS ||
        doc["Versions"].get(versions) != simdjson::SUCCESS) {
      return Internal("ListVersionsByFunction of " + function + ": an answer without Versions");
    }
    for (auto v : versions) {
      std::string_view number, description;
      if (v["Version"].get(number) != simdjson::SUCCESS) continue;
      auto n = VersionNumber(number);
      if (!n) continue;  // $LATEST
      if (v["Description"].get(description) != simdjson::SUCCESS) description = "";
      out.push_back({*n, std::string(description)});
    }
    std::string_view next;
    if (doc["NextMarker"].get(next) != simdjson::SUCCESS || next.empty()) break;
    marker = next;
  }
  return out;
}

}  // namespace

Result<std::vector<AliasMove>> PlanRollback(aws::JsonClient& lambda,
                                            const std::vector<std::string>& functions,
                                            const std::string& alias, const std::string& version) {
  std::vector<AliasMove> moves;
  simdjson::dom::parser parser;
  for (const std::string& fn : functions) {
    AliasMove move{fn, alias, "", "", "", ""};
    aws::Response r =
        lambda.Rest("GetAlias", "GET",
                    std::string(kApi) + PathEscape(fn) + "/aliases/" + PathEscape(alias), "");
    if (!r.status.ok()) return Failed(r, "alias " + alias + " of " + fn);
    simdjson::dom::element doc;
    std::string_view current, revision;
    if (parser.parse(r.body).get(doc) != simdjson::SUCCESS ||
        doc["FunctionVersion"].get(current) != simdjson::SUCCESS) {
      return Internal("GetAlias of " + fn + ": an answer without FunctionVersion");
    }
    if (doc["RevisionId"].get(revision) != simdjson::SUCCESS) revision = "";
    move.from = current;
    move.revision_id = revision;
    auto versions = ListVersions(lambda, fn);
    if (!versions.ok()) return versions.status();
    const Version* chosen = nullptr;
    if (version == "previous") {
      auto now = VersionNumber(current);
      if (!now) {
        return FailedPrecondition("alias " + alias + " of " + fn + " points at " +
                                  std::string(current) + ", not a published version");
      }
      for (const Version& v : *versions) {
        if (v.number < *now && (chosen == nullptr || v.number > chosen->number)) chosen = &v;
      }
      if (chosen == nullptr) {
        return FailedPrecondition("alias " + alias + " of " + fn + " is at version " +
                                  std::string(current) + ", and there is no earlier version");
      }
    } else if (auto n = VersionNumber(version)) {
      for (const Version& v : *versions) {
        if (v.number == *n) chosen = &v;
      }
      if (chosen == nullptr) return NotFound(fn + " has no version " + version);
    } else {
      std::string releases;
      for (const Version& v : *versions) {
        if (v.description == version && (chosen == nullptr || v.number > chosen->number)) {
          chosen = &v;
        }
        if (!v.description.empty()) releases += (releases.empty() ? "" : ", ") + v.description;
      }
      if (chosen == nullptr) {
        return NotFound(fn + " has no version of release " + version +
                        " (its releases: " + (releases.empty() ? "none" : releases) + ")");
      }
    }
    move.to = std::to_string(chosen->number);
    move.release = chosen->description;
    moves.push_back(std::move(move));
  }
  return moves;
}

Status ApplyRollback(aws::JsonClient& lambda, const std::vector<AliasMove>& moves) {
  for (const AliasMove& m : moves) {
    if (m.noop()) continue;
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Key("FunctionVersion").String(m.to);
    if (!m.revision_id.empty()) w.Key("RevisionId").String(m.revision_id);
    w.EndObject();
    aws::Response r = lambda.Rest(
        "UpdateAlias", "PUT",
        std::string(kApi) + PathEscape(m.function) + "/aliases/" + PathEscape(m.alias), body);
    if (!r.status.ok()) return Failed(r, "moving alias " + m.alias + " of " + m.function);
  }
  return Status::Ok();
}

std::string UpdateAliasCommand(const AliasMove& move) {
  std::string out = "aws lambda update-alias --function-name " + move.function + " --name " +
                    move.alias + " --function-version " + move.to;
  if (!move.revision_id.empty()) out += " --revision-id " + move.revision_id;
  return out;
}

}  // namespace cdc::deploy
