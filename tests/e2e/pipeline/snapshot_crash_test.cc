// The initial snapshot under fire (issue 17): `cdc-pipeline run` is killed with SIGKILL at 20
// random moments, many of them inside the chunked snapshot of a 300,000-row table, while a
// workload inserts, updates and deletes rows of that table and of another one. wal2json on its
// own slot, made before the pipeline's, is the record of what was committed. Afterwards:
//   - every committed change reached the consumer once, as its own INSERT/UPDATE/DELETE event,
//     in commit order per row (each change writes a value no other change writes, so a change
//     delivered twice or lost is seen);
//   - READ events came once per row at most, and every row that no change touched came as a READ;
//   - replaying READ rows and changes in file order gives exactly the tables' final contents.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"
#include "support/wal2json_oracle.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

constexpr int kRows = 300000;

constexpr const char* kConfig = R"(
pipeline:
  name: snapshot-crash
  data_dir: ${CDC_DATA_DIR}
  log_level: info
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: ${COREDB_DSN}
  snapshot: initial
  snapshot_batch_size: 3000
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

// One change: its table, row id, operation and the value `v` it wrote (0 for DELETE).
struct Change {
  std::string table;
  int64_t id = 0;
  std::string op;
  int64_t v = 0;
};

std::string Describe(const std::vector<std::pair<std::string, int64_t>>& ops) {
  std::string s;
  for (const auto& [op, v] : ops) s += op + "(" + std::to_string(v) + ") ";
  return s;
}

int64_t Int(simdjson::dom::element e) {
  if (e.is_int64()) return int64_t(e);
  if (e.is_uint64()) return static_cast<int64_t>(uint64_t(e));
  if (e.is_string()) return std::stoll(std::string(std::string_view(e)));
  return static_cast<int64_t>(double(e));
}

// What wal2json recorded, in commit order.
std::vector<Change> OracleChanges(const PgServer& server) {
  std::vector<Change> out;
  for (const auto& c : testing::ReadOracle(server, "coredb", {"id", "v"})) {
    Change change;
    change.table = c.table;
    change.op = c.op;
    change.id = std::stoll(c.Value("id"));
    change.v = c.Value("v").empty() || c.Value("v") == "null" ? 0 : std::stoll(c.Value("v"));
    out.push_back(change);
  }
  return out;
}

// The workload: random single-statement and three-statement transactions on both tables; every
// change writes v = nextval('vals'), so each one is recognisable.
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
    const char* table = random_() % 3 == 0 ? "other" : "big";
    int64_t limit = std::string(table) == "big" ? kRows + 20000 : 2000;
    int64_t id = static_cast<int64_t>(random_() % static_cast<uint64_t>(limit)) + 1;
    std::string t(table), key = std::to_string(id);
    switch (random_() % 4) {
      case 0:
        return "INSERT INTO " + t + " VALUES (" + key + ", nextval('vals')) ON CONFLICT (id) DO " +
               "UPDATE SET v = nextval('vals')";
      case 1:
        return "DELETE FROM " + t + " WHERE id = " + key;
      default:
        return "UPDATE " + t + " SET v = nextval('vals') WHERE id = " + key;
    }
  }
  void Loop() {
    while (!stop_) {
      std::string sql = random_() % 4 == 0 ? "BEGIN; " + Statement() + "; " + Statement() + "; " +
                                                 Statement() + "; COMMIT"
                                           : Statement();
      PGresult* r = PQexec(conn_, sql.c_str());
      auto status = PQresultStatus(r);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        error_ = PQerrorMessage(conn_);
        PQclear(r);
        return;
      }
      PQclear(r);
      ++transactions_;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

  PGconn* conn_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> transactions_{0};
  std::string error_;
  std::mt19937_64 random_{17};
};

TEST(SnapshotCrash, EveryChangeOnceAndEveryUntouchedRowAsReadAcross20Kill9) {
  testing::PgServerOptions server_options;
  auto server_or = PgServer::Start(server_options);
  ASSERT_TRUE(server_or.ok()) << server_or.status().ToString();
  auto& server = **server_or;
  TempDir data;
  ASSERT_TRUE(server.Execute("CREATE DATABASE coredb").ok());
  ASSERT_TRUE(server
                  .Execute("CREATE SEQUENCE vals START 1000000; "
                           "CREATE TABLE big (id bigint PRIMARY KEY, v bigint NOT NULL); "
                           "CREATE TABLE other (id bigint PRIMARY KEY, v bigint NOT NULL); "
                           "INSERT INTO big SELECT g, g FROM generate_series(1, " +
                               std::to_string(kRows) +
                               ") g; INSERT INTO other SELECT g, g FROM generate_series(1, 1000) "
                               "g; ANALYZE big",
                           "coredb")
                  .ok());
  // The oracle: before the pipeline's slot, before any change it must deliver.
  ASSERT_TRUE(
      server.Execute("SELECT pg_create_logical_replication_slot('oracle', 'wal2json')", "coredb")
          .ok());
  testing::WriteFile(data / "pipeline.yaml", kConfig);
  std::map<std::string, std::string> env = {{"COREDB_DSN", server.Dsn("coredb")},
                                            {"CDC_DATA_DIR", data.path()}};
  std::string log = data / "run.log";
  std::vector<std::string> run_args = {"run", "--config", data / "pipeline.yaml"};
  auto run = std::make_unique<CliProcess>(run_args, env, log);

  // The workload starts once the pipeline's slot exists: what was committed before can only be
  // snapshot rows.
  for (int i = 0; i < 600; ++i) {
    auto v = server.QueryValue(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_pipeline'", "coredb");
    if (v.ok() && *v == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Workload workload(server.Dsn("coredb"));
  ASSERT_TRUE(workload.ok());
  workload.Start();

  std::string progress = data / "postgres-snapshot-cdc_pipeline.progress";
  std::mt19937 random(20261205);
  int kills = 0, during_snapshot = 0;
  for (; kills < 20; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 900));
    bool snapshotting = testing::ReadFile(log).find("initial snapshot") == std::string::npos ||
                        testing::ReadFile(log).rfind(" complete (") == std::string::npos;
    during_snapshot += snapshotting ? 1 : 0;
    run->Signal(SIGKILL);
    ASSERT_EQ(run->Wait(10), 128 + SIGKILL);
    run = std::make_unique<CliProcess>(run_args, env, log);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  workload.Stop();
  ASSERT_TRUE(workload.error().empty()) << workload.error();

  // Caught up: the snapshot finished and the slot confirmed everything written.
  bool caught_up = false;
  for (int i = 0; i < 1800 && !caught_up; ++i) {
    auto v = server.QueryValue(
        "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() FROM pg_replication_slots "
        "WHERE slot_name = 'cdc_pipeline'",
        "coredb");
    caught_up = v.ok() && *v == "t" &&
                testing::ReadFile(log).find("initial snapshot") != std::string::npos &&
                testing::ReadFile(log).find(" complete (") != std::string::npos;
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(caught_up) << testing::ReadFile(log).substr(0, 20000);
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(60), 0) << testing::ReadFile(log);
  EXPECT_GE(during_snapshot, 3) << "too few kills inside the snapshot";
  EXPECT_GT(workload.transactions(), 1000u);
  EXPECT_FALSE(testing::FileExists(data / "dead-letter.jsonl"))
      << testing::ReadFile(data / "dead-letter.jsonl");

  // Per row ("table|id"): committed changes (op, v), delivered changes, READ values.
  using Ops = std::vector<std::pair<std::string, int64_t>>;
  std::map<std::string, Ops> committed, delivered;
  std::map<std::string, std::vector<int64_t>> reads;
  std::map<std::string, int64_t> rebuilt;  // READ rows and changes applied in file order
  for (const auto& c : OracleChanges(server)) {
    committed[c.table + "|" + std::to_string(c.id)].emplace_back(c.op, c.op == "DELETE" ? 0 : c.v);
  }
  simdjson::dom::parser parser;
  size_t lines = 0;
  for (const auto& line : testing::ReadLines(data / "out.jsonl")) {
    ++lines;
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line).get(e), simdjson::SUCCESS) << line;
    simdjson::dom::element d = e["detail"];
    std::string op(std::string_view(d["eventType"].get_string()));
    std::string table(std::string_view(d["tableName"].get_string()));
    simdjson::dom::element image;
    bool has_after = d["after"].get(image) == simdjson::SUCCESS && image.is_object();
    if (!has_after) image = d["before"];
    std::string row = table + "|" + std::to_string(Int(image["id"]));
    int64_t v = has_after ? Int(image["v"]) : 0;
    if (op == "READ") {
      reads[row].push_back(v);
    } else {
      delivered[row].emplace_back(op, v);
    }
    if (op == "DELETE") {
      rebuilt.erase(row);
    } else {
      rebuilt[row] = v;
    }
  }
  size_t wrong = 0;
  for (const auto& [row, ops] : committed) {
    const Ops& have = delivered[row];
    if (have != ops && ++wrong <= 10) {
      ADD_FAILURE() << row << ": committed [" << Describe(ops) << "], delivered [" << Describe(have)
                    << "]";
    }
  }
  for (const auto& [row, ops] : delivered) {
    if (!committed.count(row) && ++wrong <= 10) {
      ADD_FAILURE() << row << ": delivered [" << Describe(ops) << "] but never changed";
    }
  }
  EXPECT_EQ(wrong, 0u) << "rows whose changes were not delivered exactly once, in order";

  // READ rows: at most one per row, and one for every initial row no change touched.
  size_t twice = 0, missing = 0;
  for (const auto& [row, values] : reads) twice += values.size() > 1 ? 1 : 0;
  for (int64_t id = 1; id <= kRows; ++id) {
    std::string row = "big|" + std::to_string(id);
    if (!committed.count(row) && !reads.count(row)) ++missing;
  }
  for (int64_t id = 1; id <= 1000; ++id) {
    std::string row = "other|" + std::to_string(id);
    if (!committed.count(row) && !reads.count(row)) ++missing;
  }
  EXPECT_EQ(twice, 0u) << "rows read more than once";
  EXPECT_EQ(missing, 0u) << "untouched rows without a READ";

  // The final contents.
  std::map<std::string, int64_t> table;
  for (const char* t : {"big", "other"}) {
    auto rows = server.Query(std::string("SELECT id, v FROM ") + t, "coredb");
    ASSERT_TRUE(rows.ok());
    for (const auto& r : *rows) table[std::string(t) + "|" + *r[0]] = std::stoll(*r[1]);
  }
  size_t differ = 0;
  for (const auto& [row, v] : table) {
    auto it = rebuilt.find(row);
    if ((it == rebuilt.end() || it->second != v) && ++differ <= 10) {
      ADD_FAILURE() << row << ": table has v=" << v << ", events give "
                    << (it == rebuilt.end() ? std::string("no row") : std::to_string(it->second));
    }
  }
  for (const auto& [row, v] : rebuilt) {
    if (!table.count(row) && ++differ <= 10) ADD_FAILURE() << row << ": deleted, events keep it";
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_GT(lines, static_cast<size_t>(kRows) / 2);
}

}  // namespace
}  // namespace cdc
