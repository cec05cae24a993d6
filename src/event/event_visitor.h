// EventVisitor: receives an event as the calls JsonWriter would get to write it (the same calls
// in the same order), for readers that need some of its fields but not its text. The rule
// matcher reads the fields its rules use this way instead of parsing the event's JSON again.
//
// After Key, a writer asks WantsValue() before producing a value that costs something to produce
// (a row, a formatted time) and skips it when the visitor does not want it; a visitor ignores
// whatever values it gets for members it does not want. Strings are only valid during the call.
//
// Thread-safety: one visitor per thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace cdc {

class EventVisitor {
 public:
  virtual ~EventVisitor() = default;
  virtual EventVisitor& BeginObject() = 0;
  virtual EventVisitor& EndObject() = 0;
  virtual EventVisitor& BeginArray() = 0;
  virtual EventVisitor& EndArray() = 0;
  virtual EventVisitor& Key(std::string_view key) = 0;
  // Whether the value of the member named by the last Key is read.
  virtual bool WantsValue() const = 0;
  virtual EventVisitor& String(std::string_view s) = 0;
  virtual EventVisitor& Int(int64_t v) = 0;
  virtual EventVisitor& Uint(uint64_t v) = 0;
  // As JsonWriter::Double: NaN and infinities are the strings "NaN", "Infinity", "-Infinity".
  virtual EventVisitor& Double(double v) = 0;
  virtual EventVisitor& Bool(bool v) = 0;
  virtual EventVisitor& Null() = 0;
  // Valid JSON text as one value (JSON columns, decimals).
  virtual EventVisitor& Raw(std::string_view json) = 0;
};

// An event that can write itself to a visitor.
class VisitableEvent {
 public:
  virtual void Accept(EventVisitor& visitor) const = 0;

 protected:
  ~VisitableEvent() = default;
};

}  // namespace cdc
