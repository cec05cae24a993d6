#include "event/change_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "event/position_kinds.h"

namespace cdc {
namespace {

ChangeEvent EveryKind() {
  ChangeEvent c;
  c.schema = "billing";
  c.table = "invoices";
  c.op = Op::kUpdate;
  c.schema_version = 3;
  c.commit_time.micros = 1705314600123456;
  c.position = ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 4});
  Row before;
  before.Add("id", Value::Int64(std::numeric_limits<int64_t>::min()));
  before.Add("note", Value::Null());
  c.before = before;
  Row after;
  after.Add("id", Value::Int64(42));
  after.Add("ok", Value::Bool(true));
  after.Add("ratio", Value::Double(-0.1));
  after.Add("amount", Value::Decimal("-12.50"));
  after.Add("name", Value::Text(std::string("a\0b\n\"", 5)));
  after.Add("blob", Value::Bytes(std::string("\x00\xff\x10", 3)));
  after.Add("ts", Value::Timestamp(Value::kInfinity));
  after.Add("tstz", Value::TimestampTz(-1));
  after.Add("d", Value::Date(Value::kMinusInfinity));
  after.Add("t", Value::Time(86399999999));
  after.Add("ttz", Value::TimeTz("10:30:00+02"));
  after.Add("iv", Value::Interval("P1D"));
  after.Add("ip", Value::Inet("192.168.0.1/24"));
  after.Add("u", Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  after.Add("j", Value::Json(R"({"a":[1,2]})"));
  after.Add("arr", Value::Array({Value::Array({Value::Int64(1), Value::Null()}),
                                 Value::Array({Value::Text("x")})}));
  after.Add("big", Value::UnchangedToast());
  c.after = after;
  c.key.Add("id", Value::Int64(42));
  c.unchanged_toast = {"big"};
  return c;
}

void ExpectSame(const ChangeEvent& a, const ChangeEvent& b) {
  EXPECT_EQ(a.schema, b.schema);
  EXPECT_EQ(a.table, b.table);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.commit_time, b.commit_time);
  EXPECT_EQ(a.position, b.position);
  EXPECT_EQ(a.before, b.before);
  EXPECT_EQ(a.after, b.after);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.unchanged_toast, b.unchanged_toast);
}

TEST(ChangeCodec, EveryValueKindRoundTrips) {
  ChangeEvent c = EveryKind();
  std::string data;
  EncodeChange(c, data);
  auto back = DecodeChange(data);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(c, *back);
}

TEST(ChangeCodec, NanAndContentPositionAndMissingImagesRoundTrip) {
  ChangeEvent c;
  c.table = "users";
  c.op = Op::kDelete;
  c.position = ContentPosition("0123456789abcdef0123456789abcdef");
  c.before = Row();
  c.before->Add("score", Value::Double(std::nan("")));
  std::string data;
  EncodeChange(c, data);
  auto back = DecodeChange(data);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->position, c.position);
  EXPECT_FALSE(back->after.has_value());
  ASSERT_TRUE(back->before.has_value());
  EXPECT_TRUE(std::isnan(back->before->Find("score")->as_double()));
}

TEST(ChangeCodec, EveryTruncationIsAnErrorNotACrash) {
  std::string data;
  EncodeChange(EveryKind(), data);
  for (size_t n = 0; n < data.size(); ++n) {
    auto r = DecodeChange(std::string_view(data).substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
  }
}

TEST(ChangeCodec, TrailingBytesAndForeignVersionAreRejected) {
  std::string data;
  EncodeChange(EveryKind(), data);
  auto trailing = DecodeChange(data + "x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("trailing"), std::string::npos);
  data[0] = 9;
  auto foreign = DecodeChange(data);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("version 9"), std::string::npos);
}

TEST(ChangeCodec, HugeCountsInGarbageDoNotAllocate) {
  // version, schema "", table "", op, schema_version, time, position none, flags after, then a
  // column count of 2^62.
  std::string data("\x01\x00\x00\x00", 4);
  data.append(4, '\0');
  data.append(8, '\0');
  data.push_back('\0');
  data.push_back('\x02');
  data.append("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  EXPECT_FALSE(DecodeChange(data).ok());
}

}  // namespace
}  // namespace cdc
