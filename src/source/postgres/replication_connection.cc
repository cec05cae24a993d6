#include "source/postgres/replication_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include "base/logging.h"
#include "source/postgres/pg_errors.h"

namespace cdc::pg {
namespace {

PGconn* Raw(const std::unique_ptr<PgConnection>& c) { return static_cast<PGconn*>(c->raw()); }

// Slot names are limited by PostgreSQL to lower-case letters, digits and underscores.
Status ValidateSlotName(std::string_view slot) {
  if (slot.empty() || slot.size() > 63) {
    return InvalidArgument("replication slot name must be 1 to 63 characters");
  }
  for (char c : slot) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return InvalidArgument("replication slot name '" + std::string(slot) +
                             "' may contain only lower-case letters, digits and underscores");
    }
  }
  return Status::Ok();
}

bool Mentions(const Status& s, std::string_view text) {
  return s.message().find(text) != std::string::npos;
}

Status WalLevelError(const Status& s) {
  return FailedPrecondition(
      "logical replication needs wal_level = logical: set wal_level = logical in postgresql.conf "
      "(or run ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL (" +
      s.message() + ")");
}

}  // namespace

PgReplicationConnection::PgReplicationConnection(std::unique_ptr<PgConnection> conn,
                                                 std::string dsn)
    : conn_(std::move(conn)), dsn_(std::move(dsn)), catalog_(dsn_), decoder_(types_, &catalog_) {}

PgReplicationConnection::~PgReplicationConnection() = default;

Result<std::unique_ptr<PgReplicationConnection>> PgReplicationConnection::Connect(
    std::string_view dsn) {
  PgConnectOptions options;
  options.replication = "database";
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(dsn, options));
  return std::unique_ptr<PgReplicationConnection>(
      new PgReplicationConnection(std::move(conn), std::string(dsn)));
}

Result<PgRows> PgReplicationConnection::Command(std::string_view sql, std::string_view what) {
  if (streaming_) return FailedPrecondition(std::string(what) + ": the connection is streaming");
  auto rows = conn_->Query(sql);
  if (!rows.ok()) return rows.status().WithContext(what);
  return rows;
}

Result<PgRows> PgReplicationConnection::Query(std::string_view sql) {
  return Command(sql, "query");
}

Result<PgSystemIdentity> PgReplicationConnection::IdentifySystem() {
  CDC_ASSIGN_OR_RETURN(PgRows rows, Command("IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM"));
  if (rows.empty()) return Internal("IDENTIFY_SYSTEM returned no row");
  PgSystemIdentity id;
  id.system_id = rows.Get(0, "systemid").value_or("");
  std::string timeline = rows.Get(0, "timeline").value_or("0");
  std::from_chars(timeline.data(), timeline.data() + timeline.size(), id.timeline);
  id.wal_position = Lsn::Parse(rows.Get(0, "xlogpos").value_or("0/0")).value_or(Lsn());
  id.database = rows.Get(0, "dbname").value_or("");
  return id;
}

Result<PgCreatedSlot> PgReplicationConnection::CreateSlot(std::string_view slot,
                                                          const PgCreateSlotOptions& options) {
  CDC_RETURN_IF_ERROR(ValidateSlotName(slot));
  std::string sql = "CREATE_REPLICATION_SLOT " + std::string(slot) +
                    (options.temporary ? " TEMPORARY" : "") + " LOGICAL pgoutput " +
                    (options.export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
  auto rows = Command(sql, "creating replication slot " + std::string(slot));
  if (!rows.ok()) {
    if (Mentions(rows.status(), "wal_level")) return WalLevelError(rows.status());
    return rows.status();
  }
  if (rows->empty()) return Internal("CREATE_REPLICATION_SLOT returned no row");
  PgCreatedSlot created;
  created.name = rows->Get(0, "slot_name").value_or("");
  created.consistent_point =
      Lsn::Parse(rows->Get(0, "consistent_point").value_or("0/0")).value_or(Lsn());
  created.snapshot_name = rows->Get(0, "snapshot_name").value_or("");
  return created;
}

Status PgReplicationConnection::StartReplication(const PgStartOptions& options) {
  if (streaming_) return FailedPrecondition("replication already started");
  CDC_RETURN_IF_ERROR(ValidateSlotName(options.slot));
  if (options.publications.empty()) return InvalidArgument("no publication to stream");
  std::string names;
  for (const auto& p : options.publications) {
    if (!names.empty()) names += ',';
    names += QuoteIdentifier(p);
  }
  // Streaming of in-progress transactions came with protocol version 2 in PostgreSQL 14.
  protocol_version_ = options.stream_in_progress && PQserverVersion(Raw(conn_)) >= 140000 ? 2 : 1;
  if (protocol_version_ == 2) {
    decoder_.EnableStreaming(options.spill_dir.empty()
                                 ? std::filesystem::temp_directory_path().string()
                                 : options.spill_dir);
  }
  std::string sql = "START_REPLICATION SLOT " + options.slot + " LOGICAL " +
                    options.start_lsn.ToString() + " (proto_version '" +
                    std::to_string(protocol_version_) + "', publication_names " +
                    QuoteLiteral(names) + (options.messages ? ", messages 'true'" : "") +
                    (protocol_version_ == 2 ? ", streaming 'on'" : "") + ")";
  PGresult* res = PQexec(Raw(conn_), sql.c_str());
  if (res != nullptr && PQresultStatus(res) == PGRES_COPY_BOTH) {
    PQclear(res);
    streaming_ = true;
    slot_ = options.slot;
    status_interval_ = options.status_interval;
    last_status_ = std::chrono::steady_clock::now();
    return Status::Ok();
  }
  Status error = internal::ResultError(
      conn_->raw(), res, "starting replication from slot " + QuoteIdentifier(options.slot));
  PQclear(res);
  if (error.code() == StatusCode::kUnavailable) return error;
  // Explain the slot's state when that is the reason (active elsewhere, invalidated, ...). A
  // walsender connection only speaks the simple query protocol, so ask over a normal one.
  auto normal = PgConnection::Connect(dsn_);
  if (!normal.ok()) return error;
  auto slot = InspectSlot(**normal, options.slot);
  if (slot.ok() && !slot->has_value()) {
    return NotFound("replication slot " + QuoteIdentifier(options.slot) +
                    " does not exist: create it (CREATE_REPLICATION_SLOT) or let the pipeline "
                    "create it");
  }
  if (slot.ok()) {
    Status usable = CheckSlotUsable(**slot, (*normal)->database());
    if (!usable.ok()) return usable;
  }
  if (Mentions(error, "wal_level")) return WalLevelError(error);
  return error;
}

Status PgReplicationConnection::SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested) {
  if (!streaming_) return FailedPrecondition("cannot send a status update: not streaming");
  write_ = std::max(write_, write);
  flush_ = std::max(flush_, flush);
  apply_ = std::max(apply_, apply);
  std::string msg =
      EncodeStandbyStatus(write_, flush_, apply_, SystemClock::Instance().Now(), reply_requested);
  if (PQputCopyData(Raw(conn_), msg.data(), static_cast<int>(msg.size())) != 1 ||
      PQflush(Raw(conn_)) != 0) {
    return Unavailable("sending a standby status update failed: " + LibpqErrorText(conn_->raw()));
  }
  last_status_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status PgReplicationConnection::MaybeSendPeriodicStatus() {
  if (std::chrono::steady_clock::now() - last_status_ < status_interval_) return Status::Ok();
  return SendStatus(write_, flush_, apply_);
}

Result<std::optional<PgMessage>> PgReplicationConnection::Next(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  // The clock is read when there is nothing to read (the timeout starts then) and every
  // kFramesPerStatusCheck frames for the periodic status, not for every message: a backlog
  // arrives at over a hundred thousand messages a second.
  constexpr uint32_t kFramesPerStatusCheck = 64;
  std::optional<Clock::time_point> deadline;
  while (true) {
    if (pending_pos_ < pending_.size()) {
      PgMessage m = std::move(pending_[pending_pos_++]);
      if (pending_pos_ == pending_.size()) {
        pending_.clear();
        pending_pos_ = 0;
      }
      return std::optional<PgMessage>(std::move(m));
    }
    if (decoder_.replaying()) {
      // A committed streamed transaction, read back from its spill file a batch at a time.
      Status status = decoder_.DrainReplay(pending_, 256);
      if (!status.ok()) {
        pending_.clear();
        pending_pos_ = 0;
        return status;
      }
      continue;
    }
    if (!streaming_) return FailedPrecondition("replication is not started");
    if (++frames_since_status_check_ >= kFramesPerStatusCheck) {
      frames_since_status_check_ = 0;
      CDC_RETURN_IF_ERROR(MaybeSendPeriodicStatus());
    }

    char* buf = nullptr;
    int n = PQgetCopyData(Raw(conn_), &buf, 1);
    if (n > 0) {
      std::string_view data(buf, static_cast<size_t>(n));
      auto frame = ParseCopyFrame(data);
      Status status;
      if (!frame.ok()) {
        status = frame.status();
      } else if (auto* x = std::get_if<XLogDataFrame>(&*frame)) {
        server_wal_end_ = std::max(server_wal_end_, x->wal_end);
        status = decoder_.Decode(x->payload, pending_);
      } else {
        const auto& k = std::get<KeepaliveFrame>(*frame);
        server_wal_end_ = std::max(server_wal_end_, k.wal_end);
        if (k.reply_requested) status = SendStatus(write_, flush_, apply_);
        pending_.emplace_back(PgKeepalive{k.wal_end, k.reply_requested});
      }
      PQfreemem(buf);
      if (!status.ok()) {
        pending_.clear();
        pending_pos_ = 0;
        return status;
      }
      continue;
    }
    if (n == -1) {
      // The server ended the stream (e.g. the slot was dropped or the server shuts down).
      streaming_ = false;
      Status status = Unavailable("the server ended the replication stream");
      while (PGresult* res = PQgetResult(Raw(conn_))) {
        if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
          status = internal::ResultError(conn_->raw(), res, "replication stream ended");
        }
        PQclear(res);
      }
      return status;
    }
    if (n == -2) {
      streaming_ = false;
      return Unavailable("replication stream failed: " + LibpqErrorText(conn_->raw()));
    }
    // n == 0: nothing buffered; wait for the socket, at most until the deadline or the next
    // periodic status update.
    CDC_RETURN_IF_ERROR(MaybeSendPeriodicStatus());
    frames_since_status_check_ = 0;
    Clock::time_point now = Clock::now();
    if (!deadline) deadline = now + timeout;
    if (now >= *deadline) return std::optional<PgMessage>();
    Clock::time_point wake = std::min(*deadline, last_status_ + status_interval_);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    pollfd pfd{PQsocket(Raw(conn_)), POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(wait, 1)));
    if (rc < 0 && errno != EINTR) return ErrnoError("poll on the replication connection", errno);
    if (rc > 0 && PQconsumeInput(Raw(conn_)) != 1) {
      streaming_ = false;
      return Unavailable("replication connection lost: " + LibpqErrorText(conn_->raw()));
    }
  }
}

Status PgReplicationConnection::StopReplication() {
  if (!streaming_) return Status::Ok();
  streaming_ = false;
  pending_.clear();
  pending_pos_ = 0;
  if (PQputCopyEnd(Raw(conn_), nullptr) != 1 || PQflush(Raw(conn_)) != 0) {
    return Unavailable("ending the replication stream failed: " + LibpqErrorText(conn_->raw()));
  }
  // Drain what the server sent before it saw CopyDone.
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(Raw(conn_), &buf, 0);
    if (n > 0) {
      PQfreemem(buf);
      continue;
    }
    if (n == -2) {
      return Unavailable("ending the replication stream failed: " + LibpqErrorText(conn_->raw()));
    }
    break;
  }
  Status status;
  while (PGresult* res = PQgetResult(Raw(conn_))) {
    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
      status = internal::ResultError(conn_->raw(), res, "ending the replication stream");
    }
    PQclear(res);
  }
  return status;
}

Result<std::unique_ptr<PgReplicationConnection>> OpenReplication(const PgSourceOptions& options) {
  CDC_RETURN_IF_ERROR(ValidateSlotName(options.slot));
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options.dsn));
  CDC_RETURN_IF_ERROR(PrepareCapture(*conn, options.publication, options.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(*conn, options.slot));
  if (slot) CDC_RETURN_IF_ERROR(CheckSlotUsable(*slot, conn->database()));

  CDC_ASSIGN_OR_RETURN(auto repl, PgReplicationConnection::Connect(options.dsn));
  if (!slot) {
    if (!options.create_slot) {
      return NotFound("replication slot " + QuoteIdentifier(options.slot) +
                      " does not exist and create_slot is off");
    }
    CDC_ASSIGN_OR_RETURN(auto created, repl->CreateSlot(options.slot));
    log::Info("created replication slot {} at {}", created.name,
              created.consistent_point.ToString());
  }
  PgStartOptions start;
  start.slot = options.slot;
  start.publications = {options.publication};
  start.messages = options.messages;
  start.stream_in_progress = options.stream_in_progress;
  start.spill_dir = options.spill_dir;
  start.status_interval = options.status_interval;
  CDC_RETURN_IF_ERROR(repl->StartReplication(start));
  return repl;
}

}  // namespace cdc::pg
