// Hashes and deterministic identifiers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cdc {

std::array<uint8_t, 20> Sha1(std::string_view data);
std::array<uint8_t, 32> Sha256(std::string_view data);

// A name-based UUID (RFC 4122 version 5, SHA-1) of `name` in the namespace `ns` (a UUID string
// such as "6ba7b811-9dad-11d1-80b4-00c04fd430c8"). The same inputs always give the same UUID.
std::string UuidV5(std::string_view ns, std::string_view name);

// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace cdc
