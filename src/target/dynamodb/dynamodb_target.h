// The `dynamodb` target kind: a materialized table. INSERT/UPDATE (and snapshot READ) upsert the
// row, DELETE deletes it (a tombstone by default), and every write is conditional on the stored
// source position, so a replay or a redelivery never moves an item backwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "target/aws_target_options.h"

namespace cdc {

struct DynamoDbTargetOptions : AwsTargetOptions {
  std::string table;
  std::vector<std::string> key;  // empty: the table's key schema (DescribeTable)
  std::string position_attribute = "_cdc_position";
  bool tombstones = true;  // deletes: tombstone (true) or remove
  int64_t concurrency = 8;
};

void RegisterDynamoDbTarget(Registry& registry);

}  // namespace cdc
