#include "source/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <utility>

#include "base/logging.h"
#include "base/scrub.h"
#include "source/postgres/pg_errors.h"

namespace cdc::pg {
namespace {

PGconn* Conn(void* p) { return static_cast<PGconn*>(p); }

StatusCode CodeForSqlState(std::string_view state) {
  if (state.size() != 5) return StatusCode::kInternal;
  std::string_view cls = state.substr(0, 2);
  // 55006 object_in_use: e.g. a replication slot another process is streaming from.
  if (cls == "08" || cls == "57" || state == "55006") return StatusCode::kUnavailable;
  if (cls == "53") return StatusCode::kResourceExhausted;
  if (cls == "40") return StatusCode::kAborted;
  if (state == "42501" || cls == "55" || cls == "28") return StatusCode::kFailedPrecondition;
  if (state == "42P01" || state == "42704" || state == "3D000") return StatusCode::kNotFound;
  if (state == "42710" || state == "42P07") return StatusCode::kAlreadyExists;
  return StatusCode::kInternal;
}

// Server notices (e.g. "relation already exists, skipping") go to the debug log instead of
// libpq's default of stderr.
void OnNotice(void*, const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  log::Debug("PostgreSQL notice: {}", text);
}

}  // namespace

int PgRows::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

const std::optional<std::string>& PgRows::Get(size_t row, std::string_view column) const {
  static const std::optional<std::string> kNull;
  int i = ColumnIndex(column);
  if (i < 0 || row >= rows.size()) return kNull;
  return rows[row][static_cast<size_t>(i)];
}

namespace internal {

Status ResultError(void* conn, void* result, std::string_view what) {
  PGresult* res = static_cast<PGresult*>(result);
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (state == nullptr || primary == nullptr) {
    // No server error: the connection itself failed (or the result was not what was expected).
    std::string text = LibpqErrorText(conn);
    if (text.empty() && res != nullptr) {
      text = std::string("unexpected result status ") + PQresStatus(PQresultStatus(res));
      return Internal(std::string(what) + ": " + text);
    }
    if (conn != nullptr && PQstatus(Conn(conn)) == CONNECTION_BAD) {
      return Unavailable(std::string(what) + ": connection to PostgreSQL lost: " + text);
    }
    return Unavailable(std::string(what) + ": " + text);
  }
  std::string message = std::string(what) + ": " + primary + " (SQLSTATE " + state + ")";
  if (const char* hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT); hint != nullptr) {
    message += "; hint: ";
    message += hint;
  }
  return Status(CodeForSqlState(state), std::move(message));
}

}  // namespace internal

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(std::string_view dsn,
                                                            const PgConnectOptions& options) {
  // libpq quotes parts of a DSN it cannot parse (even the password alone): every message about
  // this DSN is scrubbed of its password from here on.
  RegisterDsnSecrets(dsn);
  char* parse_error = nullptr;
  std::string dsn_text(dsn);
  PQconninfoOption* parsed = PQconninfoParse(dsn_text.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    return ConnectionStringError(why);
  }
  std::vector<std::string> keys, values;
  std::string session_options;
  bool has_app_name = false;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view key = o->keyword;
    if (key == "options") {
      session_options = o->val;
      continue;
    }
    if (key == "replication" || key == "client_encoding") continue;
    if (key == "application_name") has_app_name = true;
    keys.emplace_back(key);
    values.emplace_back(o->val);
  }
  PQconninfoFree(parsed);
  if (!options.session_options.empty()) {
    if (!session_options.empty()) session_options += ' ';
    session_options += options.session_options;
  }
  if (!session_options.empty()) {
    keys.emplace_back("options");
    values.push_back(session_options);
  }
  if (!options.replication.empty()) {
    keys.emplace_back("replication");
    values.push_back(options.replication);
  }
  // Values are decoded as UTF-8 whatever the database's encoding: PostgreSQL converts them (also
  // in pgoutput's messages, which follow the walsender's client_encoding).
  keys.emplace_back("client_encoding");
  values.emplace_back("UTF8");
  if (!has_app_name) {
    keys.emplace_back("application_name");
    values.emplace_back("cdc-pipeline");
  }
  std::vector<const char*> kw, vals;
  for (size_t i = 0; i < keys.size(); ++i) {
    kw.push_back(keys[i].c_str());
    vals.push_back(values[i].c_str());
  }
  kw.push_back(nullptr);
  vals.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(kw.data(), vals.data(), 0);
  if (conn == nullptr) return ResourceExhausted("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = ConnectError(PQerrorMessage(conn));
    PQfinish(conn);
    return s;
  }
  PQsetNoticeProcessor(conn, OnNotice, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(Conn(conn_)); }

Status PgConnection::Execute(std::string_view sql) {
  std::string text(sql);
  PGresult* res = PQexec(Conn(conn_), text.c_str());
  Status status;
  // PQexec returns the last statement's result; earlier failures stop the batch and show here.
  ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    status = internal::ResultError(conn_, res, "query failed");
  }
  PQclear(res);
  return status;
}

Result<PgRows> PgConnection::QueryOne(std::string_view sql,
                                      const std::vector<std::string>& params) {
  return Run(sql, params, /*extended=*/true);
}

Result<PgRows> PgConnection::Query(std::string_view sql, const std::vector<std::string>& params) {
  return Run(sql, params, /*extended=*/false);
}

Result<PgRows> PgConnection::Run(std::string_view sql, const std::vector<std::string>& params,
                                 bool extended) {
  std::string text(sql);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* res = params.empty() && !extended
                      ? PQexec(Conn(conn_), text.c_str())
                      : PQexecParams(Conn(conn_), text.c_str(), static_cast<int>(values.size()),
                                     nullptr, values.data(), nullptr, nullptr, 0);
  // A statement without a result set (INSERT, UPDATE, ...) yields no rows.
  if (res == nullptr ||
      (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)) {
    Status s = internal::ResultError(conn_, res, "query failed");
    PQclear(res);
    return s;
  }
  PgRows rows;
  int ncols = PQnfields(res), nrows = PQntuples(res);
  for (int c = 0; c < ncols; ++c) rows.columns.emplace_back(PQfname(res, c));
  rows.rows.reserve(static_cast<size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = rows.rows.emplace_back();
    row.reserve(static_cast<size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back();
      } else {
        row.emplace_back(
            std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
      }
    }
  }
  PQclear(res);
  return rows;
}

std::string PgConnection::database() const {
  const char* db = PQdb(Conn(conn_));
  return db != nullptr ? db : "";
}

std::string PgConnection::user() const {
  const char* u = PQuser(Conn(conn_));
  return u != nullptr ? u : "";
}

int PgConnection::backend_pid() const { return PQbackendPID(Conn(conn_)); }

}  // namespace cdc::pg
