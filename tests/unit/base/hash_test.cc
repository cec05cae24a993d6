#include "base/hash.h"

#include <gtest/gtest.h>

namespace cdc {
namespace {

TEST(UuidV5, MatchesRfc4122Example) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  EXPECT_EQ(UuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

TEST(UuidV5, IsDeterministicAndDistinct) {
  std::string ns = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";
  EXPECT_EQ(UuidV5(ns, "a"), UuidV5(ns, "a"));
  EXPECT_NE(UuidV5(ns, "a"), UuidV5(ns, "b"));
  std::string id = UuidV5(ns, "a");
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '5');
}

TEST(Encoding, HexAndBase64) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\0\1\2", 3)), "AAEC");
}

TEST(Encoding, Base64DecodeRoundTrip) {
  std::string out;
  for (std::string bytes : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                            std::string("foob"), std::string("\0\xff\x80\x01", 4)}) {
    ASSERT_TRUE(Base64Decode(Base64Encode(bytes), out)) << bytes;
    EXPECT_EQ(out, bytes);
  }
  EXPECT_FALSE(Base64Decode("Zg=", out));       // not a multiple of 4
  EXPECT_FALSE(Base64Decode("Z!==", out));      // outside the alphabet
  EXPECT_FALSE(Base64Decode("Zg==Zg==", out));  // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9v YmFy", out));
}

TEST(Sha256, KnownVector) {
  auto d = Sha256("abc");
  EXPECT_EQ(HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace cdc
