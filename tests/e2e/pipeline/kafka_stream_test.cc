// The kafka stream end to end: the CoreDB schema and workload (`generate`), the shipped config
// with `stream: {type: kafka}` on librdkafka's mock cluster in this test process (so the topic
// outlives the pipelines killed), `cdc-pipeline run` as a separate process killed with SIGKILL
// and restarted while `generate` commits. wal2json on its own slot is the record of what was
// committed: every change reaches each of its consumer files exactly once, in per-row commit
// order. kcat reads the stream's topic as any Kafka client would. Split over processes, one
// `run --role capture` and `run --role process` processes that share the partitions through a
// Kafka consumer group, killed likewise: every change exactly once in the processors' files.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <optional>
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
    // The processors' group: the mock's coordinator ends a rebalance (after the first) when
    // the session timeout less a second has passed, whether or not every member rejoined.
    config += "\nstream:\n  type: kafka\n  shards: " + std::to_string(kShards) +
              "\n  bootstrap_servers: ${KAFKA_BROKERS}\n  topic: ${KAFKA_TOPIC}\n"
              "  create_topic: false\n  group_id: ${KAFKA_TOPIC}.processors\n"
              "  group_session_timeout_ms: 3000\n";
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

// The partitions this processor's member of the consumer group has, as its log says last
// ("...; this member has 0,2"): nullopt before its first assignment.
std::optional<std::string> Membership(const std::string& log) {
  std::string text = testing::ReadFile(log);
  const std::string mark = "; this member has ";
  size_t at = text.rfind(mark);
  if (at == std::string::npos) return std::nullopt;
  at += mark.size();
  return text.substr(at, text.find('\n', at) - at);
}

// The pipeline split over processes with the stream in Kafka: `run --role capture` produces the
// changes into the topic, two `run --role process` (no --shards) share its 4 partitions as
// members of one consumer group (cooperative-sticky) and deliver each partition from and into
// its unit under the data dir they share. The processors balance (two partitions each); one is
// killed with SIGKILL and left dead: the other gets all four once the group's session expires.
// Then, four times, once the group gave both processors partitions again, one of them is killed
// while it delivers and restarted at once (and the capture process once), while `generate`
// commits: every committed change reaches the consumer files exactly once, in commit order per
// row (wal2json).
TEST_F(KafkaStreamE2E, CaptureAndAConsumerGroupOfProcessorsExactlyOnceAcrossKill9) {
  env_["CDC_ADMIN_LISTEN"] = "127.0.0.1:0";
  run_args_ = {"run", "--config", config_, "--role", "capture"};
  std::string log = data_ / "capture.log";
  auto capture = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  testing::TempDir shared;
  for (int i = 0; i < kShards; ++i) {
    consumer_dirs_.push_back(shared / ("shards/" + std::to_string(i)));
  }
  int started = 0;
  std::vector<std::string> logs;
  auto processor = [&] {
    auto env = env_;
    env["CDC_DATA_DIR"] = shared.path();
    logs.push_back(shared / ("processor-" + std::to_string(++started) + ".log"));
    return std::make_unique<CliProcess>(
        std::vector<std::string>{"run", "--config", config_, "--role", "process"}, env,
        logs.back());
  };
  auto all_logs = [&] {
    std::string text;
    for (const auto& l : logs) text += "==> " + l + "\n" + testing::ReadFile(l);
    return text;
  };
  auto p1 = processor();
  std::string p1_log = logs.back();
  auto p2 = processor();
  std::string p2_log = logs.back();
  CliProcess generate({"generate", "--rate", "300", "--duration", "45", "--seed", "23"}, env_,
                      data_ / "generate.log");

  // Balanced: two partitions each, and both deliver.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto balanced = [&] {
    for (const auto& l : {p1_log, p2_log}) {
      auto m = Membership(l);
      if (!m || std::count(m->begin(), m->end(), ',') != 1 ||
          testing::ReadFile(l).find(": delivering it from and into") == std::string::npos) {
        return false;
      }
    }
    return true;
  };
  while (!balanced()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the processors did not share the partitions two and two\n"
        << all_logs();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // p1 dies and stays dead: the group gives p2 all four partitions.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  p1->Signal(SIGKILL);
  ASSERT_EQ(p1->Wait(10), 128 + SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  auto p2_delivers_all = [&] {
    std::string text = testing::ReadFile(p2_log);
    for (int i = 0; i < kShards; ++i) {
      if (text.find("shard " + std::to_string(i) + ": delivering it from and into") ==
          std::string::npos) {
        return false;
      }
    }
    return Membership(p2_log) == std::optional<std::string>("0,1,2,3");
  };
  while (!p2_delivers_all()) {
    ASSERT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(30))
        << "the dead processor's partitions did not go to the other one\n"
        << all_logs();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  p1 = processor();
  p1_log = logs.back();

  // Each round, once both processors deliver partitions again (the group rebalanced after the
  // last kill), one of them is killed while it delivers, and restarted; the capture process once.
  std::mt19937 random(20261211);
  int kills = 0;
  for (int round = 0; round < 4 && generate.running(); ++round) {
    auto settled = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    auto delivering = [&](const std::string& l) {
      auto m = Membership(l);
      return m && *m != "none" &&
             testing::ReadFile(l).find(": delivering it from and into") != std::string::npos;
    };
    while (!delivering(p1_log) || !delivering(p2_log)) {
      ASSERT_LT(std::chrono::steady_clock::now(), settled)
          << "the group did not give both processors partitions again\n"
          << all_logs();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 1200));
    if (round == 1) {
      capture->Signal(SIGKILL);
      ASSERT_EQ(capture->Wait(10), 128 + SIGKILL);
      capture = std::make_unique<CliProcess>(run_args_, env_, log);
    }
    auto& victim = round % 2 == 0 ? p1 : p2;
    victim->Signal(SIGKILL);
    ASSERT_EQ(victim->Wait(10), 128 + SIGKILL);
    ++kills;
    victim = processor();
    (round % 2 == 0 ? p1_log : p2_log) = logs.back();
  }
  EXPECT_EQ(kills, 4) << "the workload ended before the last kill";
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  // The processors read on until the files stop growing (a partition whose member was killed
  // waits for the group to notice).
  WaitConsumerFilesStill(8, 120);
  for (auto* p : {&capture, &p1, &p2}) {
    (*p)->Signal(SIGTERM);
    EXPECT_EQ((*p)->Wait(30), 0) << all_logs();
  }
  ExpectEveryCommittedChangeExactlyOnceInOrder(1000);
  std::string text = all_logs();
  EXPECT_NE(text.find("kafka consumer group '" + topic_ + ".processors': joining"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kafka consumer group '" + topic_ + ".processors': left"), std::string::npos)
      << text;
  // Nothing of the stream in the processors' data dir: they read the topic.
  EXPECT_FALSE(testing::FileExists(shared / "stream"));
  EXPECT_FALSE(testing::FileExists(shared / "shards/0/stream"));
}

}  // namespace
}  // namespace cdc
