// The `kafka` stream kind: the stream between the source and the processors kept in one Kafka
// topic (librdkafka), partition i = shard i, the pipeline id in the compacted topic
// `<topic>.meta`. This process is the topic's only writer: it predicts each record's offset
// (Append returns it before the broker answered) and a Sync checks every delivery report against
// the prediction. Layout, framing and guarantees: docs/kafka.md ("The kafka stream").
// Built only when librdkafka is found (CDC_WITH_KAFKA).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/registry.h"
#include "stream/stream.h"

namespace cdc::stream {

// `stream` of type kafka, as configured (defaults as documented in docs/configuration.md).
struct KafkaStreamOptions : KindOptions {
  std::string bootstrap_servers;
  std::string topic;  // empty: "<pipeline.name>-changes"
  bool create_topic = true;
  int64_t replication = 0;  // of a topic the stream creates; 0: the brokers' default
  int64_t retention_hours = 168;
  // librdkafka properties, passed through; values may be secrets (SASL passwords): never logged.
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t timeout_ms = 30000;
  int64_t sync_interval_ms = 10;
  int64_t sync_bytes = 1ll << 20;
  // The consumer group of `run --role process` processes (kafka_group_assigner.h).
  std::string group_id;  // empty: "cdc-pipeline.<pipeline.name>"
  int64_t group_session_timeout_ms = 10000;
};

// The topic the stream of `config` uses (its `topic`, or "<pipeline.name>-changes").
std::string KafkaStreamTopic(const StreamConfig& config);

// Opens the kafka stream of `config`: checks (or creates) the topic and its partition count,
// reads the partitions' watermarks and the pipeline id.
Result<std::unique_ptr<Stream>> OpenKafkaStream(const StreamConfig& config,
                                                const std::string& data_dir);

// Record headers (docs/kafka.md): the record type and the append time in micros, as decimal text.
inline constexpr char kKafkaTypeHeader[] = "cdc.type";
inline constexpr char kKafkaMicrosHeader[] = "cdc.micros";

}  // namespace cdc::stream

namespace cdc {
void RegisterKafkaStream(Registry& registry);
}
