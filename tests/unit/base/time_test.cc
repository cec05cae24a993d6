#include "base/time.h"

#include <gtest/gtest.h>

namespace cdc {
namespace {

TEST(Rfc3339, ParsesUtcAndOffsets) {
  auto t = ParseRfc3339("2024-01-15T10:30:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->micros, int64_t{1705314600} * 1000000);
  EXPECT_EQ(ParseRfc3339("2024-01-15T12:30:00+02:00"), t);
  EXPECT_EQ(ParseRfc3339("2024-01-15T05:00:00-05:30"), t);
  EXPECT_EQ(ParseRfc3339("2024-01-15 10:30:00z"), t);
  EXPECT_EQ(ParseRfc3339("2024-01-15T10:30:00.25Z")->micros, t->micros + 250000);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59Z")->micros, -1000000);
}

TEST(Rfc3339, RejectsInvalidDates) {
  EXPECT_FALSE(ParseRfc3339("2024-01-15"));
  EXPECT_FALSE(ParseRfc3339("2024-01-15T10:30:00"));  // no offset
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2024-01-15T24:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2024-01-15T10:30:00.Z"));
  EXPECT_FALSE(ParseRfc3339("2024-01-15T10:30:00Zjunk"));
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z"));
}

TEST(Rfc3339, FormatsRoundTrip) {
  EXPECT_EQ(FormatRfc3339(Timestamp{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(Timestamp{-1}), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(Timestamp{1500000}), "1970-01-01T00:00:01.5Z");
  for (const char* s :
       {"2024-01-15T10:30:00Z", "2000-02-29T23:59:59.123456Z", "1900-03-01T00:00:00Z"}) {
    EXPECT_EQ(FormatRfc3339(*ParseRfc3339(s)), s);
  }
}

TEST(Civil, DaysRoundTrip) {
  for (int64_t d : {-800000, -1, 0, 1, 10957, 19737, 2932896}) {
    int64_t y;
    unsigned m, day;
    CivilFromDays(d, y, m, day);
    EXPECT_EQ(DaysFromCivil(y, m, day), d);
  }
  EXPECT_EQ(DaysFromCivil(2000, 1, 1), 10957);
}

TEST(Clock, FixedClockIsFixed) {
  FixedClock c(Timestamp{42});
  EXPECT_EQ(c.Now().micros, 42);
  EXPECT_GT(SystemClock::Instance().Now().micros, ParseRfc3339("2024-01-01T00:00:00Z")->micros);
}

}  // namespace
}  // namespace cdc
