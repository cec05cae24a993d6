// The embedded state store: one SQLite file in WAL mode with synchronous=FULL, so a committed
// checkpoint survives power loss, and a lock file whose flock makes one process the owner.
// The schema is in docs/state-store.md.

#include "state/sqlite_state_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/logging.h"
#include "base/status.h"
#include "base/time.h"

namespace cdc::state {
namespace {

// kMigrations[v] takes the schema from version v to v + 1 (PRAGMA user_version). A new version
// appends an entry; existing entries never change, since files in the field were made by them.
// Unsigned 64-bit numbers are stored as the int64 with the same bits.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE shard_checkpoints(
  shard INTEGER PRIMARY KEY,
  next_offset INTEGER NOT NULL);
CREATE TABLE target_marks(
  target TEXT PRIMARY KEY,
  cursor TEXT NOT NULL,
  delivered INTEGER NOT NULL,
  dead_lettered INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE target_shard_next(
  target TEXT NOT NULL,
  shard INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  PRIMARY KEY(target, shard)) WITHOUT ROWID;
CREATE TABLE kv(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE dedupe_keys(
  key TEXT PRIMARY KEY,
  expires_micros INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX dedupe_keys_by_expiry ON dedupe_keys(expires_micros);
CREATE TABLE lease(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  token INTEGER NOT NULL,
  owner TEXT NOT NULL,
  acquired_micros INTEGER NOT NULL,
  renewed_micros INTEGER NOT NULL);
)sql",
    R"sql(
CREATE TABLE last_images(
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  image BLOB NOT NULL,
  PRIMARY KEY(tbl, key)) WITHOUT ROWID;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr int kBusyTimeoutMillis = 5000;
// Only used to name the owner in a refusal; the owner may be in the middle of a write.
constexpr int kRefusalBusyTimeoutMillis = 1000;

int64_t ToSql(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t FromSql(int64_t v) { return static_cast<uint64_t>(v); }

std::string NoStateYet(const std::string& path) {
  return "no state yet at " + path + ": the pipeline has not run with this data dir";
}

// What the operator can do about an SQLite error on the state store.
std::string_view Hint(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
      return "check that the data dir exists and that this user may read and write in it";
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return "check the permissions of the file, its -wal and -shm files and the data dir";
    case SQLITE_FULL:
      return "free space on the data dir's file system";
    case SQLITE_IOERR:
      return "check the disk and the kernel log";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is damaged or not a state store; restore it from a backup, or move it "
             "away to start with an empty state";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another connection held the file locked for too long; try again";
    default:
      return "";
  }
}

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return StatusCode::kResourceExhausted;
    case SQLITE_IOERR:
      return StatusCode::kIoError;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kCorruption;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInternal;
  }
}

// "<what> <path>: <sqlite message> (SQLite error N); <hint>".
Status SqliteError(sqlite3* db, int rc, std::string_view what, const std::string& path) {
  std::string message(what);
  message += " ";
  message += path;
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (SQLite error " + std::to_string(rc) + ")";
  std::string_view hint = Hint(rc);
  if (!hint.empty()) {
    message += "; ";
    message += hint;
  }
  return Status(CodeFor(rc), std::move(message));
}

// An open database connection; closed on destruction (after its statements, which are declared
// after it wherever both are members).
class Connection {
 public:
  Connection() = default;
  ~Connection() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Open(const std::string& path, int flags, int busy_timeout_millis) {
    path_ = path;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "cannot open the state store");
    sqlite3_extended_result_codes(db_, 1);
    rc = sqlite3_busy_timeout(db_, busy_timeout_millis);
    if (rc != SQLITE_OK) return Error(rc, "cannot set the busy timeout of the state store");
    return Status::Ok();
  }

  // Runs SQL without results (one or more statements); not for hot paths.
  Status Exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(rc, what);
    return Status::Ok();
  }

  Status Error(int rc, std::string_view what) const { return SqliteError(db_, rc, what, path_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement, kept for the life of the store and reused by every call.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Status Prepare(Connection& conn, std::string_view sql) {
    conn_ = &conn;
    int rc = sqlite3_prepare_v3(conn.get(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) return conn.Error(rc, "cannot prepare a statement on the state store");
    return Status::Ok();
  }

  sqlite3_stmt* get() const { return stmt_; }
  Connection& connection() const { return *conn_; }

 private:
  Connection* conn_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// One execution of a Statement: bind, step, read columns. Resets the statement when it goes out
// of scope, so that no read transaction stays open (it would pin an old WAL snapshot).
class Run {
 public:
  Run(Statement& statement, std::string_view what) : statement_(statement), what_(what) {}
  ~Run() {
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  Run& Bind(int index, int64_t v) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = sqlite3_bind_int64(statement_.get(), index, v);
    return *this;
  }
  Run& BindBlob(int index, std::string_view v) {
    if (bind_rc_ == SQLITE_OK) {
      bind_rc_ = sqlite3_bind_blob(statement_.get(), index, v.data() != nullptr ? v.data() : "",
                                   static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  Run& Bind(int index, std::string_view v) {
    // SQLITE_TRANSIENT: SQLite copies the bytes, so `v` need not outlive the step.
    // A null pointer would bind NULL rather than an empty text.
    if (bind_rc_ == SQLITE_OK) {
      bind_rc_ = sqlite3_bind_text(statement_.get(), index, v.data() != nullptr ? v.data() : "",
                                   static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }

  // True when a row is ready, false when the statement is done.
  Result<bool> Step() {
    if (bind_rc_ != SQLITE_OK) return statement_.connection().Error(bind_rc_, what_);
    int rc = sqlite3_step(statement_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return statement_.connection().Error(rc, what_);
  }
  // Steps a statement that returns no rows.
  Status Exec() {
    CDC_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Status::Ok();
  }

  int64_t Int(int column) const { return sqlite3_column_int64(statement_.get(), column); }
  // The integer in `column`, or Corruption naming the table, key and value when it holds
  // anything else (SQLite would read text as 0).
  Result<int64_t> CheckedInt(int column, const std::string& path, std::string_view table,
                             const std::string& key, std::string_view field) const {
    if (sqlite3_column_type(statement_.get(), column) == SQLITE_INTEGER) return Int(column);
    return Corruption(
               fmt::format(
                   "state store {}: table {}, key '{}', column {}: '{}' is not a number; the file "
                   "was changed by something other than cdc-pipeline. Restore it from a backup "
                   "(nothing was changed; `cdc-pipeline verify-data` lists every damaged value)",
                   path, table, key, field, Text(column)))
        .set_data_loss();
  }
  std::string Blob(int column) const {
    const void* p = sqlite3_column_blob(statement_.get(), column);
    int n = sqlite3_column_bytes(statement_.get(), column);
    if (p == nullptr) return std::string();
    return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string Text(int column) const {
    const auto* p = sqlite3_column_text(statement_.get(), column);
    int n = sqlite3_column_bytes(statement_.get(), column);
    if (p == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }

 private:
  Statement& statement_;
  std::string_view what_;
  int bind_rc_ = SQLITE_OK;
};

// The exclusive flock on "<path>.lock", held for the life of the store. The kernel drops it when
// the process dies, however it dies, so a free lock means the previous owner is gone.
class LockFile {
 public:
  LockFile() = default;
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // True when the lock was taken, false when another open file description holds it.
  Result<bool> TryLock(const std::string& lock_path) {
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      int err = errno;
      std::string message = "cannot open the lock file " + lock_path + ": " + std::strerror(err) +
                            "; check that the data dir exists and that this user may write in it";
      if (err == ENOENT || err == EACCES || err == EROFS) return FailedPrecondition(message);
      return IoError(message);
    }
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) return false;
      return ErrnoError("cannot lock " + lock_path, errno);
    }
    return true;
  }

 private:
  int fd_ = -1;
};

Result<std::optional<LeaseInfo>> ReadLease(Statement& select_lease) {
  Run run(select_lease, "cannot read the lease of the state store");
  CDC_ASSIGN_OR_RETURN(bool row, run.Step());
  if (!row) return std::optional<LeaseInfo>();
  LeaseInfo lease;
  lease.token = FromSql(run.Int(0));
  lease.owner = run.Text(1);
  lease.acquired_micros = run.Int(2);
  lease.renewed_micros = run.Int(3);
  return std::optional<LeaseInfo>(std::move(lease));
}

Result<int> UserVersion(Connection& conn) {
  Statement statement;
  CDC_RETURN_IF_ERROR(statement.Prepare(conn, "PRAGMA user_version"));
  Run run(statement, "cannot read the schema version of the state store");
  CDC_ASSIGN_OR_RETURN(bool row, run.Step());
  return row ? static_cast<int>(run.Int(0)) : 0;
}

Status NewerSchema(const std::string& path, int version) {
  return FailedPrecondition("the state store " + path + " has schema version " +
                            std::to_string(version) + ", newer than this build knows (" +
                            std::to_string(kSchemaVersion) +
                            "); run a cdc-pipeline at least as new as the one that wrote it");
}

// The lease row as the process that holds the flock wrote it, for the refusal message.
std::string DescribeHolder(const std::string& path) {
  std::string unknown = "another process (its owner is not recorded yet)";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return unknown;
  Connection conn;
  if (!conn.Open(path, SQLITE_OPEN_READONLY, kRefusalBusyTimeoutMillis).ok()) return unknown;
  Result<int> version = UserVersion(conn);
  if (!version.ok() || *version < 1) return unknown;
  Statement select_lease;
  if (!select_lease
           .Prepare(conn,
                    "SELECT token, owner, acquired_micros, renewed_micros FROM lease WHERE id = 1")
           .ok()) {
    return unknown;
  }
  Result<std::optional<LeaseInfo>> lease = ReadLease(select_lease);
  if (!lease.ok() || !lease->has_value()) return unknown;
  return (*lease)->owner + " since " + FormatRfc3339(Timestamp{(*lease)->acquired_micros});
}

class SqliteStateStore final : public StateStore {
 public:
  explicit SqliteStateStore(std::string path, bool read_only)
      : path_(std::move(path)), read_only_(read_only) {}

  Status OpenWritable(const std::string& owner, int64_t now_micros);
  Status OpenReadOnly();

  const LeaseInfo& lease() const override { return lease_; }
  Status Commit(const CheckpointCommit& commit) override;
  Result<std::map<uint32_t, uint64_t>> ShardCheckpoints() override;
  Result<std::map<std::string, TargetMark>> TargetMarks() override;
  Result<std::optional<std::string>> Value(const std::string& key) override;
  Result<bool> HasKey(const std::string& key, int64_t now_micros) override;
  Result<uint64_t> ExpireKeys(int64_t now_micros) override;
  Result<std::unique_ptr<LastImageStore>> OpenLastImages() override;

 private:
  Status Migrate();
  Status PrepareStatements();
  Status TakeLease(const std::string& owner, int64_t now_micros);
  Status WriteCommit(const CheckpointCommit& commit);
  Status CheckLease(int64_t now_micros);
  // Runs `body` in a BEGIN IMMEDIATE transaction after checking that the lease is still ours and
  // renewing it; commits when all went well, else rolls back so that nothing of it is written.
  template <typename Body>
  Status LeasedTransaction(int64_t now_micros, Body&& body);
  Status Rollback();
  Status RefuseReadOnly(std::string_view what) const;

  const std::string path_;
  const bool read_only_;
  // Members are destroyed in reverse order: statements, then the connection, then the lock.
  LockFile lock_;
  Connection conn_;
  LeaseInfo lease_;

  Statement begin_immediate_;
  Statement commit_;
  Statement rollback_;
  Statement select_lease_;
  Statement write_lease_;
  Statement renew_lease_;
  Statement select_checkpoint_;
  Statement upsert_checkpoint_;
  Statement select_checkpoints_;
  Statement upsert_mark_;
  Statement delete_mark_shards_;
  Statement insert_mark_shard_;
  Statement select_marks_;
  Statement upsert_value_;
  Statement select_value_;
  Statement upsert_key_;
  Statement select_key_;
  Statement delete_expired_;
};

Status SqliteStateStore::OpenWritable(const std::string& owner, int64_t now_micros) {
  std::string lock_path = path_ + ".lock";
  CDC_ASSIGN_OR_RETURN(bool locked, lock_.TryLock(lock_path));
  if (!locked) {
    return FailedPrecondition("the data dir is in use: " + path_ + " is held by " +
                              DescribeHolder(path_) +
                              "; stop that process or use another pipeline.data_dir")
        .set_in_use();
  }
  CDC_RETURN_IF_ERROR(
      conn_.Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMillis));
  {
    Statement journal_mode;
    CDC_RETURN_IF_ERROR(journal_mode.Prepare(conn_, "PRAGMA journal_mode=WAL"));
    Run run(journal_mode, "cannot switch to WAL mode the state store");
    CDC_ASSIGN_OR_RETURN(bool row, run.Step());
    if (!row || run.Text(0) != "wal") {
      return FailedPrecondition("cannot switch the state store " + path_ +
                                " to WAL mode (journal mode stays '" + (row ? run.Text(0) : "") +
                                "'); put the data dir on a local file system");
    }
  }
  // FULL: the WAL is fsynced at every commit, so a committed checkpoint survives power loss.
  CDC_RETURN_IF_ERROR(
      conn_.Exec("PRAGMA synchronous=FULL", "cannot set synchronous=FULL on the state store"));
  CDC_RETURN_IF_ERROR(Migrate());
  CDC_RETURN_IF_ERROR(PrepareStatements());
  return TakeLease(owner, now_micros);
}

Status SqliteStateStore::OpenReadOnly() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound(NoStateYet(path_));
    return ErrnoError("cannot read the state store " + path_, errno);
  }
  CDC_RETURN_IF_ERROR(conn_.Open(path_, SQLITE_OPEN_READONLY, kBusyTimeoutMillis));
  CDC_ASSIGN_OR_RETURN(int version, UserVersion(conn_));
  if (version == 0) return NotFound(NoStateYet(path_) + " (the file holds no schema yet)");
  if (version > kSchemaVersion) return NewerSchema(path_, version);
  if (version < kSchemaVersion) {
    return FailedPrecondition("the state store " + path_ + " has schema version " +
                              std::to_string(version) + " and this build needs " +
                              std::to_string(kSchemaVersion) +
                              "; run the pipeline once to upgrade it, then read it");
  }
  CDC_RETURN_IF_ERROR(PrepareStatements());
  CDC_ASSIGN_OR_RETURN(std::optional<LeaseInfo> lease, ReadLease(select_lease_));
  if (lease) lease_ = std::move(*lease);
  return Status::Ok();
}

Status SqliteStateStore::Migrate() {
  CDC_ASSIGN_OR_RETURN(int version, UserVersion(conn_));
  if (version > kSchemaVersion) return NewerSchema(path_, version);
  if (version == kSchemaVersion) return Status::Ok();
  CDC_RETURN_IF_ERROR(conn_.Exec("BEGIN IMMEDIATE", "cannot start the schema upgrade of"));
  Status status = Status::Ok();
  for (int v = version; v < kSchemaVersion && status.ok(); ++v) {
    status = conn_.Exec(std::string(kMigrations[v]).c_str(),
                        "cannot upgrade the schema to version " + std::to_string(v + 1) + " in");
  }
  if (status.ok()) {
    status = conn_.Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str(),
                        "cannot record the schema version in");
  }
  if (status.ok()) status = conn_.Exec("COMMIT", "cannot commit the schema upgrade of");
  if (!status.ok()) {
    if (conn_.InTransaction()) (void)conn_.Exec("ROLLBACK", "cannot roll back");
    return status;
  }
  if (version > 0) {
    log::Info("state store {}: schema upgraded from version {} to {}", path_, version,
              kSchemaVersion);
  }
  return Status::Ok();
}

Status SqliteStateStore::PrepareStatements() {
  struct Entry {
    Statement* statement;
    std::string_view sql;
  };
  const Entry entries[] = {
      {&begin_immediate_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&select_lease_,
       "SELECT token, owner, acquired_micros, renewed_micros FROM lease WHERE id = 1"},
      {&write_lease_,
       "INSERT INTO lease(id, token, owner, acquired_micros, renewed_micros) "
       "VALUES(1, ?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET token = excluded.token, "
       "owner = excluded.owner, acquired_micros = excluded.acquired_micros, "
       "renewed_micros = excluded.renewed_micros"},
      {&renew_lease_, "UPDATE lease SET renewed_micros = max(renewed_micros, ?1) WHERE id = 1"},
      {&select_checkpoint_, "SELECT next_offset FROM shard_checkpoints WHERE shard = ?1"},
      {&upsert_checkpoint_,
       "INSERT INTO shard_checkpoints(shard, next_offset) VALUES(?1, ?2) "
       "ON CONFLICT(shard) DO UPDATE SET next_offset = excluded.next_offset"},
      {&select_checkpoints_, "SELECT shard, next_offset FROM shard_checkpoints"},
      {&upsert_mark_,
       "INSERT INTO target_marks(target, cursor, delivered, dead_lettered) "
       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(target) DO UPDATE SET cursor = excluded.cursor, "
       "delivered = excluded.delivered, dead_lettered = excluded.dead_lettered"},
      {&delete_mark_shards_, "DELETE FROM target_shard_next WHERE target = ?1"},
      {&insert_mark_shard_,
       "INSERT INTO target_shard_next(target, shard, next_offset) VALUES(?1, ?2, ?3)"},
      // One statement, so one snapshot, even while the owner writes.
      {&select_marks_,
       "SELECT m.target, m.cursor, m.delivered, m.dead_lettered, s.shard, s.next_offset "
       "FROM target_marks m LEFT JOIN target_shard_next s ON s.target = m.target"},
      {&upsert_value_,
       "INSERT INTO kv(key, value) VALUES(?1, ?2) "
       "ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
      {&select_value_, "SELECT value FROM kv WHERE key = ?1"},
      {&upsert_key_,
       "INSERT INTO dedupe_keys(key, expires_micros) VALUES(?1, ?2) ON CONFLICT(key) "
       "DO UPDATE SET expires_micros = max(expires_micros, excluded.expires_micros)"},
      {&select_key_, "SELECT 1 FROM dedupe_keys WHERE key = ?1 AND expires_micros > ?2"},
      {&delete_expired_, "DELETE FROM dedupe_keys WHERE expires_micros <= ?1"},
  };
  for (const Entry& e : entries) CDC_RETURN_IF_ERROR(e.statement->Prepare(conn_, e.sql));
  return Status::Ok();
}

Status SqliteStateStore::TakeLease(const std::string& owner, int64_t now_micros) {
  CDC_RETURN_IF_ERROR(Run(begin_immediate_, "cannot start the lease transaction on").Exec());
  std::optional<LeaseInfo> previous;
  Status status = [&]() -> Status {
    CDC_ASSIGN_OR_RETURN(previous, ReadLease(select_lease_));
    lease_.token = previous ? previous->token + 1 : 1;
    lease_.owner = owner;
    lease_.acquired_micros = now_micros;
    lease_.renewed_micros = now_micros;
    CDC_RETURN_IF_ERROR(Run(write_lease_, "cannot write the lease of")
                            .Bind(1, ToSql(lease_.token))
                            .Bind(2, lease_.owner)
                            .Bind(3, now_micros)
                            .Exec());
    return Run(commit_, "cannot commit the lease of").Exec();
  }();
  if (!status.ok()) {
    (void)Rollback();
    return status;
  }
  if (previous) {
    log::Info("state store {}: lease token {} for {}; took over from {} (last renewed {})", path_,
              lease_.token, owner, previous->owner,
              FormatRfc3339(Timestamp{previous->renewed_micros}));
  } else {
    log::Info("state store {}: new, lease token {} for {}", path_, lease_.token, owner);
  }
  return Status::Ok();
}

Status SqliteStateStore::Rollback() {
  if (!conn_.InTransaction()) return Status::Ok();
  return Run(rollback_, "cannot roll back a transaction on").Exec();
}

Status SqliteStateStore::RefuseReadOnly(std::string_view what) const {
  return FailedPrecondition(std::string(what) + ": the state store " + path_ +
                            " was opened read-only (without the lease); only the process that "
                            "owns the data dir writes to it");
}

Status SqliteStateStore::CheckLease(int64_t now_micros) {
  CDC_ASSIGN_OR_RETURN(std::optional<LeaseInfo> current, ReadLease(select_lease_));
  if (!current) {
    return FailedPrecondition("fenced: the lease row of " + path_ +
                              " was removed while this process held token " +
                              std::to_string(lease_.token) + "; this process stops");
  }
  if (current->token != lease_.token) {
    return FailedPrecondition("fenced: another process (owner " + current->owner +
                              ") took over this data dir with token " +
                              std::to_string(current->token) + " (this process held token " +
                              std::to_string(lease_.token) + " on " + path_ +
                              "); this process stops");
  }
  CDC_RETURN_IF_ERROR(Run(renew_lease_, "cannot renew the lease of").Bind(1, now_micros).Exec());
  return Status::Ok();
}

template <typename Body>
Status SqliteStateStore::LeasedTransaction(int64_t now_micros, Body&& body) {
  CDC_RETURN_IF_ERROR(Run(begin_immediate_, "cannot start a transaction on").Exec());
  Status status = CheckLease(now_micros);
  if (status.ok()) status = body();
  if (status.ok()) status = Run(commit_, "cannot commit to").Exec();
  if (!status.ok()) {
    Status rollback = Rollback();
    if (!rollback.ok()) {
      log::Error("state store {}: {} (after: {})", path_, rollback.ToString(), status.ToString());
    }
    return status;
  }
  lease_.renewed_micros = std::max(lease_.renewed_micros, now_micros);
  return Status::Ok();
}

Status SqliteStateStore::Commit(const CheckpointCommit& commit) {
  if (read_only_) return RefuseReadOnly("cannot commit a checkpoint");
  return LeasedTransaction(commit.now_micros, [&] { return WriteCommit(commit); });
}

Status SqliteStateStore::WriteCommit(const CheckpointCommit& commit) {
  for (const auto& [shard, next] : commit.shard_checkpoints) {
    {
      Run run(select_checkpoint_, "cannot read a shard checkpoint from");
      CDC_ASSIGN_OR_RETURN(bool row, run.Bind(1, shard).Step());
      if (row && FromSql(run.Int(0)) > next) {
        return InvalidArgument("the checkpoint of shard " + std::to_string(shard) +
                               " would move backwards from " + std::to_string(FromSql(run.Int(0))) +
                               " to " + std::to_string(next) + " in " + path_ +
                               "; nothing of this checkpoint was written (a bug in the caller)");
      }
    }
    CDC_RETURN_IF_ERROR(Run(upsert_checkpoint_, "cannot write a shard checkpoint to")
                            .Bind(1, shard)
                            .Bind(2, ToSql(next))
                            .Exec());
  }
  for (const auto& [target, mark] : commit.target_marks) {
    CDC_RETURN_IF_ERROR(Run(upsert_mark_, "cannot write a target mark to")
                            .Bind(1, target)
                            .Bind(2, mark.cursor)
                            .Bind(3, ToSql(mark.delivered))
                            .Bind(4, ToSql(mark.dead_lettered))
                            .Exec());
    CDC_RETURN_IF_ERROR(
        Run(delete_mark_shards_, "cannot write a target mark to").Bind(1, target).Exec());
    for (const auto& [shard, next] : mark.shard_next) {
      CDC_RETURN_IF_ERROR(Run(insert_mark_shard_, "cannot write a target mark to")
                              .Bind(1, target)
                              .Bind(2, shard)
                              .Bind(3, ToSql(next))
                              .Exec());
    }
  }
  for (const auto& [key, value] : commit.values) {
    CDC_RETURN_IF_ERROR(
        Run(upsert_value_, "cannot write a value to").Bind(1, key).Bind(2, value).Exec());
  }
  for (const auto& [key, expires] : commit.dedupe_keys) {
    CDC_RETURN_IF_ERROR(
        Run(upsert_key_, "cannot write a dedupe key to").Bind(1, key).Bind(2, expires).Exec());
  }
  return Status::Ok();
}

Result<std::map<uint32_t, uint64_t>> SqliteStateStore::ShardCheckpoints() {
  std::map<uint32_t, uint64_t> out;
  Run run(select_checkpoints_, "cannot read the shard checkpoints from");
  while (true) {
    CDC_ASSIGN_OR_RETURN(bool row, run.Step());
    if (!row) break;
    std::string key = run.Text(0);
    CDC_ASSIGN_OR_RETURN(int64_t shard,
                         run.CheckedInt(0, path_, "shard_checkpoints", key, "shard"));
    CDC_ASSIGN_OR_RETURN(int64_t next,
                         run.CheckedInt(1, path_, "shard_checkpoints", key, "next_offset"));
    out[static_cast<uint32_t>(shard)] = FromSql(next);
  }
  return out;
}

Result<std::map<std::string, TargetMark>> SqliteStateStore::TargetMarks() {
  std::map<std::string, TargetMark> out;
  Run run(select_marks_, "cannot read the target marks from");
  while (true) {
    CDC_ASSIGN_OR_RETURN(bool row, run.Step());
    if (!row) break;
    std::string target = run.Text(0);
    TargetMark& mark = out[target];
    mark.cursor = run.Text(1);
    CDC_ASSIGN_OR_RETURN(int64_t delivered,
                         run.CheckedInt(2, path_, "target_marks", target, "delivered"));
    CDC_ASSIGN_OR_RETURN(int64_t dead_lettered,
                         run.CheckedInt(3, path_, "target_marks", target, "dead_lettered"));
    mark.delivered = FromSql(delivered);
    mark.dead_lettered = FromSql(dead_lettered);
    if (sqlite3_column_type(select_marks_.get(), 4) != SQLITE_NULL) {
      CDC_ASSIGN_OR_RETURN(int64_t shard,
                           run.CheckedInt(4, path_, "target_shard_next", target, "shard"));
      CDC_ASSIGN_OR_RETURN(int64_t next,
                           run.CheckedInt(5, path_, "target_shard_next", target, "next_offset"));
      mark.shard_next[static_cast<uint32_t>(shard)] = FromSql(next);
    }
  }
  return out;
}

Result<std::optional<std::string>> SqliteStateStore::Value(const std::string& key) {
  Run run(select_value_, "cannot read a value from");
  CDC_ASSIGN_OR_RETURN(bool row, run.Bind(1, key).Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(run.Text(0));
}

Result<bool> SqliteStateStore::HasKey(const std::string& key, int64_t now_micros) {
  Run run(select_key_, "cannot look up a dedupe key in");
  return run.Bind(1, key).Bind(2, now_micros).Step();
}

// The last row images, on a connection of their own (the delivery thread commits checkpoints on
// the store's connection meanwhile; WAL mode lets them read concurrently and serializes writes
// with the busy timeout). The process holds the data dir's flock, so no other owner can write.
class SqliteLastImages final : public LastImageStore {
 public:
  Status Open(const std::string& path) {
    CDC_RETURN_IF_ERROR(
        conn_.Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, kBusyTimeoutMillis));
    CDC_RETURN_IF_ERROR(
        conn_.Exec("PRAGMA synchronous=FULL", "cannot set synchronous=FULL on the state store"));
    CDC_RETURN_IF_ERROR(begin_.Prepare(conn_, "BEGIN IMMEDIATE"));
    CDC_RETURN_IF_ERROR(commit_.Prepare(conn_, "COMMIT"));
    CDC_RETURN_IF_ERROR(rollback_.Prepare(conn_, "ROLLBACK"));
    CDC_RETURN_IF_ERROR(
        select_.Prepare(conn_, "SELECT image FROM last_images WHERE tbl = ?1 AND key = ?2"));
    CDC_RETURN_IF_ERROR(upsert_.Prepare(
        conn_, "INSERT OR REPLACE INTO last_images(tbl, key, image) VALUES (?1, ?2, ?3)"));
    CDC_RETURN_IF_ERROR(
        delete_.Prepare(conn_, "DELETE FROM last_images WHERE tbl = ?1 AND key = ?2"));
    return clear_.Prepare(conn_, "DELETE FROM last_images WHERE tbl = ?1");
  }

  Result<std::optional<std::string>> Get(const std::string& table,
                                         const std::string& key) override {
    Run run(select_, "cannot read a last row image from");
    run.Bind(1, table).Bind(2, key);
    CDC_ASSIGN_OR_RETURN(bool row, run.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(run.Blob(0));
  }

  Status Apply(const std::vector<std::string>& cleared_tables,
               const std::vector<Write>& writes) override {
    if (cleared_tables.empty() && writes.empty()) return Status::Ok();
    CDC_RETURN_IF_ERROR(Run(begin_, "cannot begin a transaction on").Exec());
    Status status = [&]() -> Status {
      for (const auto& t : cleared_tables) {
        CDC_RETURN_IF_ERROR(Run(clear_, "cannot clear last row images in").Bind(1, t).Exec());
      }
      for (const auto& w : writes) {
        if (w.image) {
          CDC_RETURN_IF_ERROR(Run(upsert_, "cannot write a last row image to")
                                  .Bind(1, w.table)
                                  .Bind(2, w.key)
                                  .BindBlob(3, *w.image)
                                  .Exec());
        } else {
          CDC_RETURN_IF_ERROR(Run(delete_, "cannot erase a last row image in")
                                  .Bind(1, w.table)
                                  .Bind(2, w.key)
                                  .Exec());
        }
      }
      return Run(commit_, "cannot commit last row images to").Exec();
    }();
    if (!status.ok() && conn_.InTransaction()) (void)Run(rollback_, "cannot roll back").Exec();
    return status;
  }

 private:
  Connection conn_;
  Statement begin_, commit_, rollback_, select_, upsert_, delete_, clear_;
};

Result<std::unique_ptr<LastImageStore>> SqliteStateStore::OpenLastImages() {
  if (read_only_) return FailedPrecondition("the state store is open read-only");
  auto images = std::make_unique<SqliteLastImages>();
  CDC_RETURN_IF_ERROR(images->Open(path_));
  return std::unique_ptr<LastImageStore>(std::move(images));
}

Result<uint64_t> SqliteStateStore::ExpireKeys(int64_t now_micros) {
  if (read_only_) return RefuseReadOnly("cannot expire dedupe keys");
  uint64_t deleted = 0;
  Status status = LeasedTransaction(now_micros, [&]() -> Status {
    CDC_RETURN_IF_ERROR(
        Run(delete_expired_, "cannot expire dedupe keys in").Bind(1, now_micros).Exec());
    deleted = static_cast<uint64_t>(sqlite3_changes64(conn_.get()));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  log::Debug("state store {}: expired {} dedupe keys", path_, deleted);
  return deleted;
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path,
                                                         const std::string& owner,
                                                         int64_t now_micros) {
  auto store = std::make_unique<SqliteStateStore>(path, /*read_only=*/false);
  CDC_RETURN_IF_ERROR(store->OpenWritable(owner, now_micros));
  return std::unique_ptr<StateStore>(std::move(store));
}

Result<std::unique_ptr<StateStore>> OpenSqliteStateStoreReadOnly(const std::string& path) {
  auto store = std::make_unique<SqliteStateStore>(path, /*read_only=*/true);
  CDC_RETURN_IF_ERROR(store->OpenReadOnly());
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace cdc::state
