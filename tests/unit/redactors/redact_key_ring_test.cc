// The HMAC key ring: correct HMAC-SHA256, deterministic tokens, key rotation (old tokens stay
// reproducible and verifiable, new ones use the active key), loading keys from the environment
// and secret files, and errors that never show key material or hashed values.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "process/redact/key_ring.h"

namespace cdc::redact {
namespace {

const std::string kKey1 = "k1-secret-0123456789abcdef";
const std::string kKey2 = "k2-secret-fedcba9876543210";

KeyRing Ring(std::vector<std::pair<std::string, std::string>> keys, std::string_view active) {
  auto r = KeyRing::FromSecrets(keys, active);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::string TokenOf(const KeyRing& ring, std::string_view text) {
  std::string out;
  ring.AppendToken(text, out);
  return out;
}

TEST(KeyRing, MatchesRfc4231TestVectors) {
  // Test case 1: a 20-byte key.
  KeyRing a = Ring({{"t1", std::string(20, '\x0b')}}, "t1");
  EXPECT_EQ(TokenOf(a, "Hi There"),
            "hmac:t1:b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 6: a key longer than the block size is hashed first.
  KeyRing b = Ring({{"t6", std::string(131, '\xaa')}}, "t6");
  EXPECT_EQ(TokenOf(b, "Test Using Larger Than Block-Size Key - Hash Key First"),
            "hmac:t6:60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(KeyRing, TokensAreDeterministicAndKeyed) {
  KeyRing ring = Ring({{"k1", kKey1}}, "k1");
  std::string t = TokenOf(ring, "jane@example.com");
  EXPECT_EQ(t.size(), std::string("hmac:k1:").size() + KeyRing::kDigestHexLength);
  EXPECT_TRUE(t.starts_with("hmac:k1:"));
  EXPECT_EQ(TokenOf(ring, "jane@example.com"), t);
  EXPECT_NE(TokenOf(ring, "jane@example.co"), t);
  // A ring built again from the same key gives the same tokens (consumers can join across runs).
  EXPECT_EQ(TokenOf(Ring({{"k1", kKey1}}, "k1"), "jane@example.com"), t);
  // Another key, same id: a different digest.
  EXPECT_NE(TokenOf(Ring({{"k1", kKey2}}, "k1"), "jane@example.com"), t);
  std::string appended = "prefix ";
  ring.AppendToken("jane@example.com", appended);
  EXPECT_EQ(appended, "prefix " + t);
}

TEST(KeyRing, RotationKeepsOldTokensReproducibleAndVerifiable) {
  KeyRing before = Ring({{"k1", kKey1}}, "k1");
  std::string old_token = TokenOf(before, "jane@example.com");

  KeyRing after = Ring({{"k1", kKey1}, {"k2", kKey2}}, "k2");
  EXPECT_EQ(after.active_id(), "k2");
  EXPECT_EQ(after.ids(), (std::vector<std::string>{"k1", "k2"}));
  std::string new_token = TokenOf(after, "jane@example.com");
  EXPECT_TRUE(new_token.starts_with("hmac:k2:"));
  EXPECT_NE(new_token.substr(8), old_token.substr(8));

  auto reproduced = after.Token("k1", "jane@example.com");
  ASSERT_TRUE(reproduced.ok());
  EXPECT_EQ(*reproduced, old_token);
  EXPECT_TRUE(after.Verify(old_token, "jane@example.com"));
  EXPECT_TRUE(after.Verify(new_token, "jane@example.com"));
  EXPECT_FALSE(after.Verify(old_token, "john@example.com"));

  std::string tampered = new_token;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(after.Verify(tampered, "jane@example.com"));
  EXPECT_FALSE(after.Verify("hmac:k3:" + new_token.substr(8), "jane@example.com"));
  EXPECT_FALSE(after.Verify(new_token.substr(0, 20), "jane@example.com"));
  EXPECT_FALSE(after.Verify("jane@example.com", "jane@example.com"));
  // A retired key is no longer in the ring: its tokens cannot be verified any more.
  KeyRing retired = Ring({{"k2", kKey2}}, "k2");
  EXPECT_FALSE(retired.Verify(old_token, "jane@example.com"));
  EXPECT_TRUE(retired.Verify(new_token, "jane@example.com"));
}

TEST(KeyRing, LoadsKeysFromTheEnvironmentAndSecretFiles) {
  ASSERT_EQ(setenv("CDC_REDACT_TEST_K1", kKey1.c_str(), 1), 0);
  auto dir = std::filesystem::temp_directory_path() /
             ("cdc-redact-key-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "k2.key").string();
  {
    std::ofstream f(path);
    f << kKey2 << "\n";  // as `echo` or an editor writes it
  }
  auto ring = KeyRing::FromSpecs({{"k1", "env:CDC_REDACT_TEST_K1"}, {"k2", "file:" + path}}, "k2");
  std::filesystem::remove_all(dir);
  unsetenv("CDC_REDACT_TEST_K1");
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  KeyRing expected = Ring({{"k1", kKey1}, {"k2", kKey2}}, "k2");
  EXPECT_EQ(TokenOf(*ring, "x"), TokenOf(expected, "x"));
  EXPECT_EQ(*ring->Token("k1", "x"), *expected.Token("k1", "x"));
}

void ExpectError(const Result<KeyRing>& r, std::string_view fragment,
                 const std::vector<std::string>& secrets = {}) {
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
  for (const auto& s : secrets) EXPECT_EQ(m.find(s), std::string::npos) << m;
}

TEST(KeyRing, ErrorsSayWhatToFixAndNeverShowKeys) {
  unsetenv("CDC_REDACT_TEST_MISSING");
  ExpectError(KeyRing::FromSpecs({{"k1", "env:CDC_REDACT_TEST_MISSING"}}, "k1"),
              "key 'k1': environment variable CDC_REDACT_TEST_MISSING is not set or empty");
  ExpectError(KeyRing::FromSpecs({{"k1", "/run/secrets/k1"}}, "k1"),
              "must be 'env:VARIABLE', 'file:/path/to/secret' or 'generate:/path/to/secret'");
  ExpectError(KeyRing::FromSpecs({{"k1", "file:/nonexistent/cdc/k1.key"}}, "k1"),
              "cannot open secret file '/nonexistent/cdc/k1.key'");
  ExpectError(KeyRing::FromSecrets({{"k1", "short-secret"}}, "k1"),
              "key 'k1' is 12 bytes; use at least 16", {"short-secret"});
  ASSERT_EQ(setenv("CDC_REDACT_TEST_SHORT", "tiny-key", 1), 0);
  ExpectError(KeyRing::FromSpecs({{"k1", "env:CDC_REDACT_TEST_SHORT"}}, "k1"), "use at least 16",
              {"tiny-key"});
  unsetenv("CDC_REDACT_TEST_SHORT");
  ExpectError(KeyRing::FromSecrets({{"k1", kKey1}}, "k9"),
              "the active key id 'k9' is not one of the configured keys", {kKey1});
  ExpectError(KeyRing::FromSecrets({{"k1", kKey1}, {"k1", kKey2}}, "k1"),
              "key id 'k1' is listed twice", {kKey1, kKey2});
  ExpectError(KeyRing::FromSecrets({{"k:1", kKey1}}, "k:1"), "key id 'k:1' is not valid", {kKey1});
  ExpectError(KeyRing::FromSecrets({}, ""), "no key is configured");
}

TEST(KeyRing, TokenErrorsNeverShowTheValue) {
  KeyRing ring = Ring({{"k1", kKey1}}, "k1");
  auto r = ring.Token("k7", "jane.doe.secret@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "redaction keys: no key with id 'k7'");
}

TEST(KeyRing, IsSafeToShareBetweenThreads) {
  auto ring = std::make_shared<const KeyRing>(Ring({{"k1", kKey1}, {"k2", kKey2}}, "k2"));
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(TokenOf(*ring, "user" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 200; ++i) {
          if (TokenOf(*ring, "user" + std::to_string(i)) != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace cdc::redact
