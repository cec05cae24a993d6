#include "source/postgres/pg_errors.h"

#include <libpq-fe.h>

#include <initializer_list>

#include "base/scrub.h"

namespace cdc::pg {
namespace {

std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool ContainsAny(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (text.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// A failure retrying cannot fix: what it is, PostgreSQL's words, and what to change.
Status Permanent(StatusCode code, std::string_view cause, const std::string& said,
                 std::string_view fix) {
  return Status(code, "cannot connect to PostgreSQL: " + std::string(cause) +
                          " (PostgreSQL said: " + said + "). " + std::string(fix) +
                          " This is not retried.");
}

}  // namespace

std::string LibpqErrorText(const void* conn) {
  if (conn == nullptr) return "";
  return ScrubSecrets(TrimNewlines(PQerrorMessage(static_cast<const PGconn*>(conn))));
}

Status ConnectionStringError(std::string_view libpq_message) {
  std::string why = ScrubSecrets(TrimNewlines(std::string(libpq_message)));
  return InvalidArgument("invalid PostgreSQL connection string (source.dsn): " + why +
                         ". Fix the DSN: key/value form `host=... dbname=... user=...` or a URI "
                         "`postgresql://user@host:port/dbname`; percent-encode special characters "
                         "in a URI (`%40` for `@`), quote values with spaces in key/value form.");
}

Status ConnectError(std::string_view libpq_message) {
  std::string text = ScrubSecrets(TrimNewlines(std::string(libpq_message)));
  using SC = StatusCode;
  if (ContainsAny(text, {"replication role", "REPLICATION attribute",
                         "permission denied to start WAL sender"})) {
    return FailedPrecondition(
        "the PostgreSQL role lacks the REPLICATION privilege needed for logical replication: "
        "run ALTER ROLE <role> REPLICATION as a superuser (PostgreSQL said: " +
        text + ")");
  }
  if (ContainsAny(text, {"password authentication failed"})) {
    return Permanent(SC::kFailedPrecondition, "the password was rejected", text,
                     "Fix the password in the source DSN (source.dsn, e.g. $COREDB_DSN), or set "
                     "the role's password on the server (ALTER ROLE <role> PASSWORD '...').");
  }
  if (ContainsAny(text, {"no password supplied"})) {
    return Permanent(SC::kFailedPrecondition, "the server asks for a password and none was given",
                     text,
                     "Add the password to the source DSN (password=... or user:password@ in a "
                     "URI), or to a password file (~/.pgpass, PGPASSFILE).");
  }
  if (ContainsAny(text, {"no pg_hba.conf entry", "pg_hba.conf rejects"})) {
    return Permanent(SC::kFailedPrecondition,
                     "the server's pg_hba.conf does not admit this connection", text,
                     "Add a line for this client's address, user and database to pg_hba.conf "
                     "before any `reject` line that matches it (e.g. `host <dbname> <user> "
                     "<address>/32 scram-sha-256`; logical replication matches the database "
                     "name, not the `replication` keyword), then run SELECT pg_reload_conf().");
  }
  if (ContainsAny(text, {"is not permitted to log in"})) {
    return Permanent(SC::kFailedPrecondition, "the role may not log in", text,
                     "Run ALTER ROLE <role> LOGIN as a superuser, or use another role.");
  }
  if (ContainsAny(text, {"does not match host name"})) {
    return Permanent(SC::kFailedPrecondition,
                     "the server's TLS certificate is not issued for the host name in the DSN "
                     "(sslmode=verify-full)",
                     text,
                     "Connect with a host name the certificate names (its CN or "
                     "subjectAltName), or reissue the server certificate for this host name.");
  }
  if (ContainsAny(text, {"certificate verify failed"})) {
    return Permanent(SC::kFailedPrecondition, "the server's TLS certificate failed verification",
                     text,
                     "Point sslrootcert in the DSN at the CA certificate that signed the "
                     "server's certificate (sslmode=verify-ca and verify-full check it), or "
                     "install a server certificate signed by that CA.");
  }
  if (ContainsAny(text, {"root certificate file"})) {
    return Permanent(SC::kFailedPrecondition,
                     "sslmode=verify-ca or verify-full needs the CA certificate", text,
                     "Set sslrootcert in the DSN to the CA certificate file (default "
                     "~/.postgresql/root.crt), or choose a weaker sslmode.");
  }
  if (ContainsAny(text, {"server does not support SSL, but SSL was required"})) {
    return Permanent(SC::kFailedPrecondition, "the DSN requires TLS but the server has it off",
                     text,
                     "Turn ssl on in the server's postgresql.conf, or change sslmode in the DSN.");
  }
  if (ContainsAny(text, {"could not load private key", "could not read certificate file",
                         "certificate present, but not private key", "private key file",
                         "tlsv1 alert unknown ca", "alert certificate required",
                         "certificate authentication failed"})) {
    return Permanent(SC::kFailedPrecondition, "the TLS client certificate or key was not accepted",
                     text,
                     "Check sslcert and sslkey in the DSN (readable files, key mode 0600, signed "
                     "by the CA the server trusts in ssl_ca_file).");
  }
  if (ContainsAny(text, {"channel binding", "authentication failed for user",
                         "authentication method requirement"})) {
    return Permanent(SC::kFailedPrecondition, "authentication failed", text,
                     "Fix the user and credentials in the source DSN, or the server's "
                     "pg_hba.conf method for this user.");
  }
  if (ContainsAny(text, {"does not exist"})) {
    return Permanent(SC::kNotFound, "the database or role does not exist", text,
                     "Fix dbname or user in the source DSN, or create them on the server.");
  }
  if (ContainsAny(text, {"invalid connection option", "invalid sslmode value",
                         "invalid port number", "invalid integer value", "invalid value for"})) {
    return Permanent(SC::kInvalidArgument, "the connection string has an invalid option", text,
                     "Fix the source DSN (source.dsn).");
  }
  return Unavailable("cannot connect to PostgreSQL: " + text);
}

}  // namespace cdc::pg
