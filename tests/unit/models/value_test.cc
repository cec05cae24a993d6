// The typed value model: equality, rows, and the JSON form of every value kind.
#include "event/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

// Strings up to kInlineCapacity bytes live in the value, longer ones in a std::string: both
// behave the same when built from a view or an rvalue, copied, moved, compared and reassigned.
TEST(Value, InlineAndHeapStringsBehaveAlike) {
  const std::string inline_text(Value::kInlineCapacity, 'a');
  const std::string heap_text(Value::kInlineCapacity + 1, 'a');
  for (const std::string& text : {std::string(), std::string("x"), inline_text, heap_text}) {
    Value from_view = Value::Text(std::string_view(text));
    Value from_rvalue = Value::Text(std::string(text));
    EXPECT_EQ(from_view.as_string(), text);
    EXPECT_EQ(from_rvalue.as_string(), text);
    EXPECT_EQ(from_view, from_rvalue);
    EXPECT_NE(from_view, Value::Json(std::string(text)));  // same bytes, another kind
    Value copy = from_view;
    EXPECT_EQ(copy, from_view);
    Value moved = std::move(copy);
    EXPECT_EQ(moved.as_string(), text);
    copy = moved;  // a moved-from value can be assigned again
    EXPECT_EQ(copy.as_string(), text);
    copy = Value::Int64(7);
    EXPECT_EQ(copy.as_int64(), 7);
    EXPECT_EQ(copy.as_string(), "");
    moved = Value::Text(heap_text + "b");
    EXPECT_EQ(moved.as_string(), heap_text + "b");
    EXPECT_NE(moved, from_view);
  }
  EXPECT_NE(Value::Text(inline_text), Value::Text(heap_text));
  EXPECT_NE(Value::Text(heap_text), Value::Text(heap_text.substr(1) + "b"));
  EXPECT_EQ(sizeof(Value), 40u);
}

TEST(Value, ScalarAccessorsReadOnlyTheirOwnKind) {
  EXPECT_EQ(Value::Double(2.5).as_int64(), 0);
  EXPECT_EQ(Value::Int64(3).as_double(), 0);
  EXPECT_EQ(Value::Int64(3).as_string(), "");
  EXPECT_TRUE(Value::Text("x").as_array().empty());
  EXPECT_TRUE(Value::Bool(true).as_bool());
  EXPECT_FALSE(Value::Null().as_bool());
  EXPECT_EQ(Value::Double(-0.0), Value::Double(-0.0));
  EXPECT_NE(Value::Double(0.0), Value::Double(-0.0));  // bitwise, as before
  EXPECT_NE(Value::Null(), Value::UnchangedToast());
  // A moved-from array or long string is null and equals null.
  Value array = Value::Array({Value::Text(std::string(100, 'z')), Value::Int64(1)});
  Value taken = std::move(array);
  EXPECT_EQ(taken.as_array().size(), 2u);
  EXPECT_EQ(taken.as_array()[0].as_string(), std::string(100, 'z'));
  EXPECT_EQ(array, Value::Null());
  Value text = Value::Text(std::string(100, 'z'));
  Value moved_text = std::move(text);
  EXPECT_EQ(text, Value::Null());
}

TEST(Value, AssigningAnElementOfItsOwnArray) {
  const std::string long_text(100, 'q');
  Value v = Value::Array({Value::Text(long_text), Value::Text("short")});
  v = v.as_array()[0];
  EXPECT_EQ(v, Value::Text(long_text));
  Value w = Value::Array({Value::Text("short"), Value::Int64(1)});
  w = w.as_array()[0];
  EXPECT_EQ(w, Value::Text("short"));
}

TEST(Value, SameName) {
  const std::vector<std::string> names = {"",
                                          "a",
                                          "ab",
                                          "abc",
                                          "abcd",
                                          "abcde",
                                          "abcdefg",
                                          "abcdefgh",
                                          "abcdefghi",
                                          "abcdefghijklmnop",
                                          "abcdefghijklmnopq",
                                          "created_at",
                                          "updated_at"};
  for (const auto& a : names) {
    for (const auto& b : names) EXPECT_EQ(SameName(a, b), a == b) << a << " " << b;
    for (size_t i = 0; i < a.size(); ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 1);
      EXPECT_FALSE(SameName(a, c)) << a << " " << i;
    }
  }
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
