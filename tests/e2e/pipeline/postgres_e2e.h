// The fixture of the end-to-end tests against a real PostgreSQL (postgres_e2e_test.cc,
// aws_e2e_test.cc): a private server with the CoreDB schema, `cdc-pipeline run` started and
// caught up, and the check of the consumer files against what wal2json recorded on its own slot.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/coredb.h"
#include "support/pg_server.h"
#include "support/test_util.h"
#include "support/wal2json_oracle.h"

namespace cdc::testing {

// "table|OP|id"
using Change = std::string;

// What wal2json (format-version 2) recorded, in commit order.
std::vector<Change> OracleChanges(const PgServer& server, const std::string& db) {
  std::vector<Change> out;
  for (const auto& c : testing::ReadOracle(server, db, {"id"})) {
    out.push_back(c.table + "|" + c.op + "|" + c.Value("id"));
  }
  return out;
}

// What a consumer file holds, in file order.
std::vector<Change> ConsumerChanges(const std::string& path) {
  std::vector<Change> out;
  simdjson::dom::parser parser;
  for (const auto& line : testing::ReadLines(path)) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(line).get(e), simdjson::SUCCESS)
        << "not JSON in " << path << ": " << line;
    simdjson::dom::element d = e["detail"];
    std::string op(std::string_view(d["eventType"].get_string()));
    simdjson::dom::element image;
    if (d["after"].get(image) != simdjson::SUCCESS) image = d["before"];
    out.push_back(std::string(std::string_view(d["tableName"].get_string())) + "|" + op + "|" +
                  JsonValueText(image["id"]));
  }
  return out;
}

class PostgresE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PgServer::StartCoreDb();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    env_ = {{"COREDB_DSN", server_->Dsn("coredb")},
            {"CDC_DATA_DIR", data_.path()},
            {"CDC_LOG_LEVEL", "info"}};
  }

  int Cli(const std::vector<std::string>& args) {
    auto r = testing::RunCli(args, env_);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code;
  }

  // Waits until the pipeline's slot has confirmed everything written so far.
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

  // Waits until the consumer files of consumer_dirs_ have not grown for `quiet_seconds`, at
  // most `max_seconds` (processors read on after the capture process caught up).
  void WaitConsumerFilesStill(int quiet_seconds, int max_seconds) {
    auto lines = [&] {
      size_t n = 0;
      for (const auto& dir : consumer_dirs_) {
        for (const auto& consumer : {"wallboards", "analytics", "warehouse", "security"}) {
          n += testing::ReadLines(dir + "/consumers/" + consumer + ".jsonl").size();
        }
      }
      return n;
    };
    size_t seen = lines();
    for (int still = 0, waited = 0; still < quiet_seconds * 10 && waited < max_seconds * 10;
         ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      size_t now = lines();
      still = now == seen ? still + 1 : 0;
      seen = now;
    }
  }

  // Waits until `run` (logging to `log`) has finished its initial snapshot. Changes committed
  // before a row's snapshot chunk is read come as their own events and again in the row's READ.
  bool WaitSnapshotDone(const std::string& log, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = testing::ReadFile(log);
      if (text.find("initial snapshot") != std::string::npos &&
          text.find(" complete (") != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Seeds the schema, creates the wal2json "oracle" slot, and starts `run` logging to `log`;
  // returns once it streams and has caught up (past the initial snapshot). Changes committed
  // before the pipeline's slot exists can only arrive as snapshot rows.
  std::unique_ptr<CliProcess> StartStreaming(const std::string& log) {
    EXPECT_EQ(Cli({"generate", "--seed-only"}), 0);
    EXPECT_TRUE(
        server_
            ->Execute("SELECT pg_create_logical_replication_slot('oracle', 'wal2json')", "coredb")
            .ok());
    auto run = std::make_unique<CliProcess>(run_args_, env_, log);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (testing::ReadFile(log).find("streaming from slot") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_NE(testing::ReadFile(log).find("streaming from slot"), std::string::npos)
        << testing::ReadFile(log);
    EXPECT_TRUE(WaitSnapshotDone(log, 60)) << testing::ReadFile(log);
    EXPECT_TRUE(WaitCaughtUp(60)) << testing::ReadFile(log);
    return run;
  }

  // Compares the consumer files with what wal2json recorded on the "oracle" slot: per consumer
  // and row, the delivered changes (other than snapshot READs) are exactly the committed ones
  // routed there, each once, in commit order.
  void ExpectEveryCommittedChangeExactlyOnceInOrder(size_t at_least) {
    auto oracle = OracleChanges(*server_, "coredb");
    ASSERT_GT(oracle.size(), at_least);
    auto split = [](const Change& c) {
      size_t a = c.find('|'), b = c.find('|', a + 1);
      return std::tuple(c.substr(0, a), c.substr(a + 1, b - a - 1), c.substr(b + 1));
    };
    // consumer -> "table|id" -> ops in order
    using Histories = std::map<std::string, std::map<std::string, std::vector<std::string>>>;
    Histories want, got;
    for (const auto& change : oracle) {
      auto [table, op, id] = split(change);
      if (!testing::CoreDbEventTypes().count(table) ||
          !testing::CoreDbEventTypes().at(table).count(op))
        continue;
      for (const auto& consumer : testing::CoreDbConsumers().at(table)) {
        want[consumer][table + "|" + id].push_back(op);
      }
    }
    size_t delivered = 0;
    for (const auto& [consumer, rows] : want) {
      for (const std::string& dir : ConsumerDirs()) {
        for (const auto& change : ConsumerChanges(dir + "/consumers/" + consumer + ".jsonl")) {
          auto [table, op, id] = split(change);
          if (op == "READ") continue;
          got[consumer][table + "|" + id].push_back(op);
          ++delivered;
        }
      }
    }
    size_t wrong = 0;
    for (const auto& [consumer, rows] : want) {
      for (const auto& [row, ops] : rows) {
        const auto& have = got[consumer][row];
        if (have != ops && ++wrong <= 10) {
          std::string w, h;
          for (const auto& o : ops) w += o + " ";
          for (const auto& o : have) h += o + " ";
          ADD_FAILURE() << consumer << " " << row << ": committed [" << w << "], delivered [" << h
                        << "]";
        }
      }
      for (const auto& [row, ops] : got[consumer]) {
        if (!rows.count(row) && ++wrong <= 10) {
          ADD_FAILURE() << consumer << " " << row << " delivered but never committed";
        }
      }
    }
    EXPECT_EQ(wrong, 0u);
    EXPECT_GT(delivered, at_least);
    for (const std::string& dir : ConsumerDirs()) {
      EXPECT_FALSE(testing::FileExists(dir + "/dead-letter.jsonl"))
          << testing::ReadFile(dir + "/dead-letter.jsonl");
    }
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> run_args_{"run"};  // how StartStreaming starts `run`
  // The data dirs whose consumer files together hold what was delivered (processes that each
  // deliver some shards); empty: data_.
  std::vector<std::string> consumer_dirs_;
  std::vector<std::string> ConsumerDirs() const {
    return consumer_dirs_.empty() ? std::vector<std::string>{data_.path()} : consumer_dirs_;
  }
};

}  // namespace cdc::testing
