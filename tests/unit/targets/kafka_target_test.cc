// The kafka target on librdkafka's mock cluster (in this process), read back with kcat: topic and
// key naming, the transactional batch with its stream positions read back by Held(), the
// idempotent producer under injected broker errors, and unreachable brokers.
#include "target/kafka/kafka_target.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <vector>

#include "support/config_util.h"
#include "support/kafka_cluster.h"
#include "target/target.h"

namespace cdc {
namespace {

using testing::MockKafka;

std::string Config(const std::string& target) {
  return std::string(
             "pipeline: {name: unit}\ntables:\n  users: {event_types: [INSERT]}\nrules:\n  all:\n  "
             "  event_pattern: {source: "
             "[cdc.coredb]}\n    targets: [k]\ntargets:\n  k:\n") +
         target;
}

std::unique_ptr<Target> Build(const std::string& target, std::shared_ptr<const cdc::Config>& keep) {
  auto loaded = testing::LoadYaml(Config(target));
  EXPECT_TRUE(loaded.errors.empty()) << testing::ErrorLines(loaded.errors);
  if (!loaded.errors.empty()) return nullptr;
  keep = loaded.config;
  auto built = BuildTarget(*keep->FindTarget("k"));
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  return built.ok() ? std::move(built).value() : nullptr;
}

struct Batch {
  std::vector<std::string> bodies, ids, keys;
  std::vector<Outgoing> out;
  void Add(const std::string& table, int id, uint32_t shard, uint64_t offset) {
    bodies.push_back("{\"n\":" + std::to_string(bodies.size()) + "}");
    ids.push_back("id-" + table + "-" + std::to_string(id) + "-" + std::to_string(offset));
    keys.push_back("public." + table + "\x1f" + std::to_string(id));
    positions.push_back({shard, offset});
  }
  std::span<const Outgoing> Events() {
    out.clear();
    for (size_t i = 0; i < bodies.size(); ++i) {
      out.push_back({bodies[i], ids[i], 0, positions[i], keys[i]});
    }
    return out;
  }
  std::vector<StreamPosition> positions;
};

TEST(KafkaTarget, TopicsAndKeysNameTheTableAndPrimaryKey) {
  EXPECT_EQ(KafkaTopicFor("cdc.{table}", "public.users"), "cdc.users");
  EXPECT_EQ(KafkaTopicFor("cdc.{table}", "billing.orders"), "cdc.billing.orders");
  EXPECT_EQ(KafkaTopicFor("all-changes", "public.users"), "all-changes");
  EXPECT_EQ(KafkaRecordKey("public.users\x1f"
                           "42"),
            "users[42]");
  EXPECT_EQ(KafkaRecordKey("billing.lines\x1f\"a\"\x1f"
                           "7"),
            "billing.lines[\"a\",7]");
}

TEST(KafkaTarget, PropertiesTheTargetSetsItselfAreRefused) {
  auto loaded =
      testing::LoadYaml(Config("    type: kafka\n    brokers: 127.0.0.1:9092\n    properties:\n"
                               "      transactional.id: other\n      sasl.password: s3cret\n"));
  std::string errors = testing::ErrorLines(loaded.errors);
  EXPECT_NE(errors.find("transactional.id"), std::string::npos) << errors;
  EXPECT_NE(errors.find("transactional_id"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("s3cret"), std::string::npos) << errors;
}

TEST(KafkaTarget, ABatchIsOneTransactionWithItsStreamPositionsReadBackOnStart) {
  MockKafka& kafka = MockKafka::Shared();
  std::string target = "    type: kafka\n    brokers: " + kafka.bootstrap() +
                       "\n    topic: txn.{table}\n    offsets_topic: txn.offsets\n";
  kafka.CreateTopic("txn.users", 2);
  std::shared_ptr<const cdc::Config> keep;
  auto k = Build(target, keep);
  ASSERT_NE(k, nullptr);
  auto held = k->Held();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_TRUE(held->empty());

  Batch b;
  b.Add("users", 1, 0, 10);
  b.Add("users", 2, 1, 3);
  b.Add("users", 1, 0, 11);
  b.Add("orders", 9, 0, 12);
  std::vector<DeliveryOutcome> results(4);
  k->DeliverBatch(b.Events(), results);
  for (const auto& r : results) EXPECT_EQ(r.result, Delivery::kDelivered) << r.error.ToString();
  ASSERT_TRUE(k->Flush().ok());

  auto users = testing::ReadTopicWithKcat(kafka.bootstrap(), "txn.users");
  ASSERT_EQ(users.size(), 3u);
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& r : users) by_key[r.key].push_back(r.value);
  EXPECT_EQ(by_key["users[1]"], (std::vector<std::string>{"{\"n\":0}", "{\"n\":2}"}));
  EXPECT_EQ(by_key["users[2]"], (std::vector<std::string>{"{\"n\":1}"}));
  EXPECT_EQ(testing::ReadTopicWithKcat(kafka.bootstrap(), "txn.orders").size(), 1u);

  // A new process (same transactional id) learns where the topic is.
  k.reset();
  auto again = Build(target, keep);
  ASSERT_NE(again, nullptr);
  held = again->Held();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(*held, (std::map<uint32_t, uint64_t>{{0, 13}, {1, 4}}));
}

TEST(KafkaTarget, TheIdempotentProducerRetriesBrokerErrorsWithoutDuplicates) {
  MockKafka& kafka = MockKafka::Shared();
  std::shared_ptr<const cdc::Config> keep;
  auto k = Build("    type: kafka\n    brokers: " + kafka.bootstrap() +
                     "\n    topic: idem.{table}\n    transactional: false\n",
                 keep);
  ASSERT_NE(k, nullptr);
  auto held = k->Held();
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held->empty());  // at-least-once: nothing to read back
  Batch warm;
  warm.Add("users", 0, 0, 0);
  std::vector<DeliveryOutcome> one(1);
  k->DeliverBatch(warm.Events(), one);
  ASSERT_EQ(one[0].result, Delivery::kDelivered) << one[0].error.ToString();
  kafka.PushRequestErrors(
      0, {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND});
  Batch b;
  for (int i = 1; i <= 50; ++i) b.Add("users", i % 7, 0, i);
  std::vector<DeliveryOutcome> results(b.bodies.size());
  k->DeliverBatch(b.Events(), results);
  for (const auto& r : results) EXPECT_EQ(r.result, Delivery::kDelivered) << r.error.ToString();
  auto records = testing::ReadTopicWithKcat(kafka.bootstrap(), "idem.users");
  EXPECT_EQ(records.size(), 51u);
}

TEST(KafkaTarget, CloudEventsInBinaryModeAreHeadersAndData) {
  MockKafka& kafka = MockKafka::Shared();
  std::shared_ptr<const cdc::Config> keep;
  auto k = Build("    type: kafka\n    brokers: " + kafka.bootstrap() +
                     "\n    topic: ce.{table}\n    format: cloudevents\n"
                     "    cloudevents_mode: binary\n",
                 keep);
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(k->format(), EventFormat::kCloudEvents);
  ASSERT_TRUE(k->Held().ok());
  std::string event =
      R"({"specversion":"1.0","id":"e-1","source":"cdc.coredb","type":"users.INSERT",)"
      R"("time":"2024-01-15T10:30:00Z","datacontenttype":"application/json",)"
      R"("data":{"eventType":"INSERT","after":{"id":1}}})";
  std::string transformed = R"("users changed")";  // what an input transformer made of it
  std::string key =
      "public.users\x1f"
      "1";
  std::vector<Outgoing> out = {{event, "e-1", 0, {0, 0}, key},
                               {transformed, "e-2", 0, {0, 1}, key}};
  std::vector<DeliveryOutcome> results(2);
  k->DeliverBatch(out, results);
  for (const auto& r : results) ASSERT_EQ(r.result, Delivery::kDelivered) << r.error.ToString();
  auto records = testing::ReadTopicWithKcat(kafka.bootstrap(), "ce.users");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].value, R"({"eventType":"INSERT","after":{"id":1}})");
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(records[0].headers, (Headers{{"ce_specversion", "1.0"},
                                         {"ce_id", "e-1"},
                                         {"ce_source", "cdc.coredb"},
                                         {"ce_type", "users.INSERT"},
                                         {"ce_time", "2024-01-15T10:30:00Z"},
                                         {"content-type", "application/json"}}));
  EXPECT_EQ(records[1].value, transformed);
  EXPECT_EQ(records[1].headers, (Headers{{"ce_id", "e-2"}}));
}

TEST(KafkaTarget, UnreachableBrokersAreRetriedWithAClearReason) {
  std::shared_ptr<const cdc::Config> keep;
  auto k = Build(
      "    type: kafka\n    brokers: 127.0.0.1:1\n    timeout_ms: 1000\n"
      "    transactional: false\n",
      keep);
  ASSERT_NE(k, nullptr);
  Batch b;
  b.Add("users", 1, 0, 0);
  std::vector<DeliveryOutcome> results(1);
  k->DeliverBatch(b.Events(), results);
  EXPECT_EQ(results[0].result, Delivery::kRetry);
  Status health = k->CheckHealth();
  EXPECT_FALSE(health.ok());
  EXPECT_NE(health.message().find("127.0.0.1:1"), std::string::npos) << health.ToString();
}

}  // namespace
}  // namespace cdc
