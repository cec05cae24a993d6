// The `kinesis` target kind: PutRecords to a Kinesis data stream, partition key = table +
// primary key, per-key order kept across partial failures; at least once.
#pragma once

#include <cstdint>
#include <string>

#include "config/registry.h"

namespace cdc {

struct KinesisTargetOptions : KindOptions {
  std::string stream_name;
  std::string region;    // empty: AWS_REGION / AWS_DEFAULT_REGION
  std::string endpoint;  // empty: AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL / AWS's
  int64_t timeout_ms = 10000;
};

void RegisterKinesisTarget(Registry& registry);

}  // namespace cdc
