// The dynamodb target against dynalite (npm, started once per test process), read back with
// `aws dynamodb scan`: inserts, updates and deletes materialize the rows, a redelivery of older
// changes moves nothing backwards, many keys are written in parallel, and a missing table is a
// clear error.
#include "target/dynamodb/dynamodb_target.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "integration/aws/aws_test_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::AwsEmulator;

// The rows that are not tombstones.
constexpr const char* kNotDeleted =
    "--filter-expression 'attribute_not_exists(#d)' "
    "--expression-attribute-names '{\"#d\":\"_cdc_deleted\"}'";

class DynamoDbTarget : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
    if (testing::AwsCliPath().empty()) GTEST_SKIP() << "aws (the AWS CLI) is not on the PATH";
    std::string missing;
    dynalite_ = AwsEmulator::Dynalite(&missing);
    ASSERT_NE(dynalite_, nullptr) << "dynalite is not installed: " << missing;
  }

  void CreateTable(const std::string& name) {
    auto r = testing::RunAwsCli(dynalite_->endpoint(),
                                "dynamodb create-table --table-name " + name +
                                    " --attribute-definitions AttributeName=id,AttributeType=S"
                                    " --key-schema AttributeName=id,KeyType=HASH"
                                    " --billing-mode PAY_PER_REQUEST");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (int i = 0; i < 600; ++i) {
      auto d =
          testing::RunAwsCli(dynalite_->endpoint(), "dynamodb describe-table --table-name " + name);
      if (d.out.find("\"ACTIVE\"") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "table " << name << " did not become ACTIVE";
  }

  std::unique_ptr<Target> Build(const std::string& table, const std::string& deletes = "") {
    auto options = std::make_shared<DynamoDbTargetOptions>();
    options->table = table;
    options->endpoint = dynalite_->endpoint();
    if (deletes == "remove") options->tombstones = false;
    auto target = testing::BuildKindTarget("dynamodb", options);
    EXPECT_TRUE(target.ok()) << target.status().message();
    return target.ok() ? std::move(target).value() : nullptr;
  }

  // id -> the item as the CLI prints it (minified JSON of its attributes, sorted by name).
  std::map<std::string, std::string> Scan(const std::string& table, const std::string& extra = "") {
    auto r = testing::RunAwsCli(dynalite_->endpoint(),
                                "dynamodb scan --table-name " + table + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(r.out).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << r.out;
      return out;
    }
    simdjson::dom::array items;
    EXPECT_EQ(root["Items"].get(items), simdjson::SUCCESS) << r.out;
    for (simdjson::dom::element item : items) {
      std::map<std::string, std::string> attrs;
      simdjson::dom::object object;
      if (item.get(object) != simdjson::SUCCESS) continue;
      for (auto field : object) {
        attrs[std::string(field.key)] = simdjson::minify(field.value);
      }
      std::string text;
      for (const auto& [k, v] : attrs) text += k + "=" + v + ";";
      out[std::string(std::string_view(item["id"]["S"].get_string()))] = text;
    }
    return out;
  }

  AwsEmulator* dynalite_ = nullptr;
};

// An EventBridge event as the bus makes it, with a PostgreSQL position.
std::string Event(const std::string& op, const std::string& row, const std::string& lsn, int seq) {
  std::string side = op == "DELETE" ? "before" : "after";
  return R"({"version":"0","id":"x","detail-type":"users.)" + op +
         R"(","source":"cdc.coredb","detail":{"eventType":")" + op + R"(","tableName":"users",")" +
         side + R"(":)" + row + R"(,"metadata":{"pipeline":"p","lsn":")" + lsn +
         R"(","txId":7,"seq":)" + std::to_string(seq) + R"(,"schemaVersion":1}}})";
}

std::vector<DeliveryOutcome> Deliver(Target& target, const std::vector<std::string>& bodies) {
  std::vector<Outgoing> events;
  for (const auto& b : bodies) {
    std::string_view key = std::string_view(b).substr(b.rfind(R"("id":")") + 6, 4);
    events.push_back({b, "id", 0, {}, key});
  }
  std::vector<DeliveryOutcome> results(events.size());
  target.DeliverBatch(events, results);
  return results;
}

void ExpectAllDelivered(const std::vector<DeliveryOutcome>& results) {
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].result, Delivery::kDelivered) << i << ": " << results[i].error.message();
  }
}

TEST_F(DynamoDbTarget, ChangesMaterializeAndARedeliveryOfOlderChangesMovesNothingBack) {
  CreateTable("users_view");
  auto target = Build("users_view");
  ASSERT_NE(target, nullptr);
  ASSERT_TRUE(target->CheckHealth().ok());
  const std::string u1a =
      R"({"id":"u001","status":"new","n":1,"score":1.5,"tags":["a"],"extra":{"k":"v"},"gone":null})";
  const std::string u1b =
      R"({"id":"u001","status":"paid","n":2,"score":2.5,"tags":["a","b"],"extra":{"k":"w"},"gone":null})";
  const std::string u2 = R"({"id":"u002","status":"new","n":10})";
  const std::string u3a = R"({"id":"u003","status":"new","n":30})";
  // A decimal with more digits than a double holds: written with every digit.
  const std::string u3b =
      R"({"id":"u003","status":"shipped","n":31,"amount":12345678901234567890.123456789})";
  // One batch with several changes of one key: applied in order.
  ExpectAllDelivered(
      Deliver(*target, {Event("INSERT", u1a, "0/1000", 0), Event("INSERT", u2, "0/1000", 1),
                        Event("INSERT", u3a, "0/1100", 0), Event("UPDATE", u1b, "0/1200", 0),
                        Event("DELETE", R"({"id":"u002"})", "0/1200", 1)}));
  ExpectAllDelivered(Deliver(*target, {Event("UPDATE", u3b, "1/0", 0)}));
  auto final_rows = Scan("users_view", kNotDeleted);
  // A redelivery of older changes (after a crash, a replay): accepted, and nothing changes.
  ExpectAllDelivered(
      Deliver(*target, {Event("INSERT", u1a, "0/1000", 0), Event("INSERT", u2, "0/1000", 1),
                        Event("UPDATE", u3a, "0/1100", 0), Event("UPDATE", u1b, "0/1200", 0)}));
  auto rows = Scan("users_view", kNotDeleted);
  EXPECT_EQ(rows, final_rows);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows["u001"],
            R"(_cdc_position={"S":"0000000000001200/00000000000000000000"};)"
            R"(extra={"M":{"k":{"S":"w"}}};gone={"NULL":true};id={"S":"u001"};n={"N":"2"};)"
            R"(score={"N":"2.5"};status={"S":"paid"};tags={"L":[{"S":"a"},{"S":"b"}]};)");
  EXPECT_EQ(rows["u003"], R"(_cdc_position={"S":"0000000100000000/00000000000000000000"};)"
                          R"(amount={"N":"12345678901234567890.123456789"};id={"S":"u003"};)"
                          R"(n={"N":"31"};status={"S":"shipped"};)");
  // The deleted row is a tombstone: its key, its position and the mark.
  auto all = Scan("users_view");
  EXPECT_EQ(
      all["u002"],
      R"(_cdc_deleted={"BOOL":true};_cdc_position={"S":"0000000000001200/00000000000000000001"};)"
      R"(id={"S":"u002"};)");
}

TEST_F(DynamoDbTarget, ManyKeysAreWrittenInParallelAndRemoveModeDeletesItems) {
  CreateTable("many");
  auto target = Build("many", "remove");
  ASSERT_NE(target, nullptr);
  std::vector<std::string> batch;
  for (int i = 0; i < 100; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "k%03d", i);
    batch.push_back(Event("INSERT",
                          R"({"id":")" + std::string(id) + R"(","v":)" + std::to_string(i) + "}",
                          "0/2000", i));
  }
  ExpectAllDelivered(Deliver(*target, batch));
  ExpectAllDelivered(Deliver(*target, {Event("DELETE", R"({"id":"k007"})", "0/3000", 0)}));
  auto rows = Scan("many");
  EXPECT_EQ(rows.size(), 99u);
  EXPECT_FALSE(rows.contains("k007"));
  EXPECT_EQ(rows["k042"],
            R"(_cdc_position={"S":"0000000000002000/00000000000000000042"};id={"S":"k042"};)"
            R"(v={"N":"42"};)");
}

TEST_F(DynamoDbTarget, BadEventsAreDeadLetteredAndAMissingTableIsAClearError) {
  CreateTable("strict");
  auto target = Build("strict");
  ASSERT_NE(target, nullptr);
  auto results = Deliver(*target, {Event("INSERT", R"({"idx":"none","v":1})", "0/1", 0),
                                   Event("TRUNCATE", R"({"id":"t000"})", "0/1", 1),
                                   R"({"id":"u009","not":"a change event"})"});
  for (const auto& r : results) EXPECT_EQ(r.result, Delivery::kFailed);
  EXPECT_NE(results[0].error.message().find("key attribute 'id'"), std::string::npos)
      << results[0].error.message();
  EXPECT_NE(results[1].error.message().find("TRUNCATE"), std::string::npos);
  // Values never reach a message.
  EXPECT_EQ(results[0].error.message().find("none"), std::string::npos);

  auto missing = Build("absent_table");
  ASSERT_NE(missing, nullptr);
  Status health = missing->CheckHealth();
  EXPECT_EQ(health.code(), StatusCode::kNotFound);
  EXPECT_NE(health.message().find("'absent_table'"), std::string::npos) << health.message();
  EXPECT_NE(health.message().find("create it"), std::string::npos) << health.message();
  auto fatal = Deliver(*missing, {Event("INSERT", R"({"id":"u001"})", "0/1", 0)});
  EXPECT_EQ(fatal[0].result, Delivery::kFatal);
}

// Through the binary: the users changes of a CoreDB run, redacted at capture, materialized.
TEST_F(DynamoDbTarget, APipelineRunMaterializesTheRedactedRows) {
  CreateTable("users_run");
  testing::TempDir dir;
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  size_t at = config.find("\ntargets:\n");
  ASSERT_NE(at, std::string::npos);
  config.insert(at + 1,
                "  users-view:\n"
                "    event_pattern:\n"
                "      detail-type: [users.INSERT, users.UPDATE, users.DELETE]\n"
                "    targets: [view]\n");
  config +=
      "  view:\n"
      "    type: dynamodb\n"
      "    table: users_run\n"
      "    endpoint: ${DYNAMODB_ENDPOINT}\n"
      "    retry: {initial_backoff_ms: 5, max_backoff_ms: 50}\n";
  testing::WriteFile(dir / "config.yaml", config);
  testing::CopyShippedModels(dir.path());
  auto env = testing::AwsTestEnv();
  env["CDC_DATA_DIR"] = dir.path();
  env["DYNAMODB_ENDPOINT"] = dynalite_->endpoint();  // the original system's variable
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"}, env,
                           CDC_SOURCE_DIR, testing::CoreDbInputWithUserUpdates());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto live = Scan("users_run", kNotDeleted);
  ASSERT_EQ(live.size(), 40u);
  for (const auto& [id, item] : live) {
    EXPECT_TRUE(id.starts_with("usr_91")) << id;
    // The last update of each key, after redaction: the raw e-mail never reaches the table.
    EXPECT_NE(item.find(R"(status={"S":"active"})"), std::string::npos) << item;
    EXPECT_NE(item.find(R"(full_name=)"), std::string::npos) << item;
    std::string raw_email = "u" + std::to_string(std::stoi(id.substr(5)) - 100) + "@example.com";
    EXPECT_NE(item.find("email="), std::string::npos) << item;
    EXPECT_EQ(item.find("\"" + raw_email + "\""), std::string::npos) << item;
    EXPECT_EQ(item.find("7946 0000"), std::string::npos) << item;
  }
  auto all = Scan("users_run");
  EXPECT_EQ(all.size(), 41u);
  EXPECT_NE(all["usr_1001"].find(R"(_cdc_deleted={"BOOL":true})"), std::string::npos)
      << all["usr_1001"];
}

}  // namespace
}  // namespace cdc
