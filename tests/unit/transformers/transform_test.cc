// The transforms: every kind, their order, before and after alike, partial images, the errors
// (which name the step and the column, never a value), the checks made at load, and what they do
// to a row's JSON Schema.
#include "process/transform/transform.h"

#include <gtest/gtest.h>

#include "base/time.h"

namespace cdc::transform {
namespace {

StepSpec Rename(std::vector<std::pair<std::string, std::string>> renames) {
  StepSpec s;
  s.kind = Kind::kRename;
  s.renames = std::move(renames);
  return s;
}

StepSpec Columns(Kind kind, std::vector<std::string> columns) {
  StepSpec s;
  s.kind = kind;
  s.columns = std::move(columns);
  return s;
}

StepSpec CastTo(std::string column, CastType type) {
  StepSpec s;
  s.kind = Kind::kCast;
  s.casts = {{std::move(column), type}};
  return s;
}

StepSpec SetValue(std::string column, Value v) {
  StepSpec s;
  s.kind = Kind::kSet;
  s.column = std::move(column);
  s.value = std::move(v);
  return s;
}

StepSpec SetFromColumn(std::string column, std::string from) {
  StepSpec s;
  s.kind = Kind::kSet;
  s.column = std::move(column);
  s.set_from = SetFrom::kColumn;
  s.source = std::move(from);
  return s;
}

StepSpec SetTemplate(std::string column, std::string text) {
  StepSpec s;
  s.kind = Kind::kSet;
  s.column = std::move(column);
  s.set_from = SetFrom::kTemplate;
  s.source = std::move(text);
  return s;
}

StepSpec Flatten(std::string column, int depth = 0, std::string separator = ".") {
  StepSpec s;
  s.kind = Kind::kFlatten;
  s.column = std::move(column);
  s.depth = depth;
  s.separator = std::move(separator);
  return s;
}

Chain Build(std::vector<StepSpec> steps) {
  auto c = Chain::Build(std::move(steps));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : Chain();
}

std::vector<std::string> Names(const Row& row) {
  std::vector<std::string> out;
  for (const auto& c : row.columns()) out.push_back(c.name);
  return out;
}

using Names_t = std::vector<std::string>;

Row Order() {
  return Row({{"id", Value::Text("ord_1")},
              {"total", Value::Decimal("129.90")},
              {"status", Value::Text("paid")},
              {"internal_note", Value::Text("vip")},
              {"address", Value::Json(R"({"city":"Leeds","geo":{"lat":53.8,"lng":-1.5}})")}});
}

TEST(Rename, KeepsThePlaceAndSwapsAtOnce) {
  Row row = Order();
  ASSERT_TRUE(Build({Rename({{"status", "state"}, {"id", "order_id"}})}).Apply(row).ok());
  EXPECT_EQ(Names(row), (Names_t{"order_id", "total", "state", "internal_note", "address"}));

  Row swap({{"a", Value::Int64(1)}, {"b", Value::Int64(2)}});
  ASSERT_TRUE(Build({Rename({{"a", "b"}, {"b", "a"}})}).Apply(swap).ok());
  EXPECT_EQ(swap, Row({{"b", Value::Int64(1)}, {"a", Value::Int64(2)}}));
}

TEST(Rename, AMissingColumnIsSkippedAndACollisionIsAnError) {
  Row partial({{"id", Value::Text("ord_1")}});
  ASSERT_TRUE(Build({Rename({{"status", "state"}})}).Apply(partial).ok());
  EXPECT_EQ(Names(partial), (Names_t{"id"}));

  Row row = Order();
  Status s = Build({Rename({{"status", "total"}})}).Apply(row);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "transform 1 (rename): column 'status': renaming it to 'total' would overwrite the "
            "column of that name");
}

TEST(DropAndInclude, RemoveOrKeepColumnsInRowOrder) {
  Row row = Order();
  ASSERT_TRUE(Build({Columns(Kind::kDrop, {"internal_note", "absent"})}).Apply(row).ok());
  EXPECT_EQ(Names(row), (Names_t{"id", "total", "status", "address"}));
  Row kept = Order();
  ASSERT_TRUE(Build({Columns(Kind::kInclude, {"status", "id", "absent"})}).Apply(kept).ok());
  EXPECT_EQ(Names(kept), (Names_t{"id", "status"}));  // row order, not list order
}

// Casts one value; the error message, or "" on success.
std::pair<Value, std::string> CastOne(Value v, CastType type) {
  Row row({{"c", std::move(v)}});
  Status s = Build({CastTo("c", type)}).Apply(row);
  return {row.columns()[0].value, s.ok() ? "" : s.message()};
}

TEST(Cast, ToString) {
  EXPECT_EQ(CastOne(Value::Int64(42), CastType::kString).first, Value::Text("42"));
  EXPECT_EQ(CastOne(Value::Decimal("129.90"), CastType::kString).first, Value::Text("129.90"));
  EXPECT_EQ(CastOne(Value::Bool(true), CastType::kString).first, Value::Text("true"));
  EXPECT_EQ(CastOne(Value::Date(19737), CastType::kString).first, Value::Text("2024-01-15"));
  EXPECT_EQ(CastOne(Value::TimestampTz(1705314600000000), CastType::kString).first,
            Value::Text("2024-01-15T10:30:00Z"));
  EXPECT_EQ(CastOne(Value::Json(R"({"a":1})"), CastType::kString).first, Value::Text(R"({"a":1})"));
  EXPECT_EQ(CastOne(Value::Bytes(std::string("\x00\xff", 2)), CastType::kString).first,
            Value::Text("AP8="));
  EXPECT_EQ(CastOne(Value::Array({Value::Int64(1), Value::Null()}), CastType::kString).first,
            Value::Text("[1,null]"));
}

TEST(Cast, ToIntDoubleAndDecimal) {
  EXPECT_EQ(CastOne(Value::Text("42"), CastType::kInt).first, Value::Int64(42));
  EXPECT_EQ(CastOne(Value::Decimal("-7.000"), CastType::kInt).first, Value::Int64(-7));
  EXPECT_EQ(CastOne(Value::Double(3.0), CastType::kInt).first, Value::Int64(3));
  EXPECT_EQ(CastOne(Value::Bool(true), CastType::kInt).first, Value::Int64(1));
  EXPECT_EQ(CastOne(Value::Text("0.5"), CastType::kDouble).first, Value::Double(0.5));
  EXPECT_EQ(CastOne(Value::Int64(2), CastType::kDouble).first, Value::Double(2));
  EXPECT_EQ(CastOne(Value::Decimal("NaN"), CastType::kDouble).first.kind(), ValueKind::kDouble);
  EXPECT_EQ(CastOne(Value::Int64(42), CastType::kDecimal).first, Value::Decimal("42"));
  EXPECT_EQ(CastOne(Value::Double(0.1), CastType::kDecimal).first, Value::Decimal("0.1"));
  EXPECT_EQ(CastOne(Value::Text("1e5"), CastType::kDecimal).first, Value::Decimal("1e5"));
  EXPECT_EQ(CastOne(Value::Text("12.50"), CastType::kDecimal).first, Value::Decimal("12.50"));
}

TEST(Cast, ToBoolTimestampAndDate) {
  EXPECT_EQ(CastOne(Value::Text("Yes"), CastType::kBool).first, Value::Bool(true));
  EXPECT_EQ(CastOne(Value::Text("f"), CastType::kBool).first, Value::Bool(false));
  EXPECT_EQ(CastOne(Value::Int64(0), CastType::kBool).first, Value::Bool(false));
  int64_t micros = ParseRfc3339("2024-01-15T10:30:00Z")->micros;
  EXPECT_EQ(CastOne(Value::Text("2024-01-15T12:30:00+02:00"), CastType::kTimestamp).first,
            Value::TimestampTz(micros));
  EXPECT_EQ(CastOne(Value::Text("2024-01-15 10:30:00"), CastType::kTimestamp).first,
            Value::TimestampTz(micros));  // no offset: UTC
  EXPECT_EQ(CastOne(Value::Timestamp(micros), CastType::kTimestamp).first,
            Value::TimestampTz(micros));
  EXPECT_EQ(CastOne(Value::Date(19737), CastType::kTimestamp).first,
            Value::TimestampTz(ParseRfc3339("2024-01-15T00:00:00Z")->micros));
  EXPECT_EQ(CastOne(Value::Text("2024-01-15"), CastType::kDate).first, Value::Date(19737));
  EXPECT_EQ(CastOne(Value::TimestampTz(micros), CastType::kDate).first, Value::Date(19737));
  EXPECT_EQ(CastOne(Value::Text("infinity"), CastType::kDate).first, Value::Date(Value::kInfinity));
}

TEST(Cast, NullStaysNullAndABadValueIsAnErrorWithoutTheValue) {
  EXPECT_EQ(CastOne(Value::Null(), CastType::kInt).first, Value::Null());
  EXPECT_EQ(CastOne(Value::UnchangedToast(), CastType::kInt).first, Value::UnchangedToast());
  auto [v, error] = CastOne(Value::Text("4.5 apples"), CastType::kInt);
  EXPECT_EQ(error,
            "transform 1 (cast): column 'c': cannot cast a text value that is not a whole number "
            "in the int64 range to int");
  EXPECT_EQ(v, Value::Text("4.5 apples"));  // untouched
  EXPECT_EQ(CastOne(Value::Text("secret-ish"), CastType::kBool).second.find("secret"),
            std::string::npos);
  EXPECT_NE(CastOne(Value::Int64(2), CastType::kBool).second, "");
  EXPECT_NE(CastOne(Value::Text("2024-13-45"), CastType::kDate).second, "");
  EXPECT_NE(CastOne(Value::Int64(1), CastType::kTimestamp).second, "");
  EXPECT_NE(CastOne(Value::Double(0.5), CastType::kInt).second, "");
  EXPECT_NE(CastOne(Value::Text("1.2.3"), CastType::kDecimal).second, "");
  EXPECT_NE(CastOne(Value::Json("{}"), CastType::kDouble).second, "");
}

TEST(Set, AConstantIsAddedAtTheEndOrReplacesTheColumn) {
  Row row = Order();
  ASSERT_TRUE(Build({SetValue("source", Value::Text("coredb")), SetValue("status", Value::Null())})
                  .Apply(row)
                  .ok());
  EXPECT_EQ(Names(row), (Names_t{"id", "total", "status", "internal_note", "address", "source"}));
  EXPECT_EQ(*row.Find("source"), Value::Text("coredb"));
  EXPECT_EQ(*row.Find("status"), Value::Null());
}

TEST(Set, FromAnotherColumnAndATemplate) {
  Row row = Order();
  ASSERT_TRUE(Build({SetFromColumn("amount", "total"),
                     SetTemplate("label", "{{{id}}}: {status} ({total})")})
                  .Apply(row)
                  .ok());
  EXPECT_EQ(*row.Find("amount"), Value::Decimal("129.90"));
  EXPECT_EQ(*row.Find("label"), Value::Text("{ord_1}: paid (129.90)"));

  // A missing source leaves the target unset; a null one makes a template null.
  Row partial({{"id", Value::Text("ord_1")}, {"status", Value::Null()}});
  ASSERT_TRUE(Build({SetFromColumn("amount", "total"), SetTemplate("label", "{id}/{status}"),
                     SetTemplate("other", "{id}/{total}")})
                  .Apply(partial)
                  .ok());
  EXPECT_EQ(partial.Find("amount"), nullptr);
  EXPECT_EQ(*partial.Find("label"), Value::Null());
  EXPECT_EQ(partial.Find("other"), nullptr);
}

TEST(Flatten, AllLevelsWithTypedMembers) {
  Row row(
      {{"id", Value::Int64(1)},
       {"address",
        Value::Json(R"({"city":"Leeds","zip":null,"floor":3,"geo":{"lat":53.80,"pos":{"x":true}},)"
                    R"("tags":["a","b"],"empty":{}})")},
       {"after", Value::Text("kept")}});
  ASSERT_TRUE(Build({Flatten("address")}).Apply(row).ok());
  EXPECT_EQ(row, Row({{"id", Value::Int64(1)},
                      {"address.city", Value::Text("Leeds")},
                      {"address.zip", Value::Null()},
                      {"address.floor", Value::Int64(3)},
                      {"address.geo.lat", Value::Decimal("53.80")},
                      {"address.geo.pos.x", Value::Bool(true)},
                      {"address.tags", Value::Json(R"(["a","b"])")},
                      {"after", Value::Text("kept")}}));
}

TEST(Flatten, DepthAndSeparator) {
  Row row({{"a", Value::Json(R"({"b":{"c":{"d":1}},"e":2})")}});
  ASSERT_TRUE(Build({Flatten("a", 1, "_")}).Apply(row).ok());
  EXPECT_EQ(row, Row({{"a_b", Value::Json(R"({"c":{"d":1}})")}, {"a_e", Value::Int64(2)}}));
  Row two({{"a", Value::Json(R"({"b":{"c":{"d":1}}})")}});
  ASSERT_TRUE(Build({Flatten("a", 2)}).Apply(two).ok());
  EXPECT_EQ(two, Row({{"a.b.c", Value::Json(R"({"d":1})")}}));
}

TEST(Flatten, LeavesNullsScalarsAndArraysAloneAndRefusesToOverwrite) {
  for (Value v : {Value::Null(), Value::Json("[1,2]"), Value::Json("42"), Value::Text("{}")}) {
    Row row({{"a", v}});
    ASSERT_TRUE(Build({Flatten("a")}).Apply(row).ok());
    EXPECT_EQ(row, Row({{"a", v}}));
  }
  Row clash({{"a", Value::Json(R"({"b":1})")}, {"a.b", Value::Int64(2)}});
  Status s = Build({Flatten("a")}).Apply(clash);
  EXPECT_EQ(s.message(),
            "transform 1 (flatten): column 'a': flattening it would overwrite the column 'a.b'");
}

TEST(Chain, StepsRunInOrderOnBeforeAndAfterAlike) {
  Chain chain = Build({Rename({{"total", "amount"}}), CastTo("amount", CastType::kDouble),
                       Columns(Kind::kDrop, {"internal_note"}), Flatten("address", 1),
                       SetTemplate("summary", "{id}={amount}")});
  ChangeEvent c;
  c.op = Op::kUpdate;
  c.before = Order();
  c.after = Order();
  c.after->Find("status")->operator=(Value::Text("shipped"));
  std::vector<std::string> redacted;
  ASSERT_TRUE(chain.Apply(c, redacted).ok());
  for (const Row* row : {&*c.before, &*c.after}) {
    EXPECT_EQ(Names(*row),
              (Names_t{"id", "amount", "status", "address.city", "address.geo", "summary"}));
    EXPECT_EQ(*row->Find("amount"), Value::Double(129.9));
    EXPECT_EQ(*row->Find("summary"), Value::Text("ord_1=129.9"));
  }
  EXPECT_TRUE(redacted.empty());
}

TEST(Chain, RedactedColumnsFollowRenamesAndCopies) {
  Chain chain = Build({Rename({{"email", "contact"}}), SetFromColumn("contact_copy", "contact"),
                       SetTemplate("greeting", "hi {phone}"), SetFromColumn("id2", "id")});
  ChangeEvent c;
  c.op = Op::kInsert;
  c.after = Row({{"id", Value::Int64(1)},
                 {"email", Value::Text("j***@example.com")},
                 {"phone", Value::Text("hmac:k1:ab")}});
  std::vector<std::string> redacted = {"email", "phone"};
  ASSERT_TRUE(chain.Apply(c, redacted).ok());
  EXPECT_EQ(redacted, (Names_t{"contact", "contact_copy", "greeting", "phone"}));
  EXPECT_EQ(*c.after->Find("contact_copy"), Value::Text("j***@example.com"));
}

TEST(Chain, AnErrorNamesTheStepAndStops) {
  Chain chain = Build({Columns(Kind::kDrop, {"internal_note"}), CastTo("status", CastType::kInt)});
  Row row = Order();
  Status s = chain.Apply(row);
  EXPECT_EQ(s.message(),
            "transform 2 (cast): column 'status': cannot cast a text value that is not a whole "
            "number in the int64 range to int");
}

TEST(Validate, WithTheModelsColumnsUnknownNamesAreErrors) {
  std::vector<std::string> columns = {"id", "total", "status", "address"};
  auto errors =
      Validate({Rename({{"status", "state"}}), CastTo("status", CastType::kInt),
                Columns(Kind::kDrop, {"nope"}), Rename({{"total", "id"}}), Flatten("address"),
                CastTo("address.city", CastType::kString), SetFromColumn("x", "address"),
                Columns(Kind::kInclude, {"id", "state"}), CastTo("total", CastType::kInt)},
               &columns);
  std::vector<std::string> messages;
  for (const auto& e : errors) messages.push_back(std::to_string(e.step) + ": " + e.message);
  EXPECT_EQ(messages,
            (Names_t{"1: column 'status' was removed or renamed by an earlier transform",
                     "2: unknown column 'nope'",
                     "3: renaming 'total' to 'id' would overwrite the column 'id'",
                     "6: column 'address' was removed or renamed by an earlier transform",
                     "8: column 'total' was removed or renamed by an earlier transform"}));
}

TEST(Validate, WithoutAModelOnlyRemovedNamesAndSyntaxAreKnown) {
  auto errors = Validate({CastTo("anything", CastType::kInt), Columns(Kind::kDrop, {"a"}),
                          SetFromColumn("b", "a"), SetTemplate("c", "{x"), SetTemplate("d", "}"),
                          Rename({{"e", "f"}, {"g", "f"}}), Rename({{"h", "h"}}), Flatten("j", -1),
                          SetValue("", Value::Null())});
  std::vector<std::string> messages;
  for (const auto& e : errors) messages.push_back(std::to_string(e.step) + ": " + e.message);
  EXPECT_EQ(messages,
            (Names_t{"2: column 'a' was removed or renamed by an earlier transform",
                     "3: template has a '{' without a matching '}' (write '{{' for a brace)",
                     "4: template has a '}' without a '{' (write '}}' for a brace)",
                     "5: two columns are renamed to 'f'", "6: column 'h' is renamed to itself",
                     "7: flatten depth must be 0 (all levels) or more",
                     "8: set needs a 'column' to write"}));
  EXPECT_FALSE(Chain::Build({SetTemplate("c", "{x")}).ok());
}

TEST(Shape, FollowsRenamesCastsSetsAndFlattens) {
  RowShape shape;
  shape.columns = {{"id", R"({"type":"string"})", false, true},
                   {"total", R"({"type":"number"})", false, false},
                   {"note", R"({"type":["string","null"]})", true, false},
                   {"address", "{}", true, false}};
  Chain chain = Build({Rename({{"id", "order_id"}}), CastTo("total", CastType::kString),
                       Columns(Kind::kDrop, {"note"}), Flatten("address"),
                       SetValue("source", Value::Text("coredb")),
                       SetTemplate("label", "{order_id}:{extra}")});
  chain.ApplyToShape(shape);
  ASSERT_EQ(shape.columns.size(), 4u);
  EXPECT_EQ(shape.columns[0].name, "order_id");
  EXPECT_TRUE(shape.columns[0].required);
  EXPECT_EQ(shape.columns[1].schema, R"({"type":"string"})");
  EXPECT_EQ(shape.columns[2].name, "source");
  EXPECT_EQ(shape.columns[2].schema, R"({"const":"coredb"})");
  EXPECT_EQ(shape.columns[3].schema, R"({"type":["string","null"]})");  // extra may be missing
  EXPECT_EQ(shape.patterns, (Names_t{"^address\\."}));
}

TEST(CastTypes, ParseAndList) {
  EXPECT_EQ(*ParseCastType("timestamp"), CastType::kTimestamp);
  auto bad = ParseCastType("integer");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown cast type 'integer' (accepted: string, int, double, decimal, bool, "
            "timestamp, date)");
}

}  // namespace
}  // namespace cdc::transform
