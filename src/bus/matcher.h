// Rule matching: all rules of a bus are compiled once into one Matcher; matching an event returns
// the indexes of the rules whose event pattern it satisfies. The language is the complete
// EventBridge event-pattern language: exact values, prefix, suffix, equals-ignore-case,
// wildcard, anything-but, numeric, cidr, exists, `$or`, nested objects and arrays, with AWS's
// actual semantics where they differ from its docs (numbers compare by value, a null value is not
// a missing field, anything-but never matches a missing field, dotted keys are nesting).
//
// Cost: each event is parsed once and only the fields some rule uses are read (or, given the
// event's structure, only those fields are read from it, and nothing is parsed). Exact, prefix,
// suffix and equals-ignore-case values are looked up in per-field hash tables and tries, so their
// cost does not grow with the number of rules; wildcard, numeric ranges, cidr and anything-but
// are checked one by one per field.
//
// Thread-safety: a compiled Matcher is immutable; Match may be called from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "event/event_visitor.h"

namespace cdc {

// Limits applied when validating and compiling patterns (AWS's defaults).
struct PatternOptions {
  // Maximum pattern length in characters (AWS's quota is 2048, adjustable to 4096).
  size_t max_pattern_chars = 2048;
  // Maximum number of sub-patterns a pattern's `$or`s may expand to.
  size_t max_or_combinations = 1000;
  // Maximum wildcard complexity of one field of one (sub-)pattern, measured as the number of '*'
  // in all wildcard operands on that field. AWS does not publish its measure; it rejects eight
  // wildcards on one field and accepts six.
  size_t max_wildcard_complexity = 7;
};

// How deep the matcher follows an event: a value nested deeper than this (the event itself is at
// depth 0) along a path some rule reads makes Match fail with InvalidArgument (the event is
// dead-lettered with that reason). Bounds the matcher's recursion whatever the event holds.
inline constexpr int kMaxEventDepth = 200;

struct RulePattern {
  std::string name;
  std::string pattern_json;
};

class Matcher {
 public:
  virtual ~Matcher() = default;
  // Appends to `out` the index (into the compiled rules) of every rule that matches the event,
  // in rule order. `event_json` is one whole event. Fails with InvalidArgument when the event is
  // not JSON or nested deeper than kMaxEventDepth where a rule reads; fields no rule uses are
  // skipped, so only their structure is checked, not their contents.
  virtual Status Match(std::string_view event_json, std::vector<uint32_t>& out) const = 0;

  // The same result for an event whose structure is at hand: `event` writes what `event_json`
  // holds (the pipeline's EnvelopeView), and the matcher reads the fields its rules use from it
  // instead of parsing the text again; the text itself is only checked to be valid UTF-8, as the
  // parser would. Raw JSON values (JSON columns, decimals) on a path some rule uses are parsed.
  virtual Status Match(std::string_view event_json, const VisitableEvent& event,
                       std::vector<uint32_t>& out) const = 0;
};

// Checks one pattern. The error message has AWS's form:
// "Event pattern is not valid. Reason: <reason>".
Status ValidatePattern(std::string_view pattern_json, const PatternOptions& options = {});

// Compiles the rules into one matcher. An invalid rule fails the whole compilation with
// "rule '<name>': Event pattern is not valid. Reason: ...".
Result<std::unique_ptr<Matcher>> CompileMatcher(const std::vector<RulePattern>& rules,
                                                const PatternOptions& options = {});

}  // namespace cdc
