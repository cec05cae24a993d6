#include "config/env.h"

#include <gtest/gtest.h>

namespace cdc::config_internal {
namespace {

TEST(DotEnv, ParsesCommonForms) {
  auto m = ParseDotEnv(
      "# comment\nA=1\nexport B = two\nC=\"quoted # not comment\"\nD='single'\nE=x # "
      "trailing\n\nbad line\n");
  EXPECT_EQ(m["A"], "1");
  EXPECT_EQ(m["B"], "two");
  EXPECT_EQ(m["C"], "quoted # not comment");
  EXPECT_EQ(m["D"], "single");
  EXPECT_EQ(m["E"], "x");
  EXPECT_EQ(m.count("bad line"), 0u);
}

TEST(ExpandEnv, PrecedenceDefaultsAndEscapes) {
  EnvLookup env({{"A", "override"}}, {{"A", "dotenv"}, {"B", "from-dotenv"}, {"EMPTY", ""}}, false);
  EXPECT_EQ(*ExpandEnv("${A}/${B}", env), "override/from-dotenv");
  EXPECT_EQ(*ExpandEnv("${C:-fallback}", env), "fallback");
  EXPECT_EQ(*ExpandEnv("${EMPTY:-fallback}", env), "fallback");
  EXPECT_EQ(*ExpandEnv("${EMPTY}", env), "");
  EXPECT_EQ(*ExpandEnv("${C:-${B}}x", env), "from-dotenvx");
  EXPECT_EQ(*ExpandEnv("cost $$5 $HOME", env), "cost $5 $HOME");
  EXPECT_FALSE(ExpandEnv("${C}", env).ok());
  EXPECT_FALSE(ExpandEnv("${A", env).ok());
  EXPECT_FALSE(ExpandEnv("${1A}", env).ok());
}

TEST(ExpandEnv, ProcessEnvironmentBeatsDotEnv) {
  ::setenv("CDC_TEST_VAR", "process", 1);
  EnvLookup env({}, {{"CDC_TEST_VAR", "dotenv"}}, true);
  EXPECT_EQ(*ExpandEnv("${CDC_TEST_VAR}", env), "process");
  ::unsetenv("CDC_TEST_VAR");
  EXPECT_EQ(*ExpandEnv("${CDC_TEST_VAR}", env), "dotenv");
}

}  // namespace
}  // namespace cdc::config_internal
