// Redaction rules: what to do with one column's value (remove, null, mask, hash, truncate,
// generalize) and which PII detectors scan its free text. Rules are plain values parsed from the
// strings the configuration uses ("mask:last4", "hash", "truncate:8", "generalize:month",
// "generalize:range:100", "mask:email"), so the YAML layer only has to hand strings over.
//
// Parse errors quote the rule text and say what is accepted; rule text is configuration, never a
// row value.
//
// Thread-safety: values; safe to copy and share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cdc::redact {

enum class Action : uint8_t {
  kKeep,        // leave the value alone (a column that only has detectors)
  kRemove,      // drop the column from the row
  kNull,        // replace the value with null
  kMask,        // replace characters with '*'
  kHash,        // replace with a keyed token "hmac:<key id>:<64 hex>"
  kTruncate,    // keep the first N characters (code points)
  kGeneralize,  // a date to its year or month, a number to a range
};

enum class MaskMode : uint8_t {
  kAll,        // every character
  kKeepFirst,  // all but the first `keep` characters
  kKeepLast,   // all but the last `keep` characters
  kEmail,      // "jane@example.com" -> "j***@example.com"
};

enum class Generalization : uint8_t {
  kYear,   // "2024"
  kMonth,  // "2024-01"
  kRange,  // 150 with width 100 -> "100-199"
};

struct Rule {
  Action action = Action::kKeep;
  MaskMode mask_mode = MaskMode::kAll;
  uint32_t mask_keep = 0;        // kKeepFirst / kKeepLast
  uint32_t truncate_length = 0;  // kTruncate, >= 1
  Generalization generalization = Generalization::kYear;
  int64_t range_width = 0;  // kRange, >= 1

  bool operator==(const Rule&) const = default;
};

// Parses one rule:
//   remove | null | hash | mask | mask:all | mask:email | mask:first<N> | mask:last<N>
//   truncate:<N> | generalize:year | generalize:month | generalize:range:<width>
// ("keep" is accepted too: a column that is only scanned by detectors.)
Result<Rule> ParseRule(std::string_view text);

// The text ParseRule accepts for `rule` (ParseRule(FormatRule(r)) == r).
std::string FormatRule(const Rule& rule);

enum class Detector : uint8_t { kEmail, kCard, kPhone, kSsn, kIp };

// "email", "card", "phone", "ssn", "ip".
std::string_view DetectorName(Detector d);

// A set of detectors (a bit per Detector).
class DetectorSet {
 public:
  constexpr DetectorSet() = default;
  static constexpr DetectorSet All() { return DetectorSet(0x1f); }

  constexpr void Add(Detector d) { bits_ |= Bit(d); }
  constexpr bool Has(Detector d) const { return (bits_ & Bit(d)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const DetectorSet&) const = default;

 private:
  constexpr explicit DetectorSet(uint8_t bits) : bits_(bits) {}
  static constexpr uint8_t Bit(Detector d) {
    return static_cast<uint8_t>(1u << static_cast<int>(d));
  }
  uint8_t bits_ = 0;
};

// Parses detector names ("email", "card", "phone", "ssn", "ip"); duplicates are an error.
Result<DetectorSet> ParseDetectors(const std::vector<std::string>& names);

}  // namespace cdc::redact
