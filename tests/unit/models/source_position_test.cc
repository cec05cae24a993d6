// Opaque source positions: the PostgreSQL codec round-trips, bytes order is commit order, and
// the forms written by earlier versions (event-id keys, state store text, stream records) read
// back unchanged.
#include "event/source_position.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event/change_codec.h"
#include "event/change_event.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

TEST(SourcePosition, PgPositionRoundTripsThroughBytesAndStateText) {
  PgPosition pg{Lsn(0xAB00000001540F9EULL), TxId(4294967295u), 12};
  SourcePosition p = ToPosition(pg);
  EXPECT_EQ(p.kind(), "pg");
  EXPECT_EQ(p.bytes().size(), 16u);
  EXPECT_EQ(PgPositionOf(p), pg);
  EXPECT_TRUE(IsOrdered(p));
  EXPECT_TRUE(HasCompleteRows(p));
  auto back = ParsePositionStateText(PositionStateText(p));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  EXPECT_FALSE(PgPositionOf(ContentPosition("00ff")).has_value());
}

// "commitLsn/xid/seq" in decimal is what every earlier version stored under "source.position".
TEST(SourcePosition, StateTextIsTheFormatEarlierVersionsWrote) {
  SourcePosition p = ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 3});
  EXPECT_EQ(PositionStateText(p), "22284664/729/3");
  auto old = ParsePositionStateText("22284664/729/3");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(PgPositionOf(*old), (PgPosition{Lsn(0x1540978), TxId(729), 3}));
  EXPECT_EQ(DescribePosition(*old), "0/1540978 (txId 729, seq 3)");
  EXPECT_FALSE(ParsePositionStateText("22284664/729").has_value());
  EXPECT_FALSE(ParsePositionStateText("x/1/2").has_value());
  EXPECT_FALSE(ParsePositionStateText("").has_value());
  // Another kind round-trips in the "<kind>:<hex>" form.
  SourcePosition other("binlog", std::string("\x00\x01\xff", 3));
  EXPECT_EQ(PositionStateText(other), "binlog:0001ff");
  EXPECT_EQ(ParsePositionStateText("binlog:0001ff"), std::optional<SourcePosition>(other));
}

TEST(SourcePosition, BytesOrderIsCommitOrder) {
  // Sorted by (commit LSN, xid, seq), with values that a little-endian or decimal encoding would
  // misorder (0x100 vs 0xff, high words, seq past 255).
  std::vector<PgPosition> sorted = {
      {Lsn(0xff), TxId(9), 0},
      {Lsn(0x100), TxId(1), 0},
      {Lsn(0x100), TxId(1), 1},
      {Lsn(0x100), TxId(1), 256},
      {Lsn(0x100), TxId(2), 0},
      {Lsn(0x1'0000'0000ULL), TxId(0), 0},
      {Lsn(0xAB00000001540F9EULL), TxId(4294967295u), 4294967295u},
  };
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (size_t j = 0; j < sorted.size(); ++j) {
      auto order = ComparePositions(ToPosition(sorted[i]), ToPosition(sorted[j]));
      ASSERT_TRUE(order.has_value());
      EXPECT_EQ(*order, i <=> j) << i << " vs " << j;
    }
  }
}

TEST(SourcePosition, UnorderedOrDifferentKindsHaveNoOrder) {
  SourcePosition pg = ToPosition(PgPosition{Lsn(1), TxId(1), 0});
  SourcePosition json = ContentPosition("0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(IsOrdered(json));
  EXPECT_FALSE(HasCompleteRows(json));
  EXPECT_FALSE(ComparePositions(json, json).has_value());
  EXPECT_FALSE(ComparePositions(pg, json).has_value());
  EXPECT_FALSE(ComparePositions(pg, SourcePosition()).has_value());
  EXPECT_FALSE(IsOrdered(SourcePosition()));
}

TEST(SourcePosition, KeysAreThoseEventIdsWereAlwaysDerivedFrom) {
  EXPECT_EQ(PositionKey(ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 0})),
            "pg/0/1540978/729/0");
  EXPECT_EQ(PositionKey(ContentPosition("00ff")), "json/00ff");
  EXPECT_EQ(PositionKey(SourcePosition()), "none");
  EXPECT_EQ(PositionKey(SourcePosition("binlog", "\x01\x02")), "binlog/0102");
}

// A stream record as the previous version wrote it: the position is tag 1 then the LSN, xid
// and seq as fixed little-endian integers.
TEST(SourcePosition, StreamRecordsOfThePreviousVersionDecode) {
  ChangeEvent c;
  c.table = "users";
  c.position = ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 4});
  std::string record;
  EncodeChange(c, record);
  std::string old_position("\x01", 1);
  for (uint64_t v = 0x1540978, i = 0; i < 8; ++i, v >>= 8) {
    old_position.push_back(static_cast<char>(v & 0xff));
  }
  old_position += std::string("\xd9\x02\x00\x00\x04\x00\x00\x00", 8);
  EXPECT_NE(record.find(old_position), std::string::npos) << "the record layout changed";
  auto back = DecodeChange(record);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->position, c.position);

  // Another kind is written as kind + bytes, and read back.
  c.position = SourcePosition("binlog", std::string("\x00\x07", 2));
  record.clear();
  EncodeChange(c, record);
  back = DecodeChange(record);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->position, c.position);
}

}  // namespace
}  // namespace cdc
