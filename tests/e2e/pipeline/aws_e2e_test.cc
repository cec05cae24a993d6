// End to end on the AWS engines' emulators, against a real PostgreSQL: the shipped CoreDB config
// with its stream in a Kinesis stream (kinesalite, started once per test process), `run` killed
// with SIGKILL while `generate` commits; every committed change reaches each of its consumer
// files exactly once and in commit order (oracle: a wal2json slot, postgres_e2e.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "e2e/pipeline/postgres_e2e.h"
#include "integration/aws/signing_gate.h"
#include "support/aws_emulator.h"
#include "support/http_client.h"

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

// The pipeline split over processes, as on several machines: `run --role capture` puts the
// changes into the Kinesis stream, two `run --role process` deliver shards 0-1 and 2-3, each
// from and into its own data dir. The processors are killed with SIGKILL 5 times and the capture
// process once while `generate` commits: the consumer files of the two processors together hold
// every committed change exactly once, in commit order per row.
TEST_F(AwsE2E, CaptureAndTwoProcessorsExactlyOnceAcrossKill9) {
  std::string missing;
  AwsEmulator* kinesalite = AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  UseConfig(
      "stream:\n  type: kinesis\n  shards: 4\n  stream_name: split-changes\n"
      "  create: true\n  endpoint: " +
      kinesalite->endpoint() + "\n  poll_interval_ms: 100\n");
  run_args_.push_back("--role");
  run_args_.push_back("capture");
  env_["CDC_ADMIN_LISTEN"] = "127.0.0.1:0";
  std::string log = data_ / "capture.log";
  auto capture = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  testing::TempDir p1_dir, p2_dir;
  // Each shard is delivered from and into its unit's data dir, <data_dir>/shards/<i>.
  consumer_dirs_ = {p1_dir / "shards/0", p1_dir / "shards/1", p2_dir / "shards/2",
                    p2_dir / "shards/3"};
  auto processor = [&](const testing::TempDir& dir, const std::string& shards) {
    auto env = env_;
    env["CDC_DATA_DIR"] = dir.path();
    return std::make_unique<CliProcess>(
        std::vector<std::string>{"run", "--config", data_ / "config.yaml", "--role", "process",
                                 "--shards", shards},
        env, dir / "run.log");
  };
  auto p1 = processor(p1_dir, "0,1");
  auto p2 = processor(p2_dir, "2,3");
  CliProcess generate({"generate", "--rate", "300", "--duration", "16", "--seed", "17"}, env_,
                      data_ / "generate.log");
  std::mt19937 random(20261209);
  for (int round = 0; round < 6 && generate.running(); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + random() % 1500));
    auto& victim = round == 2 ? capture : round % 2 == 0 ? p1 : p2;
    victim->Signal(SIGKILL);
    ASSERT_EQ(victim->Wait(10), 128 + SIGKILL);
    if (round == 2) {
      victim = std::make_unique<CliProcess>(run_args_, env_, log);
    } else {
      victim = round % 2 == 0 ? processor(p1_dir, "0,1") : processor(p2_dir, "2,3");
    }
  }
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  // The processors read on until their files stop growing.
  WaitConsumerFilesStill(3, 90);
  for (auto* p : {&capture, &p1, &p2}) {
    (*p)->Signal(SIGTERM);
    EXPECT_EQ((*p)->Wait(30), 0);
  }
  EXPECT_NE(testing::ReadFile(p1_dir / "run.log").find("shard 1: delivering it from and into"),
            std::string::npos);
  // Each processor delivered some of the changes, and only its shards' own.
  for (const auto& dir : consumer_dirs_) {
    EXPECT_FALSE(testing::ReadLines(dir + "/consumers/analytics.jsonl").empty()) << dir;
  }
  EXPECT_FALSE(testing::FileExists(p1_dir / "shards/2"));
  EXPECT_FALSE(testing::FileExists(data_ / "consumers/analytics.jsonl"));
  ExpectEveryCommittedChangeExactlyOnceInOrder(1000);
}

// The shipped config/aws.yaml split over processes as on several machines: `run --role
// capture` puts the changes into Kinesis, two `run --role process` share the 4 shards through
// KCL-style leases in DynamoDB (no --shards) and deliver each shard from and into its unit under
// the data dir they share (shared storage, for the file targets). One processor is killed with
// SIGKILL and left dead: the other takes its shards over within two lease periods. Then the
// processors are killed again and again (restarted at once) and the capture process once, while
// `generate` commits, and the Kinesis stream is resharded (a split, then a merge): every committed
// change reaches the consumer files exactly once, in commit order per row. The AWS CLI reads the
// lease table.
TEST_F(AwsE2E, ConfigAwsYamlProcessorsShareTheShardsThroughLeasesExactlyOnce) {
  std::string missing;
  AwsEmulator* kinesalite = AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  AwsEmulator* dynalite = AwsEmulator::Dynalite(&missing);
  ASSERT_NE(dynalite, nullptr) << missing;
  constexpr int kLeaseMs = 3000;
  for (const auto& [k, v] : testing::AwsTestEnv()) env_[k] = v;
  env_["AWS_ENDPOINT_URL_KINESIS"] = kinesalite->endpoint();
  env_["AWS_ENDPOINT_URL_DYNAMODB"] = dynalite->endpoint();
  env_["KINESIS_STREAM_NAME"] = "leased-changes";
  env_["STATE_TABLE_NAME"] = "leased-state";
  env_["CDC_LEASE_MS"] = std::to_string(kLeaseMs);
  env_["CDC_ADMIN_LISTEN"] = "127.0.0.1:0";
  const std::string config = testing::SourcePath("config/aws.yaml");
  run_args_ = {"run", "--config", config, "--role", "capture"};
  std::string log = data_ / "capture.log";
  auto capture = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  testing::TempDir shared;
  for (int i = 0; i < 4; ++i) consumer_dirs_.push_back(shared / ("shards/" + std::to_string(i)));
  int started = 0;
  // Each processor serves its admin endpoint on a port of its own (they share the host).
  const int admin_ports[2] = {testing::FreePort(), testing::FreePort()};
  auto processor = [&](int which) {
    auto env = env_;
    env["CDC_DATA_DIR"] = shared.path();
    env["CDC_ADMIN_LISTEN"] = "127.0.0.1:" + std::to_string(admin_ports[which]);
    return std::make_unique<CliProcess>(
        std::vector<std::string>{"run", "--config", config, "--role", "process"}, env,
        shared / ("processor-" + std::to_string(++started) + ".log"));
  };
  // The leases' owners, as the AWS CLI reads the lease table: leaseKey -> leaseOwner.
  auto owners = [&] {
    std::map<std::string, std::string> out;
    auto r = testing::RunAwsCli(dynalite->endpoint(),
                                "dynamodb scan --table-name leased-state-leases "
                                "--query 'Items[].[leaseKey.S,leaseOwner.S]'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // [["shardId-000000000000", "pid 1 on host h"], ["shardId-000000000001", null], ...]
    static const std::regex kRow(R"re(\[\s*"([^"]+)",\s*(null|"([^"]*)")\s*\])re");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), kRow), end; it != end; ++it) {
      out[(*it)[1]] = (*it)[2] == "null" ? "None" : std::string((*it)[3]);
    }
    return out;
  };
  auto owner_of = [](const CliProcess& p) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return "pid " + std::to_string(p.pid()) + " on host " + host;
  };
  auto p1 = processor(0);
  auto p2 = processor(1);
  CliProcess generate({"generate", "--rate", "300", "--duration", "24", "--seed", "19"}, env_,
                      data_ / "generate.log");
  if (!testing::AwsCliPath().empty()) {
    // Both hold leases (two each once balanced), then p1 dies and stays dead: p2 has all four
    // within two lease periods.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
      auto o = owners();
      size_t by_p1 = 0, by_p2 = 0;
      for (const auto& [key, owner] : o) {
        by_p1 += owner == owner_of(*p1);
        by_p2 += owner == owner_of(*p2);
      }
      if (by_p1 == 2 && by_p2 == 2) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "the processors did not balance the leases: " << by_p1 << " and " << by_p2 << "\n"
          << testing::ReadFile(shared / "processor-1.log") << "\n"
          << testing::ReadFile(shared / "processor-2.log");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    // p2's admin endpoint shows its two units: live metrics labelled by shard (promtool
    // accepts them), its status and readiness.
    const std::string admin = "http://127.0.0.1:" + std::to_string(admin_ports[1]);
    std::set<std::string> p2_shards;
    for (const auto& [key, owner] : owners()) {
      if (owner == owner_of(*p2)) p2_shards.insert(std::to_string(std::stoi(key.substr(8))));
    }
    testing::HttpAnswer status, metrics;
    for (int i = 0; i < 100; ++i) {
      status = testing::HttpGet(admin + "/api/status");
      if (status.body.find(R"("state":"waiting")") == std::string::npos &&
          status.body.find(R"("state":"delivering")") != std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(status.status, 200);
    EXPECT_NE(status.body.find(R"("role":"process")"), std::string::npos) << status.body;
    EXPECT_NE(status.body.find("leases in DynamoDB table leased-state-leases"), std::string::npos)
        << status.body;
    for (const auto& shard : p2_shards) {
      EXPECT_NE(status.body.find(R"({"shard":)" + shard + R"(,"state":"delivering")"),
                std::string::npos)
          << status.body;
    }
    EXPECT_EQ(testing::HttpGet(admin + "/readyz").status, 200);
    metrics = testing::HttpGet(admin + "/metrics");
    ASSERT_EQ(metrics.status, 200);
    for (const auto& shard : p2_shards) {
      EXPECT_NE(metrics.body.find("shard=\"" + shard + "\"}"), std::string::npos)
          << "no series of shard " << shard << ":\n"
          << metrics.body;
    }
    EXPECT_NE(metrics.body.find("cdc_process_units{state=\"delivering\"} 2"), std::string::npos)
        << metrics.body;
    if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
      testing::WriteFile(data_ / "scrape.txt", metrics.body);
      std::string check = "promtool check metrics < '" + (data_ / "scrape.txt") + "' > '" +
                          (data_ / "promtool.txt") + "' 2>&1";
      EXPECT_EQ(std::system(check.c_str()), 0)
          << testing::ReadFile(data_ / "promtool.txt") << metrics.body;
    }

    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    p1->Signal(SIGKILL);
    auto killed = std::chrono::steady_clock::now();
    ASSERT_EQ(p1->Wait(10), 128 + SIGKILL);
    while (true) {
      auto o = owners();
      size_t by_p2 = 0;
      for (const auto& [key, owner] : o) by_p2 += owner == owner_of(*p2);
      if (by_p2 == 4) break;
      ASSERT_LT(std::chrono::steady_clock::now() - killed, std::chrono::milliseconds(2 * kLeaseMs))
          << "the dead processor's shards were not taken over within two lease periods";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    p1 = processor(0);
  }
  std::mt19937 random(20261210);
  bool resharded = false;
  for (int round = 0; round < 5 && generate.running(); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + random() % 1500));
    if ((round == 1 || round == 3) && !testing::AwsCliPath().empty()) {
      // The stream resharded under load: Kinesis shard 1 split (pipeline shard 1's hash key in
      // the lower child), then 2 and 3 merged (both hash keys in one child).
      auto r = testing::RunAwsCli(
          kinesalite->endpoint(),
          round == 1 ? "kinesis split-shard --stream-name leased-changes --shard-to-split "
                       "shardId-000000000001 --new-starting-hash-key "
                       "106338239662793269832304564822427566080"  // 2^126 + 2^124
                     : "kinesis merge-shards --stream-name leased-changes --shard-to-merge "
                       "shardId-000000000002 --adjacent-shard-to-merge shardId-000000000003");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      resharded = true;
    }
    auto& victim = round == 2 ? capture : round % 2 == 0 ? p1 : p2;
    victim->Signal(SIGKILL);
    ASSERT_EQ(victim->Wait(10), 128 + SIGKILL);
    victim = round == 2       ? std::make_unique<CliProcess>(run_args_, env_, log)
             : round % 2 == 0 ? processor(0)
                              : processor(1);
  }
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  WaitConsumerFilesStill(4, 120);
  for (auto* p : {&capture, &p1, &p2}) {
    (*p)->Signal(SIGTERM);
    EXPECT_EQ((*p)->Wait(30), 0);
  }
  ExpectEveryCommittedChangeExactlyOnceInOrder(1000);
  std::string all_logs;
  for (int i = 1; i <= started; ++i) {
    all_logs += testing::ReadFile(shared / ("processor-" + std::to_string(i) + ".log"));
  }
  EXPECT_NE(all_logs.find("took its lease"), std::string::npos) << all_logs;
  EXPECT_NE(all_logs.find("its process is gone"), std::string::npos) << all_logs;
  if (resharded) {
    EXPECT_NE(all_logs.find("(resharded)"), std::string::npos) << all_logs;
  }
  if (!testing::AwsCliPath().empty()) {
    // A clean stop released every lease.
    auto o = owners();
    EXPECT_EQ(o.size(), 4u);
    for (const auto& [key, owner] : o) EXPECT_EQ(owner, "None") << key;
  }
}

// `run` on config/aws.yaml with a wrong secret key, behind gates that check signatures as AWS
// does: it stops at once with exit 1 and says which credentials to check; the secret is in no
// output. With the right key the same gates let it through.
TEST_F(AwsE2E, WrongCredentialsStopRunWithWhatToCheck) {
  std::string missing;
  AwsEmulator* kinesalite = AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  AwsEmulator* dynalite = AwsEmulator::Dynalite(&missing);
  ASSERT_NE(dynalite, nullptr) << missing;
  std::map<std::string, std::string> keys = {{"AKIDTESTEMULATOR", "test-secret-not-real"}};
  testing::SigningGate kinesis_gate(kinesalite->endpoint(), keys);
  testing::SigningGate dynamodb_gate(dynalite->endpoint(), keys);
  for (const auto& [k, v] : testing::AwsTestEnv()) env_[k] = v;
  env_["AWS_ENDPOINT_URL_KINESIS"] = kinesis_gate.url();
  env_["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_gate.url();
  env_["KINESIS_STREAM_NAME"] = "gated-changes";
  env_["STATE_TABLE_NAME"] = "gated-state";
  env_["CDC_ADMIN_LISTEN"] = "127.0.0.1:0";
  const std::string config = testing::SourcePath("config/aws.yaml");
  // The right key gets through both gates: the stream and the state table are made.
  run_args_ = {"run", "--config", config, "--role", "capture"};
  auto capture = StartStreaming(data_ / "capture.log");
  ASSERT_FALSE(HasFailure());
  capture->Signal(SIGTERM);
  EXPECT_EQ(capture->Wait(30), 0) << testing::ReadFile(data_ / "capture.log");
  EXPECT_GT(kinesis_gate.forwarded(), 0);
  EXPECT_GT(dynamodb_gate.forwarded(), 0);
  EXPECT_EQ(kinesis_gate.refused() + dynamodb_gate.refused(), 0);

  auto env = env_;
  env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value-5678";
  auto r = testing::RunCli({"run", "--config", config}, env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("the AWS credentials were refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << r.err;
  EXPECT_EQ((r.out + r.err).find("wrong-secret-value-5678"), std::string::npos);
  EXPECT_GT(kinesis_gate.refused() + dynamodb_gate.refused(), 0);
}

TEST_F(AwsE2E, TheSplitRolesNeedAStreamOtherProcessesCanRead) {
  auto r = testing::RunCli({"run", "--role", "process", "--shards", "0"}, env_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("stream.type: kinesis or kafka"), std::string::npos) << r.err;
  UseConfig("stream:\n  type: kinesis\n  shards: 2\n  stream_name: x\n");
  r = testing::RunCli(
      {"run", "--config", data_ / "config.yaml", "--role", "process", "--shards", "0,5"}, env_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--shards names shard 5 but the stream has 2"), std::string::npos) << r.err;
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
