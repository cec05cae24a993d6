// Inputs the fuzz targets (fuzz/, docs/fuzzing.md) found crashing, fed to the same entry points
// as plain unit tests, so that the fixes stay fixed without a fuzzing build.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bus/input_transformer.h"
#include "bus/matcher.h"
#include "event/event_json.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/pgoutput.h"

namespace cdc {
namespace {

// simdjson's is_null() converted to bool throws on a malformed literal; IsValidJson (and every
// caller: the JSON change-event parser, event patterns, json/jsonb values) terminated.
TEST(FuzzRegression, MalformedNullLiteralIsInvalidJsonNotACrash) {
  EXPECT_FALSE(IsValidJson("[n"));
  EXPECT_FALSE(IsValidJson(R"({"a":nul})"));
  EXPECT_FALSE(MinifyJson("[nulx]").ok());
  auto event = ParseChangeEventJson(
      R"({"eventType":n"DELETE","tAbleName":"ord0:04:00Z","before":{"id":"ord_1"}})");
  EXPECT_FALSE(event.ok());
  EXPECT_FALSE(
      ValidatePattern(R"({"detail":{"after":{"notes":[nulexactlyl],"vip":[true]}}})").ok());
  pg::PgTypeRegistry types;
  EXPECT_FALSE(pg::DecodeText(pg::oid::kJson, "[n", types).ok());
  EXPECT_TRUE(IsValidJson("[null]"));
}

// pattern: an event with thousands of nested arrays where a rule reads recursed once per level
// and overflowed the stack (ASan's larger frames first). The matcher now stops at
// kMaxEventDepth levels and refuses the event with the reason; up to it, arrays still match.
TEST(FuzzRegression, DeeplyNestedArraysAreRefusedNotAStackOverflow) {
  auto matcher = CompileMatcher({{"r", R"({"detail":{"v":[1]}})"}});
  ASSERT_TRUE(matcher.ok());
  auto event = [](int depth) {
    return R"({"source":"s","detail":{"v":)" + std::string(depth, '[') + "1" +
           std::string(depth, ']') + "}}";
  };
  std::vector<uint32_t> out;
  Status deep = (*matcher)->Match(event(5000), out);
  EXPECT_EQ(deep.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.message().find("levels deep"), std::string::npos) << deep.message();
  out.clear();
  ASSERT_TRUE((*matcher)->Match(event(kMaxEventDepth - 2), out).ok());
  EXPECT_EQ(out, std::vector<uint32_t>{0});
}

// pattern: the target's reference evaluation read the elements of an event that is a top-level
// array as values of the member with the empty key (path ""), and disagreed with the matcher.
// The matcher was right: such an event has no fields. (The reference was fixed.)
TEST(FuzzRegression, ATopLevelArrayHasNoFieldsEvenForTheEmptyKey) {
  auto matcher = CompileMatcher({{"r", R"({"":[0]})"}});
  ASSERT_TRUE(matcher.ok());
  std::vector<uint32_t> out;
  ASSERT_TRUE((*matcher)->Match("[0\t\t]", out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE((*matcher)->Match(R"({"":0})", out).ok());
  EXPECT_EQ(out, std::vector<uint32_t>{0});
}

// api_request: a JSONPath with a multi-byte character where a '.' or '[' belongs was refused with
// "unexpected '<its first byte>'": half a UTF-8 sequence, which made the bus API's PutTargets
// answer invalid JSON. The byte is now named by its value, and the message stays valid UTF-8.
TEST(FuzzRegression, AJsonPathErrorNeverSplitsAUtf8Character) {
  Status s = ValidateJsonPath(
      "$\xda\x9b"
      "etail.orderId");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unexpected byte 0xDA at position 1"), std::string::npos)
      << s.message();
  EXPECT_TRUE(IsValidJson("\"" + s.message() + "\"")) << s.message();
  EXPECT_NE(ValidateJsonPath("$?").message().find("unexpected '?'"), std::string::npos);
}

// A scalar document followed by bytes simdjson does not see as structural (NULs) was valid JSON,
// and MinifyJson returned text that was not.
TEST(FuzzRegression, ScalarWithTrailingBytesIsInvalidJson) {
  EXPECT_FALSE(IsValidJson(std::string_view("0\t\0\0\0\0\0\0\0", 9)));
  EXPECT_FALSE(MinifyJson(std::string_view("0\t\0\0\0\0\0\0\0", 9)).ok());
  EXPECT_FALSE(IsValidJson(std::string_view("\"a\"\0", 4)));
  EXPECT_FALSE(IsValidJson("1 2"));
  EXPECT_TRUE(IsValidJson(" 0\t\n"));
  EXPECT_TRUE(IsValidJson(" \"a\" "));
  EXPECT_TRUE(IsValidJson("true"));
}

// A Begin message with a commit time near INT64_MAX overflowed converting to the Unix epoch
// (UBSan: signed integer overflow in PgMicrosToUnixMicros).
// change_json: "inventor." parsed as schema "inventor" and an empty table, which encoded back
// as a different name. An empty part of a qualified name is an error that names the value.
TEST(FuzzRegression, TableNameWithAnEmptyPartIsRejected) {
  for (const char* name : {"inventor.", ".inventory"}) {
    auto event = ParseChangeEventJson(std::string(R"({"eventType":"UPDATE","tableName":")") + name +
                                      R"(","timestamp":"2024-01-15T10:02:00Z","before":{"id":7},)"
                                      R"("after":{"id":7}})");
    ASSERT_FALSE(event.ok()) << name;
    EXPECT_NE(event.status().message().find("schema.table"), std::string::npos)
        << event.status().message();
  }
  EXPECT_TRUE(ParseChangeEventJson(R"({"eventType":"UPDATE","tableName":"public.inventory",)"
                                   R"("timestamp":"2024-01-15T10:02:00Z","before":{"id":7},)"
                                   R"("after":{"id":7}})")
                  .ok());
}

TEST(FuzzRegression, PgoutputCommitTimeNearInt64MaxSaturates) {
  pg::PgTypeRegistry types;
  pg::PgOutputDecoder decoder(types, nullptr);
  std::string begin = "B";
  auto put64 = [&](uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) begin.push_back(static_cast<char>(v >> shift));
  };
  put64(0x1000);                               // final LSN
  put64(0x7ffe34a8b1f11061ULL);                // commit time: ~2^63 microseconds after 2000-01-01
  begin.append(std::string("\0\0\0\x07", 4));  // xid
  std::vector<pg::PgMessage> out;
  ASSERT_TRUE(decoder.Decode(begin, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<pg::PgBegin>(out[0]).commit_time.micros, INT64_MAX);
  EXPECT_EQ(pg::PgMicrosToUnixMicros(INT64_MAX), INT64_MAX);
  EXPECT_EQ(pg::UnixMicrosToPgMicros(INT64_MIN), INT64_MIN);
  EXPECT_EQ(pg::PgMicrosToUnixMicros(0), pg::kPgEpochUnixMicros);
}

}  // namespace
}  // namespace cdc
