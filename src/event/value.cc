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
  std::memcpy(v.storage_, &d, sizeof(d));
  return v;
}

Value Value::Array(std::vector<Value> elements) {
  Value v;
  new (v.storage_) std::vector<Value>(std::move(elements));
  v.kind_ = ValueKind::kArray;
  v.small_size_ = kObject;
  return v;
}

const std::vector<Value>& Value::as_array() const {
  static const std::vector<Value> kEmpty;
  return kind_ == ValueKind::kArray ? *array() : kEmpty;
}

void Value::CopyObjectFrom(const Value& o) {
  if (o.kind_ == ValueKind::kArray) {
    new (storage_) std::vector<Value>(*o.array());
  } else {
    new (storage_) std::string(*o.heap_string());
  }
}

void Value::MoveObjectFrom(Value& o) noexcept {
  if (o.kind_ == ValueKind::kArray) {
    new (storage_) std::vector<Value>(std::move(*o.array()));
  } else {
    new (storage_) std::string(std::move(*o.heap_string()));
  }
  o.DestroyObject();
  std::memset(o.storage_, 0, sizeof(o.storage_));
  o.kind_ = ValueKind::kNull;
  o.small_size_ = kScalar;
}

void Value::DestroyObject() noexcept {
  if (kind_ == ValueKind::kArray) {
    array()->~vector();
  } else {
    heap_string()->~basic_string();
  }
}

bool Value::ObjectsEqual(const Value& o) const {
  if (kind_ == ValueKind::kArray) return *array() == *o.array();
  return *heap_string() == *o.heap_string();
}

const Value* Row::Find(std::string_view name) const {
  for (const auto& c : columns_) {
    if (SameName(c.name, name)) return &c.value;
  }
  return nullptr;
}

Value* Row::Find(std::string_view name) {
  for (auto& c : columns_) {
    if (SameName(c.name, name)) return &c.value;
  }
  return nullptr;
}

bool Row::Remove(std::string_view name) {
  for (auto it = columns_.begin(); it != columns_.end(); ++it) {
    if (SameName(it->name, name)) {
      columns_.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace cdc
