// Hashes and deterministic identifiers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cdc {

std::array<uint8_t, 20> Sha1(std::string_view data);
std::array<uint8_t, 32> Sha256(std::string_view data);

// A name-based UUID (RFC 4122 version 5, SHA-1) of `name` in the namespace `ns` (a UUID string
// such as "6ba7b811-9dad-11d1-80b4-00c04fd430c8"). The same inputs always give the same UUID.
std::string UuidV5(std::string_view ns, std::string_view name);

// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);

// The framing of the small checksummed files kept in the data dir: `magic`, then `body`, then
// the SHA-1 of `body` (20 bytes).
std::string SealWithSha1(std::string_view magic, std::string_view body);
// The body of sealed `data`: Corruption(`not_this`) when it does not start with `magic`,
// Corruption("checksum mismatch") when the checksum is wrong. Points into `data`.
Result<std::string_view> UnsealWithSha1(std::string_view data, std::string_view magic,
                                        std::string_view not_this);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);
// Decodes standard base64 with padding (whitespace not allowed) into `out`; false when `text` is
// not base64.
bool Base64Decode(std::string_view text, std::string& out);

}  // namespace cdc
