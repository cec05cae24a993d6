// In-process pipeline behaviour: routing, dead letters, counts, delivery failures.
#include "runtime/pipeline.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "bus/matcher.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"
#include "source/json/json_source.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::ReadLines;
using testing::TempDir;

class PipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Pipeline> Build(const std::string& yaml) {
    EnvOptions env;
    env.dotenv_path = "";
    env.use_process_env = false;
    env.overrides = {{"CDC_DATA_DIR", dir_.path()}};
    auto r = LoadConfigFromString(yaml, "test.yaml", env);
    EXPECT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].ToString());
    if (!r.config) return nullptr;
    auto p = Pipeline::Build(r.config, clock_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  Status Feed(Pipeline& p, const std::string& jsonl) {
    JsonSource source("-");
    std::istringstream in(jsonl);
    Status s = source.RunStream(in, "test-input", p);
    return s;
  }

  TempDir dir_;
  FixedClock clock_{Timestamp{0}};
};

// Without the stream: these tests feed changes straight into the processors (OnChange) and check
// processing, routing and dead letters; the durable path is tested through the binary
// (tests/e2e/pipeline/durable_test.cc, postgres_e2e_test.cc).
const char* kConfig = R"(
pipeline: {data_dir: "${CDC_DATA_DIR}"}
stream: {enabled: false}
tables:
  users: {event_types: [INSERT, UPDATE]}
  orders: {event_types: [INSERT], primary_key: [order_id]}
rules:
  users-rule:
    event_pattern: {detail: {tableName: [users]}}
    targets: [a]
  vip:
    event_pattern: {detail: {after: {vip: [true]}}}
    targets: [a, b]
  disabled:
    enabled: false
    event_pattern: {}
    targets: [b]
targets:
  a: {type: file, path: "${CDC_DATA_DIR}/a.jsonl"}
  b: {type: file, path: "${CDC_DATA_DIR}/b.jsonl", fsync: always, format: cloudevents}
)";

TEST_F(PipelineTest, RoutesCountsAndDeadLetters) {
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  std::string input =
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1,"vip":true}})"
      "\n"
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:01Z","after":{"id":2,"vip":false}})"
      "\n"
      R"({"eventType":"INSERT","tableName":"orders","timestamp":"2024-01-15T10:30:02Z","after":{"order_id":9}})"
      "\n"
      R"({"eventType":"INSERT","tableName":"orders","timestamp":"2024-01-15T10:30:03Z","after":{"id":9}})"
      "\n"
      R"({"eventType":"DELETE","tableName":"users","timestamp":"2024-01-15T10:30:04Z","before":{"id":1}})"
      "\n"
      "\n"
      "not json\n";
  ASSERT_TRUE(Feed(*p, input).ok());
  JsonSource empty("/dev/null");
  ASSERT_TRUE(p->Run(empty).ok());  // flushes
  const PipelineStats& st = p->stats();
  EXPECT_EQ(st.read, 6u);
  EXPECT_EQ(st.published, 3u);
  EXPECT_EQ(st.dead_lettered, 3u);
  EXPECT_EQ(st.unmatched, 1u);  // the orders insert matches no rule: counted, not lost
  EXPECT_EQ(st.read, st.published + st.dead_lettered);
  EXPECT_EQ(st.delivered.at("a"), 3u);  // users 1 twice (two rules), users 2 once
  EXPECT_EQ(st.delivered.at("b"), 1u);
  auto a = ReadLines(dir_ / "a.jsonl");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], a[1]);  // same event, same id, through two rules
  auto b = ReadLines(dir_ / "b.jsonl");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rfind(R"({"specversion":"1.0")", 0), 0u);
  auto dl = ReadLines(dir_ / "dead-letter.jsonl");
  ASSERT_EQ(dl.size(), 3u);
  EXPECT_NE(
      dl[0].find(
          R"("reason":"primary-key column 'order_id' is missing from 'after' of table orders","location":"test-input:4")"),
      std::string::npos)
      << dl[0];
  EXPECT_NE(dl[1].find("event type DELETE is not allowed for table users"), std::string::npos);
  EXPECT_NE(
      dl[2].find(
          R"("stage":"source","reason":"malformed JSON: the line is not valid JSON","location":"test-input:7","input":"not json")"),
      std::string::npos)
      << dl[2];
  EXPECT_EQ(dl[0].rfind(R"({"time":"1970-01-01T00:00:00Z")", 0), 0u);
}

// A value nested deeper than the matcher follows (kMaxEventDepth) where a rule reads: the event
// is dead-lettered with the reason and the pipeline goes on; an event beside it is delivered.
TEST_F(PipelineTest, AnEventTooDeepToMatchIsDeadLetteredAndThePipelineGoesOn) {
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  std::string deep = std::string(kMaxEventDepth, '[') + "true" + std::string(kMaxEventDepth, ']');
  std::string input =
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1,"vip":)" +
      deep + "}}\n" +
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:01Z","after":{"id":2,"vip":true}})"
      "\n";
  ASSERT_TRUE(Feed(*p, input).ok());
  JsonSource empty("/dev/null");
  ASSERT_TRUE(p->Run(empty).ok());
  const PipelineStats& st = p->stats();
  EXPECT_EQ(st.read, 2u);
  EXPECT_EQ(st.published, 1u);
  EXPECT_EQ(st.dead_lettered, 1u);
  EXPECT_EQ(st.read, st.published + st.dead_lettered);
  auto dl = ReadLines(dir_ / "dead-letter.jsonl");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find(R"("stage":"process","reason":"the bus cannot match the event: the event )"
                       R"(nests objects and arrays more than 200 levels deep)"),
            std::string::npos)
      << dl[0].substr(0, 400);
  auto b = ReadLines(dir_ / "b.jsonl");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(b[0].find(R"("id":2)"), std::string::npos);
}

// The live metrics of a durable run agree with the run's own counts and with what reached the
// consumer files, and every shard ends with nothing left to deliver.
TEST_F(PipelineTest, MetricsCountWhatTheDurableRunDid) {
  std::string config = kConfig;
  config.replace(config.find("stream: {enabled: false}"), 24, "stream: {shards: 3}");
  auto p = Build(config);
  ASSERT_TRUE(p);
  std::string input;
  for (int i = 0; i < 20; ++i) {
    input +=
        R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":)" +
        std::to_string(i) + R"(,"vip":)" + (i % 4 == 0 ? "true" : "false") + "}}\n";
  }
  input +=
      R"({"eventType":"DELETE","tableName":"users","timestamp":"2024-01-15T10:30:04Z","before":{"id":1}})"
      "\n";
  testing::WriteFile(dir_ / "in.jsonl", input);
  JsonSource source(dir_ / "in.jsonl");
  ASSERT_TRUE(p->Run(source).ok());
  const PipelineStats& st = p->stats();
  metrics::Registry& m = p->metrics();
  std::string text = metrics::RenderPrometheus(m);  // runs the collectors
  EXPECT_EQ(m.Value("cdc_changes_read_total"), 21);
  EXPECT_EQ(m.Value("cdc_events_published_total"), 20);
  EXPECT_EQ(m.Value("cdc_processing_dead_lettered_total"), 1);  // the DELETE
  EXPECT_EQ(m.Value("cdc_dead_lettered_total"), 1);
  EXPECT_EQ(m.Value("cdc_events_published_total"), static_cast<double>(st.published));
  auto a = ReadLines(dir_ / "a.jsonl");
  auto b = ReadLines(dir_ / "b.jsonl");
  EXPECT_EQ(a.size(), 25u);  // every user, and the 5 vips twice
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(m.Value("cdc_target_delivered_total", {"a"}), static_cast<double>(a.size()));
  EXPECT_EQ(m.Value("cdc_target_delivered_total", {"b"}), static_cast<double>(b.size()));
  double records = 0;
  for (int shard = 0; shard < 3; ++shard) {
    metrics::Labels l{std::to_string(shard)};
    EXPECT_EQ(m.Value("cdc_shard_lag_records", l), 0) << shard;
    EXPECT_EQ(m.Value("cdc_shard_delivered_offset", l), m.Value("cdc_shard_end_offset", l));
    records += m.Value("cdc_shard_end_offset", l);
  }
  EXPECT_EQ(records, 21);  // 20 changes and the rejected one, each one record
  EXPECT_NE(text.find("# TYPE cdc_delivery_latency_seconds histogram\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("cdc_delivery_latency_seconds_count 20\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cdc_target_delivered_total{target=\"a\"} 25\n"), std::string::npos) << text;
}

TEST_F(PipelineTest, ArrayInput) {
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  testing::WriteFile(
      dir_ / "in.json",
      R"([{"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}},)"
      R"( 42, {"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z","before":{"id":1,"n":1},"after":{"id":1,"n":2}}])");
  JsonSource source(dir_ / "in.json");
  ASSERT_TRUE(p->Run(source).ok());
  EXPECT_EQ(p->stats().published, 2u);
  EXPECT_EQ(p->stats().dead_lettered, 1u);
  auto a = ReadLines(dir_ / "a.jsonl");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NE(a[1].find(R"("changedFields":["n"])"), std::string::npos);
  EXPECT_NE(testing::ReadFile(dir_ / "dead-letter.jsonl")
                .find(R"("location":")" + (dir_ / "in.json") + R"([1]")"),
            std::string::npos);
}

TEST_F(PipelineTest, ATargetFileThatCannotBeWrittenStopsThePipeline) {
  // The target's path is a directory: a local file that cannot be written does not heal by
  // retrying, and it is not the event's fault, so nothing is dead-lettered: the pipeline stops.
  ::mkdir((dir_ / "a.jsonl").c_str(), 0755);
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  Status s = Feed(
      *p,
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}})"
      "\n");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("target 'a' cannot accept events"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir_ / "a.jsonl"), std::string::npos) << s.message();
  EXPECT_FALSE(testing::FileExists(dir_ / "dead-letter.jsonl"));
}

TEST_F(PipelineTest, APartlyWrittenLastLineIsCutOffBeforeAppending) {
  testing::WriteFile(dir_ / "a.jsonl", "{\"complete\":1}\n{\"torn\":");
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  ASSERT_TRUE(
      Feed(
          *p,
          R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":1}})"
          "\n")
          .ok());
  JsonSource empty("/dev/null");
  ASSERT_TRUE(p->Run(empty).ok());
  auto lines = ReadLines(dir_ / "a.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"complete\":1}");
  EXPECT_EQ(lines[1].rfind("{\"version\":\"0\"", 0), 0u) << lines[1];
}

TEST_F(PipelineTest, RouteDeliversNothing) {
  auto p = Build(kConfig);
  ASSERT_TRUE(p);
  ChangeEvent c;
  c.table = "users";
  c.op = Op::kInsert;
  c.after = Row({{"id", Value::Int64(1)}, {"vip", Value::Bool(true)}});
  auto r = p->Route(c);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rules.size(), 2u);
  EXPECT_EQ(r->rules[0].first, "users-rule");
  EXPECT_EQ(r->rules[1].second, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(testing::FileExists(dir_ / "a.jsonl"));
}

}  // namespace
}  // namespace cdc
