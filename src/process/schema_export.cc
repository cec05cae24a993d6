#include "process/schema_export.h"

#include <algorithm>

#include "event/json_writer.h"
#include "process/redact/redactor.h"
#include "process/transform/transform.h"

namespace cdc {
namespace {

std::string FieldSchema(const model::Field& f) {
  std::string out;
  JsonWriter w(out);
  model::WriteJsonSchema(w, f.type, f.nullable);
  return out;
}

std::string StringSchema(bool nullable, std::string_view pattern = {}) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("type");
  if (nullable) {
    w.BeginArray().String("string").String("null").EndArray();
  } else {
    w.String("string");
  }
  if (!pattern.empty()) w.Key("pattern").String(pattern);
  w.EndObject();
  return out;
}

void InsertSorted(std::vector<std::string>& names, const std::string& name) {
  auto it = std::lower_bound(names.begin(), names.end(), name);
  if (it == names.end() || *it != name) names.insert(it, name);
}

// What the table's policy does to the row's columns; returns the redacted column names.
Result<std::vector<std::string>> ApplyPolicy(const TableConfig& table, transform::RowShape& shape) {
  std::vector<std::string> redacted;
  for (const auto& c : table.redact) {
    CDC_ASSIGN_OR_RETURN(redact::ColumnRule rule,
                         redact::ParseColumnRule(c.column, c.rule, c.detect));
    auto it = std::find_if(shape.columns.begin(), shape.columns.end(),
                           [&](const transform::ColumnShape& s) { return s.name == c.column; });
    InsertSorted(redacted, c.column);
    if (it == shape.columns.end()) continue;
    switch (rule.rule.action) {
      case redact::Action::kKeep:
        break;  // detectors rewrite pieces of text; the type stays
      case redact::Action::kRemove:
        shape.columns.erase(it);
        break;
      case redact::Action::kNull:
        it->schema = R"({"type":"null"})";
        it->nullable = true;
        break;
      case redact::Action::kHash:
        it->schema = StringSchema(it->nullable, "^hmac:[A-Za-z0-9_.-]+:[0-9a-f]{64}$");
        break;
      case redact::Action::kMask:
      case redact::Action::kTruncate:
        it->schema = StringSchema(it->nullable);
        break;
      case redact::Action::kGeneralize:
        // A value that cannot be generalized becomes null.
        it->nullable = true;
        it->schema = StringSchema(true);
        break;
    }
  }
  return redacted;
}

void WriteStringList(JsonWriter& w, const std::vector<std::string>& items) {
  w.BeginArray();
  for (const auto& s : items) w.String(s);
  w.EndArray();
}

}  // namespace

std::string SchemaFileName(const TableConfig& table) {
  return (table.schema == "public" ? table.name : table.schema + "." + table.name) + ".schema.json";
}

Result<std::string> DetailJsonSchema(const Config& config, const TableConfig& table) {
  const model::Model* m = table.model.get();
  std::string qualified = table.schema == "public" ? table.name : table.schema + "." + table.name;

  transform::RowShape shape;
  if (m != nullptr) {
    for (const auto& f : m->fields) {
      bool key = std::find(table.primary_key.begin(), table.primary_key.end(), f.name) !=
                 table.primary_key.end();
      shape.columns.push_back({f.name, FieldSchema(f), f.nullable, key});
    }
  }
  std::vector<std::string> redacted;
  if (config.redaction.enabled && !table.redact.empty()) {
    CDC_ASSIGN_OR_RETURN(redacted, ApplyPolicy(table, shape));
  }
  std::vector<transform::StepSpec> specs;
  for (const auto& t : table.transforms) specs.push_back(t.spec);
  CDC_ASSIGN_OR_RETURN(transform::Chain chain, transform::Chain::Build(std::move(specs)));
  chain.ApplyToShape(shape);
  {
    ChangeEvent names_only;  // no images: only the redacted names follow the transforms
    CDC_RETURN_IF_ERROR(chain.Apply(names_only, redacted));
  }

  std::vector<std::string> event_types;
  for (Op op : table.event_types) event_types.emplace_back(OpName(op));
  if (std::find(event_types.begin(), event_types.end(), "READ") == event_types.end()) {
    event_types.emplace_back("READ");  // snapshot rows are published for every table
  }
  if (table.schema_changes == "publish") event_types.emplace_back("SCHEMA_CHANGE");

  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("$schema").String("https://json-schema.org/draft/2020-12/schema");
  w.Key("$id").String("urn:cdc-pipeline:" + config.pipeline.name + ":" + qualified + ":detail");
  w.Key("title").String(qualified + " change event detail");
  std::string description = "The `detail` of the events of table " + qualified + " (detail-type " +
                            qualified + ".<eventType>, source " + config.bus.source +
                            ") as consumers receive them";
  if (m != nullptr) {
    description += ": model " + m->Label() + " (" + table.model_path + ")";
    if (config.redaction.enabled && !table.redact.empty()) description += ", redacted";
    if (!table.transforms.empty()) description += ", transformed";
    description += ".";
    if (!m->description.empty()) description += " " + m->description;
  } else {
    description += "; the table has no model, so its rows are not described.";
  }
  w.Key("description").String(description);
  w.Key("type").String("object");
  w.Key("required").BeginArray().String("eventType").String("tableName").String("timestamp");
  w.String("metadata").EndArray();
  w.Key("properties").BeginObject();
  w.Key("eventType").BeginObject().Key("enum");
  WriteStringList(w, event_types);
  w.EndObject();
  w.Key("tableName").BeginObject().Key("const").String(qualified).EndObject();
  w.Key("timestamp").BeginObject().Key("type").String("string");
  w.Key("format").String("date-time").EndObject();
  w.Key("before").BeginObject().Key("$ref").String("#/$defs/row").EndObject();
  w.Key("after").BeginObject().Key("$ref").String("#/$defs/row").EndObject();
  if (table.schema_changes == "publish") {
    w.Key("columns").BeginObject();
    w.Key("description").String("SCHEMA_CHANGE: the new columns in table order, each its type");
    w.Key("$ref").String("#/$defs/columns").EndObject();
    w.Key("previousColumns").BeginObject();
    w.Key("description").String("SCHEMA_CHANGE: the columns before the change");
    w.Key("$ref").String("#/$defs/columns").EndObject();
    w.Key("changes").BeginObject();
    w.Key("description")
        .String(
            "SCHEMA_CHANGE: what changed (a column that kept its place and type but not its "
            "name counts as renamed)");
    w.Key("type").String("object");
    w.Key("required").BeginArray().String("added").String("dropped").String("renamed");
    w.String("retyped").EndArray();
    w.Key("properties").BeginObject();
    for (const char* list : {"added", "dropped"}) {
      w.Key(list).BeginObject().Key("type").String("array");
      w.Key("items").BeginObject().Key("type").String("string").EndObject().EndObject();
    }
    w.Key("renamed").BeginObject().Key("type").String("object");
    w.Key("additionalProperties").BeginObject().Key("type").String("string").EndObject();
    w.EndObject();
    w.Key("retyped").BeginObject().Key("type").String("object");
    w.Key("additionalProperties").BeginObject().Key("type").String("object");
    w.Key("required").BeginArray().String("from").String("to").EndArray().EndObject();
    w.EndObject();
    w.EndObject().Key("additionalProperties").Bool(false).EndObject();  // changes
  }
  w.Key("changedFields").BeginObject();
  w.Key("description").String("UPDATE with a before image: the columns whose values differ");
  w.Key("type").String("array");
  w.Key("items").BeginObject().Key("type").String("string").EndObject();
  w.Key("uniqueItems").Bool(true).EndObject();
  if (!redacted.empty()) {
    w.Key("redacted").BeginObject();
    w.Key("description").String("The columns the table's redaction policy rewrote or removed");
    w.Key("type").String("array");
    w.Key("items").BeginObject().Key("enum");
    WriteStringList(w, redacted);
    w.EndObject();
    w.Key("uniqueItems").Bool(true).EndObject();
  }
  w.Key("metadata").BeginObject();
  w.Key("type").String("object");
  w.Key("required").BeginArray().String("pipeline").String("schemaVersion").EndArray();
  w.Key("properties").BeginObject();
  w.Key("pipeline").BeginObject().Key("const").String(config.pipeline.name).EndObject();
  w.Key("lsn").BeginObject().Key("type").String("string");
  w.Key("pattern").String("^[0-9A-F]+/[0-9A-F]+$").EndObject();
  w.Key("txId").BeginObject().Key("type").String("integer").Key("minimum").Int(0).EndObject();
  w.Key("seq").BeginObject().Key("type").String("integer").Key("minimum").Int(0).EndObject();
  w.Key("digest").BeginObject().Key("type").String("string");
  w.Key("pattern").String("^[0-9a-f]{32}$").EndObject();
  w.Key("schemaVersion").BeginObject();
  if (m != nullptr) {
    w.Key("description")
        .String(
            "The model's version; one more when the change showed a compatible change (an "
            "added or removed nullable column)");
    w.Key("enum").BeginArray().Uint(m->version).Uint(m->version + 1).EndArray();
  } else {
    w.Key("type").String("integer").Key("minimum").Int(1);
  }
  w.EndObject();
  w.Key("unchangedToast").BeginObject().Key("type").String("array");
  w.Key("items").BeginObject().Key("type").String("string").EndObject().EndObject();
  w.EndObject();  // properties
  w.Key("additionalProperties").Bool(false);
  w.EndObject();  // metadata
  w.EndObject();  // properties

  // Which image each event type carries.
  w.Key("allOf").BeginArray();
  w.BeginObject().Key("if").BeginObject().Key("properties").BeginObject();
  w.Key("eventType").BeginObject().Key("enum");
  WriteStringList(w, {"INSERT", "UPDATE", "READ"});
  w.EndObject().EndObject().EndObject();
  w.Key("then").BeginObject().Key("required").BeginArray().String("after").EndArray().EndObject();
  w.EndObject();
  w.BeginObject().Key("if").BeginObject().Key("properties").BeginObject();
  w.Key("eventType").BeginObject().Key("const").String("DELETE").EndObject();
  w.EndObject().EndObject();
  w.Key("then").BeginObject().Key("required").BeginArray().String("before").EndArray().EndObject();
  w.EndObject();
  if (table.schema_changes == "publish") {
    w.BeginObject().Key("if").BeginObject().Key("properties").BeginObject();
    w.Key("eventType").BeginObject().Key("const").String("SCHEMA_CHANGE").EndObject();
    w.EndObject().EndObject();
    w.Key("then").BeginObject().Key("required").BeginArray().String("columns");
    w.String("previousColumns").String("changes").EndArray().EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("additionalProperties").Bool(false);

  w.Key("$defs").BeginObject().Key("row").BeginObject();
  w.Key("type").String("object");
  if (m != nullptr) {
    w.Key("properties").BeginObject();
    for (const auto& c : shape.columns) w.Key(c.name).Raw(c.schema);
    w.EndObject();
    std::vector<std::string> required;
    for (const auto& c : shape.columns) {
      if (c.required) required.push_back(c.name);
    }
    if (!required.empty()) {
      w.Key("required");
      WriteStringList(w, required);
    }
    if (!shape.patterns.empty()) {
      w.Key("patternProperties").BeginObject();
      for (const auto& p : shape.patterns) w.Key(p).BeginObject().EndObject();
      w.EndObject();
    }
  }
  w.Key("additionalProperties").Bool(true);
  w.EndObject();  // row
  w.Key("columns").BeginObject().Key("type").String("object");
  w.Key("additionalProperties").BeginObject().Key("type").String("string").EndObject();
  w.EndObject().EndObject();  // columns, $defs
  w.EndObject();
  return PrettyJson(out);
}

std::string PrettyJson(std::string_view json) {
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  bool in_string = false;
  auto newline = [&] {
    out.push_back('\n');
    out.append(static_cast<size_t>(depth) * 2, ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[': {
        char close = c == '{' ? '}' : ']';
        if (i + 1 < json.size() && json[i + 1] == close) {  // empty: "{}" / "[]"
          out.push_back(c);
          out.push_back(close);
          ++i;
          break;
        }
        out.push_back(c);
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out += ": ";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('\n');
  return out;
}

}  // namespace cdc
