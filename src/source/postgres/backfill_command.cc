// `cdc-pipeline backfill --table T [--where COND] [--no-wait]`: asks the pipeline to read a
// captured table (or the rows of it matching COND) again while it streams, by inserting a row
// into the source's signal table (backfill.h), then follows the backfill's progress on the
// running pipeline's admin server (/api/status) until it is done or failed.
#include <httplib.h>
#include <simdjson.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "base/scrub.h"
#include "config/config.h"
#include "config/registry.h"
#include "event/json_writer.h"
#include "source/postgres/backfill.h"
#include "source/postgres/pg_connection.h"
#include "source/postgres/postgres_source.h"

namespace cdc {
namespace {

using pg::PgConnection;
using pg::PgTableRef;

// A random (version 4) UUID.
std::string NewUuid() {
  std::random_device random;
  uint8_t b[16];
  for (size_t i = 0; i < sizeof b; i += 4) {
    uint32_t r = random();
    for (size_t j = 0; j < 4; ++j) b[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < sizeof b; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xf];
  }
  return out;
}

// What /api/status says of one backfill.
struct Seen {
  bool listed = false;  // the pipeline has taken the signal
  std::string state, error;
  uint64_t chunks = 0, rows = 0, estimate = 0, ahead = 0;
};

enum class Poll { kOk, kNoPipeline, kBadAnswer };

Poll PollStatus(const std::string& address, const std::string& id, Seen& seen, std::string& why) {
  httplib::Client client("http://" + address);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(30));
  auto res = client.Get("/api/status");
  if (!res) {
    why = httplib::to_string(res.error());
    return Poll::kNoPipeline;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (res->status != 200 || parser.parse(res->body).get(doc) != simdjson::SUCCESS) {
    why = "http://" + address + "/api/status answered HTTP " + std::to_string(res->status) +
          " without a status document";
    return Poll::kBadAnswer;
  }
  seen = Seen();
  simdjson::dom::array backfills;
  if (doc["backfills"].get(backfills) != simdjson::SUCCESS) return Poll::kOk;
  for (auto b : backfills) {
    std::string_view bid, state, error;
    if (b["id"].get(bid) != simdjson::SUCCESS || b["state"].get(state) != simdjson::SUCCESS) {
      continue;
    }
    if (bid != id) {
      if (!seen.listed && (state == "queued" || state == "running")) ++seen.ahead;
      continue;
    }
    seen.listed = true;
    seen.state = std::string(state);
    if (b["error"].get(error) == simdjson::SUCCESS) seen.error = std::string(error);
    uint64_t n = 0;
    if (b["chunks"].get(n) == simdjson::SUCCESS) seen.chunks = n;
    if (b["rows"].get(n) == simdjson::SUCCESS) seen.rows = n;
    if (b["rowsEstimate"].get(n) == simdjson::SUCCESS) seen.estimate = n;
  }
  return Poll::kOk;
}

std::string Describe(const Seen& s) {
  if (!s.listed) return "waiting for the pipeline to read the signal";
  if (s.state == "queued") {
    return "queued behind " + std::to_string(s.ahead) + " backfill(s) or the initial snapshot";
  }
  std::string text =
      s.state + ": " + std::to_string(s.rows) + " rows in " + std::to_string(s.chunks) + " chunks";
  if (s.state == "running" && s.estimate > 0) {
    uint64_t pct = std::min<uint64_t>(100, s.rows * 100 / s.estimate);
    text += " (about " + std::to_string(pct) + "%)";
  }
  return text;
}

int Backfill(const CommandArgs& args, const std::atomic<bool>& stop) {
  const std::string& table_arg = args.Get("--table");
  const std::string& where = args.Get("--where");
  if (table_arg.empty()) {
    std::fprintf(stderr, "backfill needs --table TABLE (a table of the config's tables section)\n");
    return 2;
  }
  const std::string& config_path = args.Get("--config");
  LoadResult loaded = LoadConfig(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "%zu error(s) in the configuration\n", loaded.errors.size());
    return 1;
  }
  const Config& config = *loaded.config;
  if (config.source.type != "postgres") {
    std::fprintf(stderr,
                 "backfill reads a table of the postgres source again; the source of %s is %s\n",
                 config_path.c_str(), config.source.type.c_str());
    return 1;
  }
  pg::PostgresSourceOptions options = pg::OptionsFromConfig(config);
  std::vector<PgTableRef> captured;
  for (const auto& t : options.tables) captured.push_back(t.table);
  auto table = pg::ResolveCapturedTable(table_arg, captured);
  if (!table.ok()) {
    std::fprintf(stderr, "cannot backfill: %s\n", table.status().message().c_str());
    return 1;
  }
  if (options.signal_table.empty()) {
    std::fprintf(stderr,
                 "cannot backfill: signals are off (source.signal_table is empty in %s). Set "
                 "source.signal_table (default: %s) and restart `cdc-pipeline run`: it creates "
                 "the table and takes backfill requests from it\n",
                 config_path.c_str(), pg::kDefaultSignalTable);
    return 1;
  }
  PgTableRef signal = pg::ParseTableName(options.signal_table);
  auto conn_or = PgConnection::Connect(options.dsn);
  if (!conn_or.ok()) {
    std::fprintf(stderr, "cannot connect to the source database: %s\n",
                 ScrubSecrets(conn_or.status().message()).c_str());
    return 1;
  }
  PgConnection& conn = **conn_or;
  auto exists = conn.Query("SELECT to_regclass($1) IS NOT NULL", {signal.Quoted()});
  if (!exists.ok() || exists->empty() || exists->rows[0][0] != std::optional<std::string>("t")) {
    std::fprintf(stderr,
                 "cannot backfill: the signal table %s does not exist. `cdc-pipeline run` "
                 "creates it at start; start it once, or create it as a role that may: CREATE "
                 "TABLE %s (id text PRIMARY KEY, type text NOT NULL, data jsonb)\n",
                 signal.ToString().c_str(), signal.Quoted().c_str());
    return 1;
  }
  if (!where.empty()) {
    // The condition as the pipeline will use it, checked before anything is queued.
    Status s = conn.Execute("BEGIN READ ONLY");
    if (s.ok()) {
      auto plan =
          conn.QueryOne("EXPLAIN SELECT 1 FROM " + table->Quoted() + " WHERE (" + where + ")");
      s = plan.status();
      (void)conn.Execute("ROLLBACK");
    }
    if (!s.ok()) {
      std::fprintf(stderr,
                   "cannot backfill: --where is not a condition on %s: %s; nothing was queued\n",
                   table->ToString().c_str(), ScrubSecrets(s.message()).c_str());
      return 1;
    }
  }
  std::string id = NewUuid();
  std::string data;
  {
    JsonWriter w(data);
    w.BeginObject();
    w.Key("table").String(table->ToString());
    if (!where.empty()) w.Key("where").String(where);
    w.EndObject();
  }
  auto inserted =
      conn.Query("INSERT INTO " + signal.Quoted() + " (id, type, data) VALUES ($1, $2, $3::jsonb)",
                 {id, pg::kBackfillSignal, data});
  if (!inserted.ok()) {
    std::fprintf(stderr, "cannot write the signal into %s: %s\n", signal.ToString().c_str(),
                 ScrubSecrets(inserted.status().message()).c_str());
    return 1;
  }
  std::printf("backfill %s of %s%s asked for (a row in %s)\n", id.c_str(),
              table->ToString().c_str(), where.empty() ? "" : " (rows matching --where)",
              signal.ToString().c_str());
  std::fflush(stdout);
  auto slot = conn.Query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {options.slot});
  if (slot.ok() && slot->empty()) {
    std::fprintf(stderr,
                 "note: replication slot %s does not exist yet: the pipeline has not streamed "
                 "from this database, so it will not see this signal; its initial snapshot "
                 "(snapshot: initial) reads every table when it first starts\n",
                 options.slot.c_str());
    return 1;
  }
  if (args.Flag("--no-wait")) return 0;
  if (!config.admin.enabled) {
    std::printf(
        "the admin server is off (admin.enabled: false), so its progress cannot be followed "
        "here; the pipeline logs it\n");
    return 0;
  }

  const std::string addr_path = config.pipeline.data_dir + "/admin.addr";
  auto no_pipeline = [&](const std::string& why) {
    std::fprintf(stderr,
                 "\nno running pipeline answers (%s): the backfill stays queued in %s and runs "
                 "when `cdc-pipeline run` starts with this config\n",
                 why.c_str(), signal.ToString().c_str());
    return 1;
  };
  bool tty = ::isatty(2) != 0;
  std::string shown;
  while (!stop) {
    std::ifstream in(addr_path);
    std::string address;
    if (!in || !std::getline(in, address) || address.empty()) {
      return no_pipeline("no " + addr_path);
    }
    Seen seen;
    std::string why;
    Poll poll = PollStatus(address, id, seen, why);
    if (poll == Poll::kNoPipeline) return no_pipeline("http://" + address + ": " + why);
    if (poll == Poll::kBadAnswer) {
      std::fprintf(stderr, "\n%s\n", why.c_str());
      return 1;
    }
    std::string text = Describe(seen);
    if (text != shown) {
      if (tty) {
        std::fprintf(stderr, "\rbackfill %s: %-70s", table->ToString().c_str(), text.c_str());
      } else if (seen.state != "running" || shown.rfind("running", 0) != 0) {
        std::fprintf(stderr, "backfill %s: %s\n", table->ToString().c_str(), text.c_str());
      }
      shown = text;
    }
    if (seen.state == "done" || seen.state == "failed") {
      if (tty) std::fputc('\n', stderr);
      if (seen.state == "failed") {
        std::fprintf(stderr, "backfill %s of %s failed: %s\n", id.c_str(),
                     table->ToString().c_str(), seen.error.c_str());
        return 1;
      }
      std::printf("backfill %s of %s done: %llu rows in %llu chunks\n", id.c_str(),
                  table->ToString().c_str(), static_cast<unsigned long long>(seen.rows),
                  static_cast<unsigned long long>(seen.chunks));
      return 0;
    }
    for (int i = 0; i < 10 && !stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::fprintf(stderr,
               "\nstopped following; backfill %s goes on in the pipeline (`cdc-pipeline status` "
               "shows it)\n",
               id.c_str());
  return 130;
}

}  // namespace

void RegisterBackfillCommand(Registry& registry) {
  using Type = CommandOption::Type;
  CommandKind kind{
      "backfill",
      "Read a captured table (or the rows matching --where) again while the pipeline streams: "
      "queues the backfill in the source's signal table and shows its progress until it is done",
      {
          {"--table", "The table: schema.table, or its name when only one captured table has it"},
          {"--where",
           "Only the rows matching this SQL condition, e.g. \"id BETWEEN 1 AND 1000\" (checked "
           "before it is queued)"},
          {"--no-wait", "Queue the backfill and exit without following its progress", Type::kFlag},
      },
      Backfill};
  kind.takes_config = true;
  registry.AddCommand(std::move(kind));
}

}  // namespace cdc
