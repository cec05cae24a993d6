// An EventBridge archive: the published events that matched the archive's pattern, kept in
// <data_dir>/archives/<name>/ as a one-shard local stream (stream::OpenLocalStream: the embedded
// log's segmented format, docs/log-format.md, whatever stream the pipeline runs on), so an archive
// has the stream's CRC-checked records, torn-tail recovery and retention instead of a file format
// of its own. A record's payload is the event time (the envelope `time`, micros since the epoch,
// i64 little-endian) followed by the event's EventBridge JSON line; the record's append time is
// when the event was archived, which retention counts from. Offsets are per archive and contiguous;
// the durable end offset is the archive's cursor in the pipeline's checkpoints.
//
// Thread-safety: one thread at a time. The directory is locked (flock) while open, so a second
// process cannot open the same archive.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cdc::stream {
class Stream;
class ShardReader;
}  // namespace cdc::stream

namespace cdc::archive {

// <data_dir>/archives/<name>
std::string ArchiveDir(const std::string& data_dir, const std::string& name);

struct ArchiveOptions {
  int64_t retention_days = 0;  // 0 = keep forever (AWS's default)
  uint64_t segment_bytes = 64ull << 20;
  // Append writes and fsyncs by itself once this much is buffered, so memory stays bounded
  // between two Syncs.
  uint64_t sync_bytes = 8ull << 20;
};

struct ArchivedEvent {
  uint64_t offset = 0;
  int64_t event_micros = 0;     // the envelope `time`
  int64_t archived_micros = 0;  // when it was appended
  std::string_view json;        // valid until the reader's next call
};

struct ArchiveStats {
  uint64_t first = 0;  // oldest offset on disk
  uint64_t end = 0;    // durable end: the offset the next synced event gets
  uint64_t bytes = 0;  // on disk
  uint32_t segments = 0;
};

// Reads the events of an archive whose event time lies in [start, end), in archive order. Every
// record of the range of offsets is read (event times are not ordered in an archive), so
// scanned() of total() is the progress.
class ArchiveReader {
 public:
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // The next event in the time range, or nullopt when every record was read. A damaged record
  // is an error naming the segment file and byte position.
  Result<std::optional<ArchivedEvent>> Next();
  uint64_t scanned() const { return scanned_; }  // records read so far, in the range or not
  uint64_t total() const { return end_ - first_; }
  uint64_t total_bytes() const { return total_bytes_; }  // on disk (an estimate of the work)

 private:
  friend class Archive;
  ArchiveReader(std::unique_ptr<stream::ShardReader> reader, uint64_t first, uint64_t end,
                uint64_t total_bytes, int64_t start_micros, int64_t end_micros);

  std::unique_ptr<stream::ShardReader> reader_;
  uint64_t first_, end_, total_bytes_;
  int64_t start_micros_, end_micros_;
  uint64_t scanned_ = 0;
};

class Archive {
 public:
  // Opens the archive in `dir`, creating it (and its parents) when missing. A torn tail left by
  // a crash is cut (logged); corruption before it is an error.
  static Result<std::unique_ptr<Archive>> Open(const std::string& dir,
                                               const ArchiveOptions& options);
  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  // Buffers one event; it is durable (and readable) after the next Sync.
  Status Append(int64_t event_micros, std::string_view event_json, int64_t now_micros);
  // Writes the buffered events and fsyncs.
  Status Sync();
  ArchiveStats stats() const;
  // The durable end offset (the cursor of the checkpoint protocol).
  uint64_t end() const { return stats().end; }
  // Drops every event from `offset` on (Stream::TruncateTo): `offset` in [first, end].
  Status TruncateTo(uint64_t offset);
  // Deletes whole segments whose last event was archived retention_days or more before
  // `now_micros` (never the segment being appended to). Nothing with retention_days 0.
  Status ApplyRetention(int64_t now_micros);
  // A reader of the events with start <= event time < end among the durable records below
  // `limit` (all of them when nullopt; a limit beyond the end is the end).
  Result<std::unique_ptr<ArchiveReader>> Read(int64_t start_micros, int64_t end_micros,
                                              std::optional<uint64_t> limit = std::nullopt) const;

  const std::string& dir() const { return dir_; }

 private:
  Archive(std::string dir, const ArchiveOptions& options, std::unique_ptr<stream::Stream> log);

  std::string dir_;
  ArchiveOptions options_;
  std::unique_ptr<stream::Stream> log_;
  std::string record_;  // scratch
  uint64_t unsynced_bytes_ = 0;
};

}  // namespace cdc::archive
