// `cdc-pipeline models export --format jsonschema`: a JSON Schema (draft 2020-12) of each table's
// event `detail` for consumers, describing what they receive: the model's fields after the
// table's redaction policy (when redaction is enabled) and its transforms, the table's event
// types, `changedFields`, `redacted` and `metadata` with the schemaVersions the model allows.
// Rows allow further properties: a compatible change (an added nullable column) adds one before
// the model does. docs/models.md describes the mapping.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>

#include "base/status.h"
#include "config/config.h"

namespace cdc {

// The schema document, pretty-printed, ending in a newline.
Result<std::string> DetailJsonSchema(const Config& config, const TableConfig& table);

// "users.schema.json"; "sales.orders.schema.json" outside the public schema.
std::string SchemaFileName(const TableConfig& table);

// Pretty-prints minified JSON with two-space indentation.
std::string PrettyJson(std::string_view minified);

}  // namespace cdc
