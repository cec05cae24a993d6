// PII detectors for free text: e-mail addresses, payment card numbers, phone numbers, US social
// security numbers and IP addresses. Hand-written scanners rather than regular expressions, so a
// text without PII costs one pass over its bytes and no allocation.
//
// What each detector accepts (and, as important, what it rejects to avoid false positives):
//   email  local@domain.tld: local part of letters, digits and ._%+-; at least two domain labels;
//          an alphabetic top-level label of 2+ letters. ASCII only (no internationalised names).
//   card   13-19 digits, optionally grouped by single spaces or dashes, that pass the Luhn check
//          and start with 2-6 (the payment-card industry digits), not part of a longer number.
//   phone  international "+<8-15 digits>" with single spaces, dashes, dots or a "(0)"-style group
//          between digit groups; North American "(415) 555-2671", "415-555-2671", "415.555.2671",
//          "415 555 2671", optionally after "1-" / "1 ", with area code and exchange starting
//          2-9. A bare run of digits is not a phone number (too many ids and amounts look alike).
//   ssn    ###-##-#### only, excluding area 000, 666 and 900-999, group 00 and serial 0000.
//   ip     dotted-quad IPv4 (each part 0-255, not part of a longer dotted number) and IPv6 (as
//          inet_pton reads it, including "::" forms and an embedded IPv4), ignoring IPv6 forms
//          with fewer than four hex digits ("::1", "a::b") that are rarely addresses and often
//          code.
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "process/redact/rule.h"

namespace cdc::redact {

// A piece of PII in a text: bytes [begin, end).
struct PiiSpan {
  size_t begin = 0;
  size_t end = 0;
  Detector kind = Detector::kEmail;
  bool operator==(const PiiSpan&) const = default;
};

// Appends to `out` the PII found in `text` by the given detectors: ordered by position, never
// overlapping (where two detectors claim overlapping text, the one starting first wins).
void FindPii(std::string_view text, DetectorSet detectors, std::vector<PiiSpan>& out);

// Whether `digits` (ASCII digits only) passes the Luhn checksum.
bool LuhnValid(std::string_view digits);

}  // namespace cdc::redact
