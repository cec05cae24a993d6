// Every supported type written by SQL into a real PostgreSQL 15, read back through the pgoutput
// replication stream, and checked as a typed Value and as its JSON (docs/types.md).
#include <cmath>
#include <utility>

#include "integration/postgres/pg_fixture.h"

namespace cdc::pg {
namespace {

struct Case {
  std::string literal;        // SQL expression inserted
  std::string expected_json;  // WriteValue of the streamed value
};

class PgTypesTest : public PgFixture {
 protected:
  void SetUp() override {
    PgFixture::SetUp();
    if (HasFatalFailure()) return;
    CDC_ASSERT_OK(Sql("CREATE PUBLICATION pub FOR ALL TABLES"));
    auto conn = PgReplicationConnection::Connect(Dsn());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
    auto slot = conn_->CreateSlot(db_);
    ASSERT_TRUE(slot.ok()) << slot.status().ToString();
    PgStartOptions start;
    start.slot = db_;
    start.publications = {"pub"};
    CDC_ASSERT_OK(conn_->StartReplication(start));
  }

  // Creates a table with one column of `type`, inserts every literal in one transaction and
  // returns the streamed values in order.
  std::vector<Value> RoundTrip(const std::string& type, const std::vector<std::string>& literals) {
    std::string table = "rt" + std::to_string(++tables_);
    Status s = Sql("CREATE TABLE " + table + " (id serial PRIMARY KEY, v " + type + ")");
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return {};
    }
    std::string sql = "BEGIN;";
    for (const auto& l : literals) sql += "INSERT INTO " + table + " (v) VALUES (" + l + ");";
    sql += "COMMIT;";
    s = Sql(sql);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return {};
    }
    auto tx = ReadTx(*conn_);
    if (!tx.ok()) {
      ADD_FAILURE() << tx.status().ToString();
      return {};
    }
    std::vector<Value> values;
    for (const ChangeEvent& e : tx->changes) {
      EXPECT_EQ(e.table, table);
      EXPECT_EQ(e.op, Op::kInsert);
      const Value* v = e.after ? e.after->Find("v") : nullptr;
      values.push_back(v != nullptr ? *v : Value::UnchangedToast());
    }
    EXPECT_EQ(values.size(), literals.size());
    return values;
  }

  // Round-trips the cases and checks each value's kind (unless null) and JSON.
  void Check(const std::string& type, ValueKind kind, const std::vector<Case>& cases) {
    std::vector<std::string> literals;
    for (const auto& c : cases) literals.push_back(c.literal);
    std::vector<Value> values = RoundTrip(type, literals);
    ASSERT_EQ(values.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(type + " " + cases[i].literal);
      if (!values[i].is_null()) {
        EXPECT_EQ(values[i].kind(), kind) << ValueKindName(values[i].kind());
      }
      EXPECT_EQ(JsonOf(values[i]), cases[i].expected_json);
    }
  }

  std::unique_ptr<PgReplicationConnection> conn_;
  int tables_ = 0;
};

TEST_F(PgTypesTest, Integers) {
  Check("int2", ValueKind::kInt64, {{"-32768", "-32768"}, {"32767", "32767"}, {"NULL", "null"}});
  Check("int4", ValueKind::kInt64, {{"-2147483648", "-2147483648"}, {"0", "0"}});
  Check("int8", ValueKind::kInt64,
        {{"-9223372036854775808", "-9223372036854775808"},
         {"9223372036854775807", "9223372036854775807"}});
}

TEST_F(PgTypesTest, NumericIsExact) {
  Check("numeric", ValueKind::kDecimal,
        {{"1234567890123456789012345678901234567890.0123456789",
          "1234567890123456789012345678901234567890.0123456789"},
         {"-0.000000000000000000001", "-0.000000000000000000001"},
         {"'NaN'", "\"NaN\""},
         {"'Infinity'", "\"Infinity\""},
         {"'-Infinity'", "\"-Infinity\""},
         {"0", "0"}});
  Check("numeric(12,2)", ValueKind::kDecimal,
        {{"10.5", "10.50"}, {"9999999999.99", "9999999999.99"}});
}

TEST_F(PgTypesTest, Floats) {
  Check("float8", ValueKind::kDouble,
        {{"0.1", "0.1"},
         {"1e300", "1e+300"},
         {"-2.5", "-2.5"},
         {"'NaN'", "\"NaN\""},
         {"'Infinity'", "\"Infinity\""},
         {"'-Infinity'", "\"-Infinity\""}});
  std::vector<Value> v = RoundTrip("float8", {"0.1", "'NaN'", "'-Infinity'"});
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].as_double(), 0.1);
  EXPECT_TRUE(std::isnan(v[1].as_double()));
  EXPECT_EQ(v[2].as_double(), -INFINITY);
  Check("float4", ValueKind::kDouble, {{"1.5", "1.5"}, {"'NaN'", "\"NaN\""}});
}

TEST_F(PgTypesTest, BoolTextAndUuid) {
  Check("bool", ValueKind::kBool, {{"true", "true"}, {"false", "false"}});
  Check(
      "text", ValueKind::kText,
      {{"'héllo wörld 😀 日本'", "\"héllo wörld 😀 日本\""},
       {"''", "\"\""},
       {"E'line1\\nline2 \"quoted\" back\\\\slash'", R"("line1\nline2 \"quoted\" back\\slash")"}});
  Check("varchar(10)", ValueKind::kText, {{"'abc'", "\"abc\""}});
  Check("char(5)", ValueKind::kText, {{"'ab'", "\"ab   \""}});
  Check("name", ValueKind::kText, {{"'pg_name'", "\"pg_name\""}});
  Check("uuid", ValueKind::kUuid,
        {{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\""}});
}

TEST_F(PgTypesTest, JsonIsEmbeddedMinified) {
  Check("json", ValueKind::kJson,
        {{R"('{"a" : [1, 2 ,{"b":null}], "c": "x y"}')", R"({"a":[1,2,{"b":null}],"c":"x y"})"},
         {R"('"just a string"')", R"("just a string")"}});
  Check("jsonb", ValueKind::kJson,
        {{R"('{"b": 1, "a": {"ü": [true, 1.50]}}')", R"({"a":{"ü":[true,1.50]},"b":1})"},
         {"'[]'", "[]"}});
}

TEST_F(PgTypesTest, ByteaWithZeroBytes) {
  std::vector<Value> v = RoundTrip("bytea", {"'\\x00ff0041'::bytea", "''::bytea"});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0], Value::Bytes(std::string("\0\xff\0A", 4)));
  EXPECT_EQ(JsonOf(v[0]), "\"AP8AQQ==\"");
  EXPECT_EQ(v[1], Value::Bytes(""));
}

TEST_F(PgTypesTest, DatesTimesAndTimestamps) {
  Check("date", ValueKind::kDate,
        {{"'2024-01-15'", "\"2024-01-15\""},
         {"'1970-01-01'", "\"1970-01-01\""},
         {"'infinity'", "\"infinity\""},
         {"'-infinity'", "\"-infinity\""},
         {"'0044-03-15 BC'", "\"0044-03-15 BC\""}});
  std::vector<Value> d = RoundTrip("date", {"'1970-01-02'", "'infinity'"});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], Value::Date(1));
  EXPECT_EQ(d[1], Value::Date(Value::kInfinity));
  Check("time", ValueKind::kTime,
        {{"'10:30:00.123456'", "\"10:30:00.123456\""}, {"'24:00:00'", "\"24:00:00\""}});
  Check("timetz", ValueKind::kTimeTz, {{"'10:30:00+02'", "\"10:30:00+02\""}});
  Check("timestamp", ValueKind::kTimestamp,
        {{"'2024-01-15 10:30:00.5'", "\"2024-01-15T10:30:00.5\""},
         {"'infinity'", "\"infinity\""},
         {"'-infinity'", "\"-infinity\""}});
  // Written in another time zone; the stream's session prints UTC and the value is an instant.
  Check("timestamptz", ValueKind::kTimestampTz,
        {{"'2024-01-15 10:30:00-05'", "\"2024-01-15T15:30:00Z\""},
         {"'2024-07-01 00:00:00.000001+05:30'", "\"2024-06-30T18:30:00.000001Z\""},
         {"'infinity'", "\"infinity\""},
         {"'-infinity'", "\"-infinity\""}});
  std::vector<Value> ts = RoundTrip("timestamptz", {"'1970-01-01 00:00:01+00'"});
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0], Value::TimestampTz(1000000));
}

TEST_F(PgTypesTest, IntervalAndNetworkTypes) {
  Check(
      "interval", ValueKind::kInterval,
      {{"'1 year 2 months 3 days 04:05:06.5'", "\"P1Y2M3DT4H5M6.5S\""}, {"'-1 day'", "\"P-1D\""}});
  Check("inet", ValueKind::kInet,
        {{"'192.168.0.1/24'", "\"192.168.0.1/24\""}, {"'::1'", "\"::1\""}});
  Check("cidr", ValueKind::kInet, {{"'10.0.0.0/8'", "\"10.0.0.0/8\""}});
}

TEST_F(PgTypesTest, Arrays) {
  Check("int4[]", ValueKind::kArray,
        {{"'{}'", "[]"},
         {"ARRAY[1,NULL,3]", "[1,null,3]"},
         {"'{{1,2},{3,4}}'", "[[1,2],[3,4]]"},
         {"'[0:1]={5,6}'", "[5,6]"}});
  Check("text[]", ValueKind::kArray,
        {{R"(ARRAY['a,b', 'c"d', E'e\\f', 'NULL', NULL, '', ' x ', '{}'])",
          R"(["a,b","c\"d","e\\f","NULL",null,""," x ","{}"])"}});
  Check("numeric[]", ValueKind::kArray,
        {{"ARRAY[1.10, 'NaN', 12345678901234567890123456789]",
          "[1.10,\"NaN\",12345678901234567890123456789]"}});
  Check("timestamptz[]", ValueKind::kArray,
        {{"ARRAY['2024-01-15 10:30:00+00'::timestamptz, 'infinity']",
          "[\"2024-01-15T10:30:00Z\",\"infinity\"]"}});
  Check("jsonb[]", ValueKind::kArray,
        {{R"(ARRAY['{"a": 1}'::jsonb, '[1, "x,y"]'])", R"([{"a":1},[1,"x,y"]])"}});
  Check("bytea[]", ValueKind::kArray,
        {{"ARRAY['\\x00'::bytea, '\\x4142']", "[\"AA==\",\"QUI=\"]"}});
  Check("bool[]", ValueKind::kArray, {{"'{t,f,NULL}'", "[true,false,null]"}});
  Check("uuid[]", ValueKind::kArray,
        {{"ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]",
          "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]"}});
  Check("date[]", ValueKind::kArray,
        {{"'{2024-01-15,infinity}'", "[\"2024-01-15\",\"infinity\"]"}});
  Check("varchar[]", ValueKind::kArray, {{"'{{a,b},{c,NULL}}'", "[[\"a\",\"b\"],[\"c\",null]]"}});
}

TEST_F(PgTypesTest, EnumsDomainsAndTheirArrays) {
  CDC_ASSERT_OK(
      Sql("CREATE TYPE mood AS ENUM ('happy', 'sad', 'with space');"
          "CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);"
          "CREATE DOMAIN money2 AS numeric(12,2);"
          "CREATE DOMAIN posint2 AS posint;"));
  Check("mood", ValueKind::kText, {{"'happy'", "\"happy\""}});
  Check("mood[]", ValueKind::kArray, {{"'{happy,\"with space\"}'", "[\"happy\",\"with space\"]"}});
  Check("posint", ValueKind::kInt64, {{"42", "42"}});
  Check("posint2", ValueKind::kInt64, {{"7", "7"}});
  Check("money2", ValueKind::kDecimal, {{"12.5", "12.50"}});
  Check("posint[]", ValueKind::kArray, {{"ARRAY[1,2]::posint[]", "[1,2]"}});
}

TEST_F(PgTypesTest, UnknownTypesAreText) {
  CDC_ASSERT_OK(Sql("CREATE TYPE pair AS (a int, b text)"));
  Check("point", ValueKind::kText, {{"'(1,2)'", "\"(1,2)\""}});
  Check("macaddr", ValueKind::kText, {{"'08:00:2b:01:02:03'", "\"08:00:2b:01:02:03\""}});
  Check("pair", ValueKind::kText, {{"ROW(1, 'x y')", "\"(1,\\\"x y\\\")\""}});
  Check("int4range", ValueKind::kText, {{"'[1,5)'", "\"[1,5)\""}});
}

// test_decoding is an independent oracle: it prints PostgreSQL's own text of every value.
TEST_F(PgTypesTest, AgreesWithTestDecoding) {
  CDC_ASSERT_OK(Sql("SELECT pg_create_logical_replication_slot('oracle', 'test_decoding')"));
  std::vector<Value> v = RoundTrip("numeric", {"'3.14159265358979323846264338327950288'"});
  ASSERT_EQ(v.size(), 1u);
  auto oracle = SqlValue(
      "SELECT string_agg(data, E'\\n') FROM pg_logical_slot_get_changes('oracle', NULL, NULL) "
      "WHERE data LIKE 'table%'");
  ASSERT_TRUE(oracle.ok()) << oracle.status().ToString();
  EXPECT_NE(oracle->find("v[numeric]:" + std::string(v[0].as_string())), std::string::npos)
      << *oracle;
}

}  // namespace
}  // namespace cdc::pg
