// The `dynamodb` state store kind: its fields, parser and openers.
#include "config/config.h"
#include "state/dynamodb/dynamodb_state_store.h"

namespace cdc::state {
namespace {

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<DynamoDbStateOptions>();
  r.String("table", o->table);
  r.Bool("create", o->create);
  r.String("lease_table", o->lease_table);
  ReadAwsOptions(r, *o);
  r.Int("lease_ms", o->lease_ms);
  r.Int("retry_ms", o->retry_ms);
  return o;
}

}  // namespace
}  // namespace cdc::state

namespace cdc {

void RegisterDynamoDbStateStore(Registry& registry) {
  using config::FieldType;
  StateKind kind;
  kind.spec.name = "dynamodb";
  kind.spec.description =
      "The state in a DynamoDB table (the original system's state table), so that the pipeline "
      "does not depend on one machine's disk for it: per pipeline (`pipeline.name` is the "
      "partition key, so several pipelines share a table) one item holds the whole state "
      "(checkpoints, delivery marks, values), written whole by a PutItem conditional on the "
      "writer's fencing token; a lease item (renewed every `lease_ms`/3) makes one process the "
      "owner; dedupe keys are items of their own with a TTL attribute. No transactions are "
      "needed (dynalite has none). Does not keep last row images (`unchanged_toast: "
      "last_image` needs `sqlite`). Layout and lease protocol: docs/state-store.md.";
  kind.spec.fields = {
      {"table", FieldType::kString, "${STATE_TABLE_NAME:-cdc-pipeline-state}",
       "The DynamoDB table (partition key `pk`, sort key `sk`, both strings); empty: the "
       "`STATE_TABLE_NAME` environment variable, else `cdc-pipeline-state`."},
      {"create", FieldType::kBool, "false",
       "Create the table (PAY_PER_REQUEST, TTL on `ttl`) when it does not exist, and wait until "
       "it is ACTIVE."},
      {"lease_table", FieldType::kString, "<table>-leases",
       "The shard lease table of `run --role process` without `--shards`: processes (on any "
       "machine) share the stream's shards through KCL-style leases in it (hash key "
       "`leaseKey`, the Kinesis shard id; `leaseOwner`, `leaseCounter`, `checkpoint`, "
       "`ownerSwitchesSinceCheckpoint`), take over a dead worker's shards and balance them "
       "(docs/kinesis.md). Created with `create: true`."},
      {"region", FieldType::kString, "",
       "AWS region; empty: `AWS_REGION`, else `AWS_DEFAULT_REGION`."},
      {"endpoint", FieldType::kString, "",
       "Endpoint URL (dynalite, DynamoDB Local, a VPC endpoint); empty: "
       "`AWS_ENDPOINT_URL_DYNAMODB`, else `DYNAMODB_ENDPOINT`, else `AWS_ENDPOINT_URL`, else "
       "AWS's endpoint for the region."},
      {"timeout_ms",
       FieldType::kInt,
       "10000",
       "How long one call may take before it counts as failed (and is retried).",
       {},
       false,
       1},
      {"lease_ms",
       FieldType::kInt,
       "10000",
       "The lease's duration: renewed every third of it; a process that stops renewing (killed, "
       "partitioned) loses it after this long, and a new `run` waits up to 4/3 of it for a "
       "held lease before it gives up (at once if it sees the holder renew). A `run` on the "
       "same host as a killed holder takes the lease at once. The shard leases of "
       "`lease_table` last as long: a dead worker's shards are taken over within two of it.",
       {},
       false,
       100},
      {"retry_ms",
       FieldType::kInt,
       "30000",
       "How long a call that fails transiently (throttling, 5xx, network) is retried, with "
       "backoff, before the store gives up (a checkpoint then stops the pipeline).",
       {},
       false,
       0},
  };
  kind.spec.parse = state::ParseOptions;
  kind.open = state::internal::OpenDynamoDb;
  kind.open_read_only = state::internal::OpenDynamoDbReadOnly;
  kind.describe = state::internal::DescribeDynamoDb;
  registry.AddState(std::move(kind));
}

}  // namespace cdc
