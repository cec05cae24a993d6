// Transforms and models inside a table's processor: the order of operations (model check on the
// captured row, redaction, transforms, changedFields), the same output whether redaction runs at
// capture or in the processor, schemaVersion, and the partition key.
#include <gtest/gtest.h>

#include <cstdlib>

#include "event/position_kinds.h"
#include "process/processor.h"
#include "support/config_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::ErrorLines;

constexpr const char* kModel = R"(table: users
version: 4
primary_key: [id]
fields:
  id: {type: text, nullable: false}
  email: {type: text, nullable: false, pii: email}
  status: {type: text, nullable: false}
  logins: integer
  profile: jsonb
  tenant: text
)";

class ProcessorTransforms : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteFile(dir_ / "users.yaml", kModel); }

  // The users table with a policy, the model and `transforms`, redacting at `redact_at`.
  ProcessorSet Build(const std::string& redact_at, const std::string& transforms,
                     const std::string& extra = "") {
    testing::WriteFile(dir_ / "config.yaml", R"(redaction:
  keys: {k1: env:KEY}
tables:
  users:
    event_types: [INSERT, UPDATE, DELETE]
    model: users.yaml
    redact_at: )" + redact_at + R"(
    redact:
      email: mask:email
    transforms:
)" + transforms + extra + testing::kRouteAllToStdout);
    ::setenv("KEY", "0123456789abcdef0123456789abcdef", 1);
    auto loaded = LoadConfig(dir_ / "config.yaml", testing::IsolatedEnv({{"KEY", "x"}}));
    EXPECT_TRUE(loaded.config) << ErrorLines(loaded.errors);
    config_ = loaded.config;
    auto set = ProcessorSet::Build(*config_);
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return std::move(set).value();
  }

  static ChangeEvent Update() {
    ChangeEvent c;
    c.table = "users";
    c.op = Op::kUpdate;
    c.position = ContentPosition("00000000000000000000000000000000");
    c.before = Row({{"id", Value::Text("u1")},
                    {"email", Value::Text("jane@example.com")},
                    {"status", Value::Text("active")},
                    {"logins", Value::Int64(3)},
                    {"profile", Value::Json(R"({"city":"Leeds","lang":"en"})")}});
    c.after = Row({{"id", Value::Text("u1")},
                   {"email", Value::Text("jane@example.org")},
                   {"status", Value::Text("active")},
                   {"logins", Value::Int64(4)},
                   {"profile", Value::Json(R"({"city":"York","lang":"en"})")}});
    return c;
  }

  testing::TempDir dir_;
  std::shared_ptr<const Config> config_;
};

const char* kSteps = R"(      - rename: {email: contact, logins: login_count}
      - set: {column: contact_copy, from: contact}
      - cast: {login_count: string}
      - flatten: profile
      - drop: [status]
)";

TEST_F(ProcessorTransforms, RedactionComesFirstAndChangedFieldsUseTheOutputNames) {
  ProcessorSet set = Build("processor", kSteps);
  const TableProcessor* p = set.Find("public", "users");
  ASSERT_NE(p, nullptr);
  ChangeEvent c = Update();
  auto r = p->Process(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Row& after = *r->change.after;
  // The copy of the e-mail is the masked value: a transform never sees what redaction removed.
  EXPECT_EQ(after, Row({{"id", Value::Text("u1")},
                        {"contact", Value::Text("j***@example.org")},
                        {"login_count", Value::Text("4")},
                        {"profile.city", Value::Text("York")},
                        {"profile.lang", Value::Text("en")},
                        {"contact_copy", Value::Text("j***@example.org")}}));
  EXPECT_EQ(r->redacted, (std::vector<std::string>{"contact", "contact_copy"}));
  EXPECT_EQ(r->changed_fields,
            (std::vector<std::string>{"contact", "contact_copy", "login_count", "profile.city"}));
  EXPECT_EQ(r->change.key, Row({{"id", Value::Text("u1")}}));  // as captured
  EXPECT_EQ(r->change.schema_version, 4u);
}

TEST_F(ProcessorTransforms, CaptureAndProcessorPlacementPublishTheSame) {
  ProcessorSet in_processor = Build("processor", kSteps);
  ChangeEvent a = Update();
  auto ra = in_processor.Find("public", "users")->Process(a);
  ProcessorSet at_capture = Build("capture", kSteps);
  const TableProcessor* p = at_capture.Find("public", "users");
  ChangeEvent b = Update();
  CaptureResult captured = p->Capture(b);
  EXPECT_TRUE(captured.redacted);
  EXPECT_EQ(b.after->Find("email")->as_string(), "j***@example.org");
  auto rb = p->Process(b, &captured);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->change.after, rb->change.after);
  EXPECT_EQ(ra->change.before, rb->change.before);
  EXPECT_EQ(ra->redacted, rb->redacted);
  EXPECT_EQ(ra->changed_fields, rb->changed_fields);
}

TEST_F(ProcessorTransforms, TheModelChecksTheCapturedRowBeforeRedaction) {
  ProcessorSet set = Build("capture", kSteps);
  const TableProcessor* p = set.Find("public", "users");
  ChangeEvent c = Update();
  c.after->Find("email")->operator=(Value::Int64(7));  // a type the masked value would hide
  CaptureResult captured = p->Capture(c);
  EXPECT_FALSE(captured.model.status.ok());
  auto r = p->Process(c, &captured);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "model users v4: after.email: an int64 value, but the field is text");
  // The change stays redacted for the dead-letter file.
  EXPECT_TRUE(captured.redacted);
}

TEST_F(ProcessorTransforms, AnAddedNullableColumnBumpsSchemaVersion) {
  ProcessorSet set = Build("processor", "      - drop: [profile]\n");
  ChangeEvent c = Update();
  c.after->Add("nickname", Value::Null());
  auto r = set.Find("public", "users")->Process(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->change.schema_version, 5u);
  EXPECT_NE(r->change.after->Find("nickname"), nullptr);
}

TEST_F(ProcessorTransforms, AFailingTransformRejectsTheChangeNamingTableStepAndColumn) {
  ProcessorSet set = Build("processor", "      - cast: {status: int}\n");
  ChangeEvent c = Update();
  CaptureResult captured;
  auto r = set.Find("public", "users")->Process(c, &captured);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "table users: transform 1 (cast): column 'status': cannot cast a text value that is "
            "not a whole number in the int64 range to int");
  EXPECT_TRUE(captured.redacted);  // redaction ran before the transforms
  EXPECT_EQ(c.after->Find("email")->as_string(), "j***@example.org");
}

TEST_F(ProcessorTransforms, PartitionKeyDefaultsToThePrimaryKeyAndCanBeOverridden) {
  ProcessorSet plain = Build("processor", "      - drop: [profile]\n");
  ChangeEvent c = Update();
  auto key = plain.Find("public", "users")->PartitionKey(c);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, Row({{"id", Value::Text("u1")}}));

  ProcessorSet by_tenant =
      Build("capture", "      - drop: [profile]\n", "    partition_key: [tenant, email]\n");
  const TableProcessor* p = by_tenant.Find("public", "users");
  ChangeEvent t = Update();
  t.after->Add("tenant", Value::Text("acme"));
  p->Capture(t);
  key = p->PartitionKey(t);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  // After capture: the redacted e-mail, so the partition key never holds PII.
  EXPECT_EQ(*key,
            Row({{"tenant", Value::Text("acme")}, {"email", Value::Text("j***@example.org")}}));

  ChangeEvent del;
  del.table = "users";
  del.op = Op::kDelete;
  del.before = Row({{"id", Value::Text("u1")}});
  key = p->PartitionKey(del);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message(),
            "partition-key column 'tenant' is missing from 'before' of table users (a DELETE "
            "carries only the primary key unless the table has replica_identity: full)");
  ChangeEvent truncate;
  truncate.op = Op::kTruncate;
  EXPECT_TRUE(p->PartitionKey(truncate)->empty());
}

TEST_F(ProcessorTransforms, DeadLettersLoseColumnsNoModelClassifies) {
  ProcessorSet set = Build("processor", "      - drop: [profile]\n");
  const TableProcessor* p = set.Find("public", "users");
  ChangeEvent c = Update();
  c.after->Add("ssn", Value::Text("123-45-6789"));
  p->PrepareDeadLetter(c, false);
  EXPECT_EQ(c.after->Find("ssn"), nullptr);
  EXPECT_EQ(c.after->Find("email")->as_string(), "j***@example.org");
}

}  // namespace
}  // namespace cdc
