// The `kinesis` target kind: PutRecords to a Kinesis data stream, partition key = table +
// primary key, per-key order kept across partial failures; at least once.
#pragma once

#include <cstdint>
#include <string>

#include "target/aws_target_options.h"

namespace cdc {

struct KinesisTargetOptions : AwsTargetOptions {
  std::string stream_name;
};

void RegisterKinesisTarget(Registry& registry);

}  // namespace cdc
