#include "cli/status.h"

#include <chrono>
#include <cstdio>

#include "base/time.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"
#include "runtime/status.h"

namespace cdc {
namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Time(int64_t micros) {
  return micros > 0 ? FormatRfc3339(Timestamp{micros}) : std::string("-");
}

std::string Bytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else if (n < (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  } else if (n < (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(n) / (1 << 30));
  }
  return buf;
}

using ull = unsigned long long;

void PrintText(const PipelineStatus& s) {
  std::printf("pipeline %s: %s (%s, lease token %llu)\n", s.pipeline.c_str(),
              s.running ? "running" : "stopped", s.owner.c_str(), static_cast<ull>(s.lease_token));
  std::printf("last checkpoint: %s (%.1f s ago)\n", Time(s.last_checkpoint_micros).c_str(),
              s.last_checkpoint_micros > 0
                  ? static_cast<double>(s.now_micros - s.last_checkpoint_micros) / 1e6
                  : 0.0);
  std::printf("source %s:\n", s.source.type.c_str());
  if (!s.source.delivered_position.empty()) {
    std::printf("  last delivered change: commit LSN %s, committed %s\n",
                s.source.delivered_position.c_str(), Time(s.source.last_commit_micros).c_str());
  }
  if (s.position_gaps > 0) {
    std::printf(
        "  position gaps accepted: %llu (changes were lost upstream; see the PositionGap "
        "events)\n",
        static_cast<ull>(s.position_gaps));
  }
  if (s.source.lag_known) {
    std::printf("  %s: confirmed %s, server at %s: %s behind, %.1f s%s\n", s.source.holder.c_str(),
                s.source.confirmed.c_str(), s.source.current.c_str(),
                Bytes(s.source.lag_bytes).c_str(), s.source.lag_seconds,
                s.source.active ? "" : " (slot not in use)");
  } else if (!s.source.lag_note.empty()) {
    std::printf("  lag unknown: %s\n", s.source.lag_note.c_str());
  }
  std::printf("stream: %llu shards\n", static_cast<ull>(s.shards.size()));
  for (const ShardStatus& sh : s.shards) {
    // A stream outside the data dir (kinesis, kafka) has no segments or bytes here.
    std::string stored = sh.segments == 0 && sh.bytes == 0
                             ? "offsets " + std::to_string(sh.first) + ".."
                             : "offsets " + std::to_string(sh.first) + ".. on disk, " +
                                   std::to_string(sh.segments) + " segment(s), " + Bytes(sh.bytes);
    std::printf("  shard %llu: length %llu (%s), checkpoint %llu (%llu behind)\n",
                static_cast<ull>(sh.shard), static_cast<ull>(sh.end), stored.c_str(),
                static_cast<ull>(sh.checkpoint), static_cast<ull>(sh.lag()));
  }
  std::printf("targets:\n");
  for (const TargetStatus& t : s.targets) {
    std::printf("  %-24s pending %-8llu delivered %-10llu dead-lettered %llu\n", t.name.c_str(),
                static_cast<ull>(t.retrying), static_cast<ull>(t.delivered),
                static_cast<ull>(t.failed));
  }
  std::printf("dead-letter file %s: %llu\n", s.dead_letter_path.c_str(),
              static_cast<ull>(s.dead_lettered));
  std::printf("memory high-water mark: %s\n", Bytes(s.max_rss_bytes).c_str());
  if (!s.backfills.empty()) std::printf("backfills:\n");
  for (const BackfillState& b : s.backfills) {
    std::printf("  %s %s%s%s: %s, %llu rows in %llu chunks", b.id.c_str(), b.table.c_str(),
                b.where.empty() ? "" : " where ", b.where.c_str(), b.state.c_str(),
                static_cast<ull>(b.rows), static_cast<ull>(b.chunks));
    if (b.state == "running" && b.rows_estimate > 0) {
      std::printf(" (of about %llu)", static_cast<ull>(b.rows_estimate));
    }
    if (!b.error.empty()) std::printf(": %s", b.error.c_str());
    std::printf("\n");
  }
}

}  // namespace

int StatusCommand(const Config& config, StatusFormat format) {
  auto status = ReadPipelineStatus(config, NowMicros());
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.status().message().c_str());
    return 1;
  }
  switch (format) {
    case StatusFormat::kJson:
      std::printf("%s\n", StatusJson(*status).c_str());
      break;
    case StatusFormat::kText:
      PrintText(*status);
      break;
    case StatusFormat::kPrometheus: {
      metrics::Registry registry;
      ExportStatus(*status, registry);
      std::fputs(metrics::RenderPrometheus(registry).c_str(), stdout);
      break;
    }
  }
  return 0;
}

}  // namespace cdc
