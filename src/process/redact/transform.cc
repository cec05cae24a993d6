#include "process/redact/transform.h"

#include <charconv>
#include <cmath>

#include "base/hash.h"
#include "base/time.h"
#include "event/event_json.h"
#include "event/json_writer.h"

namespace cdc::redact {
namespace {

inline bool IsContinuation(unsigned char b) { return (b & 0xc0) == 0x80; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Byte offset of the code point with index `n` (or text.size() when there are fewer).
size_t OffsetOfCodePoint(std::string_view text, size_t n) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsContinuation(static_cast<unsigned char>(text[i]))) continue;
    if (seen == n) return i;
    ++seen;
  }
  return text.size();
}

void AppendStars(size_t n, std::string& out) { out.append(n, '*'); }

constexpr int64_t kMicrosPerDay = 86'400'000'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void AppendPadded(int64_t v, int width, std::string& out) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  for (int k = static_cast<int>(p - buf); k < width; ++k) out.push_back('0');
  out.append(buf, p);
}

Value YearOrMonth(int64_t year, unsigned month, Generalization g) {
  std::string out;
  bool bc = year <= 0;  // astronomical year 0 is 1 BC
  AppendPadded(bc ? 1 - year : year, 4, out);
  if (g == Generalization::kMonth) {
    out.push_back('-');
    AppendPadded(month, 2, out);
  }
  if (bc) out.append(" BC");
  return Value::Text(std::move(out));
}

Value GeneralizeDays(int64_t days, Generalization g) {
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  CivilFromDays(days, y, m, d);
  return YearOrMonth(y, m, g);
}

Value GeneralizeDate(const Value& v, Generalization g) {
  int64_t raw = v.as_int64();
  if (raw == Value::kInfinity) return Value::Text("infinity");
  if (raw == Value::kMinusInfinity) return Value::Text("-infinity");
  switch (v.kind()) {
    case ValueKind::kDate:
      return GeneralizeDays(raw, g);
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz:
      return GeneralizeDays(FloorDiv(raw, kMicrosPerDay), g);
    case ValueKind::kText: {
      // ISO text such as "1990-05-17" or "1990-05-17T08:00:00Z".
      std::string_view s = v.as_string();
      if (s.size() < 7 || !IsDigit(s[0]) || !IsDigit(s[1]) || !IsDigit(s[2]) || !IsDigit(s[3]) ||
          s[4] != '-' || !IsDigit(s[5]) || !IsDigit(s[6]) || (s.size() > 7 && IsDigit(s[7]))) {
        return Value::Null();
      }
      int64_t year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
      unsigned month = static_cast<unsigned>((s[5] - '0') * 10 + (s[6] - '0'));
      if (month < 1 || month > 12) return Value::Null();
      return YearOrMonth(year, month, g);
    }
    default:
      return Value::Null();
  }
}

// floor() of a decimal number written as text ("-12.50", "1e5", "129"), exact for plain numbers
// that fit an int64; false for anything else.
bool DecimalFloor(std::string_view s, int64_t& out) {
  size_t i = 0;
  bool negative = i < s.size() && s[i] == '-';
  if (negative || (i < s.size() && s[i] == '+')) ++i;
  size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  size_t int_end = i;
  bool fraction_nonzero = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) fraction_nonzero |= s[i++] != '0';
  }
  if (int_end == int_start && !(i > int_end + 1)) return false;
  if (i == s.size()) {
    int64_t whole = 0;
    if (int_end > int_start) {
      auto [p, ec] = std::from_chars(s.data() + int_start, s.data() + int_end, whole);
      if (ec != std::errc()) return false;
    }
    if (negative) whole = -whole;
    if (negative && fraction_nonzero) {
      if (whole == INT64_MIN) return false;
      --whole;
    }
    out = whole;
    return true;
  }
  // An exponent: go through a double; bucket bounds do not need more precision than that.
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return false;
  d = std::floor(d);
  if (d < -9.2e18 || d > 9.2e18) return false;
  out = static_cast<int64_t>(d);
  return true;
}

Value Bucket(int64_t floor_value, int64_t width) {
  int64_t lo = 0;
  int64_t hi = 0;
  if (__builtin_mul_overflow(FloorDiv(floor_value, width), width, &lo) ||
      __builtin_add_overflow(lo, width - 1, &hi)) {
    return Value::Null();
  }
  char buf[48];
  auto r1 = std::to_chars(buf, buf + 24, lo);
  *r1.ptr = '-';
  auto r2 = std::to_chars(r1.ptr + 1, buf + sizeof(buf), hi);
  return Value::Text(std::string(buf, r2.ptr));
}

Value GeneralizeNumber(const Value& v, int64_t width) {
  switch (v.kind()) {
    case ValueKind::kInt64:
      return Bucket(v.as_int64(), width);
    case ValueKind::kDouble: {
      double d = v.as_double();
      if (std::isnan(d)) return Value::Text("NaN");
      if (std::isinf(d)) return Value::Text(d > 0 ? "Infinity" : "-Infinity");
      d = std::floor(d);
      if (d < -9.2e18 || d > 9.2e18) return Value::Null();
      return Bucket(static_cast<int64_t>(d), width);
    }
    case ValueKind::kDecimal:
    case ValueKind::kText: {
      std::string_view s = v.as_string();
      if (v.kind() == ValueKind::kDecimal && (s == "NaN" || s == "Infinity" || s == "-Infinity")) {
        return Value::Text(s);
      }
      int64_t f = 0;
      if (!DecimalFloor(s, f)) return Value::Null();
      return Bucket(f, width);
    }
    default:
      return Value::Null();
  }
}

}  // namespace

std::string_view CanonicalText(const Value& v, std::string& scratch) {
  switch (v.kind()) {
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kTimeTz:
    case ValueKind::kInterval:
    case ValueKind::kInet:
    case ValueKind::kUuid:
    case ValueKind::kJson:
      return v.as_string();
    case ValueKind::kBytes:
      scratch = Base64Encode(v.as_string());
      return scratch;
    default:
      break;
  }
  scratch.clear();
  JsonWriter w(scratch);
  WriteValue(w, v);
  // Dates, times, NaN and infinities are JSON strings without escapes; drop their quotes.
  if (v.kind() != ValueKind::kArray && scratch.size() >= 2 && scratch.front() == '"') {
    return std::string_view(scratch).substr(1, scratch.size() - 2);
  }
  return scratch;
}

size_t CountCodePoints(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += !IsContinuation(static_cast<unsigned char>(c));
  return n;
}

void AppendMasked(std::string_view text, MaskMode mode, uint32_t keep, std::string& out) {
  switch (mode) {
    case MaskMode::kAll:
      AppendStars(CountCodePoints(text), out);
      return;
    case MaskMode::kKeepFirst: {
      size_t n = CountCodePoints(text);
      if (n <= keep) return AppendStars(n, out);
      out.append(text.substr(0, OffsetOfCodePoint(text, keep)));
      AppendStars(n - keep, out);
      return;
    }
    case MaskMode::kKeepLast: {
      size_t n = CountCodePoints(text);
      if (n <= keep) return AppendStars(n, out);
      AppendStars(n - keep, out);
      out.append(text.substr(OffsetOfCodePoint(text, n - keep)));
      return;
    }
    case MaskMode::kEmail: {
      size_t at = text.rfind('@');
      if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) {
        return AppendStars(CountCodePoints(text), out);
      }
      out.append(text.substr(0, OffsetOfCodePoint(text, 1)));
      out.append("***");
      out.append(text.substr(at));
      return;
    }
  }
}

std::string_view TruncateUtf8(std::string_view text, size_t max_chars) {
  return text.substr(0, OffsetOfCodePoint(text, max_chars));
}

Value GeneralizeValue(const Value& v, Generalization g, int64_t width) {
  if (g == Generalization::kRange) return GeneralizeNumber(v, width);
  return GeneralizeDate(v, g);
}

}  // namespace cdc::redact
