// State-store commit rate: one typical checkpoint (4 shard checkpoints, 16 target marks with 4
// shard offsets each, the source position and 100 new dedupe keys) per iteration, in WAL mode
// with synchronous=FULL, so every commit includes an fsync and the number depends on the disk.
// items_per_second is commits per second. The file lives in $CDC_BENCH_DIR, else $TMPDIR, else
// /tmp; put it on the disk the data dir will use.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "state/sqlite_state_store.h"

namespace cdc::state {
namespace {

std::string MakeTempDir() {
  const char* base = std::getenv("CDC_BENCH_DIR");
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/cdc-bench-state-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return tmpl;
}

// A 36-character id, the shape of an event id.
std::string DedupeKey(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012llx", static_cast<unsigned>(n >> 48),
                static_cast<unsigned long long>(n & 0xffffffffffffull));
  return buf;
}

void BM_CommitTypicalCheckpoint(benchmark::State& state) {
  std::string dir = MakeTempDir();
  {
    auto opened = OpenSqliteStateStore(dir + "/state.db", "bench", 0);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().ToString().c_str());
      return;
    }
    std::unique_ptr<StateStore> store = std::move(opened).value();
    CheckpointCommit commit;
    uint64_t offset = 0;
    uint64_t key = 0;
    for (auto _ : state) {
      offset += 100;
      commit.shard_checkpoints.clear();
      commit.target_marks.clear();
      commit.dedupe_keys.clear();
      for (uint32_t shard = 0; shard < 4; ++shard) commit.shard_checkpoints[shard] = offset;
      for (int t = 0; t < 16; ++t) {
        TargetMark& mark = commit.target_marks["target-" + std::to_string(t)];
        mark.cursor = std::to_string(offset * 900);
        for (uint32_t shard = 0; shard < 4; ++shard) mark.shard_next[shard] = offset;
        mark.delivered = offset * 4;
      }
      commit.values["source.position"] = "0/" + std::to_string(offset * 64);
      for (int k = 0; k < 100; ++k) commit.dedupe_keys.emplace_back(DedupeKey(key++), 1 << 30);
      commit.now_micros = static_cast<int64_t>(offset);
      Status s = store->Commit(commit);
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_CommitTypicalCheckpoint)->UseRealTime();

}  // namespace
}  // namespace cdc::state

BENCHMARK_MAIN();
