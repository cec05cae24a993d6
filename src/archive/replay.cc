#include "archive/replay.h"

#include <algorithm>

#include "archive/archive.h"
#include "base/time.h"

namespace cdc::archive {
namespace {

constexpr size_t kMaxReplayNameChars = 64;  // AWS's limit (ValidReplayName)

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

std::string DefaultReplayName(std::string_view archive, int64_t start_micros) {
  std::string when;
  for (char c : FormatRfc3339(Timestamp{start_micros})) {
    if (c != '-' && c != ':') when.push_back(c);
  }
  size_t room = kMaxReplayNameChars - 1 - std::min(when.size(), kMaxReplayNameChars - 2);
  return std::string(archive.substr(0, room)) + "-" + when.substr(0, kMaxReplayNameChars - 2);
}

std::string AddReplayName(std::string_view event_json, std::string_view name) {
  size_t end = event_json.find_last_of('}');
  if (end == std::string_view::npos) return std::string(event_json);
  std::string out;
  out.reserve(event_json.size() + name.size() + 20);
  out.append(event_json.substr(0, end));
  // An object with no members yet takes no comma.
  size_t last = out.find_last_not_of(" \t\r\n");
  if (last != std::string::npos && out[last] != '{') out.push_back(',');
  out.append("\"replay-name\":\"");
  out.append(name);
  out.append("\"}");
  return out;
}

Status CheckReplayRequest(const Config& config, const ReplayRequest& request) {
  if (config.FindArchive(request.archive) == nullptr) {
    std::vector<std::string> names;
    for (const auto& a : config.archives) names.push_back(a.name);
    return InvalidArgument("unknown archive '" + request.archive + "'" +
                           (names.empty() ? std::string("; the config defines no archives (add "
                                                        "them under 'archives:')")
                                          : "; the config's archives are: " + Join(names)));
  }
  if (request.end_micros <= request.start_micros) {
    return InvalidArgument(
        "the end of the replay (" + FormatRfc3339(Timestamp{request.end_micros}) +
        ") must be after its start (" + FormatRfc3339(Timestamp{request.start_micros}) + ")");
  }
  if (!request.rule.empty()) {
    std::vector<std::string> names;
    const RuleConfig* found = nullptr;
    for (const auto& r : config.rules) {
      if (r.enabled) names.push_back(r.name);
      if (r.name == request.rule) found = &r;
    }
    if (found == nullptr) {
      return InvalidArgument("unknown rule '" + request.rule +
                             "'; the config's enabled rules are: " +
                             (names.empty() ? std::string("(none)") : Join(names)));
    }
    if (!found->enabled) {
      return InvalidArgument("rule '" + request.rule +
                             "' is disabled (enabled: false); a replay only goes through enabled "
                             "rules");
    }
  }
  if (!ValidReplayName(request.name)) {
    return InvalidArgument("'" + request.name +
                           "' is not a valid replay name: 1 to 64 characters, each a letter, a "
                           "digit, '.', '-' or '_'");
  }
  return Status::Ok();
}

}  // namespace cdc::archive
