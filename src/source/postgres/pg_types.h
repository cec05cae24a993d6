// PostgreSQL types and the decoding of their text output into typed cdc::Value (the mapping is
// docs/types.md). Used by the replication stream (pgoutput sends values in text form) and by
// snapshot readers (a plain SELECT returns the same text form).
//
// The text forms assumed are those of a session with DateStyle=ISO, IntervalStyle=iso_8601,
// bytea_output=hex and extra_float_digits >= 1 (see kPgSessionOptions); timestamptz offsets are
// parsed, so any TimeZone works.
//
// Thread-safety: PgTypeRegistry is a value; concurrent const use is safe, Add is not.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "event/value.h"

namespace cdc::pg {

// libpq `options` that make every session print values in the forms DecodeText expects.
inline constexpr std::string_view kPgSessionOptions =
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 "
    "-c bytea_output=hex";

// How a type's text output is decoded.
enum class PgTypeClass : uint8_t {
  kInteger,      // int2, int4, int8, oid, xid  -> Int64
  kNumeric,      // numeric                     -> Decimal (exact text)
  kFloat,        // float4, float8              -> Double
  kBool,         // bool                        -> Bool
  kText,         // text, varchar, bpchar, name, "char", xml, citext, ... -> Text
  kUuid,         // uuid                        -> Uuid
  kJson,         // json, jsonb                 -> Json (minified)
  kBytea,        // bytea                       -> Bytes
  kDate,         // date                        -> Date
  kTime,         // time                        -> Time
  kTimeTz,       // timetz                      -> TimeTz (text)
  kTimestamp,    // timestamp                   -> Timestamp
  kTimestampTz,  // timestamptz                 -> TimestampTz
  kInterval,     // interval                    -> Interval (text)
  kInet,         // inet, cidr                  -> Inet (text)
  kArray,        // any array type              -> Array of the element type
  kDomain,       // a domain                    -> its base type
  kEnum,         // an enum                     -> Text
  kOther,        // anything else (composite, range, money, geometric, ...) -> Text
};

struct PgTypeInfo {
  uint32_t oid = 0;
  std::string name;
  PgTypeClass type_class = PgTypeClass::kOther;
  uint32_t element_oid = 0;  // kArray: the element type
  uint32_t base_oid = 0;     // kDomain: the base type
  char delimiter = ',';      // kArray: the element delimiter (';' for box)
};

// Well-known OIDs (from pg_type.dat; stable across PostgreSQL versions).
namespace oid {
inline constexpr uint32_t kBool = 16;
inline constexpr uint32_t kBytea = 17;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kInet = 869;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTime = 1083;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestampTz = 1184;
inline constexpr uint32_t kInterval = 1186;
inline constexpr uint32_t kTimeTz = 1266;
inline constexpr uint32_t kNumeric = 1700;
inline constexpr uint32_t kUuid = 2950;
inline constexpr uint32_t kJsonb = 3802;
inline constexpr uint32_t kInt4Array = 1007;
inline constexpr uint32_t kTextArray = 1009;
// OIDs below this are built in; user-defined types (enums, domains, extensions) are above it.
inline constexpr uint32_t kFirstNormalObjectId = 16384;
}  // namespace oid

// Type OID -> how to decode it. Starts with the built-in types; user-defined types (enums,
// domains, their arrays, extension types) are added from pg_type (see LoadTypes in catalog.h).
class PgTypeRegistry {
 public:
  PgTypeRegistry();

  // The type, or nullptr if unknown (DecodeText decodes unknown types as Text).
  const PgTypeInfo* Find(uint32_t oid) const;
  bool Contains(uint32_t oid) const { return Find(oid) != nullptr; }
  void Add(PgTypeInfo info);
  size_t size() const { return types_.size(); }

 private:
  std::unordered_map<uint32_t, PgTypeInfo> types_;
};

// Decodes PostgreSQL's text output of one non-null value of type `type_oid`. Errors are
// InvalidArgument and never quote the value (it may be PII).
Result<Value> DecodeText(uint32_t type_oid, std::string_view text, const PgTypeRegistry& types);

// PostgreSQL's epoch is 2000-01-01T00:00:00Z; these convert its microsecond timestamps. They
// saturate at the int64 limits (PostgreSQL's +-infinity, or a corrupt message) instead of
// overflowing.
inline constexpr int64_t kPgEpochUnixMicros = 946684800LL * 1000000;
inline int64_t PgMicrosToUnixMicros(int64_t pg_micros) {
  int64_t out;
  if (__builtin_add_overflow(pg_micros, kPgEpochUnixMicros, &out)) return INT64_MAX;
  return out;
}
inline int64_t UnixMicrosToPgMicros(int64_t unix_micros) {
  int64_t out;
  if (__builtin_sub_overflow(unix_micros, kPgEpochUnixMicros, &out)) return INT64_MIN;
  return out;
}

// "users" -> "\"users\"", doubling embedded quotes; for building DDL from configured names.
std::string QuoteIdentifier(std::string_view name);
// 'it''s' -> "'it''s'".
std::string QuoteLiteral(std::string_view text);

}  // namespace cdc::pg
