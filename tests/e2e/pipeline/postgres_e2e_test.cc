// End to end against a real PostgreSQL, as a user runs it: the CoreDB schema, the shipped config,
// `cdc-pipeline run` in the background and `cdc-pipeline generate` driving load, with the
// pipeline killed (SIGKILL) and restarted in the middle. wal2json on its own slot, created before
// the pipeline starts, is the independent record of what was committed: every committed change of
// an allowed event type must appear in every consumer file it is routed to.
#include "e2e/pipeline/postgres_e2e.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "support/coredb.h"
#include "support/pg_server.h"
#include "support/test_util.h"
#include "support/wal2json_oracle.h"

namespace cdc {
namespace {

using testing::Change;
using testing::CliProcess;
using testing::ConsumerChanges;
using testing::OracleChanges;
using testing::PgServer;
using testing::PostgresE2E;
using testing::TempDir;

// The checkpoint protocol under fire: SIGKILL at random moments, 20 times, while `generate`
// commits. Afterwards every committed change is in each of its consumer files exactly once, and
// the changes of each row are in commit order.
TEST_F(PostgresE2E, ExactlyOnceInCommitOrderAcross20Kill9) {
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess generate({"generate", "--rate", "600", "--duration", "40", "--seed", "7"}, env_,
                      data_ / "generate.log");
  std::mt19937 random(20261125);
  int kills = 0;
  for (; kills < 20 && generate.running(); ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + random() % 1200));
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  }
  EXPECT_EQ(kills, 20) << "the workload ended before the 20th kill";
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(5000);
}

TEST_F(PostgresE2E, EveryCommittedChangeReachesItsConsumersAcrossAServerRestart) {
  std::string log = data_ / "run.log";
  auto started = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  CliProcess& run = *started;
  ASSERT_EQ(Cli({"generate", "--rate", "400", "--duration", "2", "--seed", "11"}), 0);
  // A fast shutdown waits for the pipeline to confirm everything: it must ack while idle.
  ASSERT_TRUE(server_->Restart("fast").ok()) << server_->LogTail();
  ASSERT_EQ(Cli({"generate", "--rate", "400", "--duration", "2", "--seed", "12"}), 0);
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(30), 0) << testing::ReadFile(log);
  EXPECT_NE(testing::ReadFile(log).find("reconnecting"), std::string::npos)
      << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(500);
}

TEST_F(PostgresE2E, AHugeTransactionStreamsInBoundedMemory) {
  std::string log = data_ / "run.log";
  CliProcess run({"run"}, env_, log);
  ASSERT_TRUE(WaitSnapshotDone(log, 60)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  // 200k rows in one transaction: about 2 x 90 MB of events for the two metrics consumers.
  ASSERT_TRUE(server_
                  ->Execute("INSERT INTO metrics (id, name, value, tags) SELECT g, "
                            "'load.' || (g % 50), g * 0.25, '{\"host\":\"db-1\"}' FROM "
                            "generate_series(1, 200000) g",
                            "coredb")
                  .ok());
  ASSERT_TRUE(WaitCaughtUp(300)) << testing::ReadFile(log);
  std::string status = testing::ReadFile("/proc/" + std::to_string(run.pid()) + "/status");
  size_t at = status.find("VmHWM:");
  ASSERT_NE(at, std::string::npos);
  [[maybe_unused]] long peak_kib = std::stol(status.substr(at + 6));
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(60), 0) << testing::ReadFile(log);
  EXPECT_EQ(testing::ReadLines(data_ / "consumers/monitoring.jsonl").size(), 200000u);
  EXPECT_EQ(testing::ReadLines(data_ / "consumers/dashboards.jsonl").size(), 200000u);
  // The transaction is passed on change by change; nothing holds it whole. (Under AddressSanitizer
  // freed memory sits in its quarantine, so RSS says nothing there.)
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(peak_kib, 150 * 1024) << "peak RSS " << peak_kib << " KiB";
#endif
}

// Protocol 2: a transaction bigger than the server's logical_decoding_work_mem (64 kB here) is
// sent while in progress and spilled until its commit. `run` is killed while three of them are
// half sent: one that commits, one that rolls back, one with a rolled-back savepoint. PostgreSQL
// streams them again to the next `run`: every committed change arrives once, nothing of the
// rolled-back work ever does.
TEST_F(PostgresE2E, StreamedTransactionsAcrossAKill9ArriveOnceAndRolledBackWorkNever) {
  ASSERT_TRUE(
      server_->Execute("ALTER DATABASE coredb SET logical_decoding_work_mem = '64kB'").ok());
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(testing::ReadFile(log).find("pgoutput protocol 2"), std::string::npos)
      << testing::ReadFile(log);
  auto rows = [](int from, int to) {
    return "INSERT INTO metrics (id, name, value, tags) SELECT g, 'load.' || (g % 50), g * 0.25, "
           "'{\"host\":\"db-1\"}' FROM generate_series(" +
           std::to_string(from) + ", " + std::to_string(to) + ") g; ";
  };
  std::vector<std::thread> writers;
  auto write = [&](std::string sql) {
    writers.emplace_back([this, sql] { EXPECT_TRUE(server_->Execute(sql, "coredb").ok()) << sql; });
  };
  write("BEGIN; " + rows(1000001, 1030000) + "SELECT pg_sleep(3); " + rows(1030001, 1060000) +
        "COMMIT");
  write("BEGIN; " + rows(2000001, 2030000) + "SELECT pg_sleep(2); ROLLBACK");
  write("BEGIN; " + rows(3000001, 3010000) + "SAVEPOINT a; " + rows(3010001, 3020000) +
        "SELECT pg_sleep(1); ROLLBACK TO SAVEPOINT a; " + rows(3020001, 3030000) + "COMMIT");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  run->Signal(SIGKILL);
  ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
  run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  for (auto& w : writers) w.join();
  ASSERT_TRUE(WaitCaughtUp(120)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  // 60,000 + 20,000 committed rows (the oracle's count; each goes to two consumers).
  ExpectEveryCommittedChangeExactlyOnceInOrder(80000 - 1);
  auto streamed = server_->QueryValue(
      "SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'cdc_pipeline'",
      "coredb");
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_GE(std::stoll(*streamed), 3) << "the transactions were not streamed in progress";
}

TEST_F(PostgresE2E, SnapshotThenStreamHasNoGapAndNoDuplicate) {
  ASSERT_EQ(Cli({"generate", "--seed-only"}), 0);
  // Rows that exist before the pipeline starts arrive as READ events, once each.
  auto run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, data_ / "run.log");
  ASSERT_TRUE(WaitSnapshotDone(data_ / "run.log", 60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(
      server_->Execute("UPDATE inventory SET quantity = quantity - 1 WHERE id = 10", "coredb")
          .ok());
  ASSERT_TRUE(WaitCaughtUp(30));
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0);
  auto warehouse = ConsumerChanges(data_ / "consumers/warehouse.jsonl");
  std::multiset<Change> all(warehouse.begin(), warehouse.end());
  EXPECT_EQ(all.count("inventory|READ|10"), 1u);
  EXPECT_EQ(all.count("inventory|UPDATE|10"), 1u);
  auto inventory_rows = server_->QueryValue("SELECT count(*) FROM inventory", "coredb");
  ASSERT_TRUE(inventory_rows.ok());
  EXPECT_EQ(warehouse.size(), std::stoul(*inventory_rows) + 1);
  // Restarting does not snapshot again.
  auto again =
      std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, data_ / "run2.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  again->Signal(SIGTERM);
  ASSERT_EQ(again->Wait(30), 0);
  EXPECT_EQ(ConsumerChanges(data_ / "consumers/warehouse.jsonl").size(), warehouse.size());
}

TEST_F(PostgresE2E, SnapshotAndStreamGiveTheSameJsonForTheSameRow) {
  ASSERT_TRUE(server_
                  ->Execute(R"sql(
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE typed (id int PRIMARY KEY, n numeric, f float8, b bool, t text, u uuid, j jsonb,
                        by bytea, d date, tm time, ts timestamp, tz timestamptz, iv interval,
                        ip inet, a int[], ta text[], m mood);
    INSERT INTO typed VALUES (1, 12345678901234567890.123, 'NaN', true, 'é "q" \n', 
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2.50]}', '\x00ff', 'infinity',
      '10:30:00.5', '2024-01-15 10:30:00', '2024-01-15 10:30:00+02', '1 day 2 hours',
      '192.168.0.0/24', '{1,NULL,3}', '{"a,b","c\"d"}', 'happy');
  )sql",
                            "coredb")
                  .ok());
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  config.replace(config.find("\ntables:\n"), 9,
                 "\ntables:\n  typed:\n    event_types: [INSERT]\n    primary_key: [id]\n");
  config += "  typed-out:\n    type: file\n    path: ${CDC_DATA_DIR}/typed.jsonl\n";
  config.replace(
      config.find("\nrules:\n"), 8,
      "\nrules:\n  typed:\n    event_pattern: {detail: {tableName: [typed]}}\n    targets: "
      "[typed-out]\n");
  testing::WriteFile(data_ / "typed.yaml", config);
  testing::CopyShippedModels(data_.path());
  CliProcess run({"run", "--config", data_ / "typed.yaml"}, env_, data_ / "run.log");
  ASSERT_TRUE(WaitSnapshotDone(data_ / "run.log", 60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(server_
                  ->Execute("INSERT INTO typed SELECT 2, n, f, b, t, u, j, by, d, tm, ts, tz, iv, "
                            "ip, a, ta, m FROM typed WHERE id = 1",
                            "coredb")
                  .ok());
  ASSERT_TRUE(WaitCaughtUp(30));
  run.Signal(SIGTERM);
  ASSERT_EQ(run.Wait(30), 0) << testing::ReadFile(data_ / "run.log");
  auto lines = testing::ReadLines(data_ / "typed.jsonl");
  ASSERT_EQ(lines.size(), 2u) << testing::ReadFile(data_ / "run.log");
  auto after = [](const std::string& line) {
    size_t start = line.find("\"after\":{\"id\":");
    size_t end = line.find("},\"metadata\"");
    std::string a = line.substr(start, end - start);
    return a.substr(a.find(','));  // without the id
  };
  EXPECT_NE(lines[0].find("\"eventType\":\"READ\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"eventType\":\"INSERT\""), std::string::npos);
  EXPECT_EQ(after(lines[0]), after(lines[1]));
  EXPECT_NE(after(lines[0]).find("\"n\":12345678901234567890.123"), std::string::npos) << lines[0];
  EXPECT_NE(after(lines[0]).find("\"j\":{\"k\":[1,2.50]}"), std::string::npos) << lines[0];
}

// 60000 metrics rows and a config with small snapshot batches: starts `run` and returns it once
// the snapshot has delivered some rows of metrics, but not all.
std::unique_ptr<CliProcess> StartLongSnapshot(PgServer& server, const TempDir& data,
                                              const std::map<std::string, std::string>& env) {
  EXPECT_TRUE(server
                  .Execute("INSERT INTO metrics (id, name, value) SELECT g, 'm', g FROM "
                           "generate_series(1, 60000) g",
                           "coredb")
                  .ok());
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  config.replace(config.find("  snapshot: initial\n"), 20,
                 "  snapshot: initial\n  snapshot_batch_size: 500\n");
  testing::WriteFile(data / "small-batches.yaml", config);
  testing::CopyShippedModels(data.path());
  auto run = std::make_unique<CliProcess>(
      std::vector<std::string>{"run", "--config", data / "small-batches.yaml"}, env,
      data / "run.log");
  for (int i = 0; i < 600; ++i) {
    if (testing::ReadLines(data / "consumers/monitoring.jsonl").size() > 1000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return run;
}

// A stop (SIGTERM) during the initial snapshot ends cleanly and says what the next start does.
TEST_F(PostgresE2E, AStopDuringTheSnapshotSaysItResumes) {
  auto run = StartLongSnapshot(*server_, data_, env_);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(data_ / "run.log");
  ASSERT_LT(testing::ReadLines(data_ / "consumers/monitoring.jsonl").size(), 60000u)
      << "the snapshot finished before the stop";
  std::string log = testing::ReadFile(data_ / "run.log");
  EXPECT_NE(log.find("stopped during the initial snapshot of slot cdc_pipeline: the next start "
                     "resumes it after its last completed chunk"),
            std::string::npos)
      << log;
  EXPECT_TRUE(testing::FileExists(data_ / "postgres-snapshot-cdc_pipeline.progress"));
}

// A crash during the snapshot keeps the slot: the next start resumes the snapshot after its last
// completed chunk, so every row comes as a READ exactly once, and the change committed in between
// comes as its own event.
TEST_F(PostgresE2E, ACrashDuringTheSnapshotResumesIt) {
  std::string log = data_ / "run.log";
  {
    auto run = StartLongSnapshot(*server_, data_, env_);
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL) << testing::ReadFile(log);
  }
  size_t partial = testing::ReadLines(data_ / "consumers/monitoring.jsonl").size();
  ASSERT_LT(partial, 60000u) << "the snapshot finished before the kill";
  ASSERT_TRUE(testing::FileExists(data_ / "postgres-snapshot-cdc_pipeline.progress"));
  // Committed while the pipeline is down, below the keys the snapshot already read.
  ASSERT_TRUE(
      server_->Execute("INSERT INTO metrics (id, name, value) VALUES (0, 'down', 1)", "coredb")
          .ok());
  CliProcess again({"run", "--config", data_ / "small-batches.yaml"}, env_, log);
  ASSERT_TRUE(WaitSnapshotDone(log, 180)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp(120)) << testing::ReadFile(log);
  ASSERT_TRUE(
      server_->Execute("INSERT INTO metrics (id, name, value) VALUES (60001, 'after', 1)", "coredb")
          .ok());
  ASSERT_TRUE(WaitCaughtUp(30));
  again.Signal(SIGTERM);
  ASSERT_EQ(again.Wait(30), 0) << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_EQ(text.find("dropping the slot"), std::string::npos);
  EXPECT_NE(text.find("resuming the initial snapshot"), std::string::npos) << text;
  EXPECT_NE(text.find(" complete ("), std::string::npos) << text;
  std::multiset<std::string> reads;
  size_t inserts = 0, early = 0;
  for (const auto& change : ConsumerChanges(data_ / "consumers/monitoring.jsonl")) {
    if (change.find("|READ|") != std::string::npos) reads.insert(change);
    if (change == "metrics|INSERT|60001") ++inserts;
    if (change == "metrics|INSERT|0") ++early;
  }
  std::set<std::string> distinct(reads.begin(), reads.end());
  EXPECT_EQ(distinct.size(), 60000u);  // every row
  EXPECT_EQ(reads.size(), 60000u);     // once
  EXPECT_EQ(early, 1u);                // the change made while it was down, as its own event
  EXPECT_EQ(inserts, 1u);              // and streaming continues, once
}

TEST_F(PostgresE2E, HealthCheckAndValidateConfigNameATableWithoutKey) {
  auto healthy = testing::RunCli({"health-check"}, env_);
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_NE(healthy.out.find("ok    source (postgres)"), std::string::npos) << healthy.out;
  ASSERT_TRUE(server_->Execute("ALTER TABLE metrics DROP CONSTRAINT metrics_pkey", "coredb").ok());
  auto sick = testing::RunCli({"health-check"}, env_);
  EXPECT_EQ(sick.exit_code, 1);
  EXPECT_NE(sick.out.find("FAIL  source (postgres)"), std::string::npos) << sick.out;
  EXPECT_NE(sick.out.find("metrics"), std::string::npos) << sick.out;
  auto validate = testing::RunCli({"validate-config"}, env_);
  EXPECT_EQ(validate.exit_code, 1);
  EXPECT_NE(validate.err.find("metrics"), std::string::npos) << validate.err;
  auto run = testing::RunCli({"run"}, env_);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("metrics"), std::string::npos) << run.err;
  // Nothing was published: the application's UPDATE and DELETE on metrics still work.
  EXPECT_TRUE(server_->Execute("UPDATE metrics SET value = 1", "coredb").ok());
}

// Captured tables quiet, the database busy elsewhere: a write loop on a table outside the
// publication for 4 s. The slot's confirmed_flush_lsn keeps moving while the loop runs (keepalive
// positions that hold nothing for us are acknowledged once everything before them is durable), so
// the WAL the slot holds stays small instead of growing with the loop.
TEST_F(PostgresE2E, IdleSlotAdvancesUnderAWriteLoopOnAnUncapturedTable) {
  auto run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, data_ / "run.log");
  ASSERT_TRUE(WaitSnapshotDone(data_ / "run.log", 60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(data_ / "run.log");
  ASSERT_TRUE(server_->Execute("CREATE TABLE other (id int primary key, pad text)", "coredb").ok());
  std::atomic<bool> writing{true};
  std::thread loop([&] {
    for (int i = 0; writing; ++i) {
      EXPECT_TRUE(
          server_
              ->Execute("INSERT INTO other SELECT g, repeat('x', 200) FROM generate_series(" +
                            std::to_string(i * 100 + 1) + ", " + std::to_string(i * 100 + 100) +
                            ") g",
                        "coredb")
              .ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto confirmed = [&] {
    auto v = server_->QueryValue(
        "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = "
        "'cdc_pipeline'",
        "coredb");
    return v.ok() ? std::stod(*v) : 0.0;
  };
  auto held = [&] {  // WAL bytes between the slot's confirmed position and the insert position
    auto v = server_->QueryValue(
        "SELECT pg_current_wal_insert_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
        "WHERE slot_name = 'cdc_pipeline'",
        "coredb");
    return v.ok() ? std::stod(*v) : -1.0;
  };
  double first = confirmed(), last = first, max_held = 0;
  int moves = 0;
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    double now = confirmed();
    if (now > last) ++moves;
    last = now;
    max_held = std::max(max_held, held());
  }
  writing = false;
  loop.join();
  // Each 500 ms sample saw it move (two misses allowed for a loaded machine), and it never held
  // more than a few MB of the ~5 MB the loop wrote.
  EXPECT_GE(moves, 6) << "confirmed_flush_lsn moved in " << moves << " of 8 samples";
  EXPECT_LT(max_held, 4.0 * 1024 * 1024) << "the slot held " << max_held << " bytes of WAL";
  EXPECT_TRUE(WaitCaughtUp(30)) << testing::ReadFile(data_ / "run.log");
  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(30), 0);
}

// A disk that fails an fsync (EIO, injected into the real binary with LD_PRELOAD) mid-stream:
// first the stream's, then a consumer file's. After a failed fsync the kernel may have dropped
// the dirty pages, so `run` must stop with an error naming the file, not retry and carry on, and
// acknowledge nothing past its last good sync. A restart without the fault then delivers every
// committed change exactly once.
TEST_F(PostgresE2E, AFailedFsyncStopsRunAndLosesNothing) {
  std::string log = data_ / "run.log";
  auto run = StartStreaming(log);
  ASSERT_FALSE(HasFailure());
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  CliProcess generate({"generate", "--rate", "300", "--duration", "25", "--seed", "11"}, env_,
                      data_ / "generate.log");
  const char* asan = std::getenv("ASAN_OPTIONS");
  struct Fault {
    std::string name, match, error;
  };
  auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  for (const Fault& fault : {Fault{"stream", "/stream/", "cannot fdatasync"},
                             Fault{"consumers", "/consumers/", "cannot fsync"}}) {
    SCOPED_TRACE(fault.match);
    auto faulty = env_;
    faulty["LD_PRELOAD"] = CDC_FAULT_FSYNC_LIB;
    faulty["CDC_FAULT_FSYNC_MATCH"] = fault.match;
    faulty["CDC_FAULT_FSYNC_AFTER"] = "30";
    // The preloaded library comes before the sanitizer runtime in the ASan build.
    faulty["ASAN_OPTIONS"] = std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0";
    std::string fault_log = data_ / ("run-fault-" + fault.name + ".log");
    CliProcess faulty_run({"run"}, faulty, fault_log);
    int code = faulty_run.Wait(60);
    std::string text = testing::ReadFile(fault_log);
    EXPECT_NE(code, 0) << text;
    EXPECT_NE(code, -1) << "still running after an fsync failed:\n" << text;
    EXPECT_NE(code, 128 + SIGABRT) << text;
    EXPECT_TRUE(has(text, "fault_fsync: EIO for")) << text;
    EXPECT_TRUE(has(text, fault.error)) << text;
    EXPECT_TRUE(has(text, "Input/output error")) << text;
    EXPECT_TRUE(has(text, "Fix the disk, then start `run` again.")) << text;
    EXPECT_TRUE(generate.running()) << "the workload ended before the fault";
  }
  ASSERT_EQ(generate.Wait(90), 0) << testing::ReadFile(data_ / "generate.log");
  run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  ExpectEveryCommittedChangeExactlyOnceInOrder(2000);
}

}  // namespace
}  // namespace cdc
