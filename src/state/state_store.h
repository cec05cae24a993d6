// The state store (the DynamoDB counterpart): source position, per-shard checkpoints, per-target
// delivery marks, dedupe keys with expiry, and the lease that makes one process the owner of a
// data dir. The runtime opens the configured store with OpenStateStore (through its kind,
// `state.type`) and sees only this interface; the embedded implementation is SQLite in WAL mode
// (sqlite_state_store.h).
//
// Thread-safety: a StateStore is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace cdc {
struct StateConfig;
}

namespace cdc::state {

// How far a target got: an opaque cursor the target interprets (the file target: its byte
// length), the next offset to deliver per shard, and counts.
struct TargetMark {
  std::string cursor;
  std::map<uint32_t, uint64_t> shard_next;  // shard -> first offset not yet delivered
  uint64_t delivered = 0;
  uint64_t dead_lettered = 0;
  bool operator==(const TargetMark&) const = default;
};

// The mark of the pipeline's own delivery progress and dead-letter file (not a target name).
inline constexpr char kDeadLetterMark[] = "@dead-letter";

struct LeaseInfo {
  uint64_t token = 0;  // fencing token: grows by one with every new owner
  std::string owner;   // e.g. "pid 1234 on host a1"
  int64_t acquired_micros = 0;
  int64_t renewed_micros = 0;
};

// Everything one checkpoint writes, applied in one transaction.
struct CheckpointCommit {
  std::map<uint32_t, uint64_t> shard_checkpoints;  // shard -> first offset not yet done
  std::map<std::string, TargetMark> target_marks;
  std::map<std::string, std::string> values;                 // e.g. "source.position", "stats"
  std::vector<std::pair<std::string, int64_t>> dedupe_keys;  // key -> expires at (micros)
  int64_t now_micros = 0;                                    // renews the lease
};

// The last row image of each key of the tables that fill unchanged TOAST values from it
// (`tables.<name>.unchanged_toast: last_image`; docs/architecture.md, "Unchanged TOAST values").
// A second handle on the state store, for the source's thread while the StateStore is used by
// the delivery thread. Thread-safety: one thread at a time.
class LastImageStore {
 public:
  struct Write {
    std::string table;
    std::string key;
    std::optional<std::string> image;  // nullopt: erase
  };
  virtual ~LastImageStore() = default;
  virtual Result<std::optional<std::string>> Get(const std::string& table,
                                                 const std::string& key) = 0;
  // In one transaction: every image of `cleared_tables` erased, then `writes` applied in order.
  virtual Status Apply(const std::vector<std::string>& cleared_tables,
                       const std::vector<Write>& writes) = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual const LeaseInfo& lease() const = 0;
  // Applies `commit` atomically. Fails with FailedPrecondition ("fenced: ...") when another
  // owner took the lease since this store opened; then nothing is written.
  virtual Status Commit(const CheckpointCommit& commit) = 0;
  virtual Result<std::map<uint32_t, uint64_t>> ShardCheckpoints() = 0;
  virtual Result<std::map<std::string, TargetMark>> TargetMarks() = 0;
  virtual Result<std::optional<std::string>> Value(const std::string& key) = 0;
  // Whether `key` was committed as a dedupe key and has not expired at `now_micros`.
  virtual Result<bool> HasKey(const std::string& key, int64_t now_micros) = 0;
  // Deletes expired dedupe keys; returns how many.
  virtual Result<uint64_t> ExpireKeys(int64_t now_micros) = 0;
  // A handle on the store's last row images for another thread (Unimplemented where the kind
  // has none). Only for a store opened writable.
  virtual Result<std::unique_ptr<LastImageStore>> OpenLastImages() {
    return Unimplemented("this state store keeps no last row images");
  }
};

// Opens (creating) the state store `config` describes (the SQLite file at config.path) and
// takes its lease for `owner`. A second process on the same store is refused with an error that
// names the current owner; a process that died (even by SIGKILL) leaves the lease free. The
// fencing token is checked by every Commit, so a stale owner can never write.
Result<std::unique_ptr<StateStore>> OpenStateStore(const StateConfig& config,
                                                   const std::string& owner, int64_t now_micros);
// Opens read-only without taking the lease (for `status` while `run` is running).
Result<std::unique_ptr<StateStore>> OpenStateStoreReadOnly(const StateConfig& config);
// What and where the configured store is, for logs and status (no secrets).
std::string DescribeStateStore(const StateConfig& config);

}  // namespace cdc::state
