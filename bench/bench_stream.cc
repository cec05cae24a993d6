// Embedded stream throughput: appends of 200-byte records in batches of 1000 with one group sync
// (write + fdatasync) per batch, and sequential reads. The stream lives under $CDC_BENCH_DIR (or
// the system temp dir), so the numbers are those of that file system; it is removed at the end.
// items_per_second is records per second on one thread.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "stream/log.h"

namespace cdc::stream {
namespace {

namespace fs = std::filesystem;

constexpr int kBatch = 1000;
constexpr size_t kPayloadBytes = 200;
constexpr uint64_t kReadRecords = 200'000;

std::vector<std::string>& Dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

std::string NewDir() {
  const char* base = std::getenv("CDC_BENCH_DIR");
  std::string tmpl =
      ((base && *base) ? fs::path(base) : fs::temp_directory_path()) / "cdc-bench-stream-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  Dirs().push_back(tmpl);
  return tmpl;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A 200-byte payload shaped like a small change event; the key varies so shards are spread.
std::string Payload(uint64_t i) {
  std::string p = R"({"eventType":"UPDATE","tableName":"users","key":)" + std::to_string(i) +
                  R"(,"after":{"status":"active"}})";
  p.resize(kPayloadBytes, ' ');
  return p;
}

void BM_AppendSync(benchmark::State& state) {
  uint32_t shards = static_cast<uint32_t>(state.range(0));
  auto opened = EmbeddedStream::Open(NewDir() + "/stream", shards, LogOptions{});
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  EmbeddedStream& stream = **opened;
  std::vector<std::string> keys, payloads;
  for (int i = 0; i < kBatch; ++i) {
    keys.push_back("users|" + std::to_string(i));
    payloads.push_back(Payload(static_cast<uint64_t>(i)));
  }
  int64_t batches = 0;
  for (auto _ : state) {
    int64_t now = NowMicros();
    for (int i = 0; i < kBatch; ++i) {
      if (!stream.Append(keys[static_cast<size_t>(i)], 1, payloads[static_cast<size_t>(i)], now)
               .ok()) {
        state.SkipWithError("append failed");
        return;
      }
    }
    if (!stream.Sync().ok()) {
      state.SkipWithError("sync failed");
      return;
    }
    // Keep the disk use bounded: everything is "checkpointed" right away.
    if (++batches % 256 == 0) {
      state.PauseTiming();
      for (uint32_t s = 0; s < shards; ++s) {
        ShardLog& log = stream.shard(ShardId(s));
        (void)log.ApplyRetention(log.next_offset(), now);
      }
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * static_cast<int64_t>(kPayloadBytes));
  state.counters["shards"] = shards;
}

// One shard holding kReadRecords records, written once for all read runs.
EmbeddedStream* ReadStream() {
  static std::unique_ptr<EmbeddedStream> stream = [] {
    auto opened = EmbeddedStream::Open(NewDir() + "/stream", 1, LogOptions{});
    if (!opened.ok()) return std::unique_ptr<EmbeddedStream>();
    ShardLog& log = (*opened)->shard(ShardId(0));
    int64_t now = NowMicros();
    for (uint64_t i = 0; i < kReadRecords; ++i) {
      if (!log.Append(1, Payload(i), now).ok()) return std::unique_ptr<EmbeddedStream>();
    }
    if (!log.Sync().ok()) return std::unique_ptr<EmbeddedStream>();
    return std::move(opened).value();
  }();
  return stream.get();
}

void BM_Read(benchmark::State& state) {
  EmbeddedStream* stream = ReadStream();
  if (stream == nullptr) {
    state.SkipWithError("cannot write the stream to read");
    return;
  }
  const ShardLog& log = stream->shard(ShardId(0));
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto reader = log.OpenReader(StreamOffset(0));
    if (!reader.ok()) {
      state.SkipWithError(reader.status().ToString().c_str());
      return;
    }
    uint64_t n = 0;
    for (;;) {
      auto rec = (*reader)->Next();
      if (!rec.ok()) {
        state.SkipWithError(rec.status().ToString().c_str());
        return;
      }
      if (!rec->has_value()) break;
      bytes += (*rec)->payload.size();
      ++n;
    }
    if (n != kReadRecords) {
      state.SkipWithError("short read");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kReadRecords));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// The CPU parts of an append: partition key -> shard (MD5), and the record CRC-32C.
void BM_ShardForKey(benchmark::State& state) {
  std::vector<std::string> keys;
  for (int i = 0; i < kBatch; ++i) keys.push_back("users|" + std::to_string(i));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ShardForKey(keys[i], 4));
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Crc32c(benchmark::State& state) {
  std::string data = Payload(7) + std::string(25, 'h');
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
}

BENCHMARK(BM_ShardForKey);
BENCHMARK(BM_Crc32c);
BENCHMARK(BM_AppendSync)->Arg(1)->Arg(4)->UseRealTime();
BENCHMARK(BM_Read)->UseRealTime();

}  // namespace
}  // namespace cdc::stream

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const std::string& dir : cdc::stream::Dirs()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
