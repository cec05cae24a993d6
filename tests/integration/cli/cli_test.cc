// The cdc-pipeline command line, run as a user would.
#include <gtest/gtest.h>

#include "support/test_util.h"

namespace cdc {
namespace {

using testing::RunCli;
using testing::TempDir;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Cli, VersionAndHelp) {
  auto v = RunCli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(Contains(v.out, "cdc-pipeline 0.")) << v.out;
  for (const char* cmd : {"run", "invoke", "validate-config", "health-check", "config-reference"}) {
    auto h = RunCli({cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    EXPECT_TRUE(Contains(h.out, "--help")) << cmd << ": " << h.out;
  }
  auto none = RunCli({});
  EXPECT_NE(none.exit_code, 0);
  auto bad = RunCli({"frobnicate"});
  EXPECT_NE(bad.exit_code, 0);
}

TEST(Cli, InvokeTheOriginalSampleEvent) {
  auto r = RunCli(
      {"invoke", "--function", "processUserChanges", "--event", "tests/events/user-update.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string event = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(Contains(event, R"("detail-type":"users.UPDATE")"));
  EXPECT_TRUE(Contains(event, R"("source":"cdc.coredb")"));
  EXPECT_TRUE(Contains(event, R"("changedFields":["status"])"));
  EXPECT_TRUE(Contains(r.out, "matched rule: wallboards -> targets: wallboards\n"));
  EXPECT_TRUE(Contains(r.out, "matched rule: analytics -> targets: analytics\n"));
  auto again = RunCli(
      {"invoke", "--function", "processUserChanges", "--event", "tests/events/user-update.json"});
  EXPECT_EQ(again.out, r.out);  // same id, same event
  EXPECT_TRUE(Contains(event, R"("id":")"));
}

TEST(Cli, InvokeDeliversNothing) {
  TempDir dir;
  auto r = RunCli(
      {"invoke", "--function", "processUserChanges", "--event", "tests/events/user-update.json"},
      {{"CDC_DATA_DIR", dir.path()}});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(testing::ListFiles(dir.path()).empty());
}

TEST(Cli, InvokeErrorsSayWhatToFix) {
  auto unknown = RunCli(
      {"invoke", "--function", "processUserChange", "--event", "tests/events/user-update.json"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(Contains(unknown.err, "unknown function 'processUserChange'"));
  EXPECT_TRUE(Contains(unknown.err, "processAuditLogChanges"));
  auto wrong = RunCli(
      {"invoke", "--function", "processOrderChanges", "--event", "tests/events/user-update.json"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(Contains(
      wrong.err, "the event is for table 'users', but processOrderChanges processes 'orders'"));
  auto missing = RunCli({"invoke", "--function", "processUserChanges", "--event", "nope.json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, "cannot open the input file 'nope.json'"));
  auto required = RunCli({"invoke", "--event", "x"});
  EXPECT_NE(required.exit_code, 0);
  EXPECT_TRUE(Contains(required.err + required.out, "--function is required"));
}

TEST(Cli, ValidateConfig) {
  auto ok = RunCli({"validate-config"}, {{"COREDB_DSN", "host=127.0.0.1 port=1 dbname=x"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(
      Contains(ok.out, "note: the database could not be reached, so the tables were not checked"))
      << ok.out;
  EXPECT_TRUE(
      Contains(ok.out, "config/cdc-pipeline.yaml: valid (12 tables, 16 rules, 16 targets)"));

  TempDir dir;
  testing::WriteFile(dir / "bad.yaml", R"(pipeline:
  name: x
tables:
  users:
    event_types: [INSERT]
    colour: blue
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets: [missing-target]
)");
  auto bad = RunCli({"validate-config", "--config", dir / "bad.yaml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.err, dir / "bad.yaml:6:5: unknown key 'colour' in 'tables.users'"))
      << bad.err;
  EXPECT_TRUE(
      Contains(bad.err, dir / "bad.yaml:10:15: rules.r1: target 'missing-target' is not defined"))
      << bad.err;
  EXPECT_TRUE(Contains(bad.err, "2 error(s) in the configuration"));
  // The verdict is the last line, and it agrees with the exit code.
  EXPECT_TRUE(Contains(bad.out, dir / "bad.yaml: invalid (2 errors)")) << bad.out;
  EXPECT_FALSE(Contains(bad.out, ": valid (")) << bad.out;

  // An invalid event pattern is listed with the loader's errors (checked once the rest loaded),
  // in line order; a pattern the loader already rejected (an unset ${VAR}) is not listed twice.
  testing::WriteFile(dir / "bad-pattern.yaml", R"(tables:
  users: {event_types: [INSERT, FOO]}
rules:
  r1: {event_pattern: {source: [{prefix: 1}]}, targets: [nope]}
  r2: {event_pattern: "${CDC_TEST_UNSET_PATTERN}", targets: [out]}
targets:
  out: {type: stdout}
)");
  auto patterns = RunCli({"validate-config", "--config", dir / "bad-pattern.yaml"});
  EXPECT_EQ(patterns.exit_code, 1);
  std::string f = dir / "bad-pattern.yaml";
  size_t types = patterns.err.find(f + ":2:33: 'tables.users.event_types' has 'FOO'");
  size_t pattern = patterns.err.find(
      f +
      ":4:23: rules.r1.event_pattern: Event pattern is not valid. Reason: prefix match "
      "pattern must be a string");
  size_t target = patterns.err.find(f + ":4:58: rules.r1: target 'nope' is not defined");
  size_t unset = patterns.err.find(
      f + ":5:23: rules.r2.event_pattern: environment variable CDC_TEST_UNSET_PATTERN is not set");
  EXPECT_NE(types, std::string::npos) << patterns.err;
  EXPECT_NE(pattern, std::string::npos) << patterns.err;
  EXPECT_NE(target, std::string::npos) << patterns.err;
  EXPECT_NE(unset, std::string::npos) << patterns.err;
  EXPECT_LT(types, pattern);
  EXPECT_LT(pattern, target);
  EXPECT_LT(target, unset);
  EXPECT_TRUE(Contains(patterns.err, "4 error(s) in the configuration")) << patterns.err;
  EXPECT_TRUE(Contains(patterns.out, "bad-pattern.yaml: invalid (4 errors)")) << patterns.out;

  auto absent = RunCli({"validate-config", "--config", dir / "absent.yaml"});
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_TRUE(Contains(absent.err, "cannot open the config file"));
}

TEST(Cli, DotEnvInTheWorkingDirectory) {
  TempDir dir;
  testing::WriteFile(dir / ".env", "MY_BUS_SOURCE=from.dotenv\n");
  testing::WriteFile(dir / "c.yaml", R"(
bus: {source: "${MY_BUS_SOURCE}"}
tables: {users: {event_types: [UPDATE]}}
rules: {all: {event_pattern: {source: [from.dotenv]}, targets: [out]}}
targets: {out: {type: stdout}}
)");
  auto r = RunCli({"invoke", "--config", "c.yaml", "--function", "processUserChanges", "--event",
                   testing::SourcePath("tests/events/user-update.json")},
                  {}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, R"("source":"from.dotenv")"));
  EXPECT_TRUE(Contains(r.out, "matched rule: all -> targets: out"));
}

// The shipped config with the JSON source instead of PostgreSQL, in `dir`.
std::string JsonSourceConfig(const TempDir& dir) {
  std::string yaml = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  size_t start = yaml.find("\nsource:\n");
  size_t end = yaml.find("\n\n", start + 1);
  yaml.replace(start, end - start, "\nsource:\n  type: json\n  path: \"-\"");
  testing::WriteFile(dir / "json.yaml", yaml);
  testing::CopyShippedModels(dir.path());
  return dir / "json.yaml";
}

TEST(Cli, HealthCheck) {
  TempDir dir;
  std::string config = JsonSourceConfig(dir);
  auto ok = RunCli({"health-check", "--config", config}, {{"CDC_DATA_DIR", dir / "data"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(Contains(
      ok.out, "ok    target wallboards (file " + dir.path() + "/data/consumers/wallboards.jsonl)"));
  EXPECT_TRUE(Contains(ok.out, "healthy: "));

  testing::WriteFile(dir / "blocker", "a file where a directory should be");
  auto bad = RunCli({"health-check", "--config", config}, {{"CDC_DATA_DIR", dir / "blocker"}});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.out, "FAIL  data_dir")) << bad.out;
  EXPECT_TRUE(Contains(bad.out, "FAIL  target crm")) << bad.out;
  EXPECT_TRUE(Contains(bad.out, "unhealthy:"));

  testing::WriteFile(dir / "bad.yaml", "tables: {users: {}}\n");
  auto invalid = RunCli({"health-check", "--config", dir / "bad.yaml"});
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_TRUE(Contains(invalid.out, "FAIL  config"));
}

TEST(Cli, HealthCheckNamesAnUnreachableDatabase) {
  TempDir dir;
  auto r = RunCli({"health-check"},
                  {{"CDC_DATA_DIR", dir.path()},
                   {"COREDB_DSN", "host=127.0.0.1 port=1 dbname=coredb connect_timeout=2"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.out, "FAIL  source (postgres)")) << r.out;
  EXPECT_FALSE(Contains(r.out, "port=1")) << "the DSN is a secret and must not be printed";
}

TEST(Cli, RunWithInputTransformers) {
  TempDir dir;
  testing::WriteFile(dir / "c.yaml", R"(
pipeline: {data_dir: data}
admin: {listen: "127.0.0.1:0"}
bus: {region: eu-north-1, account: "123456789012"}
source: {type: json}
tables: {users: {event_types: [INSERT, UPDATE]}}
rules:
  user-changes:
    event_pattern: {detail-type: [{prefix: users.}]}
    targets:
      - whole
      - target: shaped
        input_transformer:
          input_paths_map:
            id: $.detail.after.id
            status: $.detail.after.status
            before: $.detail.before.status
          input_template: |
            {"user": <id>, "change": "<before> -> <status>",
             "rule": <aws.events.rule-name>, "arn": <aws.events.rule-arn>,
             "at": <aws.events.event.ingestion-time>}
      - target: text
        input_transformer:
          input_paths_map: {id: $.detail.after.id, status: $.detail.after.status}
          input_template: "user <id> is <status>"
      - target: after
        input_path: $.detail.after
      - target: constant
        input: {ping: true}
targets:
  whole: {type: file, path: out/whole.jsonl}
  shaped: {type: file, path: out/shaped.jsonl}
  text: {type: file, path: out/text.jsonl}
  after: {type: file, path: out/after.jsonl}
  constant: {type: file, path: out/constant.jsonl}
)");
  testing::WriteFile(
      dir / "in.jsonl",
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:00:00Z","after":{"id":"usr_1","status":"active"}})"
      "\n"
      R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z","before":{"id":"usr_1","status":"active"},"after":{"id":"usr_1","status":"inactive"}})"
      "\n");
  auto r = RunCli({"run", "--config", "c.yaml", "--input", "in.jsonl"}, {}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadLines(dir / "out/whole.jsonl").size(), 2u);
  const std::string arn = "arn:aws:events:eu-north-1:123456789012:rule/cdc-events/user-changes";
  EXPECT_EQ(testing::ReadLines(dir / "out/shaped.jsonl"),
            (std::vector<std::string>{
                R"({"user":"usr_1","change":" -> active","rule":"user-changes","arn":")" + arn +
                    R"(","at":"2024-01-15T10:00:00Z"})",
                R"({"user":"usr_1","change":"active -> inactive","rule":"user-changes","arn":")" +
                    arn + R"(","at":"2024-01-15T10:30:00Z"})"}));
  EXPECT_EQ(testing::ReadLines(dir / "out/text.jsonl"),
            (std::vector<std::string>{"user usr_1 is active", "user usr_1 is inactive"}));
  EXPECT_EQ(testing::ReadLines(dir / "out/after.jsonl"),
            (std::vector<std::string>{R"({"id":"usr_1","status":"active"})",
                                      R"({"id":"usr_1","status":"inactive"})"}));
  EXPECT_EQ(testing::ReadLines(dir / "out/constant.jsonl"),
            (std::vector<std::string>{R"({"ping":true})", R"({"ping":true})"}));
  // invoke shows what each transformed target would receive.
  testing::WriteFile(
      dir / "update.json",
      R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z","before":{"id":"usr_1","status":"active"},"after":{"id":"usr_1","status":"inactive"}})");
  auto invoke = RunCli({"invoke", "--config", "c.yaml", "--function", "processUserChanges",
                        "--event", "update.json"},
                       {}, dir.path());
  ASSERT_EQ(invoke.exit_code, 0) << invoke.err;
  EXPECT_TRUE(Contains(
      invoke.out, "input transformer of rule user-changes, target text: user usr_1 is inactive"))
      << invoke.out;
  EXPECT_TRUE(Contains(invoke.out,
                       R"(input transformer of rule user-changes, target constant: {"ping":true})"))
      << invoke.out;
}

TEST(Cli, RunMixedInputCountsAddUp) {
  TempDir dir;
  auto r = RunCli({"run", "--input", "tests/events/mixed.jsonl"}, {{"CDC_DATA_DIR", dir.path()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "read 8, published 4, dead-lettered 4")) << r.err;
  EXPECT_EQ(testing::ReadLines(dir / "consumers/wallboards.jsonl").size(), 2u);  // users + orders
  EXPECT_EQ(testing::ReadLines(dir / "consumers/analytics.jsonl").size(), 1u);
  EXPECT_EQ(testing::ReadLines(dir / "consumers/reporting.jsonl").size(), 1u);
  EXPECT_EQ(testing::ReadLines(dir / "consumers/warehouse.jsonl").size(), 1u);
  EXPECT_EQ(testing::ReadLines(dir / "consumers/alerts.jsonl").size(), 1u);
  EXPECT_EQ(testing::ReadLines(dir / "consumers/event-store.jsonl").size(), 1u);
  EXPECT_FALSE(testing::FileExists(dir / "consumers/crm.jsonl"));
  // Dead letters keep the order of their shard (table + key), not the order of the input.
  auto dl = testing::ReadFile(dir / "dead-letter.jsonl");
  EXPECT_EQ(testing::ReadLines(dir / "dead-letter.jsonl").size(), 4u);
  EXPECT_TRUE(Contains(dl, "malformed JSON")) << dl;
  EXPECT_TRUE(Contains(dl, "unknown table 'payroll'")) << dl;
  EXPECT_TRUE(Contains(dl, "event type DELETE is not allowed for table orders")) << dl;
  EXPECT_TRUE(Contains(dl, "missing field 'timestamp'")) << dl;
}

TEST(Cli, RunFromStdinTwiceDeliversTheSameChangeOnce) {
  TempDir dir;
  std::string line =
      R"({"eventType":"INSERT","tableName":"products","timestamp":"2024-01-15T10:30:00Z","after":{"id":1,"sku":"A-1"}})"
      "\n";
  for (int i = 0; i < 2; ++i) {
    auto r = RunCli({"run", "--input", "-"}, {{"CDC_DATA_DIR", dir.path()}}, CDC_SOURCE_DIR, line);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // The same change gets the same id, and the state store remembers ids of JSON input.
  EXPECT_EQ(testing::ReadLines(dir / "consumers/catalog-service.jsonl").size(), 1u);
}

TEST(Cli, ConfigReferenceIsMarkdown) {
  auto r = RunCli({"config-reference"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "# Configuration reference"));
  EXPECT_TRUE(Contains(r.out, "## `tables.<name>`"));
}

}  // namespace
}  // namespace cdc
