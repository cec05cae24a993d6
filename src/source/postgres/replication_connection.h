// PgReplicationConnection: one logical replication (walsender) connection, `replication=database`,
// speaking the streaming replication protocol with the pgoutput plugin: IDENTIFY_SYSTEM,
// CREATE_REPLICATION_SLOT (optionally exporting a snapshot), START_REPLICATION, then a CopyBoth
// stream read with Next() and acknowledged with SendStatus().
//
// Acknowledgement is the caller's: the connection only ever reports the LSNs last given to
// SendStatus (also when it answers a keepalive that asks for a reply, and in its periodic status
// updates), so nothing is confirmed to PostgreSQL before the caller made it durable.
//
// Thread-safety: single-threaded; one owner.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/position.h"
#include "base/status.h"
#include "base/time.h"
#include "source/postgres/catalog.h"
#include "source/postgres/pg_connection.h"
#include "source/postgres/pgoutput.h"

namespace cdc::pg {

struct PgSystemIdentity {
  std::string system_id;
  uint32_t timeline = 0;
  Lsn wal_position;  // the server's current WAL flush position
  std::string database;
};

struct PgCreateSlotOptions {
  bool temporary = false;
  // Export a snapshot: its name can be used with SET TRANSACTION SNAPSHOT on another connection
  // to read the tables exactly as of the slot's consistent point, until the next command on this
  // connection.
  bool export_snapshot = false;
};

struct PgCreatedSlot {
  std::string name;
  Lsn consistent_point;       // the first change the slot will stream commits after this LSN
  std::string snapshot_name;  // empty unless export_snapshot
};

struct PgStartOptions {
  std::string slot;
  std::vector<std::string> publications;
  // Where to start; 0/0 means from the slot's confirmed_flush_lsn.
  Lsn start_lsn;
  // Also stream pg_logical_emit_message() messages (passed on as PgLogicalMessage).
  bool messages = false;
  // Ask for protocol version 2 with `streaming 'on'` when the server has it (PostgreSQL 14 and
  // later): a transaction bigger than the server's logical_decoding_work_mem is sent while in
  // progress and spilled to unnamed files in `spill_dir` (the temp dir when empty) until it
  // commits, instead of being spilled by the server and sent at commit. Next() yields the same
  // messages either way.
  bool stream_in_progress = false;
  std::string spill_dir;
  // How often Next() sends an unsolicited status update with the last acknowledged LSNs, so
  // that wal_sender_timeout does not end an idle stream.
  std::chrono::milliseconds status_interval{10000};
};

class PgReplicationConnection {
 public:
  // Opens `dsn` (a libpq connection string for the database) as a logical replication
  // connection. The role needs the REPLICATION privilege; the error says so otherwise.
  static Result<std::unique_ptr<PgReplicationConnection>> Connect(std::string_view dsn);
  ~PgReplicationConnection();
  PgReplicationConnection(const PgReplicationConnection&) = delete;
  PgReplicationConnection& operator=(const PgReplicationConnection&) = delete;

  Result<PgSystemIdentity> IdentifySystem();

  // CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput (EXPORT_SNAPSHOT|NOEXPORT_SNAPSHOT).
  // AlreadyExists if it exists; FailedPrecondition (saying what to set) if wal_level is not
  // logical.
  Result<PgCreatedSlot> CreateSlot(std::string_view slot, const PgCreateSlotOptions& options = {});

  // Runs a plain SQL command on the connection before streaming (allowed in walsender mode).
  Result<PgRows> Query(std::string_view sql);

  // START_REPLICATION SLOT ... LOGICAL ... (proto_version '1' or '2', publication_names '...').
  // Unavailable naming the pid if another process streams from the slot; FailedPrecondition if
  // the slot was invalidated.
  Status StartReplication(const PgStartOptions& options);

  // Waits up to `timeout` for the next message of the stream. nullopt on timeout (the caller may
  // then stop, or call again). Unavailable when the connection breaks: reconnect and restart from
  // the last acknowledged position.
  Result<std::optional<PgMessage>> Next(std::chrono::milliseconds timeout);

  // Sends a standby status update: everything up to `flush` is durable and may be released by
  // the server. LSNs must not go backwards; they are remembered and repeated when the server
  // asks for a reply.
  Status SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested = false);

  // Ends the stream (CopyDone) and waits for the server to finish it; the connection can then run
  // commands again.
  Status StopReplication();

  bool streaming() const { return streaming_; }
  // The pgoutput protocol version StartReplication asked for (1, or 2 with streaming).
  int protocol_version() const { return protocol_version_; }
  // The server's end of WAL as last reported by XLogData or keepalive.
  Lsn server_wal_end() const { return server_wal_end_; }
  Lsn acknowledged_flush() const { return flush_; }
  int backend_pid() const { return conn_->backend_pid(); }
  const PgTypeRegistry& types() const { return types_; }
  const PgOutputDecoder& decoder() const { return decoder_; }
  // What an earlier connection knew of the relations (PgOutputDecoder::SeedRelations).
  void SeedRelations(std::vector<PgRelation> relations) {
    decoder_.SeedRelations(std::move(relations));
  }

 private:
  PgReplicationConnection(std::unique_ptr<PgConnection> conn, std::string dsn);
  Status MaybeSendPeriodicStatus();
  // Runs a replication command expecting rows.
  Result<PgRows> Command(std::string_view sql, std::string_view what);

  std::unique_ptr<PgConnection> conn_;
  std::string dsn_;
  std::string slot_;
  PgTypeRegistry types_;
  PgCatalog catalog_;
  PgOutputDecoder decoder_;
  std::vector<PgMessage> pending_;
  size_t pending_pos_ = 0;
  bool streaming_ = false;
  int protocol_version_ = 1;
  Lsn write_, flush_, apply_;
  Lsn server_wal_end_;
  std::chrono::milliseconds status_interval_{10000};
  std::chrono::steady_clock::time_point last_status_;
  uint32_t frames_since_status_check_ = 0;
};

// Everything before streaming, for the common case without a snapshot: checks the server and the
// tables (CheckServer, CheckTables), applies REPLICA IDENTITY FULL where asked, ensures the
// publication, checks the slot (creating it if missing), then connects and starts replication
// from the slot's confirmed position.
struct PgSourceOptions {
  std::string dsn;
  std::string slot = "cdc_pipeline";
  std::string publication = "cdc_pipeline";
  std::vector<PgTableRequirement> tables;
  bool create_slot = true;
  bool messages = false;
  bool stream_in_progress = false;  // see PgStartOptions
  std::string spill_dir;
  std::chrono::milliseconds status_interval{10000};
};

Result<std::unique_ptr<PgReplicationConnection>> OpenReplication(const PgSourceOptions& options);

}  // namespace cdc::pg
