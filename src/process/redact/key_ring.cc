#include "process/redact/key_ring.h"

// SHA256_Init/Update/Final are deprecated since OpenSSL 3.0 in favour of EVP, but EVP cannot
// copy a keyed digest state without allocating (EVP_MD_CTX_copy_ex duplicates the provider's
// context on the heap and frees the old one), which made a token cost twice as much. A
// SHA256_CTX is a plain struct: copying the prepared HMAC pads is a memcpy. The functions run the
// same SHA-256 code as EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cdc::redact {
namespace {

constexpr size_t kBlockSize = 64;  // SHA-256 block
constexpr size_t kDigestSize = 32;
constexpr size_t kMinKeyBytes = 16;
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr std::string_view kTokenPrefix = "hmac:";

bool ValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Overwrites the secret in `s` before it is freed.
void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Result<std::string> ReadSecretFile(const std::string& id, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return ErrnoError("key '" + id + "': cannot open secret file '" + path + "'", errno)
        .WithContext("redaction keys");
  }
  std::string data(kMaxKeyFileBytes + 1, '\0');
  size_t n = std::fread(data.data(), 1, data.size(), f);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    Wipe(data);
    return IoError("redaction keys: key '" + id + "': cannot read secret file '" + path + "'");
  }
  if (n > kMaxKeyFileBytes) {
    Wipe(data);
    return InvalidArgument("redaction keys: key '" + id + "': secret file '" + path +
                           "' is larger than " + std::to_string(kMaxKeyFileBytes) +
                           " bytes; it should hold just the key");
  }
  data.resize(n);
  // Files written by editors and `echo` end with a newline that is not part of the key.
  if (!data.empty() && data.back() == '\n') data.pop_back();
  if (!data.empty() && data.back() == '\r') data.pop_back();
  return data;
}

// `generate:PATH`: the key in PATH, created on first use with 32 random bytes (hex) and mode
// 0600, so a new installation works without setup and its tokens stay stable afterwards.
Result<std::string> ReadOrCreateSecretFile(const std::string& id, const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) return ReadSecretFile(id, path);
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError("redaction keys: key '" + id + "': cannot create '" + dir + "'", errno);
    }
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    return Internal("redaction keys: key '" + id + "': no random bytes for a new key");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string key;
  for (unsigned char c : raw) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 0xf]);
  }
  OPENSSL_cleanse(raw, sizeof(raw));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Wipe(key);
    // Another process created it first: use that one.
    if (errno == EEXIST) return ReadSecretFile(id, path);
    return ErrnoError("redaction keys: key '" + id + "': cannot create '" + path + "'", errno);
  }
  std::string line = key + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  Wipe(line);
  if (!ok) {
    Wipe(key);
    ::unlink(path.c_str());
    return IoError("redaction keys: key '" + id + "': cannot write '" + path + "'");
  }
  return key;
}

}  // namespace

struct KeyRing::Key {
  std::string id;
  SHA256_CTX inner;  // SHA-256 state after absorbing key ^ ipad
  SHA256_CTX outer;  // SHA-256 state after absorbing key ^ opad
  ~Key() {
    OPENSSL_cleanse(&inner, sizeof(inner));
    OPENSSL_cleanse(&outer, sizeof(outer));
  }
};

namespace {

// HMAC (RFC 2104) with the pads absorbed up front, so each value costs two state copies and
// two short hashes.
Status PrepareKey(std::string_view secret, SHA256_CTX& inner, SHA256_CTX& outer) {
  unsigned char block[kBlockSize] = {};
  if (secret.size() > kBlockSize) {
    unsigned int len = 0;
    if (EVP_Digest(secret.data(), secret.size(), block, &len, EVP_sha256(), nullptr) != 1) {
      return Internal("SHA-256 of a long key failed");
    }
  } else {
    std::memcpy(block, secret.data(), secret.size());
  }
  unsigned char ipad[kBlockSize];
  unsigned char opad[kBlockSize];
  for (size_t i = 0; i < kBlockSize; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  bool ok = SHA256_Init(&inner) == 1 && SHA256_Update(&inner, ipad, kBlockSize) == 1 &&
            SHA256_Init(&outer) == 1 && SHA256_Update(&outer, opad, kBlockSize) == 1;
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(ipad, sizeof(ipad));
  OPENSSL_cleanse(opad, sizeof(opad));
  if (!ok) return Internal("initialising SHA-256 failed");
  return Status::Ok();
}

void Mac(const SHA256_CTX& inner, const SHA256_CTX& outer, std::string_view text,
         unsigned char (&mac)[kDigestSize]) {
  unsigned char inner_digest[kDigestSize];
  SHA256_CTX s = inner;
  bool ok = SHA256_Update(&s, text.data(), text.size()) == 1 && SHA256_Final(inner_digest, &s) == 1;
  s = outer;
  ok = ok && SHA256_Update(&s, inner_digest, kDigestSize) == 1 && SHA256_Final(mac, &s) == 1;
  // SHA256_Final wipes the state; the inner digest is derived from the value.
  OPENSSL_cleanse(inner_digest, sizeof(inner_digest));
  CDC_ASSERT(ok, "HMAC-SHA256 failed");
}

void AppendHex(const unsigned char* bytes, size_t n, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + 2 * n);
  char* p = out.data() + at;
  for (size_t i = 0; i < n; ++i) {
    p[2 * i] = kHex[bytes[i] >> 4];
    p[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
}

}  // namespace

KeyRing::KeyRing(std::vector<std::unique_ptr<Key>> keys, size_t active)
    : keys_(std::move(keys)), active_(active) {}
KeyRing::KeyRing(KeyRing&&) noexcept = default;
KeyRing& KeyRing::operator=(KeyRing&&) noexcept = default;
KeyRing::~KeyRing() = default;

Result<KeyRing> KeyRing::FromSecrets(const std::vector<std::pair<std::string, std::string>>& keys,
                                     std::string_view active_id) {
  if (keys.empty()) return InvalidArgument("redaction keys: no key is configured");
  std::vector<std::unique_ptr<Key>> ring;
  size_t active = keys.size();
  for (const auto& [id, secret] : keys) {
    if (!ValidKeyId(id)) {
      return InvalidArgument("redaction keys: key id '" + id +
                             "' is not valid: use 1 to 64 letters, digits, '_', '-' or '.'");
    }
    for (const auto& k : ring) {
      if (k->id == id)
        return InvalidArgument("redaction keys: key id '" + id + "' is listed twice");
    }
    if (secret.size() < kMinKeyBytes) {
      return InvalidArgument("redaction keys: key '" + id + "' is " +
                             std::to_string(secret.size()) + " bytes; use at least " +
                             std::to_string(kMinKeyBytes) +
                             " (e.g. the output of `openssl rand -hex 32`)");
    }
    auto key = std::make_unique<Key>();
    key->id = id;
    CDC_RETURN_IF_ERROR(
        PrepareKey(secret, key->inner, key->outer).WithContext("redaction keys: key '" + id + "'"));
    if (id == active_id) active = ring.size();
    ring.push_back(std::move(key));
  }
  if (active == keys.size()) {
    return InvalidArgument("redaction keys: the active key id '" + std::string(active_id) +
                           "' is not one of the configured keys");
  }
  return KeyRing(std::move(ring), active);
}

Result<KeyRing> KeyRing::FromSpecs(const std::vector<KeySpec>& specs, std::string_view active_id) {
  std::vector<std::pair<std::string, std::string>> secrets;
  auto wipe_all = [&] {
    for (auto& s : secrets) Wipe(s.second);
  };
  for (const auto& spec : specs) {
    std::string_view source = spec.source;
    if (source.starts_with("env:") && source.size() > 4) {
      std::string var(source.substr(4));
      const char* v = std::getenv(var.c_str());
      if (v == nullptr || *v == '\0') {
        wipe_all();
        return InvalidArgument("redaction keys: key '" + spec.id + "': environment variable " +
                               var + " is not set or empty");
      }
      secrets.emplace_back(spec.id, v);
    } else if (source.starts_with("file:") && source.size() > 5) {
      auto data = ReadSecretFile(spec.id, std::string(source.substr(5)));
      if (!data.ok()) {
        wipe_all();
        return data.status();
      }
      secrets.emplace_back(spec.id, std::move(data).value());
    } else if (source.starts_with("generate:") && source.size() > 9) {
      auto data = ReadOrCreateSecretFile(spec.id, std::string(source.substr(9)));
      if (!data.ok()) {
        wipe_all();
        return data.status();
      }
      secrets.emplace_back(spec.id, std::move(data).value());
    } else {
      wipe_all();
      return InvalidArgument("redaction keys: key '" + spec.id + "': source '" + spec.source +
                             "' must be 'env:VARIABLE', 'file:/path/to/secret' or "
                             "'generate:/path/to/secret'");
    }
  }
  auto ring = FromSecrets(secrets, active_id);
  wipe_all();
  return ring;
}

const std::string& KeyRing::active_id() const { return keys_[active_]->id; }

const KeyRing::Key* KeyRing::FindKey(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k->id == id) return k.get();
  }
  return nullptr;
}

bool KeyRing::Has(std::string_view key_id) const { return FindKey(key_id) != nullptr; }

std::vector<std::string> KeyRing::ids() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(k->id);
  return out;
}

namespace {

void AppendTokenWith(const std::string& id, const SHA256_CTX& inner, const SHA256_CTX& outer,
                     std::string_view text, std::string& out) {
  unsigned char mac[kDigestSize];
  Mac(inner, outer, text, mac);
  out.reserve(out.size() + kTokenPrefix.size() + id.size() + 1 + 2 * kDigestSize);
  out.append(kTokenPrefix);
  out.append(id);
  out.push_back(':');
  AppendHex(mac, kDigestSize, out);
}

}  // namespace

void KeyRing::AppendToken(std::string_view text, std::string& out) const {
  const Key& k = *keys_[active_];
  AppendTokenWith(k.id, k.inner, k.outer, text, out);
}

Result<std::string> KeyRing::Token(std::string_view key_id, std::string_view text) const {
  const Key* k = FindKey(key_id);
  if (k == nullptr) return NotFound("redaction keys: no key with id '" + std::string(key_id) + "'");
  std::string out;
  AppendTokenWith(k->id, k->inner, k->outer, text, out);
  return out;
}

bool KeyRing::Verify(std::string_view token, std::string_view text) const {
  if (!token.starts_with(kTokenPrefix)) return false;
  std::string_view rest = token.substr(kTokenPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  const Key* k = FindKey(rest.substr(0, colon));
  if (k == nullptr) return false;
  std::string expected;
  AppendTokenWith(k->id, k->inner, k->outer, text, expected);
  if (expected.size() != token.size()) return false;
  return CRYPTO_memcmp(expected.data(), token.data(), token.size()) == 0;
}

}  // namespace cdc::redact
