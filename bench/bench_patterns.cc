// Pattern-matching throughput on CityLots-shaped events (Event Ruler's benchmark data: GeoJSON
// features of about 900 bytes). Events are generated deterministically, so runs compare.
// items_per_second is events matched per second on one thread. BM_Envelope matches what the
// pipeline matches, an EventBridge envelope of a change, from its text (parsed again) and from
// the processed event itself (EnvelopeView), with the shipped config's kind of rules.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bus/matcher.h"
#include "event/envelope.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

// 256 events (~225 KB) stay in L2, as an event just written by the envelope encoder would.
constexpr int kEvents = 256;
const char* const kStreets[] = {"UNKNOWN", "FULTON",   "MASON",   "JACKSON", "GEARY",
                                "MARKET",  "VALENCIA", "MISSION", "POLK",    "LARKIN"};

struct Rng {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint32_t Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  }
  double Unit() { return Next() / 4294967296.0; }
};

std::string Lot(uint32_t block, uint32_t lot) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04u%03u", block % 10000, lot % 1000);
  return buf;
}

std::string MakeEvent(int i, Rng& rng) {
  uint32_t block = static_cast<uint32_t>(i) / 10;
  uint32_t lot = static_cast<uint32_t>(i) % 10 + 1;
  std::string lot_id = Lot(block, lot);
  char num[128];
  std::string e = R"({"type":"Feature","properties":{"MAPBLKLOT":")" + lot_id + R"(","BLKLOT":")" +
                  lot_id + R"(","BLOCK_NUM":")" + lot_id.substr(0, 4) + R"(","LOT_NUM":")" +
                  lot_id.substr(4) + R"(","FROM_ST":")" + std::to_string(rng.Next() % 3000) +
                  R"(","TO_ST":")" + std::to_string(rng.Next() % 3000) + R"(","STREET":")" +
                  kStreets[rng.Next() % 10] + R"(","ODD_EVEN":")" + (rng.Next() % 2 ? "E" : "O") +
                  R"("},"geometry":{"type":"Polygon","coordinates":[[)";
  double x0 = -122.52 + rng.Unit() * 0.16, y0 = 37.70 + rng.Unit() * 0.12;
  for (int k = 0; k < 14; ++k) {
    std::snprintf(num, sizeof(num), "%s[%.14f,%.14f,0]", k ? "," : "", x0 + rng.Unit() * 1e-3,
                  y0 + rng.Unit() * 1e-3);
    e += num;
  }
  std::snprintf(num, sizeof(num), R"(]],"firstCoordinates":{"x":%.14f,"y":%.14f,"z":0}}})", x0, y0);
  e += num;
  return e;
}

const std::vector<std::string>& Events() {
  static const std::vector<std::string> events = [] {
    Rng rng;
    std::vector<std::string> v;
    for (int i = 0; i < kEvents; ++i) v.push_back(MakeEvent(i, rng));
    return v;
  }();
  return events;
}

std::vector<RulePattern> ExactRules(int n) {
  std::vector<RulePattern> rules;
  // Rule i names lot i of the generated sequence: event i matches rule i.
  for (int i = 0; i < n; ++i) {
    rules.push_back({"exact" + std::to_string(i),
                     R"({"properties":{"MAPBLKLOT":[")" +
                         Lot(static_cast<uint32_t>(i) / 10, static_cast<uint32_t>(i) % 10 + 1) +
                         R"("]}})"});
  }
  return rules;
}

std::vector<RulePattern> PrefixRules(int n) {
  std::vector<RulePattern> rules;
  for (int i = 0; i < n; ++i) {
    // Five-digit prefixes 00000.. cover 10 lots each; longer ones keep 100k rules distinct.
    char prefix[16];
    if (i < 10000) {
      std::snprintf(prefix, sizeof(prefix), "%05d", i);
    } else {
      std::snprintf(prefix, sizeof(prefix), "%06d", i);
    }
    rules.push_back({"prefix" + std::to_string(i), R"({"properties":{"MAPBLKLOT":[{"prefix":")" +
                                                       std::string(prefix) + R"("}]}})"});
  }
  return rules;
}

std::vector<RulePattern> NumericRules(int n) {
  std::vector<RulePattern> rules;
  for (int i = 0; i < n; ++i) {
    double lo = -122.52 + 0.16 * i / n;
    rules.push_back(
        {"numeric" + std::to_string(i),
         R"({"geometry":{"type":["Polygon"],"firstCoordinates":{"x":[{"numeric":[">",)" +
             std::to_string(lo) + R"(,"<=",)" + std::to_string(lo + 0.16 / n) + "]}]}}}"});
  }
  return rules;
}

std::vector<RulePattern> AnythingButRules(int n) {
  std::vector<RulePattern> rules;
  for (int i = 0; i < n; ++i) {
    rules.push_back({"ab" + std::to_string(i), R"({"properties":{"STREET":[{"anything-but":[")" +
                                                   std::string(kStreets[i % 10]) + R"(",")" +
                                                   kStreets[(i + 3) % 10] + R"("]}]}})"});
  }
  return rules;
}

void Run(benchmark::State& state, const std::vector<RulePattern>& rules) {
  auto m = CompileMatcher(rules);
  if (!m.ok()) {
    state.SkipWithError(m.status().message().c_str());
    return;
  }
  const auto& events = Events();
  std::vector<uint32_t> out;
  size_t i = 0, matches = 0;
  for (auto _ : state) {
    out.clear();
    if (!(*m)->Match(events[i], out).ok()) {
      state.SkipWithError("match failed");
      return;
    }
    matches += out.size();
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["rules"] = static_cast<double>(rules.size());
  state.counters["matches_per_event"] =
      static_cast<double>(matches) / static_cast<double>(state.iterations());
  size_t bytes = 0;
  for (const auto& e : events) bytes += e.size();
  state.counters["event_bytes"] = static_cast<double>(bytes) / static_cast<double>(events.size());
}

void BM_Exact(benchmark::State& state) { Run(state, ExactRules(static_cast<int>(state.range(0)))); }
void BM_Prefix(benchmark::State& state) {
  Run(state, PrefixRules(static_cast<int>(state.range(0))));
}
void BM_Numeric(benchmark::State& state) {
  Run(state, NumericRules(static_cast<int>(state.range(0))));
}
void BM_AnythingBut(benchmark::State& state) {
  Run(state, AnythingButRules(static_cast<int>(state.range(0))));
}

// The drain benchmark's row (bench/pg_drain.sh): 8 mixed columns, an INSERT.
ProcessedEvent DrainRow(int64_t id) {
  ProcessedEvent e;
  e.change.table = "bench";
  e.change.op = Op::kInsert;
  e.change.commit_time = Timestamp{1764072000123456};
  e.change.position =
      ToPosition(PgPosition{Lsn(0x1540978 + static_cast<uint64_t>(id) * 64), TxId(729), 0});
  Row row;
  row.Add("id", Value::Int64(id));
  row.Add("qty", Value::Int64(id % 1000));
  row.Add("name", Value::Text("item-" + std::to_string(id)));
  row.Add("price", Value::Decimal("12.34"));
  row.Add("at", Value::TimestampTz(1764072000123456));
  row.Add("active", Value::Bool(id % 2 == 0));
  row.Add("attrs", Value::Json(R"({"k":3,"tag":"x"})"));
  row.Add("score", Value::Double(static_cast<double>(id) * 0.5));
  e.change.after = std::move(row);
  e.change.key = Row({{"id", Value::Int64(id)}});
  return e;
}

// Writing the envelope's text (the file target's line), for comparison with matching it.
void BM_EnvelopeEncode(benchmark::State& state) {
  EnvelopeOptions options;
  std::vector<ProcessedEvent> events;
  for (int i = 0; i < 64; ++i) events.push_back(DrainRow(1000 + i));
  size_t i = 0;
  for (auto _ : state) {
    const ProcessedEvent& e = events[i];
    std::string json = EncodeEnvelope(e, options, EventId(options.pipeline, e.change.position));
    benchmark::DoNotOptimize(json);
    i = (i + 1) % events.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EnvelopeEncode);

// range(0): 0 = the text, 1 = the visited event.
void BM_Envelope(benchmark::State& state, std::vector<RulePattern> rules) {
  auto m = CompileMatcher(rules);
  if (!m.ok()) std::abort();
  EnvelopeOptions options;
  std::vector<ProcessedEvent> events;
  std::vector<std::string> ids, texts;
  for (int i = 0; i < 64; ++i) {
    events.push_back(DrainRow(1000 + i));
    ids.push_back(EventId(options.pipeline, events.back().change.position));
    texts.push_back(EncodeEnvelope(events.back(), options, ids.back()));
  }
  std::vector<uint32_t> out;
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    Status s = state.range(0) == 0
                   ? (*m)->Match(texts[i], out)
                   : (*m)->Match(texts[i], EnvelopeView(events[i], options, ids[i]), out);
    if (!s.ok() || out.empty()) std::abort();
    i = (i + 1) % events.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_Envelope, source,
                  std::vector<RulePattern>{{"all", R"({"source":["cdc.coredb"]})"}})
    ->ArgName("visited")
    ->Arg(0)
    ->Arg(1);
BENCHMARK_CAPTURE(BM_Envelope, table_and_column,
                  std::vector<RulePattern>{
                      {"t", R"({"source":["cdc.coredb"],"detail":{"tableName":["bench"]}})"},
                      {"c", R"({"detail":{"after":{"qty":[{"numeric":[">=",0]}]}}})"}})
    ->ArgName("visited")
    ->Arg(0)
    ->Arg(1);

BENCHMARK(BM_Exact)->Arg(10)->Arg(100000);
BENCHMARK(BM_Prefix)->Arg(10)->Arg(100000);
BENCHMARK(BM_Numeric)->Arg(10)->Arg(100);
BENCHMARK(BM_AnythingBut)->Arg(10)->Arg(100);

}  // namespace
}  // namespace cdc

BENCHMARK_MAIN();
