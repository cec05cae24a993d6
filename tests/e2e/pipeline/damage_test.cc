// Damage to the data dir never passes silently (issue 23), end to end on a real PostgreSQL with
// the shipped CoreDB config and the binary: the newest stream segment deleted after kill -9, the
// last acknowledged record cut or flipped, a flipped byte in a fully delivered segment, garbage
// in a delivery cursor of state.db. Each time the pipeline either delivers every committed change
// to every consumer exactly once (wal2json on its own slot is the oracle, counted per consumer
// file), or refuses to start with exit 1, names the file and the way on, and changes nothing.
// `verify-data` finds each kind of damage and calls a clean data dir clean.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "e2e/pipeline/postgres_e2e.h"
#include "support/coredb.h"
#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

namespace fs = std::filesystem;
using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

using testing::ConsumerChanges;
using testing::OracleChanges;

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// The segment files of one shard, oldest first.
std::vector<std::string> Segments(const std::string& shard_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(shard_dir)) {
    if (e.path().extension() == ".log") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Per shard, the synced end the stream recorded (the `synced` file's lines).
std::vector<uint64_t> SyncedEnds(const std::string& stream_dir) {
  std::vector<uint64_t> out;
  std::istringstream in(testing::ReadFile(stream_dir + "/synced"));
  std::string word;
  while (in >> word) {
    if (word != "shard") continue;
    std::string shard, end;
    in >> shard >> end;
    out.push_back(std::stoull(end));
  }
  return out;
}

class DataDirDamage : public testing::PostgresE2E {
 protected:
  void SetUp() override {
    PostgresE2E::SetUp();
    if (HasFatalFailure()) return;
    // The shipped config with small segments, so that a few thousand changes fill several.
    std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
    config.replace(config.find("\ndead_letter:\n"), 14,
                   "\nstream:\n  segment_bytes: 65536\n\ndead_letter:\n");
    config_ = data_ / "pipeline.yaml";
    testing::WriteFile(config_, config);
    testing::CopyShippedModels(data_.path());
    run_args_ = {"run", "--config", config_};
  }

  testing::CommandResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> with_config = args;
    with_config.push_back("--config");
    with_config.push_back(config_);
    return testing::RunCli(with_config, env_);
  }
  std::unique_ptr<CliProcess> Run(const std::string& log) {
    return std::make_unique<CliProcess>(std::vector<std::string>{"run", "--config", config_}, env_,
                                        log);
  }

  // Streams a workload of `seconds` and stops cleanly.
  void StreamAndStop(double seconds) {
    std::string log = data_ / "run.log";
    auto run = StartStreaming(log);
    ASSERT_FALSE(HasFailure());
    auto generate = testing::RunCli(
        {"generate", "--rate", "800", "--duration", std::to_string(seconds), "--seed", "5"}, env_);
    ASSERT_EQ(generate.exit_code, 0) << generate.err;
    ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
    run->Signal(SIGTERM);
    ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  }

  // Every consumer file's bytes.
  std::map<std::string, std::string> ConsumerFiles() {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(data_ / "consumers")) {
      out[e.path().string()] = ReadBytes(e.path().string());
    }
    std::string dl = data_ / "dead-letter.jsonl";
    if (fs::exists(dl)) out[dl] = ReadBytes(dl);
    return out;
  }

  // `run` must refuse to start: exit 1, the log naming `what` and the way on, and no file of
  // the consumers changed.
  void ExpectRefusal(const std::vector<std::string>& mentions, const std::string& name) {
    auto before = ConsumerFiles();
    std::string log = data_ / (name + ".log");
    auto run = Run(log);
    int rc = run->Wait(120);
    if (rc == -1) run->Signal(SIGKILL);
    EXPECT_EQ(rc, 1) << testing::ReadFile(log);
    std::string text = testing::ReadFile(log);
    for (const auto& m : mentions) EXPECT_NE(text.find(m), std::string::npos) << m << "\n" << text;
    EXPECT_NE(text.find("verify-data"), std::string::npos) << text;
    EXPECT_EQ(ConsumerFiles(), before) << "a refused start must change no consumer file";
    auto verify = Cli({"verify-data"});
    EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
    for (const auto& m : mentions) {
      EXPECT_NE(verify.out.find(m), std::string::npos) << m << "\n" << verify.out;
    }
    EXPECT_NE(verify.out.find("remedy:"), std::string::npos) << verify.out;
  }

  void SetInState(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data_ / "state.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  std::string stream_dir() const { return data_ / "stream"; }
  std::string shard_dir(size_t i) const {
    char name[32];
    std::snprintf(name, sizeof(name), "/shard-%04zu", i);
    return stream_dir() + name;
  }

  std::string config_;
};

TEST_F(DataDirDamage, AFlippedByteInAFullyDeliveredSegmentDoesNotStopThePipeline) {
  StreamAndStop(4);
  ASSERT_FALSE(HasFailure());
  auto clean = Cli({"verify-data"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("verify-data: clean"), std::string::npos) << clean.out;

  // The oldest segment of a shard that has more than one: delivered to every target.
  std::string oldest;
  for (size_t i = 0; i < 4 && oldest.empty(); ++i) {
    auto segments = Segments(shard_dir(i));
    if (segments.size() >= 2) oldest = segments.front();
  }
  ASSERT_FALSE(oldest.empty()) << "the workload filled no second segment";
  std::string bytes = ReadBytes(oldest);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  WriteBytes(oldest, bytes);

  auto verify = Cli({"verify-data"});
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_NE(verify.out.find(oldest), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("all delivered to every target"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("mv " + oldest), std::string::npos) << verify.out;

  // It starts, and every change committed before and after arrives exactly once.
  std::string log = data_ / "run2.log";
  auto run = Run(log);
  auto generate =
      testing::RunCli({"generate", "--rate", "800", "--duration", "2", "--seed", "6"}, env_);
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(1000);

  // The remedy verify-data gave makes the data dir clean again.
  fs::rename(oldest, oldest + ".damaged");
  auto after = Cli({"verify-data"});
  EXPECT_EQ(after.exit_code, 0) << after.out;
}

TEST_F(DataDirDamage, TheNewestSegmentDeletedAfterKill9DuringABurstIsRefused) {
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess generate({"generate", "--rate", "1500", "--duration", "8", "--seed", "9"}, env_,
                      data_ / "generate.log");
  // Kill once a shard's newest segment holds synced (acknowledged) records.
  std::string victim;
  uint64_t synced_end = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (victim.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto ends = SyncedEnds(stream_dir());
    for (size_t i = 0; i < ends.size(); ++i) {
      auto segments = Segments(shard_dir(i));
      if (segments.size() < 2) continue;
      uint64_t first = std::stoull(fs::path(segments.back()).filename().string());
      if (first + 20 < ends[i]) {
        victim = segments.back();
        synced_end = ends[i];
        break;
      }
    }
  }
  ASSERT_FALSE(victim.empty()) << "no second segment with synced records";
  run->Signal(SIGKILL);
  ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
  ASSERT_EQ(generate.Wait(120), 0) << testing::ReadFile(data_ / "generate.log");
  // The kill came after `victim` held synced records; they may have grown since.
  std::string shard = fs::path(victim).parent_path().string();
  auto segments = Segments(shard);
  std::string newest = segments.back();
  fs::remove(newest);
  ExpectRefusal({shard, "acknowledged to the source"}, "refused");
  (void)synced_end;
}

TEST_F(DataDirDamage, TheLastAcknowledgedRecordCutOrFlippedIsRefused) {
  StreamAndStop(2);
  ASSERT_FALSE(HasFailure());
  std::string newest;
  for (size_t i = 0; i < 4 && newest.empty(); ++i) {
    auto segments = Segments(shard_dir(i));
    if (!segments.empty() && fs::file_size(segments.back()) > 100) newest = segments.back();
  }
  ASSERT_FALSE(newest.empty());
  std::string original = ReadBytes(newest);

  std::string flipped = original;
  flipped[flipped.size() - 5] = static_cast<char>(flipped[flipped.size() - 5] ^ 0x01);
  WriteBytes(newest, flipped);
  ExpectRefusal({newest, "checksum mismatch"}, "flipped");
  EXPECT_EQ(ReadBytes(newest), flipped) << "the damaged segment must be left as it was";

  WriteBytes(newest, original.substr(0, original.size() - 9));
  ExpectRefusal({newest, "acknowledged to the source"}, "cut");
  EXPECT_EQ(ReadBytes(newest).size(), original.size() - 9);

  WriteBytes(newest, original);
  auto verify = Cli({"verify-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(DataDirDamage, AGarbageDeliveryCursorIsRefusedAndNoFileIsCut) {
  StreamAndStop(2);
  ASSERT_FALSE(HasFailure());
  ASSERT_GT(fs::file_size(data_ / "consumers/wallboards.jsonl"), 0u);
  SetInState("UPDATE target_marks SET cursor = '12ab' WHERE target = 'wallboards'");
  ExpectRefusal({"table target_marks, key 'wallboards'", "'12ab'"}, "target");
  SetInState(
      "UPDATE target_marks SET cursor = (SELECT cursor FROM target_marks WHERE target = "
      "'analytics') WHERE target = 'wallboards'");

  // The dead-letter file: its cursor read as 0 would erase every dead letter.
  std::string dl = data_ / "dead-letter.jsonl";
  testing::WriteFile(dl, "{\"stage\":\"test\",\"reason\":\"kept\"}\n");
  std::string cursor = std::to_string(fs::file_size(dl));
  SetInState("UPDATE target_marks SET cursor = 'lots' WHERE target = '@dead-letter'");
  ExpectRefusal({"table target_marks, key '@dead-letter'", "'lots'"}, "dead-letter");
  EXPECT_EQ(testing::ReadFile(dl), "{\"stage\":\"test\",\"reason\":\"kept\"}\n");
  (void)cursor;
}

}  // namespace
}  // namespace cdc

namespace cdc {
namespace {

void RemoveStateStore(const fs::path& data) {
  for (const char* f : {"state.db", "state.db-wal", "state.db-shm"}) fs::remove(data / f);
}

TEST_F(DataDirDamage, AnEmptyStateStoreBesideAnEarlierRunsDataIsRefused) {
  StreamAndStop(1);
  ASSERT_FALSE(HasFailure());
  // state.db deleted after a clean stop: every consumer would get everything again.
  RemoveStateStore(data_.path());
  ExpectRefusal({"state.db", "is empty", "the stream", "--reset-state"}, "no-state");
  // Also the stream gone: the consumer files still tell of an earlier run.
  RemoveStateStore(data_.path());
  fs::remove_all(stream_dir());
  ExpectRefusal({"state.db", "is empty", "consumers/", "--reset-state"}, "no-state-no-stream");
}

TEST_F(DataDirDamage, AStateStoreAndAStreamOfDifferentPipelinesAreRefused) {
  StreamAndStop(1);
  ASSERT_FALSE(HasFailure());
  // The stream of another data dir (or backup): its metadata names another pipeline.
  std::string meta_path = stream_dir() + "/stream.meta";
  std::string meta = ReadBytes(meta_path);
  size_t at = meta.find("pipeline_id ");
  ASSERT_NE(at, std::string::npos) << meta;
  const std::string other = "00000000-0000-4000-8000-000000000000";
  meta.replace(at + 12, meta.find('\n', at) - at - 12, other);
  WriteBytes(meta_path, meta);
  ExpectRefusal({"belongs to pipeline", other}, "mixed");
}

TEST_F(DataDirDamage, ASlotRecordOfAnotherPipelineIsRefused) {
  StreamAndStop(1);
  ASSERT_FALSE(HasFailure());
  // The slot's owner record names another pipeline (a data dir put together from parts).
  std::string path = data_ / "postgres-slot-cdc_pipeline.owner";
  std::string record = ReadBytes(path);
  size_t at = record.find("pipeline_id ");
  ASSERT_NE(at, std::string::npos) << record;
  const std::string other = "00000000-0000-4000-8000-00000000beef";
  record.replace(at + 12, record.find('\n', at) - at - 12, other);
  WriteBytes(path, record);
  ExpectRefusal({"was created for pipeline " + other, "--adopt-slot"}, "foreign-slot");
}

}  // namespace
}  // namespace cdc
