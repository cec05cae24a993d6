// The DynamoDB state store (`state.type: dynamodb`): the pipeline's whole durable state in one
// item of a DynamoDB table, a lease item with a fencing token, and one item per dedupe key
// (docs/state-store.md, "DynamoDB"). Only OpenStateStore, the kind and the store's own tests open
// it by name.
//
// Thread-safety: as StateStore, one thread at a time. The store renews its lease on a thread of
// its own (with its own client); that thread only shares the fenced flag with the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aws/aws_options.h"
#include "state/state_store.h"

namespace cdc::state {

// `state` of type dynamodb, as configured.
struct DynamoDbStateOptions : AwsOptions {
  std::string table;  // as configured, else STATE_TABLE_NAME, else "cdc-pipeline-state"
  bool create = false;
  // The shard lease table of `run --role process` (shard_leases.h); empty: "<table>-leases".
  std::string lease_table;
  int64_t lease_ms = 10000;
  // How long a call that fails transiently (throttling, 5xx, network) is retried.
  int64_t retry_ms = 30000;
};

// The table `config` names.
std::string DynamoDbStateTable(const StateConfig& config);

namespace internal {
// The kind's openers (dynamodb_kind.cc registers them; OpenStateStore calls them).
Result<std::unique_ptr<StateStore>> OpenDynamoDb(const StateConfig& config,
                                                 const std::string& owner, int64_t now_micros);
Result<std::unique_ptr<StateStore>> OpenDynamoDbReadOnly(const StateConfig& config);
// "DynamoDB table <t> (<region>, <endpoint origin>)".
std::string DescribeDynamoDb(const StateConfig& config);
}  // namespace internal

// For tests: the store stops renewing its lease, as a process that was stopped (SIGSTOP, a long
// pause) would; its Commit still tries to write. `store` must be a DynamoDB store.
void SuspendLeaseRenewalForTest(StateStore& store);

}  // namespace cdc::state

namespace cdc {
// The `dynamodb` state store kind (one line in this folder's CMakeLists registers it).
void RegisterDynamoDbStateStore(Registry& registry);
}  // namespace cdc
