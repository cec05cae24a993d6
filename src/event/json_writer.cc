#include "event/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "base/status.h"

namespace cdc {

namespace {

// Whether any of the 8 bytes in `x` is a control character (< 0x20), '"' or '\\' (SWAR: the
// classic has-less and has-zero-byte bit tricks).
inline bool AnyNeedsEscape(uint64_t x) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  uint64_t below_space = (x - k01 * 0x20) & ~x & k80;
  uint64_t q = x ^ (k01 * '"');
  uint64_t b = x ^ (k01 * '\\');
  uint64_t quote = (q - k01) & ~q & k80;
  uint64_t backslash = (b - k01) & ~b & k80;
  return (below_space | quote | backslash) != 0;
}

// Whether any byte of the n bytes at p needs escaping. Only fixed-size loads: a short string
// (most keys and values) is checked with one or two overlapping words, not byte by byte.
inline bool NeedsEscape(const char* p, size_t n) {
  auto load8 = [](const char* at) {
    uint64_t w;
    std::memcpy(&w, at, 8);
    return w;
  };
  auto load4 = [](const char* at) {
    uint32_t w;
    std::memcpy(&w, at, 4);
    return static_cast<uint64_t>(w);
  };
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      if (AnyNeedsEscape(load8(p + i))) return true;
    }
    return i < n && AnyNeedsEscape(load8(p + n - 8));
  }
  if (n >= 4) return AnyNeedsEscape(load4(p) | load4(p + n - 4) << 32);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') return true;
  }
  return false;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  if (!NeedsEscape(s.data(), s.size())) {
    out.append(s);
    out.push_back('"');
    return;
  }
  size_t run_start = 0;
  size_t i = 0;
  while (i < s.size()) {
    // Skip 8 clean bytes at a time; most text needs no escaping at all.
    if (i + 8 <= s.size()) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if (!AnyNeedsEscape(word)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    ++i;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

void JsonWriter::TooDeep() { CDC_ASSERT(false, "JSON nested deeper than 64 levels"); }

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, p);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separate();
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, p);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  if (std::isnan(v)) return String("NaN");
  if (std::isinf(v)) return String(v > 0 ? "Infinity" : "-Infinity");
  Separate();
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, p);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_.append(v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_.append("null");
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  Separate();
  out_.append(json);
  return *this;
}

}  // namespace cdc
