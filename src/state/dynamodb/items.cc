#include "state/dynamodb/items.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <thread>

#include "base/host.h"
#include "base/logging.h"

namespace cdc::state::ddb {

bool OwnerDeadOnThisHost(const std::string& owner) {
  constexpr std::string_view kPid = "pid ", kOnHost = " on host ";
  if (!owner.starts_with(kPid)) return false;
  size_t on = owner.find(kOnHost);
  if (on == std::string::npos || owner.substr(on + kOnHost.size()) != HostName()) return false;
  int64_t pid = 0;
  auto [end, ec] = std::from_chars(owner.data() + kPid.size(), owner.data() + on, pid);
  if (ec != std::errc() || end != owner.data() + on || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

void S(JsonWriter& w, std::string_view key, std::string_view text) {
  w.Key(key).BeginObject().Key("S").String(text).EndObject();
}
void N(JsonWriter& w, std::string_view key, int64_t v) {
  w.Key(key).BeginObject().Key("N").String(std::to_string(v)).EndObject();
}
void N(JsonWriter& w, std::string_view key, uint64_t v) {
  w.Key(key).BeginObject().Key("N").String(std::to_string(v)).EndObject();
}

std::optional<std::string_view> Attribute(simdjson::dom::element item, std::string_view name,
                                          std::string_view type) {
  std::string_view v;
  if (item[name][type].get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<int64_t> NumberAttribute(simdjson::dom::element item, std::string_view name) {
  auto text = Attribute(item, name, "N");
  if (!text) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return v;
}

Result<bool> EnsureTable(aws::JsonClient& client, const std::string& table,
                         const std::vector<std::pair<std::string, std::string>>& keys, bool create,
                         const CallFn& call, const std::string& what, const std::string& user,
                         const std::string& option, std::chrono::milliseconds timeout) {
  std::string describe;
  JsonWriter(describe).BeginObject().Key("TableName").String(table).EndObject();
  std::string wanted;
  for (const auto& [name, type] : keys) {
    wanted += (wanted.empty() ? "" : ", ") + name + " " + type;
  }
  bool created = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    aws::Response r = call("DescribeTable", describe);
    if (r.status.code() == StatusCode::kNotFound && create && !created) {
      std::string body;
      JsonWriter w(body);
      w.BeginObject().Key("TableName").String(table);
      w.Key("AttributeDefinitions").BeginArray();
      for (const auto& key : keys) {
        w.BeginObject().Key("AttributeName").String(key.first).Key("AttributeType").String("S");
        w.EndObject();
      }
      w.EndArray().Key("KeySchema").BeginArray();
      for (const auto& [name, type] : keys) {
        w.BeginObject().Key("AttributeName").String(name).Key("KeyType").String(type).EndObject();
      }
      w.EndArray().Key("BillingMode").String("PAY_PER_REQUEST").EndObject();
      // ResourceInUse: another process created it meanwhile.
      aws::Response c = client.Call("CreateTable", body);
      if (!c.status.ok() && c.error_type != "ResourceInUseException") {
        return c.status.WithContext("cannot create " + user + "'s table " + table);
      }
      created = true;
      log::Info("{}: created the table (PAY_PER_REQUEST)", what);
      continue;
    }
    if (!r.status.ok()) return r.status;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view status;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Table"]["TableStatus"].get(status) != simdjson::SUCCESS) {
      return Unavailable(what + ": DescribeTable answered without the table's status");
    }
    if (status == "ACTIVE" || status == "UPDATING") {
      simdjson::dom::array schema;
      std::string found;
      if (root["Table"]["KeySchema"].get(schema) == simdjson::SUCCESS) {
        for (simdjson::dom::element k : schema) {
          std::string_view name, type;
          if (k["AttributeName"].get(name) == simdjson::SUCCESS &&
              k["KeyType"].get(type) == simdjson::SUCCESS) {
            found += (found.empty() ? "" : ", ") + std::string(name) + " " + std::string(type);
          }
        }
      }
      if (found != wanted) {
        return FailedPrecondition(what + " has the key schema (" + found + "); " + user +
                                  " needs (" + wanted + "), string attributes: use another " +
                                  "table (" + option + ")");
      }
      return created;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Unavailable(what + " stayed " + std::string(status) + "; it must be ACTIVE");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace cdc::state::ddb
