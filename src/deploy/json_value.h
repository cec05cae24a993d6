// A JSON value tree with members kept in insertion order, printed with two-space indentation:
// what `deploy render` builds its templates with, so that the same config always gives the same
// bytes and a golden file diffs line by line. Not for the event path (see event/json_writer.h).
//
// Thread-safety: a value is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cdc::deploy {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kInt, kString, kArray, kObject };

  JsonValue() = default;
  JsonValue(bool v) : kind_(Kind::kBool), int_(v ? 1 : 0) {}      // NOLINT: implicit on purpose
  JsonValue(int v) : kind_(Kind::kInt), int_(v) {}                // NOLINT
  JsonValue(int64_t v) : kind_(Kind::kInt), int_(v) {}            // NOLINT
  JsonValue(const char* v) : kind_(Kind::kString), string_(v) {}  // NOLINT
  JsonValue(std::string v) : kind_(Kind::kString), string_(std::move(v)) {}  // NOLINT
  JsonValue(std::string_view v) : kind_(Kind::kString), string_(v) {}        // NOLINT

  static JsonValue Object() { return JsonValue(Kind::kObject); }
  static JsonValue Array() { return JsonValue(Kind::kArray); }
  // An array of strings.
  static JsonValue Strings(const std::vector<std::string>& items);
  // The parsed form of JSON text (members in the text's order).
  static Result<JsonValue> Parse(std::string_view text);

  // Objects: sets `key` (replacing an existing member in place). Returns *this.
  JsonValue& Set(std::string_view key, JsonValue value);
  // Arrays: appends. Returns *this.
  JsonValue& Push(JsonValue value);

  Kind kind() const { return kind_; }
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::string& string() const { return string_; }

  // Two-space indentation, a newline at the end; empty containers as {} and [].
  std::string Pretty() const;

 private:
  explicit JsonValue(Kind kind) : kind_(kind) {}
  void Print(std::string& out, int indent) const;

  Kind kind_ = Kind::kNull;
  int64_t int_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

// CloudFormation's intrinsic functions, as values.
JsonValue Ref(std::string_view name);
JsonValue GetAtt(std::string_view resource, std::string_view attribute);
JsonValue Sub(std::string_view text);

}  // namespace cdc::deploy
