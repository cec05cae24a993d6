// ChunkedSnapshot: the initial snapshot of the postgres source, read while the slot streams (the
// DBLog watermark algorithm). The slot is never dropped for it and no exported snapshot is needed:
//   - each table is read in primary-key chunks (`WHERE (pk) > (last) ORDER BY pk LIMIT n`) in a
//     REPEATABLE READ transaction that also records its snapshot (pg_current_snapshot());
//   - each chunk read is bracketed by a low and a high watermark,
//     pg_logical_emit_message(true, '<prefix>', '<snapshot id>:<chunk>:low|high'), which arrive
//     in the stream like any transaction;
//   - the stream loop keeps passing changes on, showing each to OnChange; when the high watermark
//     arrives (OnMessage), a chunk row is dropped if its key had a change between the low and the
//     high watermark, or a change before the high watermark from a transaction the chunk's
//     snapshot did not see (the change event carries it); the others are passed on as READ events
//     at the high watermark's position {commit LSN, xid, i}, so they are ordered after every
//     change they include and before every change they do not;
//   - before a chunk's rows are passed on, everything before them is made durable and the
//     progress (table, last key, the chunk's rows and their position) is written to a file with
//     fsync and rename, so after a crash at any moment the snapshot resumes after its last
//     completed chunk, and a chunk whose rows may not all have become durable is passed on again
//     at the same positions when the stream replays its high watermark (the runtime skips what
//     its shards already hold).
// The machinery (chunks, watermarks, reconciliation, progress) is independent of the initial
// snapshot's table list: a backfill (backfill.h) reads one table, or the rows of it that match a
// condition, with it, and keeps the progress in a file of its own (ChunkedSnapshotOptions::save).
//
// Thread-safety: used by the source's stream thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/position.h"
#include "base/status.h"
#include "event/change_event.h"
#include "source/postgres/catalog.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/pgoutput.h"
#include "source/source.h"

namespace cdc::pg {

// The prefix of the watermark messages.
inline constexpr char kWatermarkPrefix[] = "cdc-pipeline-snapshot";

// What survives a crash: written whole (fsync, rename) after every chunk.
struct SnapshotProgress {
  std::string id;                      // this snapshot, in the watermarks' text
  bool done = false;                   // every table read
  std::vector<std::string> completed;  // tables read to their end ("schema.table")
  std::string table;                   // the table being read; empty: the next one not started
  std::vector<std::string> last_key;   // text of the key columns of the last row read; empty: none
  uint64_t chunks = 0;                 // chunks completed, all tables
  uint64_t table_rows = 0;             // READ rows passed on for `table`
  // The last completed chunk: its high watermark's message LSN, and the READ rows passed on
  // there (with their positions), passed on again should the stream replay that watermark.
  Lsn emitted_at;
  std::vector<ChangeEvent> emitted;
};

// A new snapshot's progress: nothing read yet, a fresh id.
SnapshotProgress NewSnapshotProgress();
// The progress as bytes (without the file's magic and checksum), and back; Corruption with what
// is wrong when `body` is not a progress.
std::string EncodeSnapshotProgress(const SnapshotProgress& progress);
Result<SnapshotProgress> DecodeSnapshotProgress(std::string_view body);
// Replaces `path` with `data` so that a crash leaves the old or the new content: a temporary
// file, fsync, rename, fsync of the directory.
Status ReplaceFileDurably(const std::string& path, std::string_view data);
// nullopt when the file does not exist; Corruption when it is not a progress file.
Result<std::optional<SnapshotProgress>> ReadSnapshotProgress(const std::string& path);
Status WriteSnapshotProgress(const std::string& path, const SnapshotProgress& progress);

struct ChunkedSnapshotOptions {
  std::string dsn;                 // a secret: never logged
  std::string slot;                // for messages
  std::vector<PgTableRef> tables;  // in the order to read them
  size_t chunk_size = 10000;
  bool show_progress = true;
  // An SQL condition the rows must meet, ANDed into every chunk's query (a backfill's `where`);
  // empty: every row.
  std::string where;
  // What the reads are called in logs and on the progress bar: "initial snapshot", "backfill".
  std::string label = "initial snapshot";
  // Writes the progress durably; by default WriteSnapshotProgress to the progress path.
  std::function<Status(const SnapshotProgress&)> save;
};

class ChunkedSnapshot {
 public:
  ChunkedSnapshot(ChunkedSnapshotOptions options, std::string progress_path,
                  SnapshotProgress progress);
  ~ChunkedSnapshot();
  ChunkedSnapshot(const ChunkedSnapshot&) = delete;
  ChunkedSnapshot& operator=(const ChunkedSnapshot&) = delete;

  bool done() const { return progress_.done; }
  const SnapshotProgress& progress() const { return progress_; }
  // The progress for people (Source::Snapshot).
  SnapshotState State() const;
  // Whether the stream loop should call ReadNextChunk now: not done and no chunk in flight.
  bool wants_chunk() const { return !progress_.done && !in_flight_; }
  // Writes the low watermark, reads the next chunk, writes the high watermark; the chunk is then
  // in flight until its high watermark comes through OnMessage. When no table is left, makes
  // what `sink` got durable (the last chunk's rows among it) and writes the progress as done.
  // `database_error`, when given, tells whether a failure came from the database (a query or
  // the connection) rather than from the sink or the progress file.
  Status ReadNextChunk(ChangeSink& sink, bool* database_error = nullptr);
  // Every change the stream passes on, before it goes to the sink.
  void OnChange(const ChangeEvent& change);
  // A logical message of the stream, inside the transaction `begin` began when transactional.
  // At the high watermark of the chunk in flight: makes everything before durable, writes the
  // progress and passes the chunk's READ rows to `sink`.
  Status OnMessage(const PgBegin& begin, const PgLogicalMessage& message, ChangeSink& sink);

 private:
  struct TableShape;
  struct Chunk;
  Status StartTable(const PgTableRef& table);
  Result<Lsn> EmitWatermark(uint64_t chunk, const char* which);
  Status Complete(const PgBegin& begin, ChangeSink& sink);
  Status Save();

  ChunkedSnapshotOptions options_;
  std::string path_;
  SnapshotProgress progress_;
  std::unique_ptr<PgConnection> conn_;
  PgTypeRegistry types_;
  std::unique_ptr<TableShape> shape_;  // of progress_.table
  uint64_t table_estimate_ = 0;        // of progress_.table (pg_class.reltuples)
  std::unique_ptr<Chunk> in_flight_;
  // Keys changed in the table being read, by the transaction (xid) that changed them, kept until
  // every later chunk snapshot sees that transaction.
  std::map<uint32_t, std::set<std::string>> changed_by_xid_;
};

}  // namespace cdc::pg
