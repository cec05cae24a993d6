// Backfills while streaming, end to end against a real PostgreSQL: `cdc-pipeline backfill` (a row
// in the signal table) makes the running pipeline read a table, or the rows of it matching a
// condition, again as READ events while changes keep streaming as their own events. wal2json on
// its own slot, made before the pipeline's, is the record of what was committed (the signal rows
// included, so the test knows where each backfill was asked for). Checked:
//   - every committed change reaches its consumers exactly once, in commit order per row;
//   - every row of the table (or of the range) that no change touched after the backfill was
//     asked for arrives as READ exactly once; no row arrives as READ twice; none outside the range;
//   - nothing of the signal table is published;
//   - signals that cannot be used (unknown type, bad data, a table not captured, a bad
//     condition) are warnings or a failed backfill in status, and the pipeline goes on;
//   - kill -9 during a backfill of a 100,000-row table: it resumes after its last completed
//     chunk and completes once, every row present as READ or through its changes.
#include <gtest/gtest.h>
#include <libpq-fe.h>
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

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

using testing::JsonValueText;

// One committed change as wal2json (format-version 2) recorded it.
struct Committed {
  std::string table, op, id, v;  // v: the column `v` when there is one
};

std::vector<Committed> OracleChanges(const PgServer& server) {
  std::vector<Committed> out;
  for (const auto& c : testing::ReadOracle(server, "coredb", {"id", "v"})) {
    out.push_back({c.table, c.op, c.Value("id"), c.Value("v")});
  }
  return out;
}

// One published event of a consumer file.
struct Published {
  std::string table, op, id, v;
};

std::vector<Published> FileEvents(const std::string& path) {
  std::vector<Published> out;
  simdjson::dom::parser parser;
  for (const auto& line : testing::ReadLines(path)) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << path << ": " << line;
    simdjson::dom::element d = e["detail"];
    Published p;
    p.op = std::string(std::string_view(d["eventType"].get_string()));
    p.table = std::string(std::string_view(d["tableName"].get_string()));
    simdjson::dom::element image;
    bool has_after = d["after"].get(image) == simdjson::SUCCESS && image.is_object();
    if (!has_after) image = d["before"];
    p.id = JsonValueText(image["id"]);
    simdjson::dom::element v;
    if (has_after && image["v"].get(v) == simdjson::SUCCESS) p.v = JsonValueText(v);
    out.push_back(p);
  }
  return out;
}

class BackfillE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PgServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->Execute("CREATE DATABASE coredb").ok());
    env_ = {{"COREDB_DSN", server_->Dsn("coredb")},
            {"CDC_DATA_DIR", data_.path()},
            {"CDC_LOG_LEVEL", "info"},
            {"CDC_ADMIN_LISTEN", "127.0.0.1:0"}};
  }

  testing::CommandResult Cli(const std::vector<std::string>& args) {
    return testing::RunCli(args, env_);
  }

  bool WaitCaughtUp(double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto v = server_->QueryValue(
          "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() FROM pg_replication_slots "
          "WHERE slot_name = 'cdc_pipeline'",
          "coredb");
      if (v.ok() && *v == "t") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  bool WaitLog(const std::string& log, const std::string& text, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (testing::ReadFile(log).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The backfill id `backfill` printed ("backfill <id> of ...").
  static std::string BackfillId(const std::string& out) {
    size_t at = out.find("backfill ");
    if (at == std::string::npos) return "";
    at += 9;
    return out.substr(at, out.find(' ', at) - at);
  }

  // `status --json`'s backfills: id -> state (read from the data dir).
  std::map<std::string, std::string> BackfillStates(const std::string& config = "") {
    std::vector<std::string> args = {"status", "--json"};
    if (!config.empty()) args = {"status", "--json", "--config", config};
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.out).get(doc) != simdjson::SUCCESS) return out;
    simdjson::dom::array list;
    if (doc["backfills"].get(list) != simdjson::SUCCESS) return out;
    for (auto b : list) {
      out[std::string(std::string_view(b["id"].get_string()))] =
          std::string(std::string_view(b["state"].get_string()));
    }
    return out;
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  std::map<std::string, std::string> env_;
};

// The shipped config on the CoreDB schema under `generate`: a backfill of users (whole table)
// and of orders (rows matching a condition) while changes stream.
TEST_F(BackfillE2E, TableAndRangeReadAgainWhileChangesStreamExactlyOnce) {
  ASSERT_TRUE(
      server_->Execute(testing::ReadFile(testing::SourcePath("sql/coredb.sql")), "coredb").ok());
  ASSERT_EQ(Cli({"generate", "--seed-only"}).exit_code, 0);
  ASSERT_TRUE(
      server_->Execute("SELECT pg_create_logical_replication_slot('oracle', 'wal2json')", "coredb")
          .ok());
  std::string log = data_ / "run.log";
  auto run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  ASSERT_TRUE(WaitLog(log, "streaming from slot", 60)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitLog(log, "initial snapshot", 60)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  // Rows to read again, then the workload that goes on during the backfills.
  ASSERT_EQ(Cli({"generate", "--rate", "400", "--duration", "5", "--seed", "3"}).exit_code, 0);
  CliProcess generate({"generate", "--rate", "300", "--duration", "25", "--seed", "4"}, env_,
                      data_ / "generate.log");
  std::this_thread::sleep_for(std::chrono::seconds(1));

  auto users = Cli({"backfill", "--table", "users"});
  ASSERT_EQ(users.exit_code, 0) << users.out << users.err << testing::ReadFile(log);
  EXPECT_NE(users.out.find("done:"), std::string::npos) << users.out;
  std::string users_id = BackfillId(users.out);
  const std::string odd = "right(id, 1) IN ('1', '3', '5', '7', '9')";
  auto orders = Cli({"backfill", "--table", "public.orders", "--where", odd});
  ASSERT_EQ(orders.exit_code, 0) << orders.out << orders.err << testing::ReadFile(log);
  std::string orders_id = BackfillId(orders.out);
  EXPECT_TRUE(generate.running()) << "the workload ended before the backfills did";
  ASSERT_EQ(generate.Wait(60), 0) << testing::ReadFile(data_ / "generate.log");
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  auto states = BackfillStates();
  EXPECT_EQ(states[users_id], "done");
  EXPECT_EQ(states[orders_id], "done");

  // Every committed change exactly once per consumer, in order (READ events aside).
  auto oracle = OracleChanges(*server_);
  using Histories = std::map<std::string, std::vector<std::string>>;  // "table|id" -> ops
  std::map<std::string, Histories> want, got;
  std::map<std::string, size_t> asked;  // backfill id -> its signal's place in the oracle
  for (size_t i = 0; i < oracle.size(); ++i) {
    const Committed& c = oracle[i];
    if (c.table == "cdc_pipeline_signals") {
      asked[c.id] = i;
      continue;
    }
    if (!testing::CoreDbEventTypes().at(c.table).count(c.op)) continue;
    for (const auto& consumer : testing::CoreDbConsumers().at(c.table)) {
      want[consumer][c.table + "|" + c.id].push_back(c.op);
    }
  }
  ASSERT_TRUE(asked.count(users_id) && asked.count(orders_id));
  std::map<std::string, std::map<std::string, int>> reads;  // consumer -> "table|id" -> READs
  size_t delivered = 0;
  for (const auto& f : testing::ListFiles(data_ / "consumers")) {
    std::string consumer = f.substr(0, f.size() - 6);
    for (const Published& p : FileEvents(data_ / ("consumers/" + f))) {
      EXPECT_NE(p.table, "cdc_pipeline_signals") << "a signal row was published";
      if (p.op == "READ") {
        ++reads[consumer][p.table + "|" + p.id];
      } else {
        got[consumer][p.table + "|" + p.id].push_back(p.op);
        ++delivered;
      }
    }
  }
  EXPECT_GT(delivered, 2000u);
  EXPECT_EQ(got, want) << "changes not delivered exactly once, in commit order";
  EXPECT_FALSE(testing::FileExists(data_ / "dead-letter.jsonl"))
      << testing::ReadFile(data_ / "dead-letter.jsonl");

  // READ rows: users has no rows before the workload (the initial snapshot read none), so every
  // READ of it is the backfill's.
  auto touched_after = [&](const std::string& table, size_t from) {
    std::set<std::string> ids;
    for (size_t i = from; i < oracle.size(); ++i) {
      if (oracle[i].table == table) ids.insert(oracle[i].id);
    }
    return ids;
  };
  struct Expect {
    std::string table, consumer, id, where;
  };
  for (const Expect& e : {Expect{"users", "wallboards", users_id, "true"},
                          Expect{"orders", "reporting", orders_id, odd}}) {
    std::set<std::string> touched = touched_after(e.table, asked[e.id]);
    auto all = server_->Query("SELECT id, " + e.where + " FROM " + e.table, "coredb");
    ASSERT_TRUE(all.ok());
    size_t expected = 0, missing = 0, outside = 0, twice = 0;
    std::set<std::string> in_range;
    for (const auto& row : *all) {
      if (*row[1] == "t") in_range.insert(*row[0]);
      if (*row[1] != "t" || touched.count(*row[0])) continue;
      ++expected;
      if (!reads[e.consumer].count(e.table + "|" + *row[0])) ++missing;
    }
    for (const auto& [key, n] : reads[e.consumer]) {
      if (key.rfind(e.table + "|", 0) != 0) continue;
      twice += n > 1 ? 1 : 0;
      // The initial snapshot read no orders or users (none existed); a row read outside the
      // range was read by the backfill.
      if (!in_range.count(key.substr(e.table.size() + 1)) &&
          !touched.count(key.substr(e.table.size() + 1)))
        ++outside;
    }
    EXPECT_GT(expected, 50u) << e.table;
    EXPECT_EQ(missing, 0u) << e.table << ": untouched rows without a READ";
    EXPECT_EQ(twice, 0u) << e.table << ": rows read twice";
    EXPECT_EQ(outside, 0u) << e.table << ": rows read outside the condition";
    // Both consumers of the table got the same READs.
    for (const auto& consumer : testing::CoreDbConsumers().at(e.table)) {
      size_t n = 0;
      for (const auto& [key, count] : reads[consumer]) n += key.rfind(e.table + "|", 0) == 0;
      size_t m = 0;
      for (const auto& [key, count] : reads[e.consumer]) m += key.rfind(e.table + "|", 0) == 0;
      EXPECT_EQ(n, m) << consumer;
    }
  }
}

// Signals the pipeline cannot use are warnings (or a failed backfill in status), never a stop;
// the command refuses what it can check before queueing; without a running pipeline the signal
// waits for the next start.
TEST_F(BackfillE2E, BadSignalsAreReportedAndTheStreamGoesOn) {
  ASSERT_TRUE(
      server_->Execute(testing::ReadFile(testing::SourcePath("sql/coredb.sql")), "coredb").ok());
  ASSERT_EQ(Cli({"generate", "--seed-only"}).exit_code, 0);
  std::string log = data_ / "run.log";
  auto run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  ASSERT_TRUE(WaitLog(log, "streaming from slot", 60)) << testing::ReadFile(log);
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);

  // The command: a table not captured, a condition that does not parse.
  auto not_captured = Cli({"backfill", "--table", "payments"});
  EXPECT_EQ(not_captured.exit_code, 1);
  EXPECT_NE(not_captured.err.find("not captured by this pipeline"), std::string::npos)
      << not_captured.err;
  auto bad_where = Cli({"backfill", "--table", "products", "--where", "no_such_column > 1"});
  EXPECT_EQ(bad_where.exit_code, 1);
  EXPECT_NE(bad_where.err.find("--where is not a condition on public.products"), std::string::npos)
      << bad_where.err;
  EXPECT_NE(bad_where.err.find("nothing was queued"), std::string::npos);
  auto usage = Cli({"backfill"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  auto signals = server_->QueryValue("SELECT count(*) FROM cdc_pipeline_signals", "coredb");
  ASSERT_TRUE(signals.ok()) << signals.status().ToString();
  EXPECT_EQ(*signals, "0");

  // Signal rows written by hand.
  ASSERT_TRUE(server_
                  ->Execute(R"sql(
    INSERT INTO cdc_pipeline_signals VALUES
      ('t1', 'snapshot', '{"table": "products"}'),
      ('t2', 'backfill', '{"tabel": "products"}'),
      ('t3', 'backfill', '{"table": "pg_class"}'),
      ('t4', 'backfill', '{"table": "products", "where": "no_such_column > 1"}'),
      ('t6', 'backfill',
       '{"table": "products", "where": "true); DROP TABLE configurations; SELECT (1"}');
    INSERT INTO cdc_pipeline_signals VALUES ('t5', 'backfill', '{"table": "inventory"}');
  )sql",
                            "coredb")
                  .ok());
  ASSERT_TRUE(WaitLog(log, "backfill t5 of slot cdc_pipeline complete", 60))
      << testing::ReadFile(log);
  std::string text = testing::ReadFile(log);
  EXPECT_NE(text.find("signal t1 in public.cdc_pipeline_signals: type 'snapshot' is not one"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("signal t2 in public.cdc_pipeline_signals (backfill): unknown key \"tabel\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("signal t3 in public.cdc_pipeline_signals (backfill): table \"pg_class\" is "
                      "not captured"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("backfill t4 of public.products failed:"), std::string::npos) << text;
  auto states = BackfillStates();
  EXPECT_EQ(states.size(), 3u);
  EXPECT_EQ(states["t4"], "failed");
  // A condition runs as one statement: it cannot end the query and run others.
  EXPECT_EQ(states["t6"], "failed");
  EXPECT_TRUE(server_->QueryValue("SELECT count(*) FROM configurations", "coredb").ok())
      << "the condition of a signal dropped a table";
  EXPECT_EQ(states["t5"], "done");
  auto status = Cli({"status"});
  EXPECT_NE(status.out.find("t4 public.products where no_such_column > 1: failed"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("no_such_column"), std::string::npos) << status.out;

  // Still streaming: a change after the signals arrives.
  ASSERT_TRUE(
      server_->Execute("UPDATE inventory SET quantity = quantity + 1 WHERE id = 10", "coredb")
          .ok());
  ASSERT_TRUE(WaitCaughtUp(30)) << testing::ReadFile(log);
  auto inventory = server_->QueryValue("SELECT count(*) FROM inventory", "coredb");
  ASSERT_TRUE(inventory.ok());
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  std::multiset<std::string> warehouse;
  for (const Published& p : FileEvents(data_ / "consumers/warehouse.jsonl")) {
    warehouse.insert(p.table + "|" + p.op + "|" + p.id);
  }
  EXPECT_EQ(warehouse.count("inventory|UPDATE|10"), 1u);
  // Initial snapshot and backfill: two READs of each inventory row.
  EXPECT_EQ(warehouse.count("inventory|READ|10"), 2u);
  EXPECT_EQ(warehouse.size(), 2 * std::stoul(*inventory) + 1);

  // No running pipeline: the signal stays queued and runs at the next start.
  auto later = Cli({"backfill", "--table", "configurations"});
  EXPECT_EQ(later.exit_code, 1);
  EXPECT_NE(later.err.find("no running pipeline answers"), std::string::npos) << later.err;
  EXPECT_NE(later.err.find("runs when `cdc-pipeline run` starts"), std::string::npos) << later.err;
  std::string later_id = BackfillId(later.out);
  ASSERT_FALSE(later_id.empty()) << later.out;
  run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
  ASSERT_TRUE(WaitLog(log, "backfill " + later_id + " of slot cdc_pipeline complete", 60))
      << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(30), 0) << testing::ReadFile(log);
  EXPECT_EQ(BackfillStates()[later_id], "done");
}

constexpr int kRows = 100000;

constexpr const char* kCrashConfig = R"(
pipeline:
  name: backfill-crash
  data_dir: ${CDC_DATA_DIR}
  log_level: info
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: ${COREDB_DSN}
  snapshot: never
  snapshot_batch_size: 1000
tables:
  big:
    event_types: [INSERT, UPDATE, DELETE]
    primary_key: [id]
  other:
    event_types: [INSERT, UPDATE, DELETE]
    primary_key: [id]
rules:
  all:
    event_pattern: {source: [cdc.coredb]}
    targets: [out]
targets:
  out:
    type: file
    path: ${CDC_DATA_DIR}/out.jsonl
)";

// Random single-statement and three-statement transactions on both tables; every change writes
// v = nextval('vals'), so each one is recognisable.
class Workload {
 public:
  explicit Workload(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {}
  ~Workload() {
    Stop();
    PQfinish(conn_);
  }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t transactions() const { return transactions_; }
  const std::string& error() const { return error_; }

 private:
  std::string Statement() {
    std::string table = random_() % 3 == 0 ? "other" : "big";
    int64_t limit = table == "big" ? kRows + 10000 : 2000;
    std::string key = std::to_string(static_cast<int64_t>(random_() % limit) + 1);
    switch (random_() % 4) {
      case 0:
        return "INSERT INTO " + table + " VALUES (" + key +
               ", nextval('vals')) ON CONFLICT (id) DO UPDATE SET v = nextval('vals')";
      case 1:
        return "DELETE FROM " + table + " WHERE id = " + key;
      default:
        return "UPDATE " + table + " SET v = nextval('vals') WHERE id = " + key;
    }
  }
  void Loop() {
    while (!stop_) {
      std::string sql = random_() % 4 == 0 ? "BEGIN; " + Statement() + "; " + Statement() + "; " +
                                                 Statement() + "; COMMIT"
                                           : Statement();
      PGresult* r = PQexec(conn_, sql.c_str());
      auto status = PQresultStatus(r);
      PQclear(r);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        error_ = PQerrorMessage(conn_);
        return;
      }
      ++transactions_;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

  PGconn* conn_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> transactions_{0};
  std::string error_;
  std::mt19937_64 random_{23};
};

TEST_F(BackfillE2E, ResumesAfterKill9AndCompletesOnceWithEveryRow) {
  ASSERT_TRUE(server_
                  ->Execute("CREATE SEQUENCE vals START 1000000; "
                            "CREATE TABLE big (id bigint PRIMARY KEY, v bigint NOT NULL); "
                            "CREATE TABLE other (id bigint PRIMARY KEY, v bigint NOT NULL); "
                            "INSERT INTO big SELECT g, g FROM generate_series(1, " +
                                std::to_string(kRows) +
                                ") g; INSERT INTO other SELECT g, g FROM generate_series(1, 1000) "
                                "g; ANALYZE big",
                            "coredb")
                  .ok());
  ASSERT_TRUE(
      server_->Execute("SELECT pg_create_logical_replication_slot('oracle', 'wal2json')", "coredb")
          .ok());
  std::string config = data_ / "pipeline.yaml";
  testing::WriteFile(config, kCrashConfig);
  std::string log = data_ / "run.log";
  std::vector<std::string> run_args = {"run", "--config", config};
  auto run = std::make_unique<CliProcess>(run_args, env_, log);
  ASSERT_TRUE(WaitLog(log, "streaming from slot", 60)) << testing::ReadFile(log);
  Workload workload(server_->Dsn("coredb"));
  ASSERT_TRUE(workload.ok());
  workload.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto asked = Cli({"backfill", "--config", config, "--table", "big", "--no-wait"});
  ASSERT_EQ(asked.exit_code, 0) << asked.out << asked.err;
  std::string id = BackfillId(asked.out);
  const std::string complete = "backfill " + id + " of slot cdc_pipeline complete";

  std::mt19937 random(20261207);
  int during = 0;
  for (int kills = 0; kills < 8 && testing::ReadFile(log).find(complete) == std::string::npos;
       ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + random() % 800));
    bool backfilling = testing::ReadFile(log).find(complete) == std::string::npos;
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    during += backfilling ? 1 : 0;
    run = std::make_unique<CliProcess>(run_args, env_, log);
  }
  ASSERT_TRUE(WaitLog(log, complete, 120)) << testing::ReadFile(log).substr(0, 20000);
  workload.Stop();
  ASSERT_TRUE(workload.error().empty()) << workload.error();
  ASSERT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  EXPECT_GE(during, 3) << "too few kills inside the backfill";
  EXPECT_GT(workload.transactions(), 1000u);
  std::string text = testing::ReadFile(log);
  size_t completions = 0;
  for (size_t at = text.find(complete); at != std::string::npos; at = text.find(complete, at + 1))
    ++completions;
  EXPECT_EQ(completions, 1u) << "the backfill completed more than once";
  EXPECT_NE(text.find("resuming backfill " + id + " of public.big after chunk"), std::string::npos)
      << text;
  EXPECT_EQ(BackfillStates(config)[id], "done");
  EXPECT_FALSE(testing::FileExists(data_ / "dead-letter.jsonl"))
      << testing::ReadFile(data_ / "dead-letter.jsonl");

  // Per row ("table|id"): committed changes, delivered changes, READs; the table rebuilt from
  // the events in file order.
  using Ops = std::vector<std::pair<std::string, std::string>>;
  std::map<std::string, Ops> committed, delivered;
  std::map<std::string, int> reads;
  std::map<std::string, std::string> rebuilt;
  for (const Committed& c : OracleChanges(*server_)) {
    if (c.table == "cdc_pipeline_signals") continue;
    committed[c.table + "|" + c.id].emplace_back(c.op, c.op == "DELETE" ? "" : c.v);
  }
  for (const Published& p : FileEvents(data_ / "out.jsonl")) {
    ASSERT_NE(p.table, "cdc_pipeline_signals");
    std::string row = p.table + "|" + p.id;
    if (p.op == "READ") {
      ++reads[row];
    } else {
      delivered[row].emplace_back(p.op, p.v);
    }
    if (p.op == "DELETE") {
      rebuilt.erase(row);
    } else {
      rebuilt[row] = p.v;
    }
  }
  size_t wrong = 0;
  for (const auto& [row, ops] : committed) {
    if (delivered[row] != ops) ++wrong;
  }
  for (const auto& [row, ops] : delivered) {
    if (!committed.count(row)) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "rows whose changes were not delivered exactly once, in order";
  size_t twice = 0, others = 0;
  for (const auto& [row, n] : reads) {
    twice += n > 1 ? 1 : 0;
    others += row.rfind("big|", 0) != 0 ? 1 : 0;
  }
  EXPECT_EQ(twice, 0u) << "rows read more than once";
  EXPECT_EQ(others, 0u) << "rows of another table read";
  auto table = server_->Query("SELECT id, v FROM big", "coredb");
  ASSERT_TRUE(table.ok());
  size_t missing = 0, differ = 0;
  std::set<std::string> present;
  for (const auto& r : *table) {
    std::string row = "big|" + *r[0];
    present.insert(row);
    if (!reads.count(row) && !committed.count(row)) ++missing;
    auto it = rebuilt.find(row);
    if (it == rebuilt.end() || it->second != *r[1]) ++differ;
  }
  for (const auto& [row, v] : rebuilt) {
    if (row.rfind("big|", 0) == 0 && !present.count(row)) ++differ;
  }
  EXPECT_GT(table->size(), static_cast<size_t>(kRows) * 9 / 10);
  EXPECT_EQ(missing, 0u) << "untouched rows without a READ";
  EXPECT_EQ(differ, 0u) << "READ rows and changes do not give the table's contents";
}

}  // namespace
}  // namespace cdc
