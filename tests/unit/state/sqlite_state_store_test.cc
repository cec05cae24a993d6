#include "state/sqlite_state_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/time.h"
#include "support/test_util.h"

namespace cdc::state {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

// Whether `text` contains `part`; the failure message shows both.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// Runs SQL on the file directly, as another writer would (bypassing the store and its lease).
void SqlExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The first column of the first row of `sql`, as text ("" when there is no row).
std::string SqlText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> Open(const std::string& owner = "pid 1 on host test",
                                   int64_t now = kT0) {
    auto store = OpenSqliteStateStore(path_, owner, now);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<StateStore> OpenReadOnly() {
    auto store = OpenSqliteStateStoreReadOnly(path_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  cdc::testing::TempDir dir_;
  std::string path_ = dir_ / "state.db";
};

CheckpointCommit TypicalCommit() {
  CheckpointCommit c;
  c.shard_checkpoints = {{0, 10}, {1, 0}, {7, std::numeric_limits<uint64_t>::max()}};
  TargetMark file;
  file.cursor = "4096";
  file.shard_next = {{0, 10}, {7, 3}};
  file.delivered = 12;
  file.dead_lettered = 1;
  TargetMark odd;
  odd.cursor = std::string("a\0b", 3);  // opaque bytes survive
  odd.delivered = std::numeric_limits<uint64_t>::max();
  TargetMark empty;
  c.target_marks = {{"wallboards", file}, {"odd", odd}, {"empty", empty}};
  c.values = {{"source.position", "0/1540978"}, {"stats", "{\"events\":12}"}, {"blank", ""}};
  c.dedupe_keys = {{"k1", kT0 + 1000}, {"k2", kT0 + 2000}};
  c.now_micros = kT0 + 10;
  return c;
}

void ExpectState(StateStore& store, const CheckpointCommit& c) {
  auto checkpoints = store.ShardCheckpoints();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status().ToString();
  EXPECT_EQ(*checkpoints, c.shard_checkpoints);
  auto marks = store.TargetMarks();
  ASSERT_TRUE(marks.ok()) << marks.status().ToString();
  EXPECT_EQ(*marks, c.target_marks);
  for (const auto& [key, value] : c.values) {
    auto v = store.Value(key);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(*v, std::optional<std::string>(value)) << key;
  }
  for (const auto& [key, expires] : c.dedupe_keys) {
    EXPECT_TRUE(*store.HasKey(key, expires - 1)) << key;
  }
}

TEST_F(SqliteStateStoreTest, RoundTripsEveryKindOfDataAcrossReopen) {
  CheckpointCommit commit = TypicalCommit();
  {
    auto store = Open("pid 1 on host a", kT0);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->lease().token, 1u);
    EXPECT_EQ(store->lease().owner, "pid 1 on host a");
    EXPECT_EQ(store->lease().acquired_micros, kT0);
    ASSERT_TRUE(store->Commit(commit).ok());
    EXPECT_EQ(store->lease().renewed_micros, kT0 + 10);
    ExpectState(*store, commit);
  }
  auto store = Open("pid 2 on host a", kT0 + 100);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->lease().token, 2u);
  EXPECT_EQ(store->lease().owner, "pid 2 on host a");
  ExpectState(*store, commit);
  EXPECT_EQ(*store->Value("missing"), std::nullopt);
  EXPECT_FALSE(*store->HasKey("missing", kT0));
}

TEST_F(SqliteStateStoreTest, UsesWalAndRecordsTheSchemaVersion) {
  ASSERT_NE(Open(), nullptr);
  EXPECT_EQ(SqlText(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(SqlText(path_, "PRAGMA user_version"), "2");
}

// A file of schema version 1 (before last row images) is migrated in place, its state kept.
TEST_F(SqliteStateStoreTest, MigratesAVersionOneFileAndKeepsItsState) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    CheckpointCommit commit;
    commit.values["source.position"] = "0/10";
    commit.now_micros = kT0;
    ASSERT_TRUE(store->Commit(commit).ok());
  }
  SqlExec(path_, "DROP TABLE last_images; PRAGMA user_version=1");
  auto store = Open("pid 2 on host a", kT0 + 100);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SqlText(path_, "PRAGMA user_version"), "2");
  EXPECT_EQ(*store->Value("source.position"), std::optional<std::string>("0/10"));
  auto images = store->OpenLastImages();
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(*(*images)->Get("t", "k"), std::nullopt);
}

// Last row images: written in one transaction (tables cleared first, then the writes in order),
// binary-safe, on a connection of their own beside the store's checkpoints.
TEST_F(SqliteStateStoreTest, LastImagesAreWrittenClearedAndErased) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto opened = store->OpenLastImages();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& images = **opened;
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(images
                  .Apply({}, {{"docs", "{\"id\":1}", binary},
                              {"docs", "{\"id\":2}", "two"},
                              {"other", "{\"id\":1}", "o"}})
                  .ok());
  EXPECT_EQ(*images.Get("docs", "{\"id\":1}"), std::optional<std::string>(binary));
  ASSERT_TRUE(
      images
          .Apply({"docs"}, {{"docs", "{\"id\":3}", "three"}, {"other", "{\"id\":1}", std::nullopt}})
          .ok());
  EXPECT_EQ(*images.Get("docs", "{\"id\":1}"), std::nullopt);
  EXPECT_EQ(*images.Get("docs", "{\"id\":3}"), std::optional<std::string>("three"));
  EXPECT_EQ(*images.Get("other", "{\"id\":1}"), std::nullopt);
  // The store's own commits go on meanwhile.
  CheckpointCommit commit;
  commit.values["k"] = "v";
  commit.now_micros = kT0 + 1;
  EXPECT_TRUE(store->Commit(commit).ok());
  EXPECT_FALSE(OpenSqliteStateStoreReadOnly(path_).value()->OpenLastImages().ok());
}

TEST_F(SqliteStateStoreTest, RefusesAFileFromANewerSchema) {
  ASSERT_NE(Open(), nullptr);
  SqlExec(path_, "PRAGMA user_version=99");
  auto store = OpenSqliteStateStore(path_, "pid 1", kT0);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(store.status().message(), path_));
  EXPECT_TRUE(Contains(store.status().message(), "schema version 99"));
}

TEST_F(SqliteStateStoreTest, TargetMarkIsReplacedWhole) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CheckpointCommit first;
  first.target_marks["t"] = TargetMark{"10", {{0, 5}, {1, 7}}, 3, 0};
  ASSERT_TRUE(store->Commit(first).ok());
  CheckpointCommit second;
  second.target_marks["t"] = TargetMark{"20", {{1, 9}}, 4, 1};
  ASSERT_TRUE(store->Commit(second).ok());
  EXPECT_EQ(*store->TargetMarks(), second.target_marks);
}

TEST_F(SqliteStateStoreTest, FailedCommitWritesNothingOfItself) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CheckpointCommit first;
  first.shard_checkpoints = {{0, 100}, {1, 50}};
  first.values = {{"source.position", "0/10"}};
  ASSERT_TRUE(store->Commit(first).ok());

  CheckpointCommit bad;
  bad.shard_checkpoints = {{0, 120}, {1, 40}};  // shard 0 advances, shard 1 moves backwards
  bad.target_marks["t"] = TargetMark{"1", {{0, 120}}, 1, 0};
  bad.values = {{"source.position", "0/20"}, {"new", "x"}};
  bad.dedupe_keys = {{"k", kT0 + 1000}};
  Status s = store->Commit(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "shard 1 would move backwards from 50 to 40"));
  EXPECT_TRUE(Contains(s.message(), path_));

  EXPECT_EQ(*store->ShardCheckpoints(), first.shard_checkpoints);
  EXPECT_TRUE(store->TargetMarks()->empty());
  EXPECT_EQ(*store->Value("source.position"), "0/10");
  EXPECT_EQ(*store->Value("new"), std::nullopt);
  EXPECT_FALSE(*store->HasKey("k", kT0));

  // The store stays usable, and an equal checkpoint is not a move backwards.
  CheckpointCommit next;
  next.shard_checkpoints = {{0, 120}, {1, 50}};
  ASSERT_TRUE(store->Commit(next).ok());
  EXPECT_EQ(*store->ShardCheckpoints(), next.shard_checkpoints);
}

TEST_F(SqliteStateStoreTest, DedupeKeysExpire) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CheckpointCommit c;
  c.dedupe_keys = {{"a", 100}, {"b", 200}, {"c", 300}};
  ASSERT_TRUE(store->Commit(c).ok());
  EXPECT_TRUE(*store->HasKey("a", 99));
  EXPECT_FALSE(*store->HasKey("a", 100));  // expires at 100

  // A later commit of the same key keeps the later expiry.
  CheckpointCommit again;
  again.dedupe_keys = {{"a", 50}, {"b", 250}};
  ASSERT_TRUE(store->Commit(again).ok());
  EXPECT_TRUE(*store->HasKey("a", 99));
  EXPECT_TRUE(*store->HasKey("b", 249));

  auto expired = store->ExpireKeys(100);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  EXPECT_EQ(*expired, 1u);
  EXPECT_EQ(*store->ExpireKeys(100), 0u);
  EXPECT_EQ(SqlText(path_, "SELECT count(*) FROM dedupe_keys"), "2");
  EXPECT_EQ(*store->ExpireKeys(1000), 2u);
  EXPECT_FALSE(*store->HasKey("c", 0));
}

TEST_F(SqliteStateStoreTest, SecondOpenInTheSameProcessIsRefused) {
  auto first = Open("pid 1 on host a", kT0);
  ASSERT_NE(first, nullptr);
  auto second = OpenSqliteStateStore(path_, "pid 1 on host b", kT0 + 1);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  const std::string& m = second.status().message();
  EXPECT_TRUE(Contains(m, "the data dir is in use: " + path_ + " is held by pid 1 on host a"));
  EXPECT_TRUE(Contains(m, "since " + FormatRfc3339(Timestamp{kT0})));
  EXPECT_TRUE(Contains(m, "pipeline.data_dir"));
  // The refusal did not touch the lease.
  EXPECT_TRUE(first->Commit(CheckpointCommit{}).ok());

  first.reset();
  auto third = Open("pid 1 on host b", kT0 + 2);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->lease().token, 2u);
}

TEST_F(SqliteStateStoreTest, LeaseIsRefusedAcrossProcessesAndFreedByKill9) {
  ASSERT_NE(Open("pid 0 on host parent"), nullptr);  // token 1, released again

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto store = OpenSqliteStateStore(path_, "pid 42 on host child", kT0 + 5);
    uint64_t token = store.ok() ? (*store)->lease().token : 0;
    if (::write(pipe_fds[1], &token, sizeof(token)) != sizeof(token)) ::_exit(1);
    while (true) ::pause();  // holds the lease until killed
  }
  ::close(pipe_fds[1]);
  uint64_t child_token = 0;
  ASSERT_EQ(::read(pipe_fds[0], &child_token, sizeof(child_token)),
            static_cast<ssize_t>(sizeof(child_token)));
  ::close(pipe_fds[0]);
  EXPECT_EQ(child_token, 2u);

  auto refused = OpenSqliteStateStore(path_, "pid 0 on host parent", kT0 + 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(refused.status().message(), "is held by pid 42 on host child since " +
                                                       FormatRfc3339(Timestamp{kT0 + 5})));

  auto reader = OpenReadOnly();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->lease().owner, "pid 42 on host child");
  EXPECT_EQ(reader->lease().token, child_token);

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));

  auto store = Open("pid 0 on host parent", kT0 + 20);
  ASSERT_NE(store, nullptr);
  EXPECT_GT(store->lease().token, child_token);
  EXPECT_EQ(store->lease().owner, "pid 0 on host parent");
}

TEST_F(SqliteStateStoreTest, FencedCommitFailsAndWritesNothing) {
  auto store = Open("pid 1 on host a");
  ASSERT_NE(store, nullptr);
  CheckpointCommit first;
  first.shard_checkpoints = {{0, 10}};
  ASSERT_TRUE(store->Commit(first).ok());

  // Another owner takes over behind this store's back (as after a lost lock on a network file
  // system): it bumps the token.
  SqlExec(path_, "UPDATE lease SET token = token + 1, owner = 'pid 9 on host intruder'");

  CheckpointCommit second;
  second.shard_checkpoints = {{0, 20}};
  second.target_marks["t"] = TargetMark{"1", {{0, 20}}, 1, 0};
  second.values = {{"source.position", "0/20"}};
  second.dedupe_keys = {{"k", kT0 + 1000}};
  second.now_micros = kT0 + 500;
  Status s = store->Commit(second);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.message(),
                       "fenced: another process (owner pid 9 on host intruder) took "
                       "over this data dir with token 2"));
  EXPECT_TRUE(Contains(s.message(), "this process stops"));

  EXPECT_EQ(*store->ShardCheckpoints(), first.shard_checkpoints);
  EXPECT_TRUE(store->TargetMarks()->empty());
  EXPECT_EQ(*store->Value("source.position"), std::nullopt);
  EXPECT_FALSE(*store->HasKey("k", kT0));
  EXPECT_NE(SqlText(path_, "SELECT renewed_micros FROM lease"), std::to_string(kT0 + 500));

  auto expired = store->ExpireKeys(kT0);
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(Contains(expired.status().message(), "fenced"));
}

TEST_F(SqliteStateStoreTest, ReadOnlySeesWhatTheWriterCommits) {
  auto writer = Open("pid 1 on host a", kT0);
  ASSERT_NE(writer, nullptr);
  auto reader = OpenReadOnly();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->lease().token, writer->lease().token);
  EXPECT_EQ(reader->lease().owner, "pid 1 on host a");
  EXPECT_TRUE(reader->ShardCheckpoints()->empty());

  CheckpointCommit commit = TypicalCommit();
  ASSERT_TRUE(writer->Commit(commit).ok());
  ExpectState(*reader, commit);

  CheckpointCommit next;
  next.shard_checkpoints = {{0, 11}};
  next.values = {{"source.position", "0/2000000"}};
  ASSERT_TRUE(writer->Commit(next).ok());
  EXPECT_EQ(reader->ShardCheckpoints()->at(0), 11u);
  EXPECT_EQ(*reader->Value("source.position"), "0/2000000");

  Status s = reader->Commit(next);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.message(), "read-only"));
  EXPECT_TRUE(Contains(s.message(), path_));
  EXPECT_FALSE(reader->ExpireKeys(kT0).ok());

  // After the writer is gone the file is still readable.
  writer.reset();
  reader.reset();
  reader = OpenReadOnly();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->ShardCheckpoints()->at(0), 11u);
}

TEST_F(SqliteStateStoreTest, ReadOnlyOfAMissingFileSaysThereIsNoStateYet) {
  auto store = OpenSqliteStateStoreReadOnly(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.status().message(),
            "no state yet at " + path_ + ": the pipeline has not run with this data dir");
  EXPECT_FALSE(cdc::testing::FileExists(path_));
}

TEST_F(SqliteStateStoreTest, OpenInAMissingDirectoryNamesThePath) {
  std::string path = dir_ / "missing/state.db";
  auto store = OpenSqliteStateStore(path, "pid 1", kT0);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(Contains(store.status().message(), path));
  EXPECT_TRUE(Contains(store.status().message(), "data dir exists"));
}

TEST_F(SqliteStateStoreTest, NotAStateStoreIsCorruption) {
  cdc::testing::WriteFile(path_, std::string(4096, 'x'));
  auto store = OpenSqliteStateStore(path_, "pid 1", kT0);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(store.status().message(), path_));
  EXPECT_TRUE(Contains(store.status().message(), "SQLite error"));
}

}  // namespace
}  // namespace cdc::state
