#include "event/event_json.h"

#include <simdjson.h>

#include <cstdio>

#include "base/hash.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

// The writers below are templates over JsonWriter and EventVisitor, so that the rule matcher
// reads exactly what the JSON says.

template <typename W>
void WriteTimestampMicros(W& w, int64_t micros, bool with_zone) {
  if (micros == Value::kInfinity) {
    w.String("infinity");
    return;
  }
  if (micros == Value::kMinusInfinity) {
    w.String("-infinity");
    return;
  }
  char buf[kRfc3339Capacity];
  size_t n = FormatRfc3339(Timestamp{micros}, buf);
  if (!with_zone) --n;  // drop the "Z": a timestamp without time zone has no offset
  w.String(std::string_view(buf, n));
}

template <typename W>
void WriteDate(W& w, int64_t days) {
  if (days == Value::kInfinity) {
    w.String("infinity");
    return;
  }
  if (days == Value::kMinusInfinity) {
    w.String("-infinity");
    return;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[32];
  int n = y >= 0
              ? std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(y), m, d)
              : std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u BC",
                              static_cast<long long>(1 - y), m, d);
  w.String(std::string_view(buf, static_cast<size_t>(n)));
}

template <typename W>
void WriteTime(W& w, int64_t micros) {
  char buf[32];
  int64_t secs = micros / 1000000, frac = micros % 1000000;
  int n =
      std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                    static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  std::string s(buf, static_cast<size_t>(n));
  if (frac != 0) {
    n = std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(frac));
    std::string_view f(buf, static_cast<size_t>(n));
    while (f.back() == '0') f.remove_suffix(1);
    s += f;
  }
  w.String(s);
}

template <typename W>
void WriteValueTo(W& w, const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNull:
    case ValueKind::kUnchangedToast:
      w.Null();
      return;
    case ValueKind::kBool:
      w.Bool(v.as_bool());
      return;
    case ValueKind::kInt64:
      w.Int(v.as_int64());
      return;
    case ValueKind::kDouble:
      w.Double(v.as_double());
      return;
    case ValueKind::kDecimal: {
      std::string_view s = v.as_string();
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") {
        w.String(s);
      } else {
        w.Raw(s);
      }
      return;
    }
    case ValueKind::kBytes:
      w.String(Base64Encode(v.as_string()));
      return;
    case ValueKind::kTimestamp:
      WriteTimestampMicros(w, v.as_int64(), false);
      return;
    case ValueKind::kTimestampTz:
      WriteTimestampMicros(w, v.as_int64(), true);
      return;
    case ValueKind::kDate:
      WriteDate(w, v.as_int64());
      return;
    case ValueKind::kTime:
      WriteTime(w, v.as_int64());
      return;
    case ValueKind::kJson:
      w.Raw(v.as_string());
      return;
    case ValueKind::kArray:
      w.BeginArray();
      for (const auto& e : v.as_array()) WriteValueTo(w, e);
      w.EndArray();
      return;
    case ValueKind::kText:
    case ValueKind::kTimeTz:
    case ValueKind::kInterval:
    case ValueKind::kInet:
    case ValueKind::kUuid:
      w.String(v.as_string());
      return;
  }
}

template <typename W>
void WriteRowTo(W& w, const Row& row) {
  w.BeginObject();
  for (const auto& c : row.columns()) {
    if (c.value.kind() == ValueKind::kUnchangedToast) continue;
    w.Key(c.name);
    if (w.WantsValue()) WriteValueTo(w, c.value);
  }
  w.EndObject();
}

// A schema change: "columns" (the new ones, name -> type) and "previousColumns", and "changes"
// (added, dropped, renamed, retyped).
template <typename W>
void WriteSchemaChangeTo(W& w, const ChangeEvent& change) {
  static const Row kNone;
  const Row& before = change.before ? *change.before : kNone;
  const Row& after = change.after ? *change.after : kNone;
  w.Key("columns");
  if (w.WantsValue()) WriteRowTo(w, after);
  w.Key("previousColumns");
  if (w.WantsValue()) WriteRowTo(w, before);
  w.Key("changes");
  if (!w.WantsValue()) return;
  SchemaDiff d = DiffColumns(before, after);
  auto names = [&](std::string_view key, const std::vector<std::string>& list) {
    w.Key(key);
    if (!w.WantsValue()) return;
    w.BeginArray();
    for (const auto& n : list) w.String(n);
    w.EndArray();
  };
  w.BeginObject();
  names("added", d.added);
  names("dropped", d.dropped);
  w.Key("renamed");
  if (w.WantsValue()) {
    w.BeginObject();
    for (const auto& [from, to] : d.renamed) w.Key(from).String(to);
    w.EndObject();
  }
  w.Key("retyped");
  if (w.WantsValue()) {
    w.BeginObject();
    for (const auto& r : d.retyped) {
      w.Key(r.column);
      if (!w.WantsValue()) continue;
      w.BeginObject();
      w.Key("from").String(r.from);
      w.Key("to").String(r.to);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
}

template <typename W>
void WriteChangeFieldsTo(W& w, const ChangeEvent& change) {
  w.Key("eventType").String(OpName(change.op));
  if (!change.table.empty()) {
    w.Key("tableName");
    if (w.WantsValue()) w.String(change.QualifiedName());
  }
  w.Key("timestamp");
  if (w.WantsValue()) {
    char buf[kRfc3339Capacity];
    w.String(std::string_view(buf, FormatRfc3339(change.commit_time, buf)));
  }
  if (change.op == Op::kSchemaChange) {
    WriteSchemaChangeTo(w, change);
    return;
  }
  if (change.before) {
    w.Key("before");
    if (w.WantsValue()) WriteRowTo(w, *change.before);
  }
  if (change.after) {
    w.Key(change.op == Op::kPositionGap ? "gap" : "after");
    if (w.WantsValue()) WriteRowTo(w, *change.after);
  }
}

}  // namespace

void WriteValue(JsonWriter& w, const Value& v) { WriteValueTo(w, v); }
void WriteValue(EventVisitor& v, const Value& value) { WriteValueTo(v, value); }
void WriteRow(JsonWriter& w, const Row& row) { WriteRowTo(w, row); }
void WriteRow(EventVisitor& v, const Row& row) { WriteRowTo(v, row); }
void WriteChangeFields(JsonWriter& w, const ChangeEvent& change) { WriteChangeFieldsTo(w, change); }
void WriteChangeFields(EventVisitor& v, const ChangeEvent& change) {
  WriteChangeFieldsTo(v, change);
}

std::string ValueToJson(const Value& v) {
  std::string out;
  JsonWriter w(out);
  WriteValue(w, v);
  return out;
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
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

namespace {

namespace odv = simdjson::ondemand;

// Visits every value, so that On-Demand checks all of the text (it only checks what it visits).
bool ValidateValue(odv::value v, int depth) {
  if (depth > 256) return false;
  odv::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case odv::json_type::object: {
      odv::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto field : obj) {
        std::string_view key;
        odv::value fv;
        if (field.unescaped_key().get(key) || field.value().get(fv)) return false;
        if (!ValidateValue(fv, depth + 1)) return false;
      }
      return true;
    }
    case odv::json_type::array: {
      odv::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto elem : arr) {
        odv::value e;
        if (elem.get(e) || !ValidateValue(e, depth + 1)) return false;
      }
      return true;
    }
    case odv::json_type::string: {
      std::string_view s;
      return v.get_string().get(s) == simdjson::SUCCESS;
    }
    case odv::json_type::number: {
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                              raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
      return IsJsonNumber(raw);
    }
    case odv::json_type::boolean: {
      bool b;
      return v.get_bool().get(b) == simdjson::SUCCESS;
    }
    case odv::json_type::null: {
      // Not `return v.is_null()`: its conversion to bool throws on a bad literal ("[n").
      bool is_null = false;
      return v.is_null().get(is_null) == simdjson::SUCCESS && is_null;
    }
  }
  return false;
}

}  // namespace

bool IsValidJson(std::string_view json) {
  thread_local odv::parser parser;
  thread_local std::string padded;  // reused: JSON columns are checked for every change
  padded.assign(json);
  padded.resize(json.size() + simdjson::SIMDJSON_PADDING);
  odv::document doc;
  if (parser.iterate(padded.data(), json.size(), padded.size()).get(doc)) return false;
  // A scalar document is checked directly; containers are walked.
  odv::json_type type;
  if (doc.type().get(type)) return false;
  if (type == odv::json_type::object || type == odv::json_type::array) {
    odv::value root;
    if (doc.get_value().get(root) || !ValidateValue(root, 0)) return false;
  } else {
    std::string_view raw;
    if (doc.raw_json_token().get(raw)) return false;
    // The token must be all there is besides whitespace: simdjson's scalar token can stop short
    // of trailing bytes it does not see as structural ("0\t\0\0" was valid).
    auto is_ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    std::string_view whole = json;
    while (!whole.empty() && is_ws(whole.front())) whole.remove_prefix(1);
    while (!whole.empty() && is_ws(whole.back())) whole.remove_suffix(1);
    std::string_view token = raw;
    while (!token.empty() && is_ws(token.back())) token.remove_suffix(1);
    if (token != whole) return false;
    simdjson::dom::parser dom;
    simdjson::dom::element ignored;
    if (type != odv::json_type::number &&
        dom.parse(raw.data(), raw.size()).get(ignored) != simdjson::SUCCESS) {
      return false;
    }
    if (type == odv::json_type::number) {
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                              raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
      return IsJsonNumber(raw);
    }
    return true;
  }
  const char* rest = nullptr;
  return doc.current_location().get(rest) != simdjson::SUCCESS;  // nothing after the value
}

Result<std::string> MinifyJson(std::string_view json) {
  if (!IsValidJson(json)) return InvalidArgument("malformed JSON");
  std::string out(json.size(), '\0');
  size_t len = 0;
  if (simdjson::minify(json.data(), json.size(), out.data(), len) != simdjson::SUCCESS) {
    return InvalidArgument("malformed JSON");
  }
  out.resize(len);
  return out;
}

namespace {

namespace od = simdjson::ondemand;

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

Status JsonError(simdjson::error_code e, std::string_view where) {
  return InvalidArgument(std::string("malformed JSON in ") + std::string(where) + ": " +
                         simdjson::error_message(e));
}

Result<Value> ParseJsonValue(od::value& v, std::string_view where) {
  od::json_type type;
  if (auto e = v.type().get(type)) return JsonError(e, where);
  switch (type) {
    case od::json_type::null:
      return Value::Null();
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return JsonError(e, where);
      return Value::Bool(b);
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return JsonError(e, where);
      return Value::Text(std::string(s));
    }
    case od::json_type::number: {
      od::number_type nt;
      if (auto e = v.get_number_type().get(nt)) return JsonError(e, where);
      if (nt == od::number_type::signed_integer) {
        int64_t i;
        if (auto e = v.get_int64().get(i)) return JsonError(e, where);
        return Value::Int64(i);
      }
      // Keep the exact digits of fractions and of integers beyond int64: never round via double.
      return Value::Decimal(std::string(TrimRight(v.raw_json_token())));
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if (auto e = v.get_object().get(o)) return JsonError(e, where);
      if (auto e = o.raw_json().get(raw)) return JsonError(e, where);
      return Value::Json(std::string(raw));
    }
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if (auto e = v.get_array().get(a)) return JsonError(e, where);
      if (auto e = a.raw_json().get(raw)) return JsonError(e, where);
      return Value::Json(std::string(raw));
    }
  }
  return InvalidArgument("malformed JSON in " + std::string(where));
}

Result<std::optional<Row>> ParseRow(od::value& v, std::string_view where) {
  od::json_type type;
  if (auto e = v.type().get(type)) return JsonError(e, where);
  if (type == od::json_type::null) return std::optional<Row>();
  if (type != od::json_type::object) {
    return InvalidArgument("field '" + std::string(where) + "' must be an object or null");
  }
  od::object obj;
  if (auto e = v.get_object().get(obj)) return JsonError(e, where);
  Row row;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return JsonError(e, where);
    std::string name(key);
    od::value fv;
    if (auto e = field.value().get(fv)) return JsonError(e, where);
    CDC_ASSIGN_OR_RETURN(Value value, ParseJsonValue(fv, where));
    if (row.Find(name) != nullptr) {
      return InvalidArgument("field '" + std::string(where) + "' has the column '" + name +
                             "' twice");
    }
    row.Add(std::move(name), std::move(value));
  }
  return std::optional<Row>(std::move(row));
}

}  // namespace

std::string EncodeChangeEventJson(const ChangeEvent& change) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  WriteChangeFields(w, change);
  w.EndObject();
  return out;
}

Result<ChangeEvent> ParseChangeEventJson(std::string_view json) {
  // Validate the whole text first (simdjson's DOM parser checks everything, On-Demand only what
  // it visits), then extract with On-Demand, which keeps the exact digits of numbers. The text is
  // minified first, so embedded JSON values need no further minification.
  auto minified = MinifyJson(json);
  if (!minified.ok()) return InvalidArgument("malformed JSON: the line is not valid JSON");
  std::string mini = std::move(minified).value();
  thread_local od::parser parser;
  simdjson::padded_string padded(mini);
  od::document doc;
  if (auto e = parser.iterate(padded).get(doc)) return JsonError(e, "event");
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("a change event must be a JSON object");
  }
  ChangeEvent ev;
  bool have_type = false, have_table = false, have_time = false, have_before = false,
       have_after = false;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return JsonError(e, "event");
    od::value v;
    if (auto e = field.value().get(v)) return JsonError(e, key);
    if (key == "eventType") {
      std::string_view s;
      if (v.get_string().get(s)) return InvalidArgument("field 'eventType' must be a string");
      auto op = ParseOp(s);
      if (!op) {
        return InvalidArgument(
            "field 'eventType' must be one of INSERT, UPDATE, DELETE, TRUNCATE, "
            "READ; got '" +
            std::string(s.substr(0, 32)) + "'");
      }
      ev.op = *op;
      have_type = true;
    } else if (key == "tableName") {
      std::string_view s;
      if (v.get_string().get(s) || s.empty()) {
        return InvalidArgument("field 'tableName' must be a non-empty string");
      }
      size_t dot = s.find('.');
      if (dot == std::string_view::npos) {
        ev.table = std::string(s);
      } else {
        ev.schema = std::string(s.substr(0, dot));
        ev.table = std::string(s.substr(dot + 1));
        if (ev.schema.empty() || ev.table.empty()) {
          return InvalidArgument(
              "field 'tableName' must be 'table' or 'schema.table', both parts "
              "non-empty (got '" +
              std::string(s) + "')");
        }
      }
      have_table = true;
    } else if (key == "timestamp") {
      std::string_view s;
      if (v.get_string().get(s)) return InvalidArgument("field 'timestamp' must be a string");
      auto t = ParseRfc3339(s);
      if (!t) {
        return InvalidArgument(
            "field 'timestamp' is not an RFC 3339 date-time such as 2024-01-15T10:30:00Z");
      }
      ev.commit_time = *t;
      have_time = true;
    } else if (key == "before") {
      CDC_ASSIGN_OR_RETURN(ev.before, ParseRow(v, "before"));
      have_before = ev.before.has_value();
    } else if (key == "after") {
      CDC_ASSIGN_OR_RETURN(ev.after, ParseRow(v, "after"));
      have_after = ev.after.has_value();
    }
    // Other top-level fields are ignored, so producers may add fields without breaking us.
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return InvalidArgument("malformed JSON: trailing content after the event");
  }
  if (!have_type) return InvalidArgument("missing field 'eventType'");
  if (!have_table) return InvalidArgument("missing field 'tableName'");
  if (!have_time) return InvalidArgument("missing field 'timestamp'");
  if ((ev.op == Op::kInsert || ev.op == Op::kUpdate || ev.op == Op::kRead) && !have_after) {
    return InvalidArgument("missing field 'after' (required for " + std::string(OpName(ev.op)) +
                           ")");
  }
  if (ev.op == Op::kDelete && !have_before) {
    return InvalidArgument("missing field 'before' (required for DELETE)");
  }
  auto digest = Sha256(mini);
  ev.position = ContentPosition(
      HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), 16)));
  return ev;
}

}  // namespace cdc
