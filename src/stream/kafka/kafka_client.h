// What the kafka stream and the processors' consumer group (kafka_group_assigner.h) share: the
// librdkafka configuration made from `stream (type: kafka)` (ours, then the user's properties)
// and an owning handle. Internal to src/stream/kafka.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "stream/kafka/kafka_stream.h"

namespace cdc::stream::kafka_internal {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

// A librdkafka configuration: bootstrap.servers, our `ours`, then the user's properties (the
// loader refused those the stream sets itself), with librdkafka's warnings and errors logged.
// Property values may be secrets: an error names the property, never its value.
Result<rd_kafka_conf_t*> MakeConf(const KafkaStreamOptions& o,
                                  const std::vector<std::pair<std::string, std::string>>& ours);

}  // namespace cdc::stream::kafka_internal
