// End to end on the AWS engines' emulators, against a real PostgreSQL: the shipped CoreDB config
// with its stream in a Kinesis stream (kinesalite, started once per test process), `run` killed
// with SIGKILL while `generate` commits; every committed change reaches each of its consumer
// files exactly once and in commit order (oracle: a wal2json slot, postgres_e2e.h).
#include <gtest/gtest.h>
#include <signal.h>

#include <random>

#include "e2e/pipeline/postgres_e2e.h"
#include "support/aws_emulator.h"

namespace cdc {
namespace {

using testing::AwsEmulator;
using testing::CliProcess;
using testing::PostgresE2E;

class AwsE2E : public PostgresE2E {
 protected:
  // The shipped config with `stream` replaced by `stream_yaml`.
  void UseConfig(const std::string& stream_yaml) {
    std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
    config += stream_yaml;
    testing::WriteFile(data_ / "config.yaml", config);
    testing::CopyShippedModels(data_.path());
    for (const auto& [k, v] : testing::AwsTestEnv()) env_[k] = v;
    run_args_ = {"run", "--config", data_ / "config.yaml"};
  }
};

TEST_F(AwsE2E, ExactlyOnceThroughAKinesisStreamAcross8Kill9) {
  std::string missing;
  AwsEmulator* kinesalite = AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  UseConfig(
      "stream:\n  type: kinesis\n  shards: 3\n  stream_name: e2e-changes\n  create: true\n"
      "  endpoint: " +
      kinesalite->endpoint() + "\n");
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(testing::ReadFile(log).find("kinesis stream 'e2e-changes'"), std::string::npos);
  CliProcess generate({"generate", "--rate", "400", "--duration", "25", "--seed", "11"}, env_,
                      data_ / "generate.log");
  std::mt19937 random(20261207);
  int kills = 0;
  for (; kills < 8 && generate.running(); ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 2000));
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    run = std::make_unique<CliProcess>(run_args_, env_, log);
  }
  EXPECT_EQ(kills, 8) << "the workload ended before the 8th kill";
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(2000);
  // Nothing of the stream was kept in the data dir.
  EXPECT_FALSE(testing::FileExists(data_ / "stream"));
}

// The shipped config/aws.yaml as it is: the CoreDB pipeline with its stream in Kinesis and its
// state in DynamoDB (dynalite), the endpoints from the environment as scripts/local-aws exports
// them; killed with SIGKILL 5 times (each restart takes the DynamoDB lease at once: its holder's
// process is gone), every change exactly once. The AWS CLI then finds the shards and the state.
TEST_F(AwsE2E, ConfigAwsYamlExactlyOnceAcross5Kill9) {
  std::string missing;
  AwsEmulator* kinesalite = AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  AwsEmulator* dynalite = AwsEmulator::Dynalite(&missing);
  ASSERT_NE(dynalite, nullptr) << missing;
  for (const auto& [k, v] : testing::AwsTestEnv()) env_[k] = v;
  env_["AWS_ENDPOINT_URL_KINESIS"] = kinesalite->endpoint();
  env_["AWS_ENDPOINT_URL_DYNAMODB"] = dynalite->endpoint();
  env_["KINESIS_STREAM_NAME"] = "aws-yaml-changes";
  env_["STATE_TABLE_NAME"] = "aws-yaml-state";
  run_args_ = {"run", "--config", testing::SourcePath("config/aws.yaml")};
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess generate({"generate", "--rate", "400", "--duration", "20", "--seed", "13"}, env_,
                      data_ / "generate.log");
  std::mt19937 random(20261208);
  int kills = 0;
  for (; kills < 5 && generate.running(); ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 2500));
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    run = std::make_unique<CliProcess>(run_args_, env_, log);
  }
  EXPECT_EQ(kills, 5) << "the workload ended before the 5th kill";
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(1500);
  EXPECT_FALSE(testing::FileExists(data_ / "stream"));
  EXPECT_FALSE(testing::FileExists(data_ / "state.db"));
  EXPECT_NE(testing::ReadFile(log).find("its process is gone"), std::string::npos)
      << testing::ReadFile(log);
  auto shards = testing::RunAwsCli(kinesalite->endpoint(),
                                   "kinesis list-shards --stream-name aws-yaml-changes");
  if (shards.exit_code != -1) {
    EXPECT_EQ(shards.exit_code, 0) << shards.err;
    EXPECT_NE(shards.out.find("shardId-000000000003"), std::string::npos) << shards.out;
    auto scan =
        testing::RunAwsCli(dynalite->endpoint(), "dynamodb scan --table-name aws-yaml-state");
    EXPECT_EQ(scan.exit_code, 0) << scan.err;
    EXPECT_NE(scan.out.find("\"coredb\""), std::string::npos) << scan.out;
  }
}

// Kinesis down for a while (kinesalite killed, then started again on its port and data): `run`
// retries its puts and reads, PostgreSQL is not acknowledged meanwhile, and every change still
// arrives exactly once.
TEST_F(AwsE2E, KinesisKilledAndRestartedMidRunLosesNothing) {
  testing::TempDir kinesis_data;
  auto kinesalite = AwsEmulator::OwnKinesalite(kinesis_data.path());
  ASSERT_NE(kinesalite, nullptr) << "kinesalite is not installed (scripts/bootstrap)";
  const int port = kinesalite->port();
  UseConfig(
      "stream:\n  type: kinesis\n  shards: 2\n  stream_name: outage\n  create: true\n"
      "  endpoint: " +
      kinesalite->endpoint() + "\n  timeout_ms: 2000\n");
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess generate({"generate", "--rate", "300", "--duration", "15", "--seed", "5"}, env_,
                      data_ / "generate.log");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kinesalite.reset();  // SIGKILL
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_TRUE(run->running()) << testing::ReadFile(log);
  kinesalite = AwsEmulator::OwnKinesalite(kinesis_data.path(), port);
  ASSERT_NE(kinesalite, nullptr);
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(90)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  EXPECT_NE(testing::ReadFile(log).find("retrying"), std::string::npos) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(1000);
}

}  // namespace
}  // namespace cdc
