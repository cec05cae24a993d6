// Partition key -> shard, exactly as Kinesis maps it.
//
// Kinesis hashes the partition key with MD5 (of its UTF-8 bytes) and reads the digest as an
// unsigned 128-bit big-endian integer; the record goes to the shard whose HashKeyRange holds that
// value. A new stream of N shards gets the ranges below. Verified against kinesalite
// (mhart/kinesalite): db/index.js `partitionKeyToHashKey` is
// `BigNumber(md5(partitionKey, 'utf8').hex, 16)`, and actions/createStream.js sets
//   shardHash        = floor(2^128 / ShardCount)
//   StartingHashKey  = shardHash * i
//   EndingHashKey    = (i < ShardCount - 1 ? shardHash * (i + 1) : 2^128) - 1
// so every shard but the last spans exactly shardHash values and the last one also takes the
// remainder 2^128 mod N, ending at 2^128 - 1 as on AWS. (An early kinesalite version ended the
// last shard at shardHash * N - 1, which leaves the remainder unmapped; we follow the current one.)
#include <openssl/evp.h>

#include "base/status.h"
#include "stream/internal.h"
#include "stream/stream.h"

namespace cdc::stream {
namespace internal {
namespace {

using u128 = Uint128;

// floor(2^128 / n) for n >= 2 (2^128 itself does not fit in 128 bits).
u128 HashStep(uint32_t n) {
  constexpr u128 kMax = ~u128{0};  // 2^128 - 1
  u128 step = kMax / n;
  // floor((kMax + 1) / n) is one more exactly when n divides kMax + 1.
  if (kMax % n == n - 1) ++step;
  return step;
}

}  // namespace

ShardId ShardForHash(u128 hash, uint32_t shard_count) {
  CDC_ASSERT(shard_count > 0, "a stream has at least one shard");
  if (shard_count == 1) return ShardId(0);
  u128 index = hash / HashStep(shard_count);
  // Hashes in the remainder above shardHash * N belong to the last shard.
  if (index >= shard_count) index = shard_count - 1;
  return ShardId(static_cast<uint32_t>(index));
}

u128 StartingHashKey(uint32_t shard, uint32_t shard_count) {
  CDC_ASSERT(shard < shard_count, "shard index out of range");
  if (shard == 0) return 0;
  return HashStep(shard_count) * shard;
}

}  // namespace internal

namespace {

// MD5 with the digest fetched once and one context per thread: a one-shot EVP_Digest call looks
// the digest up in OpenSSL's provider registry (under a lock) on every call, which cost several
// times the hashing of a short key.
class Md5 {
 public:
  Md5()
      : md_(EVP_MD_fetch(nullptr, "MD5", nullptr)),
        base_(EVP_MD_CTX_new()),
        ctx_(EVP_MD_CTX_new()) {
    CDC_ASSERT(md_ != nullptr && base_ != nullptr && ctx_ != nullptr &&
                   EVP_DigestInit_ex(base_, md_, nullptr) == 1,
               "MD5 is unavailable in this OpenSSL build");
  }
  ~Md5() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_CTX_free(base_);
    EVP_MD_free(md_);
  }
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;

  internal::Uint128 Hash(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = EVP_MD_CTX_copy_ex(ctx_, base_) == 1 &&
              EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1 &&
              EVP_DigestFinal_ex(ctx_, digest, &len) == 1 && len == 16;
    CDC_ASSERT(ok, "MD5 failed");
    internal::Uint128 hash = 0;
    for (unsigned int i = 0; i < 16; ++i) hash = (hash << 8) | digest[i];
    return hash;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* base_;  // initialized once; copied for each key
  EVP_MD_CTX* ctx_;
};

}  // namespace

ShardId ShardForKey(std::string_view partition_key, uint32_t shard_count) {
  thread_local Md5 md5;
  return internal::ShardForHash(md5.Hash(partition_key), shard_count);
}

}  // namespace cdc::stream
