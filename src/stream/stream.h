// The stream between the source and the processors (the Kinesis counterpart), as the runtime
// sees it: N shards of records in offset order, appended by partition key or to a shard, made
// durable by a group sync, read per shard from an offset, and trimmed behind the checkpoint.
// The runtime opens the configured stream with OpenStream and never learns how it is stored;
// the embedded log (log.h) is the one implementation today.
//
// Thread-safety: one appender thread calls Append, Sync and ApplyRetention; readers
// (OpenReader, WaitForData, Wake, stats) may run on other threads at the same time. A reader
// only ever sees durable records (below stats().durable_end).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/position.h"
#include "base/status.h"

namespace cdc {
struct StreamConfig;
}

namespace cdc::stream {

// The shard of `partition_key` in a stream of `shard_count` shards, as Kinesis maps it: the MD5
// of the key read as a 128-bit big-endian integer, against the hash-key ranges a new Kinesis
// stream with that many shards gets: shard i starts at i * floor(2^128 / shard_count), and the
// last shard also takes the remainder up to 2^128 - 1. shard_count must be at least 1.
ShardId ShardForKey(std::string_view partition_key, uint32_t shard_count);

struct Record {
  StreamOffset offset;
  uint8_t type = 0;
  int64_t append_micros = 0;  // wall clock at append, micros since epoch
  std::string_view payload;   // valid until the reader's next call
};

// Reads one shard in offset order. Use it from one thread at a time; it must not outlive the
// stream it came from.
class ShardReader {
 public:
  virtual ~ShardReader() = default;
  // The next durable record, or nullopt at the durable end (call again after more was synced).
  // Corruption is an error that says where; NotFound when retention deleted the records it was
  // about to read.
  virtual Result<std::optional<Record>> Next() = 0;
};

struct ShardStats {
  StreamOffset first;        // oldest offset still stored
  StreamOffset next;         // offset the next append gets
  StreamOffset durable_end;  // records below are durable
  uint64_t bytes = 0;        // stored
  uint32_t segments = 0;     // storage units (the embedded log's segment files); 0 if none
};

class Stream {
 public:
  virtual ~Stream() = default;

  virtual uint32_t shard_count() const = 0;
  // Where the stream is, for logs (the embedded log: its directory).
  virtual const std::string& name() const = 0;
  // Where one shard is, for messages (the embedded log: the shard's directory).
  virtual std::string ShardLocation(ShardId shard) const {
    return name() + " shard " + std::to_string(shard.value());
  }

  // The id of the pipeline (data dir) this stream belongs to, recorded by SetIdentity; empty
  // when none is recorded (a new stream, or one written before ids existed). The runtime
  // compares it with the state store's so that a stream and a state store from different data
  // dirs or backups are never used together. Appender thread only.
  virtual const std::string& identity() const = 0;
  // Records `id` durably.
  virtual Status SetIdentity(const std::string& id) = 0;

  // Buffers a record for `shard` and returns its offset; it becomes durable (and visible to
  // readers) with the next Sync. Records not synced when the stream is destroyed are dropped.
  virtual Result<StreamOffset> Append(ShardId shard, uint8_t type, std::string_view payload,
                                      int64_t append_micros) = 0;
  // Appends to the shard of `partition_key` (ShardForKey).
  virtual Result<std::pair<ShardId, StreamOffset>> Append(std::string_view partition_key,
                                                          uint8_t type, std::string_view payload,
                                                          int64_t append_micros) = 0;
  // Group sync: makes every appended record durable, then wakes WaitForData.
  virtual Status Sync() = 0;
  // Whether the group-sync thresholds (bytes or interval) were reached.
  virtual bool SyncDue() const = 0;
  // The longest a record waits for its group sync (how often an idle appender checks SyncDue).
  virtual std::chrono::milliseconds sync_interval() const = 0;

  // A reader of `shard` from `from` (which must be >= stats(shard).first, else NotFound, and
  // <= stats(shard).next). Any thread may open readers, also while the appender appends.
  virtual Result<std::unique_ptr<ShardReader>> OpenReader(ShardId shard,
                                                          StreamOffset from) const = 0;
  // Blocks until some shard's durable end exceeds seen[shard], or the timeout. Returns early
  // when Wake() is called during the wait (a Wake() before the wait began is not remembered, so
  // shutdown code sets its stop flag first and waiters use a bounded timeout).
  virtual void WaitForData(const std::vector<StreamOffset>& seen,
                           std::chrono::milliseconds timeout) const = 0;
  virtual void Wake() const = 0;

  // Lets the stream drop records of `shard` below `checkpoint` (all delivered) as its retention
  // settings allow.
  virtual Status ApplyRetention(ShardId shard, StreamOffset checkpoint, int64_t now_micros) = 0;
  virtual ShardStats stats(ShardId shard) const = 0;
  // Drops every record of `shard` from `offset` on, durable or not, so the next append gets
  // `offset` again (a writer going back to its last checkpoint after a crash: the archives'
  // exactly-once marks); a crash half-way leaves a whole, shorter shard and a second call
  // finishes the job. `offset` must lie in [stats().first, stats().durable_end]. Appender thread
  // only, with no reader open on the shard.
  virtual Status TruncateTo(ShardId shard, StreamOffset offset) = 0;
};

// What FindLast asks of each record: a value for a record it is looking for, nullopt to skip
// the record, or an error (a record it cannot read) that ends the search.
using RecordProbe = std::function<Result<std::optional<std::string>>(const Record&)>;

// The probe's value for the last durable record of `shard` it gives one for, or nullopt when
// none does. Searches back from the end in growing windows, so a match near the end is found
// without reading the whole shard.
Result<std::optional<std::string>> FindLast(const Stream& stream, ShardId shard,
                                            const RecordProbe& probe);

// Opens (creating) the stream `config` describes, through its kind (`stream.type`; a config not
// made by the loader gets the embedded log with its defaults in <data_dir>/stream). Opening a
// stream created with another shard count is an error that says both counts; a stream another
// process has open is refused.
Result<std::unique_ptr<Stream>> OpenStream(const StreamConfig& config, const std::string& data_dir);
// What and where the configured stream is, for logs and status (no secrets).
std::string DescribeStream(const StreamConfig& config, const std::string& data_dir);

// A stream that stays in a local directory whatever stream the pipeline runs on: the archives
// (src/archive) are one-shard streams of this kind. Group sync happens only on Sync.
struct LocalStreamOptions {
  uint64_t segment_bytes = 64ull << 20;  // storage is rotated past this size
  // Retention keeps what is younger than this (0: no age limit, drop what is checkpointed).
  std::chrono::seconds retention_age{0};
};
Result<std::unique_ptr<Stream>> OpenLocalStream(const std::string& dir, uint32_t shards,
                                                LocalStreamOptions options);

// What CheckStream found: read-only, nothing is changed, no lock is taken.
struct StreamDamage {
  std::string file;        // the segment (or other file) concerned
  uint64_t first = 0;      // offsets [first, last] are affected ...
  uint64_t last = 0;       // ... (last == UINT64_MAX: up to the end of the shard)
  std::string what;        // what is wrong, with byte positions
  bool torn_tail = false;  // an unsynced torn tail after the synced end: `run` cuts it, harmless
};
struct ShardCheck {
  std::string location;         // the shard's directory
  uint64_t first = 0, end = 0;  // oldest offset stored, offset after the last valid record
  uint32_t segments = 0;
  std::optional<uint64_t> synced_end;  // from the synced file, when there is one
  std::vector<StreamDamage> damage;
};
struct StreamCheck {
  std::string dir;
  std::string identity;  // the pipeline id in the metadata file, if any
  bool exists = false;   // false: no stream yet (nothing to check)
  // Not empty for a stream that is not in the data dir (a kafka topic): why it was not read.
  std::string not_checked;
  std::vector<std::string> problems;  // stream-wide: metadata or synced file unreadable
  std::vector<ShardCheck> shards;
};
// Reads every segment of the stream `config` describes under `data_dir`, checking every
// record's length, checksum and offset, the continuity of the segments and the synced ends.
// A stream of another kind (kafka) is not read: `not_checked` says so.
Result<StreamCheck> CheckStream(const StreamConfig& config, const std::string& data_dir);

}  // namespace cdc::stream
