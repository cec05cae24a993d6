// KeyRing: the HMAC-SHA256 keys behind the `hash` redaction rule, by key id, so keys can rotate.
//
// A token is "hmac:<key id>:<64 lower-case hex>" = HMAC-SHA256(key, text). It is deterministic:
// the same text under the same key always gives the same token, so consumers can still join on
// it, and anyone holding the key can reproduce or verify it. New tokens use the active key; the
// older keys stay in the ring so tokens they produced can still be reproduced and verified.
//
// Key material comes from the environment ("env:VAR") or a secret file ("file:/path"); the bytes
// are the key as they are (a file's one trailing newline is dropped), e.g. the text printed by
// `openssl rand -hex 32`. Keys are at least 16 bytes. Errors name key ids, variables and paths,
// never key material.
//
// The HMAC inner and outer SHA-256 states are computed once per key when the ring is built;
// each token copies them instead of re-keying. (Copying a pre-keyed EVP_MAC_CTX costs about
// 2.3 us per value on OpenSSL 3.0, re-initialising one 0.7 us; the copied SHA-256 states 0.3 us.)
//
// Thread-safety: a built KeyRing is immutable; all const methods may be called from many threads
// at once (each thread uses its own scratch digest context). Share it as
// std::shared_ptr<const KeyRing>.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cdc::redact {

// One key of the ring: its id (letters, digits, '_', '-', '.'; no ':') and where its bytes are,
// "env:VAR" or "file:/path/to/secret".
struct KeySpec {
  std::string id;
  std::string source;
};

class KeyRing {
 public:
  // The length of a token's hex digest.
  static constexpr size_t kDigestHexLength = 64;

  // Loads every key (reads the environment and the secret files; this is the only I/O).
  static Result<KeyRing> FromSpecs(const std::vector<KeySpec>& specs, std::string_view active_id);
  // Builds a ring from key bytes already in memory: (id, key) pairs.
  static Result<KeyRing> FromSecrets(const std::vector<std::pair<std::string, std::string>>& keys,
                                     std::string_view active_id);

  KeyRing(KeyRing&&) noexcept;
  KeyRing& operator=(KeyRing&&) noexcept;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;
  ~KeyRing();

  const std::string& active_id() const;
  bool Has(std::string_view key_id) const;
  // Key ids in the order they were given.
  std::vector<std::string> ids() const;

  // Appends the active key's token for `text` to `out`. CPU-only.
  void AppendToken(std::string_view text, std::string& out) const;
  // The token for `text` under a given key (e.g. to reproduce a token made before a rotation).
  // NotFound when the ring has no such key; the message names the id, never the text.
  Result<std::string> Token(std::string_view key_id, std::string_view text) const;
  // Whether `token` is the token of `text` under the key it names (any key of the ring).
  // Compares in constant time.
  bool Verify(std::string_view token, std::string_view text) const;

 private:
  struct Key;
  KeyRing(std::vector<std::unique_ptr<Key>> keys, size_t active);
  const Key* FindKey(std::string_view id) const;

  std::vector<std::unique_ptr<Key>> keys_;
  size_t active_ = 0;
};

}  // namespace cdc::redact
