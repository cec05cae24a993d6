// Tables carry their sensitivity marker from config, and nothing the pipeline says about a
// rejected or malformed event (dead-letter reasons, log lines) quotes a row value. The policies
// themselves are tested in leak_test.cc and pipeline_redaction_test.cc.
#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::RunCli;
using testing::TempDir;

TEST(PiiMarker, ShippedConfigMarksTheOriginalsRedactedTables) {
  EnvOptions env;
  env.dotenv_path = "";
  auto r = LoadConfig(testing::SourcePath("config/cdc-pipeline.yaml"), env);
  ASSERT_TRUE(r.config);
  std::map<std::string, std::string> expected = {{"users", "personal"},
                                                 {"customers", "personal"},
                                                 {"orders", "payment"},
                                                 {"transactions", "financial"},
                                                 {"sessions", "auth"}};
  for (const auto& t : r.config->tables) {
    auto it = expected.find(t.name);
    EXPECT_EQ(t.pii, it == expected.end() ? "none" : it->second) << t.name;
  }
}

TEST(PiiMarker, RejectedEventsNeverPutValuesInReasonsOrLogs) {
  TempDir dir;
  std::string secret = "jane.doe.secret@example.com";
  std::string input =
      // unknown table, event type not allowed, missing key, duplicate column
      R"({"eventType":"INSERT","tableName":"payroll","timestamp":"2024-01-15T10:30:00Z","after":{"id":1,"email":")" +
      secret +
      R"("}})"
      "\n" +
      R"({"eventType":"DELETE","tableName":"orders","timestamp":"2024-01-15T10:30:00Z","before":{"id":1,"email":")" +
      secret +
      R"("}})"
      "\n" +
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"email":")" +
      secret +
      R"("}})"
      "\n" +
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1,"email":")" +
      secret +
      R"(","email":"x"}})"
      "\n";
  auto r =
      RunCli({"--log-level", "debug", "run", "--input", "-"},
             {{"CDC_DATA_DIR", dir.path()}, {"CDC_HMAC_KEY", "pii-marker-test-key-0123456789"}},
             CDC_SOURCE_DIR, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find(secret), std::string::npos);
  auto letters = testing::ReadLines(dir / "dead-letter.jsonl");
  ASSERT_EQ(letters.size(), 4u);
  for (const auto& line : letters) {
    // The original input is kept for replay, but the reason never repeats a value.
    auto reason_start = line.find("\"reason\":");
    auto reason_end = line.find("\",", reason_start);
    EXPECT_EQ(line.substr(reason_start, reason_end - reason_start).find(secret), std::string::npos)
        << line;
  }
}

}  // namespace
}  // namespace cdc
