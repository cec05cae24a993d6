#include "process/transform/transform.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <set>

#include "base/hash.h"
#include "base/time.h"
#include "event/event_json.h"
#include "event/json_writer.h"
#include "process/redact/transform.h"

namespace cdc::transform {
namespace {

constexpr std::pair<CastType, std::string_view> kCastNames[] = {
    {CastType::kString, "string"},   {CastType::kInt, "int"},   {CastType::kDouble, "double"},
    {CastType::kDecimal, "decimal"}, {CastType::kBool, "bool"}, {CastType::kTimestamp, "timestamp"},
    {CastType::kDate, "date"},
};

constexpr int64_t kMicrosPerDay = 86'400'000'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string KindPhrase(const Value& v) {
  std::string_view name = ValueKindName(v.kind());
  bool an = v.kind() == ValueKind::kInt64 || v.kind() == ValueKind::kInterval ||
            v.kind() == ValueKind::kInet || v.kind() == ValueKind::kArray;
  return std::string(an ? "an " : "a ") + std::string(name) + " value";
}

bool IsNonFinite(std::string_view s) { return s == "NaN" || s == "Infinity" || s == "-Infinity"; }

// An integer written as "-42" or "42.000"; false when there is a non-zero fraction, an exponent
// or it is out of the int64 range.
bool ParseIntegral(std::string_view s, int64_t& out) {
  size_t end = s.find('.');
  if (end != std::string_view::npos) {
    std::string_view frac = s.substr(end + 1);
    if (frac.empty()) return false;
    for (char c : frac) {
      if (c != '0') return false;
    }
    s = s.substr(0, end);
  }
  if (s.empty() || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The text of a value as the output JSON shows it, without the quotes of a JSON string.
// A value as text: the form redaction hashes and masks (strings as they are, bytes as base64,
// other scalars as their JSON text without quotes).
std::string TextOf(const Value& v) {
  std::string scratch;
  return std::string(redact::CanonicalText(v, scratch));
}

Status CastError(const Value& v, std::string_view what) {
  return InvalidArgument(KindPhrase(v) + " that is not " + std::string(what));
}

Result<Value> ToInt(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kInt64:
      return v;
    case ValueKind::kBool:
      return Value::Int64(v.as_bool() ? 1 : 0);
    case ValueKind::kDouble: {
      double d = v.as_double();
      if (std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 &&
          d < 9223372036854775808.0) {
        return Value::Int64(static_cast<int64_t>(d));
      }
      return CastError(v, "a whole number in the int64 range");
    }
    case ValueKind::kDecimal:
    case ValueKind::kText: {
      int64_t i = 0;
      if (ParseIntegral(v.as_string(), i)) return Value::Int64(i);
      return CastError(v, "a whole number in the int64 range");
    }
    default:
      return CastError(v, "a number");
  }
}

Result<Value> ToDouble(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kDouble:
      return v;
    case ValueKind::kInt64:
      return Value::Double(static_cast<double>(v.as_int64()));
    case ValueKind::kDecimal:
    case ValueKind::kText: {
      std::string_view s = v.as_string();
      if (s == "NaN") return Value::Double(std::nan(""));
      if (s == "Infinity") return Value::Double(HUGE_VAL);
      if (s == "-Infinity") return Value::Double(-HUGE_VAL);
      double d = 0;
      if (IsJsonNumber(s)) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec == std::errc() && p == s.data() + s.size()) return Value::Double(d);
      }
      return CastError(v, "a number in the double range");
    }
    default:
      return CastError(v, "a number");
  }
}

Result<Value> ToDecimal(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kDecimal:
      return v;
    case ValueKind::kInt64: {
      char buf[24];
      auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v.as_int64());
      return Value::Decimal(std::string(buf, p));
    }
    case ValueKind::kDouble: {
      double d = v.as_double();
      if (std::isnan(d)) return Value::Decimal("NaN");
      if (std::isinf(d)) return Value::Decimal(d > 0 ? "Infinity" : "-Infinity");
      char buf[32];
      auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      return Value::Decimal(std::string(buf, p));
    }
    case ValueKind::kText: {
      std::string_view s = v.as_string();
      if (IsJsonNumber(s) || IsNonFinite(s)) return Value::Decimal(s);
      return CastError(v, "a number");
    }
    default:
      return CastError(v, "a number");
  }
}

Result<Value> ToBool(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kBool:
      return v;
    case ValueKind::kInt64:
      if (v.as_int64() == 0 || v.as_int64() == 1) return Value::Bool(v.as_int64() == 1);
      return CastError(v, "0 or 1");
    case ValueKind::kText: {
      std::string s(v.as_string());
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "on" || s == "1") {
        return Value::Bool(true);
      }
      if (s == "false" || s == "f" || s == "no" || s == "n" || s == "off" || s == "0") {
        return Value::Bool(false);
      }
      return CastError(v, "true, false, yes, no, on, off, 1 or 0");
    }
    default:
      return CastError(v, "a boolean");
  }
}

// "YYYY-MM-DD" exactly, as days since the epoch.
bool ParseIsoDate(std::string_view s, int64_t& days) {
  if (s.size() != 10) return false;
  std::string probe(s);
  probe += "T00:00:00Z";
  auto t = ParseRfc3339(probe);
  if (!t) return false;
  days = FloorDiv(t->micros, kMicrosPerDay);
  return true;
}

// An RFC 3339 date-time; without an offset it is taken as UTC.
std::optional<Timestamp> ParseDateTime(std::string_view s) {
  if (auto t = ParseRfc3339(s)) return t;
  std::string probe(s);
  probe += 'Z';
  return ParseRfc3339(probe);
}

Result<Value> ToTimestamp(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kTimestampTz:
      return v;
    case ValueKind::kTimestamp:
      return Value::TimestampTz(v.as_int64());  // wall-clock time taken as UTC
    case ValueKind::kDate: {
      int64_t d = v.as_int64();
      if (d == Value::kInfinity || d == Value::kMinusInfinity) return Value::TimestampTz(d);
      return Value::TimestampTz(d * kMicrosPerDay);
    }
    case ValueKind::kText: {
      std::string_view s = v.as_string();
      if (s == "infinity") return Value::TimestampTz(Value::kInfinity);
      if (s == "-infinity") return Value::TimestampTz(Value::kMinusInfinity);
      int64_t days = 0;
      if (ParseIsoDate(s, days)) return Value::TimestampTz(days * kMicrosPerDay);
      if (auto t = ParseDateTime(s)) return Value::TimestampTz(t->micros);
      return CastError(v, "an RFC 3339 date-time");
    }
    default:
      return CastError(v, "a date-time");
  }
}

Result<Value> ToDate(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kDate:
      return v;
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz: {
      int64_t m = v.as_int64();
      if (m == Value::kInfinity || m == Value::kMinusInfinity) return Value::Date(m);
      return Value::Date(FloorDiv(m, kMicrosPerDay));
    }
    case ValueKind::kText: {
      std::string_view s = v.as_string();
      if (s == "infinity") return Value::Date(Value::kInfinity);
      if (s == "-infinity") return Value::Date(Value::kMinusInfinity);
      int64_t days = 0;
      if (ParseIsoDate(s, days)) return Value::Date(days);
      if (auto t = ParseDateTime(s)) return Value::Date(FloorDiv(t->micros, kMicrosPerDay));
      return CastError(v, "a date (YYYY-MM-DD) or an RFC 3339 date-time");
    }
    default:
      return CastError(v, "a date");
  }
}

Result<Value> Cast(const Value& v, CastType type) {
  if (v.is_null() || v.kind() == ValueKind::kUnchangedToast) return v;
  switch (type) {
    case CastType::kString:
      return v.kind() == ValueKind::kText ? v : Value::Text(TextOf(v));
    case CastType::kInt:
      return ToInt(v);
    case CastType::kDouble:
      return ToDouble(v);
    case CastType::kDecimal:
      return ToDecimal(v);
    case CastType::kBool:
      return ToBool(v);
    case CastType::kTimestamp:
      return ToTimestamp(v);
    case CastType::kDate:
      return ToDate(v);
  }
  return v;
}

struct TemplatePart {
  bool column = false;
  std::string text;
};

Status ParseTemplateParts(std::string_view t, std::vector<TemplatePart>& parts) {
  std::string literal;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      literal.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      literal.push_back('}');
      ++i;
    } else if (c == '{') {
      size_t close = t.find('}', i + 1);
      if (close == std::string_view::npos) {
        return InvalidArgument(
            "template has a '{' without a matching '}' (write '{{' for a brace)");
      }
      std::string_view name = t.substr(i + 1, close - i - 1);
      if (name.empty() || name.find('{') != std::string_view::npos) {
        return InvalidArgument("template has an empty or nested '{...}' reference");
      }
      if (!literal.empty()) parts.push_back({false, std::move(literal)});
      literal.clear();
      parts.push_back({true, std::string(name)});
      i = close;
    } else if (c == '}') {
      return InvalidArgument("template has a '}' without a '{' (write '}}' for a brace)");
    } else {
      literal.push_back(c);
    }
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return Status::Ok();
}

// The names a step reads.
std::vector<std::string> Reads(const StepSpec& s) {
  std::vector<std::string> out;
  switch (s.kind) {
    case Kind::kRename:
      for (const auto& [from, to] : s.renames) out.push_back(from);
      break;
    case Kind::kDrop:
    case Kind::kInclude:
      out = s.columns;
      break;
    case Kind::kCast:
      for (const auto& [c, t] : s.casts) out.push_back(c);
      break;
    case Kind::kSet:
      if (s.set_from == SetFrom::kColumn) out.push_back(s.source);
      if (s.set_from == SetFrom::kTemplate) {
        std::vector<TemplatePart> parts;
        if (ParseTemplateParts(s.source, parts).ok()) {
          for (auto& p : parts) {
            if (p.column) out.push_back(p.text);
          }
        }
      }
      break;
    case Kind::kFlatten:
      out.push_back(s.column);
      break;
  }
  return out;
}

// Appends the JSON members of `object` (minified JSON) as columns named prefix + key, expanding
// nested objects while `depth` allows (0 = no limit).
bool FlattenObject(simdjson::ondemand::object object, const std::string& prefix,
                   const std::string& separator, int level, int depth, std::vector<Column>& out) {
  namespace od = simdjson::ondemand;
  for (auto field : object) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return false;
    std::string name = prefix;
    name += key;
    od::json_type type;
    if (v.type().get(type)) return false;
    switch (type) {
      case od::json_type::object: {
        if (depth == 0 || level < depth) {
          od::object inner;
          if (v.get_object().get(inner)) return false;
          if (!FlattenObject(inner, name + separator, separator, level + 1, depth, out)) {
            return false;
          }
        } else {
          std::string_view raw;
          od::object inner;
          if (v.get_object().get(inner) || inner.raw_json().get(raw)) return false;
          out.push_back({std::move(name), Value::Json(std::string(raw))});
        }
        break;
      }
      case od::json_type::array: {
        std::string_view raw;
        od::array a;
        if (v.get_array().get(a) || a.raw_json().get(raw)) return false;
        out.push_back({std::move(name), Value::Json(std::string(raw))});
        break;
      }
      case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) return false;
        out.push_back({std::move(name), Value::Text(std::string(s))});
        break;
      }
      case od::json_type::number: {
        od::number_type nt;
        if (v.get_number_type().get(nt)) return false;
        if (nt == od::number_type::signed_integer) {
          int64_t i = 0;
          if (v.get_int64().get(i)) return false;
          out.push_back({std::move(name), Value::Int64(i)});
        } else {
          std::string_view raw = v.raw_json_token();
          while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                  raw.back() == '\t')) {
            raw.remove_suffix(1);
          }
          out.push_back({std::move(name), Value::Decimal(std::string(raw))});
        }
        break;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (v.get_bool().get(b)) return false;
        out.push_back({std::move(name), Value::Bool(b)});
        break;
      }
      case od::json_type::null:
        out.push_back({std::move(name), Value::Null()});
        break;
    }
  }
  return true;
}

void InsertSorted(std::vector<std::string>& names, const std::string& name) {
  auto it = std::lower_bound(names.begin(), names.end(), name);
  if (it == names.end() || *it != name) names.insert(it, name);
}

// A name's length as one bit of a 64-bit set (63 stands for 63 and longer): a step that names a
// few columns skips every column whose length none of them has with one test.
constexpr uint64_t LengthBit(size_t length) { return uint64_t{1} << (length < 63 ? length : 63); }

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  for (const auto& n : names) {
    if (SameName(n, name)) return true;
  }
  return false;
}

Value* FindColumn(std::vector<Column>& cols, std::string_view name) {
  for (auto& c : cols) {
    if (SameName(c.name, name)) return &c.value;
  }
  return nullptr;
}

std::string EscapeRegex(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kRename:
      return "rename";
    case Kind::kDrop:
      return "drop";
    case Kind::kInclude:
      return "include";
    case Kind::kCast:
      return "cast";
    case Kind::kSet:
      return "set";
    case Kind::kFlatten:
      return "flatten";
  }
  return "?";
}

std::string_view CastTypeName(CastType type) {
  for (const auto& [t, name] : kCastNames) {
    if (t == type) return name;
  }
  return "?";
}

std::string CastTypeNames() {
  std::string out;
  for (const auto& [t, name] : kCastNames) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

Result<CastType> ParseCastType(std::string_view name) {
  for (const auto& [t, n] : kCastNames) {
    if (n == name) return t;
  }
  return InvalidArgument("unknown cast type '" + std::string(name) +
                         "' (accepted: " + CastTypeNames() + ")");
}

std::vector<StepError> Validate(const std::vector<StepSpec>& steps,
                                const std::vector<std::string>* known) {
  std::vector<StepError> errors;
  // With known columns: the exact names at each step, plus the prefixes of flattened columns.
  bool exact = known != nullptr;
  std::vector<std::string> cols = exact ? *known : std::vector<std::string>();
  std::vector<std::string> prefixes;
  std::set<std::string> gone;  // removed or renamed away by an earlier step
  auto exists = [&](const std::string& name) {
    if (!exact) return gone.count(name) == 0;
    if (Contains(cols, name)) return true;
    for (const auto& p : prefixes) {
      if (name.size() > p.size() && name.starts_with(p)) return true;
    }
    return false;
  };
  auto remove = [&](const std::string& name) {
    cols.erase(std::remove(cols.begin(), cols.end(), name), cols.end());
    gone.insert(name);
  };
  auto add = [&](const std::string& name) {
    if (exact && !Contains(cols, name)) cols.push_back(name);
    gone.erase(name);
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    const StepSpec& s = steps[i];
    size_t before = errors.size();
    auto error = [&](std::string message) { errors.push_back({i, std::move(message)}); };
    for (const auto& name : Reads(s)) {
      if (name.empty()) {
        error("a column name is empty");
      } else if (!exists(name)) {
        error(gone.count(name)
                  ? "column '" + name + "' was removed or renamed by an earlier transform"
                  : "unknown column '" + name + "'");
      }
    }
    switch (s.kind) {
      case Kind::kRename: {
        std::set<std::string> from, to;
        for (const auto& [a, b] : s.renames) {
          if (b.empty()) error("the new name of '" + a + "' is empty");
          if (a == b) error("column '" + a + "' is renamed to itself");
          if (!from.insert(a).second) error("column '" + a + "' is renamed twice");
          if (!to.insert(b).second) error("two columns are renamed to '" + b + "'");
        }
        for (const auto& [a, b] : s.renames) {
          if (exact && Contains(cols, b) && !from.count(b)) {
            error("renaming '" + a + "' to '" + b + "' would overwrite the column '" + b + "'");
          }
        }
        if (errors.size() != before) break;
        for (const auto& [a, b] : s.renames) {
          if (exact) {
            auto it = std::find(cols.begin(), cols.end(), a);
            if (it != cols.end()) *it = b;
          }
          gone.insert(a);
        }
        for (const auto& [a, b] : s.renames) gone.erase(b);
        break;
      }
      case Kind::kDrop:
        if (s.columns.empty()) error("drop needs at least one column");
        for (const auto& c : s.columns) remove(c);
        break;
      case Kind::kInclude: {
        if (s.columns.empty()) error("include needs at least one column");
        std::vector<std::string> kept;
        for (const auto& c : s.columns) {
          if (!Contains(kept, c)) kept.push_back(c);
        }
        if (exact) {
          for (const auto& c : cols) {
            if (!Contains(kept, c)) gone.insert(c);
          }
        }
        // From here on the columns are known exactly: the ones kept.
        exact = true;
        cols = std::move(kept);
        prefixes.clear();
        break;
      }
      case Kind::kCast:
        if (s.casts.empty()) error("cast needs at least one column");
        break;
      case Kind::kSet:
        if (s.column.empty()) {
          error("set needs a 'column' to write");
          break;
        }
        if (s.set_from == SetFrom::kTemplate) {
          std::vector<TemplatePart> parts;
          Status t = ParseTemplateParts(s.source, parts);
          if (!t.ok()) error(t.message());
        }
        add(s.column);
        break;
      case Kind::kFlatten:
        if (s.depth < 0) error("flatten depth must be 0 (all levels) or more");
        if (s.separator.empty()) error("flatten separator must not be empty");
        if (errors.size() != before) break;
        remove(s.column);
        prefixes.push_back(s.column + s.separator);
        break;
    }
  }
  return errors;
}

std::string CastSchema(CastType type, bool nullable) {
  std::string out;
  JsonWriter w(out);
  auto type_member = [&](std::string_view t) {
    w.Key("type");
    if (nullable) {
      w.BeginArray().String(t).String("null").EndArray();
    } else {
      w.String(t);
    }
  };
  w.BeginObject();
  switch (type) {
    case CastType::kString:
      type_member("string");
      break;
    case CastType::kInt:
      type_member("integer");
      break;
    case CastType::kDouble:
    case CastType::kDecimal:
      w.Key("anyOf").BeginArray();
      w.BeginObject().Key("type").String("number").EndObject();
      w.BeginObject().Key("enum").BeginArray().String("NaN").String("Infinity").String("-Infinity");
      w.EndArray().EndObject();
      if (nullable) w.BeginObject().Key("type").String("null").EndObject();
      w.EndArray();
      break;
    case CastType::kBool:
      type_member("boolean");
      break;
    case CastType::kTimestamp:
      type_member("string");
      w.Key("format").String("date-time");
      break;
    case CastType::kDate:
      type_member("string");
      w.Key("format").String("date");
      break;
  }
  w.EndObject();
  return out;
}

Chain::Chain(std::vector<StepSpec> steps) : steps_(std::move(steps)) {
  templates_.resize(steps_.size());
  name_lengths_.resize(steps_.size());
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (const auto& [from, to] : steps_[i].renames) {
      name_lengths_[i] |= LengthBit(from.size()) | LengthBit(to.size());
    }
    for (const auto& c : steps_[i].columns) name_lengths_[i] |= LengthBit(c.size());
  }
  sets_from_.resize(steps_.size());
  size_t sets = 0;
  for (size_t i = steps_.size(); i-- > 0;) {
    sets += steps_[i].kind == Kind::kSet ? 1 : 0;
    sets_from_[i] = sets;
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (steps_[i].kind != Kind::kSet || steps_[i].set_from != SetFrom::kTemplate) continue;
    std::vector<TemplatePart> parts;
    Status s = ParseTemplateParts(steps_[i].source, parts);
    CDC_ASSERT(s.ok(), "templates are validated before a chain is built");
    for (auto& p : parts) templates_[i].push_back({p.column, std::move(p.text)});
  }
}

Result<Chain> Chain::Build(std::vector<StepSpec> steps) {
  auto errors = Validate(steps);
  if (!errors.empty()) {
    const StepError& e = errors.front();
    return InvalidArgument("transform " + std::to_string(e.step + 1) + " (" +
                           std::string(KindName(steps[e.step].kind)) + "): " + e.message);
  }
  return Chain(std::move(steps));
}

Status Chain::ApplyStep(size_t i, Row& row) const {
  const StepSpec& s = steps_[i];
  auto& cols = row.columns();
  auto fail = [&](const std::string& column, std::string_view why) {
    return InvalidArgument("transform " + std::to_string(i + 1) + " (" +
                           std::string(KindName(s.kind)) + "): column '" + column +
                           "': " + std::string(why));
  };
  switch (s.kind) {
    case Kind::kRename: {
      // One pass finds the sources, and the targets already taken by a column that is not
      // itself renamed away; all names are looked up before any changes, so {a: b, b: a} swaps.
      constexpr size_t kOnStack = 16;
      Column* found_stack[kOnStack];
      bool taken_stack[kOnStack];
      std::vector<Column*> found_heap;
      std::unique_ptr<bool[]> taken_heap;
      Column** found = found_stack;
      bool* taken = taken_stack;
      size_t n = s.renames.size();
      if (n > kOnStack) {
        found_heap.resize(n);
        taken_heap = std::make_unique<bool[]>(n);
        found = found_heap.data();
        taken = taken_heap.get();
      }
      std::fill(found, found + n, nullptr);
      std::fill(taken, taken + n, false);
      const uint64_t lengths = name_lengths_[i];
      for (auto& c : cols) {
        if ((lengths & LengthBit(c.name.size())) == 0) continue;  // neither source nor target
        bool source = false;
        for (size_t k = 0; k < n; ++k) {
          if (SameName(c.name, s.renames[k].first)) {
            found[k] = &c;
            source = true;
          }
        }
        if (source) continue;
        for (size_t k = 0; k < n; ++k) taken[k] = taken[k] || SameName(c.name, s.renames[k].second);
      }
      for (size_t k = 0; k < n; ++k) {
        if (found[k] != nullptr && taken[k]) {
          return fail(s.renames[k].first, "renaming it to '" + s.renames[k].second +
                                              "' would overwrite the column of that name");
        }
      }
      for (size_t k = 0; k < n; ++k) {
        if (found[k] != nullptr) found[k]->name = s.renames[k].second;
      }
      return Status::Ok();
    }
    case Kind::kDrop: {
      const uint64_t lengths = name_lengths_[i];
      cols.erase(std::remove_if(cols.begin(), cols.end(),
                                [&](const Column& c) {
                                  return (lengths & LengthBit(c.name.size())) != 0 &&
                                         Contains(s.columns, c.name);
                                }),
                 cols.end());
      return Status::Ok();
    }
    case Kind::kInclude: {
      const uint64_t lengths = name_lengths_[i];
      cols.erase(std::remove_if(cols.begin(), cols.end(),
                                [&](const Column& c) {
                                  return (lengths & LengthBit(c.name.size())) == 0 ||
                                         !Contains(s.columns, c.name);
                                }),
                 cols.end());
      return Status::Ok();
    }
    case Kind::kCast:
      for (const auto& [column, type] : s.casts) {
        Value* v = FindColumn(cols, column);
        if (v == nullptr) continue;
        Result<Value> cast = Cast(*v, type);
        if (!cast.ok()) {
          return fail(column, "cannot cast " + cast.status().message() + " to " +
                                  std::string(CastTypeName(type)));
        }
        *v = std::move(cast).value();
      }
      return Status::Ok();
    case Kind::kSet: {
      Value result;
      switch (s.set_from) {
        case SetFrom::kValue:
          result = s.value;
          break;
        case SetFrom::kColumn: {
          const Value* from = FindColumn(cols, s.source);
          if (from == nullptr) return Status::Ok();
          result = *from;
          break;
        }
        case SetFrom::kTemplate: {
          std::string text;
          bool null = false;
          for (const Segment& seg : templates_[i]) {
            if (!seg.column) {
              text += seg.text;
              continue;
            }
            const Value* v = FindColumn(cols, seg.text);
            if (v == nullptr || v->kind() == ValueKind::kUnchangedToast) return Status::Ok();
            if (v->is_null()) {
              null = true;
              break;
            }
            text += TextOf(*v);
          }
          result = null ? Value::Null() : Value::Text(std::move(text));
          break;
        }
      }
      if (Value* target = FindColumn(cols, s.column)) {
        *target = std::move(result);
      } else {
        // Room for this and the later set steps, reserved once and only when needed (a drop
        // before the set usually leaves room).
        if (cols.size() == cols.capacity()) cols.reserve(cols.size() + sets_from_[i]);
        row.Add(s.column, std::move(result));
      }
      return Status::Ok();
    }
    case Kind::kFlatten: {
      size_t at = 0;
      while (at < cols.size() && cols[at].name != s.column) ++at;
      if (at == cols.size()) return Status::Ok();
      const Value& v = cols[at].value;
      if (v.kind() != ValueKind::kJson || v.as_string().empty() || v.as_string().front() != '{') {
        return Status::Ok();  // null, a JSON scalar or array: nothing to flatten
      }
      // A reused buffer with simdjson's padding, so parsing allocates nothing per event.
      thread_local std::string buffer;
      thread_local simdjson::ondemand::parser parser;
      std::string_view json = v.as_string();
      buffer.assign(json);
      buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
      simdjson::ondemand::document doc;
      simdjson::ondemand::object object;
      std::vector<Column> produced;
      if (parser.iterate(buffer.data(), json.size(), buffer.size()).get(doc) ||
          doc.get_object().get(object) ||
          !FlattenObject(object, s.column + s.separator, s.separator, 1, s.depth, produced)) {
        return fail(s.column, "the JSON value cannot be read");
      }
      for (const auto& p : produced) {
        for (size_t k = 0; k < cols.size(); ++k) {
          if (k != at && cols[k].name == p.name) {
            return fail(s.column, "flattening it would overwrite the column '" + p.name + "'");
          }
        }
      }
      cols.erase(cols.begin() + static_cast<std::ptrdiff_t>(at));
      cols.insert(cols.begin() + static_cast<std::ptrdiff_t>(at),
                  std::make_move_iterator(produced.begin()),
                  std::make_move_iterator(produced.end()));
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status Chain::Apply(Row& row) const {
  for (size_t i = 0; i < steps_.size(); ++i) CDC_RETURN_IF_ERROR(ApplyStep(i, row));
  return Status::Ok();
}

Status Chain::Apply(ChangeEvent& change, std::vector<std::string>& redacted) const {
  if (steps_.empty()) return Status::Ok();
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (change.before) CDC_RETURN_IF_ERROR(ApplyStep(i, *change.before));
    if (change.after) CDC_RETURN_IF_ERROR(ApplyStep(i, *change.after));
    if (redacted.empty()) continue;
    const StepSpec& s = steps_[i];
    if (s.kind == Kind::kRename) {
      bool changed = false;
      for (auto& name : redacted) {
        for (const auto& [from, to] : s.renames) {
          if (name == from) {
            name = to;
            changed = true;
            break;
          }
        }
      }
      if (changed) {
        std::sort(redacted.begin(), redacted.end());
        redacted.erase(std::unique(redacted.begin(), redacted.end()), redacted.end());
      }
    } else if (s.kind == Kind::kSet && s.set_from != SetFrom::kValue) {
      for (const auto& name : Reads(s)) {
        if (std::binary_search(redacted.begin(), redacted.end(), name)) {
          InsertSorted(redacted, s.column);
          break;
        }
      }
    }
  }
  return Status::Ok();
}

void Chain::ApplyToShape(RowShape& shape) const {
  auto& cols = shape.columns;
  auto find = [&](std::string_view name) -> ColumnShape* {
    for (auto& c : cols) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepSpec& s = steps_[i];
    switch (s.kind) {
      case Kind::kRename: {
        std::vector<ColumnShape*> found;
        for (const auto& [from, to] : s.renames) found.push_back(find(from));
        for (size_t k = 0; k < found.size(); ++k) {
          if (found[k] != nullptr) found[k]->name = s.renames[k].second;
        }
        break;
      }
      case Kind::kDrop:
        cols.erase(
            std::remove_if(cols.begin(), cols.end(),
                           [&](const ColumnShape& c) { return Contains(s.columns, c.name); }),
            cols.end());
        break;
      case Kind::kInclude:
        cols.erase(
            std::remove_if(cols.begin(), cols.end(),
                           [&](const ColumnShape& c) { return !Contains(s.columns, c.name); }),
            cols.end());
        shape.patterns.clear();
        break;
      case Kind::kCast:
        for (const auto& [column, type] : s.casts) {
          if (ColumnShape* c = find(column)) c->schema = CastSchema(type, c->nullable);
        }
        break;
      case Kind::kSet: {
        ColumnShape result{s.column, "{}", true, false};
        switch (s.set_from) {
          case SetFrom::kValue: {
            result.nullable = s.value.is_null();
            std::string schema;
            JsonWriter w(schema);
            w.BeginObject().Key("const");
            WriteValue(w, s.value);
            w.EndObject();
            result.schema = std::move(schema);
            break;
          }
          case SetFrom::kColumn:
            if (const ColumnShape* from = find(s.source)) {
              result.schema = from->schema;
              result.nullable = from->nullable;
            }
            break;
          case SetFrom::kTemplate: {
            bool nullable = false;
            for (const Segment& seg : templates_[i]) {
              const ColumnShape* c = seg.column ? find(seg.text) : nullptr;
              nullable = nullable || (seg.column && (c == nullptr || c->nullable));
            }
            result.nullable = nullable;
            result.schema = nullable ? R"({"type":["string","null"]})" : R"({"type":"string"})";
            break;
          }
        }
        if (ColumnShape* target = find(s.column)) {
          result.required = target->required;
          *target = std::move(result);
        } else {
          cols.push_back(std::move(result));
        }
        break;
      }
      case Kind::kFlatten:
        if (find(s.column) != nullptr) {
          cols.erase(std::remove_if(cols.begin(), cols.end(),
                                    [&](const ColumnShape& c) { return c.name == s.column; }),
                     cols.end());
          shape.patterns.push_back("^" + EscapeRegex(s.column + s.separator));
        }
        break;
    }
  }
}

}  // namespace cdc::transform
