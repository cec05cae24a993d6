// The embedded stream (the Kinesis counterpart): N shards, each an append-only segmented log in
// the data dir. Records carry a length, a type, an offset, the append time and a CRC32C; the
// format is in docs/log-format.md.
//
// Thread-safety: one appender thread calls Append/Sync/ApplyRetention; readers (ShardReader,
// WaitForData, durable_end, stats) may run on other threads at the same time. A reader only ever
// sees records below durable_end, i.e. records that were fsynced.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/position.h"
#include "base/status.h"

namespace cdc::stream {

// The shard of `partition_key` in a stream of `shard_count` shards, as Kinesis maps it: the MD5
// of the key read as a 128-bit big-endian integer, against the hash-key ranges a new Kinesis
// stream with that many shards gets: shard i starts at i * floor(2^128 / shard_count), and the
// last shard also takes the remainder up to 2^128 - 1. shard_count must be at least 1.
ShardId ShardForKey(std::string_view partition_key, uint32_t shard_count);

// CRC-32C (Castagnoli), hardware-accelerated when the CPU has SSE4.2. `crc` is the CRC of the
// bytes before `data`, so Crc32c(b, Crc32c(a)) == Crc32c(a + b).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

struct LogOptions {
  uint64_t segment_bytes = 64ull << 20;  // a new segment starts when the current one exceeds this
  // Group fsync: SyncDue() says true when this much was appended or this long has passed since
  // the oldest unsynced record.
  uint64_t fsync_bytes = 1ull << 20;
  std::chrono::milliseconds fsync_interval{5};
  // Retention: whole segments entirely below the checkpoint are deleted when they are older than
  // retention_age, or while the shard is larger than retention_bytes. 0 = no limit of that kind
  // (then checkpointed segments are deleted right away).
  std::chrono::seconds retention_age{0};
  uint64_t retention_bytes = 0;
};

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
  // Corruption is an error naming the segment file and byte position; NotFound when retention
  // deleted the records it was about to read.
  virtual Result<std::optional<Record>> Next() = 0;
};

struct ShardStats {
  StreamOffset first;        // oldest offset still on disk
  StreamOffset next;         // offset the next append gets
  StreamOffset durable_end;  // records below are fsynced
  uint64_t bytes = 0;        // on disk
  uint32_t segments = 0;
};

class ShardLog {
 public:
  virtual ~ShardLog() = default;
  // Buffers a record in memory and returns its offset; it reaches the disk (and readers) with the
  // next Sync. Records not synced when the stream is destroyed are dropped.
  virtual Result<StreamOffset> Append(uint8_t type, std::string_view payload,
                                      int64_t append_micros) = 0;
  // Writes buffered records and fdatasyncs; then durable_end covers everything appended.
  virtual Status Sync() = 0;
  virtual StreamOffset next_offset() const = 0;
  virtual StreamOffset durable_end() const = 0;
  virtual ShardStats stats() const = 0;
  // Bytes of a torn tail that Open cut off (a crash mid-append).
  virtual uint64_t truncated_bytes() const = 0;
  virtual Status ApplyRetention(StreamOffset checkpoint, int64_t now_micros) = 0;
  // Drops every record from `offset` on, synced or not, so the next append gets `offset` again
  // (a writer going back to its last checkpoint after a crash: the archives' exactly-once
  // marks). Segments after the one holding `offset` are deleted newest first, then that one is
  // cut at the record and fsynced, so a crash half-way leaves a whole, shorter log and a second
  // call finishes the job. `offset` must lie in [stats().first, durable_end()]: InvalidArgument
  // beyond the durable end, NotFound below the oldest record on disk. Appender thread only, with
  // no reader open on the shard (a reader past the new end would read later appends as corrupt).
  virtual Status TruncateTo(StreamOffset offset) = 0;
  // A reader from `from` (which must be >= stats().first, else NotFound, and <= next_offset()).
  // Any thread may open readers, also while the appender appends and rotates segments.
  virtual Result<std::unique_ptr<ShardReader>> OpenReader(StreamOffset from) const = 0;
};

// All shards of one stream, under `dir` (dir/shard-0000/, ...).
class EmbeddedStream {
 public:
  // Opens or creates. Every shard is recovered: a torn tail is truncated (logged), corruption
  // before the tail is an error with file and position. Opening a stream created with another
  // shard count is an error that says both counts.
  static Result<std::unique_ptr<EmbeddedStream>> Open(const std::string& dir, uint32_t shards,
                                                      LogOptions options);
  virtual ~EmbeddedStream() = default;

  virtual uint32_t shard_count() const = 0;
  virtual ShardLog& shard(ShardId id) = 0;
  virtual const ShardLog& shard(ShardId id) const = 0;
  // Appends to the shard of `partition_key`.
  virtual Result<std::pair<ShardId, StreamOffset>> Append(std::string_view partition_key,
                                                          uint8_t type, std::string_view payload,
                                                          int64_t append_micros) = 0;
  // Group fsync: syncs every shard with unsynced records, then wakes WaitForData.
  virtual Status Sync() = 0;
  // Whether the group-fsync thresholds (bytes or interval) were reached.
  virtual bool SyncDue() const = 0;
  // Blocks until some shard's durable_end exceeds seen[shard], or the timeout. Returns early
  // when Wake() is called during the wait (a Wake() before the wait began is not remembered, so
  // shutdown code sets its stop flag first and waiters use a bounded timeout).
  virtual void WaitForData(const std::vector<StreamOffset>& seen,
                           std::chrono::milliseconds timeout) const = 0;
  virtual void Wake() const = 0;
};

}  // namespace cdc::stream
