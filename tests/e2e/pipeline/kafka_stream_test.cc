// The kafka stream end to end: the CoreDB schema and workload (`generate`), the shipped config
// with `stream: {type: kafka}` on librdkafka's mock cluster in this test process (so the topic
// outlives the pipelines killed), `cdc-pipeline run` as a separate process killed with SIGKILL
// and restarted while `generate` commits. wal2json on its own slot is the record of what was
// committed: every change reaches each of its consumer files exactly once, in per-row commit
// order. kcat reads the stream's topic as any Kafka client would.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "e2e/pipeline/postgres_e2e.h"
#include "support/kafka_cluster.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::MockKafka;

constexpr int kShards = 4;

// Partition, offset and headers ("name=value,...") of every record of `topic`, as kcat reads
// them (the values are binary change records: not printed).
struct KcatRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string headers;
};
std::vector<KcatRecord> KcatOffsets(const std::string& bootstrap, const std::string& topic) {
  std::string cmd = "kcat -C -q -b '" + bootstrap + "' -t '" + topic + "' -e -f '%p %o %h\\n'";
  std::vector<KcatRecord> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run kcat";
    return out;
  }
  std::string text;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << ":\n"
                                                             << text.substr(0, 2000);
  std::istringstream in(text);
  KcatRecord r;
  while (in >> r.partition >> r.offset >> r.headers) out.push_back(r);
  std::stable_sort(out.begin(), out.end(), [](const KcatRecord& a, const KcatRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

// The PostgreSQL end-to-end fixture (postgres_e2e.h) with the stream in a topic of the mock
// cluster.
class KafkaStreamE2E : public testing::PostgresE2E {
 protected:
  void SetUp() override {
    PostgresE2E::SetUp();
    if (HasFatalFailure()) return;
    kafka_ = &MockKafka::Shared();
    ASSERT_FALSE(kafka_->bootstrap().empty());
    topic_ = std::string("e2e.") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // The 2.0.2 mock cannot CreateTopics: the test creates the stream's topics.
    kafka_->CreateTopic(topic_, kShards);
    kafka_->CreateTopic(topic_ + ".meta", 1);
    env_["KAFKA_BROKERS"] = kafka_->bootstrap();
    env_["KAFKA_TOPIC"] = topic_;
    std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
    config += "\nstream:\n  type: kafka\n  shards: " + std::to_string(kShards) +
              "\n  bootstrap_servers: ${KAFKA_BROKERS}\n  topic: ${KAFKA_TOPIC}\n"
              "  create_topic: false\n";
    testing::CopyShippedModels(data_.path());
    config_ = data_ / "cdc-pipeline.yaml";
    testing::WriteFile(config_, config);
    run_args_ = {"run", "--config", config_};
  }

  std::unique_ptr<CliProcess> Run(const std::string& log) {
    return std::make_unique<CliProcess>(run_args_, env_, log);
  }

  MockKafka* kafka_ = nullptr;
  std::string config_;
  std::string topic_;
};

TEST_F(KafkaStreamE2E, ExactlyOnceInKeyOrderAcrossKill9) {
  constexpr int kKills = 5;
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess generate({"generate", "--rate", "400", "--duration", "14", "--seed", "3"}, env_,
                      data_ / "generate.log");
  std::mt19937 random(20260412);
  int kills = 0;
  for (; kills < kKills && generate.running(); ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + random() % 1500));
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    run = Run(log);
  }
  EXPECT_EQ(kills, kKills) << "the workload ended before the last kill";
  ASSERT_EQ(generate.Wait(120), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_NE(text.find("stream: kafka topic " + topic_), std::string::npos) << text;
  ExpectEveryCommittedChangeExactlyOnceInOrder(2000);

  // The topic as kcat reads it: kShards partitions, each with contiguous offsets from 0, every
  // record framed with its type and append time.
  auto records = KcatOffsets(kafka_->bootstrap(), topic_);
  ASSERT_GT(records.size(), 2000u);
  std::map<int32_t, int64_t> next;
  for (const auto& r : records) {
    EXPECT_EQ(r.offset, next[r.partition]++) << "partition " << r.partition;
    EXPECT_EQ(r.headers.rfind("cdc.type=", 0), 0u) << r.headers;
    EXPECT_NE(r.headers.find(",cdc.micros="), std::string::npos) << r.headers;
  }
  EXPECT_EQ(next.size(), static_cast<size_t>(kShards));
  auto meta = testing::ReadTopicWithKcat(kafka_->bootstrap(), topic_ + ".meta");
  ASSERT_FALSE(meta.empty());
  EXPECT_EQ(meta.back().key, "pipeline.id");

  // verify-data does not read a kafka stream, and says so.
  auto verify = testing::RunCli({"verify-data", "--config", config_}, env_);
  EXPECT_NE(verify.out.find("verify-data does not read it"), std::string::npos) << verify.out;

  // --reset-state cannot empty a kafka topic: refused, naming what to do.
  for (const char* f : {"state.db", "state.db-wal", "state.db-shm"}) {
    std::rename((data_ / f).c_str(), (data_ / (std::string(f) + ".moved")).c_str());
  }
  auto reset = testing::RunCli({"run", "--config", config_, "--reset-state"}, env_);
  EXPECT_EQ(reset.exit_code, 1);
  EXPECT_NE((reset.out + reset.err).find("cannot drop records"), std::string::npos)
      << reset.out << reset.err;
}

}  // namespace
}  // namespace cdc
