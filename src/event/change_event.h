// ChangeEvent: one committed row change, the vocabulary every stage shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/position.h"
#include "base/time.h"
#include "event/source_position.h"
#include "event/value.h"

namespace cdc {

// kPositionGap is not a row change: the marker a source publishes when it accepted a gap in its
// positions (changes that are lost), with detail-type "PositionGap" (docs/operations.md).
// kSchemaChange is not a row change either: a table's columns changed (ALTER TABLE), noticed at
// its place in the stream; `before` and `after` hold the old and new columns, each column's value
// its type as text (format_type), in table order (docs/architecture.md, "Schema changes").
enum class Op : uint8_t {
  kInsert,
  kUpdate,
  kDelete,
  kTruncate,
  kRead,
  kPositionGap,
  kSchemaChange
};

// "INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ", "POSITION_GAP", "SCHEMA_CHANGE" (ParseOp
// returns neither of the last two: producers cannot send them).
std::string_view OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

struct ChangeEvent {
  std::string schema = "public";
  std::string table;
  Op op = Op::kInsert;
  std::optional<Row> before;
  std::optional<Row> after;
  Row key;  // primary-key columns and values
  Timestamp commit_time;
  SourcePosition position;  // opaque but to its source (event/source_position.h)
  uint32_t schema_version = 1;
  // Columns whose TOASTed value did not change and was not sent (left out of `after`).
  std::vector<std::string> unchanged_toast;

  // The table name as events show it: bare for the "public" schema, "schema.table" otherwise.
  std::string QualifiedName() const;
};

// What a schema change did, from its old and new columns (name -> type text, in table order).
// PostgreSQL does not say whether a column was renamed or dropped and another added: a column
// that keeps its place and type but not its name counts as renamed.
struct SchemaDiff {
  std::vector<std::string> added;
  std::vector<std::string> dropped;
  std::vector<std::pair<std::string, std::string>> renamed;  // old name, new name
  struct Retype {
    std::string column, from, to;
  };
  std::vector<Retype> retyped;

  bool empty() const {
    return added.empty() && dropped.empty() && renamed.empty() && retyped.empty();
  }
  // "added a, b; dropped c; renamed d to e; retyped f from integer to bigint"
  std::string Describe() const;
};
SchemaDiff DiffColumns(const Row& before, const Row& after);

}  // namespace cdc
