#include "event/json_writer.h"

#include <gtest/gtest.h>

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
