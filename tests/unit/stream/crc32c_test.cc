#include <gtest/gtest.h>

#include <string>

#include "stream/internal.h"
#include "stream/log.h"

namespace cdc::stream {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

std::string Sequence(int from, int step, int count) {
  std::string s;
  for (int i = 0; i < count; ++i) s.push_back(static_cast<char>(from + i * step));
  return s;
}

struct Vector {
  const char* name;
  std::string data;
  uint32_t crc;
};

std::vector<Vector> Vectors() {
  return {
      {"empty", "", 0x00000000},
      {"check value", "123456789", 0xE3069283},
      // RFC 3720 (iSCSI), appendix B.4.
      {"32 zeros", std::string(32, '\0'), 0x8A9136AA},
      {"32 x 0xff", std::string(32, '\xff'), 0x62A8AB43},
      {"32 ascending", Sequence(0, 1, 32), 0x46DD794E},
      {"32 descending", Sequence(31, -1, 32), 0x113FDB5C},
      {"iSCSI read command PDU",
       Bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
              0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
              0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
              0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),
       0xD9963A56},
  };
}

TEST(StreamCrc32c, StandardVectors) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(Crc32c(v.data), v.crc);
    EXPECT_EQ(internal::Crc32cPortable(v.data), v.crc);
  }
}

TEST(StreamCrc32c, ExtendsARunningCrc) {
  EXPECT_EQ(Crc32c("456789", Crc32c("123")), 0xE3069283u);
  EXPECT_EQ(internal::Crc32cPortable("456789", internal::Crc32cPortable("123")), 0xE3069283u);
}

TEST(StreamCrc32c, HardwareAndTableAgreeOnEveryLengthAndAlignment) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 1 + len / 8) {
      std::string_view piece(data.data() + start, len);
      ASSERT_EQ(Crc32c(piece), internal::Crc32cPortable(piece)) << start << " " << len;
    }
  }
}

}  // namespace
}  // namespace cdc::stream
