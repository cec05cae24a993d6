// Pattern-matching throughput on CityLots-shaped events (Event Ruler's benchmark data: GeoJSON
// features of about 900 bytes). Events are generated deterministically, so runs compare.
// items_per_second is events matched per second on one thread.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bus/matcher.h"

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

BENCHMARK(BM_Exact)->Arg(10)->Arg(100000);
BENCHMARK(BM_Prefix)->Arg(10)->Arg(100000);
BENCHMARK(BM_Numeric)->Arg(10)->Arg(100);
BENCHMARK(BM_AnythingBut)->Arg(10)->Arg(100);

}  // namespace
}  // namespace cdc

BENCHMARK_MAIN();
