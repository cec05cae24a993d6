#include "event/change_event.h"

#include <fmt/core.h>

namespace cdc {

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kInsert:
      return "INSERT";
    case Op::kUpdate:
      return "UPDATE";
    case Op::kDelete:
      return "DELETE";
    case Op::kTruncate:
      return "TRUNCATE";
    case Op::kRead:
      return "READ";
  }
  return "UNKNOWN";
}

std::optional<Op> ParseOp(std::string_view name) {
  if (name == "INSERT") return Op::kInsert;
  if (name == "UPDATE") return Op::kUpdate;
  if (name == "DELETE") return Op::kDelete;
  if (name == "TRUNCATE") return Op::kTruncate;
  if (name == "READ") return Op::kRead;
  return std::nullopt;
}

std::string PositionKey(const SourcePosition& position) {
  if (const auto* pg = std::get_if<PgPosition>(&position)) {
    return fmt::format("pg/{}/{}/{}", pg->commit_lsn.ToString(), pg->xid.value(), pg->seq);
  }
  if (const auto* c = std::get_if<ContentPosition>(&position)) return "json/" + c->digest;
  return "none";
}

std::string ChangeEvent::QualifiedName() const {
  if (schema.empty() || schema == "public") return table;
  return schema + "." + table;
}

}  // namespace cdc
