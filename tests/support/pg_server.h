// PgServer: a private PostgreSQL 15 cluster for tests. Start() runs initdb and pg_ctl from
// /usr/lib/postgresql/15/bin in a fresh temp dir (as the `postgres` OS user when the test runs as
// root, since initdb refuses root), with wal_level=logical, trust authentication (also for
// replication connections), a free port on 127.0.0.1 and its socket in the temp dir. The
// destructor stops the server (immediate mode) and removes the temp dir, also when a test failed.
//
// Usage, one server per test suite:
//   static void SetUpTestSuite() { server_ = cdc::testing::PgServer::Start().value(); }
//   static void TearDownTestSuite() { server_.reset(); }
// or hold a std::unique_ptr<PgServer> in a ::testing::Environment.
//
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cdc::testing {

struct PgServerOptions {
  std::string wal_level = "logical";
  // Extra postgresql.conf settings, name -> value (written as name = 'value').
  std::vector<std::pair<std::string, std::string>> settings;
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
};

class PgServer {
 public:
  using Rows = std::vector<std::vector<std::optional<std::string>>>;

  static Result<std::unique_ptr<PgServer>> Start(const PgServerOptions& options = {});
  // A server with the database `coredb` made from sql/coredb.sql (the CoreDB tables, the
  // pipeline's publication), as the end-to-end tests want it.
  static Result<std::unique_ptr<PgServer>> StartCoreDb(const PgServerOptions& options = {});
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  bool running() const { return running_; }

  // libpq connection strings for the superuser `postgres` (or `user`) over TCP on 127.0.0.1.
  std::string Dsn(std::string_view dbname = "postgres", std::string_view user = "postgres") const;
  std::string ReplicationDsn(std::string_view dbname = "postgres") const;

  // Runs SQL (several statements allowed) on a fresh connection to `dbname`.
  Status Execute(std::string_view sql, std::string_view dbname = "postgres") const;
  Result<Rows> Query(std::string_view sql, std::string_view dbname = "postgres") const;
  // The first column of the first row (NotFound if no row; "" for NULL).
  Result<std::string> QueryValue(std::string_view sql, std::string_view dbname = "postgres") const;

  // Shuts down (`mode`: "smart", "fast" or "immediate") and starts again with the same data and
  // port. Note that a fast shutdown waits until every logical walsender's client has confirmed all
  // WAL (or wal_sender_timeout passes); "immediate" does not wait (crash recovery on start).
  Status Restart(std::string_view mode = "fast");
  // Immediate shutdown; the data dir stays until destruction.
  Status Stop();

  // Writes `content` to `name` in the server's data directory (e.g. pg_hba.conf, server.crt,
  // server.key), owned by the server's OS user with `mode`; read by the server at the next
  // Restart.
  Status WriteDataFile(std::string_view name, std::string_view content, int mode = 0600) const;

  // The last `max_bytes` of the server log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  PgServer() = default;
  Status RunTool(const std::vector<std::string>& args, const std::string& log_name) const;
  Status StartServer();

  PgServerOptions options_;
  std::string dir_;
  std::string data_dir_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace cdc::testing
