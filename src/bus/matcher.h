// Rule matching: all rules of a bus are compiled once into one Matcher; matching an event returns
// the indexes of the rules whose event pattern it satisfies. The pattern language lives behind
// this interface so that the complete EventBridge language can replace the exact-value matcher
// without touching its callers.
//
// Thread-safety: a compiled Matcher is immutable; Match may be called from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cdc {

struct RulePattern {
  std::string name;
  std::string pattern_json;
};

class Matcher {
 public:
  virtual ~Matcher() = default;
  // Appends to `out` the index (into the compiled rules) of every rule that matches the event,
  // in rule order. `event_json` is one whole event.
  virtual Status Match(std::string_view event_json, std::vector<uint32_t>& out) const = 0;
};

// Checks one pattern. The error message has AWS's form:
// "Event pattern is not valid. Reason: <reason>".
Status ValidatePattern(std::string_view pattern_json);

// Compiles the rules into one matcher. Exact values only for now: strings, numbers (compared by
// value, so 300 matches 300.0), booleans and null, lists as OR, nested objects or dotted keys as
// field paths; an array in the event matches if any element does.
Result<std::unique_ptr<Matcher>> CompileMatcher(const std::vector<RulePattern>& rules);

}  // namespace cdc
