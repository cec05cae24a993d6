// PostgresSource: the `postgres` source. Captures every committed change of the configured tables
// through logical replication (pgoutput) and pushes it to the sink, with:
//   - setup: server and table checks (clear errors), REPLICA IDENTITY FULL where the config asks,
//     the publication, and the slot, created if missing;
//   - an initial snapshot (snapshot: initial) read while the slot streams, in primary-key chunks
//     bracketed by watermarks (ChunkedSnapshot, the DBLog algorithm): the slot is kept, every
//     change is passed on as its own event, READ rows only for rows no change touched during
//     their chunk's read, and after a crash the snapshot resumes after its last completed chunk;
//   - acknowledgement safety: the flush LSN sent to PostgreSQL only covers transactions the sink
//     made durable (ChangeSink::MakeDurable); a keepalive's position is acknowledged only when no
//     transaction is in flight and everything before it is durable, so an idle slot advances;
//   - an optional heartbeat (pg_logical_emit_message) so WAL does not pile up;
//   - reconnection with exponential backoff after connection loss or a server restart, resuming
//     from the last acknowledged position (changes after it are delivered again, with the same
//     ids).
//
// Thread-safety: Run on one thread; Stop from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "source/postgres/catalog.h"
#include "source/source.h"

namespace cdc::pg {

struct PostgresSourceOptions {
  std::string dsn;
  std::string slot = "cdc_pipeline";
  std::string publication = "cdc_pipeline";
  std::vector<PgTableRequirement> tables;
  bool initial_snapshot = true;
  size_t snapshot_batch_size = 10000;
  std::chrono::milliseconds flush_interval{200};
  std::chrono::milliseconds status_interval{10000};
  std::chrono::milliseconds heartbeat_interval{0};  // 0 = off
  std::chrono::milliseconds reconnect_initial_backoff{100};
  std::chrono::milliseconds reconnect_max_backoff{30000};
  // How often, at least, the publication is compared with the configured tables while streaming
  // (also at each Relation message), on a normal connection of its own.
  std::chrono::milliseconds table_check_interval{2000};
  // Where the source keeps the progress of its initial snapshot (the pipeline's data dir).
  std::string state_dir;
  // Show a progress bar on stderr during the snapshot.
  bool progress = true;
  // On a position gap at start (the slot is gone, invalidated, or ahead of what this pipeline
  // acknowledged): false = refuse to start; true = accept it, publish a PositionGap event and
  // snapshot again on a new slot.
  bool resnapshot_on_gap = false;
  // Protocol 2 with streaming of in-progress transactions where the server has it; spilled to
  // `<state_dir>/spill` (the temp dir without a state dir).
  bool stream_in_progress = true;
  // The signal table ("schema.table" or "table" in public; backfill.h): created if missing and
  // added to the publication; its rows are commands, never published. Empty: no signals.
  std::string signal_table;
};

// `source` of type postgres as configured (parsed by the kind, register.cc).
struct PostgresSourceConfig : KindOptions {
  std::string dsn;  // a secret: never logged
  std::string slot = "cdc_pipeline";
  std::string publication = "cdc_pipeline";
  std::string snapshot = "initial";  // initial | never
  int64_t snapshot_batch_size = 10000;
  int64_t flush_interval_ms = 200;
  int64_t status_interval_ms = 10000;
  int64_t heartbeat_interval_ms = 0;  // 0 = off
  int64_t reconnect_max_backoff_ms = 30000;
  std::string on_position_gap = "fail";  // fail | resnapshot
  bool stream_in_progress = true;
  std::string signal_table = "cdc_pipeline_signals";  // empty: no signals
};

// The options from the config's `source` and `tables` sections.
PostgresSourceOptions OptionsFromConfig(const Config& config);

// verify-data's check of the slot's owner record in the data dir against `pipeline_id` (the
// state store's; empty when it has none). Read-only; does not connect.
std::vector<DataDirFinding> VerifySlotRecord(const PostgresSourceOptions& options,
                                             const std::string& pipeline_id);

class PostgresSource final : public Source {
 public:
  explicit PostgresSource(PostgresSourceOptions options);

  Status Run(ChangeSink& sink) override;
  void Stop() override { stop_ = true; }
  // Connects and checks the server, the role and the tables (no changes made).
  Status CheckHealth() override;
  // The slot's confirmed position against the server's current WAL position.
  Result<SourceLag> Lag() override;
  void AllowPositionGap() override { options_.resnapshot_on_gap = true; }
  void SetPipelineId(const std::string& id) override { pipeline_id_ = id; }
  void AdoptPosition() override { adopt_slot_ = true; }
  void ResetPosition() override { reset_ = true; }
  // True while the replication stream runs (between START_REPLICATION and its end).
  bool Connected() const override { return connected_.load(); }
  std::optional<SnapshotState> Snapshot() const override;
  std::vector<BackfillState> Backfills() const override;

  // How many position gaps this run accepted (on_position_gap: resnapshot).
  uint64_t gaps() const { return gaps_.load(); }

  // The last flush LSN acknowledged to PostgreSQL.
  Lsn acknowledged() const { return Lsn(acked_.load()); }
  uint64_t reconnects() const { return reconnects_.load(); }

 private:
  // Checks and completes the setup; a table gap found at start is accepted into `sink`.
  Status Prepare(ChangeSink& sink);
  // Creates the missing slot (a new initial snapshot's progress first, so a crash in between
  // cannot leave a new slot whose snapshot is thought done); `start` is its consistent point.
  Status CreateSlot(PgConnection& conn, Lsn& start);
  Status Stream(ChangeSink& sink, Lsn start);
  Status Heartbeat();
  // The pre-chunked versions' marker of an unfinished snapshot.
  std::string MarkerPath() const;
  std::string ProgressPath() const;
  // The backfill ledger (backfill.h).
  std::string BackfillPath() const;
  // Creates the signal table if missing and adds it to the publication; on failure (no
  // privilege, PostgreSQL before 14) logs a warning and leaves signals off.
  void PrepareSignals(PgConnection& conn);
  // The position gap check (see docs/operations.md, "Position gaps"): the LSN this pipeline last
  // acknowledged to the slot is kept in PositionPath(), written and synced before PostgreSQL
  // is told; on every (re)connect it is compared with the slot.
  std::string PositionPath() const;
  Status SaveAcknowledged(Lsn lsn);
  // Returns the gap as a FailedPrecondition with data_loss, or OK when there is none.
  Status CheckPositionGap(const std::optional<PgSlotInfo>& slot);
  // on_position_gap: resnapshot: drops what is left of the slot, publishes the PositionGap event
  // and forgets the old position, so the slot is created again with a snapshot.
  Status AcceptPositionGap(PgConnection& conn, const std::optional<PgSlotInfo>& slot,
                           const Status& gap, ChangeSink& sink);
  // Which data dir the slot belongs to (docs/operations.md, "The data dir's identity"):
  // OwnerPath() holds "pipeline_id <id>" and "state pending|created|adopted", written (pending)
  // before the slot is created and (created) after. A slot without such a record of this data
  // dir, or with another pipeline's id, is refused unless adopt_slot_ (`run --adopt-slot`);
  // with `write` false (health-check) nothing is recorded.
  std::string OwnerPath() const;
  Status CheckSlotOwner(const PgSlotInfo& slot, bool write);
  Status WriteOwner(const std::string& state);
  // `run --reset-state`: accepts a "gap" whatever the slot's position (the state store started
  // over), so the slot is created again with a snapshot.
  Status ResetSlot(PgConnection& conn, ChangeSink& sink);
  // The walsender pid of the running stream, for health-check (a slot held by this pipeline).
  std::string WalsenderPath() const;

  // Tables that leave the publication (docs/architecture.md, "Tables that leave the
  // publication"). TablesPath() keeps the captured tables, one line each:
  // "<oid>\t<captured|gap>\t<schema>.<name>"; "gap" once a gap of the table was found and not
  // accepted, so mending the publication by hand cannot hide it.
  struct CapturedTable {
    uint32_t oid = 0;  // 0: unknown
    bool gap = false;
  };
  using CapturedTables = std::map<std::string, CapturedTable>;
  using TableProblems = std::vector<std::pair<std::string, std::string>>;  // table, what happened
  std::string TablesPath() const;
  // The relation shapes the decoder knew at the last acknowledgement (docs/architecture.md,
  // "Schema changes"): read at every stream start, written (synced) before an acknowledgement
  // when they changed.
  std::string ShapesPath() const;
  Result<std::vector<PgRelation>> LoadShapes() const;
  Status SaveShapes(const PgOutputDecoder& decoder, uint64_t& saved_version);
  // Compares the configured tables and the publication with `expected` (absent or OID 0: any
  // OID). Empty when nothing happened.
  Result<TableProblems> FindTableProblems(PgConnection& conn, const CapturedTables& expected);
  // The problems of a start after streaming (a position file exists), against TablesPath().
  Result<TableProblems> FindTableProblemsAtStart(PgConnection& conn);
  // Records the gap of each problem's table in TablesPath().
  Status MarkTableGaps(const TableProblems& problems);
  // The error: what happened, the position up to which changes were delivered, the ways on.
  Status TableGap(const TableProblems& problems, Lsn delivered, bool streaming) const;
  // At start, before the publication is completed: a table gap is refused, or accepted with a
  // PositionGap event and a new snapshot (resnapshot_on_gap).
  Status CheckTablesAtStart(PgConnection& conn, ChangeSink& sink);
  // While streaming, on check_conn_; Unavailable when the check could not run.
  Result<TableProblems> CheckTablesWhileStreaming();

  PostgresSourceOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> gaps_{0};
  std::atomic<bool> connected_{false};
  std::string pipeline_id_;  // SetPipelineId; empty when run without a durable pipeline
  bool adopt_slot_ = false;
  bool reset_ = false;
  // The stream thread's snapshot, as Snapshot() reports it.
  mutable std::mutex snapshot_mu_;
  std::optional<SnapshotState> snapshot_state_;  // guarded by snapshot_mu_
  // The stream thread's backfills, as Backfills() reports them; nullopt before the stream starts
  // (then the ledger file says).
  std::optional<std::vector<BackfillState>> backfill_state_;  // guarded by snapshot_mu_
  bool signals_ = false;                                      // the signal table is ready (Prepare)
  PgTableRef signal_table_;
  Lsn saved_;                // the acknowledged LSN in PositionPath()
  bool streamed_ = false;    // a stream started in this process: a later gap always stops it
  CapturedTables captured_;  // the captured tables' OIDs at Prepare
  std::unique_ptr<PgConnection> check_conn_;
  std::unique_ptr<PgConnection> heartbeat_conn_;
  std::chrono::steady_clock::time_point last_heartbeat_;
};

}  // namespace cdc::pg

namespace cdc {
class Registry;
// The `postgres` source kind, and its `backfill` command (backfill_command.cc).
void RegisterPostgresSource(Registry& registry);
void RegisterBackfillCommand(Registry& registry);
}  // namespace cdc
