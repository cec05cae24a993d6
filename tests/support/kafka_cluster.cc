#include "support/kafka_cluster.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>

namespace cdc::testing {

MockKafka& MockKafka::Shared(int brokers) {
  static MockKafka* cluster = new MockKafka(brokers);  // lives until the test binary exits
  return *cluster;
}

MockKafka::MockKafka(int brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    ADD_FAILURE() << "cannot create the handle for the mock cluster: " << err;
    return;
  }
  rk_ = rk;
  auto* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    ADD_FAILURE() << "rd_kafka_mock_cluster_new failed";
    return;
  }
  cluster_ = mc;
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc);
}

MockKafka::~MockKafka() {
  if (cluster_ != nullptr)
    rd_kafka_mock_cluster_destroy(static_cast<rd_kafka_mock_cluster_t*>(cluster_));
  if (rk_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
}

void MockKafka::PushRequestErrors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> e;
  for (int code : errors) e.push_back(static_cast<rd_kafka_resp_err_t>(code));
  rd_kafka_mock_push_request_errors_array(static_cast<rd_kafka_mock_cluster_t*>(cluster_), api_key,
                                          e.size(), e.data());
}

void MockKafka::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      static_cast<rd_kafka_mock_cluster_t*>(cluster_), topic.c_str(), partitions, 1);
  EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << topic << ": " << rd_kafka_err2str(err);
}

std::vector<KafkaRecord> ReadTopicWithKcat(const std::string& bootstrap, const std::string& topic) {
  std::string cmd = "kcat -C -q -X isolation.level=read_committed -b '" + bootstrap + "' -t '" +
                    topic + "' -e -J 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::vector<KafkaRecord> out;
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
  simdjson::dom::parser parser;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] != '{') continue;
    simdjson::dom::element e;
    if (parser.parse(line).get(e) != simdjson::SUCCESS) {
      ADD_FAILURE() << "kcat printed a line that is not JSON: " << line.substr(0, 300);
      continue;
    }
    KafkaRecord r;
    r.topic = std::string(std::string_view(e["topic"].get_string()));
    r.partition = static_cast<int32_t>(int64_t(e["partition"].get_int64()));
    r.offset = e["offset"].get_int64();
    std::string_view s;
    if (e["key"].get_string().get(s) == simdjson::SUCCESS) r.key = std::string(s);
    if (e["payload"].get_string().get(s) == simdjson::SUCCESS) r.value = std::string(s);
    simdjson::dom::array headers;
    if (e["headers"].get_array().get(headers) == simdjson::SUCCESS) {
      std::vector<std::string> flat;
      for (auto h : headers) {
        std::string_view part;
        flat.emplace_back(h.get_string().get(part) == simdjson::SUCCESS ? std::string(part) : "");
      }
      for (size_t i = 0; i + 1 < flat.size(); i += 2) r.headers.emplace_back(flat[i], flat[i + 1]);
    }
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const KafkaRecord& a, const KafkaRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

}  // namespace cdc::testing
