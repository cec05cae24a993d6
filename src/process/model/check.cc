#include "process/model/check.h"

#include <algorithm>
#include <variant>

namespace cdc::model {
namespace {

class Violations {
 public:
  explicit Violations(const Model& model) : model_(model) {}

  void Add(std::string_view image, std::string_view field, std::string_view reason) {
    if (text_.empty()) {
      text_ = "model " + model_.Label() + ": ";
    } else {
      text_ += "; ";
    }
    text_.append(image).append(".").append(field).append(": ").append(reason);
  }
  bool empty() const { return text_.empty(); }
  std::string Take() { return std::move(text_); }

 private:
  const Model& model_;
  std::string text_;
};

constexpr std::string_view kUnknownWithValue =
    "a column the model does not have, with a value (add it to the model: without a model "
    "change a new column is only accepted while it is null)";
constexpr std::string_view kNullNotNullable = "null, but the field is not nullable";
constexpr std::string_view kMissingNotNullable =
    "missing, but the field is not nullable (a removed NOT NULL column is an incompatible change)";

// Checks one image; `complete` when it must carry every field.
void CheckImage(const Model& m, const ChangeEvent& c, const Row& row, std::string_view image,
                bool complete, Violations& violations, bool& compatible) {
  thread_local std::vector<uint8_t> seen;
  if (complete) seen.assign(m.fields.size(), 0);
  size_t hint = 0;  // columns usually arrive in table order: try the next field first
  std::string reason;
  for (const Column& col : row.columns()) {
    int index = -1;
    if (hint < m.fields.size() && SameName(m.fields[hint].name, col.name)) {
      index = static_cast<int>(hint);
    } else {
      index = m.IndexOf(col.name);
    }
    if (index < 0) {
      if (col.value.is_null() || col.value.kind() == ValueKind::kUnchangedToast) {
        compatible = true;
      } else {
        violations.Add(image, col.name, kUnknownWithValue);
      }
      continue;
    }
    hint = static_cast<size_t>(index) + 1;
    if (complete) seen[static_cast<size_t>(index)] = 1;
    const Field& f = m.fields[static_cast<size_t>(index)];
    if (col.value.kind() == ValueKind::kUnchangedToast) continue;
    if (col.value.is_null()) {
      if (!f.nullable) violations.Add(image, col.name, kNullNotNullable);
      continue;
    }
    if (!TriviallyFits(f.type, col.value) && !ValueFits(f.type, col.value, reason)) {
      violations.Add(image, col.name, reason);
    }
  }
  if (!complete) return;
  for (size_t i = 0; i < m.fields.size(); ++i) {
    if (seen[i]) continue;
    const Field& f = m.fields[i];
    if (std::find(c.unchanged_toast.begin(), c.unchanged_toast.end(), f.name) !=
        c.unchanged_toast.end()) {
      continue;
    }
    if (f.nullable) {
      compatible = true;
    } else {
      violations.Add(image, f.name, kMissingNotNullable);
    }
  }
}

}  // namespace

bool AfterIsComplete(const ChangeEvent& change) {
  return HasCompleteRows(change.position) &&
         (change.op == Op::kInsert || change.op == Op::kUpdate || change.op == Op::kRead);
}

ModelCheck CheckChange(const Model& m, const ChangeEvent& c) {
  ModelCheck out;
  Violations violations(m);
  bool compatible = false;
  if (c.before) CheckImage(m, c, *c.before, "before", false, violations, compatible);
  if (c.after) CheckImage(m, c, *c.after, "after", AfterIsComplete(c), violations, compatible);
  if (!violations.empty()) out.status = InvalidArgument(violations.Take());
  out.compatible_change = compatible;
  out.schema_version = m.version + (compatible ? 1 : 0);
  return out;
}

ModelCheck CheckSchemaChange(const Model& m, const ChangeEvent& c) {
  bool same = c.after.has_value() && c.after->size() == m.fields.size();
  for (size_t i = 0; same && i < m.fields.size(); ++i) {
    const Column& col = c.after->columns()[i];
    auto type = col.value.kind() == ValueKind::kText ? ParseFieldType(col.value.as_string())
                                                     : Result<FieldType>(InvalidArgument(""));
    same = SameName(m.fields[i].name, col.name) && type.ok() && *type == m.fields[i].type;
  }
  ModelCheck out;
  out.compatible_change = !same;
  out.schema_version = m.version + (same ? 0 : 1);
  return out;
}

void DropUnknownColumns(const Model& m, Row& row) {
  auto& cols = row.columns();
  cols.erase(std::remove_if(cols.begin(), cols.end(),
                            [&](const Column& c) { return m.IndexOf(c.name) < 0; }),
             cols.end());
}

}  // namespace cdc::model
