// Tables that leave the publication (issue 23, item 5), as an operator meets them: a captured
// table dropped and created again, or dropped from the publication, while `cdc-pipeline run`
// (the binary, against a real PostgreSQL with the CoreDB schema and the shipped config) streams
// under inserts. `run` must stop with exit 1 and a message naming the table, what happened and
// the ways on, after delivering every change committed before it exactly once; the next `run`
// refuses (also once the publication was mended by hand) until `run --resnapshot` accepts the
// gap with a PositionGap event and snapshots the table's rows again as READ events.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

#define EXPECT_CONTAINS(text, part)                          \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "no '" << (part) << "' in: " << (text)

constexpr const char* kMetricsTable =
    "CREATE TABLE metrics (id bigint PRIMARY KEY, name text NOT NULL, value double precision "
    "NOT NULL, unit text, tags jsonb NOT NULL DEFAULT '{}', samples double precision[], "
    "recorded_at timestamptz NOT NULL DEFAULT now())";

class TableGapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PgServer::StartCoreDb();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    // The shipped config plus an Audit rule for PositionGap events.
    std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
    size_t rules = config.find("\nrules:\n");
    ASSERT_NE(rules, std::string::npos);
    config.insert(rules + 8,
                  "  position-gaps:\n"
                  "    event_pattern: {detail-type: [PositionGap]}\n"
                  "    targets: [audit]\n");
    testing::CopyShippedModels(conf_.path());
    testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
    env_ = {{"COREDB_DSN", server_->Dsn("coredb")},
            {"CDC_DATA_DIR", data_.path()},
            {"CDC_LOG_LEVEL", "info"}};
  }

  void TearDown() override { StopInserts(); }

  std::vector<std::string> Args(std::vector<std::string> args) {
    args.push_back("-c");
    args.push_back(conf_ / "cdc-pipeline.yaml");
    return args;
  }

  void Sql(const std::string& sql) {
    auto s = server_->Execute(sql, "coredb");
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  std::string SqlValue(const std::string& sql) {
    auto v = server_->QueryValue(sql, "coredb");
    return v.ok() ? *v : "<" + v.status().ToString() + ">";
  }
  std::set<int64_t> MetricIds() {
    std::set<int64_t> ids;
    auto rows = server_->Query("SELECT id FROM metrics", "coredb");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (rows.ok()) {
      for (const auto& row : *rows) ids.insert(std::stoll(row[0].value_or("0")));
    }
    return ids;
  }

  // Inserts metrics with ids from `first` on, one transaction each, until StopInserts; the ids
  // whose INSERT committed are in committed_ (a failed one, e.g. while the table is being
  // dropped, is not).
  void StartInserts(int64_t first) {
    stop_inserts_ = false;
    inserter_ = std::thread([this, first] {
      for (int64_t id = first; !stop_inserts_; ++id) {
        Status s = server_->Execute(
            "INSERT INTO metrics (id, name, value) VALUES (" + std::to_string(id) + ", 'm', 1)",
            "coredb");
        std::lock_guard lock(mu_);
        if (s.ok()) committed_.insert(id);
      }
    });
  }
  void StopInserts() {
    stop_inserts_ = true;
    if (inserter_.joinable()) inserter_.join();
  }
  size_t Committed() {
    std::lock_guard lock(mu_);
    return committed_.size();
  }

  // "OP|id" per line of the monitoring consumer (it receives every metrics change).
  std::vector<std::string> Monitoring() {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    for (const auto& line : testing::ReadLines(data_ / "consumers/monitoring.jsonl")) {
      simdjson::dom::element e;
      EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
      simdjson::dom::element d = e["detail"];
      out.push_back(std::string(std::string_view(d["eventType"].get_string())) + "|" +
                    std::to_string(int64_t(d["after"]["id"].get_int64())));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<std::string> Lines(const std::string& op, const std::set<int64_t>& ids) {
    std::vector<std::string> out;
    for (int64_t id : ids) out.push_back(op + "|" + std::to_string(id));
    return out;
  }
  static std::vector<std::string> Sorted(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    std::sort(a.begin(), a.end());
    return a;
  }

  bool WaitFor(const std::function<bool()>& done, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return done();
  }
  bool WaitForLog(const std::string& log, const std::string& text) {
    return WaitFor([&] { return testing::ReadFile(log).find(text) != std::string::npos; }, 90);
  }
  bool WaitSlotInactive() {
    return WaitFor(
        [&] {
          return SqlValue(
                     "SELECT active FROM pg_replication_slots WHERE slot_name = "
                     "'cdc_pipeline'") == "f";
        },
        60);
  }

  // Metric 1 before the start (a READ row), then streaming under inserts of metrics 2, 3, ...
  void StartStreamingUnderInserts(CliProcess& run, const std::string& log) {
    Sql("INSERT INTO metrics (id, name, value) VALUES (1, 'm', 1)");
    ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 1; }, 90)) << testing::ReadFile(log);
    StartInserts(2);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() >= 20; }, 120)) << testing::ReadFile(log);
    ASSERT_TRUE(run.running());
  }

  // `run` refused: exit 1, the table, the position, the ways on; nothing delivered.
  void ExpectRefused(const std::string& what) {
    auto before = Monitoring();
    auto r = testing::RunCli(Args({"run"}), env_);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_CONTAINS(r.err, "table gap: table public.metrics");
    EXPECT_CONTAINS(r.err, what);
    EXPECT_CONTAINS(r.err, "committed up to ");
    EXPECT_CONTAINS(r.err, "run --resnapshot");
    EXPECT_CONTAINS(r.err, "remove it from the tables section");
    EXPECT_EQ(r.err.find("created replication slot"), std::string::npos) << r.err;
    EXPECT_EQ(Monitoring(), before);
  }

  // `run --resnapshot`: a PositionGap event naming the table, then the table's rows as READ.
  void ResnapshotDelivers(const std::vector<std::string>& expected_monitoring) {
    std::string log = data_ / "resnapshot.log";
    CliProcess run(Args({"run", "--resnapshot"}), env_, log);
    ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() >= expected_monitoring.size(); }, 120))
        << testing::ReadFile(log);
    EXPECT_CONTAINS(testing::ReadFile(log), "accepting a position gap");
    EXPECT_EQ(Monitoring(), expected_monitoring);
    auto audit = testing::ReadLines(data_ / "consumers/audit.jsonl");
    ASSERT_EQ(audit.size(), 1u) << testing::ReadFile(data_ / "consumers/audit.jsonl");
    simdjson::dom::parser parser;
    simdjson::dom::element e = parser.parse(audit[0]);
    EXPECT_EQ(std::string_view(e["detail-type"].get_string()), "PositionGap");
    EXPECT_CONTAINS(std::string(std::string_view(e["detail"]["gap"]["reason"].get_string())),
                    "table gap: table public.metrics");
    // The table is captured again: a new row arrives as an INSERT.
    Sql("INSERT INTO metrics (id, name, value) VALUES (1000000, 'm', 1)");
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == expected_monitoring.size() + 1; }, 90))
        << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
    EXPECT_EQ(Monitoring(), Sorted(expected_monitoring, {"INSERT|1000000"}));
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  TempDir conf_;
  std::map<std::string, std::string> env_;
  std::thread inserter_;
  std::atomic<bool> stop_inserts_{false};
  std::mutex mu_;
  std::set<int64_t> committed_;
};

TEST_F(TableGapTest, TableDroppedAndCreatedAgainWhileStreamingStopsThePipeline) {
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  StartStreamingUnderInserts(run, log);
  ASSERT_FALSE(HasFatalFailure());
  // Dropped and created again in one transaction while the inserts go on: they wait for the
  // lock, fail or go into the new table.
  Sql(std::string("DROP TABLE metrics; ") + kMetricsTable);
  size_t at_drop = Committed();
  ASSERT_TRUE(WaitFor([&] { return Committed() >= at_drop + 10; }, 120));
  EXPECT_EQ(run.Wait(180), 1) << testing::ReadFile(log);
  StopInserts();
  std::string text = testing::ReadFile(log);
  EXPECT_CONTAINS(text, "table gap: table public.metrics was re-created with a new OID");
  EXPECT_CONTAINS(text, "`run` stopped: every change of public.metrics committed up to ");
  EXPECT_CONTAINS(text, "run --resnapshot");

  // Every change committed before the drop exactly once; the new table's rows never arrived.
  std::set<int64_t> new_rows = MetricIds();
  ASSERT_FALSE(new_rows.empty());
  std::set<int64_t> old_inserts;
  for (int64_t id : committed_) {
    if (new_rows.count(id) == 0) old_inserts.insert(id);
  }
  EXPECT_EQ(Monitoring(), Sorted({"READ|1"}, Lines("INSERT", old_inserts)));
  ASSERT_TRUE(WaitSlotInactive());

  ExpectRefused("re-created with a new OID");
  ExpectRefused("re-created with a new OID");  // still: nothing was forgotten
  auto health = testing::RunCli(Args({"health-check"}), env_);
  EXPECT_EQ(health.exit_code, 1) << health.out << health.err;
  EXPECT_CONTAINS(health.out + health.err, "table gap: table public.metrics");

  std::vector<std::string> before = Monitoring();
  ResnapshotDelivers(Sorted(before, Lines("READ", new_rows)));
}

TEST_F(TableGapTest, TableDroppedFromThePublicationWhileStreamingStopsThePipeline) {
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  StartStreamingUnderInserts(run, log);
  ASSERT_FALSE(HasFatalFailure());
  // The inserts before the ALTER are published, the ones after it are not.
  StopInserts();
  std::set<int64_t> published = committed_;
  published.insert(1);
  Sql("ALTER PUBLICATION cdc_pipeline DROP TABLE metrics");
  StartInserts(100000);
  EXPECT_EQ(run.Wait(180), 1) << testing::ReadFile(log);
  StopInserts();
  std::string text = testing::ReadFile(log);
  EXPECT_CONTAINS(text, "table gap: table public.metrics was removed from publication");
  EXPECT_CONTAINS(text, "committed up to ");
  published.erase(1);
  EXPECT_EQ(Monitoring(), Sorted({"READ|1"}, Lines("INSERT", published)));
  ASSERT_TRUE(WaitSlotInactive());

  ExpectRefused("removed from publication");
  // Mending the publication by hand does not hide the gap.
  Sql("ALTER PUBLICATION cdc_pipeline ADD TABLE metrics");
  ExpectRefused("left the publication earlier");

  std::vector<std::string> before = Monitoring();
  ResnapshotDelivers(Sorted(before, Lines("READ", MetricIds())));
}

TEST_F(TableGapTest, TableCreatedAgainWhileStoppedIsRefused) {
  Sql("INSERT INTO metrics (id, name, value) VALUES (1, 'm', 1)");
  std::string log = data_ / "run.log";
  {
    CliProcess run(Args({"run"}), env_, log);
    ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 1; }, 90)) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  }
  ASSERT_TRUE(WaitSlotInactive());
  // Created again and put back into the publication by hand: the publication looks whole, but
  // the rows written before the ADD TABLE are not in the slot.
  Sql(std::string("DROP TABLE metrics; ") + kMetricsTable);
  Sql("INSERT INTO metrics (id, name, value) VALUES (2, 'm', 1)");
  Sql("ALTER PUBLICATION cdc_pipeline ADD TABLE metrics");
  ExpectRefused("re-created with a new OID");
  ResnapshotDelivers({"READ|1", "READ|2"});
}

}  // namespace
}  // namespace cdc
