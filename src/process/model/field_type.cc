#include "process/model/field_type.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "base/time.h"

namespace cdc::model {
namespace {

struct BaseType {
  std::string_view name;  // canonical
  TypeClass type_class;
  // Which modifier it takes: none, a length, numeric's precision and scale, a time precision.
  enum Modifier : uint8_t { kNone, kLength, kPrecisionScale, kTimePrecision } modifier;
};

constexpr BaseType kBaseTypes[] = {
    {"smallint", TypeClass::kSmallInt, BaseType::kNone},
    {"integer", TypeClass::kInteger, BaseType::kNone},
    {"bigint", TypeClass::kBigInt, BaseType::kNone},
    {"numeric", TypeClass::kNumeric, BaseType::kPrecisionScale},
    {"real", TypeClass::kReal, BaseType::kNone},
    {"double precision", TypeClass::kDouble, BaseType::kNone},
    {"boolean", TypeClass::kBoolean, BaseType::kNone},
    {"text", TypeClass::kText, BaseType::kNone},
    {"character varying", TypeClass::kText, BaseType::kLength},
    {"character", TypeClass::kText, BaseType::kLength},
    {"name", TypeClass::kText, BaseType::kNone},
    {"citext", TypeClass::kText, BaseType::kNone},
    {"xml", TypeClass::kText, BaseType::kNone},
    {"uuid", TypeClass::kUuid, BaseType::kNone},
    {"json", TypeClass::kJson, BaseType::kNone},
    {"jsonb", TypeClass::kJson, BaseType::kNone},
    {"bytea", TypeClass::kBytea, BaseType::kNone},
    {"date", TypeClass::kDate, BaseType::kNone},
    {"time without time zone", TypeClass::kTime, BaseType::kTimePrecision},
    {"time with time zone", TypeClass::kTimeTz, BaseType::kTimePrecision},
    {"timestamp without time zone", TypeClass::kTimestamp, BaseType::kTimePrecision},
    {"timestamp with time zone", TypeClass::kTimestampTz, BaseType::kTimePrecision},
    {"interval", TypeClass::kInterval, BaseType::kTimePrecision},
    {"inet", TypeClass::kInet, BaseType::kNone},
    {"cidr", TypeClass::kInet, BaseType::kNone},
};

constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"int2", "smallint"},
    {"int", "integer"},
    {"int4", "integer"},
    {"int8", "bigint"},
    {"decimal", "numeric"},
    {"float4", "real"},
    {"float8", "double precision"},
    {"float", "double precision"},
    {"double", "double precision"},
    {"bool", "boolean"},
    {"varchar", "character varying"},
    {"char", "character"},
    {"bpchar", "character"},
    {"time", "time without time zone"},
    {"timetz", "time with time zone"},
    {"timestamp", "timestamp without time zone"},
    {"timestamptz", "timestamp with time zone"},
};

const BaseType* FindBase(std::string_view name) {
  for (const auto& [alias, canonical] : kAliases) {
    if (alias == name) {
      name = canonical;
      break;
    }
  }
  for (const auto& b : kBaseTypes) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::string AcceptedTypes() {
  std::string out;
  for (const auto& b : kBaseTypes) out += (out.empty() ? "" : ", ") + std::string(b.name);
  return out + "; arrays as type[]";
}

Status BadType(std::string_view text, std::string_view why) {
  return InvalidArgument("type '" + std::string(text) + "': " + std::string(why));
}

bool ParseInt(std::string_view s, int32_t& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The JSON number grammar, or PostgreSQL's NaN and infinities as numeric text.
bool IsNumericText(std::string_view s) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

bool IsUuidText(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

bool IsBase64Text(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (char c : s) {
    bool alnum = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c == '=') {
      ++pad;
    } else if (pad > 0 || !(alnum || c == '+' || c == '/')) {
      return false;
    }
  }
  return pad <= 2;
}

// "YYYY-MM-DD" (a year of four or more digits) with a valid month and day; the length consumed.
size_t DatePrefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i < 4 || i + 6 > s.size() || s[i] != '-' || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2]) ||
      s[i + 3] != '-' || !IsDigit(s[i + 4]) || !IsDigit(s[i + 5])) {
    return 0;
  }
  int month = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
  int day = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31) return 0;
  return i + 6;
}

// "HH:MM[:SS[.frac]]"; the length consumed.
size_t TimePrefix(std::string_view s) {
  if (s.size() < 5 || !IsDigit(s[0]) || !IsDigit(s[1]) || s[2] != ':' || !IsDigit(s[3]) ||
      !IsDigit(s[4])) {
    return 0;
  }
  int hour = (s[0] - '0') * 10 + (s[1] - '0');
  int minute = (s[3] - '0') * 10 + (s[4] - '0');
  if (hour > 24 || minute > 59) return 0;
  size_t i = 5;
  if (i + 2 < s.size() && s[i] == ':' && IsDigit(s[i + 1]) && IsDigit(s[i + 2])) {
    i += 3;
    if (i < s.size() && s[i] == '.') {
      size_t start = ++i;
      while (i < s.size() && IsDigit(s[i])) ++i;
      if (i == start) return 0;
    }
  }
  return i;
}

bool IsInfinityText(std::string_view s) { return s == "infinity" || s == "-infinity"; }

bool IsDateText(std::string_view s) {
  if (IsInfinityText(s)) return true;
  size_t n = DatePrefix(s);
  return n > 0 && (n == s.size() || s.substr(n) == " BC");
}

bool IsTimeText(std::string_view s) {
  size_t n = TimePrefix(s);
  return n > 0 && n == s.size();
}

// A date-time without a required offset ("2024-01-15T10:30:00.5"), or one with "Z" or "+hh:mm".
bool IsTimestampText(std::string_view s) {
  if (IsInfinityText(s)) return true;
  if (ParseRfc3339(s)) return true;
  size_t n = DatePrefix(s);
  if (n == 0 || n >= s.size() || (s[n] != 'T' && s[n] != ' ')) return false;
  size_t t = TimePrefix(s.substr(n + 1));
  if (t == 0) return false;
  std::string_view rest = s.substr(n + 1 + t);
  return rest.empty() || rest == " BC";
}

bool IsInetText(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(IsHex(c) || c == '.' || c == ':' || c == '/')) return false;
  }
  return true;
}

std::string_view Article(ValueKind k) {
  switch (k) {
    case ValueKind::kInt64:
    case ValueKind::kInterval:
    case ValueKind::kInet:
    case ValueKind::kArray:
      return "an ";
    default:
      return "a ";
  }
}

std::string KindPhrase(const Value& v) {
  return std::string(Article(v.kind())) + std::string(ValueKindName(v.kind())) + " value";
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

// The digits before the decimal point of a finite number in JSON or numeric text ("-0012.5e2"
// has 4), leading zeros not counted; -1 for NaN and the infinities.
int IntegerDigits(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '.')) {
    return -1;
  }
  int64_t exponent = 0;
  if (size_t e = s.find_first_of("eE"); e != std::string_view::npos) {
    std::string_view x = s.substr(e + 1);
    bool negative = !x.empty() && x.front() == '-';
    if (!x.empty() && (x.front() == '-' || x.front() == '+')) x.remove_prefix(1);
    for (char c : x) exponent = std::min<int64_t>(exponent * 10 + (c - '0'), 1000000);
    if (negative) exponent = -exponent;
    s = s.substr(0, e);
  }
  int64_t point = static_cast<int64_t>(std::min(s.find('.'), s.size()));
  bool nonzero = false;
  for (char c : s) {
    if (c == '.') continue;
    if (c != '0') {
      nonzero = true;
      break;
    }
    --point;  // a leading zero
  }
  if (!nonzero) return 0;
  return static_cast<int>(std::clamp<int64_t>(point + exponent, 0, 1000000));
}

// Checks one non-null scalar (or array element) against the base class of `t`.
bool ScalarFits(const FieldType& t, const Value& v, std::string& reason) {
  // Only a mismatch pays for the type's name.
  auto type_name = [&] {
    FieldType scalar = t;
    scalar.array_dims = 0;
    return FormatFieldType(scalar);
  };
  auto mismatch = [&](std::string_view what = {}) {
    reason = KindPhrase(v);
    if (!what.empty()) reason += " that is not " + std::string(what);
    reason += ", but the field is " + type_name();
    return false;
  };
  ValueKind k = v.kind();
  bool text = k == ValueKind::kText;
  std::string_view s = text ? std::string_view(v.as_string()) : std::string_view();
  switch (t.type_class) {
    case TypeClass::kSmallInt:
    case TypeClass::kInteger:
    case TypeClass::kBigInt: {
      if (k != ValueKind::kInt64) return mismatch();
      int64_t i = v.as_int64();
      bool fits = t.type_class == TypeClass::kBigInt ||
                  (t.type_class == TypeClass::kInteger ? (i >= INT32_MIN && i <= INT32_MAX)
                                                       : (i >= INT16_MIN && i <= INT16_MAX));
      if (!fits) {
        reason = "an integer out of the range of " + type_name();
        return false;
      }
      return true;
    }
    case TypeClass::kNumeric:
    case TypeClass::kReal:
    case TypeClass::kDouble: {
      if (k != ValueKind::kDecimal && k != ValueKind::kInt64 && k != ValueKind::kDouble &&
          !(text && IsNumericText(s))) {
        return mismatch(text ? "a number" : "");
      }
      // numeric(p,s) holds p - s digits before the point (more is PostgreSQL's "numeric field
      // overflow"); extra decimals are rounded by PostgreSQL, so they are not a violation.
      if (t.type_class == TypeClass::kNumeric && t.precision >= 0 && k != ValueKind::kDouble) {
        int room = t.precision - std::max(0, t.scale);
        std::string digits = k == ValueKind::kInt64 ? std::to_string(v.as_int64()) : std::string();
        int n = IntegerDigits(k == ValueKind::kInt64 ? std::string_view(digits)
                                                     : std::string_view(v.as_string()));
        if (n > room) {
          reason = "a number with " + std::to_string(n) +
                   " digits before the decimal point, but the field is " + type_name() +
                   " (at most " + std::to_string(room) + ")";
          return false;
        }
      }
      return true;
    }
    case TypeClass::kBoolean:
      return k == ValueKind::kBool ? true : mismatch();
    case TypeClass::kText:
      if (!text) return mismatch();
      if (t.length >= 0 && CodePoints(s) > static_cast<size_t>(t.length)) {
        reason = "text of more than " + std::to_string(t.length) +
                 " characters, but the field is " + type_name();
        return false;
      }
      return true;
    case TypeClass::kUuid:
      if (k == ValueKind::kUuid) return true;
      return text && IsUuidText(s) ? true : mismatch(text ? "a uuid" : "");
    case TypeClass::kJson:
      switch (k) {
        case ValueKind::kJson:
        case ValueKind::kText:
        case ValueKind::kInt64:
        case ValueKind::kDecimal:
        case ValueKind::kDouble:
        case ValueKind::kBool:
        case ValueKind::kArray:
          return true;
        default:
          return mismatch();
      }
    case TypeClass::kBytea:
      if (k == ValueKind::kBytes) return true;
      return text && IsBase64Text(s) ? true : mismatch(text ? "base64" : "");
    case TypeClass::kDate:
      if (k == ValueKind::kDate) return true;
      return text && IsDateText(s) ? true : mismatch(text ? "a date (YYYY-MM-DD)" : "");
    case TypeClass::kTime:
      if (k == ValueKind::kTime) return true;
      return text && IsTimeText(s) ? true : mismatch(text ? "a time (HH:MM:SS)" : "");
    case TypeClass::kTimeTz:
      if (k == ValueKind::kTimeTz) return true;
      return text && TimePrefix(s) > 0 ? true : mismatch(text ? "a time with time zone" : "");
    case TypeClass::kTimestamp:
      if (k == ValueKind::kTimestamp) return true;
      return text && IsTimestampText(s) ? true : mismatch(text ? "a date-time" : "");
    case TypeClass::kTimestampTz:
      if (k == ValueKind::kTimestampTz) return true;
      return text && (IsInfinityText(s) || ParseRfc3339(s))
                 ? true
                 : mismatch(text ? "an RFC 3339 date-time with an offset" : "");
    case TypeClass::kInterval:
      if (k == ValueKind::kInterval) return true;
      return text && !s.empty() ? true : mismatch(text ? "an interval" : "");
    case TypeClass::kInet:
      if (k == ValueKind::kInet) return true;
      return text && IsInetText(s) ? true : mismatch(text ? "an IP address or network" : "");
  }
  return mismatch();
}

bool ArrayFits(const FieldType& t, const Value& v, std::string& reason) {
  for (const Value& e : v.as_array()) {
    if (e.is_null()) continue;
    if (e.kind() == ValueKind::kArray) {
      if (!ArrayFits(t, e, reason)) return false;
      continue;
    }
    if (!ScalarFits(t, e, reason)) {
      reason = "an array with " + reason;
      return false;
    }
  }
  return true;
}

void WriteType(JsonWriter& w, std::string_view type, bool nullable) {
  w.Key("type");
  if (nullable) {
    w.BeginArray().String(type).String("null").EndArray();
  } else {
    w.String(type);
  }
}

constexpr std::string_view kNumericPattern =
    "^(-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?|NaN|-?Infinity)$";

void WriteScalarSchema(JsonWriter& w, const FieldType& t, bool nullable) {
  w.BeginObject();
  switch (t.type_class) {
    case TypeClass::kSmallInt:
      WriteType(w, "integer", nullable);
      w.Key("minimum").Int(INT16_MIN).Key("maximum").Int(INT16_MAX);
      break;
    case TypeClass::kInteger:
      WriteType(w, "integer", nullable);
      w.Key("minimum").Int(INT32_MIN).Key("maximum").Int(INT32_MAX);
      break;
    case TypeClass::kBigInt:
      WriteType(w, "integer", nullable);
      w.Key("minimum").Int(INT64_MIN).Key("maximum").Int(INT64_MAX);
      break;
    case TypeClass::kNumeric:
    case TypeClass::kReal:
    case TypeClass::kDouble:
      // Exact digits as a JSON number; NaN and infinities (and numbers some producers send as
      // text) as strings.
      w.Key("anyOf").BeginArray();
      w.BeginObject().Key("type").String("number").EndObject();
      w.BeginObject().Key("type").String("string").Key("pattern").String(kNumericPattern);
      w.EndObject();
      if (nullable) w.BeginObject().Key("type").String("null").EndObject();
      w.EndArray();
      break;
    case TypeClass::kBoolean:
      WriteType(w, "boolean", nullable);
      break;
    case TypeClass::kText:
      WriteType(w, "string", nullable);
      if (t.length >= 0) w.Key("maxLength").Int(t.length);
      break;
    case TypeClass::kUuid:
      WriteType(w, "string", nullable);
      w.Key("format").String("uuid");
      break;
    case TypeClass::kJson:
      w.Key("description").String("any JSON value");
      break;
    case TypeClass::kBytea:
      WriteType(w, "string", nullable);
      w.Key("contentEncoding").String("base64");
      break;
    case TypeClass::kDate:
      WriteType(w, "string", nullable);
      w.Key("format").String("date");
      break;
    case TypeClass::kTimestampTz:
      WriteType(w, "string", nullable);
      w.Key("format").String("date-time");
      break;
    case TypeClass::kTime:
    case TypeClass::kTimeTz:
    case TypeClass::kTimestamp:
    case TypeClass::kInterval:
    case TypeClass::kInet:
      WriteType(w, "string", nullable);
      break;
  }
  w.Key("x-postgresql-type").String(FormatFieldType(t));
  w.EndObject();
}

}  // namespace

Result<FieldType> ParseFieldType(std::string_view text) {
  // Lower case, single spaces, no spaces around parentheses and brackets.
  std::string s;
  for (char c : text) {
    char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (l == ' ' || l == '\t') {
      if (!s.empty() && s.back() != ' ' && s.back() != '(' && s.back() != ',') s.push_back(' ');
      continue;
    }
    if ((l == '(' || l == ')' || l == '[' || l == ']' || l == ',') && !s.empty() && s.back() == ' ')
      s.pop_back();
    s.push_back(l);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.empty()) return BadType(text, "empty; accepted: " + AcceptedTypes());
  FieldType t;
  while (s.size() >= 2 && s.ends_with("[]")) {
    ++t.array_dims;
    s.resize(s.size() - 2);
  }
  std::string args;
  bool has_args = false;
  if (size_t open = s.find('('); open != std::string::npos) {
    size_t close = s.find(')', open);
    if (close == std::string::npos) return BadType(text, "a '(' without ')'");
    args = s.substr(open + 1, close - open - 1);
    has_args = true;
    std::string rest = s.substr(close + 1);
    s = s.substr(0, open);
    if (!rest.empty() && rest.front() != ' ') return BadType(text, "unexpected text after ')'");
    s += rest;
  }
  if (s.find_first_of("()[],") != std::string::npos) {
    return BadType(text, "not a type name; accepted: " + AcceptedTypes());
  }
  const BaseType* base = FindBase(s);
  if (base == nullptr) return BadType(text, "unknown type; accepted: " + AcceptedTypes());
  t.type_class = base->type_class;
  t.base = std::string(base->name);
  if (!has_args) return t;
  switch (base->modifier) {
    case BaseType::kNone:
      return BadType(text, std::string(base->name) + " takes no modifier");
    case BaseType::kLength:
      if (!ParseInt(args, t.length) || t.length < 1) {
        return BadType(text, "the length must be a whole number >= 1");
      }
      return t;
    case BaseType::kTimePrecision:
      if (!ParseInt(args, t.precision) || t.precision < 0 || t.precision > 6) {
        return BadType(text, "the precision must be 0 to 6");
      }
      return t;
    case BaseType::kPrecisionScale: {
      size_t comma = args.find(',');
      std::string_view a(args);
      if (!ParseInt(a.substr(0, comma), t.precision) || t.precision < 1 || t.precision > 1000) {
        return BadType(text, "the precision must be 1 to 1000");
      }
      t.scale = 0;
      if (comma != std::string::npos &&
          (!ParseInt(a.substr(comma + 1), t.scale) || t.scale < 0 || t.scale > t.precision)) {
        return BadType(text, "the scale must be 0 to the precision");
      }
      return t;
    }
  }
  return t;
}

std::string FormatFieldType(const FieldType& t) {
  std::string out = t.base;
  if (t.length >= 0) {
    out += "(" + std::to_string(t.length) + ")";
  } else if (t.type_class == TypeClass::kNumeric && t.precision >= 0) {
    out += "(" + std::to_string(t.precision) + "," + std::to_string(t.scale) + ")";
  } else if (t.precision >= 0) {
    // "timestamp(3) with time zone", "interval(3)"
    size_t space = out.find(' ');
    std::string p = "(" + std::to_string(t.precision) + ")";
    if (space == std::string::npos) {
      out += p;
    } else {
      out.insert(space, p);
    }
  }
  for (int i = 0; i < t.array_dims; ++i) out += "[]";
  return out;
}

bool ValueFits(const FieldType& t, const Value& v, std::string& reason) {
  if (t.array_dims == 0) return ScalarFits(t, v, reason);
  if (v.kind() == ValueKind::kArray) return ArrayFits(t, v, reason);
  // JSON producers send arrays as JSON.
  if (v.kind() == ValueKind::kJson && !v.as_string().empty() && v.as_string().front() == '[') {
    return true;
  }
  reason = KindPhrase(v) + ", but the field is " + FormatFieldType(t);
  return false;
}

void WriteJsonSchema(JsonWriter& w, const FieldType& t, bool nullable) {
  if (t.array_dims == 0) return WriteScalarSchema(w, t, nullable);
  FieldType inner = t;
  --inner.array_dims;
  w.BeginObject();
  WriteType(w, "array", nullable);
  w.Key("items");
  WriteJsonSchema(w, inner, true);  // elements may be null
  w.Key("x-postgresql-type").String(FormatFieldType(t));
  w.EndObject();
}

}  // namespace cdc::model
