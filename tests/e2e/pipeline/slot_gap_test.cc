// Position gaps, as an operator meets them: the replication slot dropped while the pipeline is
// stopped, invalidated by max_slot_wal_keep_size while it streams, or advanced past its
// checkpoint. `cdc-pipeline run` (the binary, against a real PostgreSQL with the CoreDB schema
// and the shipped config) must refuse to go on with a clear message and exit 1, never take a
// silent new snapshot; `run --resnapshot` accepts the gap and publishes a PositionGap event; and
// health-check beside a running pipeline is healthy.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
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

class SlotGapTest : public ::testing::Test {
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
  void InsertMetric(int id) {
    Sql("INSERT INTO metrics (id, name, value) VALUES (" + std::to_string(id) + ", 'm', 1)");
  }

  // "OP|id" per line of the monitoring consumer (it receives every metrics change).
  std::vector<std::string> Monitoring() { return MonitoringIn(data_.path()); }
  std::vector<std::string> MonitoringIn(const std::string& data_dir) {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    for (const auto& line : testing::ReadLines(data_dir + "/consumers/monitoring.jsonl")) {
      simdjson::dom::element e;
      EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
      simdjson::dom::element d = e["detail"];
      out.push_back(std::string(std::string_view(d["eventType"].get_string())) + "|" +
                    std::to_string(int64_t(d["after"]["id"].get_int64())));
    }
    return out;
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

  // `run` streams and its initial snapshot is complete (a row written before that may also come
  // as a READ of its chunk).
  bool WaitSnapshotDone(const std::string& log) {
    return WaitForLog(log, "streaming from slot") && WaitForLog(log, " complete (");
  }

  // Waits until the pipeline's slot has confirmed everything written so far.
  bool WaitCaughtUp() {
    return WaitFor(
        [&] {
          return SqlValue(
                     "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() FROM "
                     "pg_replication_slots WHERE slot_name = 'cdc_pipeline'") == "t";
        },
        90);
  }

  // A first start: metric 1 exists before it (a READ row), metric 2 is committed while it
  // streams (an INSERT); then a clean stop.
  void FirstRun() {
    InsertMetric(1);
    std::string log = data_ / "run1.log";
    CliProcess run(Args({"run"}), env_, log);
    ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 1; }, 90)) << testing::ReadFile(log);
    InsertMetric(2);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 2; }, 90)) << testing::ReadFile(log);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
    // Its walsender may outlive it briefly; the slot cannot be dropped or advanced until then.
    ASSERT_TRUE(WaitFor(
        [&] {
          return SqlValue(
                     "SELECT active FROM pg_replication_slots WHERE slot_name = "
                     "'cdc_pipeline'") == "f";
        },
        60));
    EXPECT_CONTAINS(testing::ReadFile(log), "created replication slot cdc_pipeline");
    ASSERT_EQ(Monitoring(), (std::vector<std::string>{"READ|1", "INSERT|2"}));
  }

  // `run` after a gap: refused with exit 1, naming the slot, our position, what was lost and the
  // two ways on; nothing delivered, no slot created.
  void ExpectRefused(const std::string& what) {
    auto r = testing::RunCli(Args({"run"}), env_);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_CONTAINS(r.err, "position gap");
    EXPECT_CONTAINS(r.err, "\"cdc_pipeline\"");
    EXPECT_CONTAINS(r.err, what);
    EXPECT_CONTAINS(r.err, "last acknowledged position is ");
    EXPECT_CONTAINS(r.err, "lost");
    EXPECT_CONTAINS(r.err, "run --resnapshot");
    EXPECT_CONTAINS(r.err, "restore the slot");
    EXPECT_EQ(r.err.find("created replication slot"), std::string::npos) << r.err;
    EXPECT_EQ(Monitoring(), (std::vector<std::string>{"READ|1", "INSERT|2"}));
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  TempDir conf_;
  std::map<std::string, std::string> env_;
};

TEST_F(SlotGapTest, FirstStartCreatesTheSlotAndSnapshots) {
  FirstRun();
  EXPECT_EQ(SqlValue("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'"),
            "1");
  // A restart with the slot in place goes on where it stopped: no READ row again.
  std::string log = data_ / "run2.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  InsertMetric(3);
  ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 3; }, 90)) << testing::ReadFile(log);
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  EXPECT_EQ(Monitoring(), (std::vector<std::string>{"READ|1", "INSERT|2", "INSERT|3"}));
  EXPECT_EQ(testing::ReadFile(log).find("position gap"), std::string::npos);
}

TEST_F(SlotGapTest, SlotDroppedWhileStoppedIsRefused) {
  FirstRun();
  ASSERT_FALSE(HasFatalFailure());
  Sql("SELECT pg_drop_replication_slot('cdc_pipeline')");
  InsertMetric(3);  // committed while no slot exists: lost as an event
  ExpectRefused("no longer exists");
  EXPECT_EQ(SqlValue("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'"),
            "0");
  // Still refused on the next try: nothing was forgotten.
  ExpectRefused("no longer exists");
}

TEST_F(SlotGapTest, SlotAdvancedPastTheCheckpointIsRefused) {
  FirstRun();
  ASSERT_FALSE(HasFatalFailure());
  InsertMetric(3);
  // Past the INSERT of 3: its WAL must be flushed first (the test server commits
  // asynchronously, and a slot is never advanced beyond the flushed WAL).
  std::string insert_end = SqlValue("SELECT pg_current_wal_insert_lsn()");
  ASSERT_TRUE(WaitFor(
      [&] {
        return SqlValue("SELECT pg_current_wal_flush_lsn() >= '" + insert_end + "'::pg_lsn") == "t";
      },
      60));
  Sql("SELECT pg_replication_slot_advance('cdc_pipeline', '" + insert_end + "'::pg_lsn)");
  ASSERT_EQ(SqlValue("SELECT confirmed_flush_lsn >= '" + insert_end +
                     "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'"),
            "t");
  ExpectRefused("ahead of what this pipeline acknowledged");
}

TEST_F(SlotGapTest, ResnapshotPublishesAPositionGapEventAndCountsIt) {
  FirstRun();
  ASSERT_FALSE(HasFatalFailure());
  Sql("SELECT pg_drop_replication_slot('cdc_pipeline')");
  InsertMetric(3);
  std::string log = data_ / "run2.log";
  CliProcess run(Args({"run", "--resnapshot"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 5; }, 90)) << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_CONTAINS(text, "accepting a position gap");
  // The new snapshot: every row again as READ, the lost INSERT of 3 as its READ row.
  auto got = Monitoring();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"INSERT|2", "READ|1", "READ|1", "READ|2", "READ|3"}));
  auto audit = testing::ReadLines(data_ / "consumers/audit.jsonl");
  ASSERT_EQ(audit.size(), 1u) << testing::ReadFile(data_ / "consumers/audit.jsonl");
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(audit[0]);
  EXPECT_EQ(std::string_view(e["detail-type"].get_string()), "PositionGap");
  EXPECT_EQ(std::string_view(e["detail"]["eventType"].get_string()), "POSITION_GAP");
  EXPECT_EQ(std::string_view(e["detail"]["gap"]["slot"].get_string()), "cdc_pipeline");
  EXPECT_CONTAINS(std::string(std::string_view(e["detail"]["gap"]["reason"].get_string())),
                  "no longer exists");
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  auto status = testing::RunCli(Args({"status"}), env_);
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_CONTAINS(status.out, "position gaps accepted: 1");
}

TEST_F(SlotGapTest, SlotInvalidatedWhileStreamingStopsThePipeline) {
  InsertMetric(1);
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 1; }, 90)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  Sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
  Sql("SELECT pg_reload_conf()");
  // The pipeline falls behind (stopped), WAL moves on past several segments, and a checkpoint
  // invalidates the slot (terminating the walsender).
  run.Signal(SIGSTOP);
  for (int i = 0; i < 4; ++i) {
    Sql("INSERT INTO events (id, type) SELECT 'e' || g || '_" + std::to_string(i) +
        "', md5(g::text) FROM generate_series(1, 2000) g");
    Sql("SELECT pg_switch_wal()");
  }
  Sql("CHECKPOINT");
  EXPECT_EQ(SqlValue("SELECT wal_status FROM pg_replication_slots WHERE slot_name = "
                     "'cdc_pipeline'"),
            "lost");
  run.Signal(SIGCONT);
  EXPECT_EQ(run.Wait(120), 1) << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_CONTAINS(text, "position gap");
  EXPECT_CONTAINS(text, "wal_status = lost");
  EXPECT_CONTAINS(text, "run --resnapshot");
  EXPECT_EQ(text.find("created replication slot cdc_pipeline", text.find("streaming from slot")),
            std::string::npos)
      << text;
  EXPECT_EQ(Monitoring(), (std::vector<std::string>{"READ|1"}));
  // A new start is refused the same way.
  auto r = testing::RunCli(Args({"run"}), env_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_CONTAINS(r.err, "wal_status = lost");
  EXPECT_EQ(Monitoring(), (std::vector<std::string>{"READ|1"}));
  Sql("ALTER SYSTEM RESET max_slot_wal_keep_size");
  Sql("SELECT pg_reload_conf()");
}

TEST_F(SlotGapTest, HealthCheckBesideTheRunningPipelineIsHealthy) {
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  auto r = testing::RunCli(Args({"health-check"}), env_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "ok    source");
  EXPECT_EQ(r.out.find("pg_terminate_backend"), std::string::npos) << r.out;
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);

  // Another client holding the slot is a failure, and the advice kills nothing.
  std::string dsn = server_->Dsn("coredb");
  pid_t other = ::fork();
  ASSERT_GE(other, 0);
  if (other == 0) {
    ::execl("/usr/lib/postgresql/15/bin/pg_recvlogical", "pg_recvlogical", "-d", dsn.c_str(),
            "--slot", "cdc_pipeline", "--start", "-f", "/dev/null", "-o", "proto_version=1", "-o",
            "publication_names=cdc_pipeline", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return SqlValue(
                   "SELECT active FROM pg_replication_slots WHERE slot_name = "
                   "'cdc_pipeline'") == "t";
      },
      60));
  r = testing::RunCli(Args({"health-check"}), env_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "is active for PID");
  EXPECT_EQ(r.out.find("pg_terminate_backend"), std::string::npos) << r.out;
  ::kill(other, SIGTERM);
  ::waitpid(other, nullptr, 0);
}

// A second data dir configured with the same slot: refused (it did not create the slot), never
// a silent start from the slot's position; `run --adopt-slot` takes it over on purpose; the
// first data dir, started again, then finds its slot moved on: a position gap.
TEST_F(SlotGapTest, AnotherDataDirWithTheSameSlotIsRefusedUntilItAdoptsTheSlot) {
  FirstRun();
  ASSERT_FALSE(HasFailure());
  TempDir other;
  auto env2 = env_;
  env2["CDC_DATA_DIR"] = other.path();
  auto r = testing::RunCli(Args({"run"}), env2);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_CONTAINS(r.err, "\"cdc_pipeline\" exists, but this data dir did not create it");
  EXPECT_CONTAINS(r.err, "run --adopt-slot");
  EXPECT_CONTAINS(r.err, "source.slot");
  EXPECT_EQ(r.err.find("streaming from slot"), std::string::npos) << r.err;
  EXPECT_TRUE(MonitoringIn(other.path()).empty());
  r = testing::RunCli(Args({"health-check"}), env2);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_CONTAINS(r.out, "did not create it");

  InsertMetric(3);
  std::string log = other / "adopt.log";
  {
    CliProcess run(Args({"run", "--adopt-slot"}), env2, log);
    ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
    EXPECT_CONTAINS(testing::ReadFile(log), "taking it over as asked");
    ASSERT_TRUE(WaitFor([&] { return MonitoringIn(other.path()).size() == 1; }, 90))
        << testing::ReadFile(log);
    InsertMetric(4);
    ASSERT_TRUE(WaitFor([&] { return MonitoringIn(other.path()).size() == 2; }, 90))
        << testing::ReadFile(log);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  }
  // No snapshot: it goes on from the slot's position.
  EXPECT_EQ(MonitoringIn(other.path()), (std::vector<std::string>{"INSERT|3", "INSERT|4"}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return SqlValue(
                   "SELECT active FROM pg_replication_slots WHERE slot_name = "
                   "'cdc_pipeline'") == "f";
      },
      60));
  // The adopted slot now streams from where the second data dir left it; started again, that
  // data dir needs no flag.
  ExpectRefused("ahead of what this pipeline acknowledged");
}

// The state store lost (deleted after a clean stop): refused; `run --reset-state` starts over
// with a PositionGap event and a new snapshot, appended to the consumer files; the start after
// it is a plain one.
TEST_F(SlotGapTest, ResetStateStartsOverWithAPositionGapEventAndASnapshot) {
  FirstRun();
  ASSERT_FALSE(HasFailure());
  for (const char* f : {"state.db", "state.db-wal", "state.db-shm"}) {
    std::filesystem::remove(data_ / f);
  }
  auto r = testing::RunCli(Args({"run"}), env_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_CONTAINS(r.err, "state.db");
  EXPECT_CONTAINS(r.err, "is empty (new), but this data dir holds data of an earlier run");
  EXPECT_CONTAINS(r.err, "run --reset-state");
  EXPECT_EQ(Monitoring(), (std::vector<std::string>{"READ|1", "INSERT|2"}));

  InsertMetric(3);  // while stopped: the new snapshot has it
  std::string log = data_ / "reset.log";
  {
    CliProcess run(Args({"run", "--reset-state"}), env_, log);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 5; }, 90)) << testing::ReadFile(log);
    InsertMetric(4);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 6; }, 90)) << testing::ReadFile(log);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  }
  EXPECT_CONTAINS(testing::ReadFile(log), "run --reset-state: starting over");
  // The new snapshot's three rows go to different shards, delivered in parallel: in any order.
  auto monitoring = Monitoring();
  ASSERT_EQ(monitoring.size(), 6u);
  std::sort(monitoring.begin() + 2, monitoring.begin() + 5);
  EXPECT_EQ(monitoring, (std::vector<std::string>{"READ|1", "INSERT|2", "READ|1", "READ|2",
                                                  "READ|3", "INSERT|4"}));
  std::string audit = testing::ReadFile(data_ / "consumers/audit.jsonl");
  EXPECT_CONTAINS(audit, "\"PositionGap\"");
  EXPECT_CONTAINS(audit, "reset-state");

  ASSERT_TRUE(WaitFor(
      [&] {
        return SqlValue(
                   "SELECT active FROM pg_replication_slots WHERE slot_name = "
                   "'cdc_pipeline'") == "f";
      },
      60));
  // Again with the flag: nothing to reset.
  r = testing::RunCli(Args({"run", "--reset-state"}), env_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_CONTAINS(r.err, "nothing to reset");
  // A plain start goes on where the reset left off.
  std::string log2 = data_ / "after.log";
  {
    CliProcess run(Args({"run"}), env_, log2);
    ASSERT_TRUE(WaitForLog(log2, "streaming from slot")) << testing::ReadFile(log2);
    InsertMetric(5);
    ASSERT_TRUE(WaitFor([&] { return Monitoring().size() == 7; }, 90)) << testing::ReadFile(log2);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log2);
  }
  EXPECT_EQ(Monitoring().back(), "INSERT|5");
}

// Captured tables quiet while the database writes elsewhere: the slot's confirmed position
// still follows the server's WAL (keepalives and heartbeats are acknowledged once what came
// before them is durable), so PostgreSQL can recycle the WAL.
TEST_F(SlotGapTest, TheSlotAdvancesWhileOnlyUncapturedTablesAreWritten) {
  Sql("CREATE TABLE noise (id bigserial PRIMARY KEY, payload text)");
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  std::string before = SqlValue(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
      "slot_name = 'cdc_pipeline'");
  // About 4 MB of WAL in 200 transactions, none of them on a captured table.
  for (int i = 0; i < 200; ++i) {
    Sql("INSERT INTO noise (payload) SELECT repeat('x', 200) FROM generate_series(1, 100)");
  }
  std::string written = SqlValue("SELECT pg_current_wal_insert_lsn()");
  EXPECT_EQ(SqlValue("SELECT pg_wal_lsn_diff('" + written + "', '" + before + "') > 1000000"), "t");
  EXPECT_TRUE(WaitFor(
      [&] {
        return SqlValue("SELECT confirmed_flush_lsn >= '" + written +
                        "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'") ==
               "t";
      },
      90))
      << "confirmed_flush_lsn stayed at "
      << SqlValue(
             "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = "
             "'cdc_pipeline'")
      << " (was " << before << ", WAL written up to " << written << ")\n"
      << testing::ReadFile(log);
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  EXPECT_TRUE(Monitoring().empty());  // nothing of the noise reached a consumer
}

// `heartbeat_interval_ms`: while nothing at all is written, `run` writes a non-transactional
// pg_logical_emit_message this often and acknowledges it once it has come back through the slot,
// so the slot's position follows the server's WAL even where every write is in another database.
TEST_F(SlotGapTest, HeartbeatsAreWrittenAndTheSlotConfirmsThem) {
  std::string config = testing::ReadFile(conf_ / "cdc-pipeline.yaml");
  size_t at = config.find("  type: postgres\n");
  ASSERT_NE(at, std::string::npos);
  config.insert(at + 17, "  heartbeat_interval_ms: 200\n");
  testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
  // A test_decoding slot made first sees every message written after it.
  Sql("SELECT pg_create_logical_replication_slot('watch', 'test_decoding')");
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitForLog(log, "streaming from slot")) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto heartbeats = [&] {
    return SqlValue(
        "SELECT count(*) || ' ' || coalesce(max(lsn), '0/0') FROM "
        "pg_logical_slot_peek_changes('watch', NULL, NULL) WHERE data LIKE "
        "'message: transactional: 0 prefix: cdc-pipeline-heartbeat%'");
  };
  std::string seen = heartbeats();
  int count = std::stoi(seen.substr(0, seen.find(' ')));
  std::string last = seen.substr(seen.find(' ') + 1);
  EXPECT_GE(count, 4) << seen << "\n" << testing::ReadFile(log);
  EXPECT_TRUE(WaitFor(
      [&] {
        return SqlValue("SELECT confirmed_flush_lsn > '" + last +
                        "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'") ==
               "t";
      },
      30))
      << "the last heartbeat at " << last << " was not confirmed: "
      << SqlValue(
             "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = "
             "'cdc_pipeline'");
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  Sql("SELECT pg_drop_replication_slot('watch')");
}

// Schema changes through `run`: an ALTER TABLE on a captured table is published as a
// SCHEMA_CHANGE event at its place in the stream (before the first row of the new shape), with
// the schemaVersion its model gives; one made while `run` was stopped is noticed at the first
// row after the start (the shapes are kept in the data dir); a `kill -9` after one (before an
// acknowledgement can be sure to have covered it) does not deliver it twice.
TEST_F(SlotGapTest, SchemaChangesArePublishedWhereTheyHappenAlsoWhileStopped) {
  std::string log = data_ / "run.log";
  auto lines = [&] {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    for (const auto& line : testing::ReadLines(data_ / "consumers/monitoring.jsonl")) {
      simdjson::dom::element d = parser.parse(line)["detail"];
      std::string type(std::string_view(d["eventType"].get_string()));
      if (type == "SCHEMA_CHANGE") {
        type += " v" + std::to_string(uint64_t(d["metadata"]["schemaVersion"].get_uint64())) + " " +
                simdjson::minify(d["changes"]);
      } else {
        type += "|" + std::to_string(int64_t(d["after"]["id"].get_int64()));
      }
      out.push_back(type);
    }
    return out;
  };
  {
    CliProcess run(Args({"run"}), env_, log);
    ASSERT_TRUE(WaitSnapshotDone(log)) << testing::ReadFile(log);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    InsertMetric(1);
    // The model (version 1) has no column `source`: rows of the new shape carry version 2.
    Sql("ALTER TABLE metrics ADD COLUMN source text");
    InsertMetric(2);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGKILL);
    ASSERT_EQ(run.Wait(30), 128 + SIGKILL);
  }
  Sql("ALTER TABLE metrics DROP COLUMN source, ALTER COLUMN unit TYPE varchar(10)");
  InsertMetric(3);
  {
    CliProcess run(Args({"run"}), env_, log);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  }
  std::vector<std::string> want = {
      "INSERT|1",
      R"j(SCHEMA_CHANGE v2 {"added":["source"],"dropped":[],"renamed":{},"retyped":{}})j",
      "INSERT|2",
      R"j(SCHEMA_CHANGE v2 {"added":[],"dropped":["source"],"renamed":{},)j"
      R"j("retyped":{"unit":{"from":"text","to":"character varying(10)"}}})j",
      "INSERT|3"};
  // Events are ordered per key (one delivery worker per shard): a SCHEMA_CHANGE travels on the
  // table's own key, so it is not ordered with other keys' rows, only positioned before them.
  std::vector<std::string> got = lines();
  std::vector<std::string> inserts;
  for (const auto& l : got) {
    if (l.starts_with("INSERT")) inserts.push_back(l);
  }
  EXPECT_EQ(inserts, (std::vector<std::string>{"INSERT|1", "INSERT|2", "INSERT|3"}));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << testing::ReadFile(log);
  // The events validate against the JSON Schema `models export` writes for the table.
  auto exported = testing::RunCli(
      Args({"models", "export", "--format", "jsonschema", "--out", data_ / "schemas"}), env_);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::string python = testing::FileExists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::string command = python + " " + testing::SourcePath("tests/support/validate_events.py") +
                        " " + data_ / "schemas" + " " + data_ / "consumers" + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_NE(out.find("failed 0"), std::string::npos) << out;
}

// `schema_changes: dead_letter`: the event goes to the dead-letter file with what changed; the
// rows go on.
TEST_F(SlotGapTest, SchemaChangesCanBeDeadLettered) {
  std::string config = testing::ReadFile(conf_ / "cdc-pipeline.yaml");
  size_t at = config.find("    model: models/metrics.yaml\n");
  ASSERT_NE(at, std::string::npos);
  config.insert(at, "    schema_changes: dead_letter\n");
  testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
  std::string log = data_ / "run.log";
  CliProcess run(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitSnapshotDone(log)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  Sql("ALTER TABLE metrics RENAME COLUMN unit TO units");
  InsertMetric(1);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  EXPECT_EQ(Monitoring(), std::vector<std::string>{"INSERT|1"});
  std::string letters = testing::ReadFile(data_ / "dead-letter.jsonl");
  EXPECT_CONTAINS(letters, "schema change of metrics: renamed unit to units");
  EXPECT_CONTAINS(letters, "schema_changes: dead_letter");
}

// `unchanged_toast: last_image`: an UPDATE that leaves a large (TOASTed) jsonb unchanged, on a
// table without REPLICA IDENTITY FULL, carries the real value from the key's last row image,
// also after a `kill -9` (the images are in the state store, committed with the stream).
TEST_F(SlotGapTest, UnchangedToastValuesAreFilledFromTheLastRowImage) {
  std::string config = testing::ReadFile(conf_ / "cdc-pipeline.yaml");
  size_t at = config.find("    model: models/notifications.yaml\n");
  ASSERT_NE(at, std::string::npos);
  config.insert(at, "    unchanged_toast: last_image\n");
  testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
  std::string log = data_ / "run.log";
  auto run = std::make_unique<CliProcess>(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitSnapshotDone(log)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  // ~96 kB of md5 hex: stored out of line (TOAST), so an UPDATE of another column omits it.
  Sql("INSERT INTO notifications (id, user_id, channel, template, payload) VALUES (1, 'usr_1', "
      "'email', 'welcome', jsonb_build_object('blob', (SELECT string_agg(md5(g::text), '') FROM "
      "generate_series(1, 3000) g)))");
  Sql("UPDATE notifications SET status = 'sent' WHERE id = 1");
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  run->Signal(SIGKILL);
  ASSERT_EQ(run->Wait(30), 128 + SIGKILL);
  run = std::make_unique<CliProcess>(Args({"run"}), env_, log);
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  Sql("UPDATE notifications SET status = 'read' WHERE id = 1");
  ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);

  std::string blob = SqlValue("SELECT payload->>'blob' FROM notifications WHERE id = 1");
  ASSERT_EQ(blob.size(), 96000u);
  std::vector<std::string> got;
  simdjson::dom::parser parser;
  for (const auto& line : testing::ReadLines(data_ / "consumers/messaging-service.jsonl")) {
    simdjson::dom::element d = parser.parse(line)["detail"];
    std::string entry(std::string_view(d["eventType"].get_string()));
    entry += "|" + std::string(std::string_view(d["after"]["status"].get_string()));
    std::string_view have;
    if (d["after"]["payload"]["blob"].get_string().get(have) == simdjson::SUCCESS) {
      entry += have == blob ? "|payload" : "|wrong payload";
    }
    simdjson::dom::element marked;
    if (d["metadata"]["unchangedToast"].get(marked) == simdjson::SUCCESS) entry += "|marked";
    got.push_back(entry);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"INSERT|queued|payload", "UPDATE|sent|payload",
                                           "UPDATE|read|payload"}))
      << testing::ReadFile(log);
}

// The other DDL through `run`. TRUNCATE is an event type of its own: published (no rows) where
// the table's event_types list it, filtered where they do not. A table added to the config is
// added to the publication at the next start (not a table gap): its changes from then on arrive;
// what it held before is read with `backfill`.
TEST_F(SlotGapTest, TruncateIsAnEventTypeAndATableAddedToTheConfigIsCapturedFromItsStart) {
  Sql("CREATE TABLE extra (id int PRIMARY KEY, note text)");
  Sql("INSERT INTO extra VALUES (1, 'before the table was configured')");
  std::string config = testing::ReadFile(conf_ / "cdc-pipeline.yaml");
  std::string metrics_types = "    function: processMetricChanges\n    event_types: [INSERT]\n";
  size_t at = config.find(metrics_types);
  ASSERT_NE(at, std::string::npos);
  config.replace(at, metrics_types.size(),
                 "    function: processMetricChanges\n    event_types: [INSERT, TRUNCATE]\n");
  testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
  std::string log = data_ / "run.log";
  {
    CliProcess run(Args({"run"}), env_, log);
    ASSERT_TRUE(WaitSnapshotDone(log)) << testing::ReadFile(log);
    InsertMetric(1);
    Sql("TRUNCATE metrics");
    InsertMetric(2);
    Sql("TRUNCATE notifications");  // notifications publish INSERT and UPDATE only: filtered
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  }
  std::vector<std::string> types;
  simdjson::dom::parser parser;
  for (const auto& line : testing::ReadLines(data_ / "consumers/monitoring.jsonl")) {
    simdjson::dom::element e = parser.parse(line);
    types.push_back(std::string(std::string_view(e["detail-type"].get_string())));
  }
  EXPECT_EQ(types,
            (std::vector<std::string>{"metrics.INSERT", "metrics.TRUNCATE", "metrics.INSERT"}));
  EXPECT_TRUE(testing::ReadLines(data_ / "consumers/messaging-service.jsonl").empty());

  // Now `extra` joins the config, routed to the audit consumer.
  config = testing::ReadFile(conf_ / "cdc-pipeline.yaml");
  size_t rules = config.find("\nrules:\n");
  ASSERT_NE(rules, std::string::npos);
  config.insert(rules + 8,
                "  extra-audit:\n"
                "    event_pattern: {source: [cdc.coredb], detail: {tableName: [extra]}}\n"
                "    targets: [audit]\n");
  size_t tables = config.find("\ntables:\n");
  ASSERT_NE(tables, std::string::npos);
  config.insert(tables + 9, "  extra:\n    event_types: [INSERT, UPDATE]\n    primary_key: [id]\n");
  testing::WriteFile(conf_ / "cdc-pipeline.yaml", config);
  std::string log2 = data_ / "run2.log";  // a log of its own: the first one says "streaming" too
  {
    CliProcess run(Args({"run"}), env_, log2);
    ASSERT_TRUE(WaitForLog(log2, "streaming from slot")) << testing::ReadFile(log2);
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log2);
    Sql("INSERT INTO extra VALUES (2, 'after')");
    Sql("UPDATE extra SET note = 'changed' WHERE id = 1");
    ASSERT_TRUE(WaitCaughtUp()) << testing::ReadFile(log2);
    run.Signal(SIGTERM);
    ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log2);
  }
  EXPECT_EQ(SqlValue("SELECT count(*) FROM pg_publication_tables WHERE tablename = 'extra'"), "1");
  std::vector<std::string> audit;
  for (const auto& line : testing::ReadLines(data_ / "consumers/audit.jsonl")) {
    simdjson::dom::element d = parser.parse(line)["detail"];
    audit.push_back(std::string(std::string_view(d["eventType"].get_string())) + "|" +
                    std::to_string(int64_t(d["after"]["id"].get_int64())));
  }
  EXPECT_EQ(audit, (std::vector<std::string>{"INSERT|2", "UPDATE|1"}))
      << testing::ReadFile(log2) << testing::ReadFile(data_ / "dead-letter.jsonl");
  EXPECT_EQ(testing::ReadFile(log2).find("table gap"), std::string::npos)
      << testing::ReadFile(log2);
}

}  // namespace
}  // namespace cdc
