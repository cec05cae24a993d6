// `run --role process`: the stream's shards this process delivers, each in a unit of its own. A
// unit is a pipeline with no source that delivers one shard from and into its own data dir,
// `<data_dir>/shards/<i>` (the config loaded again with CDC_DATA_DIR set to it: its state file,
// consumer files and dead-letter file), with its own state (SQLite in that dir, or the DynamoDB
// item `<pipeline>/shard-<i>`). So a shard can move between processes: whoever opens its unit
// next goes on from its checkpoint, and the unit's state store (lock or lease with a fencing
// token) lets one process at a time write it. A ShardAssigner says which shards to deliver
// (a fixed list, KCL-style leases, a Kafka consumer group); units start and stop as it changes.
//
// Thread-safety: RunShardUnits runs on one thread; `stop` may be set from a signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "config/config.h"
#include "stream/shard_assigner.h"

namespace cdc {

// The data dir of shard `shard`'s unit under the process's data dir.
std::string ShardUnitDir(const std::string& data_dir, uint32_t shard);

// The config of shard `shard`'s unit: the file at `config_path` loaded again with CDC_DATA_DIR
// set to the unit's dir, reading only that shard, its state keyed `<pipeline>/shard-<i>`. Refused
// (with what to change) when the config's data dir, a file target or the dead-letter file does
// not follow CDC_DATA_DIR, since units would then share files.
Result<std::shared_ptr<const Config>> LoadShardUnitConfig(const std::string& config_path,
                                                          const Config& config, uint32_t shard);

// An assigner that always answers the same shards (`--shards`, or all of them).
std::unique_ptr<stream::ShardAssigner> FixedShards(std::vector<uint32_t> shards);

// What the admin server of `run --role process` shows: the units RunShardUnits runs, read on
// the server's threads. Thread-safe.
class ShardUnitsView {
 public:
  ShardUnitsView();
  ~ShardUnitsView();
  ShardUnitsView(const ShardUnitsView&) = delete;
  ShardUnitsView& operator=(const ShardUnitsView&) = delete;

  struct UnitState {
    uint32_t shard = 0;
    // "delivering"; "waiting" (opening, or the process that had the shard has not let it go
    // yet); "stopping" (no longer this process's: checkpointing what it delivered).
    std::string state;
    std::vector<std::string> failing_targets;  // while delivering
  };
  std::vector<UnitState> Units() const;
  // What assigns the shards, and how long ago it last answered (renewed the leases, polled the
  // group); the time since RunShardUnits began before its first answer.
  std::string assigner() const;
  std::chrono::steady_clock::duration since_assigned() const;
  // The delivering units' live metrics as one Prometheus exposition, each series labelled with
  // its unit's `shard`.
  std::string RenderMetrics() const;

  struct Impl;  // RunShardUnits updates it

 private:
  friend Status RunShardUnits(const std::string&, std::shared_ptr<const Config>,
                              stream::ShardAssigner&, const std::atomic<bool>&, const Clock&,
                              ShardUnitsView*);
  std::unique_ptr<Impl> impl_;
};

// Runs the units the assigner names until `stop` is set, then stops them (each checkpoints
// what it delivered and lets its shard go; the rest is delivered by whoever has the shard
// next) and closes the assigner. An error: the assigner failed, or a unit failed for another
// reason than its shard still being held by a process that is letting it go. `view`, when
// given, shows the units to an admin server meanwhile.
Status RunShardUnits(const std::string& config_path, std::shared_ptr<const Config> config,
                     stream::ShardAssigner& assigner, const std::atomic<bool>& stop,
                     const Clock& clock = SystemClock::Instance(), ShardUnitsView* view = nullptr);

}  // namespace cdc
