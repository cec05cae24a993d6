// The type of a model field: a PostgreSQL type as `format_type()` spells it ("text",
// "numeric(12,2)", "timestamp with time zone", "text[]"), parsed once into what the model check
// and the JSON Schema export need. Common aliases are accepted and normalized ("int" and "int4"
// are "integer", "timestamptz" is "timestamp with time zone", "varchar(20)" is
// "character varying(20)").
//
// A value is compatible with a field type when it is the Value kind the PostgreSQL source decodes
// that type into (docs/types.md), or the JSON form that type takes in change events, which is
// what JSON producers send: an RFC 3339 string for a timestamp with time zone, a number or a
// numeric string for numeric, a canonical string for a uuid, any JSON value for json/jsonb.
//
// Thread-safety: values and stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "event/json_writer.h"
#include "event/value.h"

namespace cdc::model {

enum class TypeClass : uint8_t {
  kSmallInt,     // smallint           Int64 in [-32768, 32767]
  kInteger,      // integer            Int64 in the int32 range
  kBigInt,       // bigint             Int64
  kNumeric,      // numeric[(p,s)]     Decimal, Int64, or a numeric string
  kReal,         // real               Double, Int64, Decimal, or a numeric string
  kDouble,       // double precision   as real
  kBoolean,      // boolean            Bool
  kText,         // text, character varying(n), character(n), name, citext, xml: Text
  kUuid,         // uuid               Uuid, or a canonical uuid string
  kJson,         // json, jsonb        Json, or any JSON value (text, number, boolean, array)
  kBytea,        // bytea              Bytes, or a base64 string
  kDate,         // date               Date, or "YYYY-MM-DD" ("... BC", "infinity")
  kTime,         // time without time zone      Time, or "HH:MM[:SS[.frac]]"
  kTimeTz,       // time with time zone         TimeTz, or text
  kTimestamp,    // timestamp without time zone Timestamp, or an ISO date-time string
  kTimestampTz,  // timestamp with time zone    TimestampTz, or an RFC 3339 string with offset
  kInterval,     // interval           Interval, or text
  kInet,         // inet, cidr         Inet, or text
};

struct FieldType {
  TypeClass type_class = TypeClass::kText;
  std::string base;     // the canonical base name: "numeric", "character varying", "inet", ...
  int32_t length = -1;  // character(n), character varying(n): n; -1 = unbounded
  int32_t precision = -1, scale = -1;  // numeric(p,s); -1 = not given
  int array_dims = 0;                  // "text[]" = 1, "integer[][]" = 2

  bool operator==(const FieldType&) const = default;
};

// Parses a type name. Errors name the text and list the accepted types.
Result<FieldType> ParseFieldType(std::string_view text);

// The canonical spelling (what PostgreSQL's format_type() prints): ParseFieldType(Format(t)) == t.
std::string FormatFieldType(const FieldType& type);

// Whether `v` (not null, not an unchanged-TOAST marker) fits `type`. On a mismatch, `reason` says
// what kind of value it was and why it does not fit ("a text value that is not a number"), never
// the value itself.
bool ValueFits(const FieldType& type, const Value& v, std::string& reason);

// The common case of ValueFits, inline: a non-null value of the field's own kind that needs no
// further check. When false, ValueFits decides.
inline bool TriviallyFits(const FieldType& t, const Value& v) {
  if (t.array_dims != 0) return false;
  ValueKind k = v.kind();
  switch (t.type_class) {
    case TypeClass::kSmallInt:
      return k == ValueKind::kInt64 && v.as_int64() >= INT16_MIN && v.as_int64() <= INT16_MAX;
    case TypeClass::kInteger:
      return k == ValueKind::kInt64 && v.as_int64() >= INT32_MIN && v.as_int64() <= INT32_MAX;
    case TypeClass::kBigInt:
      return k == ValueKind::kInt64;
    case TypeClass::kNumeric:
    case TypeClass::kReal:
    case TypeClass::kDouble:
      return k == ValueKind::kDecimal || k == ValueKind::kInt64 || k == ValueKind::kDouble;
    case TypeClass::kBoolean:
      return k == ValueKind::kBool;
    case TypeClass::kText:
      // Never more code points than bytes.
      return k == ValueKind::kText &&
             (t.length < 0 || v.as_string().size() <= static_cast<size_t>(t.length));
    case TypeClass::kUuid:
      return k == ValueKind::kUuid;
    case TypeClass::kJson:
      return k == ValueKind::kJson;
    case TypeClass::kBytea:
      return k == ValueKind::kBytes;
    case TypeClass::kDate:
      return k == ValueKind::kDate;
    case TypeClass::kTime:
      return k == ValueKind::kTime;
    case TypeClass::kTimeTz:
      return k == ValueKind::kTimeTz;
    case TypeClass::kTimestamp:
      return k == ValueKind::kTimestamp;
    case TypeClass::kTimestampTz:
      return k == ValueKind::kTimestampTz;
    case TypeClass::kInterval:
      return k == ValueKind::kInterval;
    case TypeClass::kInet:
      return k == ValueKind::kInet;
  }
  return false;
}

// Writes the JSON Schema (draft 2020-12) of the field's JSON form in events; with `nullable`,
// null is allowed too.
void WriteJsonSchema(JsonWriter& w, const FieldType& type, bool nullable);

}  // namespace cdc::model
