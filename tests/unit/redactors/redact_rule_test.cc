// Redaction rules as the configuration writes them, and the value-level operations behind them:
// masking, UTF-8-safe truncation, generalization and the canonical text of non-text values.
#include <gtest/gtest.h>

#include "base/time.h"
#include "process/redact/rule.h"
#include "process/redact/transform.h"

namespace cdc::redact {
namespace {

Rule Parsed(std::string_view text) {
  auto r = ParseRule(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : Rule{};
}

TEST(ParseRule, AcceptsEveryRuleAndRoundTrips) {
  for (std::string_view text :
       {"keep", "remove", "null", "hash", "mask", "mask:email", "mask:first2", "mask:last4",
        "truncate:8", "generalize:year", "generalize:month", "generalize:range:100"}) {
    Rule r = Parsed(text);
    EXPECT_EQ(FormatRule(r), text);
    EXPECT_EQ(Parsed(FormatRule(r)), r);
  }
  EXPECT_EQ(Parsed("mask:all"), Parsed("mask"));
}

TEST(ParseRule, ReadsArguments) {
  Rule r = Parsed("mask:last4");
  EXPECT_EQ(r.action, Action::kMask);
  EXPECT_EQ(r.mask_mode, MaskMode::kKeepLast);
  EXPECT_EQ(r.mask_keep, 4u);
  EXPECT_EQ(Parsed("truncate:8").truncate_length, 8u);
  r = Parsed("generalize:range:250");
  EXPECT_EQ(r.generalization, Generalization::kRange);
  EXPECT_EQ(r.range_width, 250);
}

TEST(ParseRule, ErrorsQuoteTheRuleAndSayWhatIsAccepted) {
  struct Case {
    std::string_view text;
    std::string_view hint;
  } cases[] = {
      {"hsah", "unknown rule"},
      {"mask:lst4", "unknown mask mode 'lst4'"},
      {"mask:last0", "as in 'mask:last4'"},
      {"mask:last-1", "as in 'mask:last4'"},
      {"mask:lastfour", "as in 'mask:last4'"},
      {"truncate", "as in 'truncate:8'"},
      {"truncate:0", "as in 'truncate:8'"},
      {"truncate:8x", "as in 'truncate:8'"},
      {"generalize", "'year', 'month' or 'range:<width>'"},
      {"generalize:day", "'year', 'month' or 'range:<width>'"},
      {"generalize:range", "generalize:range:100"},
      {"generalize:range:0", "generalize:range:100"},
      {"hash:sha1", "'hash' takes no argument"},
      {"", "unknown rule"},
  };
  for (const auto& c : cases) {
    auto r = ParseRule(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("'" + std::string(c.text) + "'"), std::string::npos) << m;
    EXPECT_NE(m.find(c.hint), std::string::npos) << m;
    EXPECT_NE(m.find("accepted:"), std::string::npos) << m;
  }
}

TEST(ParseDetectors, AcceptsTheFiveAndRejectsOthers) {
  auto all = ParseDetectors({"email", "card", "phone", "ssn", "ip"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, DetectorSet::All());
  auto some = ParseDetectors({"email", "ip"});
  ASSERT_TRUE(some.ok());
  EXPECT_TRUE(some->Has(Detector::kEmail));
  EXPECT_TRUE(some->Has(Detector::kIp));
  EXPECT_FALSE(some->Has(Detector::kCard));
  auto bad = ParseDetectors({"email", "iban"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown detector 'iban' (accepted: email, card, phone, ssn, ip)");
  auto twice = ParseDetectors({"card", "card"});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(), "detector 'card' is listed twice");
}

std::string Masked(std::string_view text, MaskMode mode, uint32_t keep = 0) {
  std::string out;
  AppendMasked(text, mode, keep, out);
  return out;
}

TEST(Mask, AllFirstLast) {
  EXPECT_EQ(Masked("secret", MaskMode::kAll), "******");
  EXPECT_EQ(Masked("", MaskMode::kAll), "");
  EXPECT_EQ(Masked("4111111111111111", MaskMode::kKeepLast, 4), "************1111");
  EXPECT_EQ(Masked("4111111111111111", MaskMode::kKeepFirst, 6), "411111**********");
}

TEST(Mask, CountsCharactersNotBytes) {
  EXPECT_EQ(Masked("Zoë Ångström", MaskMode::kAll), "************");
  EXPECT_EQ(Masked("Zoë Ångström", MaskMode::kKeepFirst, 3), "Zoë*********");
  EXPECT_EQ(Masked("Zoë Ångström", MaskMode::kKeepLast, 3), "*********röm");
  EXPECT_EQ(Masked("日本語テキスト", MaskMode::kKeepLast, 2), "*****スト");
}

TEST(Mask, NeverRevealsAWholeShortValue) {
  EXPECT_EQ(Masked("1234", MaskMode::kKeepLast, 4), "****");
  EXPECT_EQ(Masked("12", MaskMode::kKeepFirst, 4), "**");
}

TEST(Mask, EmailKeepsTheDomain) {
  EXPECT_EQ(Masked("jane.doe@example.com", MaskMode::kEmail), "j***@example.com");
  EXPECT_EQ(Masked("j@example.com", MaskMode::kEmail), "j***@example.com");
  EXPECT_EQ(Masked("Émile@example.fr", MaskMode::kEmail), "É***@example.fr");
  // Not an address: nothing of it is kept.
  EXPECT_EQ(Masked("not-an-email", MaskMode::kEmail), "************");
  EXPECT_EQ(Masked("@example.com", MaskMode::kEmail), "************");
  EXPECT_EQ(Masked("jane@", MaskMode::kEmail), "*****");
}

TEST(Truncate, NeverSplitsAUtf8Sequence) {
  EXPECT_EQ(TruncateUtf8("hello world", 5), "hello");
  EXPECT_EQ(TruncateUtf8("hi", 5), "hi");
  EXPECT_EQ(TruncateUtf8("", 5), "");
  EXPECT_EQ(TruncateUtf8("Zoë Ångström", 3), "Zoë");
  EXPECT_EQ(TruncateUtf8("日本語", 2), "日本");
  EXPECT_EQ(TruncateUtf8("a😀b", 2), "a😀");  // a 4-byte sequence stays whole
  EXPECT_EQ(TruncateUtf8("😀😀", 1).size(), 4u);
}

TEST(CanonicalText, IsTheJsonFormWithoutStringQuotes) {
  std::string scratch;
  EXPECT_EQ(CanonicalText(Value::Text("jane"), scratch), "jane");
  EXPECT_EQ(CanonicalText(Value::Int64(-42), scratch), "-42");
  EXPECT_EQ(CanonicalText(Value::Double(0.1), scratch), "0.1");
  EXPECT_EQ(CanonicalText(Value::Decimal("129.90"), scratch), "129.90");
  EXPECT_EQ(CanonicalText(Value::Bool(true), scratch), "true");
  EXPECT_EQ(CanonicalText(Value::Date(DaysFromCivil(2024, 1, 15)), scratch), "2024-01-15");
  auto ts = ParseRfc3339("2024-01-15T10:30:00Z");
  ASSERT_TRUE(ts);
  EXPECT_EQ(CanonicalText(Value::TimestampTz(ts->micros), scratch), "2024-01-15T10:30:00Z");
  EXPECT_EQ(CanonicalText(Value::Bytes("foobar"), scratch), "Zm9vYmFy");
  EXPECT_EQ(CanonicalText(Value::Json(R"({"a":1})"), scratch), R"({"a":1})");
  EXPECT_EQ(CanonicalText(Value::Array({Value::Int64(1), Value::Text("x")}), scratch),
            R"([1,"x"])");
}

TEST(Generalize, DatesAndTimestampsToYearOrMonth) {
  Value date = Value::Date(DaysFromCivil(1990, 5, 17));
  EXPECT_EQ(GeneralizeValue(date, Generalization::kYear, 0), Value::Text("1990"));
  EXPECT_EQ(GeneralizeValue(date, Generalization::kMonth, 0), Value::Text("1990-05"));
  auto ts = ParseRfc3339("2024-01-31T23:30:00-02:00");  // 2024-02-01 in UTC
  ASSERT_TRUE(ts);
  EXPECT_EQ(GeneralizeValue(Value::TimestampTz(ts->micros), Generalization::kMonth, 0),
            Value::Text("2024-02"));
  // Before the epoch the day must be floored, not truncated towards zero.
  auto old = ParseRfc3339("1969-12-31T23:59:59Z");
  ASSERT_TRUE(old);
  EXPECT_EQ(GeneralizeValue(Value::Timestamp(old->micros), Generalization::kMonth, 0),
            Value::Text("1969-12"));
  EXPECT_EQ(GeneralizeValue(Value::Date(DaysFromCivil(-43, 3, 15)), Generalization::kYear, 0),
            Value::Text("0044 BC"));
  EXPECT_EQ(GeneralizeValue(Value::Date(Value::kInfinity), Generalization::kYear, 0),
            Value::Text("infinity"));
  EXPECT_EQ(GeneralizeValue(Value::Text("1990-05-17"), Generalization::kMonth, 0),
            Value::Text("1990-05"));
  EXPECT_EQ(GeneralizeValue(Value::Text("1990-05-17T08:00:00Z"), Generalization::kYear, 0),
            Value::Text("1990"));
}

TEST(Generalize, NumbersToRanges) {
  EXPECT_EQ(GeneralizeValue(Value::Int64(150), Generalization::kRange, 100),
            Value::Text("100-199"));
  EXPECT_EQ(GeneralizeValue(Value::Int64(100), Generalization::kRange, 100),
            Value::Text("100-199"));
  EXPECT_EQ(GeneralizeValue(Value::Int64(99), Generalization::kRange, 100), Value::Text("0-99"));
  EXPECT_EQ(GeneralizeValue(Value::Int64(-5), Generalization::kRange, 10), Value::Text("-10--1"));
  EXPECT_EQ(GeneralizeValue(Value::Int64(37), Generalization::kRange, 5), Value::Text("35-39"));
  EXPECT_EQ(GeneralizeValue(Value::Double(199.99), Generalization::kRange, 100),
            Value::Text("100-199"));
  EXPECT_EQ(GeneralizeValue(Value::Double(-0.5), Generalization::kRange, 100),
            Value::Text("-100--1"));
  EXPECT_EQ(GeneralizeValue(Value::Decimal("129.90"), Generalization::kRange, 100),
            Value::Text("100-199"));
  EXPECT_EQ(GeneralizeValue(Value::Decimal("-12.50"), Generalization::kRange, 10),
            Value::Text("-20--11"));
  EXPECT_EQ(GeneralizeValue(Value::Decimal("1.5e3"), Generalization::kRange, 1000),
            Value::Text("1000-1999"));
  EXPECT_EQ(GeneralizeValue(Value::Decimal("NaN"), Generalization::kRange, 10), Value::Text("NaN"));
  EXPECT_EQ(GeneralizeValue(Value::Text("4200"), Generalization::kRange, 1000),
            Value::Text("4000-4999"));
}

TEST(Generalize, FailsClosedToNull) {
  EXPECT_TRUE(GeneralizeValue(Value::Text("not a date"), Generalization::kYear, 0).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Text("1990-13-01"), Generalization::kYear, 0).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Bool(true), Generalization::kYear, 0).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Int64(5), Generalization::kMonth, 0).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Text("12abc"), Generalization::kRange, 10).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Date(100), Generalization::kRange, 10).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Int64(INT64_MAX), Generalization::kRange, 10).is_null());
  EXPECT_TRUE(GeneralizeValue(Value::Decimal("12345678901234567890123"), Generalization::kRange, 10)
                  .is_null());
}

}  // namespace
}  // namespace cdc::redact
