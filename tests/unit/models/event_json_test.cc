// Decoding the original change-event format into the typed model.
#include "event/event_json.h"

#include <gtest/gtest.h>

#include "event/position_kinds.h"

namespace cdc {
namespace {

TEST(ParseChangeEvent, TheOriginalSampleEvent) {
  auto ev = ParseChangeEventJson(R"({
    "eventType": "UPDATE", "tableName": "users", "timestamp": "2024-01-15T10:30:00Z",
    "before": {"id": "usr_123", "email": "user@example.com", "status": "active"},
    "after": {"id": "usr_123", "email": "user@example.com", "status": "inactive"}})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->op, Op::kUpdate);
  EXPECT_EQ(ev->schema, "public");
  EXPECT_EQ(ev->table, "users");
  EXPECT_EQ(FormatRfc3339(ev->commit_time), "2024-01-15T10:30:00Z");
  ASSERT_TRUE(ev->before && ev->after);
  EXPECT_EQ(*ev->after->Find("status"), Value::Text("inactive"));
  EXPECT_EQ(ev->after->columns()[0].name, "id");  // column order is kept
  ASSERT_NE(ContentDigestOf(ev->position), nullptr);
  EXPECT_EQ(ContentDigestOf(ev->position)->size(), 32u);
}

TEST(ParseChangeEvent, KeepsNumbersExactAndJsonEmbedded) {
  auto ev = ParseChangeEventJson(
      R"({"eventType":"INSERT","tableName":"sales.orders","timestamp":"2024-01-15T10:30:00Z",)"
      R"("after":{"id":18446744073709551616,"n":-7,"total":129.90,"e":1e3,"ok":true,"x":null,)"
      R"("doc":{ "a" : [1, 2] },"tags":["a"]}})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->schema, "sales");
  EXPECT_EQ(ev->table, "orders");
  const Row& a = *ev->after;
  EXPECT_EQ(*a.Find("id"), Value::Decimal("18446744073709551616"));
  EXPECT_EQ(*a.Find("n"), Value::Int64(-7));
  EXPECT_EQ(*a.Find("total"), Value::Decimal("129.90"));
  EXPECT_EQ(*a.Find("e"), Value::Decimal("1e3"));
  EXPECT_EQ(*a.Find("ok"), Value::Bool(true));
  EXPECT_EQ(*a.Find("x"), Value::Null());
  EXPECT_EQ(*a.Find("doc"), Value::Json("{\"a\":[1,2]}"));
  EXPECT_EQ(*a.Find("tags"), Value::Json("[\"a\"]"));
}

TEST(ParseChangeEvent, SameContentSamePositionWhitespaceAside) {
  auto a = ParseChangeEventJson(
      R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}})");
  auto b = ParseChangeEventJson(
      R"({ "eventType": "INSERT", "tableName": "t", "timestamp": "2024-01-15T10:30:00Z", "after": {"id": 1} })");
  auto c = ParseChangeEventJson(
      R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{"id":2}})");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->position, b->position);
  EXPECT_NE(a->position, c->position);
}

struct BadCase {
  const char* json;
  const char* reason;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.reason; }

class ParseChangeEventErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseChangeEventErrors, SaysWhatIsWrong) {
  auto ev = ParseChangeEventJson(GetParam().json);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ev.status().message().find(GetParam().reason), std::string::npos)
      << ev.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    All, ParseChangeEventErrors,
    ::testing::Values(
        BadCase{R"({"eventType":"INSERT",)", "malformed JSON"},
        BadCase{
            R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}} x)",
            "malformed JSON"},
        BadCase{R"([1,2])", "must be a JSON object"},
        BadCase{R"({"tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{}})",
                "missing field 'eventType'"},
        BadCase{R"({"eventType":"UPSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z"})",
                "must be one of INSERT"},
        BadCase{R"({"eventType":"INSERT","timestamp":"2024-01-15T10:30:00Z","after":{}})",
                "missing field 'tableName'"},
        BadCase{
            R"({"eventType":"INSERT","tableName":"","timestamp":"2024-01-15T10:30:00Z","after":{}})",
            "non-empty string"},
        BadCase{R"({"eventType":"INSERT","tableName":"t","after":{}})",
                "missing field 'timestamp'"},
        BadCase{R"({"eventType":"INSERT","tableName":"t","timestamp":"yesterday","after":{}})",
                "RFC 3339"},
        BadCase{R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z"})",
                "missing field 'after'"},
        BadCase{
            R"({"eventType":"DELETE","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}})",
            "missing field 'before'"},
        BadCase{
            R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":[1]})",
            "must be an object or null"},
        BadCase{
            R"({"eventType":"INSERT","tableName":"t","timestamp":"2024-01-15T10:30:00Z","after":{"a":1,"a":2}})",
            "twice"}));

TEST(ParseChangeEvent, ReasonsNeverQuoteRowValues) {
  auto ev = ParseChangeEventJson(
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"email":"secret@example.com","email":"secret@example.com"}})");
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().message().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace cdc
