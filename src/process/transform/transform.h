// Transforms: the per-table list `tables.<name>.transforms`, applied in order to the `before` and
// `after` images alike, after the model check and redaction (docs/transforms.md has the order of
// operations and why). Each step is one of:
//
//   rename   {old: new, ...}       a column gets a new name, keeping its place
//   drop     [columns]             the columns are removed
//   include  [columns]             only these columns are kept, in row order
//   cast     {column: type, ...}   the value is converted: string, int, double, decimal, bool,
//                                  timestamp (with time zone, UTC), date
//   set      {column, value}       a constant
//            {column, from}        a copy of another column
//            {column, template}    text with "{column}" references ("{{" and "}}" are braces)
//   flatten  {column, depth, separator}
//                                  a JSON object column becomes one column per member,
//                                  "address.city"; `depth` object levels (0 = all)
//
// Every step sees the names the previous steps left. A step that names a column the image does
// not carry does nothing to that image (JSON producers send partial rows, and a `before` image
// may carry the key only): rename, drop, cast and flatten skip it, set `from` and a template
// referencing it leave the target unset; include keeps what it finds. Errors are a value that
// cannot be cast, and a rename or flatten that would overwrite an existing column; they name
// the step, its kind and the column, never a value, and the change is dead-lettered.
//
// Thread-safety: a built Chain is immutable; Apply may be called from many threads at once.
// Apply allocates only for the values and names it writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "event/change_event.h"
#include "event/value.h"

namespace cdc::transform {

enum class Kind : uint8_t { kRename, kDrop, kInclude, kCast, kSet, kFlatten };

// "rename", "drop", "include", "cast", "set", "flatten".
std::string_view KindName(Kind kind);

enum class CastType : uint8_t { kString, kInt, kDouble, kDecimal, kBool, kTimestamp, kDate };

std::string_view CastTypeName(CastType type);
// "string", "int", "double", "decimal", "bool", "timestamp", "date"; errors list them.
Result<CastType> ParseCastType(std::string_view name);
// "string, int, ..." for messages and the reference.
std::string CastTypeNames();

enum class SetFrom : uint8_t { kValue, kColumn, kTemplate };

// One configured step.
struct StepSpec {
  Kind kind = Kind::kDrop;
  std::vector<std::pair<std::string, std::string>> renames;  // rename: old -> new
  std::vector<std::string> columns;                          // drop, include
  std::vector<std::pair<std::string, CastType>> casts;       // cast: column -> type
  std::string column;  // set: the column written; flatten: the JSON column
  SetFrom set_from = SetFrom::kValue;
  Value value;                  // set: the constant
  std::string source;           // set: the column copied, or the template
  int depth = 0;                // flatten: object levels expanded; 0 = all
  std::string separator = ".";  // flatten
};

struct StepError {
  size_t step = 0;  // index into the steps
  std::string message;
};

// Checks the steps: templates parse, names are not empty, a rename does not map two columns to
// one name, and no step names a column an earlier step removed or renamed away. With `columns`
// (the table's columns in order, from its model), a step that names a column that does not
// exist at that point, and a rename, set or flatten whose result collides with an existing
// column, are errors as well. Every error is returned, in step order.
std::vector<StepError> Validate(const std::vector<StepSpec>& steps,
                                const std::vector<std::string>* columns = nullptr);

// What the export knows of one output column: its name and its JSON Schema (draft 2020-12).
struct ColumnShape {
  std::string name;
  std::string schema;  // JSON text
  bool nullable = true;
  bool required = false;
};

// A row as the JSON Schema export sees it: its columns and, for flattened JSON columns, regular
// expressions for the names that cannot be known in advance ("^address\\.").
struct RowShape {
  std::vector<ColumnShape> columns;
  std::vector<std::string> patterns;
};

// The JSON Schema of a cast's result.
std::string CastSchema(CastType type, bool nullable);

class Chain {
 public:
  Chain() = default;
  // Fails with the first error of Validate(steps).
  static Result<Chain> Build(std::vector<StepSpec> steps);

  bool empty() const { return steps_.empty(); }
  const std::vector<StepSpec>& steps() const { return steps_; }

  // Applies every step to one image.
  Status Apply(Row& row) const;

  // Applies every step to `before` and `after`. `redacted` (sorted) follows the renames, and a
  // column set from a redacted column (a copy or a template using it) is listed too.
  Status Apply(ChangeEvent& change, std::vector<std::string>& redacted) const;

  // What the steps do to a row's columns, for the JSON Schema export.
  void ApplyToShape(RowShape& shape) const;

 private:
  struct Segment {
    bool column = false;  // a reference, else literal text
    std::string text;
  };

  explicit Chain(std::vector<StepSpec> steps);
  Status ApplyStep(size_t i, Row& row) const;

  std::vector<StepSpec> steps_;
  std::vector<std::vector<Segment>> templates_;  // per step; empty unless a template
  std::vector<uint64_t> name_lengths_;  // per step: LengthBit of every column name it names
  std::vector<size_t> sets_from_;       // per step: the set steps from it on (columns they may add)
};

}  // namespace cdc::transform
