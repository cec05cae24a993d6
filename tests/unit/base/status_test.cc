#include "base/status.h"

#include <gtest/gtest.h>

#include "base/position.h"

namespace cdc {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Quarter(int x, int& out) {
  CDC_ASSIGN_OR_RETURN(int h, Half(x));
  CDC_ASSIGN_OR_RETURN(out, Half(h));
  return Status::Ok();
}

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Unavailable("target down");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.retryable());
  EXPECT_FALSE(InvalidArgument("x").retryable());
  EXPECT_EQ(s.ToString(), "Unavailable: target down");
  EXPECT_EQ(s.WithContext("target 'crm'").message(), "target 'crm': target down");
  EXPECT_EQ(Corruption("bad crc").set_data_loss().ToString(),
            "Corruption: bad crc (data may have been lost)");
}

TEST(Status, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd: 3");
}

TEST(Result, OkStatusWithoutValueIsAnError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(Lsn, FormatsAndParsesLikePgLsn) {
  Lsn lsn((uint64_t{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(lsn.ToString(), "16/B374D848");
  EXPECT_EQ(Lsn::Parse("16/B374D848"), lsn);
  EXPECT_EQ(Lsn::Parse("0/1540978")->value(), 0x1540978u);
  EXPECT_FALSE(Lsn::Parse("16B374D848").has_value());
  EXPECT_FALSE(Lsn::Parse("/1").has_value());
  EXPECT_FALSE(Lsn::Parse("G/1").has_value());
  EXPECT_LT(Lsn(1), Lsn(2));
}

TEST(PositionTypes, AreDistinct) {
  static_assert(!std::is_convertible_v<StreamOffset, Lsn>);
  static_assert(!std::is_convertible_v<Lsn, StreamOffset>);
  static_assert(!std::is_convertible_v<uint64_t, Lsn>);
  EXPECT_EQ(StreamOffset(5).value(), 5u);
}

}  // namespace
}  // namespace cdc
