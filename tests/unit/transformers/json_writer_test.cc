#include "event/json_writer.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "event/event_json.h"

namespace cdc {
namespace {

TEST(JsonWriter, NestedContainersAndCommas) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .Bool(false)
      .Null()
      .BeginObject()
      .EndObject();
  w.EndArray().Key("c").BeginArray().EndArray().Key("d").Uint(18446744073709551615u).EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[false,null,{}],"c":[],"d":18446744073709551615})");
  EXPECT_TRUE(IsValidJson(out));
}

TEST(JsonWriter, EscapesControlCharactersAndKeepsUtf8) {
  std::string out;
  JsonWriter w(out);
  w.String(std::string("\x01\x1f\t\"\\/é😀", 12));
  EXPECT_EQ(out, "\"\\u0001\\u001f\\t\\\"\\\\/é😀\"");
  EXPECT_TRUE(IsValidJson(out));
}

// The byte-at-a-time definition of JSON string escaping, to check the word-at-a-time one.
std::string ReferenceEscape(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

TEST(JsonWriter, EscapingMatchesTheByteAtATimeDefinitionAtEveryPosition) {
  const std::string specials[] = {"\"",   "\\",   "\n",       std::string(1, '\0'),
                                  "\x1f", "\x7f", "\xc3\xa9", " "};
  // Fillers around the special byte: plain ASCII, and bytes that borrow or carry in the
  // word-at-a-time arithmetic.
  for (char fill : {'a', '\xff', '\x80', '!', ' ', '#'}) {
    for (size_t len = 0; len < 40; ++len) {
      for (size_t pos = 0; pos <= len; ++pos) {
        for (const auto& special : specials) {
          std::string s(len, fill);
          s.insert(pos, special);
          std::string out = "prefix";
          AppendJsonString(out, s);
          ASSERT_EQ(out, "prefix" + ReferenceEscape(s))
              << "len " << len << " pos " << pos << " fill " << static_cast<int>(fill);
        }
      }
    }
  }
}

TEST(JsonWriter, DoublesRoundTrip) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray().Double(0.1).Double(1e300).Double(-0.0).Double(123456789.125).EndArray();
  EXPECT_EQ(out, "[0.1,1e+300,-0,123456789.125]");
}

TEST(Minify, RemovesWhitespaceAndRejectsGarbage) {
  auto m = MinifyJson("{ \"a\" : [ 1 , \"x y\" ] }\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, "{\"a\":[1,\"x y\"]}");
  EXPECT_FALSE(MinifyJson("{\"a\":").ok());
  EXPECT_FALSE(MinifyJson("{} {}").ok());
}

}  // namespace
}  // namespace cdc
