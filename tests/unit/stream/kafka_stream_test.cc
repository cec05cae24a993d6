// The kafka stream (src/stream/kafka) against librdkafka's mock cluster in this test process:
// what is appended and synced reads back in order with its offsets, types and times; a new
// stream object on the topic goes on where the last one ended, with its pipeline id; broker
// errors on Produce are retried without losing or doubling a record; a second writer and a
// wrong partition count are refused. kcat reads the topic as any Kafka client would.
#include "stream/kafka/kafka_stream.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <thread>

#include "config/config.h"
#include "support/kafka_cluster.h"

namespace cdc::stream {
namespace {

using testing::MockKafka;

struct Read {
  uint64_t offset;
  uint8_t type;
  int64_t micros;
  std::string payload;
};

class KafkaStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_ = &MockKafka::Shared();
    ASSERT_FALSE(kafka_->bootstrap().empty());
    topic_ =
        std::string("stream.") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // The 2.0.2 mock cannot CreateTopics (no controller): the test creates the topics.
  void CreateTopics(int partitions) {
    kafka_->CreateTopic(topic_, partitions);
    kafka_->CreateTopic(topic_ + ".meta", 1);
  }

  StreamConfig Config(uint32_t shards) {
    auto o = std::make_shared<KafkaStreamOptions>();
    o->bootstrap_servers = kafka_->bootstrap();
    o->topic = topic_;
    o->create_topic = false;
    o->timeout_ms = 10000;
    StreamConfig config;
    config.type = "kafka";
    config.shards = shards;
    config.pipeline = "test";
    config.options = o;
    return config;
  }

  std::unique_ptr<Stream> Open(uint32_t shards) {
    auto s = OpenKafkaStream(Config(shards), "");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Every durable record of `shard` from `from`, reading until the durable end.
  static std::vector<Read> ReadAll(const Stream& stream, uint32_t shard, uint64_t from = 0) {
    std::vector<Read> out;
    auto reader = stream.OpenReader(ShardId(shard), StreamOffset(from));
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return out;
    uint64_t end = stream.stats(ShardId(shard)).durable_end.value();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (from + out.size() < end && std::chrono::steady_clock::now() < deadline) {
      auto r = (*reader)->Next();
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) break;
      if (!r->has_value()) continue;
      out.push_back(
          {(*r)->offset.value(), (*r)->type, (*r)->append_micros, std::string((*r)->payload)});
    }
    // At the durable end: nothing more, without blocking.
    auto start = std::chrono::steady_clock::now();
    auto r = (*reader)->Next();
    EXPECT_TRUE(r.ok() && !r->has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
    return out;
  }

  MockKafka* kafka_ = nullptr;
  std::string topic_;
};

TEST_F(KafkaStreamTest, SyncedRecordsReadBackInOrderWithOffsetsTypesAndTimes) {
  CreateTopics(3);
  auto stream = Open(3);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->shard_count(), 3u);
  EXPECT_EQ(stream->identity(), "");
  std::map<uint32_t, std::vector<Read>> want;
  for (int i = 0; i < 30; ++i) {
    uint32_t shard = static_cast<uint32_t>(i % 3);
    std::string payload = "record " + std::to_string(i) + std::string(i, 'x');
    auto offset = stream->Append(ShardId(shard), static_cast<uint8_t>(1 + i % 2), payload,
                                 1700000000000000 + i);
    ASSERT_TRUE(offset.ok()) << offset.status().ToString();
    EXPECT_EQ(offset->value(), want[shard].size());
    want[shard].push_back(
        {offset->value(), static_cast<uint8_t>(1 + i % 2), 1700000000000000 + i, payload});
  }
  auto keyed = stream->Append(
      "users\x1f"
      "42",
      7, "by key", 1700000000000100);
  ASSERT_TRUE(keyed.ok()) << keyed.status().ToString();
  EXPECT_EQ(keyed->first, ShardForKey("users\x1f"
                                      "42",
                                      3));
  want[keyed->first.value()].push_back({keyed->second.value(), 7, 1700000000000100, "by key"});

  // Appended, not synced: not visible to readers.
  EXPECT_EQ(stream->stats(ShardId(0)).next.value(), want[0].size());
  EXPECT_EQ(stream->stats(ShardId(0)).durable_end.value(), 0u);
  {
    auto reader = stream->OpenReader(ShardId(0), StreamOffset(0));
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto r = (*reader)->Next();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
  }

  // A waiter wakes up when the sync makes records durable.
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    stream->WaitForData({StreamOffset(0), StreamOffset(0), StreamOffset(0)},
                        std::chrono::seconds(10));
    woke = true;
  });
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(stream->Sync().ok());
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  for (uint32_t shard = 0; shard < 3; ++shard) {
    ShardStats st = stream->stats(ShardId(shard));
    EXPECT_EQ(st.first.value(), 0u);
    EXPECT_EQ(st.next.value(), want[shard].size());
    EXPECT_EQ(st.durable_end.value(), want[shard].size());
    auto got = ReadAll(*stream, shard);
    ASSERT_EQ(got.size(), want[shard].size()) << "shard " << shard;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].offset, want[shard][i].offset);
      EXPECT_EQ(got[i].type, want[shard][i].type);
      EXPECT_EQ(got[i].micros, want[shard][i].micros);
      EXPECT_EQ(got[i].payload, want[shard][i].payload);
    }
    // From the middle.
    auto tail = ReadAll(*stream, shard, 5);
    ASSERT_EQ(tail.size(), want[shard].size() - 5);
    EXPECT_EQ(tail.front().offset, 5u);
  }

  // kcat sees the same topic: 3 partitions, contiguous offsets, the headers.
  auto records = testing::ReadTopicWithKcat(kafka_->bootstrap(), topic_);
  ASSERT_EQ(records.size(), 31u);
  std::map<int32_t, int64_t> next;
  for (const auto& r : records) {
    EXPECT_GE(r.partition, 0);
    EXPECT_LT(r.partition, 3);
    EXPECT_EQ(r.offset, next[r.partition]++);
    std::map<std::string, std::string> headers(r.headers.begin(), r.headers.end());
    EXPECT_EQ(headers.count(kKafkaTypeHeader), 1u);
    EXPECT_EQ(headers.count(kKafkaMicrosHeader), 1u);
    if (r.value == "by key") {
      EXPECT_EQ(r.key,
                "users\x1f"
                "42");
      EXPECT_EQ(headers[kKafkaTypeHeader], "7");
      EXPECT_EQ(headers[kKafkaMicrosHeader], "1700000000000100");
    }
  }
  for (uint32_t shard = 0; shard < 3; ++shard) {
    EXPECT_EQ(next[static_cast<int32_t>(shard)], static_cast<int64_t>(want[shard].size()));
  }
}

TEST_F(KafkaStreamTest, ReopenedStreamGoesOnAtTheHighWatermarkWithItsIdentity) {
  CreateTopics(2);
  {
    auto stream = Open(2);
    ASSERT_NE(stream, nullptr);
    ASSERT_TRUE(stream->SetIdentity("pipeline-1").ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(stream->Append(ShardId(i % 2), i == 6 ? 2 : 1, "r" + std::to_string(i), i).ok());
    }
    ASSERT_TRUE(stream->Sync().ok());
    // Appended but never synced: dropped with the stream object (or kept by Kafka; either way
    // below the next object's start).
    ASSERT_TRUE(stream->Append(ShardId(0), 1, "unsynced", 99).ok());
  }
  auto stream = Open(2);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->identity(), "pipeline-1");
  uint64_t end0 = stream->stats(ShardId(0)).next.value();
  EXPECT_GE(end0, 5u);
  EXPECT_EQ(stream->stats(ShardId(0)).durable_end.value(), end0);
  EXPECT_EQ(stream->stats(ShardId(1)).next.value(), 5u);
  auto offset = stream->Append(ShardId(1), 1, "after reopen", 100);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->value(), 5u);
  ASSERT_TRUE(stream->Sync().ok());
  auto got = ReadAll(*stream, 1);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[5].payload, "after reopen");

  // FindLast: the last record of type 2 in shard 0 is "r6" at offset 3.
  auto last =
      FindLast(*stream, ShardId(0), [](const Record& r) -> Result<std::optional<std::string>> {
        if (r.type != 2) return std::optional<std::string>();
        return std::optional<std::string>(std::to_string(r.offset.value()) + ":" +
                                          std::string(r.payload));
      });
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, std::optional<std::string>("3:r6"));
  auto none =
      FindLast(*stream, ShardId(1), [](const Record& r) -> Result<std::optional<std::string>> {
        if (r.type != 2) return std::optional<std::string>();
        return std::optional<std::string>("found");
      });
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // A second id replaces the first.
  ASSERT_TRUE(stream->SetIdentity("pipeline-2").ok());
  stream.reset();
  stream = Open(2);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->identity(), "pipeline-2");
}

TEST_F(KafkaStreamTest, RetriableProduceErrorsAreRetriedWithoutLossOrDuplicates) {
  CreateTopics(2);
  auto stream = Open(2);
  ASSERT_NE(stream, nullptr);
  uint64_t appended = 0;
  for (int round = 0; round < 5; ++round) {
    kafka_->PushRequestErrors(
        /*Produce=*/0, {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND});
    for (int i = 0; i < 40; ++i) {
      auto offset = stream->Append(ShardId(i % 2), 1, std::to_string(appended), 0);
      ASSERT_TRUE(offset.ok()) << offset.status().ToString();
      ++appended;
    }
    Status s = stream->Sync();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<std::string> seen;
  for (uint32_t shard = 0; shard < 2; ++shard) {
    EXPECT_EQ(stream->stats(ShardId(shard)).durable_end.value(), appended / 2);
    for (const auto& r : ReadAll(*stream, shard)) seen.push_back(r.payload);
  }
  ASSERT_EQ(seen.size(), appended);
  std::sort(seen.begin(), seen.end(),
            [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  for (uint64_t i = 0; i < appended; ++i) EXPECT_EQ(seen[i], std::to_string(i));
  // What Kafka holds, as kcat reads it: exactly the appended records.
  EXPECT_EQ(testing::ReadTopicWithKcat(kafka_->bootstrap(), topic_).size(), appended);
}

TEST_F(KafkaStreamTest, AWrongPartitionCountIsRefusedNamingBoth) {
  CreateTopics(2);
  auto s = OpenKafkaStream(Config(3), "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("has 2 partitions"), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("stream.shards is 3"), std::string::npos)
      << s.status().ToString();
}

TEST_F(KafkaStreamTest, ASecondWriterIsDetectedAtSync) {
  CreateTopics(1);
  auto first = Open(1);
  auto second = Open(1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Append(ShardId(0), 1, "second", 0).ok());
  ASSERT_TRUE(second->Sync().ok());
  auto offset = first->Append(ShardId(0), 1, "first", 0);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->value(), 0u);
  Status s = first->Sync();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("another producer writes"), std::string::npos) << s.ToString();
  // Broken for good: the pipeline restarts.
  EXPECT_FALSE(first->Append(ShardId(0), 1, "more", 0).ok());
  EXPECT_FALSE(first->Sync().ok());
}

TEST_F(KafkaStreamTest, TruncateIsRefusedUnlessThereIsNothingToDrop) {
  CreateTopics(1);
  auto stream = Open(1);
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->TruncateTo(ShardId(0), StreamOffset(0)).ok());
  ASSERT_TRUE(stream->Append(ShardId(0), 1, "x", 0).ok());
  ASSERT_TRUE(stream->Sync().ok());
  Status s = stream->TruncateTo(ShardId(0), StreamOffset(0));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("cannot drop records"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("--reset-state"), std::string::npos) << s.ToString();
  EXPECT_TRUE(stream->TruncateTo(ShardId(0), StreamOffset(1)).ok());
}

// A unit of `run --role process` opens the stream for one partition (`only_shards`): it appends
// nothing, reads only that partition, takes the pipeline id from the meta topic, and learns how
// far the partition is durable from the brokers while another process appends.
TEST_F(KafkaStreamTest, AReaderOnlyStreamReadsItsPartitionsAndLearnsTheDurableEndFromKafka) {
  CreateTopics(2);
  auto writer = Open(2);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->SetIdentity("pipeline-r").ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(writer->Append(ShardId(i % 2), i == 7 ? 2 : 1, "r" + std::to_string(i), i).ok());
  }
  ASSERT_TRUE(writer->Sync().ok());

  StreamConfig config = Config(2);
  config.only_shards = {1};
  auto opened = OpenKafkaStream(config, "");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto reader_only = std::move(opened).value();
  EXPECT_EQ(reader_only->identity(), "pipeline-r");
  EXPECT_EQ(reader_only->stats(ShardId(1)).first.value(), 0u);
  EXPECT_EQ(reader_only->stats(ShardId(1)).next.value(), 5u);
  EXPECT_EQ(reader_only->stats(ShardId(1)).durable_end.value(), 5u);
  // The other partition is not read here at all.
  EXPECT_EQ(reader_only->stats(ShardId(0)).durable_end.value(), 0u);
  EXPECT_FALSE(reader_only->OpenReader(ShardId(0), StreamOffset(0)).ok());

  // Appends, and recording a pipeline id, are the writer's.
  auto append = reader_only->Append(ShardId(1), 1, "no", 0);
  ASSERT_FALSE(append.ok());
  EXPECT_EQ(append.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(append.status().message().find("appends nothing (run --role process)"),
            std::string::npos)
      << append.status().ToString();
  EXPECT_FALSE(reader_only
                   ->Append("users\x1f"
                            "1",
                            1, "no", 0)
                   .ok());
  EXPECT_EQ(reader_only->SetIdentity("other").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(reader_only->Sync().ok());
  EXPECT_FALSE(reader_only->SyncDue());

  // FindLast reads the partition back from its end: "r7" (type 2) at offset 3.
  auto last =
      FindLast(*reader_only, ShardId(1), [](const Record& r) -> Result<std::optional<std::string>> {
        if (r.type != 2) return std::optional<std::string>();
        return std::optional<std::string>(std::to_string(r.offset.value()) + ":" +
                                          std::string(r.payload));
      });
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, std::optional<std::string>("3:r7"));

  auto reader = reader_only->OpenReader(ShardId(1), StreamOffset(2));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r.ok() && r->has_value()) << r.status().ToString();
    EXPECT_EQ((*r)->offset.value(), 2u + i);
    got.emplace_back((*r)->payload);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"r5", "r7", "r9"}));
  {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
  }

  // The writer appends more: the reader finds the records as the brokers hand them out, and
  // the durable end (stats, WaitForData) follows; nothing is read twice or skipped.
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    reader_only->WaitForData({StreamOffset(0), StreamOffset(5)}, std::chrono::seconds(20));
    woke = true;
  });
  for (int i = 10; i < 30; ++i) {
    ASSERT_TRUE(writer->Append(ShardId(i % 2), 1, "r" + std::to_string(i), i).ok());
  }
  ASSERT_TRUE(writer->Sync().ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < 13 && std::chrono::steady_clock::now() < deadline) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->has_value()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    EXPECT_EQ((*r)->offset.value(), 2u + got.size());
    got.emplace_back((*r)->payload);
  }
  waiter.join();
  EXPECT_TRUE(woke);
  ASSERT_EQ(got.size(), 13u);
  for (size_t i = 3; i < got.size(); ++i) EXPECT_EQ(got[i], "r" + std::to_string(2 * i + 5));
  EXPECT_EQ(reader_only->stats(ShardId(1)).durable_end.value(), 15u);
  EXPECT_EQ(reader_only->stats(ShardId(1)).next.value(), 15u);
  auto r = (*reader)->Next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

}  // namespace
}  // namespace cdc::stream
