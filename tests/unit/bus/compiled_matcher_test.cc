// The compiled matcher as a whole: many rules at once, rule order, thread safety.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>

#include "bus/matcher.h"

namespace cdc {
namespace {

std::string Lot(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%07d", i);
  return buf;
}

std::string Event(int i) {
  return R"({"type":"Feature","properties":{"MAPBLKLOT":")" + Lot(i) + R"(","STREET":"S)" +
         std::to_string(i % 50) + R"(","LOT_NUM":)" + std::to_string(i) + "}}";
}

TEST(CompiledMatcher, TenThousandExactRulesEachMatchOnlyTheirEvent) {
  constexpr int kRules = 10000;
  std::vector<RulePattern> rules;
  for (int i = 0; i < kRules; ++i) {
    rules.push_back(
        {"r" + std::to_string(i), R"({"properties":{"MAPBLKLOT":[")" + Lot(i) + R"("]}})"});
  }
  auto m = CompileMatcher(rules);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (int i = 0; i < kRules; ++i) {
    std::vector<uint32_t> out;
    ASSERT_TRUE((*m)->Match(Event(i), out).ok());
    ASSERT_EQ(out, std::vector<uint32_t>{static_cast<uint32_t>(i)}) << i;
  }
  std::vector<uint32_t> out;
  ASSERT_TRUE((*m)->Match(Event(kRules + 1), out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(CompiledMatcher, ManyMixedRules) {
  // Rule i: prefix of its own lot (7 digits -> first 6), numeric == i, anything-but other lots.
  constexpr int kRules = 2000;
  std::vector<RulePattern> rules;
  for (int i = 0; i < kRules; ++i) {
    std::string name = "r" + std::to_string(i);
    switch (i % 3) {
      case 0:
        rules.push_back({name, R"({"properties":{"MAPBLKLOT":[{"prefix":")" + Lot(i) + R"("}]}})"});
        break;
      case 1:
        rules.push_back(
            {name, R"({"properties":{"LOT_NUM":[{"numeric":["=",)" + std::to_string(i) + "]}]}}"});
        break;
      default:
        rules.push_back({name, R"({"properties":{"MAPBLKLOT":[{"suffix":")" + Lot(i) +
                                   R"("}],"LOT_NUM":[{"numeric":[">=",)" + std::to_string(i) +
                                   R"(,"<",)" + std::to_string(i + 1) + "]}]}}"});
        break;
    }
  }
  auto m = CompileMatcher(rules);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (int i = 0; i < kRules; ++i) {
    std::vector<uint32_t> out;
    ASSERT_TRUE((*m)->Match(Event(i), out).ok());
    ASSERT_EQ(out, std::vector<uint32_t>{static_cast<uint32_t>(i)}) << i;
  }
}

TEST(CompiledMatcher, SharedValuesMatchEveryRuleInOrder) {
  std::vector<RulePattern> rules;
  for (int i = 0; i < 100; ++i) {
    rules.push_back({"r" + std::to_string(i),
                     i % 2 ? R"({"type":["Feature"]})" : R"({"type":[{"prefix":"Feat"}]})"});
  }
  rules.push_back({"none", R"({"type":["Other"]})"});
  rules.push_back({"all", "{}"});
  auto m = CompileMatcher(rules);
  ASSERT_TRUE(m.ok());
  std::vector<uint32_t> out = {999};  // Match appends
  ASSERT_TRUE((*m)->Match(Event(1), out).ok());
  ASSERT_EQ(out.size(), 102u);
  EXPECT_EQ(out[0], 999u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(out[i + 1], i);
  EXPECT_EQ(out[101], 101u);
}

TEST(CompiledMatcher, SafeToShareBetweenThreads) {
  std::vector<RulePattern> rules;
  for (int i = 0; i < 500; ++i) {
    rules.push_back({"r" + std::to_string(i), R"({"properties":{"MAPBLKLOT":[")" + Lot(i) +
                                                  R"("],"STREET":[{"exists":true}]}})"});
  }
  auto m = CompileMatcher(rules);
  ASSERT_TRUE(m.ok());
  const Matcher& matcher = **m;
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (int i = t; i < 500; i += 4) {
          std::vector<uint32_t> out;
          if (!matcher.Match(Event(i), out).ok() ||
              out != std::vector<uint32_t>{static_cast<uint32_t>(i)}) {
            ++failures[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(CompiledMatcher, UnusedPartsOfTheEventAreSkippedButStructureIsChecked) {
  auto m = CompileMatcher({{"r", R"({"type":["Feature"]})"}});
  ASSERT_TRUE(m.ok());
  std::vector<uint32_t> out;
  EXPECT_TRUE((*m)->Match(R"({"geometry":{"c":[[1,2],[3,4]]},"type":"Feature"})", out).ok());
  EXPECT_EQ(out.size(), 1u);
  EXPECT_FALSE((*m)->Match(R"({"type":"Feature"} trailing)", out).ok());
  EXPECT_FALSE((*m)->Match(R"({"type":"Feature")", out).ok());
  EXPECT_FALSE((*m)->Match("", out).ok());
}

}  // namespace
}  // namespace cdc
