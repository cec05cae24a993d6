// The partitions of a kafka stream shared by `run --role process` processes through a Kafka
// consumer group (librdkafka, `partition.assignment.strategy=cooperative-sticky`): each process
// is a member, subscribed to the stream's topic, and delivers the partitions the group assigns
// it (partition i = shard i). The group is used for membership only: the member pauses every
// partition it is given and fetches nothing; each shard's unit reads the topic itself
// (kafka_stream.h, reader-only). A revoke simply stops naming the partition: the unit's state
// store (its lock or lease) makes the next owner wait until this process let the shard go.
// With cooperative-sticky a rebalance moves only the partitions that change owner; the others
// stay delivered throughout.
//
// The units' last checkpoints (Checkpointed) are committed to the group as its offsets when the
// member leaves (Close), so Kafka's lag tools (`kafka-consumer-groups --describe`) show where
// the processors stopped; not while it is a member, as librdkafka 2.0 loses the assignment when
// a commit crosses a rebalance. They are informational: the state store's checkpoints are what
// counts. docs/kafka.md, "Processors: a consumer group", has the details.
//
// Thread-safety: as stream::ShardAssigner, one thread (librdkafka calls the rebalance callback
// from Poll and Close, on that thread).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "stream/shard_assigner.h"

namespace cdc {
struct StreamConfig;
}

namespace cdc::stream {

// The group of the kafka stream of `config`: its `group_id`, or "cdc-pipeline.<pipeline_name>".
std::string KafkaGroupId(const StreamConfig& config, const std::string& pipeline_name);

// Joins the consumer group of the kafka stream of `config` (subscribing to its topic) as
// `member` ("pid N on host H", also its client.id). The first partitions come with a later Poll,
// once the group has rebalanced.
Result<std::unique_ptr<ShardAssigner>> OpenKafkaGroupAssigner(const StreamConfig& config,
                                                              const std::string& pipeline_name,
                                                              std::string member);

}  // namespace cdc::stream
