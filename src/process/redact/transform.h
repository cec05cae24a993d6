// The value-level operations behind the redaction rules: the canonical text of a value, masking,
// UTF-8-safe truncation and generalization. The Redactor combines them; they are separate so
// each can be tested on its own.
//
// Values that are not text are redacted through their canonical text: the value as the output
// JSON shows it, without the quotes of a JSON string ("42", "129.90", "true", "2024-01-15",
// "2024-01-15T10:30:00Z", base64 for bytes, minified JSON for json and arrays). A consumer holding
// the HMAC key can therefore reproduce a token from the value it would otherwise have received.
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "event/value.h"
#include "process/redact/rule.h"

namespace cdc::redact {

// The canonical text of a non-null value: a view of the value's own string where it has one,
// otherwise of `scratch` (overwritten).
std::string_view CanonicalText(const Value& v, std::string& scratch);

// The number of Unicode code points in UTF-8 `text` (a stray byte counts as one).
size_t CountCodePoints(std::string_view text);

// Appends `text` masked with '*', one per code point:
//   kAll        every character
//   kKeepFirst  all but the first `keep` characters ("4111..." with 4 -> "4111************")
//   kKeepLast   all but the last `keep` characters
//   kEmail      the first character of the local part, "***", then "@domain" as it was
// When the text is no longer than `keep`, or an e-mail has no local part or no domain, every
// character is masked: a rule never reveals the whole value.
void AppendMasked(std::string_view text, MaskMode mode, uint32_t keep, std::string& out);

// The longest prefix of `text` with at most `max_chars` code points; never splits a UTF-8
// sequence. (Combining marks are code points of their own, so a grapheme may be split.)
std::string_view TruncateUtf8(std::string_view text, size_t max_chars);

// Generalizes a value; the result is text:
//   kYear / kMonth  dates, timestamps (timestamptz in UTC) and text starting "YYYY-MM" ->
//                   "2024" / "2024-01" ("0044 BC" / "0044-03 BC" before year 1, "infinity" and
//                   "-infinity" as they are)
//   kRange          int64, double, decimal and numeric text -> the bucket of `width` holding the
//                   value, "lo-hi" with lo a multiple of width and hi = lo + width - 1 (150 with
//                   100 -> "100-199", -5 with 10 -> "-10--1"); NaN and infinities as text
// Any other value, or one out of the int64 range, becomes null: when a value cannot be
// generalized, nothing of it is kept.
Value GeneralizeValue(const Value& v, Generalization g, int64_t width);

}  // namespace cdc::redact
