// The command-line conventions of issue 16: usage errors exit 2 everywhere, --log-level and
// --log-format after the command too, --json on validate-config, health-check and invoke,
// file:// where @file is, CDC_CONFIG for the config path, .env.local read before .env.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <sstream>

#include "support/test_util.h"

namespace cdc {
namespace {

using testing::RunCli;
using testing::TempDir;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const std::map<std::string, std::string> kUnreachableDb = {
    {"COREDB_DSN", "host=127.0.0.1 port=1 dbname=x connect_timeout=2"}};

TEST(CliConventions, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> usage_errors = {
      {},
      {"frobnicate"},
      {"run", "--no-such-flag"},
      {"invoke", "--event", "tests/events/user-update.json"},  // --function is required
      {"lambda", "--no-such-flag"},
      {"status", "--json", "extra"},
      {"validate-config", "--config"},  // the option needs a value
      {"replay", "--archive", "a"},     // --start and --end are required
      {"models", "derive"},             // --table is required
      {"test-event-pattern"},
      {"generate", "--rate", "fast"},
      {"--log-level", "loud", "validate-config"},
      {"validate-config", "--log-format", "xml"},
  };
  for (const auto& args : usage_errors) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    auto r = RunCli(args, kUnreachableDb);
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << line << ": a usage error says what is wrong";
  }
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                               {"run", "--help"},
                                               {"lambda", "--help"},
                                               {"--version"}}) {
    EXPECT_EQ(RunCli(args).exit_code, 0) << args[0];
  }
}

// The shipped config with the JSON source reading `events`, in `dir`.
std::string JsonSourceConfig(const TempDir& dir, const std::string& events) {
  std::string yaml = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  size_t start = yaml.find("\nsource:\n");
  size_t end = yaml.find("\n\n", start + 1);
  yaml.replace(start, end - start, "\nsource:\n  type: json\n  path: \"" + events + "\"");
  testing::WriteFile(dir / "json.yaml", yaml);
  testing::CopyShippedModels(dir.path());
  return dir / "json.yaml";
}

TEST(CliConventions, LogLevelAndFormatAfterTheCommand) {
  TempDir dir;
  std::string config = JsonSourceConfig(dir, testing::SourcePath("tests/events/user-update.json"));
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir / "data"}};
  auto info = RunCli({"run", "-c", config}, env);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(Contains(info.err, " info pipeline 'coredb'")) << info.err;

  auto quiet = RunCli({"run", "-c", config, "--log-level", "error"}, env);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_FALSE(Contains(quiet.err, " info ")) << quiet.err;
  EXPECT_TRUE(Contains(quiet.err, "read 1, published 1")) << quiet.err;  // the summary stays

  auto json = RunCli({"run", "-c", config, "--log-format", "json"}, env);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::istringstream lines(json.err);
  std::string line;
  size_t objects = 0;
  bool saw_start = false;
  simdjson::dom::parser parser;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;  // the summary is not a log line
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view time, level, message;
    ASSERT_EQ(doc["time"].get(time), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["level"].get(level), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["message"].get(message), simdjson::SUCCESS) << line;
    EXPECT_EQ(time.size(), 24u) << line;  // 2026-01-02T03:04:05.678Z
    EXPECT_EQ(time.back(), 'Z') << line;
    if (level == "info" && message.rfind("pipeline 'coredb'", 0) == 0) saw_start = true;
    ++objects;
  }
  EXPECT_GT(objects, 0u) << json.err;
  EXPECT_TRUE(saw_start) << json.err;
  EXPECT_FALSE(Contains(json.err, " info pipeline")) << json.err;

  // Before the command, as before.
  auto before = RunCli({"--log-level", "error", "run", "-c", config}, env);
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_FALSE(Contains(before.err, " info ")) << before.err;

  // From the config (the shipped one reads pipeline.log_format from CDC_LOG_FORMAT); the
  // command line wins.
  env["CDC_LOG_FORMAT"] = "json";
  auto configured = RunCli({"run", "-c", config}, env);
  ASSERT_EQ(configured.exit_code, 0) << configured.err;
  EXPECT_TRUE(Contains(configured.err, R"({"time":")")) << configured.err;
  EXPECT_TRUE(Contains(configured.err, R"("message":"pipeline 'coredb')")) << configured.err;
  EXPECT_FALSE(Contains(configured.err, " info pipeline")) << configured.err;
  auto overridden = RunCli({"run", "-c", config, "--log-format", "text"}, env);
  ASSERT_EQ(overridden.exit_code, 0) << overridden.err;
  EXPECT_TRUE(Contains(overridden.err, " info pipeline 'coredb'")) << overridden.err;
  EXPECT_FALSE(Contains(overridden.err, R"({"time":")")) << overridden.err;
}

TEST(CliConventions, ValidateConfigJson) {
  auto ok = RunCli({"validate-config", "--json"}, kUnreachableDb);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(ok.out).get(doc), simdjson::SUCCESS) << ok.out;
  EXPECT_TRUE(bool(doc["valid"].get_bool()));
  EXPECT_EQ(int64_t(doc["tables"].get_int64()), 12);
  EXPECT_EQ(int64_t(doc["rules"].get_int64()), 16);
  EXPECT_EQ(int64_t(doc["targets"].get_int64()), 16);
  EXPECT_EQ(doc["errors"].get_array().size(), 0u);
  EXPECT_TRUE(Contains(std::string(std::string_view(doc["note"].get_string())),
                       "the database could not be reached"));
  EXPECT_FALSE(Contains(ok.out, "port=1")) << "the DSN is a secret";

  TempDir dir;
  testing::WriteFile(dir / "bad.yaml",
                     "tables:\n  users:\n    event_types: [INSERT]\n    colour: blue\n");
  auto bad = RunCli({"validate-config", "--json", "--config", dir / "bad.yaml"});
  EXPECT_EQ(bad.exit_code, 1);
  ASSERT_EQ(parser.parse(bad.out).get(doc), simdjson::SUCCESS) << bad.out;
  EXPECT_FALSE(bool(doc["valid"].get_bool()));
  std::string first(std::string_view(doc["errors"].get_array().at(0).get_string()));
  EXPECT_TRUE(Contains(first, dir / "bad.yaml:4:5: unknown key 'colour' in 'tables.users'"))
      << bad.out;
}

TEST(CliConventions, InvokeJson) {
  auto r = RunCli({"invoke", "--json", "--function", "processUserChanges", "--event",
                   "tests/events/user-update.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;  // one event, one line
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["event"]["detail-type"].get_string()), "users.UPDATE");
  std::vector<std::string> rules;
  for (auto rule : doc["rules"].get_array()) {
    rules.emplace_back(std::string_view(rule["rule"].get_string()));
  }
  EXPECT_NE(std::find(rules.begin(), rules.end(), "wallboards"), rules.end()) << r.out;
  EXPECT_NE(std::find(rules.begin(), rules.end(), "analytics"), rules.end()) << r.out;
  // The text form prints the same event.
  auto text = RunCli(
      {"invoke", "--function", "processUserChanges", "--event", "tests/events/user-update.json"});
  std::string event = text.out.substr(0, text.out.find('\n'));
  EXPECT_TRUE(Contains(r.out, "{\"event\":" + event + ",")) << r.out << "\n" << event;
}

TEST(CliConventions, HealthCheckJson) {
  TempDir dir;
  std::string config = JsonSourceConfig(dir, "-");
  auto ok =
      RunCli({"health-check", "--json", "--config", config}, {{"CDC_DATA_DIR", dir / "data"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(ok.out).get(doc), simdjson::SUCCESS) << ok.out;
  EXPECT_TRUE(bool(doc["healthy"].get_bool()));

  testing::WriteFile(dir / "blocker", "a file where a directory should be");
  auto bad =
      RunCli({"health-check", "--json", "--config", config}, {{"CDC_DATA_DIR", dir / "blocker"}});
  EXPECT_EQ(bad.exit_code, 1);
  ASSERT_EQ(parser.parse(bad.out).get(doc), simdjson::SUCCESS) << bad.out;
  EXPECT_FALSE(bool(doc["healthy"].get_bool()));
  bool named = false;
  for (auto check : doc["checks"].get_array()) {
    std::string_view name = check["check"].get_string();
    if (name.rfind("data_dir", 0) == 0) {
      named = true;
      EXPECT_FALSE(bool(check["ok"].get_bool()));
      EXPECT_FALSE(std::string_view(check["error"].get_string()).empty());
    }
  }
  EXPECT_TRUE(named) << bad.out;
}

TEST(CliConventions, FileUrlWhereAtFileIs) {
  TempDir dir;
  testing::WriteFile(dir / "pattern.json", R"({"source": ["cdc.coredb"]})");
  testing::WriteFile(dir / "event.json",
                     R"({"id":"1","source":"cdc.coredb","detail-type":"x","detail":{}})");
  auto url = RunCli({"test-event-pattern", "--event-pattern", "file://" + (dir / "pattern.json"),
                     "--event", "file://" + (dir / "event.json")});
  EXPECT_EQ(url.exit_code, 0) << url.err;
  EXPECT_TRUE(Contains(url.out, "\"Result\": true")) << url.out;
  auto at = RunCli({"test-event-pattern", "--event-pattern", "@" + (dir / "pattern.json"),
                    "--event", "@" + (dir / "event.json")});
  EXPECT_EQ(at.out, url.out);
  auto missing = RunCli({"test-event-pattern", "--event-pattern", "file://" + (dir / "absent.json"),
                         "--event", "@" + (dir / "event.json")});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, dir / "absent.json")) << missing.err;
}

TEST(CliConventions, CdcConfigNamesTheConfigFile) {
  TempDir dir;
  testing::WriteFile(dir / "c.yaml", R"(
tables: {users: {event_types: [UPDATE]}}
rules: {all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}}
targets: {out: {type: stdout}}
)");
  auto r = RunCli({"validate-config"}, {{"CDC_CONFIG", dir / "c.yaml"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, dir / "c.yaml: valid (1 tables, 1 rules, 1 targets)")) << r.out;
  // --config wins over CDC_CONFIG.
  auto flag = RunCli({"validate-config", "--config", dir / "absent.yaml"},
                     {{"CDC_CONFIG", dir / "c.yaml"}});
  EXPECT_EQ(flag.exit_code, 1);
  EXPECT_TRUE(Contains(flag.err, "cannot open the config file")) << flag.err;
}

TEST(CliConventions, DotEnvLocalIsReadBeforeDotEnv) {
  TempDir dir;
  testing::WriteFile(dir / ".env", "MY_BUS_SOURCE=from.dotenv\nMY_ACCOUNT=111111111111\n");
  testing::WriteFile(dir / ".env.local", "MY_BUS_SOURCE=from.local\n");
  testing::WriteFile(dir / "c.yaml", R"(
bus: {source: "${MY_BUS_SOURCE}", account: "${MY_ACCOUNT}"}
tables: {users: {event_types: [UPDATE]}}
rules: {all: {event_pattern: {source: [from.local]}, targets: [out]}}
targets: {out: {type: stdout}}
)");
  auto r = RunCli({"invoke", "--config", "c.yaml", "--function", "processUserChanges", "--event",
                   testing::SourcePath("tests/events/user-update.json")},
                  {}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, R"("source":"from.local")")) << r.out;
  EXPECT_TRUE(Contains(r.out, R"("account":"111111111111")")) << r.out;  // .env still read
  EXPECT_TRUE(Contains(r.out, "matched rule: all -> targets: out")) << r.out;
  // The environment wins over both.
  auto env = RunCli({"invoke", "--config", "c.yaml", "--function", "processUserChanges", "--event",
                     testing::SourcePath("tests/events/user-update.json")},
                    {{"MY_BUS_SOURCE", "from.env"}}, dir.path());
  EXPECT_TRUE(Contains(env.out, R"("source":"from.env")")) << env.out;
}

}  // namespace
}  // namespace cdc
