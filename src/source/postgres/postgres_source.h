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
#include <memory>
#include <string>
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
  // Where the source keeps the progress of its initial snapshot (the pipeline's data dir).
  std::string state_dir;
  // Show a progress bar on stderr during the snapshot.
  bool progress = true;
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
};

// The options from the config's `source` and `tables` sections.
PostgresSourceOptions OptionsFromConfig(const Config& config);

class PostgresSource final : public Source {
 public:
  explicit PostgresSource(PostgresSourceOptions options);

  Status Run(ChangeSink& sink) override;
  void Stop() override { stop_ = true; }
  // Connects and checks the server, the role and the tables (no changes made).
  Status CheckHealth() override;
  // The slot's confirmed position against the server's current WAL position.
  Result<SourceLag> Lag() override;

  // The last flush LSN acknowledged to PostgreSQL.
  Lsn acknowledged() const { return Lsn(acked_.load()); }
  uint64_t reconnects() const { return reconnects_.load(); }

 private:
  Status Prepare();
  // Creates the missing slot (a new initial snapshot's progress first, so a crash in between
  // cannot leave a new slot whose snapshot is thought done); `start` is its consistent point.
  Status CreateSlot(Lsn& start);
  Status Stream(ChangeSink& sink, Lsn start);
  Status Heartbeat();
  // The pre-chunked versions' marker of an unfinished snapshot.
  std::string MarkerPath() const;
  std::string ProgressPath() const;

  PostgresSourceOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::unique_ptr<PgConnection> heartbeat_conn_;
  std::chrono::steady_clock::time_point last_heartbeat_;
};

}  // namespace cdc::pg

namespace cdc {
class Registry;
// The `postgres` source kind.
void RegisterPostgresSource(Registry& registry);
}  // namespace cdc
