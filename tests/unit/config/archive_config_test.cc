// The `archives:` section: names, patterns, retention, and every mistake reported with its line.
#include <gtest/gtest.h>

#include "config/config.h"
#include "runtime/pipeline.h"
#include "support/config_util.h"

namespace cdc {
namespace {

const std::string kBase = std::string(R"(
tables:
  users:
    event_types: [INSERT, UPDATE, DELETE])") +
                          testing::kRouteAllToStdout;

LoadResult Load(const std::string& archives) { return testing::LoadYaml(kBase + archives); }

std::string AllErrors(const LoadResult& r) { return testing::ErrorLines(r.errors); }

// The line of kBase + text where `text` begins (1-based).
int LineOf(const std::string& archives, const std::string& needle) {
  std::string all = kBase + archives;
  size_t at = all.find(needle);
  return 1 + static_cast<int>(std::count(all.begin(), all.begin() + static_cast<long>(at), '\n'));
}

TEST(ArchiveConfig, ArchivesWithAndWithoutPatterns) {
  auto r = Load(R"(
archives:
  - name: audit-archive
    description: every event, for audits
    retention_days: 30
  - name: users.v1_archive
    event_pattern: {detail-type: [users.UPDATE]}
  - name: json-pattern
    event_pattern: '{"detail": {"tableName": ["orders"]}}'
)");
  ASSERT_TRUE(r.config) << AllErrors(r);
  const auto& a = r.config->archives;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].name, "audit-archive");
  EXPECT_EQ(a[0].description, "every event, for audits");
  EXPECT_EQ(a[0].event_pattern, "");
  EXPECT_EQ(a[0].retention_days, 30);
  EXPECT_EQ(a[1].name, "users.v1_archive");
  EXPECT_EQ(a[1].event_pattern, R"({"detail-type":["users.UPDATE"]})");
  EXPECT_EQ(a[1].retention_days, 0) << "AWS's default: keep forever";
  EXPECT_EQ(a[2].event_pattern, R"({"detail": {"tableName": ["orders"]}})");
  EXPECT_EQ(r.config->FindArchive("users.v1_archive"), &a[1]);
  EXPECT_EQ(r.config->FindArchive("nope"), nullptr);
  EXPECT_TRUE(ValidateSemantics(*r.config).empty());
}

TEST(ArchiveConfig, NoArchivesSection) {
  auto r = Load("");
  ASSERT_TRUE(r.config) << AllErrors(r);
  EXPECT_TRUE(r.config->archives.empty());
}

TEST(ArchiveConfig, NamesFollowAwsRules) {
  EXPECT_TRUE(ValidArchiveName("a"));
  EXPECT_TRUE(ValidArchiveName(std::string(48, 'x')));
  EXPECT_FALSE(ValidArchiveName(std::string(49, 'x')));
  EXPECT_FALSE(ValidArchiveName(""));
  EXPECT_FALSE(ValidArchiveName("with space"));
  EXPECT_FALSE(ValidArchiveName("slash/name"));
  EXPECT_FALSE(ValidArchiveName("archive:x"));
  EXPECT_TRUE(ValidReplayName(std::string(64, 'r')));
  EXPECT_FALSE(ValidReplayName(std::string(65, 'r')));
  EXPECT_TRUE(ValidReplayName("Replay_1.2-3"));

  std::string text = R"(
archives:
  - name: has/slash
  - name: )" + std::string(49, 'n') +
                     "\n";
  auto r = Load(text);
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "test.yaml:" + std::to_string(LineOf(text, "has/slash")) +
                ":11: 'archives.has/slash.name' is 'has/slash'; an archive name has 1 to 48 "
                "characters, each a letter, a digit, '.', '-' or '_'");
  EXPECT_EQ(r.errors[1].where.line, LineOf(text, "nnnn"));
}

TEST(ArchiveConfig, DuplicateNamesMissingNamesAndUnknownKeys) {
  std::string text = R"(
archives:
  - name: a1
  - name: a1
    retention: 3
  - description: no name
)";
  auto r = Load(text);
  ASSERT_FALSE(r.config);
  std::string all = AllErrors(r);
  ASSERT_EQ(r.errors.size(), 3u) << all;
  int second = LineOf(text, "  - name: a1\n    retention");
  EXPECT_EQ(r.errors[0].ToString(),
            "test.yaml:" + std::to_string(second + 1) +
                ":5: unknown key 'retention' in 'archives.a1' (allowed: name, description, "
                "event_pattern, retention_days)");
  EXPECT_EQ(r.errors[1].ToString(), "test.yaml:" + std::to_string(second) +
                                        ":11: duplicate archive name 'a1' in 'archives' (also at "
                                        "test.yaml:" +
                                        std::to_string(second - 1) + ":11)");
  EXPECT_NE(all.find("missing required key 'name' in 'archives[2]'"), std::string::npos) << all;
}

TEST(ArchiveConfig, RetentionMustBeAWholeNumber) {
  std::string text = R"(
archives:
  - name: a
    retention_days: -1
  - name: b
    retention_days: soon
)";
  auto r = Load(text);
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(), "test.yaml:" + std::to_string(LineOf(text, "-1")) +
                                        ":21: 'archives.a.retention_days' must be a whole "
                                        "number >= 0");
  EXPECT_NE(r.errors[1].message.find("archives.b.retention_days"), std::string::npos);
}

TEST(ArchiveConfig, ArchivesMustBeAListOfMappings) {
  auto r = Load("\narchives:\n  audit: {name: audit}\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
  EXPECT_NE(r.errors[0].message.find("'archives' must be a list of archives"), std::string::npos);
  auto item = Load("\narchives:\n  - audit\n");
  ASSERT_FALSE(item.config);
  EXPECT_NE(AllErrors(item).find("'archives[0]' must be a mapping"), std::string::npos)
      << AllErrors(item);
}

TEST(ArchiveConfig, PatternsAreValidatedLikeRulePatternsWithAwsWording) {
  std::string text = R"(
archives:
  - name: a
    event_pattern: {source: cdc.coredb}
  - name: b
    event_pattern: '{"detail": {"n": [{"numeric": [">", "x"]}]}}'
)";
  auto r = Load(text);
  ASSERT_TRUE(r.config) << AllErrors(r);
  auto errors = ValidateSemantics(*r.config);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].ToString(),
            "test.yaml:" + std::to_string(LineOf(text, "{source: cdc")) +
                ":20: archives.a.event_pattern: Event pattern is not valid. Reason: \"source\" "
                "must be an object or an array");
  EXPECT_NE(errors[1].message.find("archives.b.event_pattern: Event pattern is not valid. Reason:"),
            std::string::npos)
      << errors[1].message;
}

TEST(ArchiveConfig, RuleAndTargetNamesCannotTakeTheArchivePrefix) {
  auto r = testing::LoadYaml(R"(
tables:
  users: {event_types: [INSERT]}
rules:
  archive:x:
    event_pattern: {source: [a]}
    targets: ["archive:y"]
targets:
  archive:y: {type: stdout}
)");
  ASSERT_FALSE(r.config);
  std::string all = AllErrors(r);
  EXPECT_NE(all.find("rules.archive:x: names starting with 'archive:' are reserved for archives"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("targets.archive:y: names starting with 'archive:' are reserved"),
            std::string::npos)
      << all;
}

TEST(ArchiveConfig, TheReferenceDocumentsArchives) {
  std::string md = ConfigReferenceMarkdown();
  EXPECT_NE(md.find("| `archives` | list of sections |"), std::string::npos);
  EXPECT_NE(md.find("## `archives[]`"), std::string::npos);
  EXPECT_NE(md.find("| `retention_days` | integer | `0` |"), std::string::npos);
}

}  // namespace
}  // namespace cdc
