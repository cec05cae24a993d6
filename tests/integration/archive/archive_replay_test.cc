// Archives and replay through the binary, on real files (JSON input, no database): `run` archives
// exactly the events that match each archive's pattern, exactly once across restarts;
// `cdc-pipeline replay` sends a time window of an archive through the rules again with
// "replay-name", with and without --rule; the next `run` keeps the replayed lines; a replay is
// refused while `run` holds the data dir; bad arguments give clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "archive/archive.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::ReadLines;
using testing::RunCli;
using testing::TempDir;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Seven changes between 10:00 and 11:00 on 2024-01-15: five of users, two of orders.
const char* kInput =
    R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:00:00Z","after":{"id":"u1","status":"new"}}
{"eventType":"INSERT","tableName":"orders","timestamp":"2024-01-15T10:05:00Z","after":{"id":"o1","total":5}}
{"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:10:00Z","before":{"id":"u1","status":"new"},"after":{"id":"u1","status":"active"}}
{"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:20:00.250Z","before":{"id":"u2","status":"new"},"after":{"id":"u2","status":"gone"}}
{"eventType":"UPDATE","tableName":"orders","timestamp":"2024-01-15T10:30:00Z","before":{"id":"o1","total":5},"after":{"id":"o1","total":6}}
{"eventType":"DELETE","tableName":"users","timestamp":"2024-01-15T10:40:00Z","before":{"id":"u1","status":"active"}}
{"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T11:00:00Z","after":{"id":"u3","status":"new"}}
)";

class ArchiveReplayTest : public ::testing::Test {
 protected:
  ArchiveReplayTest() {
    std::string data = dir_ / "data";
    testing::WriteFile(dir_ / "config.yaml", R"(pipeline:
  name: coredb
  data_dir: )" + data + R"(
  shutdown_timeout_ms: 2000
admin: {listen: "127.0.0.1:0"}
source: {type: json, path: "-"}
state: {checkpoint_interval_ms: 100}
tables:
  users: {event_types: [INSERT, UPDATE, DELETE]}
  orders: {event_types: [INSERT, UPDATE]}
rules:
  everything:
    event_pattern: {source: [cdc.coredb]}
    targets: [all]
  user-status:
    event_pattern: {detail-type: [users.UPDATE]}
    targets:
      - target: status
        input_transformer:
          input_paths_map: {id: "$.detail.after.id", replay: "$['replay-name']"}
          input_template: '{"user": <id>, "replay": <replay>}'
  live-only:
    event_pattern: {source: [cdc.coredb], replay-name: [{exists: false}]}
    targets: [live]
targets:
  all: {type: file, path: )" + data + R"(/consumers/all.jsonl}
  status: {type: file, path: )" + data + R"(/consumers/status.jsonl}
  live: {type: file, path: )" + data + R"(/consumers/live.jsonl}
archives:
  - name: users-archive
    description: the changes of users only
    event_pattern: {detail: {tableName: [users]}}
  - name: everything-archive
    retention_days: 30
)");
  }

  std::string Config() const { return dir_ / "config.yaml"; }
  std::string Consumer(const std::string& name) const {
    return dir_ / ("data/consumers/" + name + ".jsonl");
  }
  std::string ArchiveDir(const std::string& name) const {
    return archive::ArchiveDir(dir_ / "data", name);
  }

  testing::CommandResult Run(const std::string& input) {
    return RunCli({"run", "-c", Config(), "--input", "-"}, {}, CDC_SOURCE_DIR, input);
  }
  testing::CommandResult Replay(std::vector<std::string> args) {
    args.insert(args.begin(), {"replay", "-c", Config()});
    return RunCli(args);
  }

  // Every event of an archive, as archived.
  std::vector<std::string> Archived(const std::string& name) {
    auto a = archive::Archive::Open(ArchiveDir(name), {});
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    std::vector<std::string> out;
    if (!a.ok()) return out;
    auto reader = (*a)->Read(INT64_MIN, INT64_MAX);
    EXPECT_TRUE(reader.ok());
    while (reader.ok()) {
      auto next = (*reader)->Next();
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok() || !next->has_value()) break;
      out.emplace_back((*next)->json);
    }
    return out;
  }

  static std::vector<std::string> WithReplayName(const std::vector<std::string>& events,
                                                 const std::string& name) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      out.push_back(e.substr(0, e.size() - 1) + R"(,"replay-name":")" + name + "\"}");
    }
    return out;
  }

  static std::vector<std::string> Concat(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  static std::vector<std::string> Where(const std::vector<std::string>& events,
                                        const std::string& part) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (Contains(e, part)) out.push_back(e);
    }
    return out;
  }

  TempDir dir_;
};

TEST_F(ArchiveReplayTest, ArchiveThenReplayWindowsWithAndWithoutARule) {
  auto run = Run(kInput);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(Contains(run.err, "archive:users-archive=5")) << run.err;
  EXPECT_TRUE(Contains(run.err, "archive:everything-archive=7")) << run.err;
  std::vector<std::string> all = ReadLines(Consumer("all"));
  ASSERT_EQ(all.size(), 7u);
  std::sort(all.begin(), all.end());  // the order across rows follows the shards

  // Each archive holds exactly the published events its pattern matches, as the bus sent them.
  std::vector<std::string> users = Archived("users-archive");
  std::vector<std::string> everything = Archived("everything-archive");
  std::vector<std::string> sorted_users = users, sorted_everything = everything;
  std::sort(sorted_users.begin(), sorted_users.end());
  std::sort(sorted_everything.begin(), sorted_everything.end());
  EXPECT_EQ(sorted_users, Where(all, R"("tableName":"users")"));
  EXPECT_EQ(sorted_everything, all);
  EXPECT_EQ(ReadLines(Consumer("status")).size(), 2u);
  EXPECT_EQ(ReadLines(Consumer("live")).size(), 7u);

  // `status` lists the archives like targets.
  auto status = RunCli({"status", "-c", Config()});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Contains(status.out, "archive:users-archive")) << status.out;

  // A crash of `run` would leave lines past the checkpoint: the replay cuts them first, as the
  // next start would.
  std::vector<std::string> all_before = ReadLines(Consumer("all"));
  std::vector<std::string> status_before = ReadLines(Consumer("status"));
  {
    std::ofstream f(Consumer("all"), std::ios::app);
    f << R"({"written":"after the last checkpoint"})"
      << "\n";
  }

  // [10:05, 10:40) holds the two updates of users: through every enabled rule, but not through
  // `live-only`, which excludes replays; input transformers see "replay-name".
  auto r1 = Replay({"--archive", "users-archive", "--start", "2024-01-15T10:05:00Z", "--end",
                    "2024-01-15T10:40:00Z", "--name", "r1"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  EXPECT_TRUE(Contains(r1.err,
                       "replay r1: read 5 of 5 archived events (100%), 2 in the window, "
                       "2 matched, 4 delivered"))
      << r1.err;
  EXPECT_TRUE(Contains(r1.err,
                       "read 5 archived events, 2 in the window, 2 matched, 4 delivered "
                       "(all=2, live=0, status=2), 0 dead-lettered"))
      << r1.err;
  EXPECT_TRUE(Contains(r1.err, "rules: everything, user-status, live-only")) << r1.err;
  std::vector<std::string> window = Where(users, R"("detail-type":"users.UPDATE")");
  ASSERT_EQ(window.size(), 2u);
  std::vector<std::string> replayed = WithReplayName(window, "r1");
  EXPECT_EQ(ReadLines(Consumer("all")), Concat(all_before, replayed));
  // In archive order, which follows the stream's shards.
  auto status_lines = [&](const std::string& name) {
    std::vector<std::string> out;
    for (const auto& e : window) {
      std::string user = Contains(e, R"("after":{"id":"u1")") ? "u1" : "u2";
      out.push_back(R"({"user":")" + user + R"(","replay":")" + name + "\"}");
    }
    return out;
  };
  std::vector<std::string> status_r1 = status_lines("r1");
  EXPECT_EQ(ReadLines(Consumer("status")), Concat(status_before, status_r1));
  EXPECT_EQ(ReadLines(Consumer("live")).size(), 7u);

  // Only one rule, bounds in epoch seconds, the default name: [10:00, 11:00) holds four changes
  // of users, two of them updates.
  auto r2 = Replay({"--archive", "users-archive", "--start", "1705312800", "--end", "1705316400",
                    "--rule", "user-status"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_TRUE(Contains(r2.err,
                       "read 5 archived events, 4 in the window, 2 matched, 2 delivered "
                       "(status=2)"))
      << r2.err;
  EXPECT_TRUE(Contains(r2.err, "rules: user-status\n")) << r2.err;
  std::vector<std::string> status_r2 = status_lines("users-archive-20240115T100000Z");
  EXPECT_EQ(ReadLines(Consumer("status")), Concat(Concat(status_before, status_r1), status_r2));
  EXPECT_EQ(ReadLines(Consumer("all")), Concat(all_before, replayed));

  // The next `run` keeps the replayed lines, delivers its own change after them, and archives
  // only that change: replayed events are never archived again.
  auto again = Run(
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T12:00:00Z","after":{"id":"u4","status":"new"}})"
      "\n");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::vector<std::string> final_all = ReadLines(Consumer("all"));
  ASSERT_EQ(final_all.size(), 10u);
  EXPECT_EQ(std::vector<std::string>(final_all.begin(), final_all.begin() + 9),
            Concat(all_before, replayed));
  EXPECT_TRUE(Contains(final_all.back(), R"("id":"u4")"));
  EXPECT_FALSE(Contains(final_all.back(), "replay-name"));
  EXPECT_EQ(ReadLines(Consumer("status")).size(), 6u);
  std::vector<std::string> users_after = Archived("users-archive");
  ASSERT_EQ(users_after.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(users_after.begin(), users_after.begin() + 5), users);
  for (const auto& e : Archived("everything-archive")) EXPECT_FALSE(Contains(e, "replay-name"));
}

TEST_F(ArchiveReplayTest, ArchivedEventsPastTheCheckpointAreCutOnRestart) {
  auto run = Run(kInput);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> before = Archived("users-archive");
  ASSERT_EQ(before.size(), 5u);
  // What a crash after an archive sync but before the checkpoint leaves behind.
  {
    auto a = archive::Archive::Open(ArchiveDir("users-archive"), {});
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE((*a)->Append(0, R"({"id":"not checkpointed"})", 0).ok());
    ASSERT_TRUE((*a)->Sync().ok());
  }
  ASSERT_EQ(Archived("users-archive").size(), 6u);
  // A replay never reads past the checkpoint either.
  auto r = Replay({"--archive", "users-archive", "--start", "0", "--end", "2000000000", "--rule",
                   "everything", "--name", "past"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "read 5 archived events, 5 in the window")) << r.err;

  auto again = Run("");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Archived("users-archive"), before);
  EXPECT_TRUE(Contains(again.err, "archive:users-archive=5")) << again.err;
}

TEST_F(ArchiveReplayTest, ReplayIsRefusedWhileRunHoldsTheDataDir) {
  ASSERT_EQ(Run(kInput).exit_code, 0);
  std::string fifo = dir_ / "input.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  CliProcess holder({"run", "-c", Config(), "--input", fifo}, {}, dir_ / "holder.log");
  testing::CommandResult refused;
  bool locked = false;
  for (int i = 0; i < 200 && !locked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!Contains(testing::ReadFile(dir_ / "holder.log"), "lease token")) continue;
    refused = Replay({"--archive", "users-archive", "--start", "0", "--end", "2000000000"});
    locked = refused.exit_code != 0;
  }
  ASSERT_TRUE(locked) << refused.err;
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "pid " + std::to_string(holder.pid()))) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "stop `cdc-pipeline run`")) << refused.err;
  size_t lines = ReadLines(Consumer("all")).size();
  holder.Signal(SIGTERM);
  EXPECT_EQ(holder.Wait(10), 0) << testing::ReadFile(dir_ / "holder.log");
  EXPECT_EQ(ReadLines(Consumer("all")).size(), lines) << "the refused replay wrote nothing";

  // Once `run` stopped, the same replay goes through.
  auto ok = Replay({"--archive", "users-archive", "--start", "0", "--end", "2000000000"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ReadLines(Consumer("all")).size(), lines + 5);
}

TEST_F(ArchiveReplayTest, BadArgumentsSayWhatToFix) {
  auto unknown = Replay({"--archive", "nope", "--start", "0", "--end", "10"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(Contains(unknown.err,
                       "unknown archive 'nope'; the config's archives are: users-archive, "
                       "everything-archive"))
      << unknown.err;

  auto backwards = Replay({"--archive", "users-archive", "--start", "2024-01-15T11:00:00Z", "--end",
                           "2024-01-15T10:00:00Z"});
  EXPECT_EQ(backwards.exit_code, 2);
  EXPECT_TRUE(Contains(backwards.err,
                       "the end of the replay (2024-01-15T10:00:00Z) must be after its start "
                       "(2024-01-15T11:00:00Z)"))
      << backwards.err;
  auto empty = Replay({"--archive", "users-archive", "--start", "100", "--end", "100"});
  EXPECT_EQ(empty.exit_code, 2);

  auto bad_time = Replay({"--archive", "users-archive", "--start", "yesterday", "--end", "10"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_TRUE(Contains(bad_time.err, "--start 'yesterday' is not a time: write RFC 3339"))
      << bad_time.err;
  auto no_zone =
      Replay({"--archive", "users-archive", "--start", "0", "--end", "2024-01-15T10:00:00"});
  EXPECT_EQ(no_zone.exit_code, 2);
  EXPECT_TRUE(Contains(no_zone.err, "--end '2024-01-15T10:00:00' is not a time")) << no_zone.err;

  auto rule = Replay({"--archive", "users-archive", "--start", "0", "--end", "10", "--rule", "x"});
  EXPECT_EQ(rule.exit_code, 2);
  EXPECT_TRUE(Contains(rule.err,
                       "unknown rule 'x'; the config's enabled rules are: everything, "
                       "user-status, live-only"))
      << rule.err;

  auto name =
      Replay({"--archive", "users-archive", "--start", "0", "--end", "10", "--name", "no spaces"});
  EXPECT_EQ(name.exit_code, 2);
  EXPECT_TRUE(Contains(name.err, "'no spaces' is not a valid replay name")) << name.err;

  auto missing = Replay({"--archive", "users-archive", "--start", "0"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err + missing.out, "--end is required"));
  EXPECT_FALSE(testing::FileExists(dir_ / "data/state.db")) << "bad arguments touch nothing";

  // An archive nothing was archived in yet: nothing to replay, and that is not an error.
  auto nothing = Replay({"--archive", "users-archive", "--start", "0", "--end", "10"});
  EXPECT_EQ(nothing.exit_code, 0) << nothing.err;
  EXPECT_TRUE(Contains(nothing.err, "archive users-archive holds no events yet")) << nothing.err;
}

// A CloudEvents target receives replayed events in its format, the replay name as the extension
// attribute `replayname`, and the same id and data as the live event.
TEST(ArchiveReplayCloudEvents, ReplayedEventsKeepTheTargetsFormat) {
  TempDir dir;
  std::string data = dir / "data";
  testing::WriteFile(dir / "config.yaml", R"(pipeline: {data_dir: )" + data + R"(}
admin: {listen: "127.0.0.1:0"}
tables:
  users: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  ce:
    event_pattern: {source: [cdc.coredb]}
    targets: [ce]
targets:
  ce: {type: file, path: )" + data + R"(/ce.jsonl, format: cloudevents}
archives:
  - name: a
)");
  auto run = RunCli(
      {"run", "-c", dir / "config.yaml", "--input", "-"}, {}, CDC_SOURCE_DIR,
      R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:20:00.250Z","before":{"id":"u2"},"after":{"id":"u2","status":"gone"}})"
      "\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto replay = RunCli({"replay", "-c", dir / "config.yaml", "--archive", "a", "--start", "0",
                        "--end", "2000000000", "--name", "ce-1"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  std::vector<std::string> lines = ReadLines(data + "/ce.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  const std::string& live = lines[0];
  const std::string& replayed = lines[1];
  // The live event with the extension attribute before `data`.
  size_t data_at = live.find(R"(,"data":)");
  ASSERT_NE(data_at, std::string::npos) << live;
  EXPECT_EQ(replayed, live.substr(0, data_at) + R"(,"replayname":"ce-1")" + live.substr(data_at))
      << "live:     " << live << "\nreplayed: " << replayed;
  EXPECT_TRUE(Contains(live, R"("time":"2024-01-15T10:20:00.25Z")")) << live;
}

}  // namespace
}  // namespace cdc
