#include "process/processor.h"

#include <algorithm>

namespace cdc {

TableProcessor::TableProcessor(const TableConfig& table) : table_(table) {}

std::vector<std::string> ChangedFields(const Row& before, const Row& after) {
  std::vector<std::string> out;
  for (const auto& c : after.columns()) {
    if (c.value.kind() == ValueKind::kUnchangedToast) continue;
    const Value* old = before.Find(c.name);
    if (old == nullptr || !(*old == c.value)) out.push_back(c.name);
  }
  for (const auto& c : before.columns()) {
    if (after.Find(c.name) == nullptr) out.push_back(c.name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool TableProcessor::Allows(Op op) const {
  const auto& allowed = table_.event_types;
  return op == Op::kRead || std::find(allowed.begin(), allowed.end(), op) != allowed.end();
}

Result<ProcessedEvent> TableProcessor::Process(ChangeEvent& change) const {
  const auto& allowed = table_.event_types;
  if (!Allows(change.op)) {
    std::string list;
    for (Op op : allowed) list += (list.empty() ? "" : ", ") + std::string(OpName(op));
    return InvalidArgument("event type " + std::string(OpName(change.op)) +
                           " is not allowed for table " + change.QualifiedName() +
                           " (allowed: " + list + ")");
  }
  Row key;
  if (change.key.empty() && change.op != Op::kTruncate) {
    const Row* image = change.after ? &*change.after : (change.before ? &*change.before : nullptr);
    for (const auto& column : table_.primary_key) {
      const Value* v = image ? image->Find(column) : nullptr;
      if (v == nullptr) {
        return InvalidArgument("primary-key column '" + column + "' is missing from '" +
                               (change.after ? "after" : "before") + "' of table " +
                               change.QualifiedName());
      }
      key.Add(column, *v);
    }
  }
  if (!key.empty()) change.key = std::move(key);
  ProcessedEvent out;
  if (change.op == Op::kUpdate && change.before && change.after) {
    out.changed_fields = ChangedFields(*change.before, *change.after);
  }
  out.change = std::move(change);
  return out;
}

ProcessorSet::ProcessorSet(const Config& config) {
  processors_.reserve(config.tables.size());
  for (const auto& t : config.tables) processors_.emplace_back(t);
}

const TableProcessor* ProcessorSet::Find(std::string_view schema, std::string_view table) const {
  for (const auto& p : processors_) {
    if (p.table().name == table && p.table().schema == schema) return &p;
  }
  return nullptr;
}

const TableProcessor* ProcessorSet::FindByFunction(std::string_view function) const {
  for (const auto& p : processors_) {
    if (p.function() == function) return &p;
  }
  return nullptr;
}

}  // namespace cdc
