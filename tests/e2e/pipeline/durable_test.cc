// The durable stream and the state store through the binary, with JSON input (no database):
// redelivery is recognised by id, a second process on the same data dir is refused, a target
// whose disk is full stops the pipeline without losing anything, and `status` reports counts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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
  holder.Signal(SIGTERM);
  EXPECT_EQ(holder.Wait(10), 0) << testing::ReadFile(dir / "holder.log");
}

TEST(Durable, AFullDiskAtATargetStopsThePipelineAndLosesNothing) {
  TempDir dir;
  std::map<std::string, std::string> env = {{"CDC_DATA_DIR", dir.path()}};
  std::filesystem::create_directories(dir / "consumers");
  ASSERT_EQ(::symlink("/dev/full", (dir / "consumers/analytics.jsonl").c_str()), 0);
  auto failed = testing::RunCli({"run", "--input", "-"}, env, CDC_SOURCE_DIR, SampleInput());
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_NE(failed.err.find("No space left on device"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("analytics"), std::string::npos) << failed.err;
  EXPECT_FALSE(testing::FileExists(dir / "dead-letter.jsonl"))
      << "a full disk is not the event's fault: nothing is dead-lettered";

  // Space again: the next run delivers everything from the stream, each event once.
  ASSERT_EQ(::unlink((dir / "consumers/analytics.jsonl").c_str()), 0);
  auto again = testing::RunCli({"run", "--input", "/dev/null"}, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  TempDir reference;
  auto clean = testing::RunCli({"run", "--input", "-"}, {{"CDC_DATA_DIR", reference.path()}},
                               CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  for (const auto& f : testing::ListFiles(reference / "consumers")) {
    EXPECT_EQ(testing::ReadFile(dir / ("consumers/" + f)),
              testing::ReadFile(reference / ("consumers/" + f)))
        << f;
  }
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
}

}  // namespace
}  // namespace cdc
