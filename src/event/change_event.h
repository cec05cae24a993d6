// ChangeEvent: one committed row change, the vocabulary every stage shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/position.h"
#include "base/time.h"
#include "event/source_position.h"
#include "event/value.h"

namespace cdc {

// kPositionGap is not a row change: the marker a source publishes when it accepted a gap in its
// positions (changes that are lost), with detail-type "PositionGap" (docs/operations.md).
enum class Op : uint8_t { kInsert, kUpdate, kDelete, kTruncate, kRead, kPositionGap };

// "INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ", "POSITION_GAP" (ParseOp never returns it).
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

}  // namespace cdc
