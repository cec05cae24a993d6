// Value and Row: the typed, in-memory form of a row image. JSON is only the wire format at the
// edges; inside the pipeline a value keeps its type (an exact decimal never becomes a double).
//
// A Value is 40 bytes: scalars and strings of up to 38 bytes (names, e-mail addresses, UUIDs,
// decimals, short JSON) are stored inline, so creating, copying and destroying them never
// allocates; longer strings are a std::string (moved in, not copied, when the factory gets an
// rvalue), arrays a std::vector.
//
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <cstdint>
#include <cstring>
#include <new>
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

// Whether values of the kind are text (as_string() is their content).
constexpr bool IsStringKind(ValueKind kind) {
  switch (kind) {
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kBytes:
    case ValueKind::kTimeTz:
    case ValueKind::kInterval:
    case ValueKind::kInet:
    case ValueKind::kUuid:
    case ValueKind::kJson:
      return true;
    default:
      return false;
  }
}

class Value {
 public:
  // Special values of kTimestamp/kTimestampTz/kDate for PostgreSQL's 'infinity' and '-infinity'.
  static constexpr int64_t kInfinity = INT64_MAX;
  static constexpr int64_t kMinusInfinity = INT64_MIN;
  // Strings up to this many bytes are stored in the value itself.
  static constexpr size_t kInlineCapacity = 38;

  Value() { std::memset(storage_, 0, sizeof(storage_)); }  // null

  Value(const Value& other) { CopyFrom(other); }
  Value(Value&& other) noexcept { MoveFrom(std::move(other)); }
  Value& operator=(const Value& other) {
    if (this == &other) return *this;
    if (HoldsObject()) {  // `other` may be an element of the array about to be destroyed
      Value copy(other);
      DestroyObject();
      MoveFrom(std::move(copy));
    } else {
      CopyFrom(other);
    }
    return *this;
  }
  Value& operator=(Value&& other) noexcept {
    if (this == &other) return *this;
    if (HoldsObject()) {
      Value taken(std::move(other));
      DestroyObject();
      MoveFrom(std::move(taken));
    } else {
      MoveFrom(std::move(other));
    }
    return *this;
  }
  ~Value() { Destroy(); }

  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Value(ValueKind::kBool, b ? 1 : 0); }
  static Value Int64(int64_t i) { return Value(ValueKind::kInt64, i); }
  static Value Double(double d);
  static Value Timestamp(int64_t micros) { return Value(ValueKind::kTimestamp, micros); }
  static Value TimestampTz(int64_t micros) { return Value(ValueKind::kTimestampTz, micros); }
  static Value Date(int64_t days) { return Value(ValueKind::kDate, days); }
  static Value Time(int64_t micros) { return Value(ValueKind::kTime, micros); }
  static Value Array(std::vector<Value> elements);
  static Value UnchangedToast() { return Value(ValueKind::kUnchangedToast, 0); }

  // The text kinds. Each takes a string_view (copied), or a std::string rvalue (moved in when it
  // is too long to be stored inline).
#define CDC_VALUE_STRING_FACTORY(Name, Kind)                                               \
  static Value Name(std::string_view s) { return Value(ValueKind::Kind, s); }              \
  static Value Name(const char* s) { return Value(ValueKind::Kind, std::string_view(s)); } \
  static Value Name(std::string&& s) { return Value(ValueKind::Kind, std::move(s)); }
  CDC_VALUE_STRING_FACTORY(Decimal, kDecimal)
  CDC_VALUE_STRING_FACTORY(Text, kText)
  CDC_VALUE_STRING_FACTORY(Bytes, kBytes)
  CDC_VALUE_STRING_FACTORY(TimeTz, kTimeTz)
  CDC_VALUE_STRING_FACTORY(Interval, kInterval)
  CDC_VALUE_STRING_FACTORY(Inet, kInet)
  CDC_VALUE_STRING_FACTORY(Uuid, kUuid)
  CDC_VALUE_STRING_FACTORY(Json, kJson)  // minified JSON text
#undef CDC_VALUE_STRING_FACTORY

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }
  bool as_bool() const { return as_int64() != 0; }
  // The integer of kBool, kInt64, kTimestamp, kTimestampTz, kDate, kTime; 0 for other kinds.
  int64_t as_int64() const {
    if (!HoldsInt()) return 0;
    int64_t i;
    std::memcpy(&i, storage_, sizeof(i));
    return i;
  }
  // The number of kDouble; 0 for other kinds.
  double as_double() const {
    if (kind_ != ValueKind::kDouble) return 0;
    double d;
    std::memcpy(&d, storage_, sizeof(d));
    return d;
  }
  // Text of kDecimal, kText, kBytes, kTimeTz, kInterval, kInet, kUuid, kJson; empty for other
  // kinds. Valid while the value is neither changed nor destroyed.
  std::string_view as_string() const {
    if (small_size_ <= kInlineCapacity) return std::string_view(storage_, small_size_);
    if (small_size_ == kObject && kind_ != ValueKind::kArray) return *heap_string();
    return {};
  }
  // Elements of kArray; empty for other kinds.
  const std::vector<Value>& as_array() const;

  bool operator==(const Value& other) const {
    if (kind_ != other.kind_ || small_size_ != other.small_size_) return false;
    if (small_size_ <= kInlineCapacity)
      return std::memcmp(storage_, other.storage_, small_size_) == 0;
    // Scalars compare bitwise, so a NaN equals a NaN: "did the value change" is the question,
    // not IEEE ordering. Null and unchanged-TOAST storage is zero.
    if (small_size_ == kScalar) return std::memcmp(storage_, other.storage_, 8) == 0;
    return ObjectsEqual(other);
  }

 private:
  // small_size_: the length of an inline string, or one of these.
  static constexpr uint8_t kScalar = 0xfe;  // null, bool, numbers, times: 8 bytes of storage
  static constexpr uint8_t kObject = 0xff;  // a std::string (longer text) or std::vector

  Value(ValueKind k, int64_t i) : small_size_(kScalar), kind_(k) {
    std::memset(storage_, 0, sizeof(storage_));
    std::memcpy(storage_, &i, sizeof(i));
  }
  Value(ValueKind k, std::string_view s) : kind_(k) {
    if (s.size() <= kInlineCapacity) {
      if (!s.empty()) std::memcpy(storage_, s.data(), s.size());
      small_size_ = static_cast<uint8_t>(s.size());
    } else {
      new (storage_) std::string(s);
      small_size_ = kObject;
    }
  }
  Value(ValueKind k, std::string&& s) : kind_(k) {
    if (s.size() <= kInlineCapacity) {
      if (!s.empty()) std::memcpy(storage_, s.data(), s.size());
      small_size_ = static_cast<uint8_t>(s.size());
    } else {
      new (storage_) std::string(std::move(s));
      small_size_ = kObject;
    }
  }

  bool HoldsInt() const {
    switch (kind_) {
      case ValueKind::kBool:
      case ValueKind::kInt64:
      case ValueKind::kTimestamp:
      case ValueKind::kTimestampTz:
      case ValueKind::kDate:
      case ValueKind::kTime:
      case ValueKind::kUnchangedToast:
        return true;
      default:
        return false;
    }
  }
  // Whether the storage holds an object with a destructor: a long string or an array.
  bool HoldsObject() const { return small_size_ == kObject; }
  bool ObjectsEqual(const Value& other) const;
  std::string* heap_string() { return std::launder(reinterpret_cast<std::string*>(storage_)); }
  const std::string* heap_string() const {
    return std::launder(reinterpret_cast<const std::string*>(storage_));
  }
  std::vector<Value>* array() {
    return std::launder(reinterpret_cast<std::vector<Value>*>(storage_));
  }
  const std::vector<Value>* array() const {
    return std::launder(reinterpret_cast<const std::vector<Value>*>(storage_));
  }

  // Scalars and inline strings are plain bytes; only long strings and arrays need their
  // constructors and destructors (out of line: the rare case).
  [[gnu::always_inline]] void CopyFrom(const Value& o) {
    kind_ = o.kind_;
    small_size_ = o.small_size_;
    if (!o.HoldsObject()) {
      std::memcpy(storage_, o.storage_, sizeof(storage_));
    } else {
      CopyObjectFrom(o);
    }
  }
  // Leaves an object-holding `o` null; a scalar or inline string keeps its value.
  [[gnu::always_inline]] void MoveFrom(Value&& o) noexcept {
    kind_ = o.kind_;
    small_size_ = o.small_size_;
    if (!o.HoldsObject()) {
      std::memcpy(storage_, o.storage_, sizeof(storage_));
    } else {
      MoveObjectFrom(o);
    }
  }
  [[gnu::always_inline]] void Destroy() noexcept {
    if (HoldsObject()) DestroyObject();
  }
  void CopyObjectFrom(const Value& o);
  void MoveObjectFrom(Value& o) noexcept;
  void DestroyObject() noexcept;

  // An int64, a double, the inline bytes of a string, a std::string or a std::vector<Value>.
  alignas(8) char storage_[kInlineCapacity];
  uint8_t small_size_ = kScalar;
  ValueKind kind_ = ValueKind::kNull;
};

static_assert(sizeof(Value) == 40, "Value is meant to stay compact");
static_assert(sizeof(std::string) <= Value::kInlineCapacity &&
                  sizeof(std::vector<Value>) <= Value::kInlineCapacity,
              "the storage holds a std::string or a std::vector");

// Whether two column names are equal. Names are short: up to 16 bytes this is two overlapping
// word compares instead of a call to memcmp or a byte loop.
inline bool SameName(std::string_view a, std::string_view b) {
  size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 16) return std::memcmp(p, q, n) == 0;
    uint64_t p1, q1, p2, q2;
    std::memcpy(&p1, p, 8);
    std::memcpy(&q1, q, 8);
    std::memcpy(&p2, p + n - 8, 8);
    std::memcpy(&q2, q + n - 8, 8);
    return ((p1 ^ q1) | (p2 ^ q2)) == 0;
  }
  if (n >= 4) {
    uint32_t p1, q1, p2, q2;
    std::memcpy(&p1, p, 4);
    std::memcpy(&q1, q, 4);
    std::memcpy(&p2, p + n - 4, 4);
    std::memcpy(&q2, q + n - 4, 4);
    return ((p1 ^ q1) | (p2 ^ q2)) == 0;
  }
  if (n == 0) return true;
  return p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1];
}

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
