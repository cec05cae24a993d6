// KCL-style shard leases in a DynamoDB table: how several `run --role process` processes (on
// several machines) share a stream's shards, take over a dead worker's shards and balance them.
// The table has the Kinesis Client Library's lease table's shape: one item per shard, hash key
// `leaseKey` (the Kinesis shard id), `leaseOwner`, `leaseCounter`, `checkpoint`,
// `ownerSwitchesSinceCheckpoint`. A lease is a pipeline shard (a hash key), which outlives a
// resharding of the Kinesis stream, so no lease has a `parentShardId`. docs/kinesis.md,
// "Processors sharing the shards", has the protocol.
//
// The leases decide who *should* deliver a shard. Each shard is delivered from and into a unit
// with its own state store (state item `<pipeline>/shard-<i>`), whose lease and fencing token make
// sure only one process writes it: a worker that lost its lease (paused, partitioned) and still
// runs cannot commit, and one that took a lease waits for the previous holder to let the unit go.
//
// Thread-safety: as stream::ShardAssigner, one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "stream/shard_assigner.h"

namespace cdc {
struct StateConfig;
}

namespace cdc::state {

// The lease table of `config` (a `dynamodb` state): `lease_table`, else
// "<state table>-leases".
std::string ShardLeaseTable(const StateConfig& config);

// The lease key of stream shard `shard`: the Kinesis shard id a new stream gives the shard with
// that hash-key range ("shardId-000000000003").
std::string ShardLeaseKey(uint32_t shard);

// Opens (creating with `state.create`) the lease table of `config` and adds a lease for each of
// the stream's `shard_count` shards that has none. `worker` names this process in `leaseOwner`
// ("pid N on host H": a worker of this host whose process is gone loses its leases at once).
Result<std::unique_ptr<stream::ShardAssigner>> OpenShardLeases(const StateConfig& config,
                                                               uint32_t shard_count,
                                                               std::string worker);

}  // namespace cdc::state
