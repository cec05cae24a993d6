// SHA1_Init/Update/Final are deprecated since OpenSSL 3.0 in favour of EVP, but the event id is
// hashed for every event from a prepared state, and EVP cannot copy a digest state without
// allocating (EVP_MD_CTX_copy_ex duplicates the provider's context on the heap); a SHA_CTX is a
// plain struct. The functions run the same SHA-1 code as EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "base/hash.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <memory>

namespace cdc {

std::array<uint8_t, 20> Sha1(std::string_view data) {
  std::array<uint8_t, 20> out;
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

namespace {

// SHA-1 with the namespace already absorbed. One per thread and namespace: the event id is
// computed for every event, and a one-shot SHA1() call fetches the digest from OpenSSL's provider
// registry (under a lock) each time.
class NamespaceHasher {
 public:
  explicit NamespaceHasher(std::string_view ns) : ns_(ns) {
    std::string bytes;
    int hi = -1;
    for (char c : ns) {
      int v = HexValue(c);
      if (v < 0) continue;
      if (hi < 0) {
        hi = v;
      } else {
        bytes.push_back(static_cast<char>(hi << 4 | v));
        hi = -1;
      }
    }
    SHA1_Init(&base_);
    SHA1_Update(&base_, bytes.data(), bytes.size());
  }

  const std::string& ns() const { return ns_; }

  std::array<uint8_t, 20> Digest(std::string_view name) const {
    std::array<uint8_t, 20> out;
    SHA_CTX work = base_;
    SHA1_Update(&work, name.data(), name.size());
    SHA1_Final(out.data(), &work);
    return out;
  }

 private:
  std::string ns_;
  SHA_CTX base_;
};

}  // namespace

std::string UuidV5(std::string_view ns, std::string_view name) {
  thread_local std::unique_ptr<NamespaceHasher> hasher;
  if (!hasher || hasher->ns() != ns) hasher = std::make_unique<NamespaceHasher>(ns);
  auto digest = hasher->Digest(name);
  digest[6] = static_cast<uint8_t>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<uint8_t>((digest[8] & 0x3f) | 0x80);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.resize(4 * ((bytes.size() + 2) / 3));
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  if (text.empty()) return true;
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(text.size() / 4 * 3);
  // EVP_DecodeBlock rejects characters outside the alphabet and counts the padding as zero
  // bytes, which are cut off below.
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return false;
  for (size_t i = 0; i + pad < text.size(); ++i) {
    if (text[i] == '=') return false;  // padding only at the end
  }
  out.resize(out.size() - pad);
  return true;
}

std::string SealWithSha1(std::string_view magic, std::string_view body) {
  auto sum = Sha1(body);
  std::string out(magic);
  out += body;
  out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  return out;
}

Result<std::string_view> UnsealWithSha1(std::string_view data, std::string_view magic,
                                        std::string_view not_this) {
  constexpr size_t kSum = 20;
  if (data.size() < magic.size() + kSum || !data.starts_with(magic)) {
    return Corruption(std::string(not_this));
  }
  std::string_view body = data.substr(magic.size(), data.size() - magic.size() - kSum);
  auto want = Sha1(body);
  if (data.substr(data.size() - kSum) !=
      std::string_view(reinterpret_cast<const char*>(want.data()), want.size())) {
    return Corruption("checksum mismatch");
  }
  return body;
}

}  // namespace cdc
