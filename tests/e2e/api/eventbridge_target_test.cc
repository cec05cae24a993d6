// The eventbridge target end to end (issue 15): two `cdc-pipeline run` processes, each on a
// PostgreSQL of its own. The sender captures the CoreDB workload (`generate`) and routes every
// event to its `eventbridge` target and, as the reference, to a file; the receiver serves its bus
// as the EventBridge API with SigV4 verification on and answers a fifth of the entries
// ThrottlingException (api.inject_throttling_percent). Its rule `received` writes whatever
// arrives to a file. Every event of the sender must arrive, identified by the
// metadata.eventId inside Detail, each row's events in their order.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

constexpr char kKeyId[] = "AKIDRECEIVER";
constexpr char kSecret[] = "receiver-secret-not-for-logs";

bool WaitFor(const std::function<bool()>& done, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

std::unique_ptr<PgServer> CoreDbServer() {
  auto server = PgServer::StartCoreDb();
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  return std::move(server).value();
}

// The shipped config with `edit` applied, written with the models into `dir`.
std::string WriteConfig(const TempDir& dir, const std::function<void(std::string&)>& edit) {
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  edit(config);
  testing::CopyShippedModels(dir.path());
  std::string path = dir / "cdc-pipeline.yaml";
  testing::WriteFile(path, config);
  return path;
}

void Replace(std::string& text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
}

// Per row ("table|id"), the event ids of a file's events in file order, first occurrences
// only; `id_of` reads an event's id. Counts duplicates.
struct Rows {
  std::map<std::string, std::vector<std::string>> ids;
  size_t events = 0, duplicates = 0;
};

Rows ReadRows(const std::string& path, bool id_in_detail) {
  Rows rows;
  simdjson::dom::parser parser;
  std::set<std::string> seen;
  for (const std::string& line : testing::ReadLines(path)) {
    simdjson::dom::element e = parser.parse(line);
    simdjson::dom::element d = e["detail"];
    std::string id(std::string_view(id_in_detail ? d["metadata"]["eventId"].get_string()
                                                 : e["id"].get_string()));
    ++rows.events;
    if (!seen.insert(id).second) {
      ++rows.duplicates;
      continue;
    }
    simdjson::dom::element image;
    if (d["after"].get(image) != simdjson::SUCCESS) image = d["before"];
    std::string row = std::string(std::string_view(d["tableName"].get_string())) + "|" +
                      std::string(simdjson::minify(image["id"]));
    rows.ids[row].push_back(id);
  }
  return rows;
}

TEST(EventBridgeTarget, TheCoreDbWorkloadReachesAnotherPipelinesBusThroughThrottling) {
  auto sender_pg = CoreDbServer();
  auto receiver_pg = CoreDbServer();
  ASSERT_TRUE(sender_pg && receiver_pg);
  TempDir sender_dir, receiver_dir;

  // --- the receiver: the bus API, signatures verified, a fifth of the entries throttled.
  std::string receiver_config = WriteConfig(receiver_dir, [](std::string& c) {
    Replace(c, "api:\n  listen: \"${CDC_API_LISTEN:-}\"\n",
            "api:\n  listen: \"${CDC_API_LISTEN:-}\"\n"
            "  inject_throttling_percent: 20\n");
    // One shard: the events of successive PutEvents calls are delivered in arrival order.
    Replace(c, "\ndead_letter:\n", "\nstream:\n  shards: 1\ndead_letter:\n");
    Replace(c, "\nrules:\n",
            "\nrules:\n  received:\n    event_pattern: {source: [cdc.coredb]}\n"
            "    targets: [received]\n");
    Replace(c, "\ntargets:\n",
            "\ntargets:\n  received:\n    type: file\n"
            "    path: ${CDC_DATA_DIR}/received.jsonl\n");
  });
  std::map<std::string, std::string> receiver_env = {
      {"COREDB_DSN", receiver_pg->Dsn("coredb")}, {"CDC_DATA_DIR", receiver_dir.path()},
      {"CDC_ADMIN_LISTEN", "127.0.0.1:0"},        {"CDC_API_LISTEN", "127.0.0.1:0"},
      {"CDC_API_ACCESS_KEY_ID", kKeyId},          {"CDC_API_SECRET_ACCESS_KEY", kSecret}};
  std::string receiver_log = receiver_dir / "run.log";
  CliProcess receiver({"run", "--config", receiver_config}, receiver_env, receiver_log);
  std::string address;
  ASSERT_TRUE(WaitFor(
      [&] {
        address = testing::ReadFile(receiver_dir / "api.addr");
        return !address.empty() && address.back() == '\n' &&
               testing::ReadFile(receiver_log).find("records to deliver") != std::string::npos;
      },
      120))
      << testing::ReadFile(receiver_log);
  address.pop_back();

  // --- the sender: every event to the receiver's bus and to `all`.
  std::string sender_config = WriteConfig(sender_dir, [](std::string& c) {
    Replace(c, "\nrules:\n",
            "\nrules:\n  to-bus:\n    event_pattern: {source: [cdc.coredb]}\n"
            "    targets: [bus, all]\n");
    Replace(c, "\ntargets:\n",
            "\ntargets:\n  bus:\n    type: eventbridge\n    endpoint: ${BUS_ENDPOINT}\n"
            "    region: eu-west-1\n"
            "    retry: {max_attempts: 1000, max_event_age_seconds: 3600, initial_backoff_ms: 10, "
            "max_backoff_ms: 200}\n"
            "  all:\n    type: file\n    path: ${CDC_DATA_DIR}/all.jsonl\n");
  });
  std::map<std::string, std::string> sender_env = {{"COREDB_DSN", sender_pg->Dsn("coredb")},
                                                   {"CDC_DATA_DIR", sender_dir.path()},
                                                   {"CDC_ADMIN_LISTEN", "127.0.0.1:0"},
                                                   {"BUS_ENDPOINT", "http://" + address},
                                                   {"AWS_ACCESS_KEY_ID", kKeyId},
                                                   {"AWS_SECRET_ACCESS_KEY", kSecret},
                                                   {"AWS_EC2_METADATA_DISABLED", "true"},
                                                   {"AWS_CONFIG_FILE", "/dev/null"},
                                                   {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"}};
  auto seed = testing::RunCli({"generate", "--seed-only"}, sender_env);
  ASSERT_EQ(seed.exit_code, 0) << seed.out << seed.err;
  std::string sender_log = sender_dir / "run.log";
  CliProcess sender({"run", "--config", sender_config}, sender_env, sender_log);
  CliProcess generate({"generate", "--rate", "200", "--duration", "8", "--seed", "15"}, sender_env,
                      sender_dir / "generate.log");
  ASSERT_EQ(generate.Wait(120), 0) << testing::ReadFile(sender_dir / "generate.log");

  // Everything the sender wrote to `all` (exactly once) must reach the receiver.
  Rows want, have;
  bool arrived = WaitFor(
      [&] {
        auto caught_up = sender_pg->QueryValue(
            "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() FROM "
            "pg_replication_slots WHERE slot_name = 'cdc_pipeline'",
            "coredb");
        if (!caught_up.ok() || *caught_up != "t") return false;
        want = ReadRows(sender_dir / "all.jsonl", false);
        have = ReadRows(receiver_dir / "received.jsonl", true);
        return want.events > 0 && have.events - have.duplicates >= want.events;
      },
      180);
  EXPECT_TRUE(arrived) << "sent " << want.events << ", received " << have.events << "\n"
                       << testing::ReadFile(sender_log);
  EXPECT_GT(want.events, 1000u);
  EXPECT_EQ(want.duplicates, 0u);
  size_t wrong = 0;
  for (const auto& [row, ids] : want.ids) {
    auto it = have.ids.find(row);
    if ((it == have.ids.end() || it->second != ids) && ++wrong <= 5) {
      ADD_FAILURE() << row << ": sent " << ids.size() << " events, received "
                    << (it == have.ids.end() ? 0 : it->second.size()) << " (or out of order)";
    }
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(have.ids.size(), want.ids.size()) << "the receiver has rows nobody sent";
  std::cout << "eventbridge: " << want.events << " events sent, " << have.events << " received, "
            << have.duplicates << " duplicates\n";

  // The receiver did throttle, and only the throttled entries went again.
  std::string text = testing::ReadFile(sender_log);
  EXPECT_NE(text.find("ThrottlingException"), std::string::npos) << text;
  EXPECT_FALSE(testing::FileExists(sender_dir / "dead-letter.jsonl"))
      << testing::ReadFile(sender_dir / "dead-letter.jsonl");
  // The secret never reaches a log.
  EXPECT_EQ(text.find(kSecret), std::string::npos);
  EXPECT_EQ(testing::ReadFile(receiver_log).find(kSecret), std::string::npos);

  sender.Signal(SIGTERM);
  EXPECT_EQ(sender.Wait(60), 0) << testing::ReadFile(sender_log);
  receiver.Signal(SIGTERM);
  EXPECT_EQ(receiver.Wait(60), 0) << testing::ReadFile(receiver_log);
}

}  // namespace
}  // namespace cdc
