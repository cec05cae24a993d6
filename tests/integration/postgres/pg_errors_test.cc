// How libpq's connection failures are classified (without a server: libpq's texts as PostgreSQL 15
// and its libpq word them). The same cases against a real server: tests/e2e/pipeline/
// pg_connection_test.cc.
#include "source/postgres/pg_errors.h"

#include <gtest/gtest.h>

#include <string>

namespace cdc::pg {
namespace {

constexpr const char* kAt = "connection to server at \"10.0.0.5\", port 5432 failed: ";

bool Has(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(PgErrors, PermanentFailuresSayWhatToFixAndAreNotRetried) {
  struct Case {
    std::string libpq;
    StatusCode code;
    std::string says;
  };
  const Case cases[] = {
      {std::string(kAt) + "FATAL:  password authentication failed for user \"app\"",
       StatusCode::kFailedPrecondition, "the password was rejected"},
      {std::string(kAt) + "fe_sendauth: no password supplied", StatusCode::kFailedPrecondition,
       "asks for a password"},
      {std::string(kAt) +
           "FATAL:  pg_hba.conf rejects connection for host \"10.0.0.9\", user \"app\", "
           "database \"coredb\", no encryption",
       StatusCode::kFailedPrecondition, "pg_hba.conf does not admit"},
      {std::string(kAt) +
           "FATAL:  no pg_hba.conf entry for host \"10.0.0.9\", user \"app\", database "
           "\"coredb\", SSL encryption",
       StatusCode::kFailedPrecondition, "pg_reload_conf()"},
      {std::string(kAt) + "FATAL:  role \"app\" is not permitted to log in",
       StatusCode::kFailedPrecondition, "ALTER ROLE <role> LOGIN"},
      {std::string(kAt) + "server certificate for \"db.internal\" does not match host name "
                          "\"10.0.0.5\"",
       StatusCode::kFailedPrecondition, "not issued for the host name"},
      {std::string(kAt) + "SSL error: certificate verify failed", StatusCode::kFailedPrecondition,
       "sslrootcert"},
      {std::string(kAt) +
           "root certificate file \"/root/.postgresql/root.crt\" does not exist\nEither provide "
           "the file or change sslmode to disable server certificate verification.",
       StatusCode::kFailedPrecondition, "needs the CA certificate"},
      {std::string(kAt) + "server does not support SSL, but SSL was required",
       StatusCode::kFailedPrecondition, "TLS but the server has it off"},
      {std::string(kAt) + "FATAL:  database \"nope\" does not exist", StatusCode::kNotFound,
       "does not exist"},
      {"invalid sslmode value: \"sometimes\"", StatusCode::kInvalidArgument, "invalid option"},
  };
  for (const auto& c : cases) {
    Status s = ConnectError(c.libpq);
    EXPECT_EQ(s.code(), c.code) << c.libpq << "\n" << s.ToString();
    EXPECT_TRUE(Has(s, c.says)) << s.message();
    EXPECT_TRUE(Has(s, "PostgreSQL said: ")) << s.message();
    EXPECT_TRUE(Has(s, "This is not retried.")) << s.message();
  }
}

TEST(PgErrors, TransientFailuresAreRetried) {
  for (const std::string& text : {
           std::string(kAt) +
               "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
               "connections?",
           std::string(kAt) + "timeout expired",
           std::string(kAt) + "FATAL:  the database system is starting up",
           std::string(kAt) + "FATAL:  the database system is shutting down",
           std::string(kAt) + "FATAL:  sorry, too many clients already",
           std::string(kAt) +
               "server closed the connection unexpectedly\n\tThis probably means the server "
               "terminated abnormally\n\tbefore or while processing the request.",
           std::string(kAt) + "SSL SYSCALL error: EOF detected",
           std::string("could not translate host name \"db\" to address: Temporary failure in "
                       "name resolution"),
       }) {
    Status s = ConnectError(text);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << text << "\n" << s.ToString();
  }
}

TEST(PgErrors, MessagesAreScrubbed) {
  Status parse = ConnectionStringError(
      "end of string reached when looking for matching \"]\" in IPv6 host address in URI: "
      "\"postgresql://app:Hidden7Pw@[::1:5432/db\"\n");
  EXPECT_EQ(parse.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Has(parse, "Hidden7Pw")) << parse.message();
  EXPECT_TRUE(Has(parse, "postgresql://app:****@[::1")) << parse.message();
  EXPECT_TRUE(Has(parse, "percent-encode")) << parse.message();
  Status connect = ConnectError("could not connect: host=h password=Hidden8Pw");
  EXPECT_FALSE(Has(connect, "Hidden8Pw")) << connect.message();
}

}  // namespace
}  // namespace cdc::pg
