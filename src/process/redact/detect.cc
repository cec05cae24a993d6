#include "process/redact/detect.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace cdc::redact {
namespace {

constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
constexpr bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
inline bool IsEmailLocal(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

// The text around a candidate, with out-of-range positions reading as a space (a boundary).
struct Text {
  std::string_view s;
  char at(size_t i) const { return i < s.size() ? s[i] : ' '; }
  char before(size_t i) const { return i > 0 ? s[i - 1] : ' '; }
  size_t size() const { return s.size(); }
};

// Consumes exactly `count` digits at `p`.
bool Digits(const Text& t, size_t& p, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    if (!IsDigit(t.at(p + k))) return false;
  }
  p += count;
  return true;
}

// ---- email ----------------------------------------------------------------------------------

// Emails are anchored on '@' (found with memchr), so they are collected in their own pass.
void FindEmails(const Text& t, std::vector<PiiSpan>& out) {
  size_t from = 0;
  const char* base = t.s.data();
  while (from < t.size()) {
    const void* hit = std::memchr(base + from, '@', t.size() - from);
    if (hit == nullptr) return;
    size_t at = static_cast<const char*>(hit) - base;
    from = at + 1;
    size_t l = at;
    while (l > 0 && IsEmailLocal(t.s[l - 1])) --l;
    while (l < at && (t.s[l] == '.' || t.s[l] == '-' || t.s[l] == '+')) ++l;
    if (l == at) continue;
    // Domain: labels of letters, digits and inner dashes, separated by single dots.
    size_t p = at + 1;
    size_t end = 0;
    int labels = 0;
    bool tld_ok = false;
    while (true) {
      size_t s = p;
      while (p < t.size() && (IsAlnum(t.s[p]) || t.s[p] == '-')) ++p;
      if (p == s || t.s[s] == '-' || t.s[p - 1] == '-') break;
      ++labels;
      end = p;
      tld_ok = p - s >= 2 && std::all_of(t.s.begin() + s, t.s.begin() + p, IsAlpha);
      if (t.at(p) == '.' && IsAlnum(t.at(p + 1))) {
        ++p;
        continue;
      }
      break;
    }
    if (labels < 2 || !tld_ok) continue;
    out.push_back({l, end, Detector::kEmail});
    from = end;
  }
}

// ---- card -----------------------------------------------------------------------------------

bool MatchCard(const Text& t, size_t i, size_t& end) {
  if (!IsDigit(t.at(i)) || IsAlnum(t.before(i))) return false;
  char first = t.s[i];
  if (first < '2' || first > '6') return false;
  char digits[19];
  size_t n = 0;
  // Candidate ends: after a digit group, with the number of digits up to there.
  size_t best_end = 0;
  size_t p = i;
  auto consider = [&](size_t group_end) {
    if (n >= 13 && n <= 19 && LuhnValid(std::string_view(digits, n))) best_end = group_end;
  };
  while (true) {
    if (IsDigit(t.at(p))) {
      // Past 19 digits only an earlier group end can be a card (a 20-digit run never is).
      if (n == 19) break;
      digits[n++] = t.s[p++];
      continue;
    }
    // A group ends here.
    bool sep = (t.at(p) == ' ' || t.at(p) == '-') && IsDigit(t.at(p + 1));
    if (!sep) {
      if (IsAlpha(t.at(p))) break;  // "4111...1111abc" is not a card on its own
      consider(p);
      break;
    }
    consider(p);
    ++p;
  }
  if (best_end == 0) return false;
  end = best_end;
  return true;
}

// ---- ssn ------------------------------------------------------------------------------------

bool MatchSsn(const Text& t, size_t i, size_t& end) {
  if (IsAlnum(t.before(i))) return false;
  size_t p = i;
  if (!Digits(t, p, 3) || t.at(p++) != '-' || !Digits(t, p, 2) || t.at(p++) != '-' ||
      !Digits(t, p, 4)) {
    return false;
  }
  if (IsAlnum(t.at(p)) || (t.at(p) == '-' && IsDigit(t.at(p + 1)))) return false;
  std::string_view area = t.s.substr(i, 3);
  std::string_view group = t.s.substr(i + 4, 2);
  std::string_view serial = t.s.substr(i + 7, 4);
  // Never issued: https://www.ssa.gov/employer/randomization.html
  if (area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000") {
    return false;
  }
  end = p;
  return true;
}

// ---- phone ----------------------------------------------------------------------------------

inline bool IsPhoneSep(char c) { return c == ' ' || c == '-' || c == '.'; }

// "+<country code and number>": 8-15 digits in groups.
bool MatchInternationalPhone(const Text& t, size_t i, size_t& end) {
  if (t.at(i) != '+' || IsAlnum(t.before(i)) || !IsDigit(t.at(i + 1))) return false;
  size_t p = i + 1;
  size_t digits = 0;
  size_t last = 0;
  while (true) {
    if (IsDigit(t.at(p))) {
      while (IsDigit(t.at(p))) ++p, ++digits;
      last = p;
    } else if (t.at(p) == '(' && (last == p || (IsPhoneSep(t.at(p - 1)) && last == p - 1))) {
      // A parenthesised group such as the "(0)" of "+44 (0)20 7946 0958".
      size_t q = p + 1;
      size_t k = 0;
      while (IsDigit(t.at(q)) && k < 4) ++q, ++k;
      if (k == 0 || t.at(q) != ')') break;
      digits += k;
      p = q + 1;
      last = p;
    } else if (IsPhoneSep(t.at(p)) && last == p && (IsDigit(t.at(p + 1)) || t.at(p + 1) == '(')) {
      ++p;
    } else {
      break;
    }
    if (digits > 15) return false;
  }
  if (digits < 8 || IsAlnum(t.at(last))) return false;
  end = last;
  return true;
}

// North American numbering plan: [1 sep] (NPA) NXX-XXXX or NPA sep NXX sep XXXX.
bool MatchNorthAmericanPhone(const Text& t, size_t i, size_t& end) {
  if (IsAlnum(t.before(i))) return false;
  size_t p = i;
  if (t.at(p) == '1' && IsPhoneSep(t.at(p + 1))) p += 2;
  size_t npa = 0;
  if (t.at(p) == '(') {
    npa = p + 1;
    ++p;
    if (!Digits(t, p, 3) || t.at(p++) != ')') return false;
    if (t.at(p) == ' ') ++p;
  } else {
    npa = p;
    if (!Digits(t, p, 3) || !IsPhoneSep(t.at(p++))) return false;
  }
  size_t nxx = p;
  if (!Digits(t, p, 3) || !IsPhoneSep(t.at(p++)) || !Digits(t, p, 4)) return false;
  if (t.s[npa] < '2' || t.s[nxx] < '2') return false;
  if (IsAlnum(t.at(p)) || ((t.at(p) == '-' || t.at(p) == '.') && IsDigit(t.at(p + 1)))) {
    return false;
  }
  end = p;
  return true;
}

// ---- ip -------------------------------------------------------------------------------------

bool MatchIpv4(const Text& t, size_t i, size_t& end) {
  if (!IsDigit(t.at(i)) || IsAlnum(t.before(i)) || t.before(i) == '.') return false;
  size_t p = i;
  for (int part = 0; part < 4; ++part) {
    if (part > 0 && t.at(p++) != '.') return false;
    int value = 0;
    size_t k = 0;
    while (IsDigit(t.at(p)) && k < 4) value = value * 10 + (t.s[p++] - '0'), ++k;
    if (k == 0 || k > 3 || value > 255) return false;
  }
  if (IsAlnum(t.at(p)) || (t.at(p) == '.' && IsDigit(t.at(p + 1)))) return false;
  end = p;
  return true;
}

bool MatchIpv6(const Text& t, size_t i, size_t& end) {
  char c = t.at(i);
  if (!(IsHex(c) || (c == ':' && t.at(i + 1) == ':'))) return false;
  char prev = t.before(i);
  if (IsWord(prev) || prev == ':' || prev == '.') return false;
  constexpr size_t kMaxLen = 45;  // INET6_ADDRSTRLEN - 1
  size_t p = i;
  size_t colons = 0;
  size_t hex = 0;
  while (p < t.size() && (IsHex(t.s[p]) || t.s[p] == ':' || t.s[p] == '.')) {
    if (t.s[p] == ':') ++colons;
    if (IsHex(t.s[p])) ++hex;
    if (++p - i > kMaxLen + 1) return false;
  }
  if (colons < 2) return false;
  // Punctuation after the address ("fe80::1." or "fe80::1:") is not part of it.
  if (t.s[p - 1] == '.') --p;
  if (t.s[p - 1] == ':' && t.s[p - 2] != ':') --p, --colons;
  if (IsWord(t.at(p)) || p - i > kMaxLen || hex < 4) return false;
  char buf[kMaxLen + 1];
  std::memcpy(buf, t.s.data() + i, p - i);
  buf[p - i] = '\0';
  unsigned char addr[16];
  if (inet_pton(AF_INET6, buf, addr) != 1) return false;
  end = p;
  return true;
}

bool MightHoldNonEmailPii(std::string_view s) {
  for (char c : s) {
    if (IsDigit(c) || c == ':') return true;
  }
  return false;
}

// Character classes for the scanning loop, one table lookup per byte instead of a chain of
// comparisons (the loop runs over every byte of every scanned value).
constexpr uint8_t kCanStart = 1;  // a hex digit, '+', '(' or ':' may begin a match
constexpr uint8_t kWordChar = 2;  // a match never begins right after one of these

constexpr std::array<uint8_t, 256> MakeClassTable() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    uint8_t cls = 0;
    if (IsHex(ch) || ch == '+' || ch == '(' || ch == ':') cls |= kCanStart;
    if (IsWord(ch)) cls |= kWordChar;
    table[c] = cls;
  }
  return table;
}
constexpr std::array<uint8_t, 256> kClass = MakeClassTable();

bool MatchAt(const Text& t, size_t i, DetectorSet detectors, size_t& end, Detector& kind) {
  if (detectors.Has(Detector::kCard) && MatchCard(t, i, end)) {
    kind = Detector::kCard;
  } else if (detectors.Has(Detector::kSsn) && MatchSsn(t, i, end)) {
    kind = Detector::kSsn;
  } else if (detectors.Has(Detector::kPhone) &&
             (MatchInternationalPhone(t, i, end) || MatchNorthAmericanPhone(t, i, end))) {
    kind = Detector::kPhone;
  } else if (detectors.Has(Detector::kIp) && (MatchIpv4(t, i, end) || MatchIpv6(t, i, end))) {
    kind = Detector::kIp;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool LuhnValid(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t k = digits.size(); k-- > 0;) {
    int d = digits[k] - '0';
    if (d < 0 || d > 9) return false;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return !digits.empty() && sum % 10 == 0;
}

void FindPii(std::string_view text, DetectorSet detectors, std::vector<PiiSpan>& out) {
  Text t{text};
  size_t first = out.size();
  if (detectors.Has(Detector::kEmail)) FindEmails(t, out);
  bool others = detectors.Has(Detector::kCard) || detectors.Has(Detector::kPhone) ||
                detectors.Has(Detector::kSsn) || detectors.Has(Detector::kIp);
  size_t emails = out.size();
  if (others && MightHoldNonEmailPii(text)) {
    size_t next_email = first;
    size_t i = 0;
    while (i < t.size()) {
      // Text inside an e-mail address is already claimed.
      while (next_email < emails && out[next_email].end <= i) ++next_email;
      if (next_email < emails && out[next_email].begin <= i) {
        i = out[next_email].end;
        continue;
      }
      size_t stop = next_email < emails ? out[next_email].begin : t.size();
      bool after_word = IsWord(t.before(i));
      size_t end = 0;
      Detector kind = Detector::kEmail;
      bool matched = false;
      for (; i < stop; ++i) {
        uint8_t cls = kClass[static_cast<unsigned char>(t.s[i])];
        if ((cls & kCanStart) && !after_word && MatchAt(t, i, detectors, end, kind)) {
          matched = true;
          break;
        }
        after_word = (cls & kWordChar) != 0;
      }
      if (matched) {
        out.push_back({i, end, kind});
        i = end;
      }
    }
  }
  if (out.size() == emails) return;  // only e-mails (or nothing): already ordered
  std::sort(out.begin() + first, out.end(),
            [](const PiiSpan& a, const PiiSpan& b) { return a.begin < b.begin; });
  // A match may run into an e-mail address that starts after it; the earlier one wins.
  size_t w = first;
  for (size_t r = first; r < out.size(); ++r) {
    if (w > first && out[r].begin < out[w - 1].end) continue;
    out[w++] = out[r];
  }
  out.resize(w);
}

}  // namespace cdc::redact
