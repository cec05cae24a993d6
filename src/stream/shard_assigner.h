// Which of the stream's shards this process delivers when several `run --role process`
// processes share them: KCL-style leases in a DynamoDB table (src/state/dynamodb/shard_leases.h)
// or a Kafka consumer group (src/stream/kafka/). An assigner only decides who *should* deliver a
// shard. Each shard is delivered from and into its own unit (its own data dir and state store,
// whose lease and fencing token let one process write it at a time), so an assigner may name a
// shard here while the process that had it is still letting it go: opening the unit then waits.
//
// Thread-safety: one thread (the supervisor of the process's units) calls every method.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cdc::stream {

class ShardAssigner {
 public:
  virtual ~ShardAssigner() = default;

  // Keeps this process's claim alive (renews leases, polls the group) and answers the shards it
  // should deliver now, sorted. Waits at most `wait` (less when the answer changes). Called in a
  // loop, at least every 200 ms. An error means the assigner cannot go on (the process stops).
  virtual Result<std::vector<uint32_t>> Poll(std::chrono::milliseconds wait) = 0;

  // `shard`'s unit committed a checkpoint: `next_offset` is the first offset not yet delivered.
  // The assigner may record it (a KCL lease's `checkpoint`); the unit's state store is what
  // counts.
  virtual void Checkpointed(uint32_t shard, uint64_t next_offset) = 0;

  // This process no longer delivers `shard`: its unit closed (after Poll stopped naming it, or
  // at shutdown) and wrote its last checkpoint. Others may have it at once.
  virtual void Released(uint32_t shard) = 0;

  // Leaves (whatever is still held is released). No other call after it.
  virtual Status Close() = 0;

  // For logs: what assigns ("leases in DynamoDB table T as worker W").
  virtual std::string Describe() const = 0;
};

}  // namespace cdc::stream
