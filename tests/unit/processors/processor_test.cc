#include "process/processor.h"

#include <gtest/gtest.h>

namespace cdc {
namespace {

TableConfig Orders() {
  TableConfig t;
  t.name = "orders";
  t.function = "processOrderChanges";
  t.event_types = {Op::kInsert, Op::kUpdate};
  t.primary_key = {"id"};
  return t;
}

ChangeEvent Change(Op op) {
  ChangeEvent c;
  c.table = "orders";
  c.op = op;
  return c;
}

TEST(TableProcessor, RejectsEventTypesTheTableDoesNotPublish) {
  TableProcessor p(Orders());
  ChangeEvent c = Change(Op::kDelete);
  c.before = Row({{"id", Value::Int64(1)}});
  auto r = p.Process(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "event type DELETE is not allowed for table orders (allowed: INSERT, UPDATE)");
}

TEST(TableProcessor, FillsTheKeyFromTheRow) {
  TableConfig t = Orders();
  t.primary_key = {"region", "id"};
  TableProcessor p(t);
  ChangeEvent c = Change(Op::kInsert);
  c.after = Row(
      {{"id", Value::Int64(9)}, {"region", Value::Text("eu")}, {"total", Value::Decimal("1.50")}});
  auto r = p.Process(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->change.key, Row({{"region", Value::Text("eu")}, {"id", Value::Int64(9)}}));
  EXPECT_TRUE(r->changed_fields.empty());
}

TEST(TableProcessor, MissingKeyColumnIsAnError) {
  TableProcessor p(Orders());
  ChangeEvent c = Change(Op::kInsert);
  c.after = Row({{"total", Value::Decimal("1.50")}});
  auto r = p.Process(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "primary-key column 'id' is missing from 'after' of table orders");
}

TEST(TableProcessor, ChangedFieldsForUpdates) {
  TableProcessor p(Orders());
  ChangeEvent c = Change(Op::kUpdate);
  c.before = Row({{"id", Value::Int64(1)},
                  {"status", Value::Text("placed")},
                  {"total", Value::Decimal("5")},
                  {"note", Value::Null()},
                  {"gone", Value::Int64(1)}});
  c.after = Row({{"id", Value::Int64(1)},
                 {"status", Value::Text("paid")},
                 {"total", Value::Decimal("5")},
                 {"note", Value::Text("")},
                 {"added", Value::Bool(true)}});
  auto r = p.Process(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changed_fields, (std::vector<std::string>{"added", "gone", "note", "status"}));
}

TEST(ChangedFields, NothingChangedIsEmptyAndToastIsIgnored) {
  Row a({{"id", Value::Int64(1)}, {"body", Value::Text("x")}});
  Row b({{"id", Value::Int64(1)}, {"body", Value::UnchangedToast()}});
  EXPECT_TRUE(ChangedFields(a, a).empty());
  EXPECT_TRUE(ChangedFields(a, b).empty());
}

TEST(ProcessorSet, FindsByTableAndFunction) {
  Config config;
  config.tables.push_back(Orders());
  TableConfig users = Orders();
  users.name = "users";
  users.function = "processUserChanges";
  users.schema = "crm";
  config.tables.push_back(users);
  ProcessorSet set(config);
  EXPECT_EQ(set.Find("public", "orders")->function(), "processOrderChanges");
  EXPECT_EQ(set.Find("public", "users"), nullptr);
  EXPECT_EQ(set.Find("crm", "users")->function(), "processUserChanges");
  EXPECT_EQ(set.FindByFunction("processUserChanges")->table().name, "users");
  EXPECT_EQ(set.FindByFunction("processNothing"), nullptr);
}

}  // namespace
}  // namespace cdc
