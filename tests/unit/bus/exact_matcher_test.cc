#include <gtest/gtest.h>

#include "bus/matcher.h"

namespace cdc {
namespace {

const char* kEvent =
    R"({"version":"0","id":"x","detail-type":"users.UPDATE","source":"cdc.coredb","account":"000000000000",)"
    R"("time":"2024-01-15T10:30:00Z","region":"local","resources":[],)"
    R"("detail":{"eventType":"UPDATE","tableName":"users","after":{"id":7,"price":300.0,"vip":true,)"
    R"("note":null,"tags":["a","b"],"items":[{"sku":"x1"},{"sku":"x2"}]},"changedFields":["status"]}})";

std::vector<uint32_t> MatchAll(const std::vector<std::string>& patterns,
                               const char* event = kEvent) {
  std::vector<RulePattern> rules;
  for (size_t i = 0; i < patterns.size(); ++i)
    rules.push_back({"r" + std::to_string(i), patterns[i]});
  auto m = CompileMatcher(rules);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  std::vector<uint32_t> out;
  if (m.ok()) {
    EXPECT_TRUE((*m)->Match(event, out).ok());
  }
  return out;
}

bool Matches(const std::string& pattern) { return MatchAll({pattern}).size() == 1; }

TEST(ExactMatcher, TopLevelAndNestedFields) {
  EXPECT_TRUE(Matches(R"({"source":["cdc.coredb"]})"));
  EXPECT_FALSE(Matches(R"({"source":["cdc.other"]})"));
  EXPECT_TRUE(Matches(R"({"source":["cdc.coredb"],"detail":{"tableName":["orders","users"]}})"));
  EXPECT_FALSE(Matches(R"({"source":["cdc.coredb"],"detail":{"tableName":["orders"]}})"));
  EXPECT_TRUE(Matches(R"({"detail-type":["users.UPDATE"]})"));
  EXPECT_TRUE(Matches(R"({})"));
}

TEST(ExactMatcher, DottedKeyIsTheSameAsNesting) {
  EXPECT_TRUE(Matches(R"({"detail.tableName":["users"]})"));
  EXPECT_TRUE(Matches(R"({"detail":{"after.id":[7]}})"));
}

TEST(ExactMatcher, NumbersCompareByValue) {
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"price":[300]}}})"));
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"id":[7.0]}}})"));
  EXPECT_FALSE(Matches(R"({"detail":{"after":{"id":["7"]}}})"));  // a string is not a number
}

TEST(ExactMatcher, BooleansAndNullAreNotMissing) {
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"vip":[true]}}})"));
  EXPECT_FALSE(Matches(R"({"detail":{"after":{"vip":[false]}}})"));
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"note":[null]}}})"));
  EXPECT_FALSE(Matches(R"({"detail":{"after":{"missing":[null]}}})"));
}

TEST(ExactMatcher, ArraysInTheEventMatchAnyElement) {
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"tags":["b"]}}})"));
  EXPECT_TRUE(Matches(R"({"detail":{"changedFields":["status"]}})"));
  EXPECT_FALSE(Matches(R"({"detail":{"after":{"tags":["c"]}}})"));
  EXPECT_TRUE(Matches(R"({"detail":{"after":{"items":{"sku":["x2"]}}}})"));
}

TEST(ExactMatcher, AllConditionsMustHold) {
  EXPECT_FALSE(Matches(R"({"source":["cdc.coredb"],"detail":{"after":{"vip":[false]}}})"));
}

TEST(ExactMatcher, ReturnsEveryMatchingRuleInOrder) {
  auto out = MatchAll({R"({"source":["cdc.coredb"]})", R"({"source":["x"]})",
                       R"({"detail":{"tableName":["users"]}})"});
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 2}));
}

TEST(ValidatePattern, UsesAwsWording) {
  auto reason = [](const char* p) { return ValidatePattern(p).message(); };
  EXPECT_TRUE(ValidatePattern(R"({"a":["b"]})").ok());
  EXPECT_EQ(reason(R"({"source":"cdc.coredb"})"),
            R"(Event pattern is not valid. Reason: "source" must be an object or an array)");
  EXPECT_EQ(reason(R"({"source":[]})"),
            "Event pattern is not valid. Reason: Empty arrays are not allowed");
  // numeric is supported now; an operator AWS does not have is still rejected.
  EXPECT_TRUE(ValidatePattern(R"({"a":[{"numeric":[">",1]}]})").ok());
  EXPECT_EQ(reason(R"({"a":[{"regex":"x"}]})"),
            "Event pattern is not valid. Reason: Unrecognized match type regex");
  EXPECT_EQ(reason("[1]"), "Event pattern is not valid. Reason: Filter is not an object");
  EXPECT_EQ(reason("{"), "Event pattern is not valid. Reason: malformed JSON");
}

TEST(ExactMatcher, InvalidEventIsAnError) {
  auto m = CompileMatcher({{"r", R"({"a":["b"]})"}});
  ASSERT_TRUE(m.ok());
  std::vector<uint32_t> out;
  EXPECT_FALSE((*m)->Match("{not json", out).ok());
}

TEST(CompileMatcher, NamesTheBadRule) {
  auto m = CompileMatcher({{"good", R"({"a":["b"]})"}, {"bad", R"({"a":"b"})"}});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message().rfind("rule 'bad': Event pattern is not valid.", 0), 0u);
}

}  // namespace
}  // namespace cdc
