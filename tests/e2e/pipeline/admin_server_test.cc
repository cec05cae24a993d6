// The admin server of `cdc-pipeline run` (issue 16), as Prometheus and an orchestrator see it:
// the real binary with the shipped config (admin.listen on port 0) streams from a real
// PostgreSQL; its /metrics pass `promtool check metrics` and count exactly what reached the
// consumer files, /api/status says the same, /healthz answers while the process lives and /readyz
// follows the source: ready while streaming, 503 with the reason once PostgreSQL is stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "support/http_client.h"
#include "support/http_server.h"
#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;
using testing::TestHttpServer;

using testing::HttpAnswer;

HttpAnswer Get(const std::string& url) { return testing::HttpGet(url); }

// The unlabelled and labelled samples of a Prometheus text scrape: "name" or
// "name{target=\"x\"}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PgServer::StartCoreDb();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    env_ = {{"COREDB_DSN", server_->Dsn("coredb")},
            {"CDC_DATA_DIR", data_.path()},
            {"CDC_ADMIN_LISTEN", "127.0.0.1:0"},
            {"CDC_LOG_LEVEL", "info"}};
  }

  bool WaitFor(const std::function<bool()>& done, double seconds = 120) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return done();
  }

  size_t Lines(const std::string& target) {
    return testing::ReadLines(data_ / ("consumers/" + target + ".jsonl")).size();
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  std::map<std::string, std::string> env_;
};

TEST_F(AdminServerTest, MetricsCountWhatReachedTheConsumersAndReadinessFollowsTheSource) {
  std::string log = data_ / "run.log";
  CliProcess run({"run"}, env_, log);
  std::string address;
  ASSERT_TRUE(WaitFor([&] {
    address = testing::ReadFile(data_ / "admin.addr");
    return !address.empty() && address.back() == '\n';
  })) << testing::ReadFile(log);
  address.pop_back();
  EXPECT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
  EXPECT_NE(address, "127.0.0.1:0");
  EXPECT_NE(testing::ReadFile(log).find("admin server on http://" + address), std::string::npos)
      << testing::ReadFile(log);
  const std::string base = "http://" + address;

  EXPECT_EQ(Get(base + "/healthz").status, 200);
  // Ready once the replication stream runs.
  HttpAnswer ready;
  ASSERT_TRUE(WaitFor([&] {
    ready = Get(base + "/readyz");
    return ready.status == 200;
  })) << ready.status
      << " " << ready.body << "\n"
      << testing::ReadFile(log);
  EXPECT_EQ(ready.body, "{\"ready\":true}\n");

  // health-check beside the streaming pipeline: healthy (the active slot is run's own), and it
  // includes the running pipeline's readiness; --json says the same as one object.
  auto healthy = testing::RunCli({"health-check"}, env_);
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_NE(healthy.out.find("ok    running pipeline ready (http://" + address + "/readyz)"),
            std::string::npos)
      << healthy.out;
  auto healthy_json = testing::RunCli({"health-check", "--json"}, env_);
  EXPECT_EQ(healthy_json.exit_code, 0) << healthy_json.out << healthy_json.err;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(healthy_json.out).get(doc), simdjson::SUCCESS) << healthy_json.out;
    EXPECT_TRUE(bool(doc["healthy"].get_bool())) << healthy_json.out;
    size_t checks = 0;
    for (auto check : doc["checks"].get_array()) {
      ++checks;
      EXPECT_TRUE(bool(check["ok"].get_bool())) << healthy_json.out;
    }
    EXPECT_GT(checks, 16u) << healthy_json.out;  // config, dirs, source, 16 targets, readiness
  }

  // A workload after the (empty) initial snapshot, so each change is one event: metrics INSERTs
  // go to monitoring and dashboards; the table does not publish UPDATEs (counted as filtered).
  ASSERT_TRUE(WaitFor([&] {
    std::string text = testing::ReadFile(log);
    return text.find("initial snapshot") != std::string::npos &&
           text.find("complete") != std::string::npos;
  })) << testing::ReadFile(log);
  constexpr int kMetrics = 60;
  for (int i = 1; i <= kMetrics; ++i) {
    ASSERT_TRUE(server_
                    ->Execute("INSERT INTO metrics (id, name, value) VALUES (" + std::to_string(i) +
                                  ", 'm', " + std::to_string(i) + ")",
                              "coredb")
                    .ok());
  }
  ASSERT_TRUE(
      server_->Execute("UPDATE metrics SET value = value + 1 WHERE id <= 10", "coredb").ok());
  ASSERT_TRUE(WaitFor([&] { return Lines("monitoring") == kMetrics; }))
      << Lines("monitoring") << "\n"
      << testing::ReadFile(log);

  // After the drain the counters equal the lines in the consumer files.
  std::string scrape;
  std::map<std::string, double> samples;
  std::string mismatch;
  bool agree = WaitFor([&] {
    HttpAnswer m = Get(base + "/metrics");
    if (m.status != 200) {
      mismatch = "status " + std::to_string(m.status);
      return false;
    }
    scrape = m.body;
    samples = Samples(scrape);
    mismatch.clear();
    if (samples["cdc_events_published_total"] != kMetrics) {
      mismatch += "published " + std::to_string(samples["cdc_events_published_total"]) + "; ";
    }
    if (samples["cdc_changes_filtered_total"] != 10) {
      mismatch += "filtered " + std::to_string(samples["cdc_changes_filtered_total"]) + "; ";
    }
    int targets = 0;
    for (const auto& [series, value] : samples) {
      const std::string prefix = "cdc_target_delivered_total{target=\"";
      if (series.rfind(prefix, 0) != 0) continue;
      std::string target = series.substr(prefix.size(), series.size() - prefix.size() - 2);
      ++targets;
      if (value != static_cast<double>(Lines(target))) {
        mismatch += target + " " + std::to_string(value) + " vs " + std::to_string(Lines(target)) +
                    " lines; ";
      }
    }
    if (targets != 16) mismatch += std::to_string(targets) + " targets; ";
    return mismatch.empty();
  });
  ASSERT_TRUE(agree) << mismatch << "\n" << scrape;
  EXPECT_EQ(samples["cdc_target_delivered_total{target=\"monitoring\"}"], kMetrics);
  EXPECT_EQ(samples["cdc_target_delivered_total{target=\"dashboards\"}"], kMetrics);
  EXPECT_EQ(samples["cdc_dead_lettered_total"], 0);
  EXPECT_EQ(samples["cdc_delivery_latency_seconds_count"], kMetrics);
  EXPECT_EQ(samples["cdc_pipeline_running"], 1);
  EXPECT_GT(samples["process_resident_memory_bytes"], 0);
  EXPECT_EQ(samples.count("cdc_source_lag_bytes"), 1u) << scrape;
  EXPECT_NE(scrape.find("# TYPE cdc_events_published_total counter\n"), std::string::npos);
  // Per table and operation: captured (the filtered UPDATEs too), published, dead-lettered.
  EXPECT_EQ(samples["cdc_table_changes_captured_total{table=\"metrics\",operation=\"INSERT\"}"],
            kMetrics)
      << scrape;
  EXPECT_EQ(samples["cdc_table_changes_captured_total{table=\"metrics\",operation=\"UPDATE\"}"],
            10);
  EXPECT_EQ(samples["cdc_table_events_published_total{table=\"metrics\",operation=\"INSERT\"}"],
            kMetrics);
  EXPECT_EQ(samples.count("cdc_table_dead_lettered_total{table=\"metrics\",operation=\"INSERT\"}"),
            1u);
  EXPECT_EQ(samples["cdc_table_dead_lettered_total{table=\"metrics\",operation=\"INSERT\"}"], 0);
  // The stream and the checkpoints: bytes, fsync and commit durations.
  EXPECT_GT(samples["cdc_stream_appended_bytes_total"], 0) << scrape;
  double shard_bytes = 0;
  for (const auto& [series, value] : samples) {
    if (series.rfind("cdc_shard_bytes{", 0) == 0) shard_bytes += value;
  }
  EXPECT_GT(shard_bytes, 0) << scrape;
  EXPECT_GT(samples["cdc_stream_fsync_seconds_count"], 0) << scrape;
  EXPECT_GT(samples["cdc_checkpoint_duration_seconds_count"], 0) << scrape;
  EXPECT_EQ(samples.count("cdc_target_failing{target=\"monitoring\"}"), 1u) << scrape;
  EXPECT_EQ(samples["cdc_target_failing{target=\"monitoring\"}"], 0);
  // The initial snapshot is done.
  EXPECT_EQ(samples.count("cdc_snapshot_progress_ratio"), 1u) << scrape;
  EXPECT_EQ(samples["cdc_snapshot_progress_ratio"], 1);
  EXPECT_EQ(samples["cdc_snapshot_running"], 0);

  // Prometheus's own linter on the scrape.
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
      << "promtool is missing: run scripts/bootstrap (Debian package prometheus)";
  testing::WriteFile(data_ / "scrape.txt", scrape);
  std::string check = "promtool check metrics < '" + (data_ / "scrape.txt") + "' > '" +
                      (data_ / "promtool.txt") + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << testing::ReadFile(data_ / "promtool.txt") << scrape;

  // /api/status: the `status --json` document with the same counts.
  HttpAnswer status = Get(base + "/api/status");
  ASSERT_EQ(status.status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(status.body).get(doc), simdjson::SUCCESS) << status.body;
  EXPECT_EQ(int64_t(doc["published"].get_int64()), kMetrics) << status.body;
  EXPECT_TRUE(bool(doc["running"].get_bool()));
  EXPECT_EQ(std::string_view(doc["source"]["type"].get_string()), "postgres");
  for (const char* target : {"monitoring", "dashboards", "wallboards", "audit"}) {
    EXPECT_EQ(int64_t(doc["targets"][target]["delivered"].get_int64()),
              static_cast<int64_t>(Lines(target)))
        << target << ": " << status.body;
  }

  // PostgreSQL goes away: not ready (the reason names the source), still alive.
  ASSERT_TRUE(server_->Stop().ok());
  HttpAnswer down;
  ASSERT_TRUE(WaitFor([&] {
    down = Get(base + "/readyz");
    return down.status == 503;
  })) << down.status
      << " " << down.body << "\n"
      << testing::ReadFile(log);
  EXPECT_NE(down.body.find("\"ready\":false"), std::string::npos) << down.body;
  EXPECT_NE(down.body.find("source postgres is not connected"), std::string::npos) << down.body;
  EXPECT_EQ(Get(base + "/healthz").status, 200);
  EXPECT_EQ(Get(base + "/metrics").status, 200);
  // health-check follows: unhealthy, naming the source and the running pipeline's reason.
  auto unhealthy = testing::RunCli({"health-check"}, env_);
  EXPECT_EQ(unhealthy.exit_code, 1) << unhealthy.out << unhealthy.err;
  EXPECT_NE(unhealthy.out.find("FAIL  source (postgres)"), std::string::npos) << unhealthy.out;
  EXPECT_NE(unhealthy.out.find("FAIL  running pipeline ready (http://" + address +
                               "/readyz): source postgres is not connected"),
            std::string::npos)
      << unhealthy.out;
  auto unhealthy_json = testing::RunCli({"health-check", "--json"}, env_);
  EXPECT_EQ(unhealthy_json.exit_code, 1) << unhealthy_json.out;
  EXPECT_NE(unhealthy_json.out.find("\"healthy\":false"), std::string::npos) << unhealthy_json.out;
  EXPECT_NE(unhealthy_json.out.find("source postgres is not connected"), std::string::npos)
      << unhealthy_json.out;

  // A clean stop closes the server and removes the address file.
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(120), 0) << testing::ReadFile(log);
  EXPECT_FALSE(testing::FileExists(data_ / "admin.addr"));
  EXPECT_EQ(Get(base + "/healthz").status, 0);
}

// A target whose endpoint keeps failing makes the pipeline not ready, naming the target, until
// the endpoint takes the event.
TEST_F(AdminServerTest, AFailingTargetIsNotReadyUntilItAcceptsAgain) {
  std::atomic<bool> failing{true};
  TestHttpServer hook([&](size_t, const auto&) { return failing ? 503 : 200; });
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  size_t rules = config.find("\nrules:\n");
  ASSERT_NE(rules, std::string::npos);
  config.insert(rules + 8,
                "  metrics-hook:\n"
                "    event_pattern: {detail: {tableName: [metrics]}}\n"
                "    targets: [hook]\n");
  config +=
      "  hook:\n"
      "    type: http\n"
      "    url: " +
      hook.url() +
      "\n"
      "    retry: {max_attempts: 100000, initial_backoff_ms: 50, max_backoff_ms: 200}\n";
  TempDir conf;
  testing::CopyShippedModels(conf.path());
  testing::WriteFile(conf / "cdc-pipeline.yaml", config);
  std::string log = data_ / "run.log";
  CliProcess run({"run", "-c", conf / "cdc-pipeline.yaml"}, env_, log);
  std::string address;
  ASSERT_TRUE(WaitFor([&] {
    address = testing::ReadFile(data_ / "admin.addr");
    return !address.empty() && address.back() == '\n';
  })) << testing::ReadFile(log);
  address.pop_back();
  const std::string readyz = "http://" + address + "/readyz";
  HttpAnswer answer;
  ASSERT_TRUE(WaitFor([&] { return (answer = Get(readyz)).status == 200; }))
      << answer.body << testing::ReadFile(log);

  ASSERT_TRUE(
      server_->Execute("INSERT INTO metrics (id, name, value) VALUES (1, 'm', 1)", "coredb").ok());
  ASSERT_TRUE(WaitFor([&] { return (answer = Get(readyz)).status == 503; }))
      << answer.body << testing::ReadFile(log);
  EXPECT_EQ(answer.body,
            "{\"ready\":false,\"reasons\":[\"target 'hook' is failing (its last delivery attempt "
            "failed)\"]}\n");
  auto health = testing::RunCli({"health-check", "-c", conf / "cdc-pipeline.yaml"}, env_);
  EXPECT_EQ(health.exit_code, 1) << health.out << health.err;
  EXPECT_NE(health.out.find("FAIL  running pipeline ready (http://" + address +
                            "/readyz): target 'hook' is failing"),
            std::string::npos)
      << health.out;
  EXPECT_EQ(Get("http://" + address + "/healthz").status, 200);

  failing = false;
  ASSERT_TRUE(WaitFor([&] { return (answer = Get(readyz)).status == 200; }))
      << answer.body << testing::ReadFile(log);
  EXPECT_TRUE(hook.WaitForDelivered(1, 60000));
  run.Signal(SIGTERM);
  EXPECT_EQ(run.Wait(120), 0) << testing::ReadFile(log);
}

// Two pipelines on one host cannot share the admin port: the second stops at once, saying how
// to choose another (httplib's default SO_REUSEPORT would have let it share the port silently).
TEST_F(AdminServerTest, APortInUseStopsTheSecondRunWithTheWayOn) {
  std::string log = data_ / "first.log";
  CliProcess first({"run"}, env_, log);
  std::string address;
  ASSERT_TRUE(WaitFor([&] {
    address = testing::ReadFile(data_ / "admin.addr");
    return !address.empty() && address.back() == '\n';
  })) << testing::ReadFile(log);
  address.pop_back();
  TempDir other;
  auto env = env_;
  env["CDC_DATA_DIR"] = other.path();
  env["CDC_ADMIN_LISTEN"] = address;
  auto second = testing::RunCli({"run"}, env);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("the admin server cannot listen on " + address), std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("admin.enabled: false"), std::string::npos) << second.err;
  EXPECT_EQ(Get("http://" + address + "/healthz").status, 200);
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(120), 0) << testing::ReadFile(log);
}

}  // namespace
}  // namespace cdc
