// The kinesis and dynamodb kinds through a config: their fields are checked by the loader and
// their parsers, every error with file:line; a good config builds both targets.
#include <gtest/gtest.h>

#include "support/config_util.h"
#include "target/dynamodb/dynamodb_target.h"
#include "target/kinesis/kinesis_target.h"
#include "target/target.h"

namespace cdc {
namespace {

std::string Config(const std::string& targets) {
  return R"(tables:
  users:
    event_types: [INSERT, UPDATE, DELETE]
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets: [k, d]
targets:
)" + targets;
}

TEST(AwsTargetConfig, BadFieldsAreReportedTogetherWithTheirLines) {
  auto r = testing::LoadYaml(Config(R"(  k:
    type: kinesis
    endpoint: localhost:4567
    timeout_ms: 0
  d:
    type: dynamodb
    key: a, b, c
    deletes: sometimes
    concurrency: 0
)"));
  ASSERT_FALSE(r.config);
  std::string errors = testing::ErrorLines(r.errors);
  EXPECT_NE(errors.find("test.yaml:10:5: missing required key 'stream_name'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("test.yaml:11:"), std::string::npos) << errors;  // endpoint
  EXPECT_NE(errors.find("must start with http://"), std::string::npos) << errors;
  EXPECT_NE(errors.find("test.yaml:12:"), std::string::npos) << errors;  // timeout_ms
  EXPECT_NE(errors.find("test.yaml:14:5: missing required key 'table'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("test.yaml:15:"), std::string::npos) << errors;  // key
  EXPECT_NE(errors.find("at most two attributes"), std::string::npos) << errors;
  EXPECT_NE(errors.find("test.yaml:16:"), std::string::npos) << errors;  // deletes
  EXPECT_NE(errors.find("test.yaml:17:"), std::string::npos) << errors;  // concurrency
}

TEST(AwsTargetConfig, AGoodConfigParsesAndBuildsBothTargets) {
  auto r = testing::LoadYaml(Config(R"(  k:
    type: kinesis
    stream_name: ${OUT:-changes}
    region: eu-west-1
    endpoint: http://127.0.0.1:4567
  d:
    type: dynamodb
    table: users_view
    region: eu-west-1
    key: " id , sk "
    deletes: remove
    concurrency: 4
)"));
  ASSERT_TRUE(r.config) << testing::ErrorLines(r.errors);
  const TargetConfig* k = nullptr;
  const TargetConfig* d = nullptr;
  for (const auto& t : r.config->targets) {
    if (t.name == "k") k = &t;
    if (t.name == "d") d = &t;
  }
  ASSERT_TRUE(k && d);
  const auto* ko = k->OptionsAs<KinesisTargetOptions>();
  ASSERT_NE(ko, nullptr);
  EXPECT_EQ(ko->stream_name, "changes");
  const auto* dopt = d->OptionsAs<DynamoDbTargetOptions>();
  ASSERT_NE(dopt, nullptr);
  EXPECT_EQ(dopt->key, (std::vector<std::string>{"id", "sk"}));
  EXPECT_FALSE(dopt->tombstones);
  EXPECT_EQ(dopt->concurrency, 4);
  EXPECT_EQ(DescribeTarget(*k), "kinesis stream changes");
  EXPECT_EQ(DescribeTarget(*d), "dynamodb table users_view");
  auto built = BuildTarget(*k);
  ASSERT_TRUE(built.ok()) << built.status().message();
  EXPECT_TRUE((*built)->queued());
  EXPECT_EQ((*built)->max_batch(), 500u);
  auto built_d = BuildTarget(*d);
  ASSERT_TRUE(built_d.ok()) << built_d.status().message();
  EXPECT_EQ((*built_d)->max_batch(), 100u);
}

}  // namespace
}  // namespace cdc
