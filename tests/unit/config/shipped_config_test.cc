// The shipped config/cdc-pipeline.yaml describes the original system: its 12 CoreDB tables with
// their event types and processor names, and its consumers, routed as the original README says.
#include <gtest/gtest.h>

#include <set>

#include "runtime/pipeline.h"
#include "support/test_util.h"

namespace cdc {
namespace {

std::shared_ptr<const Config> Shipped() {
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
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
    EXPECT_EQ(t.path, "./data/consumers/" + t.name + ".jsonl");
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
      Row row({{"id", Value::Int64(1)}});
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

TEST(ConfigReference, DocsAreGeneratedFromTheFieldTables) {
  std::string doc = testing::ReadFile(testing::SourcePath("docs/configuration.md"));
  EXPECT_EQ(doc, ConfigReferenceMarkdown())
      << "docs/configuration.md is stale: run build/bin/cdc-pipeline config-reference > "
         "docs/configuration.md";
}

}  // namespace
}  // namespace cdc
