// `tables.<name>.transforms` in the config: every kind's syntax, and every mistake reported at
// load with file:line (unknown kind, bad type, unknown column where the model makes it knowable).
#include <gtest/gtest.h>

#include "config/config.h"
#include "support/config_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::ErrorLines;
using transform::Kind;

LoadResult Load(const std::string& transforms) {
  return testing::LoadYaml("tables:\n  orders:\n    event_types: [INSERT]\n    transforms:\n" +
                           transforms + testing::kRouteAllToStdout);
}

TEST(TransformConfig, EveryKind) {
  auto r = Load(R"(      - rename: {status: state, id: order_id}
      - drop: [internal_note]
      - include: [order_id, state, total, address, meta]
      - cast: {total: double, order_id: string}
      - set: {column: source, value: coredb}
      - set: {column: n, value: 42}
      - set: {column: d, value: 4.50}
      - set: {column: q, value: "42"}
      - set: {column: empty, value: null}
      - set: {column: flag, value: true}
      - set: {column: copy, from: total}
      - set: {column: label, template: "{order_id}/{state}"}
      - flatten: address
      - flatten: {column: meta, depth: 2, separator: _}
)");
  ASSERT_TRUE(r.config) << ErrorLines(r.errors);
  const auto& t = r.config->tables[0].transforms;
  ASSERT_EQ(t.size(), 14u);
  EXPECT_EQ(t[0].spec.kind, Kind::kRename);
  EXPECT_EQ(t[0].spec.renames, (std::vector<std::pair<std::string, std::string>>{
                                   {"status", "state"}, {"id", "order_id"}}));
  EXPECT_EQ(t[0].where.ToString(), "test.yaml:5:9");
  EXPECT_EQ(t[1].spec.kind, Kind::kDrop);
  EXPECT_EQ(t[1].spec.columns, std::vector<std::string>{"internal_note"});
  EXPECT_EQ(t[2].spec.kind, Kind::kInclude);
  EXPECT_EQ(t[3].spec.casts.size(), 2u);
  EXPECT_EQ(t[3].spec.casts[0].second, transform::CastType::kDouble);
  EXPECT_EQ(t[4].spec.value, Value::Text("coredb"));
  EXPECT_EQ(t[5].spec.value, Value::Int64(42));
  EXPECT_EQ(t[6].spec.value, Value::Decimal("4.50"));
  EXPECT_EQ(t[7].spec.value, Value::Text("42"));  // quoted: text
  EXPECT_EQ(t[8].spec.value, Value::Null());
  EXPECT_EQ(t[9].spec.value, Value::Bool(true));
  EXPECT_EQ(t[10].spec.set_from, transform::SetFrom::kColumn);
  EXPECT_EQ(t[10].spec.source, "total");
  EXPECT_EQ(t[11].spec.set_from, transform::SetFrom::kTemplate);
  EXPECT_EQ(t[12].spec.kind, Kind::kFlatten);
  EXPECT_EQ(t[12].spec.column, "address");
  EXPECT_EQ(t[12].spec.depth, 0);
  EXPECT_EQ(t[13].spec.depth, 2);
  EXPECT_EQ(t[13].spec.separator, "_");
}

TEST(TransformConfig, SyntaxErrorsHaveTheirLines) {
  auto r = Load(R"(      - uppercase: [name]
      - drop: [a]
        rename: {b: c}
      - cast: {total: money}
      - cast: [total]
      - rename: {a: {b: c}}
      - set: {column: x, value: 1, from: y}
      - set: {value: 1}
      - set: {column: x, value: [1]}
      - flatten: {column: meta, depth: deep}
      - flatten: [meta]
      - drop: []
      - set: {column: x, template: "{unclosed"}
      - just-text
)");
  EXPECT_EQ(ErrorLines(r.errors),
            "test.yaml:5:9: unknown key 'uppercase' in 'tables.orders.transforms[0]' (allowed: "
            "rename, drop, include, cast, set, flatten)\n"
            "test.yaml:6:9: 'tables.orders.transforms[1]' must be a mapping with exactly one of: "
            "rename, drop, include, cast, set, flatten\n"
            "test.yaml:8:23: tables.orders.transforms[2].cast.total: unknown cast type 'money' "
            "(accepted: string, int, double, decimal, bool, timestamp, date)\n"
            "test.yaml:9:15: 'tables.orders.transforms[3].cast' must be a mapping of column names "
            "to types (string, int, double, decimal, bool, timestamp, date)\n"
            "test.yaml:10:21: 'tables.orders.transforms[4].rename' must be a mapping of old "
            "column names to new ones\n"
            "test.yaml:11:14: 'tables.orders.transforms[5].set' needs exactly one of 'value', "
            "'from', 'template'\n"
            "test.yaml:12:14: missing required key 'column' in 'tables.orders.transforms[6].set'\n"
            "test.yaml:13:33: 'tables.orders.transforms[7].set.value' must be a scalar (text, "
            "number, bool, null)\n"
            "test.yaml:14:40: 'tables.orders.transforms[8].flatten.depth' must be a whole number "
            ">= 0\n"
            "test.yaml:15:18: 'tables.orders.transforms[9].flatten' must be a column name or a "
            "mapping with 'column', 'depth', 'separator'\n"
            "test.yaml:16:15: 'tables.orders.transforms[10].drop' must name at least one column\n"
            "test.yaml:18:9: 'tables.orders.transforms[12]' must be a mapping with exactly one "
            "of: rename, drop, include, cast, set, flatten\n");
}

TEST(TransformConfig, TemplateAndOrderErrorsAreCheckedAfterSyntax) {
  auto r = Load(R"(      - drop: [note]
      - set: {column: x, template: "{unclosed"}
      - set: {column: y, from: note}
      - rename: {a: b, c: b}
)");
  EXPECT_EQ(ErrorLines(r.errors),
            "test.yaml:6:9: tables.orders.transforms[1] (set): template has a '{' without a "
            "matching '}' (write '{{' for a brace)\n"
            "test.yaml:7:9: tables.orders.transforms[2] (set): column 'note' was removed or "
            "renamed by an earlier transform\n"
            "test.yaml:8:9: tables.orders.transforms[3] (rename): two columns are renamed to "
            "'b'\n");
  EXPECT_EQ(Load("      drop: [a]\n").errors[0].ToString(),
            "test.yaml:5:7: 'tables.orders.transforms' must be a list of transforms, e.g. '- "
            "drop: [notes]'");
}

TEST(TransformConfig, WithAModelUnknownColumnsAreErrors) {
  testing::TempDir dir;
  testing::WriteFile(dir / "orders.yaml", R"(table: orders
version: 1
fields:
  id: {type: text, nullable: false}
  total: numeric
  meta: jsonb
)");
  testing::WriteFile(dir / "config.yaml", std::string(R"(tables:
  orders:
    event_types: [INSERT]
    model: orders.yaml
    transforms:
      - rename: {totl: amount}
      - flatten: meta
      - cast: {meta.size: int, total: int}
      - rename: {total: id}
)") + testing::kRouteAllToStdout);
  auto r = LoadConfig(dir / "config.yaml", testing::IsolatedEnv());
  std::string config = dir / "config.yaml";
  EXPECT_EQ(ErrorLines(r.errors),
            config +
                ":6:9: tables.orders.transforms[0] (rename): unknown column 'totl' (not in "
                "the model 'orders.yaml')\n" +
                config +
                ":9:9: tables.orders.transforms[3] (rename): renaming 'total' to 'id' would "
                "overwrite the column 'id'\n");
}

}  // namespace
}  // namespace cdc
