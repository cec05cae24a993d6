// Backfills: a captured table, or the rows of it that match a condition, read again while the
// slot streams, with the initial snapshot's machinery (ChunkedSnapshot: primary-key chunks
// between watermarks, READ rows only for rows no change touched during their chunk).
//
// A backfill is asked for with a row in the signal table (`source.signal_table`, like Debezium's
// signaling table: `id text primary key, type text not null, data jsonb`):
//   INSERT INTO cdc_pipeline_signals VALUES ('<uuid>', 'backfill',
//                                            '{"table": "public.users", "where": "id > 100"}');
// `cdc-pipeline backfill` writes such a row. The row reaches the source through the stream like
// any change; the source takes it as a command (it is never published) and queues the backfill.
// One backfill runs at a time, in the order they were asked for, after the initial snapshot.
//
// What survives a crash is the ledger, `<data_dir>/postgres-backfill-<slot>.progress` (fsync,
// rename; checksummed): the backfills queued, running and recently finished, the running one's
// chunk progress, and the position of the last signal taken. A signal is written to the ledger
// before its transaction is acknowledged to PostgreSQL, so a crash before that makes PostgreSQL
// send it again; the ledger then already holds it (its position is not after the last signal
// taken) and it is not queued twice. After `kill -9` the running backfill resumes after its last
// completed chunk, like the initial snapshot.
//
// Thread-safety: Backfiller is used by the source's stream thread only; the parsing functions
// are pure.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "event/change_event.h"
#include "event/position_kinds.h"
#include "source/postgres/catalog.h"
#include "source/postgres/chunked_snapshot.h"
#include "source/postgres/pgoutput.h"
#include "source/source.h"

namespace cdc::pg {

// The default signal table (schema public).
inline constexpr char kDefaultSignalTable[] = "cdc_pipeline_signals";
// The signal type of a backfill.
inline constexpr char kBackfillSignal[] = "backfill";

// A signal's `data` for a backfill.
struct BackfillRequest {
  std::string table;  // as written: "schema.table" or "table"
  std::string where;  // an SQL condition on the table's rows; empty: every row
};

// Parses the `data` of a backfill signal: a JSON object with "table" (a non-empty string) and
// optionally "where" (a string); any other key is refused (a misspelt "where" would otherwise
// backfill the whole table). InvalidArgument saying what is wrong.
Result<BackfillRequest> ParseBackfillData(std::string_view json);

// "schema.table" -> {schema, table}; a bare name is in schema public.
PgTableRef ParseTableName(std::string_view name);

// The captured table `name` designates among `configured`: "schema.table", or a bare name that
// exactly one configured table has. NotFound naming the configured tables when none does;
// InvalidArgument when a bare name is ambiguous.
Result<PgTableRef> ResolveCapturedTable(std::string_view name,
                                        const std::vector<PgTableRef>& configured);

// The ledger file.
struct BackfillLedger {
  PgPosition last_signal;  // signals at or before this position were taken
  // Oldest first: finished ones (at most kKeptFinished), then the running one, then the queue.
  std::vector<BackfillState> backfills;
  // The running one's chunk progress.
  std::optional<SnapshotProgress> running;
};
inline constexpr size_t kKeptFinished = 20;

// nullopt when the file does not exist; Corruption when it is not a ledger.
Result<std::optional<BackfillLedger>> ReadBackfillLedger(const std::string& path);
Status WriteBackfillLedger(const std::string& path, const BackfillLedger& ledger);

struct BackfillOptions {
  std::string dsn;                 // a secret: never logged
  std::string slot;                // for messages
  std::string path;                // the ledger
  std::vector<PgTableRef> tables;  // the captured tables: a backfill reads one of them
  PgTableRef signal_table;         // for messages
  size_t chunk_size = 10000;
  bool show_progress = true;
};

class Backfiller {
 public:
  // Reads the ledger (none: nothing queued); a running backfill resumes where it was.
  static Result<std::unique_ptr<Backfiller>> Open(BackfillOptions options);
  ~Backfiller();
  Backfiller(const Backfiller&) = delete;
  Backfiller& operator=(const Backfiller&) = delete;

  // A row inserted into the signal table (the change event of the INSERT). Queues a backfill
  // (written to the ledger before it returns) or logs a warning saying why the signal is ignored;
  // an error only when the ledger cannot be written.
  Status OnSignal(const ChangeEvent& change);
  // Whether the stream loop should call ReadNextChunk now: a backfill is running or queued and
  // no chunk is in flight.
  bool wants_chunk() const;
  // Starts the next queued backfill if none runs, then reads its next chunk (ChunkedSnapshot).
  // A backfill whose read fails for a reason other than a lost connection (a condition that
  // does not parse, a table that is gone) is marked failed with PostgreSQL's error and the
  // stream goes on; a lost connection is returned (the source reconnects and the chunk is read
  // again).
  Status ReadNextChunk(ChangeSink& sink);
  // Every change the stream passes on, before it goes to the sink.
  void OnChange(const ChangeEvent& change);
  // A logical message of the stream (the watermarks).
  Status OnMessage(const PgBegin& begin, const PgLogicalMessage& message, ChangeSink& sink);
  // For status: the ledger's backfills, the running one with its live progress.
  std::vector<BackfillState> State() const;

 private:
  explicit Backfiller(BackfillOptions options);
  Status Save();
  // Makes snapshot_ for the running backfill (starting the first queued one if none runs).
  Status Start();
  BackfillState* Running();
  void TrimFinished();

  BackfillOptions options_;
  BackfillLedger ledger_;
  std::unique_ptr<ChunkedSnapshot> snapshot_;
  uint64_t rows_estimate_ = 0;
};

}  // namespace cdc::pg
