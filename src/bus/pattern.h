// The EventBridge event-pattern language, parsed and validated into flat sub-rules. Internal to
// src/bus: the matcher (matcher.cc) indexes these; nothing else should include this header.
//
// A pattern compiles to one or more sub-rules (one per `$or` branch combination); a sub-rule is a
// conjunction of field conditions, one per dotted field path, and a condition is a disjunction
// of predicates. An event value is offered to predicates one scalar at a time: arrays in the
// event are flattened, so a field matches when any element does.
//
// Thread-safety: plain values; the predicate functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "bus/matcher.h"

namespace cdc::bus_internal {

// One scalar of an event, as the flattener hands it to predicates.
enum class ScalarKind : uint8_t { kString, kNumber, kTrue, kFalse, kNull };

struct Scalar {
  ScalarKind kind = ScalarKind::kNull;
  // Strings: the unescaped text. Numbers: the JSON literal.
  std::string_view text;
  // Numbers: the value, when the literal is a finite double.
  double number = 0;
  bool number_ok = false;
  // Integers too large for a double to hold exactly (account ids) compare by their digits.
  bool big_integer = false;
};

// An IP address as 16 bytes (IPv4 in the last 4) plus its family.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

// Parses an address the way AWS reads one: a dotted quad of decimal octets, or IPv6 text made
// only of hex digits and colons (no zone id, no embedded IPv4). Returns false otherwise.
bool ParseIp(std::string_view text, IpAddress& out);

// Lower-cases UTF-8 text character by character (Unicode simple case mapping where the C library
// knows it, ASCII otherwise), so equals-ignore-case can compare folded forms.
void FoldCase(std::string_view text, std::string& out);

// A wildcard pattern split at its unescaped '*': the value must start with the first segment,
// end with the last, and contain the others in order between them.
struct Wildcard {
  std::vector<std::string> segments;  // segments.size() == number of '*' + 1
  bool Matches(std::string_view value) const;
};

enum class PredicateKind : uint8_t {
  kExactString,  // text
  kExactNumber,  // number (or text for big integers)
  kExactTrue,
  kExactFalse,
  kExactNull,
  kPrefix,            // text
  kSuffix,            // text
  kEqualsIgnoreCase,  // text (folded)
  kPrefixIgnoreCase,  // text (folded)
  kSuffixIgnoreCase,  // text (folded)
  kWildcard,          // wildcard
  kNumericRange,      // lo/hi
  kCidr,              // net_lo/net_hi
  kExists,            // any value
  kAbsent,            // no value at all (exists: false)
  kAnythingBut,       // negation of `negated`, which holds positive predicates
};

struct Predicate {
  PredicateKind kind = PredicateKind::kExactNull;
  std::string text;
  double number = 0;
  bool big_integer = false;
  double lo = 0, hi = 0;
  bool lo_open = false, hi_open = false;
  IpAddress net_lo, net_hi;
  Wildcard wildcard;
  // anything-but: matches a present value that none of these match.
  std::vector<Predicate> negated;

  // Whether one scalar satisfies this predicate. kAbsent never matches a value: it is answered
  // from the field's absence.
  bool Matches(const Scalar& v) const;
};

struct FieldCondition {
  std::string path;  // dotted: "detail.after.id"
  std::vector<Predicate> predicates;
};

struct SubRule {
  std::vector<FieldCondition> conditions;  // sorted by path, one per path
};

// Parses and validates one pattern. On error the status message is
// "Event pattern is not valid. Reason: <AWS's reason>".
Result<std::vector<SubRule>> ParsePattern(std::string_view pattern_json,
                                          const PatternOptions& options);

}  // namespace cdc::bus_internal
