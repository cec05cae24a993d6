#include "event/value.h"

#include <cmath>
#include <cstring>

namespace cdc {

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt64:
      return "int64";
    case ValueKind::kDouble:
      return "double";
    case ValueKind::kDecimal:
      return "decimal";
    case ValueKind::kText:
      return "text";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kTimestamp:
      return "timestamp";
    case ValueKind::kTimestampTz:
      return "timestamptz";
    case ValueKind::kDate:
      return "date";
    case ValueKind::kTime:
      return "time";
    case ValueKind::kTimeTz:
      return "timetz";
    case ValueKind::kInterval:
      return "interval";
    case ValueKind::kInet:
      return "inet";
    case ValueKind::kUuid:
      return "uuid";
    case ValueKind::kJson:
      return "json";
    case ValueKind::kArray:
      return "array";
    case ValueKind::kUnchangedToast:
      return "unchanged-toast";
  }
  return "unknown";
}

Value Value::Double(double d) {
  Value v;
  v.kind_ = ValueKind::kDouble;
  v.d_ = d;
  return v;
}

Value Value::Array(std::vector<Value> elements) {
  Value v;
  v.kind_ = ValueKind::kArray;
  v.array_ = std::move(elements);
  return v;
}

bool Value::operator==(const Value& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case ValueKind::kNull:
    case ValueKind::kUnchangedToast:
      return true;
    case ValueKind::kDouble:
      // Bitwise, so NaN equals NaN: "did the value change" is the question, not IEEE ordering.
      return std::memcmp(&d_, &o.d_, sizeof(d_)) == 0;
    case ValueKind::kArray:
      return array_ == o.array_;
    case ValueKind::kBool:
    case ValueKind::kInt64:
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz:
    case ValueKind::kDate:
    case ValueKind::kTime:
      return i_ == o.i_;
    default:
      return s_ == o.s_;
  }
}

const Value* Row::Find(std::string_view name) const {
  for (const auto& c : columns_) {
    if (c.name == name) return &c.value;
  }
  return nullptr;
}

Value* Row::Find(std::string_view name) {
  for (auto& c : columns_) {
    if (c.name == name) return &c.value;
  }
  return nullptr;
}

bool Row::Remove(std::string_view name) {
  for (auto it = columns_.begin(); it != columns_.end(); ++it) {
    if (it->name == name) {
      columns_.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace cdc
