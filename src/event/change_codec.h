// The binary form of a ChangeEvent inside the durable stream: every value keeps its exact type
// (decimal digits, micros, bytes), so what a processor reads back from the stream is the change
// the source decoded. Layout (little-endian, varints for lengths and counts):
//   u8 version(1) | str schema | str table | u8 op | u32 schema_version | i64 commit micros
//   | position: u8 tag (0 none, 1 pg: u64 lsn u32 xid u32 seq, 2 content: str digest)
//   | u8 flags (1 before, 2 after) | [row before] | [row after] | row key | varint n, n x str
//   (unchanged TOAST columns)
//   row   = varint n, n x (str name, value)
//   value = u8 kind, then: bool u8 | int64/timestamp/date/time i64 | double 8 bytes
//           | text kinds str | array varint n, n x value | null/unchanged-toast nothing
//
// Thread-safety: free functions, no state.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "event/change_event.h"

namespace cdc {

// The primitives of the format, for records that carry a change with a header of their own
// (the stream's change and dead-letter records): LEB128 varints and length-prefixed strings.
// The Get functions consume from `in` and return false on truncated input.
void PutVarint(std::string& out, uint64_t v);
void PutString(std::string& out, std::string_view s);
bool GetVarint(std::string_view& in, uint64_t& v);
bool GetString(std::string_view& in, std::string& out);

// Appends the encoding of `change` to `out`.
void EncodeChange(const ChangeEvent& change, std::string& out);
// Decodes one change; an error names what is malformed (a corrupt or foreign record).
Result<ChangeEvent> DecodeChange(std::string_view data);

}  // namespace cdc
