#include "process/processor.h"

#include <gtest/gtest.h>

#include <cstdlib>

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
  auto set = ProcessorSet::Build(config);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->Find("public", "orders")->function(), "processOrderChanges");
  EXPECT_EQ(set->Find("public", "users"), nullptr);
  EXPECT_EQ(set->Find("crm", "users")->function(), "processUserChanges");
  EXPECT_EQ(set->FindByFunction("processUserChanges")->table().name, "users");
  EXPECT_EQ(set->FindByFunction("processNothing"), nullptr);
}

// Redaction inside the processor: before, after and the key alike, the redacted columns listed,
// and changedFields computed on what consumers see.
class ProcessorRedaction : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("PROCESSOR_TEST_HMAC_KEY", "0123456789abcdef0123456789abcdef", 1);
  }
  void TearDown() override { ::unsetenv("PROCESSOR_TEST_HMAC_KEY"); }

  static Config WithPolicy(std::string redact_at, bool enabled = true) {
    Config config;
    TableConfig users = Orders();
    users.name = "users";
    users.function = "processUserChanges";
    users.redact_at = std::move(redact_at);
    users.redact = {{"email", "mask:email", {}, {}},
                    {"phone", "hash", {}, {}},
                    {"card_number", "remove", {}, {}},
                    {"notes", "", {"email"}, {}}};
    config.tables.push_back(users);
    config.redaction.enabled = enabled;
    config.redaction.keys = {{"k1", "env:PROCESSOR_TEST_HMAC_KEY", {}}};
    config.redaction.active_key = "k1";
    return config;
  }

  static ChangeEvent Update() {
    ChangeEvent c = Change(Op::kUpdate);
    c.table = "users";
    c.before = Row({{"id", Value::Int64(7)},
                    {"email", Value::Text("jane@example.com")},
                    {"phone", Value::Text("+1 415 555 2671")},
                    {"card_number", Value::Text("4111111111111111")},
                    {"notes", Value::Text("ask jane@example.com")},
                    {"status", Value::Text("active")}});
    c.after = Row({{"id", Value::Int64(7)},
                   {"email", Value::Text("jane@example.org")},
                   {"phone", Value::Text("+1 415 555 2671")},
                   {"card_number", Value::Text("5555555555554444")},
                   {"notes", Value::Text("ask jane@example.com")},
                   {"status", Value::Text("inactive")}});
    return c;
  }
};

TEST_F(ProcessorRedaction, BeforeAndAfterAreRedactedAlikeAndListed) {
  auto set = ProcessorSet::Build(WithPolicy("processor"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const TableProcessor* p = set->Find("public", "users");
  ASSERT_TRUE(p->HasPolicy());
  EXPECT_FALSE(p->RedactsAtCapture());
  ChangeEvent c = Update();
  auto r = p->Process(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Row& before = *r->change.before;
  const Row& after = *r->change.after;
  EXPECT_EQ(before.Find("email")->as_string(), "j***@example.com");
  EXPECT_EQ(after.Find("email")->as_string(), "j***@example.org");
  EXPECT_TRUE(before.Find("phone")->as_string().starts_with("hmac:k1:"));
  EXPECT_EQ(*before.Find("phone"), *after.Find("phone"));  // deterministic: still joinable
  EXPECT_EQ(before.Find("card_number"), nullptr);
  EXPECT_EQ(after.Find("card_number"), nullptr);
  EXPECT_EQ(before.Find("notes")->as_string(), "ask [REDACTED:email]");
  EXPECT_EQ(r->redacted, (std::vector<std::string>{"card_number", "email", "notes", "phone"}));
  // The masked e-mails differ, the hashed phone does not, the removed card is gone.
  EXPECT_EQ(r->changed_fields, (std::vector<std::string>{"email", "status"}));
  EXPECT_EQ(r->change.key, Row({{"id", Value::Int64(7)}}));
}

TEST_F(ProcessorRedaction, CaptureTablesTakeTheListFromCaptureAndDoNotRedactTwice) {
  auto set = ProcessorSet::Build(WithPolicy("capture"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const TableProcessor* p = set->Find("public", "users");
  EXPECT_TRUE(p->RedactsAtCapture());
  ChangeEvent c = Update();
  CaptureResult captured = p->Capture(c);
  EXPECT_TRUE(captured.redacted);
  std::string token(c.after->Find("phone")->as_string());
  auto r = p->Process(c, &captured);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->change.after->Find("phone")->as_string(), token);  // not a hash of the hash
  EXPECT_EQ(r->redacted, (std::vector<std::string>{"card_number", "email", "notes", "phone"}));

  // A change that skipped capture is redacted by the processor rather than published raw.
  ChangeEvent raw = Update();
  auto direct = p->Process(raw);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->change.after->Find("phone")->as_string(), token);
  EXPECT_EQ(direct->redacted, r->redacted);
}

TEST_F(ProcessorRedaction, DisabledRedactionPassesValuesThrough) {
  auto set = ProcessorSet::Build(WithPolicy("capture", /*enabled=*/false));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const TableProcessor* p = set->Find("public", "users");
  EXPECT_FALSE(p->HasPolicy());
  ChangeEvent c = Update();
  auto r = p->Process(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->change.after->Find("email")->as_string(), "jane@example.org");
  EXPECT_EQ(r->change.after->Find("card_number")->as_string(), "5555555555554444");
  EXPECT_TRUE(r->redacted.empty());
}

TEST_F(ProcessorRedaction, AMissingKeyStopsTheBuildNamingTheVariable) {
  ::unsetenv("PROCESSOR_TEST_HMAC_KEY");
  auto set = ProcessorSet::Build(WithPolicy("capture"));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("PROCESSOR_TEST_HMAC_KEY is not set"), std::string::npos)
      << set.status().message();
  EXPECT_NE(set.status().message().find("openssl rand -hex 32"), std::string::npos);
}

}  // namespace
}  // namespace cdc
