// The typed value model: equality, rows, and the JSON form of every value kind.
#include "event/value.h"

#include <gtest/gtest.h>

#include <cmath>

#include "event/event_json.h"

namespace cdc {
namespace {

std::string Json(const Value& v) { return ValueToJson(v); }

TEST(Value, JsonOfEveryKind) {
  EXPECT_EQ(Json(Value::Null()), "null");
  EXPECT_EQ(Json(Value::Bool(true)), "true");
  EXPECT_EQ(Json(Value::Int64(-9223372036854775807LL - 1)), "-9223372036854775808");
  EXPECT_EQ(Json(Value::Double(0.1)), "0.1");
  EXPECT_EQ(Json(Value::Double(NAN)), "\"NaN\"");
  EXPECT_EQ(Json(Value::Double(-INFINITY)), "\"-Infinity\"");
  EXPECT_EQ(Json(Value::Decimal("12345678901234567890.123456789")),
            "12345678901234567890.123456789");
  EXPECT_EQ(Json(Value::Decimal("NaN")), "\"NaN\"");
  EXPECT_EQ(Json(Value::Text("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(Json(Value::Bytes(std::string("\0\xff", 2))), "\"AP8=\"");
  EXPECT_EQ(Json(Value::TimestampTz(1705314600000000)), "\"2024-01-15T10:30:00Z\"");
  EXPECT_EQ(Json(Value::Timestamp(1705314600500000)), "\"2024-01-15T10:30:00.5\"");
  EXPECT_EQ(Json(Value::TimestampTz(Value::kInfinity)), "\"infinity\"");
  EXPECT_EQ(Json(Value::Date(Value::kMinusInfinity)), "\"-infinity\"");
  EXPECT_EQ(Json(Value::Date(19737)), "\"2024-01-15\"");
  EXPECT_EQ(Json(Value::Time(37800123000)), "\"10:30:00.123\"");
  EXPECT_EQ(Json(Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
            "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
  EXPECT_EQ(Json(Value::Json("{\"a\":[1,2]}")), "{\"a\":[1,2]}");
  EXPECT_EQ(Json(Value::Array({Value::Int64(1), Value::Null(), Value::Array({Value::Text("x")})})),
            "[1,null,[\"x\"]]");
}

TEST(Value, EqualityIsByKindAndContent) {
  EXPECT_EQ(Value::Int64(1), Value::Int64(1));
  EXPECT_NE(Value::Int64(1), Value::Decimal("1"));
  EXPECT_NE(Value::Text("1"), Value::Decimal("1"));
  EXPECT_EQ(Value::Double(NAN), Value::Double(NAN));  // "unchanged" is what matters
  EXPECT_EQ(Value::Null(), Value::Null());
  EXPECT_NE(Value::Null(), Value::Text(""));
  EXPECT_EQ(Value::Array({Value::Int64(1)}), Value::Array({Value::Int64(1)}));
  EXPECT_NE(Value::Array({Value::Int64(1)}), Value::Array({Value::Int64(2)}));
}

TEST(Row, FindAddRemove) {
  Row r;
  r.Add("id", Value::Int64(1));
  r.Add("email", Value::Text("x"));
  ASSERT_NE(r.Find("email"), nullptr);
  EXPECT_EQ(r.Find("missing"), nullptr);
  EXPECT_TRUE(r.Remove("email"));
  EXPECT_FALSE(r.Remove("email"));
  EXPECT_EQ(r.size(), 1u);
}

TEST(Row, UnchangedToastColumnsAreLeftOutOfJson) {
  Row r;
  r.Add("id", Value::Int64(1));
  r.Add("body", Value::UnchangedToast());
  std::string out;
  JsonWriter w(out);
  WriteRow(w, r);
  EXPECT_EQ(out, "{\"id\":1}");
}

}  // namespace
}  // namespace cdc
