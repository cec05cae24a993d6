// Shared by the AWS target tests: the AWS CLI's JSON output parsed, records read back from a
// Kinesis stream with the CLI (list-shards, get-shard-iterator, get-records), and a target of a
// registered kind built from its options.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "config/registry.h"
#include "support/aws_emulator.h"
#include "support/test_util.h"
#include "target/target.h"

namespace cdc::testing {

// The bytes of base64 `in` ("" when it is not base64).
inline std::string Base64Decode(std::string_view in) {
  std::string out;
  if (!cdc::Base64Decode(in, out)) out.clear();
  return out;
}

struct KinesisRecord {
  std::string shard;
  std::string partition_key;
  std::string sequence;
  std::string data;
};

#define CDC_SKIP_WITHOUT_AWS_CLI()                            \
  do {                                                        \
    if (::cdc::testing::AwsCliPath().empty())                 \
      GTEST_SKIP() << "aws (the AWS CLI) is not on the PATH"; \
  } while (0)

// Every record of `stream`, shard by shard in sequence order, read with the AWS CLI.
inline std::vector<KinesisRecord> ReadStreamWithAwsCli(const std::string& endpoint,
                                                       const std::string& stream) {
  std::vector<KinesisRecord> out;
  simdjson::dom::parser parser;
  auto shards = RunAwsCli(endpoint, "kinesis list-shards --stream-name " + stream);
  EXPECT_EQ(shards.exit_code, 0) << shards.err;
  simdjson::dom::element root;
  if (parser.parse(shards.out).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "list-shards printed: " << shards.out;
    return out;
  }
  std::vector<std::string> ids;
  simdjson::dom::array shard_list;
  EXPECT_EQ(root["Shards"].get(shard_list), simdjson::SUCCESS) << shards.out;
  for (simdjson::dom::element s : shard_list) {
    ids.emplace_back(std::string_view(s["ShardId"].get_string()));
  }
  EXPECT_FALSE(ids.empty());
  for (const std::string& shard : ids) {
    auto it =
        RunAwsCli(endpoint, "kinesis get-shard-iterator --stream-name " + stream + " --shard-id " +
                                shard + " --shard-iterator-type TRIM_HORIZON");
    EXPECT_EQ(it.exit_code, 0) << it.err;
    if (parser.parse(it.out).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << it.out;
      return out;
    }
    std::string iterator(std::string_view(root["ShardIterator"].get_string()));
    // Until a call returns nothing (kinesalite answers at once when it has no more).
    for (int calls = 0; calls < 100 && !iterator.empty(); ++calls) {
      auto got =
          RunAwsCli(endpoint, "kinesis get-records --limit 10000 --shard-iterator " + iterator);
      EXPECT_EQ(got.exit_code, 0) << got.err;
      if (parser.parse(got.out).get(root) != simdjson::SUCCESS) {
        ADD_FAILURE() << got.out;
        return out;
      }
      simdjson::dom::array records;
      EXPECT_EQ(root["Records"].get(records), simdjson::SUCCESS) << got.out;
      for (simdjson::dom::element r : records) {
        out.push_back({shard, std::string(std::string_view(r["PartitionKey"].get_string())),
                       std::string(std::string_view(r["SequenceNumber"].get_string())),
                       Base64Decode(std::string_view(r["Data"].get_string()))});
      }
      if (records.size() == 0) break;
      std::string_view next;
      iterator = root["NextShardIterator"].get(next) == simdjson::SUCCESS ? std::string(next) : "";
    }
  }
  return out;
}

// The items of DynamoDB table `table` as `aws dynamodb scan` prints them, each minified, by
// `key(item)`. Empty without the AWS CLI.
inline std::map<std::string, std::string> ScanTableWithAwsCli(
    const std::string& endpoint, const std::string& table,
    const std::function<std::string(simdjson::dom::element)>& key) {
  std::map<std::string, std::string> out;
  if (AwsCliPath().empty()) return out;
  auto r = RunAwsCli(endpoint, "dynamodb scan --table-name " + table);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array items;
  if (parser.parse(r.out).get(root) != simdjson::SUCCESS ||
      root["Items"].get(items) != simdjson::SUCCESS) {
    ADD_FAILURE() << r.out;
    return out;
  }
  for (simdjson::dom::element item : items) out[key(item)] = simdjson::minify(item);
  return out;
}

// The CoreDB sample plus, per user key, an insert and several updates: many events per
// partition key, so a batch holds several records of one key.
inline std::string CoreDbInputWithUserUpdates() {
  std::string input = ReadFile(SourcePath("tests/events/coredb-sample.jsonl"));
  for (int k = 0; k < 40; ++k) {
    std::string id = "usr_9" + std::to_string(100 + k);
    input += R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-16T09:00:00Z",)"
             R"("after":{"id":")" +
             id + R"(","email":"u)" + std::to_string(k) +
             R"(@example.com","phone":"+44 20 7946 0000","full_name":"U","status":"active"}})"
             "\n";
    for (int u = 0; u < 4; ++u) {
      std::string status = u % 2 == 0 ? "suspended" : "active";
      input += R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-16T09:0)" +
               std::to_string(u + 1) + R"(:00Z","after":{"id":")" + id + R"(","email":"u)" +
               std::to_string(k) + R"(@example.com","phone":"+44 20 7946 0000","full_name":"U)" +
               std::to_string(u) + R"(","status":")" + status +
               R"("}})"
               "\n";
    }
  }
  return input;
}

template <typename Options>
Result<std::unique_ptr<Target>> BuildKindTarget(const std::string& kind,
                                                std::shared_ptr<Options> options) {
  TargetConfig config;
  config.name = "t";
  config.type = kind;
  config.kind = BuiltinRegistry().FindTarget(kind);
  config.options = std::move(options);
  return BuildTarget(config);
}

}  // namespace cdc::testing
