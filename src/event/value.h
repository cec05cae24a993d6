// Value and Row: the typed, in-memory form of a row image. JSON is only the wire format at the
// edges; inside the pipeline a value keeps its type (an exact decimal never becomes a double).
//
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdc {

enum class ValueKind : uint8_t {
  kNull,
  kBool,
  kInt64,
  kDouble,
  kDecimal,  // exact digits as text: "-12.50", "1e5", "NaN", "Infinity", "-Infinity"
  kText,
  kBytes,           // raw bytes; base64 in JSON
  kTimestamp,       // without time zone; micros since epoch in local wall time
  kTimestampTz,     // with time zone; micros since epoch, UTC
  kDate,            // days since epoch
  kTime,            // micros since midnight
  kTimeTz,          // text as PostgreSQL prints it ("10:30:00+02")
  kInterval,        // text as PostgreSQL prints it (ISO 8601 or postgres style)
  kInet,            // text: "192.168.0.1/24"
  kUuid,            // text, lower-case canonical form
  kJson,            // minified JSON text, embedded as JSON (not as a quoted string)
  kArray,           // elements (may be nested arrays, may contain nulls)
  kUnchangedToast,  // PostgreSQL did not send this TOASTed value because it did not change
};

std::string_view ValueKindName(ValueKind kind);

class Value {
 public:
  // Special values of kTimestamp/kTimestampTz/kDate for PostgreSQL's 'infinity' and '-infinity'.
  static constexpr int64_t kInfinity = INT64_MAX;
  static constexpr int64_t kMinusInfinity = INT64_MIN;

  Value() = default;  // null

  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Value(ValueKind::kBool, b ? 1 : 0); }
  static Value Int64(int64_t i) { return Value(ValueKind::kInt64, i); }
  static Value Double(double d);
  static Value Decimal(std::string digits) { return Value(ValueKind::kDecimal, std::move(digits)); }
  static Value Text(std::string s) { return Value(ValueKind::kText, std::move(s)); }
  static Value Bytes(std::string b) { return Value(ValueKind::kBytes, std::move(b)); }
  static Value Timestamp(int64_t micros) { return Value(ValueKind::kTimestamp, micros); }
  static Value TimestampTz(int64_t micros) { return Value(ValueKind::kTimestampTz, micros); }
  static Value Date(int64_t days) { return Value(ValueKind::kDate, days); }
  static Value Time(int64_t micros) { return Value(ValueKind::kTime, micros); }
  static Value TimeTz(std::string s) { return Value(ValueKind::kTimeTz, std::move(s)); }
  static Value Interval(std::string s) { return Value(ValueKind::kInterval, std::move(s)); }
  static Value Inet(std::string s) { return Value(ValueKind::kInet, std::move(s)); }
  static Value Uuid(std::string s) { return Value(ValueKind::kUuid, std::move(s)); }
  static Value Json(std::string minified) { return Value(ValueKind::kJson, std::move(minified)); }
  static Value Array(std::vector<Value> elements);
  static Value UnchangedToast() { return Value(ValueKind::kUnchangedToast, 0); }

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }
  bool as_bool() const { return i_ != 0; }
  int64_t as_int64() const { return i_; }
  double as_double() const { return d_; }
  // Text of kDecimal, kText, kBytes, kTimeTz, kInterval, kInet, kUuid, kJson.
  const std::string& as_string() const { return s_; }
  const std::vector<Value>& as_array() const { return array_; }

  bool operator==(const Value& other) const;

 private:
  Value(ValueKind k, int64_t i) : kind_(k), i_(i) {}
  Value(ValueKind k, std::string s) : kind_(k), s_(std::move(s)) {}

  ValueKind kind_ = ValueKind::kNull;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::vector<Value> array_;
};

// One named value of a row.
struct Column {
  std::string name;
  Value value;
  bool operator==(const Column&) const = default;
};

// A row image: columns in table order.
class Row {
 public:
  Row() = default;
  explicit Row(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void Add(std::string name, Value value) {
    columns_.push_back({std::move(name), std::move(value)});
  }
  // The value of the named column, or nullptr.
  const Value* Find(std::string_view name) const;
  Value* Find(std::string_view name);
  bool Remove(std::string_view name);

  const std::vector<Column>& columns() const { return columns_; }
  std::vector<Column>& columns() { return columns_; }
  size_t size() const { return columns_.size(); }
  bool empty() const { return columns_.empty(); }
  bool operator==(const Row&) const = default;

 private:
  std::vector<Column> columns_;
};

}  // namespace cdc
