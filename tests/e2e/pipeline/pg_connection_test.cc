// The PostgreSQL connection as an operator meets it, with the real binary and the shipped config:
// the DSN's password appears in no output of any command and in no file of the data dir (for
// well-formed and malformed DSNs); a wrong password, a pg_hba.conf rejection and a TLS
// certificate that fails verification stop `run` with the cause and the fix instead of being
// retried; a server that is down is waited for; SIGHUP stops `run` cleanly; a LATIN1 database
// delivers UTF-8.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sqlite3.h>

#include <functional>
#include <map>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

// The password of the `app` role. Every test below looks for it in every output.
constexpr const char* kPassword = "Zq7KnownPw3x";

bool Contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Polls `done` every 50 ms for up to `seconds`.
bool WaitFor(const std::function<bool()>& done, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// Runs `cmd` in a shell; true when it exits 0.
bool Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// A value of the state store's key/value table ("" when absent).
std::string StateValue(const std::string& db_path, const std::string& key) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE key = ?", -1, &stmt, nullptr) ==
        SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt) == SQLITE_ROW) {
        value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

class PgConnectionE2E : public ::testing::Test {
 protected:
  // A server with the CoreDB schema in `coredb` (created with `create_db`). With `secured`: the
  // roles `app` (password kPassword), `blocked` (rejected by pg_hba.conf) and `stranger` (no
  // pg_hba.conf line), scram-sha-256 for `app`, and TLS with a self-signed certificate for
  // "localhost" (server.crt, copied to certs_/server.crt).
  void StartServer(bool secured, const std::string& create_db = "CREATE DATABASE coredb") {
    auto server = PgServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->Execute(create_db).ok());
    ASSERT_TRUE(
        server_->Execute(testing::ReadFile(testing::SourcePath("sql/coredb.sql")), "coredb").ok());
    env_ = {{"CDC_DATA_DIR", data_.path()}, {"CDC_LOG_LEVEL", "debug"}};
    if (!secured) return;
    ASSERT_TRUE(server_
                    ->Execute(std::string("CREATE ROLE app LOGIN SUPERUSER PASSWORD '") +
                              kPassword +
                              "'; CREATE ROLE blocked LOGIN SUPERUSER PASSWORD 'BlockedPw1';"
                              "CREATE ROLE stranger LOGIN SUPERUSER PASSWORD 'StrangerPw1'")
                    .ok());
    ASSERT_TRUE(server_
                    ->WriteDataFile("pg_hba.conf",
                                    "local all all trust\n"
                                    "host all postgres 127.0.0.1/32 trust\n"
                                    "host all blocked 127.0.0.1/32 reject\n"
                                    "host all app 127.0.0.1/32 scram-sha-256\n")
                    .ok());
    // The server's certificate, and a CA that did not sign it.
    ASSERT_TRUE(
        Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
              "-keyout " +
              (certs_ / "server.key") + " -out " + (certs_ / "server.crt")));
    ASSERT_TRUE(
        Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
              "-keyout " +
              (certs_ / "other-ca.key") + " -out " + (certs_ / "other-ca.crt")));
    ASSERT_TRUE(
        server_->WriteDataFile("server.crt", testing::ReadFile(certs_ / "server.crt"), 0644).ok());
    ASSERT_TRUE(
        server_->WriteDataFile("server.key", testing::ReadFile(certs_ / "server.key"), 0600).ok());
    ASSERT_TRUE(server_->Execute("ALTER SYSTEM SET ssl = on").ok());
    Status restarted = server_->Restart("fast");
    ASSERT_TRUE(restarted.ok()) << restarted.ToString();
    auto ssl = server_->QueryValue("SHOW ssl");
    ASSERT_TRUE(ssl.ok() && *ssl == "on") << server_->LogTail();
  }

  std::string Port() const { return std::to_string(server_->port()); }

  std::string AppUri(const std::string& password) const {
    return "postgresql://app:" + password + "@127.0.0.1:" + Port() + "/coredb?connect_timeout=10";
  }

  std::string AppKeyValue(const std::string& rest) const {
    return "host=127.0.0.1 port=" + Port() + " dbname=coredb connect_timeout=10 " + rest;
  }

  std::map<std::string, std::string> Env(const std::string& dsn) const {
    auto env = env_;
    env["COREDB_DSN"] = dsn;
    return env;
  }

  // Starts `run` with `dsn`, logging to `log`; waits until it streams.
  std::unique_ptr<CliProcess> StartRun(const std::string& dsn, const std::string& log) {
    auto run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, Env(dsn), log);
    EXPECT_TRUE(
        WaitFor([&] { return Contains(testing::ReadFile(log), "streaming from slot"); }, 120))
        << testing::ReadFile(log);
    return run;
  }

  // Inserts a product named by the SQL expression `name` and waits for it in the catalog-service
  // consumer file.
  bool InsertProductAndWait(int id, const std::string& name = "'widget'") {
    if (!server_
             ->Execute("INSERT INTO products (id, sku, name, price) VALUES (" + std::to_string(id) +
                           ", 'sku-" + std::to_string(id) + "', " + name + ", 9.99)",
                       "coredb")
             .ok()) {
      return false;
    }
    std::string sku = "\"sku-" + std::to_string(id) + "\"";
    return WaitFor(
        [&] { return Contains(testing::ReadFile(data_ / "consumers/catalog-service.jsonl"), sku); },
        120);
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  TempDir logs_;
  TempDir certs_;
  std::map<std::string, std::string> env_;
};

TEST_F(PgConnectionE2E, ThePasswordIsInNoOutputAndNoFileForWellFormedAndMalformedDsns) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  std::string outputs;  // every command's output, each labelled
  auto record = [&](const std::string& label, const std::string& text) {
    outputs += "=== " + label + "\n" + text + "\n";
  };
  auto commands = [&](const std::string& label, const std::string& dsn) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"status"},
                                               {"status", "--json"},
                                               {"health-check"},
                                               {"validate-config"},
                                               {"invoke", "--function", "processUserChanges",
                                                "--event", "tests/events/user-update.json"}}) {
      auto r = testing::RunCli(args, Env(dsn));
      record(label + ": " + args[0] + " (exit " + std::to_string(r.exit_code) + ")", r.out + r.err);
    }
  };

  // Well-formed: `run` streams and stops, then every command connects.
  const std::string uri = AppUri(kPassword);
  std::string log = logs_ / "run-uri.log";
  {
    auto run = StartRun(uri, log);
    EXPECT_TRUE(InsertProductAndWait(1)) << testing::ReadFile(log);
    run->Signal(SIGTERM);
    EXPECT_EQ(run->Wait(120), 0) << testing::ReadFile(log);
  }
  record("run with a URI", testing::ReadFile(log));
  commands("URI", uri);
  auto healthy = testing::RunCli({"health-check"}, Env(uri));
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  const std::string key_value = AppKeyValue(std::string("user=app password='") + kPassword + "'");
  auto healthy_kv = testing::RunCli({"health-check"}, Env(key_value));
  EXPECT_EQ(healthy_kv.exit_code, 0) << healthy_kv.out << healthy_kv.err;
  commands("key/value", key_value);

  // Wrong and malformed: each command fails or notes it, naming the problem, never the password.
  struct Case {
    std::string label, dsn, cause;
  };
  const std::vector<Case> cases = {
      {"wrong password in a URI", AppUri(std::string("Not") + kPassword), "password was rejected"},
      {"wrong password, key/value",
       AppKeyValue(std::string("user=app password='x") + kPassword + "'"), "password was rejected"},
      {"unclosed [ in a URI",
       std::string("postgresql://app:") + kPassword + "@[127.0.0.1:" + Port() + "/coredb",
       "IPv6 host address"},
      {"bad percent escape", AppUri(std::string(kPassword) + "%zz"), "percent-encoded"},
      {"password in the query, bad parameter",
       "postgresql://app@127.0.0.1:" + Port() + "/coredb?password=" + kPassword + "&bogus=1",
       "invalid URI query parameter"},
      {"unterminated quote", AppKeyValue(std::string("user=app password='") + kPassword),
       "unterminated quoted string"},
      {"unknown option", AppKeyValue(std::string("user=app password=") + kPassword + " bogus=1"),
       "invalid connection option"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    std::string case_log = logs_ / "run.log";
    testing::WriteFile(case_log, "");
    CliProcess run({"run"}, Env(c.dsn), case_log);
    EXPECT_EQ(run.Wait(120), 1) << testing::ReadFile(case_log);
    std::string text = testing::ReadFile(case_log);
    EXPECT_TRUE(Contains(text, c.cause)) << text;
    EXPECT_FALSE(Contains(text, "reconnecting")) << text;
    record(c.label + ": run", text);
    auto validate = testing::RunCli({"validate-config"}, Env(c.dsn));
    EXPECT_EQ(validate.exit_code, 1) << validate.out << validate.err;
    EXPECT_TRUE(Contains(validate.out, "config/cdc-pipeline.yaml: invalid (1 error)"))
        << validate.out;
    EXPECT_TRUE(Contains(validate.err, c.cause)) << validate.err;
    commands(c.label, c.dsn);
  }

  // libpq did quote the DSN (or the password alone) in these messages: the scrubber removed it.
  EXPECT_TRUE(Contains(outputs, "invalid percent-encoded token: \"****\"")) << outputs;
  EXPECT_TRUE(Contains(outputs, "\"postgresql://app:****@[127.0.0.1:")) << outputs;
  EXPECT_FALSE(Contains(outputs, kPassword)) << outputs;
  for (const auto& name : testing::ListFiles(data_.path())) {
    EXPECT_FALSE(Contains(testing::ReadFile(data_ / name), kPassword)) << name;
  }
}

TEST_F(PgConnectionE2E, PermanentMisconfigurationsStopRunWithTheCauseAndTheFix) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  struct Case {
    std::string label, dsn;
    std::vector<std::string> says;
  };
  const std::string app = std::string("user=app password=") + kPassword;
  const std::vector<Case> cases = {
      {"wrong password",
       AppUri("WrongPw987"),
       {"the password was rejected", "password authentication failed", "ALTER ROLE"}},
      {"pg_hba.conf reject line",
       AppKeyValue("user=blocked password=BlockedPw1"),
       {"pg_hba.conf does not admit this connection", "pg_hba.conf rejects connection",
        "pg_reload_conf()"}},
      {"no pg_hba.conf line",
       AppKeyValue("user=stranger password=StrangerPw1"),
       {"pg_hba.conf does not admit this connection", "no pg_hba.conf entry"}},
      {"host name mismatch",
       AppKeyValue(app + " sslmode=verify-full sslrootcert=" + (certs_ / "server.crt")),
       {"not issued for the host name", "does not match host name"}},
      {"certificate signed by another CA",
       AppKeyValue(app + " sslmode=verify-ca sslrootcert=" + (certs_ / "other-ca.crt")),
       {"failed verification", "certificate verify failed", "sslrootcert"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    std::string log = logs_ / "run.log";
    testing::WriteFile(log, "");
    CliProcess run({"run"}, Env(c.dsn), log);
    EXPECT_EQ(run.Wait(120), 1) << testing::ReadFile(log);
    std::string text = testing::ReadFile(log);
    for (const auto& phrase : c.says) EXPECT_TRUE(Contains(text, phrase)) << phrase << "\n" << text;
    EXPECT_TRUE(Contains(text, "This is not retried.")) << text;
    EXPECT_FALSE(Contains(text, "reconnecting")) << text;

    auto health = testing::RunCli({"health-check"}, Env(c.dsn));
    EXPECT_EQ(health.exit_code, 1);
    EXPECT_TRUE(Contains(health.out, "FAIL  source (postgres)")) << health.out;
    EXPECT_TRUE(Contains(health.out, c.says[0])) << health.out;
    auto validate = testing::RunCli({"validate-config"}, Env(c.dsn));
    EXPECT_EQ(validate.exit_code, 1);
    EXPECT_TRUE(Contains(validate.err, c.says[0])) << validate.err;
    EXPECT_TRUE(Contains(validate.out, "invalid (1 error)")) << validate.out;
  }

  // The same certificate verifies for the name it was issued to: the failures above are the
  // verification's, not a broken TLS setup.
  auto verified = testing::RunCli(
      {"health-check"}, Env("host=localhost hostaddr=127.0.0.1 port=" + Port() + " dbname=coredb " +
                            app + " sslmode=verify-full sslrootcert=" + (certs_ / "server.crt")));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST_F(PgConnectionE2E, AServerThatIsDownIsRetriedAndThePipelineContinuesWhenItComesBack) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  // The test server commits asynchronously: make the schema durable before the immediate stop.
  ASSERT_TRUE(server_->Execute("CHECKPOINT").ok());
  ASSERT_TRUE(server_->Stop().ok());
  std::string log = logs_ / "run.log";
  CliProcess run({"run"}, Env(server_->Dsn("coredb")), log);
  EXPECT_TRUE(WaitFor([&] { return Count(testing::ReadFile(log), "reconnecting in") >= 3; }, 120))
      << testing::ReadFile(log);
  ASSERT_TRUE(run.running()) << testing::ReadFile(log);
  EXPECT_TRUE(Contains(testing::ReadFile(log), "Connection refused")) << testing::ReadFile(log);

  Status started = server_->Restart();
  ASSERT_TRUE(started.ok()) << started.ToString();
  EXPECT_TRUE(WaitFor([&] { return Contains(testing::ReadFile(log), "streaming from slot"); }, 120))
      << testing::ReadFile(log);
  EXPECT_TRUE(InsertProductAndWait(7)) << testing::ReadFile(log);
  run.Signal(SIGTERM);
  EXPECT_EQ(run.Wait(120), 0) << testing::ReadFile(log);
}

TEST_F(PgConnectionE2E, SighupStopsRunCleanlyWithAFinalCheckpointAndTheSummary) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  std::string log = logs_ / "run.log";
  auto run = StartRun(server_->Dsn("coredb"), log);
  ASSERT_TRUE(InsertProductAndWait(1)) << testing::ReadFile(log);
  ASSERT_TRUE(
      WaitFor([&] { return StateValue(data_ / "state.db", "pipeline.running") == "true"; }, 120));
  run->Signal(SIGHUP);
  EXPECT_EQ(run->Wait(120), 0) << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_TRUE(Contains(text, "read 1, published 1")) << text;
  EXPECT_TRUE(Contains(text, ", catalog-service=1, ")) << text;
  // Only the final checkpoint records the stop.
  EXPECT_EQ(StateValue(data_ / "state.db", "pipeline.running"), "false");
}

TEST_F(PgConnectionE2E, ALatin1DatabaseDeliversUtf8) {
  ASSERT_NO_FATAL_FAILURE(StartServer(
      false,
      "CREATE DATABASE coredb ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"));
  const std::string name = "caf\xc3\xa9 \xc2\xb1 \xc3\x9f";  // "café ± ß" in UTF-8
  // The same as SQL in ASCII (the test's own connection speaks the database's LATIN1).
  const std::string name_sql = "U&'caf\\00E9 \\00B1 \\00DF'";
  // Before `run`: read by the snapshot.
  ASSERT_TRUE(server_
                  ->Execute("INSERT INTO products (id, sku, name, price) VALUES (1, 'sku-1', " +
                                name_sql + ", 1)",
                            "coredb")
                  .ok());
  // Stored as 8 LATIN1 characters of one byte each.
  EXPECT_EQ(
      *server_->QueryValue(
          "SELECT length(name) || '/' || octet_length(name) FROM products WHERE id = 1", "coredb"),
      "8/8");
  std::string log = logs_ / "run.log";
  auto run = StartRun(server_->Dsn("coredb"), log);
  // The snapshot is read in chunks while the slot streams: row 2 is inserted after it is done,
  // so it comes only as its INSERT (a row inserted into a range not read yet also gets a READ).
  ASSERT_TRUE(WaitFor(
      [&] {
        return Contains(testing::ReadFile(log), "initial snapshot") &&
               Contains(testing::ReadFile(log), "complete");
      },
      120))
      << testing::ReadFile(log);
  // While streaming: decoded from pgoutput.
  ASSERT_TRUE(InsertProductAndWait(2, name_sql)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(120), 0) << testing::ReadFile(log);

  auto lines = testing::ReadLines(data_ / "consumers/catalog-service.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  simdjson::dom::parser parser;
  std::map<std::string, std::string> names;  // eventType -> name
  for (const auto& line : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << "not valid UTF-8 JSON: " << line;
    names[std::string(std::string_view(e["detail"]["eventType"].get_string()))] =
        std::string(std::string_view(e["detail"]["after"]["name"].get_string()));
  }
  EXPECT_EQ(names["READ"], name);
  EXPECT_EQ(names["INSERT"], name);
}

}  // namespace
}  // namespace cdc
