// The embedded stream (the Stream of stream.h that runs on one machine): N shards, each an
// append-only segmented log in the data dir. Records carry a length, a type, an offset, the append
// time and a CRC32C; the format is in docs/log-format.md.
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
#include "stream/stream.h"

namespace cdc::stream {

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
  // Keeps the `synced` file: after every group sync, each shard's synced end, fsynced before
  // Sync returns (so before anything is acknowledged to the source). Open then refuses a shard
  // whose records below that end are missing or damaged, instead of cutting them as a torn tail.
  bool record_synced_ends = false;
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

// The embedded stream: all shards of one stream under `dir` (dir/shard-0000/, ...). Besides the
// Stream operations, each shard's log is reachable for what only a local log can do (truncation,
// torn-tail reports) and for the archives (src/archive), which are one-shard logs of this kind.
class EmbeddedStream : public Stream {
 public:
  // Opens or creates. Every shard is recovered: a torn tail is truncated (logged), corruption
  // before the tail is an error with file and position. Opening a stream created with another
  // shard count is an error that says both counts.
  static Result<std::unique_ptr<EmbeddedStream>> Open(const std::string& dir, uint32_t shards,
                                                      LogOptions options);

  virtual ShardLog& shard(ShardId id) = 0;
  virtual const ShardLog& shard(ShardId id) const = 0;
};

}  // namespace cdc::stream
