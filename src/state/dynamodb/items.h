// What the DynamoDB state store and the shard lease table share: attribute values in DynamoDB's
// JSON ({"S": ..}, {"N": ..}) written and read, owners named "pid N on host H", and the
// conditional-write failure. Internal to src/state/dynamodb.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/client.h"
#include "base/status.h"
#include "event/json_writer.h"

namespace cdc::state::ddb {

// Whether `owner` ("pid N on host H", as the runtime names owners) is a process of this host that
// no longer exists: its lease may be taken at once (a restart after kill -9).
bool OwnerDeadOnThisHost(const std::string& owner);

// {"S": text}
void S(JsonWriter& w, std::string_view key, std::string_view text);
// {"N": "123"}
void N(JsonWriter& w, std::string_view key, int64_t v);
void N(JsonWriter& w, std::string_view key, uint64_t v);

// An item's attribute of type S or N (as text), nullopt when absent.
std::optional<std::string_view> Attribute(simdjson::dom::element item, std::string_view name,
                                          std::string_view type);
std::optional<int64_t> NumberAttribute(simdjson::dom::element item, std::string_view name);

// One DynamoDB call (the caller's retry policy).
using CallFn = std::function<aws::Response(std::string_view operation, const std::string& body)>;

// Waits until `table` is ACTIVE with the string key attributes `keys` ((name, HASH|RANGE), in
// order), creating it (PAY_PER_REQUEST) when it is missing and `create` is set. True when this
// call created it. `what` names the table in messages ("DynamoDB table t (region, origin)"),
// `user` what needs it ("the state store"), `option` the setting that names it.
Result<bool> EnsureTable(aws::JsonClient& client, const std::string& table,
                         const std::vector<std::pair<std::string, std::string>>& keys, bool create,
                         const CallFn& call, const std::string& what, const std::string& user,
                         const std::string& option, std::chrono::milliseconds timeout);

inline bool ConditionFailed(const aws::Response& r) {
  return r.error_type == "ConditionalCheckFailedException";
}

}  // namespace cdc::state::ddb
