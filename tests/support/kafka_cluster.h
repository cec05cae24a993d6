// librdkafka's mock cluster (rd_kafka_mock_cluster_new), started in the test process: it speaks
// the Kafka protocol on 127.0.0.1 for the cdc-pipeline processes the test runs, and for kcat.
// One per test binary (MockKafka::Shared()), so its brokers outlive the pipelines killed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cdc::testing {

class MockKafka {
 public:
  // The cluster of this test binary, started on first use with `brokers` brokers.
  static MockKafka& Shared(int brokers = 3);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // The next `errors` requests of API `api_key` (e.g. 0 = Produce) are answered with them.
  void PushRequestErrors(int16_t api_key, const std::vector<int>& errors);
  // Creates `topic` with `partitions` partitions (the 2.0.2 mock has no controller, so the admin
  // API's CreateTopics cannot; unknown topics are created on first use with the mock's default).
  void CreateTopic(const std::string& topic, int partitions);

 private:
  explicit MockKafka(int brokers);
  void* rk_ = nullptr;       // rd_kafka_t: the handle the cluster belongs to
  void* cluster_ = nullptr;  // rd_kafka_mock_cluster_t
  std::string bootstrap_;
};

struct KafkaRecord {
  std::string topic, key, value;
  std::vector<std::pair<std::string, std::string>> headers;
  int32_t partition = 0;
  int64_t offset = 0;
};

// Every record of `topic` as kcat sees it with isolation.level=read_committed (`kcat -C -e -J`),
// in partition and offset order. Fails the test when kcat fails.
std::vector<KafkaRecord> ReadTopicWithKcat(const std::string& bootstrap, const std::string& topic);

}  // namespace cdc::testing
