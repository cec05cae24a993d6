// `cdc-pipeline models` as a user runs it: export writes one JSON Schema per table; the schemas
// are valid draft 2020-12 schemas, and every event the shipped pipeline publishes for the golden
// input validates against its table's schema (checked with python3-jsonschema, which
// scripts/bootstrap installs). Also: `invoke` reports a model violation without the value.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "support/test_util.h"

namespace cdc {
namespace {

using testing::RunCli;
using testing::TempDir;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs a shell command; its exit code and output (stdout and stderr).
std::pair<int, std::string> Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const char* kTables[] = {"users",      "orders",       "products",       "inventory",
                         "customers",  "transactions", "sessions",       "notifications",
                         "audit_logs", "metrics",      "configurations", "events"};

TEST(ModelsCli, HelpListsTheSubcommands) {
  auto h = RunCli({"models", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_TRUE(Contains(h.out, "derive")) << h.out;
  EXPECT_TRUE(Contains(h.out, "export")) << h.out;
  for (const char* sub : {"derive", "export"}) {
    auto s = RunCli({"models", sub, "--help"});
    EXPECT_EQ(s.exit_code, 0) << sub;
    EXPECT_TRUE(Contains(s.out, "--out")) << s.out;
  }
  EXPECT_NE(RunCli({"models"}).exit_code, 0);
  auto format = RunCli({"models", "export", "--format", "avro", "--out", "/tmp/x"});
  EXPECT_NE(format.exit_code, 0);
  EXPECT_TRUE(Contains(format.err, "jsonschema")) << format.err;
}

TEST(ModelsCli, DeriveNeedsADatabase) {
  auto r = RunCli({"models", "derive", "--table", "users"}, {{"COREDB_DSN", ""}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "no database: pass --dsn or set COREDB_DSN")) << r.err;
  auto down = RunCli({"models", "derive", "--table", "users", "--dsn",
                      "host=127.0.0.1 port=1 dbname=x connect_timeout=2"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(Contains(down.err, "models derive: ")) << down.err;
}

TEST(ModelsCli, ExportWritesOneSchemaPerTable) {
  TempDir dir;
  auto r = RunCli({"models", "export", "--format", "jsonschema", "--out", dir / "schemas"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "wrote 12 JSON Schema(s) (draft 2020-12)")) << r.err;
  std::vector<std::string> expected;
  for (const char* t : kTables) expected.push_back(std::string(t) + ".schema.json");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(testing::ListFiles(dir / "schemas"), expected);
  EXPECT_TRUE(Contains(r.out, dir / "schemas/users.schema.json  (model users v1)")) << r.out;
  std::string users = testing::ReadFile(dir / "schemas/users.schema.json");
  EXPECT_TRUE(Contains(users, R"("$schema": "https://json-schema.org/draft/2020-12/schema")"));
  // The same config gives the same files.
  auto again = RunCli({"models", "export", "--format", "jsonschema", "--out", dir / "again"});
  ASSERT_EQ(again.exit_code, 0);
  for (const auto& f : expected) {
    EXPECT_EQ(testing::ReadFile(dir / ("schemas/" + f)), testing::ReadFile(dir / ("again/" + f)));
  }
}

TEST(ModelsCli, PublishedEventsValidateAgainstTheExportedSchemas) {
  TempDir dir;
  auto exported = RunCli({"models", "export", "--format", "jsonschema", "--out", dir / "schemas"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  for (const char* input :
       {"tests/golden/coredb/input.jsonl", "tests/events/coredb-sample.jsonl"}) {
    SCOPED_TRACE(input);
    std::string data = dir / ("data-" + std::to_string(std::hash<std::string>()(input)));
    auto run = RunCli({"run", "--input", input}, {{"CDC_DATA_DIR", data}});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    // The interpreter scripts/bootstrap installs python3-jsonschema for.
    std::string python = testing::FileExists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    auto [code, out] =
        Shell(python + " " + testing::SourcePath("tests/support/validate_events.py") + " " +
              dir / "schemas" + " " + data + "/consumers");
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(Contains(out, "failed 0 schemas 12")) << out;
  }
}

TEST(ModelsCli, InvokeReportsAModelViolationWithoutTheValue) {
  TempDir dir;
  testing::WriteFile(
      dir / "bad.json",
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
      R"("after":{"id":"usr_9","email":null,"status":"active","email_verified":"yes",)"
      R"("nickname":"Secret Nick"}})");
  auto r = RunCli({"invoke", "--function", "processUserChanges", "--event", dir / "bad.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "processUserChanges rejected the event: model users v1: after.email: null, "
                       "but the field is not nullable; after.email_verified: a text value, but the "
                       "field is boolean; after.nickname: a column the model does not have, with "
                       "a value"))
      << r.err;
  EXPECT_FALSE(Contains(r.err + r.out, "Secret Nick"));
  EXPECT_FALSE(Contains(r.err + r.out, "yes"));
}

TEST(ModelsCli, AnAddedNullableColumnBumpsSchemaVersion) {
  TempDir dir;
  testing::WriteFile(
      dir / "added.json",
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
      R"("after":{"id":"usr_9","email":"a@example.com","status":"active","nickname":null}})");
  auto r = RunCli({"invoke", "--function", "processUserChanges", "--event", dir / "added.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, R"("schemaVersion":2)")) << r.out;
  EXPECT_TRUE(Contains(r.out, R"("nickname":null)")) << r.out;
  auto plain = RunCli(
      {"invoke", "--function", "processUserChanges", "--event", "tests/events/user-insert.json"});
  EXPECT_TRUE(Contains(plain.out, R"("schemaVersion":1)")) << plain.out;
}

}  // namespace
}  // namespace cdc
