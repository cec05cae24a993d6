// The dynamodb state store against dynalite (npm, started once per test process), read back with
// the AWS CLI: every field round-trips through a reopen, the lease refuses a second owner and is
// taken over after it expires or when its holder died on this host, a former owner is fenced and
// writes nothing, read-only opens work beside the owner, a missing table, an unreachable
// endpoint and an oversized state are clear errors; and `cdc-pipeline run` with the store,
// killed with SIGKILL mid-run and restarted, delivers every event once.
//
// Refused credentials are not tested here: dynalite does not check signatures (any key is
// accepted), so the refusal cannot happen; aws_client_test.cc covers the client's classification
// of UnrecognizedClientException and friends.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "base/time.h"
#include "config/config.h"
#include "integration/aws/aws_test_util.h"
#include "state/dynamodb/dynamodb_state_store.h"
#include "support/config_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using state::CheckpointCommit;
using state::StateStore;
using state::TargetMark;
using testing::AwsEmulator;

std::string HostName() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

int64_t Now() { return SystemClock::Instance().Now().micros; }

// A table name no other test uses.
std::string UniqueTable(const std::string& what) {
  static std::atomic<int> n{0};
  return "state-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

class DynamoDbState : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
    std::string missing;
    dynalite_ = AwsEmulator::Dynalite(&missing);
    ASSERT_NE(dynalite_, nullptr) << "dynalite is not installed: " << missing;
    table_ = UniqueTable("t");
  }

  StateConfig Config(int64_t lease_ms = 3000, bool create = true,
                     const std::string& pipeline = "p1") {
    auto o = std::make_shared<state::DynamoDbStateOptions>();
    o->table = table_;
    o->create = create;
    o->endpoint = dynalite_->endpoint();
    o->lease_ms = lease_ms;
    o->retry_ms = 2000;
    StateConfig config;
    config.type = "dynamodb";
    config.kind = BuiltinRegistry().FindState("dynamodb");
    config.options = std::move(o);
    config.pipeline_name = pipeline;
    return config;
  }

  std::unique_ptr<StateStore> Open(const StateConfig& config, const std::string& owner) {
    auto store = state::OpenStateStore(config, owner, Now());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::unique_ptr<StateStore> OpenReadOnly(const StateConfig& config) {
    auto store = state::OpenStateStoreReadOnly(config);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // The items of the table as `aws dynamodb scan` prints them: sk -> the item's JSON.
  std::map<std::string, std::string> Scan() {
    return testing::ScanTableWithAwsCli(
        dynalite_->endpoint(), table_, [](simdjson::dom::element item) {
          return std::string(item["pk"]["S"].get_string().value_unsafe()) + "/" +
                 std::string(item["sk"]["S"].get_string().value_unsafe());
        });
  }

  // Writes the lease item of `pipeline` with the AWS CLI, as another process would have.
  void PutLease(const std::string& pipeline, const std::string& owner, uint64_t token,
                int64_t expires) {
    CDC_SKIP_WITHOUT_AWS_CLI();
    int64_t now = Now();
    std::string item = R"({"pk":{"S":")" + pipeline + R"("},"sk":{"S":"lease"},"owner":{"S":")" +
                       owner + R"("},"token":{"N":")" + std::to_string(token) +
                       R"("},"acquired":{"N":")" + std::to_string(now) + R"("},"renewed":{"N":")" +
                       std::to_string(now) + R"("},"expires":{"N":")" + std::to_string(expires) +
                       R"("}})";
    auto r = testing::RunAwsCli(dynalite_->endpoint(), "dynamodb put-item --table-name " + table_ +
                                                           " --item '" + item + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  AwsEmulator* dynalite_ = nullptr;
  std::string table_;
};

CheckpointCommit SampleCommit(int64_t now) {
  CheckpointCommit c;
  c.now_micros = now;
  c.shard_checkpoints = {{0, 5}, {1, 7}, {3, 0}};
  TargetMark mark;
  mark.cursor = "1234";
  mark.shard_next = {{0, 5}, {1, 6}};
  mark.delivered = 11;
  mark.dead_lettered = 2;
  c.target_marks["wallboard"] = mark;
  TargetMark dead;
  dead.cursor = "0";
  dead.shard_next = {{0, 5}, {1, 7}, {3, 0}};
  c.target_marks[state::kDeadLetterMark] = dead;
  c.values["source.position"] = "pg 0/16B3748 729 0";
  c.values["api.rules"] = "{\"r\":\"quote \\\" and\nnewline, ünïcode\"}";
  c.dedupe_keys = {{"k-long", now + 3600'000'000LL}, {"k-short", now + 1000}};
  return c;
}

TEST_F(DynamoDbState, EveryFieldSurvivesAReopenAndTheCliSeesTheStateItem) {
  int64_t now = Now();
  CheckpointCommit commit = SampleCommit(now);
  {
    auto store = Open(Config(), "pid 1 on host a");
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->lease().token, 1u);
    EXPECT_EQ(store->lease().owner, "pid 1 on host a");
    ASSERT_TRUE(store->Commit(commit).ok());
    // A second commit merges: one shard moves on, one value is added, the rest stays.
    CheckpointCommit more;
    more.now_micros = now;
    more.shard_checkpoints = {{0, 9}};
    more.values["count.published"] = "42";
    ASSERT_TRUE(store->Commit(more).ok());
    EXPECT_TRUE(*store->HasKey("k-long", now));
    EXPECT_FALSE(*store->HasKey("k-other", now));
    // Backwards is refused, nothing written.
    CheckpointCommit back;
    back.shard_checkpoints = {{1, 6}};
    auto s = store->Commit(back);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  }
  auto store = Open(Config(), "pid 2 on host a");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->lease().token, 2u);  // a clean close freed the lease
  auto checkpoints = *store->ShardCheckpoints();
  EXPECT_EQ(checkpoints, (std::map<uint32_t, uint64_t>{{0, 9}, {1, 7}, {3, 0}}));
  EXPECT_EQ(*store->TargetMarks(), commit.target_marks);
  EXPECT_EQ(*store->Value("source.position"), commit.values["source.position"]);
  EXPECT_EQ(*store->Value("api.rules"), commit.values["api.rules"]);
  EXPECT_EQ(*store->Value("count.published"), std::optional<std::string>("42"));
  EXPECT_EQ(*store->Value("nothing"), std::nullopt);
  // Dedupe keys: read from their items by a store that did not write them.
  EXPECT_TRUE(*store->HasKey("k-long", now));
  EXPECT_TRUE(*store->HasKey("k-short", now));
  EXPECT_FALSE(*store->HasKey("k-short", now + 1000));
  EXPECT_FALSE(*store->HasKey("k-long", now + 3600'000'000LL));
  EXPECT_EQ(*store->ExpireKeys(now + 2000), 1u);
  EXPECT_EQ(*store->ExpireKeys(now + 2000), 0u);
  EXPECT_TRUE(*store->HasKey("k-long", now));

  CDC_SKIP_WITHOUT_AWS_CLI();
  auto items = Scan();
  ASSERT_EQ(items.count("p1/state"), 1u) << testing::ReadFile("/dev/null");
  const std::string& state_item = items["p1/state"];
  EXPECT_NE(state_item.find(R"("token":{"N":"2"})"), std::string::npos) << state_item;
  EXPECT_NE(state_item.find("pg 0/16B3748 729 0"), std::string::npos) << state_item;
  EXPECT_NE(state_item.find(R"(\"wallboard\":{\"cursor\":\"1234\")"), std::string::npos)
      << state_item;
  EXPECT_NE(items["p1/lease"].find(R"("owner":{"S":"pid 2 on host a"})"), std::string::npos)
      << items["p1/lease"];
  EXPECT_EQ(items.count("p1/dedupe#k-long"), 1u);
  EXPECT_EQ(items.count("p1/dedupe#k-short"), 0u);  // expired and deleted
  EXPECT_NE(items["p1/dedupe#k-long"].find(R"("ttl":{"N":")"), std::string::npos);
  EXPECT_EQ(state::DescribeStateStore(Config()),
            "DynamoDB table " + table_ + " (us-east-1, " + dynalite_->endpoint() + ")");
}

// A crash between a commit's state item and its dedupe-key items (made here with the AWS CLI:
// the keys' items deleted, the commit's journal put back) leaves the journal the state item
// names: the next owner writes the keys from it, so no event is delivered twice; and a journal
// of a commit whose state item was never written (the version the claim takes) is dropped, its
// keys never count.
TEST_F(DynamoDbState, TheNextOwnerWritesTheLastCommitsKeysFromItsJournal) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  int64_t now = Now();
  int64_t expires = now + 3600'000'000LL;
  {
    auto store = Open(Config(), "pid 1 on host a");
    ASSERT_NE(store, nullptr);
    CheckpointCommit c;
    c.now_micros = now;
    c.dedupe_keys = {{"k-journal", expires}};
    ASSERT_TRUE(store->Commit(c).ok());
  }
  auto items = Scan();
  ASSERT_EQ(items.count("p1/dedupe#k-journal"), 1u);
  EXPECT_EQ(items.count("p1/journal#2#0"), 0u) << "deleted once the keys were items";
  const std::string& state = items["p1/state"];
  ASSERT_NE(state.find(R"("journal":{"N":"2"})"), std::string::npos) << state;
  ASSERT_NE(state.find(R"("journal_parts":{"N":"1"})"), std::string::npos) << state;
  auto cli = [&](const std::string& args) {
    auto r = testing::RunAwsCli(dynalite_->endpoint(), args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  };
  // The crash: the key's item is missing, the journal of version 2 is still there; and a journal
  // of version 3 (the next claim's), whose state item was never written, lingers.
  cli("dynamodb delete-item --table-name " + table_ +
      R"( --key '{"pk":{"S":"p1"},"sk":{"S":"dedupe#k-journal"}}')");
  cli("dynamodb put-item --table-name " + table_ +
      R"( --item '{"pk":{"S":"p1"},"sk":{"S":"journal#2#0"},"keys":{"S":"[[\"k-journal\",)" +
      std::to_string(expires) + R"(]]"}}')");
  cli("dynamodb put-item --table-name " + table_ +
      R"( --item '{"pk":{"S":"p1"},"sk":{"S":"journal#3#0"},"keys":{"S":"[[\"k-orphan\",)" +
      std::to_string(expires) + R"(]]"}}')");
  auto store = Open(Config(), "pid 2 on host a");
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(*store->HasKey("k-journal", now));
  EXPECT_FALSE(*store->HasKey("k-orphan", now));
  items = Scan();
  EXPECT_EQ(items.count("p1/dedupe#k-journal"), 1u);
  EXPECT_EQ(items.count("p1/dedupe#k-orphan"), 0u);
  EXPECT_EQ(items.count("p1/journal#2#0"), 0u);
  EXPECT_EQ(items.count("p1/journal#3#0"), 0u);
}

TEST_F(DynamoDbState, PipelinesShareATableWithoutSeeingEachOther) {
  auto a = Open(Config(3000, true, "alpha"), "owner a");
  auto b = Open(Config(3000, true, "beta"), "owner b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  CheckpointCommit c;
  c.values["who"] = "alpha";
  ASSERT_TRUE(a->Commit(c).ok());
  c.values["who"] = "beta";
  ASSERT_TRUE(b->Commit(c).ok());
  EXPECT_EQ(*OpenReadOnly(Config(3000, true, "alpha"))->Value("who"),
            std::optional<std::string>("alpha"));
  EXPECT_EQ(*OpenReadOnly(Config(3000, true, "beta"))->Value("who"),
            std::optional<std::string>("beta"));
}

TEST_F(DynamoDbState, ASecondOwnerIsRefusedWhileTheFirstRenewsAndTheMessageNamesIt) {
  auto first = Open(Config(600), "pid 4242 on host elsewhere");
  ASSERT_NE(first, nullptr);
  auto start = std::chrono::steady_clock::now();
  auto second = state::OpenStateStore(Config(600), "pid 1 on host here", Now());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().ToString();
  EXPECT_NE(second.status().message().find("pid 4242 on host elsewhere"), std::string::npos)
      << second.status().ToString();
  EXPECT_NE(second.status().message().find("expires"), std::string::npos);
  // Refused as soon as it saw the holder renew, within the 4/3 lease period it may wait.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  // The holder still commits.
  CheckpointCommit c;
  c.values["k"] = "v";
  EXPECT_TRUE(first->Commit(c).ok());
}

TEST_F(DynamoDbState, AStoppedOwnerLosesTheLeaseAndIsFencedWithoutWritingAnything) {
  auto old_owner = Open(Config(500), "pid 4242 on host zombie");
  ASSERT_NE(old_owner, nullptr);
  CheckpointCommit c;
  c.shard_checkpoints = {{0, 10}};
  c.values["v"] = "old";
  ASSERT_TRUE(old_owner->Commit(c).ok());
  state::SuspendLeaseRenewalForTest(*old_owner);
  // A renewal already on the wire lands before the new owner first looks.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto start = std::chrono::steady_clock::now();
  auto new_owner = Open(Config(500), "pid 4343 on host fresh");
  ASSERT_NE(new_owner, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(new_owner->lease().token, old_owner->lease().token + 1);
  EXPECT_EQ(*new_owner->Value("v"), std::optional<std::string>("old"));
  c.shard_checkpoints = {{0, 20}};
  c.values["v"] = "new";
  ASSERT_TRUE(new_owner->Commit(c).ok());

  // The zombie wakes up and commits: fenced, nothing written.
  c.shard_checkpoints = {{0, 30}};
  c.values["v"] = "zombie";
  c.dedupe_keys = {{"zombie-key", Now() + 3600'000'000LL}};
  auto s = old_owner->Commit(c);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("fenced"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("pid 4343 on host fresh"), std::string::npos) << s.ToString();
  // Every later call fails too.
  c.values["v"] = "zombie again";
  EXPECT_NE(old_owner->Commit(c).message().find("fenced"), std::string::npos);
  EXPECT_NE(old_owner->ExpireKeys(Now()).status().message().find("fenced"), std::string::npos);

  auto reader = OpenReadOnly(Config(500));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*reader->Value("v"), std::optional<std::string>("new"));
  EXPECT_EQ(reader->ShardCheckpoints()->at(0), 20u);
  EXPECT_EQ(reader->lease().owner, "pid 4343 on host fresh");
  EXPECT_FALSE(*reader->HasKey("zombie-key", Now()));
  // The new owner goes on.
  c.values["v"] = "newer";
  c.dedupe_keys.clear();
  EXPECT_TRUE(new_owner->Commit(c).ok());
}

TEST_F(DynamoDbState, ALeaseOfADeadProcessOnThisHostIsTakenAtOnce) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  { auto create = Open(Config(), "creator"); }  // the table
  std::string dead_owner = "pid " + std::to_string(child) + " on host " + HostName();
  PutLease("p1", dead_owner, 41, Now() + 3600'000'000LL);
  auto start = std::chrono::steady_clock::now();
  auto store = Open(Config(60000), "pid " + std::to_string(::getpid()) + " on host " + HostName());
  ASSERT_NE(store, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(store->lease().token, 42u);
  store.reset();

  // The same lease held by a live process of another host is not taken: it did not expire.
  PutLease("p1", "pid 1 on host another-machine", 50, Now() + 3600'000'000LL);
  auto refused = state::OpenStateStore(Config(300), "pid 9 on host here", Now());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("pid 1 on host another-machine"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("did not expire"), std::string::npos)
      << refused.status().ToString();
}

TEST_F(DynamoDbState, ReadOnlyOpensWhileTheOwnerHoldsTheLease) {
  auto owner = Open(Config(), "pid 77 on host a");
  ASSERT_NE(owner, nullptr);
  CheckpointCommit c;
  c.shard_checkpoints = {{2, 3}};
  c.values["pipeline.running"] = "true";
  ASSERT_TRUE(owner->Commit(c).ok());
  auto reader = OpenReadOnly(Config());
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->lease().owner, "pid 77 on host a");
  EXPECT_EQ(reader->lease().token, owner->lease().token);
  EXPECT_EQ(reader->ShardCheckpoints()->at(2), 3u);
  auto s = reader->Commit(c);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("read-only"), std::string::npos) << s.ToString();
  c.shard_checkpoints = {{2, 4}};
  EXPECT_TRUE(owner->Commit(c).ok());  // the reader took nothing from the owner
}

TEST_F(DynamoDbState, AMissingTableIsAClearErrorUnlessCreateIsSet) {
  auto s = state::OpenStateStore(Config(3000, /*create=*/false), "o", Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound) << s.status().ToString();
  EXPECT_NE(s.status().message().find(table_), std::string::npos) << s.status().ToString();
  EXPECT_NE(s.status().message().find("us-east-1"), std::string::npos);
  EXPECT_NE(s.status().message().find("state.create: true"), std::string::npos);
  auto ro = state::OpenStateStoreReadOnly(Config(3000, false));
  EXPECT_EQ(ro.status().code(), StatusCode::kNotFound) << ro.status().ToString();
  // With create: true the table is made, and a read-only open then finds no state yet.
  ASSERT_NE(Open(Config(3000, true, "other"), "o"), nullptr);
  ro = state::OpenStateStoreReadOnly(Config(3000, false));
  EXPECT_EQ(ro.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ro.status().message().find("no state yet for pipeline p1"), std::string::npos)
      << ro.status().ToString();
  if (!testing::AwsCliPath().empty()) {
    auto d =
        testing::RunAwsCli(dynalite_->endpoint(), "dynamodb describe-table --table-name " + table_);
    EXPECT_NE(d.out.find("PAY_PER_REQUEST"), std::string::npos) << d.out;
  }
}

TEST_F(DynamoDbState, AnUnreachableEndpointIsRetriedForTheBudgetThenFails) {
  StateConfig config = Config();
  auto o = std::make_shared<state::DynamoDbStateOptions>(
      *config.OptionsAs<state::DynamoDbStateOptions>());
  o->endpoint = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  o->retry_ms = 700;
  o->timeout_ms = 200;
  config.options = o;
  auto start = std::chrono::steady_clock::now();
  auto s = state::OpenStateStore(config, "o", Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
  EXPECT_NE(s.status().message().find("gave up after"), std::string::npos) << s.status().ToString();
  // Retried, not given up at the first refusal; and given up within the budget (a backoff
  // that would end past it is not slept, so the time has no lower bound).
  EXPECT_EQ(s.status().message().find("gave up after 1 attempts"), std::string::npos)
      << s.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(DynamoDbState, AStateOverTheItemLimitIsRefusedNamingWhatIsBig) {
  auto store = Open(Config(), "o");
  ASSERT_NE(store, nullptr);
  CheckpointCommit c;
  c.values["small"] = "1";
  ASSERT_TRUE(store->Commit(c).ok());
  c.values["api.rules"] = std::string(450 * 1024, 'x');
  auto s = store->Commit(c);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("item limit"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("the largest is 'api.rules'"), std::string::npos) << s.ToString();
  // Nothing of it was written, and the store goes on.
  EXPECT_EQ(*OpenReadOnly(Config())->Value("api.rules"), std::nullopt);
  EXPECT_EQ(*store->Value("api.rules"), std::nullopt);
  c.values["api.rules"] = "{}";
  EXPECT_TRUE(store->Commit(c).ok());
}

TEST(DynamoDbStateConfig, TableDefaultsAndLastImagesAreRefused) {
  auto loaded = testing::LoadYaml(std::string(R"(
state:
  type: dynamodb
  create: true
  lease_ms: 5000
tables:
  users:
    unchanged_toast: last_image
)") + testing::kRouteAllToStdout);
  ASSERT_FALSE(loaded.errors.empty());
  std::string errors = testing::ErrorLines(loaded.errors);
  EXPECT_NE(errors.find("unchanged_toast: last_image"), std::string::npos) << errors;
  EXPECT_NE(errors.find("'dynamodb' does not keep"), std::string::npos) << errors;

  const std::string tables = "tables:\n  users:\n    event_types: [INSERT]\n";
  loaded = testing::LoadYaml(
      "state:\n  type: dynamodb\n  table: ${T:-x}\n" + tables + testing::kRouteAllToStdout,
      {{"T", "from-env"}});
  ASSERT_TRUE(loaded.errors.empty()) << testing::ErrorLines(loaded.errors);
  EXPECT_EQ(state::DynamoDbStateTable(loaded.config->state), "from-env");
  EXPECT_EQ(loaded.config->state.pipeline_name, "coredb");
  loaded = testing::LoadYaml("state:\n  type: dynamodb\n" + tables + testing::kRouteAllToStdout);
  ASSERT_TRUE(loaded.errors.empty()) << testing::ErrorLines(loaded.errors);
  ::unsetenv("STATE_TABLE_NAME");
  EXPECT_EQ(state::DynamoDbStateTable(loaded.config->state), "cdc-pipeline-state");
  ::setenv("STATE_TABLE_NAME", "named-by-env", 1);
  EXPECT_EQ(state::DynamoDbStateTable(loaded.config->state), "named-by-env");
  ::unsetenv("STATE_TABLE_NAME");
}

size_t CountLines(const testing::TempDir& dir) {
  size_t n = 0;
  for (const auto& f : testing::ListFiles(dir / "consumers")) {
    n += testing::ReadLines(dir / ("consumers/" + f)).size();
  }
  return n;
}

// `run` with the dynamodb state store and JSON input: a first run delivers a first part; a second
// run on the whole input (the first part's events are recognised by their dedupe keys in the
// table) is killed with SIGKILL while it delivers the rest; a third run on the whole input takes
// the dead process's lease at once and resumes from the last checkpoint. Every consumer file then
// holds exactly what a clean run of the whole input gives.
TEST(DynamoDbStatePipeline, KilledMidRunAndRestartedDeliversEveryEventOnce) {
  std::string missing;
  AwsEmulator* dynalite = AwsEmulator::Dynalite(&missing);
  ASSERT_NE(dynalite, nullptr) << "dynalite is not installed: " << missing;
  testing::TempDir dir;
  std::string table = UniqueTable("run");
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  config += "\nstate:\n  type: dynamodb\n  table: " + table +
            "\n  create: true\n  lease_ms: 3000\n  checkpoint_interval_ms: 20\n  endpoint: " +
            dynalite->endpoint() + "\n";
  testing::WriteFile(dir / "config.yaml", config);
  testing::CopyShippedModels(dir.path());

  std::string first, whole;
  for (int i = 0; i < 6000; ++i) {
    std::string id = "usr_" + std::to_string(i);
    whole += R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
             R"("before":{"id":")" +
             id + R"(","status":"active"},"after":{"id":")" + id +
             R"(","status":"inactive","full_name":"n)" + std::to_string(i) + "\"}}\n";
    if (i == 499) first = whole;
  }
  testing::WriteFile(dir / "first.jsonl", first);
  testing::WriteFile(dir / "whole.jsonl", whole);
  std::map<std::string, std::string> env = testing::AwsTestEnv();
  env["CDC_DATA_DIR"] = dir.path();
  const std::vector<std::string> run_whole = {"run", "-c", dir / "config.yaml", "--input",
                                              dir / "whole.jsonl"};

  auto run1 =
      testing::RunCli({"run", "-c", dir / "config.yaml", "--input", dir / "first.jsonl"}, env);
  ASSERT_EQ(run1.exit_code, 0) << run1.err;
  size_t after_first = CountLines(dir);
  ASSERT_GT(after_first, 0u);
  {
    testing::CliProcess run2(run_whole, env, dir / "run2.log");
    bool progressed = false;
    for (int i = 0; i < 3000 && !progressed && run2.running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      progressed = CountLines(dir) > after_first + 300;
    }
    ASSERT_TRUE(progressed && run2.running())
        << "the second run finished before it could be killed: "
        << testing::ReadFile(dir / "run2.log");
    run2.Signal(SIGKILL);
    EXPECT_EQ(run2.Wait(10), 128 + SIGKILL);
    EXPECT_NE(testing::ReadFile(dir / "run2.log").find("lease token 2"), std::string::npos)
        << testing::ReadFile(dir / "run2.log");
  }
  auto run3 = testing::RunCli(run_whole, env);
  ASSERT_EQ(run3.exit_code, 0) << run3.err;
  // The killed owner was of this host: its lease was taken at once, with the next token.
  EXPECT_NE(run3.err.find("lease token 3"), std::string::npos) << run3.err;
  EXPECT_NE(run3.err.find("its process is gone"), std::string::npos) << run3.err;

  testing::TempDir reference;
  testing::WriteFile(reference / "whole.jsonl", whole);
  // The same environment (AWS_REGION is the bus's region), the default (SQLite) state store.
  std::map<std::string, std::string> reference_env = testing::AwsTestEnv();
  reference_env["CDC_DATA_DIR"] = reference.path();
  auto clean = testing::RunCli({"run", "--input", reference / "whole.jsonl"}, reference_env);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  auto files = testing::ListFiles(reference / "consumers");
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(testing::ListFiles(dir / "consumers"), files);
  for (const auto& f : files) {
    auto got = testing::ReadLines(dir / ("consumers/" + f));
    auto want = testing::ReadLines(reference / ("consumers/" + f));
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got.size(), want.size()) << f;
    auto differ = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
    EXPECT_TRUE(differ.first == got.end() && differ.second == want.end())
        << f << ": first difference:\n  got  "
        << (differ.first == got.end() ? std::string("(end)") : *differ.first) << "\n  want "
        << (differ.second == want.end() ? std::string("(end)") : *differ.second);
  }
  // `status` reads the state from the table.
  auto status = testing::RunCli({"status", "-c", dir / "config.yaml"}, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("pipeline coredb"), std::string::npos) << status.out;
  // verify-data reads the state from the table and finds it agrees with the stream and files.
  auto verify = testing::RunCli({"verify-data", "-c", dir / "config.yaml"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("DynamoDB table " + table), std::string::npos) << verify.out;
}

}  // namespace
}  // namespace cdc
