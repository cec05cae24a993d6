// A small, fast JSON writer that appends to a std::string. It tracks commas itself, escapes
// strings per RFC 8259 and never allocates beyond the output buffer.
//
// Thread-safety: one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cdc {

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  // The structure and strings are inline: an envelope makes some sixty of these calls.
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key) {
    Separate();
    AppendJsonString(out_, key);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonWriter& String(std::string_view s) {
    Separate();
    AppendJsonString(out_, s);
    return *this;
  }
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  // Finite doubles in the shortest form that round-trips; NaN and infinities as the strings
  // "NaN", "Infinity", "-Infinity" (JSON has no literal for them).
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // Appends already-valid JSON text as one value.
  JsonWriter& Raw(std::string_view json);
  // Code shared with EventVisitor asks this before producing a member's value: a writer wants
  // every value.
  static constexpr bool WantsValue() { return true; }

 private:
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0) return;
    uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (has_member_ & bit) out_.push_back(',');
    has_member_ |= bit;
  }
  JsonWriter& Open(char c) {
    Separate();
    out_.push_back(c);
    if (depth_ >= 64) TooDeep();
    ++depth_;
    has_member_ &= ~(uint64_t{1} << (depth_ - 1));
    return *this;
  }
  JsonWriter& Close(char c) {
    --depth_;
    out_.push_back(c);
    return *this;
  }
  [[noreturn]] static void TooDeep();

  std::string& out_;
  // Bit i of the stack: the container at depth i already has a member (a comma is due).
  uint64_t has_member_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace cdc
