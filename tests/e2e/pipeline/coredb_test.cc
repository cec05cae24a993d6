// End to end through the binary with the shipped config: a change of every allowed type on each
// of the 12 CoreDB tables reaches exactly the consumers the original README lists, nothing else
// arrives anywhere, and every `invoke` sample event is accepted by its function.
#include "support/coredb.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "support/test_util.h"

namespace cdc {
namespace {

std::string Field(const std::string& json, const std::string& key) {
  auto p = json.find("\"" + key + "\":\"");
  if (p == std::string::npos) return "";
  p += key.size() + 4;
  return json.substr(p, json.find('"', p) - p);
}

TEST(CoreDbPipeline, EveryTableReachesExactlyItsConsumers) {
  testing::TempDir dir;
  std::string input = testing::ReadFile(testing::SourcePath("tests/events/coredb-sample.jsonl"));
  auto r = testing::RunCli({"run", "--input", "-"}, {{"CDC_DATA_DIR", dir.path()}}, CDC_SOURCE_DIR,
                           input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("read 21, published 21, dead-lettered 0"), std::string::npos) << r.err;

  // Expected: per consumer, the multiset of (table, type) it should hold.
  std::map<std::string, std::multiset<std::string>> expected;
  size_t events = 0;
  for (const auto& line :
       testing::ReadLines(testing::SourcePath("tests/events/coredb-sample.jsonl"))) {
    ++events;
    std::string key = Field(line, "tableName") + "." + Field(line, "eventType");
    for (const auto& c : testing::CoreDbConsumers().at(Field(line, "tableName")))
      expected[c].insert(key);
  }
  ASSERT_EQ(events, 21u);
  std::map<std::string, std::multiset<std::string>> got;
  for (const auto& f : testing::ListFiles(dir / "consumers")) {
    std::string consumer = f.substr(0, f.size() - 6);
    for (const auto& line : testing::ReadLines(dir / ("consumers/" + f))) {
      got[consumer].insert(Field(line, "detail-type"));
      EXPECT_EQ(Field(line, "source"), "cdc.coredb");
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(testing::FileExists(dir / "dead-letter.jsonl"));
}

TEST(CoreDbPipeline, EverySampleEventInvokesItsFunction) {
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& e : fs::directory_iterator(testing::SourcePath("tests/events"))) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".json") continue;
    ++files;
    // user-update.json -> processUserChanges; audit-log-insert.json -> processAuditLogChanges
    std::string stem = name.substr(0, name.rfind('-'));
    std::string function = "process";
    bool upper = true;
    for (char c : stem) {
      if (c == '-') {
        upper = true;
        continue;
      }
      function += upper ? static_cast<char>(std::toupper(c)) : c;
      upper = false;
    }
    function += "Changes";
    auto r = testing::RunCli({"invoke", "--function", function, "--event", e.path().string()});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("matched rule: "), std::string::npos) << name;
  }
  EXPECT_EQ(files, 21);
}

}  // namespace
}  // namespace cdc
