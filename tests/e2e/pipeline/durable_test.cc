// The durable stream and the state store through the binary, with JSON input (no database):
// redelivery is recognised by id, a second process on the same data dir is refused, a target
// whose disk is full stops the pipeline without losing anything, and `status` reports counts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::TempDir;

size_t CountConsumerLines(const TempDir& dir) {
  size_t n = 0;
  for (const auto& f : testing::ListFiles(dir / "consumers")) {
    n += testing::ReadLines(dir / ("consumers/" + f)).size();
  }
  return n;
}

std::string SampleInput() {
  return testing::ReadFile(testing::SourcePath("tests/events/coredb-sample.jsonl"));
}

// `count` updates of distinct users, each with a `pad`-character full_name.
std::string UserUpdates(int count, size_t pad) {
  std::string input;
  for (int i = 0; i < count; ++i) {
    std::string id = "usr_" + std::to_string(i);
    input += R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
             R"("before":{"id":")" +
             id + R"(","status":"active"},"after":{"id":")" + id +
             R"(","status":"inactive","full_name":")" + std::string(pad, 'x') + "\"}}\n";
  }
  return input;
}

// Writes the shipped config to dir/config.yaml with pipeline.shutdown_timeout_ms set (and
// `extra` appended), and the models beside it.
void WriteConfig(const TempDir& dir, int shutdown_timeout_ms, const std::string& extra = "") {
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  std::string level = "  log_level: ${CDC_LOG_LEVEL:-info}\n";
  ASSERT_NE(config.find(level), std::string::npos);
  config.replace(config.find(level), level.size(),
                 level + "  shutdown_timeout_ms: " + std::to_string(shutdown_timeout_ms) + "\n");
  testing::WriteFile(dir / "config.yaml", config + extra);
  testing::CopyShippedModels(dir.path());
}

// The consumer files of `dir` hold exactly what a clean run of the sample input gives, each event
// once (compared sorted: the order across rows follows the shards).
void ExpectSameAsACleanRun(const TempDir& dir, const std::string& input = SampleInput()) {
  TempDir reference;
  auto clean = testing::RunCli({"run", "--input", "-"}, {{"CDC_DATA_DIR", reference.path()}},
                               CDC_SOURCE_DIR, input);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  auto files = testing::ListFiles(reference / "consumers");
  EXPECT_EQ(testing::ListFiles(dir / "consumers"), files);
  for (const auto& f : files) {
    auto got = testing::ReadLines(dir / ("consumers/" + f));
    auto want = testing::ReadLines(reference / ("consumers/" + f));
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << f;
  }
}

TEST(Durable, TheSameInputReadTwiceIsDeliveredOnce) {
  TempDir dir;
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  auto first = testing::RunCli({"run", "--input", "-"}, env, CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  size_t lines = CountConsumerLines(dir);
  ASSERT_GT(lines, 21u);
  auto second = testing::RunCli({"run", "--input", "-"}, env, CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("duplicates skipped 21"), std::string::npos) << second.err;
  EXPECT_EQ(CountConsumerLines(dir), lines);
}

TEST(Durable, ASecondProcessOnTheSameDataDirIsRefused) {
  TempDir dir;
  std::string fifo = dir / "input.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  // The first run holds the lease while it waits for its input.
  CliProcess holder({"run", "--input", fifo}, env, dir / "holder.log");
  for (int i = 0; i < 200; ++i) {
    if (testing::ReadFile(dir / "holder.log").find("lease token 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool locked = false;
  testing::CommandResult second;
  for (int i = 0; i < 100 && !locked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    second = testing::RunCli({"run", "--input", "-"}, env, CDC_SOURCE_DIR, SampleInput());
    locked = second.exit_code != 0;
  }
  ASSERT_TRUE(locked) << second.err;
  EXPECT_NE(second.err.find("in use"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("pid " + std::to_string(holder.pid())), std::string::npos)
      << second.err;
  // `status` reads the state store beside the running process.
  auto status = testing::RunCli({"status"}, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("pipeline coredb: running (pid " + std::to_string(holder.pid())),
            std::string::npos)
      << status.out;
  holder.Signal(SIGTERM);
  EXPECT_EQ(holder.Wait(10), 0) << testing::ReadFile(dir / "holder.log");
}

TEST(Durable, AFullDiskAtATargetStopsThePipelineAndLosesNothing) {
  TempDir dir;
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  std::filesystem::create_directories(dir / "consumers");
  ASSERT_EQ(::symlink("/dev/full", (dir / "consumers/analytics.jsonl").c_str()), 0);
  // The input from a file: the failure stops the source, and how much of the input it had read
  // by then depends on timing (on a loaded machine, a few lines).
  std::string input = dir / "input.jsonl";
  testing::WriteFile(input, SampleInput());
  auto failed = testing::RunCli({"run", "--input", input}, env);
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_NE(failed.err.find("No space left on device"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("analytics"), std::string::npos) << failed.err;
  EXPECT_FALSE(testing::FileExists(dir / "dead-letter.jsonl"))
      << "a full disk is not the event's fault: nothing is dead-lettered";

  // Space again, and the same input again: what reached the stream is delivered from it, the
  // rest is read now (what the stream has is skipped as a duplicate), each event once.
  ASSERT_EQ(::unlink((dir / "consumers/analytics.jsonl").c_str()), 0);
  auto again = testing::RunCli({"run", "--input", input}, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectSameAsACleanRun(dir);
}

TEST(Durable, StatusReportsShardsTargetsAndCountsAfterARun) {
  TempDir dir;
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  auto none = testing::RunCli({"status"}, env);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("has not run"), std::string::npos) << none.err;

  auto run = testing::RunCli({"run", "--input", "-"}, env, CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto text = testing::RunCli({"status"}, env);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("pipeline coredb: stopped"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("stream: 4 shards"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("wallboards"), std::string::npos) << text.out;
  auto json = testing::RunCli({"status", "--json"}, env);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"running\":false"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"published\":21"), std::string::npos) << json.out;
  // The users sample goes to wallboards and analytics: both show what they got, none pending.
  EXPECT_NE(json.out.find("\"analytics\":{\"pending\":0,\"delivered\":"), std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"checkpoint\":"), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("\"lag\":"), json.out.find("\"lag\":0,")) << json.out;
  EXPECT_NE(text.out.find("(0 behind)"), std::string::npos) << text.out;
  // The same figures as Prometheus text, as the admin server will serve them.
  auto prom = testing::RunCli({"status", "--prometheus"}, env);
  ASSERT_EQ(prom.exit_code, 0) << prom.err;
  EXPECT_NE(
      prom.out.find("# TYPE cdc_events_published_total counter\ncdc_events_published_total 21\n"),
      std::string::npos)
      << prom.out;
  EXPECT_NE(prom.out.find("cdc_shard_lag_records{shard=\"3\"} 0\n"), std::string::npos) << prom.out;
  EXPECT_NE(prom.out.find("cdc_target_pending_records{target=\"analytics\"} 0\n"),
            std::string::npos)
      << prom.out;
  EXPECT_NE(prom.out.find("cdc_pipeline_running 0\n"), std::string::npos) << prom.out;
}

// SIGTERM gives delivery pipeline.shutdown_timeout_ms; a target stuck for good (here a FIFO
// nobody reads: once its buffer is full, writing never returns) cannot hold the process hostage,
// and nothing is lost: the next start delivers what was not checkpointed.
TEST(Durable, SigtermExitsWithinTheShutdownTimeoutEvenWithATargetStuck) {
  TempDir dir;
  // No checkpoint (which fsyncs the targets, and a FIFO refuses fsync) before the pipe is full,
  // however slowly a loaded machine runs the source.
  WriteConfig(dir, 300, "\nstate:\n  checkpoint_interval_ms: 600000\n");
  // 400 user updates: far more than a pipe buffer (64 KiB) of analytics events.
  std::string input = UserUpdates(400, 200);
  testing::WriteFile(dir / "input.jsonl", input);
  std::filesystem::create_directories(dir / "consumers");
  ASSERT_EQ(::mkfifo((dir / "consumers/analytics.jsonl").c_str(), 0600), 0);
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  CliProcess run({"run", "--config", dir / "config.yaml", "--input", dir / "input.jsonl"}, env,
                 dir / "run.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(run.running()) << testing::ReadFile(dir / "run.log");
  auto start = std::chrono::steady_clock::now();
  run.Signal(SIGTERM);
  int code = run.Wait(10);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(code, 1) << testing::ReadFile(dir / "run.log");
  EXPECT_LT(took, 5.0);
  EXPECT_NE(testing::ReadFile(dir / "run.log").find("delivery did not stop within"),
            std::string::npos)
      << testing::ReadFile(dir / "run.log");

  ASSERT_EQ(::unlink((dir / "consumers/analytics.jsonl").c_str()), 0);
  auto again =
      testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "/dev/null"}, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectSameAsACleanRun(dir, input);
}

// A stalled target stops the source instead of growing memory or the stream: with a target
// stuck and stream.max_unprocessed_bytes at 256 KiB, the pipeline reads only a little of a 9 MB
// input, says so, and holds only about the limit in the stream.
TEST(Durable, AStalledTargetStopsTheSourceInsteadOfGrowing) {
  TempDir dir;
  WriteConfig(dir, 200,
              "\nstream:\n  max_unprocessed_bytes: 262144\nstate:\n  checkpoint_interval_ms: "
              "600000\n");
  std::string input = UserUpdates(20000, 300);
  testing::WriteFile(dir / "input.jsonl", input);
  std::filesystem::create_directories(dir / "consumers");
  ASSERT_EQ(::mkfifo((dir / "consumers/analytics.jsonl").c_str(), 0600), 0);
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  CliProcess run({"run", "--config", dir / "config.yaml", "--input", dir / "input.jsonl"}, env,
                 dir / "run.log");
  bool paused = false;
  for (int i = 0; i < 200 && !paused; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    paused = testing::ReadFile(dir / "run.log").find("pausing the source") != std::string::npos;
  }
  ASSERT_TRUE(paused) << testing::ReadFile(dir / "run.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(run.running()) << testing::ReadFile(dir / "run.log");
  uintmax_t stream_bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "stream")) {
    if (e.is_regular_file()) stream_bytes += e.file_size();
  }
  EXPECT_GT(input.size(), 9000000u);
  EXPECT_LT(stream_bytes, 2u << 20) << "the source kept reading while the target was stuck";
  run.Signal(SIGTERM);
  EXPECT_EQ(run.Wait(10), 1) << testing::ReadFile(dir / "run.log");
}

// The stream's own disk full (here: a file-size limit, so writes fail with EFBIG): the pipeline
// stops with the file and the error, and the next run delivers everything exactly once.
TEST(Durable, AStreamThatCannotBeWrittenStopsThePipelineAndLosesNothing) {
  TempDir dir;
  std::string input = UserUpdates(3000, 200);
  testing::WriteFile(dir / "input.jsonl", input);
  // 256 KiB per file: the stream's segment outgrows it long before the consumer files do.
  std::string command =
      "cd " + std::string(CDC_SOURCE_DIR) + " && CDC_DATA_DIR=" + dir.path() +
      " CDC_HMAC_KEY=cdc-tests-hmac-key-not-a-secret" +
      " CDC_HMAC_KEY_SOURCE=env:CDC_HMAC_KEY bash -c \"trap '' XFSZ; ulimit -f 256; "
      "exec " +
      CDC_BINARY + " run --input " + (dir / "input.jsonl") + "\" > " + (dir / "limited.log") +
      " 2>&1";
  int rc = std::system(command.c_str());
  std::string log = testing::ReadFile(dir / "limited.log");
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << log;
  EXPECT_NE(log.find("File too large"), std::string::npos) << log;
  EXPECT_NE(log.find("stream"), std::string::npos) << log;

  auto again =
      testing::RunCli({"run", "--input", dir / "input.jsonl"}, {{"CDC_DATA_DIR", dir.path()}});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectSameAsACleanRun(dir, input);
}

}  // namespace
}  // namespace cdc
