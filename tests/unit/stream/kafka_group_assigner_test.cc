// The kafka consumer group assigner (src/stream/kafka/kafka_group_assigner.h) against librdkafka's
// mock cluster in this test process, whose group coordinator runs the cooperative-sticky
// protocol: members of one group share the topic's partitions, a member that leaves gives its
// partitions to the others, a member that joins takes some without the others giving back the
// partitions they keep, and the only offsets the group ever holds are the checkpoints committed.
#include "stream/kafka/kafka_group_assigner.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "config/config.h"
#include "stream/kafka/kafka_stream.h"
#include "support/kafka_cluster.h"

namespace cdc::stream {
namespace {

using testing::MockKafka;
using Shards = std::vector<uint32_t>;

struct Member {
  std::string name;
  std::unique_ptr<ShardAssigner> assigner;
  Shards shards;                // its last answer
  std::vector<Shards> answers;  // every answer, in order
};

class KafkaGroupAssignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_ = &MockKafka::Shared();
    ASSERT_FALSE(kafka_->bootstrap().empty());
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    topic_ = "group." + name;
    group_ = "group-" + name;
    kafka_->CreateTopic(topic_, 4);
  }

  StreamConfig Config() {
    auto o = std::make_shared<KafkaStreamOptions>();
    o->bootstrap_servers = kafka_->bootstrap();
    o->topic = topic_;
    o->create_topic = false;
    o->timeout_ms = 10000;
    o->group_id = group_;
    // The mock's coordinator ends every rebalance after the first one when this much less a
    // second has passed (a broker does as soon as every member rejoined): keep it short.
    o->group_session_timeout_ms = 3000;
    StreamConfig config;
    config.type = "kafka";
    config.shards = 4;
    config.pipeline = "test";
    config.options = o;
    return config;
  }

  std::unique_ptr<Member> Join(const std::string& name) {
    auto m = std::make_unique<Member>();
    m->name = name;
    auto a = OpenKafkaGroupAssigner(Config(), "test", name);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    if (a.ok()) m->assigner = std::move(a).value();
    return m;
  }

  // Polls every member in turn (as each process's supervisor would) until `done` holds, or
  // fails the test after `seconds`.
  void PollUntil(const std::vector<Member*>& members, const std::function<bool()>& done,
                 const std::string& what, int seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::string state;
        for (Member* m : members) {
          state += " " + m->name + "=[";
          for (uint32_t s : m->shards) state += std::to_string(s) + " ";
          state += "]";
        }
        FAIL() << "not within " << seconds << " s: " << what << ";" << state;
      }
      for (Member* m : members) {
        auto answer = m->assigner->Poll(std::chrono::milliseconds(20));
        ASSERT_TRUE(answer.ok()) << answer.status().ToString();
        EXPECT_TRUE(std::is_sorted(answer->begin(), answer->end()));
        m->shards = *answer;
        m->answers.push_back(*answer);
      }
    }
  }

  static bool Disjoint(const Shards& a, const Shards& b) {
    for (uint32_t s : a) {
      if (std::count(b.begin(), b.end(), s) != 0) return false;
    }
    return true;
  }

  MockKafka* kafka_ = nullptr;
  std::string topic_, group_;
};

TEST_F(KafkaGroupAssignerTest, MembersShareThePartitionsAndRebalanceAsTheyLeaveAndJoin) {
  auto a = Join("a");
  auto b = Join("b");
  ASSERT_NE(a->assigner, nullptr);
  ASSERT_NE(b->assigner, nullptr);
  EXPECT_EQ(a->assigner->Describe(),
            "Kafka consumer group '" + group_ + "' on topic '" + topic_ + "' as member 'a'");

  // Two members: two partitions each, none twice.
  PollUntil(
      {a.get(), b.get()},
      [&] {
        return a->shards.size() == 2 && b->shards.size() == 2 && Disjoint(a->shards, b->shards);
      },
      "a and b have two partitions each");

  // a leaves: b has all four.
  ASSERT_TRUE(a->assigner->Close().ok());
  PollUntil(
      {b.get()},
      [&] {
        return b->shards == Shards{0, 1, 2, 3};
      },
      "b has every partition");

  // c joins: b gives two back, c takes them. Cooperative: b never gives back (stops
  // delivering) a partition it keeps.
  auto c = Join("c");
  ASSERT_NE(c->assigner, nullptr);
  b->answers.clear();
  PollUntil(
      {b.get(), c.get()},
      [&] {
        return b->shards.size() == 2 && c->shards.size() == 2 && Disjoint(b->shards, c->shards);
      },
      "b and c have two partitions each");
  for (const Shards& answer : b->answers) {
    for (uint32_t kept : b->shards) {
      EXPECT_EQ(std::count(answer.begin(), answer.end(), kept), 1)
          << "b stopped delivering partition " << kept << " during the rebalance";
    }
  }
  ASSERT_TRUE(b->assigner->Close().ok());
  ASSERT_TRUE(c->assigner->Close().ok());
  // Closed: no more answers.
  EXPECT_FALSE(c->assigner->Poll(std::chrono::milliseconds(1)).ok());
}

// The group's committed offsets, as any client of the group reads them: partition -> offset
// (RD_KAFKA_OFFSET_INVALID: none).
std::map<int32_t, int64_t> Committed(const std::string& bootstrap, const std::string& group,
                                     const std::string& topic) {
  std::map<int32_t, int64_t> out;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    ADD_FAILURE() << err;
    return out;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
  for (int32_t p = 0; p < 4; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk, list, 10000);
  EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

// The group holds the units' last checkpoints as its offsets once the member left (for lag
// tools), and nothing else: the member fetches and commits no record of its own, although the
// partitions hold records, and commits nothing while it is a member (a commit crossing a
// rebalance would make librdkafka 2.0 drop the assignment).
TEST_F(KafkaGroupAssignerTest, TheGroupsOffsetsAreTheLastCheckpointsWhenAMemberLeaves) {
  {
    auto writer = OpenKafkaStream(Config(), "");
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE((*writer)->Append(ShardId(i % 4), 1, "r" + std::to_string(i), i).ok());
    }
    ASSERT_TRUE((*writer)->Sync().ok());
  }
  auto a = Join("a");
  ASSERT_NE(a->assigner, nullptr);
  PollUntil(
      {a.get()},
      [&] {
        return a->shards == Shards{0, 1, 2, 3};
      },
      "a has every partition");
  a->assigner->Checkpointed(0, 3);
  a->assigner->Checkpointed(2, 7);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  PollUntil(
      {a.get()}, [&] { return std::chrono::steady_clock::now() > until; }, "polling");
  for (const auto& [partition, offset] : Committed(kafka_->bootstrap(), group_, topic_)) {
    EXPECT_EQ(offset, RD_KAFKA_OFFSET_INVALID) << "partition " << partition;
  }
  // Later ones replace earlier ones.
  a->assigner->Checkpointed(2, 9);
  a->assigner->Checkpointed(0, 4);
  ASSERT_TRUE(a->assigner->Close().ok());
  auto committed = Committed(kafka_->bootstrap(), group_, topic_);
  EXPECT_EQ(committed[0], 4);
  EXPECT_EQ(committed[2], 9);
  EXPECT_EQ(committed[1], RD_KAFKA_OFFSET_INVALID);
  EXPECT_EQ(committed[3], RD_KAFKA_OFFSET_INVALID);
}

TEST_F(KafkaGroupAssignerTest, TheGroupIdIsNamedAfterThePipelineUnlessConfigured) {
  StreamConfig config = Config();
  EXPECT_EQ(KafkaGroupId(config, "coredb"), group_);
  auto o = std::make_shared<KafkaStreamOptions>(*config.OptionsAs<KafkaStreamOptions>());
  o->group_id.clear();
  config.options = o;
  EXPECT_EQ(KafkaGroupId(config, "coredb"), "cdc-pipeline.coredb");
}

}  // namespace
}  // namespace cdc::stream
