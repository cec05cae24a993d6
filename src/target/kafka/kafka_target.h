// The `kafka` target kind (librdkafka): each event as one record of a topic per table (a
// template such as `cdc.{table}`), keyed by table and primary key. With `transactional` (the
// default) each batch goes in one Kafka transaction together with the stream positions it
// covers (records of `offsets_topic`), which the target reads back on start (Target::Held).
// Built only when librdkafka is found (CDC_WITH_KAFKA).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/registry.h"

namespace cdc {

struct KafkaTargetOptions : KindOptions {
  std::string brokers;
  std::string topic = "cdc.{table}";
  bool transactional = true;
  std::string transactional_id;  // empty: "cdc-pipeline.<pipeline>.<target>"
  std::string offsets_topic = "cdc-pipeline.offsets";
  // librdkafka properties, passed through; values may be secrets (SASL passwords): never logged.
  std::vector<std::pair<std::string, std::string>> properties;
  bool create_topics = false;
  int64_t partitions = 1;
  int64_t replication = 1;
  int64_t timeout_ms = 10000;
  int64_t max_batch = 500;
  // With format cloudevents: the attributes as `ce_` headers and `data` as the value.
  bool cloudevents_binary = false;
};

// The topic an event of `table` (schema-qualified) goes to: `{table}` in `pattern` becomes the
// table's name (bare for the `public` schema, `schema.table` otherwise, like detail.tableName).
std::string KafkaTopicFor(const std::string& pattern, std::string_view table);
// The record key of an event, from its order key (table, '\x1f', JSON key values ...):
// `users[42]`, `orders["a",7]`.
std::string KafkaRecordKey(std::string_view order_key);

void RegisterKafkaTarget(Registry& registry);

}  // namespace cdc
