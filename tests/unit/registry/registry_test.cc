// The seam the engine connectors plug into: a pipeline assembled from kinds registered in a
// Registry of its own (an in-memory source and a capturing target), loaded from YAML and run
// through the durable stream, with no PostgreSQL and no built-in kind involved.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "event/position_kinds.h"
#include "runtime/pipeline.h"
#include "source/source.h"
#include "state/sqlite_state_store.h"
#include "stream/stream.h"
#include "support/config_util.h"
#include "support/test_util.h"
#include "target/target.h"

namespace cdc {
namespace {

// What the capturing target received, shared with the test.
struct Captured {
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<std::string> ids;
  // Per event: its stream shard and the thread that delivered it.
  std::vector<uint32_t> shards;
  std::vector<std::thread::id> threads;
  // What an exactly-once remote consumer would keep with the events: per shard, the first
  // stream offset it does not have.
  std::map<uint32_t, uint64_t> held;
};
Captured g_captured;

struct MemorySourceOptions : KindOptions {
  int64_t rows = 0;
  int64_t keys = 0;
};

// Emits `rows` INSERTs into users: change i (1..rows) has seq = i and id = i, or with `keys`,
// id = 1 + i % keys.
class MemorySource final : public Source {
 public:
  explicit MemorySource(const MemorySourceOptions& options)
      : rows_(options.rows), keys_(options.keys) {}
  Status Run(ChangeSink& sink) override {
    for (int64_t i = 1; i <= rows_; ++i) {
      ChangeEvent change;
      change.table = "users";
      change.op = Op::kInsert;
      Row key;
      key.Add("id", Value::Int64(keys_ > 0 ? 1 + i % keys_ : i));
      Row row = key;
      row.Add("seq", Value::Int64(i));
      change.key = key;
      change.after = row;
      change.commit_time = Timestamp{1700000000000000 + i};
      std::string n = std::to_string(i);
      change.position = ContentPosition(std::string(32 - n.size(), '0') + n);
      CDC_RETURN_IF_ERROR(sink.OnChange(std::move(change), RawInput{{}, "memory"}));
    }
    return sink.MakeDurable();
  }
  void Stop() override {}
  Status CheckHealth() override { return Status::Ok(); }

 private:
  int64_t rows_;
  int64_t keys_;
};

struct CaptureOptions : KindOptions {
  int64_t fail_after = 0;  // > 0: the target breaks (kFatal) after this many events
  bool remote = false;     // reports what it holds (Target::Held)
};

class CaptureTarget final : public Target {
 public:
  CaptureTarget(std::string name, CaptureOptions options)
      : name_(std::move(name)), options_(options) {}
  const std::string& name() const override { return name_; }
  DeliveryOutcome Deliver(const Outgoing& event) override {
    std::lock_guard lock(g_captured.mu);
    if (options_.fail_after > 0 && taken_ == options_.fail_after) {
      return {Delivery::kFatal, Internal("the consumer broke")};
    }
    ++taken_;
    g_captured.bodies.emplace_back(event.body);
    g_captured.ids.emplace_back(event.id);
    g_captured.shards.push_back(event.position.shard);
    g_captured.threads.push_back(std::this_thread::get_id());
    g_captured.held[event.position.shard] = event.position.offset + 1;
    return {};
  }
  Status Flush() override { return Status::Ok(); }
  Status CheckHealth() override { return Status::Ok(); }
  Result<std::map<uint32_t, uint64_t>> Held() override {
    std::lock_guard lock(g_captured.mu);
    if (!options_.remote) return std::map<uint32_t, uint64_t>();
    return g_captured.held;
  }

 private:
  std::string name_;
  CaptureOptions options_;
  int64_t taken_ = 0;
};

void ClearCaptured() {
  std::lock_guard lock(g_captured.mu);
  g_captured.bodies.clear();
  g_captured.ids.clear();
  g_captured.shards.clear();
  g_captured.threads.clear();
  g_captured.held.clear();
}

Registry TestRegistry() {
  Registry registry;
  registry.AddSource(SourceKind{
      {"memory",
       "Rows made up in memory.",
       {{"rows", config::FieldType::kInt, "0", "How many INSERTs.", {}, false, 1},
        {"keys", config::FieldType::kInt, "0", "How many distinct ids (0: one per row)."}},
       [](OptionsReader& r) -> std::shared_ptr<const KindOptions> {
         auto o = std::make_shared<MemorySourceOptions>();
         r.Int("rows", o->rows);
         r.Int("keys", o->keys);
         return o;
       }},
      {.ordered = true},
      [](const Config& config) -> Result<std::unique_ptr<Source>> {
        return std::unique_ptr<Source>(
            std::make_unique<MemorySource>(*config.source.OptionsAs<MemorySourceOptions>()));
      },
      [](const Config&) { return std::string("making up rows"); },
      nullptr});
  TargetKind capture;
  capture.spec = {"capture",
                  "Keeps every event in memory.",
                  {{"fail_after", config::FieldType::kInt, "0", "Break after this many events."},
                   {"remote", config::FieldType::kBool, "false", "Report what it holds."},
                   kRetryField},
                  [](OptionsReader& r) -> std::shared_ptr<const KindOptions> {
                    auto o = std::make_shared<CaptureOptions>();
                    r.Int("fail_after", o->fail_after);
                    r.Bool("remote", o->remote);
                    return o;
                  }};
  capture.build = [](const TargetConfig& config) -> Result<std::unique_ptr<Target>> {
    return std::unique_ptr<Target>(
        std::make_unique<CaptureTarget>(config.name, *config.OptionsAs<CaptureOptions>()));
  };
  capture.describe = [](const TargetConfig&) { return std::string("capture"); };
  registry.AddTarget(std::move(capture));
  return registry;
}

// The seam pipeline: 5 rows from the memory source, every event to the capture target `mine`
// configured by `target`.
LoadResult LoadSeam(const Registry& registry, const std::string& data_dir,
                    const std::string& target = "{type: capture}") {
  return LoadConfigFromString(R"(
pipeline: {name: seam, data_dir: )" +
                                  data_dir +
                                  R"(}
source: {type: memory, rows: 5}
tables:
  users: {event_types: [INSERT], primary_key: [id]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [mine]}
targets:
  mine: )" + target + "\n",
                              "seam.yaml", testing::IsolatedEnv(), registry);
}

TEST(Registry, APipelineRunsFromRegisteredKindsAlone) {
  testing::TempDir dir;
  Registry registry = TestRegistry();
  LoadResult r = LoadSeam(registry, dir.path());
  ASSERT_TRUE(r.config) << testing::ErrorLines(r.errors);
  ASSERT_EQ(r.config->registry, &registry);
  ASSERT_EQ(r.config->source.kind, registry.FindSource("memory"));
  EXPECT_EQ(r.config->source.kind->describe(*r.config), "making up rows");

  auto source = r.config->source.kind->build(*r.config);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto pipeline = Pipeline::Build(r.config);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  ClearCaptured();
  ASSERT_TRUE((*pipeline)->Run(**source).ok());
  std::lock_guard lock(g_captured.mu);
  ASSERT_EQ(g_captured.bodies.size(), 5u);
  // Each row once (the stream's shards interleave different keys).
  std::set<std::string> rows;
  for (size_t i = 0; i < g_captured.bodies.size(); ++i) {
    const std::string& body = g_captured.bodies[i];
    EXPECT_NE(body.find(R"("detail-type":"users.INSERT")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("id":")" + g_captured.ids[i] + "\""), std::string::npos) << body;
    size_t at = body.find(R"("after":{"id":)");
    ASSERT_NE(at, std::string::npos) << body;
    rows.insert(body.substr(at, body.find('}', at) - at));
  }
  EXPECT_EQ(rows, (std::set<std::string>{R"("after":{"id":1,"seq":1)", R"("after":{"id":2,"seq":2)",
                                         R"("after":{"id":3,"seq":3)", R"("after":{"id":4,"seq":4)",
                                         R"("after":{"id":5,"seq":5)"}));
  EXPECT_EQ((*pipeline)->stats().delivered.at("mine"), 5u);
}

// One delivery worker per stream shard: each shard's events are delivered by one thread, each
// shard by its own, every event once and each key's events in the order they were captured.
TEST(Registry, EachShardIsDeliveredByAWorkerOfItsOwn) {
  testing::TempDir dir;
  Registry registry = TestRegistry();
  LoadResult r = LoadConfigFromString(R"(
pipeline: {name: seam, data_dir: )" + dir.path() +
                                          R"(}
source: {type: memory, rows: 3000, keys: 40}
stream: {shards: 4}
tables:
  users: {event_types: [INSERT], primary_key: [id]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [mine]}
targets:
  mine: {type: capture}
)",
                                      "seam.yaml", testing::IsolatedEnv(), registry);
  ASSERT_TRUE(r.config) << testing::ErrorLines(r.errors);
  auto source = r.config->source.kind->build(*r.config);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto pipeline = Pipeline::Build(r.config);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  ClearCaptured();
  Status run = (*pipeline)->Run(**source);
  ASSERT_TRUE(run.ok()) << run.ToString();

  std::lock_guard lock(g_captured.mu);
  ASSERT_EQ(g_captured.bodies.size(), 3000u);
  EXPECT_EQ(std::set<std::string>(g_captured.ids.begin(), g_captured.ids.end()).size(), 3000u);
  std::map<uint32_t, std::set<std::thread::id>> threads_of_shard;
  std::map<std::thread::id, std::set<uint32_t>> shards_of_thread;
  std::map<std::string, int64_t> last_seq;  // per id
  for (size_t i = 0; i < g_captured.bodies.size(); ++i) {
    threads_of_shard[g_captured.shards[i]].insert(g_captured.threads[i]);
    shards_of_thread[g_captured.threads[i]].insert(g_captured.shards[i]);
    const std::string& body = g_captured.bodies[i];
    size_t at = body.find(R"("after":{"id":)");
    size_t seq_at = body.find(R"(,"seq":)", at);
    ASSERT_TRUE(at != std::string::npos && seq_at != std::string::npos) << body;
    std::string id = body.substr(at + 14, seq_at - at - 14);
    int64_t seq = std::stoll(body.substr(seq_at + 7));
    auto [it, first] = last_seq.emplace(id, seq);
    if (!first) {
      EXPECT_LT(it->second, seq) << "id " << id << ": out of order";
      it->second = seq;
    }
  }
  EXPECT_EQ(last_seq.size(), 40u);
  EXPECT_EQ(threads_of_shard.size(), 4u) << "40 keys over 4 shards";
  for (const auto& [shard, threads] : threads_of_shard) {
    EXPECT_EQ(threads.size(), 1u) << "shard " << shard << " delivered by one worker";
  }
  EXPECT_EQ(shards_of_thread.size(), 4u) << "a worker of its own per shard";
  EXPECT_EQ(shards_of_thread.count(std::this_thread::get_id()), 0u);
}

TEST(Registry, KindsDeclareTheirFieldsOnce) {
  Registry registry = TestRegistry();
  LoadResult r = LoadConfigFromString(R"(
source: {type: memory, rows: 0, colour: red}
tables:
  users: {event_types: [INSERT], primary_key: [id]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [mine, other]}
targets:
  mine: {type: capture, path: /tmp/x}
  other: {type: file, path: /tmp/y}
)",
                                      "seam.yaml", testing::IsolatedEnv(), registry);
  ASSERT_FALSE(r.config);
  std::string all = testing::ErrorLines(r.errors);
  EXPECT_NE(
      all.find("seam.yaml:2:33: unknown key 'colour' in 'source' (allowed: type, rows, keys)"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("'source.rows' must be at least 1"), std::string::npos) << all;
  EXPECT_NE(
      all.find("unknown key 'path' in 'targets.mine' (allowed: type, fail_after, remote, retry)"),
      std::string::npos)
      << all;
  // Only the registered kinds exist: the built-in file target is not one of them here.
  EXPECT_NE(all.find("'targets.other.type' is 'file'; expected one of: capture"), std::string::npos)
      << all;

  std::string reference = ConfigReferenceMarkdown(registry);
  EXPECT_NE(reference.find("## `source (type: memory)`"), std::string::npos);
  EXPECT_NE(reference.find("## `targets.<name> (type: capture)`"), std::string::npos);
  EXPECT_EQ(reference.find("(type: file)"), std::string::npos);
}

// Runs the seam pipeline over `data_dir` with the capture target configured by `target`.
Status RunSeam(const Registry& registry, const std::string& data_dir, const std::string& target) {
  LoadResult r = LoadSeam(registry, data_dir, target);
  if (!r.config) return InvalidArgument(testing::ErrorLines(r.errors));
  CDC_ASSIGN_OR_RETURN(auto source, r.config->source.kind->build(*r.config));
  CDC_ASSIGN_OR_RETURN(auto pipeline, Pipeline::Build(r.config));
  return pipeline->Run(*source);
}

// A remote target that cannot be cut back, but stores the stream position with each event
// (Outgoing::position) and reports it on start (Held): after a crash past the checkpoint, what
// it has is not sent again. Without Held, the same restart sends those events twice.
TEST(Registry, ARemoteTargetThatHoldsPositionsGetsEachEventOnceAfterACrash) {
  Registry registry = TestRegistry();
  for (bool remote : {true, false}) {
    testing::TempDir dir;
    ClearCaptured();
    std::string flag = remote ? "true" : "false";
    // The first run breaks after 3 events, before any checkpoint after the first.
    Status first =
        RunSeam(registry, dir.path(), "{type: capture, fail_after: 3, remote: " + flag + "}");
    ASSERT_FALSE(first.ok());
    EXPECT_NE(first.message().find("the consumer broke"), std::string::npos) << first.message();
    ASSERT_TRUE(RunSeam(registry, dir.path(), "{type: capture, remote: " + flag + "}").ok());
    std::lock_guard lock(g_captured.mu);
    std::set<std::string> unique(g_captured.ids.begin(), g_captured.ids.end());
    EXPECT_EQ(unique.size(), 5u) << "remote " << flag;
    if (remote) {
      EXPECT_EQ(g_captured.ids.size(), 5u) << "no event twice";
    } else {
      EXPECT_EQ(g_captured.ids.size(), 8u) << "the 3 events of the first run, again";
    }
  }
}

// A stream kind and a state store kind of the test's own: local logs under `stream.dir` and a
// SQLite file at `state.file`, counting how often the runtime opens them.
struct DirOptions : KindOptions {
  std::string where;
};
int g_stream_opens = 0;
int g_state_opens = 0;

void AddStreamAndStateKinds(Registry& registry) {
  StreamKind stream_kind;
  stream_kind.spec = {"local-dir",
                      "Local logs in a directory of the test's choosing.",
                      {{"dir", config::FieldType::kString, "", "Where.", {}, true}},
                      [](OptionsReader& r) -> std::shared_ptr<const KindOptions> {
                        auto o = std::make_shared<DirOptions>();
                        r.String("dir", o->where);
                        return o;
                      }};
  stream_kind.open = [](const StreamConfig& config,
                        const std::string&) -> Result<std::unique_ptr<stream::Stream>> {
    ++g_stream_opens;
    return stream::OpenLocalStream(config.OptionsAs<DirOptions>()->where,
                                   static_cast<uint32_t>(config.shards), {});
  };
  stream_kind.describe = [](const StreamConfig&, const std::string&) {
    return std::string("local dir");
  };
  registry.AddStream(std::move(stream_kind));
  StateKind state_kind;
  state_kind.spec = {"one-file",
                     "SQLite at a file of the test's choosing.",
                     {{"file", config::FieldType::kString, "", "Where.", {}, true}},
                     [](OptionsReader& r) -> std::shared_ptr<const KindOptions> {
                       auto o = std::make_shared<DirOptions>();
                       r.String("file", o->where);
                       return o;
                     }};
  state_kind.open = [](const StateConfig& config, const std::string& owner,
                       int64_t now) -> Result<std::unique_ptr<state::StateStore>> {
    ++g_state_opens;
    return state::OpenSqliteStateStore(config.OptionsAs<DirOptions>()->where, owner, now);
  };
  state_kind.open_read_only =
      [](const StateConfig& config) -> Result<std::unique_ptr<state::StateStore>> {
    return state::OpenSqliteStateStoreReadOnly(config.OptionsAs<DirOptions>()->where);
  };
  registry.AddState(std::move(state_kind));
}

TEST(Registry, TheStreamAndTheStateStoreAreOpenedThroughTheirKinds) {
  testing::TempDir dir;
  Registry registry = TestRegistry();
  AddStreamAndStateKinds(registry);
  std::string yaml = R"(
pipeline: {name: seam, data_dir: )" +
                     dir.path() + R"(/data}
source: {type: memory, rows: 3}
stream: {type: local-dir, dir: )" +
                     dir.path() + R"(/elsewhere, shards: 2}
state: {type: one-file, file: )" +
                     dir.path() + R"(/my-state.db}
tables:
  users: {event_types: [INSERT], primary_key: [id]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [mine]}
targets:
  mine: {type: capture}
)";
  LoadResult r = LoadConfigFromString(yaml, "seam.yaml", testing::IsolatedEnv(), registry);
  ASSERT_TRUE(r.config) << testing::ErrorLines(r.errors);
  EXPECT_EQ(r.config->stream.kind, registry.FindStream("local-dir"));
  EXPECT_EQ(r.config->state.kind, registry.FindState("one-file"));

  g_stream_opens = g_state_opens = 0;
  ClearCaptured();
  auto source = r.config->source.kind->build(*r.config);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto pipeline = Pipeline::Build(r.config);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  ASSERT_TRUE((*pipeline)->Run(**source).ok());
  EXPECT_EQ(g_stream_opens, 1);
  EXPECT_EQ(g_state_opens, 1);
  {
    std::lock_guard lock(g_captured.mu);
    EXPECT_EQ(g_captured.bodies.size(), 3u);
  }
  // Where the kinds put them, not the embedded defaults under the data dir.
  EXPECT_TRUE(testing::FileExists(dir.path() + "/my-state.db"));
  EXPECT_TRUE(testing::FileExists(dir.path() + "/elsewhere"));
  EXPECT_FALSE(testing::FileExists(dir.path() + "/data/state.db"));
  EXPECT_FALSE(testing::FileExists(dir.path() + "/data/stream"));
  auto read = state::OpenStateStoreReadOnly(r.config->state);
  ASSERT_TRUE(read.ok()) << read.status().ToString();

  // A kind's own fields are checked like any other; an unknown kind names the registered ones.
  LoadResult bad = LoadConfigFromString(R"(
source: {type: memory, rows: 1}
stream: {type: local-dir, segment_bytes: 10}
state: {type: dynamo}
tables:
  users: {event_types: [INSERT], primary_key: [id]}
)",
                                        "bad.yaml", testing::IsolatedEnv(), registry);
  ASSERT_FALSE(bad.config);
  std::string all = testing::ErrorLines(bad.errors);
  EXPECT_NE(all.find("unknown key 'segment_bytes' in 'stream'"), std::string::npos) << all;
  EXPECT_NE(all.find("missing required key 'dir' in 'stream'"), std::string::npos) << all;
  EXPECT_NE(all.find("'state.type' is 'dynamo'; expected one of: one-file"), std::string::npos)
      << all;
}

TEST(Registry, TheBuiltinKindsAreRegisteredOnceEach) {
  const Registry& builtin = BuiltinRegistry();
  for (std::string_view name : {"file", "stdout", "http"}) {
    const TargetKind* kind = builtin.FindTarget(name);
    ASSERT_NE(kind, nullptr) << name;
    EXPECT_NE(kind->build, nullptr);
  }
  EXPECT_TRUE(builtin.FindTarget("file")->caps.exactly_once);
  EXPECT_TRUE(builtin.FindTarget("file")->caps.dead_letter_sink);
  EXPECT_TRUE(builtin.FindTarget("http")->caps.queued);
  ASSERT_NE(builtin.FileSource(), nullptr);
  EXPECT_EQ(builtin.FileSource()->spec.name, "json");
  ASSERT_NE(builtin.FindStream("embedded"), nullptr);
  ASSERT_NE(builtin.FindState("sqlite"), nullptr);
  // A default config gets the embedded kinds.
  LoadResult r = LoadConfigFromString("tables: {users: {event_types: [INSERT]}}\n", "d.yaml",
                                      testing::IsolatedEnv());
  ASSERT_TRUE(r.config) << testing::ErrorLines(r.errors);
  EXPECT_EQ(r.config->stream.kind, builtin.FindStream("embedded"));
  EXPECT_EQ(r.config->state.kind, builtin.FindState("sqlite"));
}

// Optional parts reach the CLI through the registry, not #ifdefs: the PostgreSQL build registers
// `generate` (src/workload) and derives models through the postgres source kind.
TEST(Registry, CommandsAndModelDerivationComeFromTheRegisteredKinds) {
  const Registry& builtin = BuiltinRegistry();
  ASSERT_NE(builtin.ModelSource(), nullptr);
  EXPECT_EQ(builtin.ModelSource()->spec.name, "postgres");
  EXPECT_EQ(builtin.FindSource("json")->derive_model, nullptr);
  const CommandKind* generate = nullptr;
  for (const auto& c : builtin.commands()) {
    if (c->name == "generate") generate = c.get();
  }
  ASSERT_NE(generate, nullptr);
  std::set<std::string_view> options;
  for (const CommandOption& o : generate->options) options.insert(o.name);
  EXPECT_EQ(options,
            (std::set<std::string_view>{"--dsn", "--rate", "--duration", "--seed", "--seed-only"}));

  // A command of a test registry, with the arguments the CLI hands it.
  Registry registry;
  registry.AddCommand(
      CommandKind{"echo-rate",
                  "test",
                  {{"--rate", "rows per second", CommandOption::Type::kNumber, "200"},
                   {"--quiet", "", CommandOption::Type::kFlag}},
                  [](const CommandArgs& args, const std::atomic<bool>&) {
                    return static_cast<int>(args.Number("--rate")) + (args.Flag("--quiet") ? 1 : 0);
                  }});
  ASSERT_EQ(registry.commands().size(), 1u);
  CommandArgs args;
  args.Set("--rate", "40");
  args.Set("--quiet", "true");
  args.Set("--rate", "41");  // the last value wins
  std::atomic<bool> stop{false};
  EXPECT_EQ(registry.commands()[0]->run(args, stop), 42);
  EXPECT_EQ(args.Get("--missing"), "");
  EXPECT_FALSE(args.Flag("--missing"));
}

}  // namespace
}  // namespace cdc
