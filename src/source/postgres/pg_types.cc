#include "source/postgres/pg_types.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "base/time.h"
#include "event/event_json.h"

namespace cdc::pg {
namespace {

struct Builtin {
  uint32_t oid;
  const char* name;
  PgTypeClass type_class;
  uint32_t element_oid;
};

// Built-in scalar types and their array types (pg_type.dat).
constexpr Builtin kBuiltins[] = {
    {16, "bool", PgTypeClass::kBool, 0},
    {17, "bytea", PgTypeClass::kBytea, 0},
    {18, "char", PgTypeClass::kText, 0},
    {19, "name", PgTypeClass::kText, 0},
    {20, "int8", PgTypeClass::kInteger, 0},
    {21, "int2", PgTypeClass::kInteger, 0},
    {23, "int4", PgTypeClass::kInteger, 0},
    {25, "text", PgTypeClass::kText, 0},
    {26, "oid", PgTypeClass::kInteger, 0},
    {28, "xid", PgTypeClass::kInteger, 0},
    {114, "json", PgTypeClass::kJson, 0},
    {142, "xml", PgTypeClass::kText, 0},
    {650, "cidr", PgTypeClass::kInet, 0},
    {700, "float4", PgTypeClass::kFloat, 0},
    {701, "float8", PgTypeClass::kFloat, 0},
    {829, "macaddr", PgTypeClass::kText, 0},
    {869, "inet", PgTypeClass::kInet, 0},
    {1042, "bpchar", PgTypeClass::kText, 0},
    {1043, "varchar", PgTypeClass::kText, 0},
    {1082, "date", PgTypeClass::kDate, 0},
    {1083, "time", PgTypeClass::kTime, 0},
    {1114, "timestamp", PgTypeClass::kTimestamp, 0},
    {1184, "timestamptz", PgTypeClass::kTimestampTz, 0},
    {1186, "interval", PgTypeClass::kInterval, 0},
    {1266, "timetz", PgTypeClass::kTimeTz, 0},
    {1700, "numeric", PgTypeClass::kNumeric, 0},
    {2950, "uuid", PgTypeClass::kUuid, 0},
    {3802, "jsonb", PgTypeClass::kJson, 0},
    {143, "_xml", PgTypeClass::kArray, 142},
    {199, "_json", PgTypeClass::kArray, 114},
    {651, "_cidr", PgTypeClass::kArray, 650},
    {1000, "_bool", PgTypeClass::kArray, 16},
    {1001, "_bytea", PgTypeClass::kArray, 17},
    {1002, "_char", PgTypeClass::kArray, 18},
    {1003, "_name", PgTypeClass::kArray, 19},
    {1005, "_int2", PgTypeClass::kArray, 21},
    {1007, "_int4", PgTypeClass::kArray, 23},
    {1009, "_text", PgTypeClass::kArray, 25},
    {1011, "_xid", PgTypeClass::kArray, 28},
    {1014, "_bpchar", PgTypeClass::kArray, 1042},
    {1015, "_varchar", PgTypeClass::kArray, 1043},
    {1016, "_int8", PgTypeClass::kArray, 20},
    {1021, "_float4", PgTypeClass::kArray, 700},
    {1022, "_float8", PgTypeClass::kArray, 701},
    {1028, "_oid", PgTypeClass::kArray, 26},
    {1040, "_macaddr", PgTypeClass::kArray, 829},
    {1041, "_inet", PgTypeClass::kArray, 869},
    {1115, "_timestamp", PgTypeClass::kArray, 1114},
    {1182, "_date", PgTypeClass::kArray, 1082},
    {1183, "_time", PgTypeClass::kArray, 1083},
    {1185, "_timestamptz", PgTypeClass::kArray, 1184},
    {1187, "_interval", PgTypeClass::kArray, 1186},
    {1231, "_numeric", PgTypeClass::kArray, 1700},
    {1270, "_timetz", PgTypeClass::kArray, 1266},
    {2951, "_uuid", PgTypeClass::kArray, 2950},
    {3807, "_jsonb", PgTypeClass::kArray, 3802},
};

Status Bad(const PgTypeInfo* type, std::string_view what) {
  std::string name = type != nullptr ? type->name : "unknown type";
  return InvalidArgument("cannot decode " + name + " value: " + std::string(what));
}

bool ParseInt64(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits (n == 0: one or more) at `pos`.
bool ReadDigits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  size_t start = pos;
  int64_t v = 0;
  while (pos < s.size() && IsDigit(s[pos]) && (n == 0 || pos - start < n)) {
    v = v * 10 + (s[pos] - '0');
    if (v > 1000000000) return false;
    ++pos;
  }
  out = v;
  return pos > start && (n == 0 || pos - start == n);
}

bool IsNumeric(std::string_view s) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  return digits > 0 && i == s.size();
}

Result<Value> DecodeFloat(const PgTypeInfo* type, std::string_view s) {
  if (s == "NaN") return Value::Double(std::numeric_limits<double>::quiet_NaN());
  if (s == "Infinity") return Value::Double(std::numeric_limits<double>::infinity());
  if (s == "-Infinity") return Value::Double(-std::numeric_limits<double>::infinity());
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Bad(type, "not a floating-point number");
  }
  return Value::Double(d);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Value> DecodeBytea(const PgTypeInfo* type, std::string_view s) {
  std::string out;
  if (s.size() >= 2 && s[0] == '\\' && s[1] == 'x') {
    s.remove_prefix(2);
    if (s.size() % 2 != 0) return Bad(type, "odd number of hex digits");
    out.reserve(s.size() / 2);
    for (size_t i = 0; i < s.size(); i += 2) {
      int hi = HexDigit(s[i]), lo = HexDigit(s[i + 1]);
      if (hi < 0 || lo < 0) return Bad(type, "invalid hex digit");
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return Value::Bytes(std::move(out));
  }
  // bytea_output = escape: "\\" is a backslash, "\ooo" an octal byte, the rest literal.
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
    } else if (i + 1 < s.size() && s[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
               s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      return Bad(type, "invalid escape sequence");
    }
  }
  return Value::Bytes(std::move(out));
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// "YYYY-MM-DD" (four or more year digits) at `pos`; the year is as printed (BC applied later).
bool ReadDate(std::string_view s, size_t& pos, int64_t& year, int64_t& month, int64_t& day) {
  return ReadDigits(s, pos, 0, year) && pos < s.size() && s[pos++] == '-' &&
         ReadDigits(s, pos, 2, month) && pos < s.size() && s[pos++] == '-' &&
         ReadDigits(s, pos, 2, day) && month >= 1 && month <= 12 && day >= 1 &&
         day <= DaysInMonth(year, month) && year >= 1;
}

// "HH:MM:SS[.ffffff]" at `pos`, as microseconds since midnight (24:00:00 allowed).
bool ReadTime(std::string_view s, size_t& pos, int64_t& micros) {
  int64_t h, m, sec;
  if (!ReadDigits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, m) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, sec)) {
    return false;
  }
  if (h > 24 || m > 59 || sec > 60) return false;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    size_t start = pos;
    while (pos < s.size() && IsDigit(s[pos])) {
      frac += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 6) return false;
  }
  micros = ((h * 60 + m) * 60 + sec) * 1000000 + frac;
  return micros <= 86400LL * 1000000;
}

// "+HH", "+HH:MM" or "+HH:MM:SS" at `pos`, as seconds east of UTC.
bool ReadOffset(std::string_view s, size_t& pos, int64_t& seconds) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  int64_t sign = s[pos++] == '-' ? -1 : 1;
  int64_t h = 0, m = 0, sec = 0;
  if (!ReadDigits(s, pos, 2, h)) return false;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!ReadDigits(s, pos, 2, m)) return false;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!ReadDigits(s, pos, 2, sec)) return false;
    }
  }
  seconds = sign * (h * 3600 + m * 60 + sec);
  return true;
}

// Consumes a trailing " BC"; returns whether it was there.
bool ReadEra(std::string_view s, size_t& pos) {
  if (s.substr(pos) == " BC") {
    pos += 3;
    return true;
  }
  return false;
}

int64_t CivilDays(int64_t year, int64_t month, int64_t day, bool bc) {
  // Year 1 BC is astronomical year 0.
  return DaysFromCivil(bc ? 1 - year : year, static_cast<unsigned>(month),
                       static_cast<unsigned>(day));
}

Result<Value> DecodeDate(const PgTypeInfo* type, std::string_view s) {
  if (s == "infinity") return Value::Date(Value::kInfinity);
  if (s == "-infinity") return Value::Date(Value::kMinusInfinity);
  size_t pos = 0;
  int64_t y, m, d;
  if (!ReadDate(s, pos, y, m, d)) return Bad(type, "expected YYYY-MM-DD (DateStyle=ISO)");
  bool bc = ReadEra(s, pos);
  if (pos != s.size()) return Bad(type, "trailing characters after the date");
  return Value::Date(CivilDays(y, m, d, bc));
}

Result<Value> DecodeTime(const PgTypeInfo* type, std::string_view s) {
  size_t pos = 0;
  int64_t micros;
  if (!ReadTime(s, pos, micros) || pos != s.size()) return Bad(type, "expected HH:MM:SS[.ffffff]");
  return Value::Time(micros);
}

Result<Value> DecodeTimestamp(const PgTypeInfo* type, std::string_view s, bool with_zone) {
  auto make = [with_zone](int64_t micros) {
    return with_zone ? Value::TimestampTz(micros) : Value::Timestamp(micros);
  };
  if (s == "infinity") return make(Value::kInfinity);
  if (s == "-infinity") return make(Value::kMinusInfinity);
  size_t pos = 0;
  int64_t y, m, d, time_micros, offset = 0;
  if (!ReadDate(s, pos, y, m, d) || pos >= s.size() || s[pos++] != ' ' ||
      !ReadTime(s, pos, time_micros)) {
    return Bad(type, "expected YYYY-MM-DD HH:MM:SS[.ffffff] (DateStyle=ISO)");
  }
  if (with_zone && !ReadOffset(s, pos, offset)) return Bad(type, "missing UTC offset");
  bool bc = ReadEra(s, pos);
  if (pos != s.size()) return Bad(type, "trailing characters after the timestamp");
  int64_t days = CivilDays(y, m, d, bc);
  return make(days * 86400LL * 1000000 + time_micros - offset * 1000000);
}

Result<Value> DecodeJson(const PgTypeInfo* type, std::string_view s) {
  auto minified = MinifyJson(s);
  if (!minified.ok()) return Bad(type, "malformed JSON");
  return Value::Json(std::move(minified).value());
}

// Parser for array literals: {1,2,NULL}, {"a,b","c\"d"}, {{1,2},{3,4}}, [0:1]={1,2}.
class ArrayParser {
 public:
  ArrayParser(std::string_view text, const PgTypeInfo* array_type, const PgTypeRegistry& types)
      : s_(text), type_(array_type), types_(types) {}

  Result<Value> Parse() {
    if (!s_.empty() && s_[0] == '[') {
      size_t eq = s_.find('=');
      if (eq == std::string_view::npos) return Bad(type_, "malformed array dimensions");
      pos_ = eq + 1;
    }
    auto v = ParseLevel(0);
    if (!v.ok()) return v;
    SkipSpace();
    if (pos_ != s_.size()) return Bad(type_, "trailing characters after the array");
    return v;
  }

 private:
  Result<Value> ParseLevel(int depth) {
    if (depth > 6) return Bad(type_, "array nested too deeply");
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != '{') return Bad(type_, "expected '{'");
    ++pos_;
    std::vector<Value> elements;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return Value::Array(std::move(elements));
    }
    const char delim = type_->delimiter;
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size()) return Bad(type_, "unterminated array");
      if (s_[pos_] == '{') {
        auto nested = ParseLevel(depth + 1);
        if (!nested.ok()) return nested;
        elements.push_back(std::move(nested).value());
      } else {
        auto element = ParseElement(delim);
        if (!element.ok()) return element;
        elements.push_back(std::move(element).value());
      }
      SkipSpace();
      if (pos_ >= s_.size()) return Bad(type_, "unterminated array");
      char c = s_[pos_++];
      if (c == '}') break;
      if (c != delim) return Bad(type_, "expected a delimiter or '}'");
    }
    return Value::Array(std::move(elements));
  }

  Result<Value> ParseElement(char delim) {
    std::string text;
    bool quoted = false;
    if (s_[pos_] == '"') {
      quoted = true;
      ++pos_;
      while (true) {
        if (pos_ >= s_.size()) return Bad(type_, "unterminated quoted element");
        char c = s_[pos_++];
        if (c == '"') break;
        if (c == '\\') {
          if (pos_ >= s_.size()) return Bad(type_, "unterminated escape");
          c = s_[pos_++];
        }
        text.push_back(c);
      }
    } else {
      size_t trailing_space_from = 0;
      while (pos_ < s_.size() && s_[pos_] != delim && s_[pos_] != '}') {
        char c = s_[pos_++];
        if (c == '\\') {
          if (pos_ >= s_.size()) return Bad(type_, "unterminated escape");
          text.push_back(s_[pos_++]);
          trailing_space_from = text.size();
          continue;
        }
        if (c == '{' || c == '"') return Bad(type_, "unexpected character in element");
        text.push_back(c);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') trailing_space_from = text.size();
      }
      text.resize(trailing_space_from);
      if (text.empty()) return Bad(type_, "empty unquoted element");
    }
    if (!quoted && text.size() == 4 && (text[0] | 0x20) == 'n' && (text[1] | 0x20) == 'u' &&
        (text[2] | 0x20) == 'l' && (text[3] | 0x20) == 'l') {
      return Value::Null();
    }
    return DecodeText(type_->element_oid, text, types_);
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  const PgTypeInfo* type_;
  const PgTypeRegistry& types_;
};

}  // namespace

PgTypeRegistry::PgTypeRegistry() {
  for (const Builtin& b : kBuiltins) {
    PgTypeInfo info;
    info.oid = b.oid;
    info.name = b.name;
    info.type_class = b.type_class;
    info.element_oid = b.element_oid;
    types_.emplace(b.oid, std::move(info));
  }
}

const PgTypeInfo* PgTypeRegistry::Find(uint32_t oid) const {
  auto it = types_.find(oid);
  return it == types_.end() ? nullptr : &it->second;
}

void PgTypeRegistry::Add(PgTypeInfo info) {
  uint32_t key = info.oid;
  types_.insert_or_assign(key, std::move(info));
}

Result<Value> DecodeText(uint32_t type_oid, std::string_view s, const PgTypeRegistry& types) {
  const PgTypeInfo* type = types.Find(type_oid);
  // Domains over domains are allowed; resolve to the base type.
  for (int depth = 0; type != nullptr && type->type_class == PgTypeClass::kDomain; ++depth) {
    if (depth > 16) return Bad(type, "domain nesting too deep");
    const PgTypeInfo* base = types.Find(type->base_oid);
    if (base == nullptr) return Value::Text(s);
    type = base;
  }
  if (type == nullptr) return Value::Text(s);
  switch (type->type_class) {
    case PgTypeClass::kInteger: {
      int64_t i;
      if (!ParseInt64(s, i)) return Bad(type, "not an integer");
      return Value::Int64(i);
    }
    case PgTypeClass::kNumeric:
      if (!IsNumeric(s)) return Bad(type, "not a numeric literal");
      return Value::Decimal(s);
    case PgTypeClass::kFloat:
      return DecodeFloat(type, s);
    case PgTypeClass::kBool:
      if (s == "t" || s == "true") return Value::Bool(true);
      if (s == "f" || s == "false") return Value::Bool(false);
      return Bad(type, "not a boolean");
    case PgTypeClass::kUuid: {
      std::string u(s);
      for (char& c : u) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      }
      return Value::Uuid(std::move(u));
    }
    case PgTypeClass::kJson:
      return DecodeJson(type, s);
    case PgTypeClass::kBytea:
      return DecodeBytea(type, s);
    case PgTypeClass::kDate:
      return DecodeDate(type, s);
    case PgTypeClass::kTime:
      return DecodeTime(type, s);
    case PgTypeClass::kTimeTz:
      return Value::TimeTz(s);
    case PgTypeClass::kTimestamp:
      return DecodeTimestamp(type, s, false);
    case PgTypeClass::kTimestampTz:
      return DecodeTimestamp(type, s, true);
    case PgTypeClass::kInterval:
      return Value::Interval(s);
    case PgTypeClass::kInet:
      return Value::Inet(s);
    case PgTypeClass::kArray:
      return ArrayParser(s, type, types).Parse();
    case PgTypeClass::kText:
    case PgTypeClass::kEnum:
    case PgTypeClass::kDomain:
    case PgTypeClass::kOther:
      return Value::Text(s);
  }
  return Value::Text(s);
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace cdc::pg
