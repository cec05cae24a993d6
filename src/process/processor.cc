#include "process/processor.h"

#include <algorithm>

namespace cdc {

namespace {

std::vector<transform::StepSpec> Specs(const TableConfig& table) {
  std::vector<transform::StepSpec> specs;
  specs.reserve(table.transforms.size());
  for (const auto& t : table.transforms) specs.push_back(t.spec);
  return specs;
}

// The values of `columns` from the change's newest image, in the order given.
Result<Row> ColumnsOf(const ChangeEvent& change, const std::vector<std::string>& columns,
                      std::string_view what) {
  Row out;
  const Row* image = change.after ? &*change.after : (change.before ? &*change.before : nullptr);
  for (const auto& column : columns) {
    const Value* v = image ? image->Find(column) : nullptr;
    if (v == nullptr) {
      std::string message = std::string(what) + " column '" + column + "' is missing from '" +
                            (change.after ? "after" : "before") + "' of table " +
                            change.QualifiedName();
      if (change.op == Op::kDelete && what != "primary-key") {
        message +=
            " (a DELETE carries only the primary key unless the table has "
            "replica_identity: full)";
      }
      return InvalidArgument(std::move(message));
    }
    out.Add(column, *v);
  }
  return out;
}

}  // namespace

TableProcessor::TableProcessor(const TableConfig& table,
                               std::shared_ptr<const redact::Redactor> redactor,
                               transform::Chain transforms)
    : table_(table), redactor_(std::move(redactor)), transforms_(std::move(transforms)) {}

TableProcessor::TableProcessor(const TableConfig& table,
                               std::shared_ptr<const redact::Redactor> redactor)
    : table_(table), redactor_(std::move(redactor)) {
  auto chain = transform::Chain::Build(Specs(table));
  CDC_ASSERT(chain.ok(), "the table's transforms are checked when the config is loaded");
  transforms_ = std::move(chain).value();
}

Result<TableProcessor> TableProcessor::Create(const TableConfig& table,
                                              std::shared_ptr<const redact::Redactor> redactor) {
  auto chain = transform::Chain::Build(Specs(table));
  if (!chain.ok()) return chain.status().WithContext("tables." + table.name + ".transforms");
  return TableProcessor(table, std::move(redactor), std::move(chain).value());
}

std::vector<std::string> ChangedFields(const Row& before, const Row& after) {
  std::vector<std::string> out;
  out.reserve(8);
  const auto& old_columns = before.columns();
  const auto& new_columns = after.columns();
  auto find = [&](const std::vector<Column>& columns, const std::string& name) {
    for (const auto& c : columns) {
      if (SameName(c.name, name)) return &c.value;
    }
    return static_cast<const Value*>(nullptr);
  };
  // Both images usually list the same columns in the same order: try the same position first.
  // When every column is in its place, no column of `before` is missing from `after`.
  bool aligned = old_columns.size() == new_columns.size();
  for (size_t i = 0; i < new_columns.size(); ++i) {
    const Column& c = new_columns[i];
    bool in_place = i < old_columns.size() && SameName(old_columns[i].name, c.name);
    aligned = aligned && in_place;
    if (c.value.kind() == ValueKind::kUnchangedToast) continue;
    const Value* old = in_place ? &old_columns[i].value : find(old_columns, c.name);
    if (old == nullptr || !(*old == c.value)) out.push_back(c.name);
  }
  if (!aligned) {
    for (size_t i = 0; i < old_columns.size(); ++i) {
      const std::string& name = old_columns[i].name;
      bool in_place = i < new_columns.size() && SameName(new_columns[i].name, name);
      if (!in_place && find(new_columns, name) == nullptr) out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool TableProcessor::Allows(Op op) const {
  const auto& allowed = table_.event_types;
  return op == Op::kRead || op == Op::kSchemaChange ||
         std::find(allowed.begin(), allowed.end(), op) != allowed.end();
}

void TableProcessor::Redact(ChangeEvent& change, std::vector<std::string>& redacted) const {
  if (redactor_) redactor_->Apply(change, redacted);
}

CaptureResult TableProcessor::Capture(ChangeEvent& change) const {
  CaptureResult out;
  if (change.op == Op::kSchemaChange) {
    // Column names and types: nothing to redact, no row to check.
    if (table_.model) out.model = model::CheckSchemaChange(*table_.model, change);
    out.redacted = true;
    return out;
  }
  if (table_.model) out.model = model::CheckChange(*table_.model, change);
  if (RedactsAtCapture()) {
    Redact(change, out.redacted_columns);
    out.redacted = true;
  }
  return out;
}

void TableProcessor::PrepareDeadLetter(ChangeEvent& change, bool redacted) const {
  if (!redacted) {
    std::vector<std::string> ignored;
    Redact(change, ignored);
  }
  if (table_.model) {
    if (change.before) model::DropUnknownColumns(*table_.model, *change.before);
    if (change.after) model::DropUnknownColumns(*table_.model, *change.after);
  }
}

Result<Row> TableProcessor::PartitionKey(const ChangeEvent& change) const {
  if (change.op == Op::kTruncate || change.op == Op::kSchemaChange) return Row();
  if (table_.partition_key.empty()) {
    if (!change.key.empty()) return change.key;
    return ColumnsOf(change, table_.primary_key, "primary-key");
  }
  return ColumnsOf(change, table_.partition_key, "partition-key");
}

Result<ProcessedEvent> TableProcessor::Process(ChangeEvent& change, CaptureResult* captured) const {
  const auto& allowed = table_.event_types;
  if (!Allows(change.op)) {
    std::string list;
    for (Op op : allowed) list += (list.empty() ? "" : ", ") + std::string(OpName(op));
    return InvalidArgument("event type " + std::string(OpName(change.op)) +
                           " is not allowed for table " + change.QualifiedName() +
                           " (allowed: " + list + ")");
  }
  CaptureResult here;
  if (change.op == Op::kSchemaChange) return ProcessSchemaChange(change, captured);
  if (captured == nullptr) {
    if (table_.model) here.model = model::CheckChange(*table_.model, change);
    captured = &here;
  }
  if (change.key.empty() && change.op != Op::kTruncate) {
    CDC_ASSIGN_OR_RETURN(Row key, ColumnsOf(change, table_.primary_key, "primary-key"));
    change.key = std::move(key);
  }
  if (!captured->model.status.ok()) return captured->model.status;
  if (!captured->redacted) {
    Redact(change, captured->redacted_columns);
    captured->redacted = true;
  }
  Status transformed = transforms_.Apply(change, captured->redacted_columns);
  if (!transformed.ok()) {
    return transformed.WithContext("table " + change.QualifiedName());
  }
  if (captured->model.schema_version != 0) change.schema_version = captured->model.schema_version;
  std::vector<std::string> changed;
  if (change.op == Op::kUpdate && change.before && change.after) {
    changed = ChangedFields(*change.before, *change.after);
  }
  return ProcessedEvent{std::move(change), std::move(changed),
                        std::move(captured->redacted_columns)};
}

Result<ProcessedEvent> TableProcessor::ProcessSchemaChange(ChangeEvent& change,
                                                           const CaptureResult* captured) const {
  if (table_.schema_changes == "dead_letter") {
    std::string what = change.before && change.after
                           ? DiffColumns(*change.before, *change.after).Describe()
                           : std::string("columns changed");
    return InvalidArgument("schema change of " + change.QualifiedName() + ": " + what +
                           " (tables." + table_.name +
                           ".schema_changes: dead_letter; update the model if it has one)");
  }
  if (table_.model) {
    model::ModelCheck check = captured != nullptr && captured->model.schema_version != 0
                                  ? captured->model
                                  : model::CheckSchemaChange(*table_.model, change);
    change.schema_version = check.schema_version;
  }
  return ProcessedEvent{std::move(change), {}, {}};
}

Status CheckRedactionKey(const RedactionKeyConfig& key) {
  auto ring = redact::KeyRing::FromSpecs({{key.id, key.source}}, key.id);
  if (ring.ok()) return Status::Ok();
  std::string message = ring.status().message();
  if (message.starts_with("redaction keys: ")) message.erase(0, 16);
  std::string own = "key '" + key.id + "': ";
  if (message.starts_with(own)) message.erase(0, own.size());
  std::string_view source = key.source;
  // Only the variable or file name goes into the hint: never anything read from them.
  if (source.starts_with("env:")) {
    std::string var(source.substr(4));
    message += "; create a key with: export " + var + "=\"$(openssl rand -hex 32)\"";
  } else if (source.starts_with("file:")) {
    std::string path(source.substr(5));
    message += "; create a key with: (umask 077; openssl rand -hex 32 > " + path + ")";
  }
  return Status(ring.status().code(), "redaction.keys." + key.id + ": " + message);
}

Result<std::shared_ptr<const redact::KeyRing>> LoadRedactionKeys(const RedactionConfig& config) {
  if (!config.enabled || config.keys.empty()) return std::shared_ptr<const redact::KeyRing>();
  std::vector<redact::KeySpec> specs;
  for (const auto& k : config.keys) {
    CDC_RETURN_IF_ERROR(CheckRedactionKey(k));
    specs.push_back({k.id, k.source});
  }
  CDC_ASSIGN_OR_RETURN(redact::KeyRing ring, redact::KeyRing::FromSpecs(specs, config.active_key));
  return std::make_shared<const redact::KeyRing>(std::move(ring));
}

Result<ProcessorSet> ProcessorSet::Build(const Config& config) {
  CDC_ASSIGN_OR_RETURN(auto keys, LoadRedactionKeys(config.redaction));
  ProcessorSet set;
  set.processors_.reserve(config.tables.size());
  for (const auto& t : config.tables) {
    std::shared_ptr<const redact::Redactor> redactor;
    if (config.redaction.enabled && !t.redact.empty()) {
      redact::TablePolicy policy;
      policy.table = t.schema == "public" ? t.name : t.schema + "." + t.name;
      for (const auto& c : t.redact) {
        CDC_ASSIGN_OR_RETURN(redact::ColumnRule rule,
                             redact::ParseColumnRule(c.column, c.rule, c.detect));
        policy.columns.push_back(std::move(rule));
      }
      CDC_ASSIGN_OR_RETURN(redact::Redactor built, redact::Redactor::Build(policy, keys));
      redactor = std::make_shared<const redact::Redactor>(std::move(built));
    }
    CDC_ASSIGN_OR_RETURN(TableProcessor processor, TableProcessor::Create(t, std::move(redactor)));
    set.processors_.push_back(std::move(processor));
  }
  return set;
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
