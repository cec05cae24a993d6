// ChangeEvent: one committed row change, the vocabulary every stage shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/position.h"
#include "base/time.h"
#include "event/value.h"

namespace cdc {

enum class Op : uint8_t { kInsert, kUpdate, kDelete, kTruncate, kRead };

// "INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ".
std::string_view OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

// Where a change came from in PostgreSQL: commit LSN, transaction id and the index of the change
// inside its transaction. Unique per change and stable across re-reads of the WAL.
struct PgPosition {
  Lsn commit_lsn;
  TxId xid;
  uint32_t seq = 0;
  auto operator<=>(const PgPosition&) const = default;
};

// Changes read from JSON files carry no database position; they are identified by the digest of
// their content, so the same input event always gets the same id.
struct ContentPosition {
  std::string digest;  // 32 lower-case hex characters
  bool operator==(const ContentPosition&) const = default;
};

using SourcePosition = std::variant<std::monostate, PgPosition, ContentPosition>;

// A stable text form of the position, used to derive the event id: "pg/0/1540978/729/0",
// "json/<digest>".
std::string PositionKey(const SourcePosition& position);
void AppendPositionKey(const SourcePosition& position, std::string& out);

// A PostgreSQL position as the state store keeps it ("commitLsn/xid/seq", decimal), and back:
// nullopt when `text` is not one.
std::string PgPositionText(const PgPosition& p);
std::optional<PgPosition> ParsePgPositionText(std::string_view text);

struct ChangeEvent {
  std::string schema = "public";
  std::string table;
  Op op = Op::kInsert;
  std::optional<Row> before;
  std::optional<Row> after;
  Row key;  // primary-key columns and values
  Timestamp commit_time;
  SourcePosition position;
  uint32_t schema_version = 1;
  // Columns whose TOASTed value did not change and was not sent (left out of `after`).
  std::vector<std::string> unchanged_toast;

  // The table name as events show it: bare for the "public" schema, "schema.table" otherwise.
  std::string QualifiedName() const;
};

}  // namespace cdc
