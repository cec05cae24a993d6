#include <gtest/gtest.h>

#include <string>

#include "stream/internal.h"
#include "stream/log.h"

namespace cdc::stream {
namespace {

using internal::Uint128;

// 2^128 - 1, and a 128-bit value from its 32 hex digits.
constexpr Uint128 kMaxHash = ~Uint128{0};
Uint128 Hex128(const std::string& hex) {
  Uint128 v = 0;
  for (char c : hex) v = (v << 4) | static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
}

// MD5 digests from python3: hashlib.md5(key.encode()).hexdigest(); the expected shard is
// min(int(digest, 16) // (2**128 // n), n - 1), the range kinesalite's createStream assigns.
TEST(StreamShardForKey, FourShardsSplitOnTheTopTwoBitsOfTheMd5) {
  EXPECT_EQ(ShardForKey("a", 4), ShardId(0));        // 0cc175b9... top bits 00
  EXPECT_EQ(ShardForKey("hello", 4), ShardId(1));    // 5d41402a... top bits 01
  EXPECT_EQ(ShardForKey("4", 4), ShardId(2));        // a87ff679... top bits 10
  EXPECT_EQ(ShardForKey("", 4), ShardId(3));         // d41d8cd9... top bits 11
  EXPECT_EQ(ShardForKey("users|1", 4), ShardId(3));  // c51d7352...
  EXPECT_EQ(ShardForKey("users|2", 4), ShardId(1));  // 7b078a04...
  EXPECT_EQ(ShardForKey("users|3", 4), ShardId(1));  // 472ddf8d...
}

TEST(StreamShardForKey, OtherShardCounts) {
  // "orders|42" -> ed11ebc095ec57652c0f847c2a7672d2
  EXPECT_EQ(ShardForKey("orders|42", 1), ShardId(0));
  EXPECT_EQ(ShardForKey("orders|42", 2), ShardId(1));
  EXPECT_EQ(ShardForKey("orders|42", 3), ShardId(2));
  EXPECT_EQ(ShardForKey("orders|42", 5), ShardId(4));
  EXPECT_EQ(ShardForKey("orders|42", 7), ShardId(6));
  EXPECT_EQ(ShardForKey("orders|42", 16), ShardId(14));
  // "4" -> a87ff679a2f3e71d9181a67b7542122c
  EXPECT_EQ(ShardForKey("4", 3), ShardId(1));
  EXPECT_EQ(ShardForKey("4", 5), ShardId(3));
  EXPECT_EQ(ShardForKey("4", 7), ShardId(4));
  EXPECT_EQ(ShardForKey("4", 16), ShardId(10));
}

TEST(StreamShardForKey, ReadsTheDigestBigEndian) {
  // "6" -> 1679091c5a880faf6fb5e6087eb1b2dc: the first digest byte 0x16 is the most significant,
  // so with 16 shards (one per leading hex digit) it is shard 1.
  EXPECT_EQ(ShardForKey("6", 16), ShardId(1));
  EXPECT_EQ(internal::ShardForHash(Hex128("1679091c5a880faf6fb5e6087eb1b2dc"), 16), ShardId(1));
}

TEST(StreamShardForKey, HashKeyRangeBoundaries) {
  for (uint32_t n : {2u, 3u, 4u, 5u, 7u, 10u, 64u, 1000u}) {
    SCOPED_TRACE(n);
    EXPECT_EQ(internal::ShardForHash(0, n), ShardId(0));
    EXPECT_EQ(internal::ShardForHash(kMaxHash, n), ShardId(n - 1));
    for (uint32_t i = 1; i < n; ++i) {
      Uint128 start = internal::StartingHashKey(i, n);
      EXPECT_EQ(internal::ShardForHash(start - 1, n), ShardId(i - 1));
      EXPECT_EQ(internal::ShardForHash(start, n), ShardId(i));
    }
  }
}

TEST(StreamShardForKey, StartingHashKeysAreKinesisRanges) {
  // 4 shards: 2^128 / 4 = 2^126 per shard.
  EXPECT_EQ(internal::StartingHashKey(1, 4), Uint128{1} << 126);
  EXPECT_EQ(internal::StartingHashKey(3, 4), Uint128{3} << 126);
  // 2 shards: Kinesis shows StartingHashKey 170141183460469231731687303715884105728 = 2^127.
  EXPECT_EQ(internal::StartingHashKey(1, 2), Uint128{1} << 127);
  // 3 shards: floor(2^128 / 3) = 0x5555...55 (2^128 = 3 * 0x55..55 + 1).
  Uint128 third = Hex128("55555555555555555555555555555555");
  EXPECT_EQ(internal::StartingHashKey(1, 3), third);
  EXPECT_EQ(internal::StartingHashKey(2, 3), 2 * third);
}

TEST(StreamShardForKey, TheLastShardTakesTheRemainder) {
  // 3 shards: 3 * floor(2^128 / 3) = 2^128 - 1 is above shard 2's start plus its width; Kinesis
  // ends the last shard at 2^128 - 1, so it still belongs to shard 2.
  Uint128 third = Hex128("55555555555555555555555555555555");
  EXPECT_EQ(3 * third, kMaxHash);
  EXPECT_EQ(internal::ShardForHash(3 * third, 3), ShardId(2));
  // 7 shards: 2^128 mod 7 = 4, so the top 4 hashes are past 7 * step and go to shard 6.
  Uint128 step7 = internal::StartingHashKey(1, 7);
  EXPECT_EQ(kMaxHash - 7 * step7, Uint128{3});
  EXPECT_EQ(internal::ShardForHash(7 * step7, 7), ShardId(6));
  EXPECT_EQ(internal::ShardForHash(7 * step7 - 1, 7), ShardId(6));
  EXPECT_EQ(internal::ShardForHash(6 * step7 - 1, 7), ShardId(5));
}

TEST(StreamShardForKey, HashesTheUtf8Bytes) {
  EXPECT_EQ(ShardForKey("\xc3\xa9", 16), ShardId(6));                  // "é" -> 66ddcd97...
  EXPECT_EQ(ShardForKey("\xe6\x97\xa5\xe6\x9c\xac", 16), ShardId(4));  // "日本" -> 4dbed2e6...
}

TEST(StreamShardForKey, OneShardTakesEverything) {
  EXPECT_EQ(internal::ShardForHash(0, 1), ShardId(0));
  EXPECT_EQ(internal::ShardForHash(kMaxHash, 1), ShardId(0));
  EXPECT_EQ(ShardForKey("anything", 1), ShardId(0));
}

}  // namespace
}  // namespace cdc::stream
