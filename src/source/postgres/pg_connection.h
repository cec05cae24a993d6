// PgConnection: a small owner of one libpq connection for ordinary SQL (catalog queries, DDL for
// publications and replica identity, snapshot reads). libpq stays out of this header.
//
// Errors carry PostgreSQL's primary message and SQLSTATE, never DETAIL lines (which can quote row
// values), and never a password (libpq's texts are scrubbed, pg_errors.h). The session always
// uses client_encoding UTF8. Codes: connection failures are classified by pg_errors.h (permanent
// ones such as a wrong password are FailedPrecondition, the rest Unavailable); privilege errors and
// wrong server state are FailedPrecondition; missing objects are NotFound.
//
// Thread-safety: one connection per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "source/postgres/pg_types.h"

namespace cdc::pg {

// The rows of a query, every value in text form (nullopt for NULL).
struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;

  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  // The column's index, or -1.
  int ColumnIndex(std::string_view name) const;
  // The value at (row, column name); nullopt for NULL or an unknown column.
  const std::optional<std::string>& Get(size_t row, std::string_view column) const;
};

struct PgConnectOptions {
  // "database" opens a logical replication (walsender) connection.
  std::string replication;
  // Appended to the DSN's `options` (server settings for the session); by default the settings
  // that make values print in the forms DecodeText expects.
  std::string session_options = std::string(kPgSessionOptions);
};

class PgConnection {
 public:
  // `dsn` is a libpq connection string ("host=... port=... dbname=..." or a postgres:// URI).
  static Result<std::unique_ptr<PgConnection>> Connect(std::string_view dsn,
                                                       const PgConnectOptions& options = {});
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements; results are discarded.
  Status Execute(std::string_view sql);
  // Runs one statement with text parameters ($1, $2, ...); statements without a result set yield
  // no rows.
  Result<PgRows> Query(std::string_view sql, const std::vector<std::string>& params = {});
  // Like Query, but always through the extended protocol, which runs exactly one statement: for
  // SQL that holds text from elsewhere (a backfill's condition), so that text cannot end the
  // statement and run others.
  Result<PgRows> QueryOne(std::string_view sql, const std::vector<std::string>& params = {});

  // The database and user of the connection.
  std::string database() const;
  std::string user() const;
  // The server's process id serving this connection.
  int backend_pid() const;

  // The underlying PGconn*, for code in this library that speaks the replication protocol.
  void* raw() const { return conn_; }

 private:
  explicit PgConnection(void* conn) : conn_(conn) {}
  Result<PgRows> Run(std::string_view sql, const std::vector<std::string>& params, bool extended);
  void* conn_;  // PGconn*
};

namespace internal {
// Builds a Status from a failed PGresult* (or the connection's error when result is null).
Status ResultError(void* conn, void* result, std::string_view what);
}  // namespace internal

}  // namespace cdc::pg
