// JSON encoding and decoding of values, rows and change events in the original system's format:
//   {"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",
//    "before":{...},"after":{...}}
// Decoding uses simdjson's On-Demand API (no DOM); encoding uses JsonWriter.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "event/change_event.h"
#include "event/event_visitor.h"
#include "event/json_writer.h"

namespace cdc {

// Writes one value (see docs/types.md for the mapping). Unchanged-TOAST markers are never
// written; WriteRow leaves such columns out.
void WriteValue(JsonWriter& w, const Value& v);
void WriteRow(JsonWriter& w, const Row& row);
// The same calls, to a visitor.
void WriteValue(EventVisitor& v, const Value& value);
void WriteRow(EventVisitor& v, const Row& row);
// The JSON text of one value.
std::string ValueToJson(const Value& v);

// Whether `s` is a number by the JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s);

// Whether the text is one complete, valid JSON value.
bool IsValidJson(std::string_view json);

// Minifies JSON text (removes insignificant whitespace). Fails on malformed JSON.
Result<std::string> MinifyJson(std::string_view json);

// Writes the original format's fields (eventType, tableName, timestamp, before, after) into an
// object the caller has opened.
void WriteChangeFields(JsonWriter& w, const ChangeEvent& change);
void WriteChangeFields(EventVisitor& v, const ChangeEvent& change);

// Encodes a change in the original format (eventType, tableName, timestamp, before, after).
std::string EncodeChangeEventJson(const ChangeEvent& change);

// Parses one change event in the original format. Errors are InvalidArgument with a reason fit
// for the dead-letter file ("malformed JSON: ...", "missing field 'tableName'", ...); reasons
// never quote row values. The event's position is the digest of its minified text. `schema` and
// `table` come from "tableName" ("users" or "sales.orders"); `key` is left empty (the processor
// fills it from the table's primary key).
Result<ChangeEvent> ParseChangeEventJson(std::string_view json);

}  // namespace cdc
