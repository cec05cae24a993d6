// The shipped config/cdc-pipeline.yaml describes the original system: its 12 CoreDB tables with
// their event types and processor names, and its consumers, routed as the original README says.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>

#include "runtime/pipeline.h"
#include "support/test_util.h"
#include "target/file/file_target.h"

namespace cdc {
namespace {

std::shared_ptr<const Config> Shipped() {
  // `run` of the shipped config needs its HMAC key (validation reads it).
  ::setenv("CDC_HMAC_KEY", "shipped-config-test-key-0123456789", 1);
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"CDC_HMAC_KEY_SOURCE", "env:CDC_HMAC_KEY"}};
  auto r = LoadAndValidate(testing::SourcePath("config/cdc-pipeline.yaml"), env);
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.config;
}

struct Original {
  std::string table;
  std::vector<Op> types;
  std::string function;
  std::set<std::string> consumers;
};

const std::vector<Original>& OriginalTables() {
  static const std::vector<Original> t = {
      {"users",
       {Op::kInsert, Op::kUpdate, Op::kDelete},
       "processUserChanges",
       {"wallboards", "analytics"}},
      {"orders", {Op::kInsert, Op::kUpdate}, "processOrderChanges", {"wallboards", "reporting"}},
      {"products",
       {Op::kInsert, Op::kUpdate, Op::kDelete},
       "processProductChanges",
       {"catalog-service"}},
      {"inventory", {Op::kUpdate}, "processInventoryChanges", {"warehouse", "alerts"}},
      {"customers",
       {Op::kInsert, Op::kUpdate, Op::kDelete},
       "processCustomerChanges",
       {"crm", "analytics"}},
      {"transactions", {Op::kInsert}, "processTransactionChanges", {"accounting", "audit"}},
      {"sessions", {Op::kInsert, Op::kDelete}, "processSessionChanges", {"security", "analytics"}},
      {"notifications",
       {Op::kInsert, Op::kUpdate},
       "processNotificationChanges",
       {"messaging-service"}},
      {"audit_logs", {Op::kInsert}, "processAuditLogChanges", {"compliance", "security"}},
      {"metrics", {Op::kInsert}, "processMetricChanges", {"monitoring", "dashboards"}},
      {"configurations", {Op::kUpdate}, "processConfigurationChanges", {"config-service"}},
      {"events", {Op::kInsert}, "processEventChanges", {"event-store"}},
  };
  return t;
}

TEST(ShippedConfig, HasTheTwelveCoreDbTablesWithTheirEventTypes) {
  auto config = Shipped();
  ASSERT_TRUE(config);
  ASSERT_EQ(config->tables.size(), 12u);
  for (const auto& o : OriginalTables()) {
    const TableConfig* t = config->FindTable("public", o.table);
    ASSERT_NE(t, nullptr) << o.table;
    EXPECT_EQ(t->event_types, o.types) << o.table;
    EXPECT_EQ(t->function, o.function) << o.table;
    EXPECT_EQ(t->function, DefaultFunctionName(o.table)) << o.table;
  }
}

TEST(ShippedConfig, EachConsumerIsAJsonlFileUnderTheDataDir) {
  auto config = Shipped();
  ASSERT_TRUE(config);
  std::set<std::string> names;
  for (const auto& t : config->targets) {
    names.insert(t.name);
    EXPECT_EQ(t.type, "file");
    ASSERT_NE(t.OptionsAs<FileTargetOptions>(), nullptr);
    EXPECT_EQ(t.OptionsAs<FileTargetOptions>()->path, "./data/consumers/" + t.name + ".jsonl");
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "wallboards", "analytics", "reporting", "catalog-service", "warehouse",
                       "alerts", "crm", "accounting", "audit", "security", "messaging-service",
                       "compliance", "monitoring", "dashboards", "config-service", "event-store"}));
}

TEST(ShippedConfig, RoutesEveryTableToTheOriginalsConsumers) {
  auto config = Shipped();
  ASSERT_TRUE(config);
  auto pipeline = Pipeline::Build(config);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  for (const auto& o : OriginalTables()) {
    for (Op op : o.types) {
      ChangeEvent c;
      c.table = o.table;
      c.op = op;
      c.commit_time = Timestamp{0};
      // The key in the type the table's model gives it.
      const TableConfig* table = config->FindTable("public", o.table);
      ASSERT_TRUE(table != nullptr && table->model) << o.table;
      bool text_id = table->model->Find("id")->type.type_class == model::TypeClass::kText;
      Row row({{"id", text_id ? Value::Text("x1") : Value::Int64(1)}});
      if (op != Op::kDelete) c.after = row;
      if (op != Op::kInsert) c.before = row;
      auto routed = (*pipeline)->Route(c);
      ASSERT_TRUE(routed.ok()) << o.table << ": " << routed.status().ToString();
      std::set<std::string> targets;
      for (const auto& [rule, ts] : routed->rules) targets.insert(ts.begin(), ts.end());
      EXPECT_EQ(targets, o.consumers) << o.table << " " << OpName(op);
    }
  }
}

// The policies match sql/coredb.sql's columns; the original's PII tables redact at capture.
TEST(ShippedConfig, RedactsThePiiPaymentFinancialAndAuthColumns) {
  auto config = Shipped();
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->redaction.enabled);
  ASSERT_EQ(config->redaction.keys.size(), 1u);
  EXPECT_EQ(config->redaction.keys[0].source, "env:CDC_HMAC_KEY");
  std::map<std::string, std::map<std::string, std::string>> expected = {
      {"users", {{"email", "mask:email"}, {"phone", "hash"}, {"full_name", "mask:first1"}}},
      {"customers",
       {{"full_name", "mask:first1"},
        {"email", "mask:email"},
        {"phone", "hash"},
        {"address", "null"},
        {"date_of_birth", "generalize:year"}}},
      {"orders",
       {{"card_number", "remove"},
        {"card_expiry", "remove"},
        {"billing_name", "mask:first1"},
        {"billing_address", "null"}}},
      {"transactions", {{"account_number", "hash"}, {"iban", "mask:last4"}}},
      {"sessions", {{"auth_token", "remove"}, {"refresh_token", "remove"}, {"ip", "hash"}}},
  };
  for (const auto& [table, columns] : expected) {
    const TableConfig* t = config->FindTable("public", table);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->redact_at, "capture") << table;
    std::map<std::string, std::string> got;
    for (const auto& c : t->redact) got[c.column] = c.rule;
    EXPECT_EQ(got, columns) << table;
  }
  // The other tables only scan their free-text columns, also at capture: the stream on disk
  // never holds what a policy redacts.
  for (const auto& t : config->tables) {
    if (expected.count(t.name)) continue;
    EXPECT_EQ(t.redact_at, "capture") << t.name;
  }
}

TEST(ShippedConfig, LoadsWithoutTheKeyButDoesNotValidateWithoutIt) {
  ::unsetenv("CDC_HMAC_KEY");
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"CDC_HMAC_KEY_SOURCE", "env:CDC_HMAC_KEY"}};
  auto loaded = LoadConfig(testing::SourcePath("config/cdc-pipeline.yaml"), env);
  ASSERT_TRUE(loaded.config);
  auto errors = ValidateSemantics(*loaded.config);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].ToString().find("redaction.keys.k1: environment variable CDC_HMAC_KEY is "
                                      "not set or empty; create a key with: export "
                                      "CDC_HMAC_KEY=\"$(openssl rand -hex 32)\""),
            std::string::npos)
      << errors[0].ToString();
}

TEST(ShippedConfig, GeneratesItsKeyOnFirstUseAndKeepsIt) {
  testing::TempDir dir;
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"CDC_DATA_DIR", dir.path()}};
  auto first = LoadAndValidate(testing::SourcePath("config/cdc-pipeline.yaml"), env);
  ASSERT_TRUE(first.config) << (first.errors.empty() ? "" : first.errors[0].ToString());
  EXPECT_EQ(first.config->redaction.keys[0].source,
            "generate:" + dir.path() + "/secrets/hmac-k1.key");
  std::string key = testing::ReadFile(dir / "secrets/hmac-k1.key");
  EXPECT_EQ(key.size(), 65u);  // 64 hex characters and a newline
  struct stat st;
  ASSERT_EQ(::stat((dir / "secrets/hmac-k1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadAndValidate(testing::SourcePath("config/cdc-pipeline.yaml"), env);
  ASSERT_TRUE(second.config);
  EXPECT_EQ(testing::ReadFile(dir / "secrets/hmac-k1.key"), key);  // reused, not replaced
}

// config/aws.yaml is the shipped pipeline on Kinesis and DynamoDB: the same file but for its
// stream and state sections, and valid.
TEST(ShippedConfig, AwsYamlIsTheShippedPipelineOnKinesisAndDynamoDb) {
  std::string base = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  std::string aws = testing::ReadFile(testing::SourcePath("config/aws.yaml"));
  auto cut = [](std::string text, const std::string& from, const std::string& to) {
    size_t a = text.find(from), b = text.find(to);
    EXPECT_NE(a, std::string::npos) << from;
    EXPECT_NE(b, std::string::npos) << to;
    if (a != std::string::npos && b != std::string::npos && a < b) text.erase(a, b - a);
    return text.substr(text.find('\n'));  // the title line differs
  };
  EXPECT_EQ(cut(aws, "# The CoreDB pipeline on the AWS engines", "dead_letter:\n"),
            cut(base, "# Every change is appended to the durable stream", "dead_letter:\n"))
      << "config/aws.yaml drifted from config/cdc-pipeline.yaml outside its stream and state";
  ::setenv("CDC_HMAC_KEY", "shipped-config-test-key-0123456789", 1);
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"CDC_HMAC_KEY_SOURCE", "env:CDC_HMAC_KEY"}};
  auto r = LoadAndValidate(testing::SourcePath("config/aws.yaml"), env);
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->stream.type, "kinesis");
  EXPECT_EQ(r.config->stream.shards, 4);
  EXPECT_EQ(r.config->state.type, "dynamodb");
  EXPECT_EQ(r.config->tables.size(), 12u);
}

TEST(ConfigReference, DocsAreGeneratedFromTheFieldTables) {
  std::string doc = testing::ReadFile(testing::SourcePath("docs/configuration.md"));
  EXPECT_EQ(doc, ConfigReferenceMarkdown())
      << "docs/configuration.md is stale: run build/bin/cdc-pipeline config-reference > "
         "docs/configuration.md";
}

}  // namespace
}  // namespace cdc
