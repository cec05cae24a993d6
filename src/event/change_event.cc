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
    case Op::kSchemaChange:
      return "SCHEMA_CHANGE";
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

namespace {

std::string TypeText(const Value& v) {
  return v.kind() == ValueKind::kText ? std::string(v.as_string()) : std::string();
}

}  // namespace

SchemaDiff DiffColumns(const Row& before, const Row& after) {
  SchemaDiff d;
  const auto& old_cols = before.columns();
  const auto& new_cols = after.columns();
  std::vector<size_t> gone, fresh;  // indexes of old-only and new-only columns
  for (size_t i = 0; i < old_cols.size(); ++i) {
    const Value* now = after.Find(old_cols[i].name);
    if (now == nullptr) {
      gone.push_back(i);
    } else if (TypeText(*now) != TypeText(old_cols[i].value)) {
      d.retyped.push_back({old_cols[i].name, TypeText(old_cols[i].value), TypeText(*now)});
    }
  }
  for (size_t i = 0; i < new_cols.size(); ++i) {
    if (before.Find(new_cols[i].name) == nullptr) fresh.push_back(i);
  }
  // A rename keeps the column's place and type.
  std::vector<bool> renamed_new(new_cols.size(), false);
  for (size_t i : gone) {
    bool renamed = false;
    if (i < new_cols.size() && std::find(fresh.begin(), fresh.end(), i) != fresh.end() &&
        TypeText(new_cols[i].value) == TypeText(old_cols[i].value)) {
      d.renamed.emplace_back(old_cols[i].name, new_cols[i].name);
      renamed_new[i] = true;
      renamed = true;
    }
    if (!renamed) d.dropped.push_back(old_cols[i].name);
  }
  for (size_t i : fresh) {
    if (!renamed_new[i]) d.added.push_back(new_cols[i].name);
  }
  return d;
}

std::string SchemaDiff::Describe() const {
  std::string out;
  auto part = [&](std::string_view what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    if (!out.empty()) out += "; ";
    out.append(what);
    for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? " " : ", ") + names[i];
  };
  part("added", added);
  part("dropped", dropped);
  for (const auto& [from, to] : renamed) {
    out += (out.empty() ? "" : "; ") + std::string("renamed ") + from + " to " + to;
  }
  for (const auto& r : retyped) {
    out += (out.empty() ? "" : "; ") + std::string("retyped ") + r.column + " from " + r.from +
           " to " + r.to;
  }
  return out.empty() ? "no column changed" : out;
}

}  // namespace cdc
