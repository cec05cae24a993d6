#include "event/change_event.h"

#include <algorithm>
#include <charconv>

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
    case Op::kPositionGap:
      return "POSITION_GAP";
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

std::string ChangeEvent::QualifiedName() const {
  if (schema.empty() || schema == "public") return table;
  return schema + "." + table;
}

}  // namespace cdc
