#include "source/postgres/postgres_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "base/logging.h"
#include "event/position_kinds.h"
#include "source/postgres/chunked_snapshot.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/replication_connection.h"

namespace cdc::pg {

PostgresSourceOptions OptionsFromConfig(const Config& config) {
  static const PostgresSourceConfig kDefaults;
  const PostgresSourceConfig* configured = config.source.OptionsAs<PostgresSourceConfig>();
  const PostgresSourceConfig& s = configured != nullptr ? *configured : kDefaults;
  PostgresSourceOptions o;
  o.dsn = s.dsn;
  o.slot = s.slot;
  o.publication = s.publication;
  o.initial_snapshot = s.snapshot == "initial";
  o.snapshot_batch_size = static_cast<size_t>(std::max<int64_t>(1, s.snapshot_batch_size));
  o.flush_interval = std::chrono::milliseconds(std::max<int64_t>(1, s.flush_interval_ms));
  o.status_interval = std::chrono::milliseconds(std::max<int64_t>(100, s.status_interval_ms));
  o.heartbeat_interval = std::chrono::milliseconds(s.heartbeat_interval_ms);
  o.reconnect_max_backoff =
      std::chrono::milliseconds(std::max<int64_t>(100, s.reconnect_max_backoff_ms));
  o.state_dir = config.pipeline.data_dir;
  o.resnapshot_on_gap = s.on_position_gap == "resnapshot";
  for (const auto& t : config.tables) {
    PgTableRequirement req;
    req.table.schema = t.schema;
    req.table.name = t.name;
    req.replica_identity_full = t.replica_identity == "full";
    o.tables.push_back(std::move(req));
  }
  return o;
}

PostgresSource::PostgresSource(PostgresSourceOptions options) : options_(std::move(options)) {}

Result<SourceLag> PostgresSource::Lag() {
  auto conn_or = PgConnection::Connect(options_.dsn);
  if (!conn_or.ok()) return conn_or.status().WithContext("database not reachable");
  auto conn = std::move(conn_or).value();
  CDC_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(
          "SELECT pg_current_wal_lsn()::text AS current, confirmed_flush_lsn::text AS confirmed, "
          "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag, "
          "active FROM pg_replication_slots WHERE slot_name = $1",
          {options_.slot}));
  if (rows.empty()) {
    return NotFound("slot " + options_.slot + " does not exist (the pipeline has not run)");
  }
  SourceLag lag;
  lag.holder = "slot " + options_.slot;
  lag.current = rows.Get(0, "current").value_or("");
  lag.confirmed = rows.Get(0, "confirmed").value_or("");
  std::string bytes = rows.Get(0, "lag").value_or("0");
  std::from_chars(bytes.data(), bytes.data() + bytes.size(), lag.bytes);  // negative: 0
  lag.active = rows.Get(0, "active") == std::optional<std::string>("t");
  return lag;
}

std::string PostgresSource::MarkerPath() const {
  return options_.state_dir + "/postgres-snapshot-" + options_.slot + ".pending";
}

Status PostgresSource::CheckHealth() {
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.dsn));
  CDC_RETURN_IF_ERROR(CheckServer(*conn));
  CDC_RETURN_IF_ERROR(CheckTables(*conn, options_.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(*conn, options_.slot));
  if (slot && slot->active) {
    // Held by this pipeline's own `run` (the walsender it recorded in the data dir): healthy.
    std::ifstream in(WalsenderPath());
    int pid = 0;
    if (in >> pid && pid == slot->active_pid) return Status::Ok();
  }
  CDC_RETURN_IF_ERROR(CheckPositionGap(slot));
  if (slot) CDC_RETURN_IF_ERROR(CheckSlotUsable(*slot, conn->database()));
  return Status::Ok();
}

namespace {

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The watermarks of a chunked snapshot travel as logical decoding messages, which pgoutput
// sends only from PostgreSQL 14 on.
Status CheckWatermarksSupported(PgConnection& conn) {
  CDC_ASSIGN_OR_RETURN(PgRows rows, conn.Query("SELECT current_setting('server_version_num')"));
  int version = rows.empty() || !rows.rows[0][0] ? 0 : std::atoi(rows.rows[0][0]->c_str());
  if (version >= 140000) return Status::Ok();
  return FailedPrecondition(
      "snapshot: initial needs PostgreSQL 14 or later (the snapshot is read in chunks while the "
      "slot streams, with watermarks that pgoutput passes on only from version 14); this server "
      "is version " +
      std::to_string(version) +
      ": upgrade it, or set snapshot: never in the source section and load the existing rows "
      "another way");
}

// Replaces `path` with `text`, synced (file and directory), so it survives a crash.
Status WriteSynced(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot write '" + tmp + "'");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError("cannot write or sync '" + path + "'");
  }
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ok = ::fsync(dfd) == 0;
    ::close(dfd);
    if (!ok) return IoError("cannot sync the directory of '" + path + "'");
  }
  return Status::Ok();
}

// The LSN in a file SaveAcknowledged wrote; nullopt when there is none.
std::optional<Lsn> ReadAcknowledged(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  return Lsn::Parse(text);
}

}  // namespace

std::string PostgresSource::ProgressPath() const {
  return options_.state_dir + "/postgres-snapshot-" + options_.slot + ".progress";
}

Status PostgresSource::Prepare() {
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.dsn));
  CDC_RETURN_IF_ERROR(PrepareCapture(*conn, options_.publication, options_.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(*conn, options_.slot));
  // An invalidated slot is a position gap: Run reports it (or accepts it).
  if (slot && slot->wal_status != "lost") {
    CDC_RETURN_IF_ERROR(CheckSlotUsable(*slot, conn->database()));
  }
  if (!options_.initial_snapshot) return Status::Ok();
  CDC_ASSIGN_OR_RETURN(auto progress, ReadSnapshotProgress(ProgressPath()));
  if (FileExists(MarkerPath())) {
    // An older version's snapshot into this slot did not finish (it would have dropped the
    // slot): read it again, in chunks, keeping the slot.
    if (slot && !progress) {
      log::Warn(
          "the initial snapshot into slot {} did not finish; reading it again in chunks while "
          "the slot streams",
          options_.slot);
      progress = NewSnapshotProgress();
      CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), *progress));
    }
    ::unlink(MarkerPath().c_str());
  }
  if (!slot || (progress && !progress->done)) {
    CDC_RETURN_IF_ERROR(CheckWatermarksSupported(*conn));
  }
  return Status::Ok();
}

std::string PostgresSource::PositionPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".position";
}

std::string PostgresSource::WalsenderPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".walsender";
}

Status PostgresSource::SaveAcknowledged(Lsn lsn) {
  if (lsn <= saved_) return Status::Ok();
  CDC_RETURN_IF_ERROR(WriteSynced(PositionPath(), lsn.ToString() + "\n"));
  saved_ = lsn;
  return Status::Ok();
}

Status PostgresSource::CheckPositionGap(const std::optional<PgSlotInfo>& slot) {
  const std::string name = QuoteIdentifier(options_.slot);
  std::optional<Lsn> ours = ReadAcknowledged(PositionPath());
  std::string what;
  std::string lost;
  if (slot && slot->wal_status == "lost") {
    what = "replication slot " + name +
           " was invalidated (wal_status = lost): PostgreSQL removed WAL it still needed "
           "(max_slot_wal_keep_size)";
    lost = "changes committed after " + (ours ? *ours : slot->confirmed_flush).ToString() +
           " are lost";
  } else if (!ours) {
    return Status::Ok();  // a first start: the slot is created (or was made for us)
  } else if (!slot) {
    what = "replication slot " + name +
           " no longer exists (dropped, or lost in a failover) although this pipeline streamed "
           "from it";
    lost = "every change committed after " + ours->ToString() +
           " is lost (a new slot starts at the server's current position)";
  } else if (slot->confirmed_flush > *ours) {
    what = "replication slot " + name + " is at " + slot->confirmed_flush.ToString() +
           ", ahead of what this pipeline acknowledged (advanced by hand, or shared with another "
           "client)";
    lost = "changes committed between " + ours->ToString() + " and " +
           slot->confirmed_flush.ToString() + " are lost";
  } else {
    return Status::Ok();
  }
  return FailedPrecondition(
             "position gap: " + what + "; this pipeline's last acknowledged position is " +
             (ours ? ours->ToString() : std::string("unknown (no record in the data dir)")) +
             ", so " + lost +
             " and would reach no consumer as events. Two ways on: run `cdc-pipeline run "
             "--resnapshot` (or set source.on_position_gap: resnapshot) to accept the gap: it "
             "publishes a PositionGap event and snapshots every table again as READ events; or "
             "restore the slot at or before " +
             (ours ? ours->ToString() : std::string("the last position")) +
             " (e.g. from a backup or the old primary) and start `run` again")
      .set_data_loss();
}

Status PostgresSource::AcceptPositionGap(PgConnection& conn, const std::optional<PgSlotInfo>& slot,
                                         const Status& gap, ChangeSink& sink) {
  log::Warn("accepting a position gap (on_position_gap: resnapshot): {}", gap.message());
  CDC_ASSIGN_OR_RETURN(PgRows now, conn.Query("SELECT pg_current_wal_lsn()::text AS lsn"));
  Lsn current = Lsn::Parse(now.Get(0, "lsn").value_or("0/0")).value_or(Lsn());
  ChangeEvent marker;
  marker.schema.clear();
  marker.table.clear();
  marker.op = Op::kPositionGap;
  marker.commit_time = SystemClock::Instance().Now();
  marker.position = ToPosition(PgPosition{current, TxId(0), 0});
  Row detail;
  detail.Add("slot", Value::Text(options_.slot));
  std::optional<Lsn> ours = ReadAcknowledged(PositionPath());
  detail.Add("lastPosition", ours ? Value::Text(ours->ToString()) : Value::Null());
  detail.Add("slotPosition", slot ? Value::Text(slot->confirmed_flush.ToString()) : Value::Null());
  detail.Add("reason", Value::Text(gap.message()));
  marker.after = std::move(detail);
  CDC_RETURN_IF_ERROR(sink.OnChange(std::move(marker), RawInput{}));
  CDC_RETURN_IF_ERROR(sink.MakeDurable());
  ++gaps_;
  // The snapshot is owed before the slot and the position go: a crash after this point still
  // snapshots into the new slot (CreateSlot keeps an unfinished progress).
  CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), NewSnapshotProgress()));
  if (slot) {
    CDC_RETURN_IF_ERROR(
        conn.Execute("SELECT pg_drop_replication_slot(" + QuoteLiteral(options_.slot) + ")")
            .WithContext("dropping the replication slot to snapshot again"));
  }
  if (::unlink(PositionPath().c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove '" + PositionPath() + "'");
  }
  saved_ = Lsn();
  return Status::Ok();
}

Status PostgresSource::CreateSlot(PgConnection& conn, Lsn& start) {
  // A new slot snapshots with snapshot: initial, and after an accepted position gap (also when
  // the process died between accepting it and creating the slot: its progress is unfinished).
  bool snapshot = options_.initial_snapshot || gaps_ > 0;
  if (!snapshot) {
    CDC_ASSIGN_OR_RETURN(auto owed, ReadSnapshotProgress(ProgressPath()));
    snapshot = owed && !owed->done;
  }
  if (snapshot) {
    CDC_RETURN_IF_ERROR(CheckWatermarksSupported(conn));
    CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), NewSnapshotProgress()));
  } else {
    ::unlink(ProgressPath().c_str());
  }
  CDC_ASSIGN_OR_RETURN(auto repl, PgReplicationConnection::Connect(options_.dsn));
  CDC_ASSIGN_OR_RETURN(auto created, repl->CreateSlot(options_.slot, PgCreateSlotOptions{}));
  log::Info("created replication slot {} at {}", created.name, created.consistent_point.ToString());
  start = created.consistent_point;
  return Status::Ok();
}

Status PostgresSource::Heartbeat() {
  if (options_.heartbeat_interval.count() <= 0) return Status::Ok();
  auto now = std::chrono::steady_clock::now();
  if (now - last_heartbeat_ < options_.heartbeat_interval) return Status::Ok();
  last_heartbeat_ = now;
  if (!heartbeat_conn_) {
    auto conn = PgConnection::Connect(options_.dsn);
    if (!conn.ok()) return conn.status();
    heartbeat_conn_ = std::move(conn).value();
  }
  Status s = heartbeat_conn_->Execute(
      "SELECT pg_logical_emit_message(false, 'cdc-pipeline-heartbeat', '')");
  if (!s.ok()) heartbeat_conn_.reset();
  return s;
}

Status PostgresSource::Stream(ChangeSink& sink, Lsn start) {
  // An unfinished snapshot (initial, or after an accepted position gap) is read while streaming,
  // from where its progress says. A progress file exists only when a snapshot was begun into
  // this slot (CreateSlot removes it otherwise).
  std::unique_ptr<ChunkedSnapshot> snapshot;
  {
    CDC_ASSIGN_OR_RETURN(auto progress, ReadSnapshotProgress(ProgressPath()));
    if (progress && !progress->done) {
      ChunkedSnapshotOptions o;
      o.dsn = options_.dsn;
      o.slot = options_.slot;
      for (const auto& t : options_.tables) o.tables.push_back(t.table);
      o.chunk_size = options_.snapshot_batch_size;
      o.show_progress = options_.progress;
      if (progress->chunks > 0) {
        log::Info("resuming the initial snapshot {} of slot {} after chunk {} ({})", progress->id,
                  options_.slot, progress->chunks,
                  progress->table.empty() ? "next table" : "table " + progress->table);
      }
      snapshot = std::make_unique<ChunkedSnapshot>(std::move(o), ProgressPath(),
                                                   std::move(progress).value());
    }
  }
  CDC_ASSIGN_OR_RETURN(auto repl, PgReplicationConnection::Connect(options_.dsn));
  PgStartOptions start_options;
  start_options.slot = options_.slot;
  start_options.publications = {options_.publication};
  start_options.start_lsn = start;
  start_options.status_interval = options_.status_interval;
  start_options.messages = snapshot != nullptr;  // the watermarks
  CDC_RETURN_IF_ERROR(repl->StartReplication(start_options));
  streamed_ = true;
  connected_ = true;
  {
    // Not needed for correctness (health-check only): not synced.
    std::ofstream out(WalsenderPath(), std::ios::trunc);
    out << repl->backend_pid() << "\n";
  }
  log::Info("streaming from slot {} (publication {})", options_.slot, options_.publication);
  PgBegin transaction;  // the last Begin: where a watermark's chunk rows are positioned

  bool in_transaction = false;
  bool dirty = false;     // delivered but not yet made durable
  Lsn durable_candidate;  // end of the last delivered transaction
  Lsn idle_candidate;     // a keepalive position safe to acknowledge once durable
  Lsn acked(acked_.load());
  auto last_flush = std::chrono::steady_clock::now();
  // Wake up at least this often while waiting, so what was received becomes durable (and is
  // delivered) within the sink's latency budget even when no more changes arrive.
  auto timeout = std::min({options_.flush_interval, std::chrono::milliseconds(100),
                           std::max(sink.MaxIdleWait(), std::chrono::milliseconds(1))});
  while (!stop_) {
    if (snapshot && snapshot->wants_chunk()) {
      CDC_RETURN_IF_ERROR(snapshot->ReadNextChunk(sink));
      if (snapshot->done()) snapshot.reset();
    }
    CDC_ASSIGN_OR_RETURN(auto message, repl->Next(timeout));
    bool reply = false;
    bool idle = !message.has_value();
    if (message) {
      if (auto* begin = std::get_if<PgBegin>(&*message)) {
        transaction = *begin;
        in_transaction = true;
      } else if (auto* change = std::get_if<ChangeEvent>(&*message)) {
        if (snapshot) snapshot->OnChange(*change);
        CDC_RETURN_IF_ERROR(sink.OnChange(std::move(*change), RawInput{}));
        dirty = true;
      } else if (auto* logical = std::get_if<PgLogicalMessage>(&*message)) {
        if (snapshot && logical->transactional) {
          CDC_RETURN_IF_ERROR(snapshot->OnMessage(transaction, *logical, sink));
          dirty = true;
        }
      } else if (auto* commit = std::get_if<PgCommit>(&*message)) {
        in_transaction = false;
        durable_candidate = std::max(durable_candidate, commit->end_lsn);
        dirty = true;
      } else if (auto* keepalive = std::get_if<PgKeepalive>(&*message)) {
        // Everything before a keepalive that arrives outside a transaction has been received;
        // once it is durable, the keepalive's position can be acknowledged.
        if (!in_transaction) idle_candidate = std::max(idle_candidate, keepalive->wal_end);
        reply = keepalive->reply_requested;
      }
    }
    // Acknowledge only between transactions; the clock is read only then (it is per message).
    auto now = in_transaction ? last_flush : std::chrono::steady_clock::now();
    if (!in_transaction && (idle || reply || now - last_flush >= options_.flush_interval)) {
      if (dirty) {
        CDC_RETURN_IF_ERROR(sink.MakeDurable());
        dirty = false;
      }
      last_flush = now;
      Lsn target = std::max(durable_candidate, idle_candidate);
      if (target > acked || reply) {
        acked = std::max(acked, target);
        CDC_RETURN_IF_ERROR(SaveAcknowledged(acked));
        CDC_RETURN_IF_ERROR(repl->SendStatus(acked, acked, acked, false));
        acked_.store(acked.value());
      }
    }
    if (idle) {
      Status h = Heartbeat();
      if (!h.ok()) log::Warn("heartbeat failed: {}", h.message());
    }
  }
  // Stopping: make what was delivered durable and acknowledge it, then end the stream.
  if (dirty && !in_transaction) {
    CDC_RETURN_IF_ERROR(sink.MakeDurable());
    if (durable_candidate > acked) {
      acked = durable_candidate;
      CDC_RETURN_IF_ERROR(SaveAcknowledged(acked));
      (void)repl->SendStatus(acked, acked, acked, false);
      acked_.store(acked.value());
    }
  } else if (dirty) {
    CDC_RETURN_IF_ERROR(sink.MakeDurable());  // a partial transaction is redelivered on restart
  }
  (void)repl->StopReplication();
  if (snapshot) {
    log::Warn(
        "stopped during the initial snapshot of slot {}: the next start resumes it after its "
        "last completed chunk ({} so far)",
        options_.slot, snapshot->progress().chunks);
  }
  return Status::Ok();
}

Status PostgresSource::Run(ChangeSink& sink) {
  auto backoff = options_.reconnect_initial_backoff;
  bool prepared = false;
  while (!stop_) {
    Status s;
    if (!prepared) {
      s = Prepare();
      if (s.ok()) prepared = true;
    }
    if (s.ok()) {
      Lsn start;
      // A missing slot is created; the initial snapshot, if any, is read while streaming.
      auto conn = PgConnection::Connect(options_.dsn);
      if (!conn.ok()) {
        s = conn.status();
      } else {
        auto slot = InspectSlot(**conn, options_.slot);
        if (!slot.ok()) {
          s = slot.status();
        } else if (Status gap = CheckPositionGap(*slot); !gap.ok()) {
          // Never a silent new slot: a gap found after streaming started stops the pipeline
          // whatever the policy (the next start applies it).
          if (!options_.resnapshot_on_gap || streamed_) return gap;
          s = AcceptPositionGap(**conn, *slot, gap, sink);
          if (s.ok()) slot->reset();
        }
        if (s.ok() && !slot->has_value()) {
          s = CreateSlot(**conn, start);
          // From here on the slot is this pipeline's: losing it is a position gap.
          if (s.ok()) s = SaveAcknowledged(start);
        }
      }
      if (s.ok()) {
        backoff = options_.reconnect_initial_backoff;
        s = Stream(sink, start);
        connected_ = false;
        if (s.ok()) return Status::Ok();  // stopped
        // The stream may have ended because the slot was invalidated (PostgreSQL terminates
        // its walsender): say so rather than what the connection saw.
        if (auto check = PgConnection::Connect(options_.dsn); check.ok() && !stop_) {
          auto slot = InspectSlot(**check, options_.slot);
          if (slot.ok()) {
            if (Status gap = CheckPositionGap(*slot); !gap.ok()) return gap;
          }
        }
      }
    }
    if (stop_) break;
    if (s.code() != StatusCode::kUnavailable) return s;
    log::Warn("PostgreSQL connection lost or unavailable: {}; reconnecting in {} ms", s.message(),
              backoff.count());
    ++reconnects_;
    auto deadline = std::chrono::steady_clock::now() + backoff;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min(backoff * 2, options_.reconnect_max_backoff);
  }
  return Status::Ok();
}

}  // namespace cdc::pg
