// The kinesis target against kinesalite (npm, started once per test process), read back by the
// AWS CLI: the CoreDB events of a pipeline run arrive once each and in order per partition key,
// also when a proxy in front of kinesalite fails some records of each PutRecords call
// (FailedRecordCount, ProvisionedThroughputExceededException); a record over 1 MiB is
// dead-lettered; a missing stream and refused credentials stop the run with what to fix.
#include "target/kinesis/kinesis_target.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <map>
#include <set>

#include "event/json_writer.h"
#include "integration/aws/aws_test_util.h"
#include "integration/aws/failing_proxy.h"
#include "support/http_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::AwsEmulator;
using testing::FailingProxy;
using testing::TempDir;
using testing::TestHttpServer;
using Answer = TestHttpServer::Answer;

AwsEmulator* Kinesalite() {
  std::string missing;
  AwsEmulator* k = AwsEmulator::Kinesalite(&missing);
  if (k == nullptr) ADD_FAILURE() << "kinesalite is not installed: " << missing;
  return k;
}

void CreateStream(const std::string& endpoint, const std::string& name, int shards) {
  auto r = testing::RunAwsCli(endpoint, "kinesis create-stream --stream-name " + name +
                                            " --shard-count " + std::to_string(shards));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 600; ++i) {
    auto d = testing::RunAwsCli(endpoint, "kinesis describe-stream-summary --stream-name " + name);
    if (d.out.find("\"ACTIVE\"") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "stream " << name << " did not become ACTIVE";
}

// The shipped config plus a rule `stream` sending every event to the kinesis target `out` and
// to the file target `all` (the reference).
void WriteConfig(const TempDir& dir, const std::string& kinesis_extra = "") {
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  std::string rule =
      "  stream:\n"
      "    event_pattern:\n"
      "      source: [cdc.coredb]\n"
      "    targets: [out, all]\n";
  size_t at = config.find("\ntargets:\n");
  ASSERT_NE(at, std::string::npos);
  config.insert(at + 1, rule);
  config +=
      "  all:\n"
      "    type: file\n"
      "    path: ${CDC_DATA_DIR}/consumers/all.jsonl\n"
      "  out:\n"
      "    type: kinesis\n"
      "    stream_name: ${STREAM}\n"
      "    endpoint: ${KINESIS_ENDPOINT}\n"
      "    retry:\n"
      "      initial_backoff_ms: 5\n"
      "      max_backoff_ms: 50\n"
      "      max_attempts: 1000\n" +
      kinesis_extra;
  testing::WriteFile(dir / "config.yaml", config);
  testing::CopyShippedModels(dir.path());
}

std::map<std::string, std::string> RunEnv(const TempDir& dir, const std::string& endpoint,
                                          const std::string& stream) {
  auto env = testing::AwsTestEnv();
  env["CDC_DATA_DIR"] = dir.path();
  env["KINESIS_ENDPOINT"] = endpoint;
  env["STREAM"] = stream;
  return env;
}

std::string IdOf(const std::string& event) {
  size_t at = event.find(R"("id":")");
  return at == std::string::npos ? "" : event.substr(at + 6, 36);
}

// What the AWS CLI reads back is exactly the reference file's events, each once, and in the
// reference's order within each partition key.
void ExpectSameEventsInKeyOrder(const std::vector<testing::KinesisRecord>& records,
                                const std::vector<std::string>& all) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < all.size(); ++i) index[IdOf(all[i])] = i;
  ASSERT_EQ(index.size(), all.size());
  std::set<std::string> seen;
  std::map<std::string, std::pair<std::string, size_t>> last;  // key -> shard, reference index
  for (const auto& r : records) {
    std::string id = IdOf(r.data);
    ASSERT_TRUE(index.contains(id)) << r.data;
    EXPECT_TRUE(seen.insert(id).second) << "twice: " << id;
    EXPECT_EQ(r.data, all[index[id]]);
    auto it = last.find(r.partition_key);
    if (it != last.end()) {
      EXPECT_EQ(it->second.first, r.shard) << "one key, one shard";
      EXPECT_LT(it->second.second, index[id]) << "out of order for key " << r.partition_key;
    }
    last[r.partition_key] = {r.shard, index[id]};
  }
  EXPECT_EQ(seen.size(), all.size());
}

TEST(KinesisTarget, ThePipelinesEventsArriveOnceInOrderPerKey) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  CreateStream(k->endpoint(), "coredb-events", 3);
  TempDir dir;
  WriteConfig(dir);
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           RunEnv(dir, k->endpoint(), "coredb-events"), CDC_SOURCE_DIR,
                           testing::CoreDbInputWithUserUpdates());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = testing::ReadLines(dir / "consumers/all.jsonl");
  ASSERT_GT(all.size(), 200u);
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "coredb-events");
  ExpectSameEventsInKeyOrder(records, all);
  // The partition key is table + primary key.
  std::set<std::string> keys;
  for (const auto& rec : records) keys.insert(rec.partition_key);
  EXPECT_TRUE(keys.contains(R"(users|"usr_9100")")) << *keys.begin();
  EXPECT_GT(keys.size(), 40u);
}

TEST(KinesisTarget, PartialFailuresAreRetriedPerRecordWithNothingLostAndKeyOrderKept) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  CreateStream(k->endpoint(), "partial", 2);
  FailingProxy proxy(k->endpoint());
  TempDir dir;
  WriteConfig(dir);
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           RunEnv(dir, proxy.url(), "partial"), CDC_SOURCE_DIR,
                           testing::CoreDbInputWithUserUpdates());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(proxy.failed(), 10);
  EXPECT_NE(r.err.find("ProvisionedThroughputExceededException"), std::string::npos) << r.err;
  auto all = testing::ReadLines(dir / "consumers/all.jsonl");
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "partial");
  ExpectSameEventsInKeyOrder(records, all);
  EXPECT_EQ(testing::ReadFile(dir / "dead-letter.jsonl").find(R"("stage":"delivery")"),
            std::string::npos);
}

TEST(KinesisTarget, AMissingStreamStopsTheRunSayingWhatToFix) {
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  TempDir dir;
  WriteConfig(dir);
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           RunEnv(dir, k->endpoint(), "no-such-stream"), CDC_SOURCE_DIR,
                           testing::CoreDbInputWithUserUpdates());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ResourceNotFoundException"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-stream"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("create it"), std::string::npos) << r.err;
}

TEST(KinesisTarget, RefusedCredentialsStopTheRunWithoutShowingThem) {
  // Emulators take any credentials: our own server answers as AWS does for a wrong key.
  TestHttpServer aws([](size_t, const auto&) {
    return Answer{400,
                  R"({"__type":"UnrecognizedClientException","message":"The security token )"
                  R"(included in the request is invalid."})",
                  "application/x-amz-json-1.1"};
  });
  TempDir dir;
  WriteConfig(dir);
  auto env = RunEnv(dir, aws.url("/"), "s");
  env["AWS_ACCESS_KEY_ID"] = "AKIDWRONGWRONGWRONG";
  env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value";
  env["AWS_SESSION_TOKEN"] = "wrong-session-token";
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"}, env,
                           CDC_SOURCE_DIR, testing::CoreDbInputWithUserUpdates());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("UnrecognizedClientException"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("credentials were refused"), std::string::npos) << r.err;
  for (const char* secret :
       {"AKIDWRONGWRONGWRONG", "wrong-secret-value", "wrong-session-token", "Signature="}) {
    EXPECT_EQ(r.err.find(secret), std::string::npos) << secret;
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
  }
  ASSERT_FALSE(aws.requests().empty());
}

class KinesisTargetDirect : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
  }
};

TEST_F(KinesisTargetDirect, ARecordOverOneMibIsDeadLetteredAndTheRestGoThrough) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  CreateStream(k->endpoint(), "big-ok", 1);
  auto options = std::make_shared<KinesisTargetOptions>();
  options->stream_name = "big-ok";
  options->endpoint = k->endpoint();
  auto target = testing::BuildKindTarget("kinesis", options);
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_EQ((*target)->max_batch(), 500u);
  ASSERT_TRUE((*target)->CheckHealth().ok());
  std::string big(1024 * 1024 + 1, 'x');
  std::vector<Outgoing> events = {{"small-1",
                                   "id1",
                                   0,
                                   {},
                                   "t\x1f"
                                   "1"},
                                  {big,
                                   "id2",
                                   0,
                                   {},
                                   "t\x1f"
                                   "2"},
                                  {"small-3",
                                   "id3",
                                   0,
                                   {},
                                   "t\x1f"
                                   "2"}};
  std::vector<DeliveryOutcome> results(events.size());
  (*target)->DeliverBatch(events, results);
  EXPECT_EQ(results[0].result, Delivery::kDelivered) << results[0].error.message();
  EXPECT_EQ(results[1].result, Delivery::kFailed);
  EXPECT_NE(results[1].error.message().find("1 MiB"), std::string::npos);
  EXPECT_EQ(results[2].result, Delivery::kDelivered) << results[2].error.message();
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "big-ok");
  ASSERT_EQ(records.size(), 2u);
  std::set<std::string> data = {records[0].data, records[1].data};
  EXPECT_EQ(data, (std::set<std::string>{"small-1", "small-3"}));

  auto missing = std::make_shared<KinesisTargetOptions>(*options);
  missing->stream_name = "absent";
  auto t2 = testing::BuildKindTarget("kinesis", missing);
  ASSERT_TRUE(t2.ok());
  Status health = (*t2)->CheckHealth();
  EXPECT_EQ(health.code(), StatusCode::kNotFound);
  EXPECT_NE(health.message().find("'absent'"), std::string::npos) << health.message();
}

}  // namespace
}  // namespace cdc
