// A small, fast JSON writer that appends to a std::string. It tracks commas itself, escapes
// strings per RFC 8259 and never allocates beyond the output buffer.
//
// Thread-safety: one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cdc {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  // Finite doubles in the shortest form that round-trips; NaN and infinities as the strings
  // "NaN", "Infinity", "-Infinity" (JSON has no literal for them).
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // Appends already-valid JSON text as one value.
  JsonWriter& Raw(std::string_view json);

 private:
  void Separate();

  std::string& out_;
  // Bit i of the stack: the container at depth i already has a member (a comma is due).
  uint64_t has_member_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace cdc
