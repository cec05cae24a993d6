// The pipeline's status as one typed value: what `cdc-pipeline status` prints (as text or
// JSON) and what the admin server (issue 16) serves, read from the state store's last
// checkpoint and the source's Lag(); and the same figures as metrics (ExportStatus), so a
// Prometheus scrape and `status` agree.
//
// Thread-safety: plain values; ReadPipelineStatus opens its own read-only state store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "source/source.h"
#include "target/dead_letter.h"

namespace cdc {

namespace metrics {
class Registry;
}

struct ShardStatus {
  uint32_t shard = 0;
  uint64_t first = 0;        // oldest offset still stored
  uint64_t end = 0;          // offset the next append gets (the shard's length)
  uint64_t durable_end = 0;  // records below are durable
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t checkpoint = 0;  // the delivered cursor: every target has the records below it
  // The last change delivered from this shard, as its source prints positions; empty if none.
  std::string delivered_position;
  // Durable records not yet checkpointed.
  uint64_t lag() const { return durable_end > checkpoint ? durable_end - checkpoint : 0; }
};

struct TargetStatus {
  std::string name;
  uint64_t delivered = 0;
  uint64_t failed = 0;    // dead-lettered
  uint64_t retrying = 0;  // durable records past its mark (not yet delivered or dead-lettered)
};

struct SourceStatus {
  std::string type;
  std::string delivered_position;  // the last change delivered, for people; empty if none
  int64_t last_commit_micros = 0;  // its commit time
  bool lag_known = false;
  std::string lag_note;  // why the lag is unknown (empty: the source has no lag to report)
  std::string holder;    // "slot cdc_pipeline"
  std::string confirmed, current;
  uint64_t lag_bytes = 0;
  double lag_seconds = 0;
  bool active = false;
};

// A table's output events counted by the process that runs the pipeline (live only: `status`
// from another process has no per-table counts).
struct TableStatus {
  std::string name;  // "users"; "schema.table" outside public
  uint64_t published = 0;
  std::vector<std::pair<std::string, uint64_t>> operations;  // "INSERT" -> count, ...
};

struct PipelineStatus {
  std::string pipeline;
  bool running = false;
  std::string owner;
  uint64_t lease_token = 0;
  int64_t now_micros = 0;
  int64_t last_checkpoint_micros = 0;
  SourceStatus source;
  std::vector<ShardStatus> shards;
  std::vector<TargetStatus> targets;  // by name
  std::string dead_letter_path;
  uint64_t dead_lettered = 0;
  uint64_t published = 0;
  uint64_t unmatched = 0;
  uint64_t position_gaps = 0;  // PositionGap events published (gaps the source accepted)
  uint64_t max_rss_bytes = 0;
  // Live only (the admin server): per table, the initial snapshot, the last dead letters.
  std::vector<TableStatus> tables;
  std::optional<SnapshotState> snapshot;
  std::vector<RecentDeadLetter> recent_dead_letters;  // newest first
  // Backfills queued, running and recently finished (oldest first): live from the source in the
  // process that runs the pipeline, otherwise as the source's data dir records them.
  std::vector<BackfillState> backfills;
};

// Reads the status of the pipeline `config` describes from its state store (read-only, also
// while `run` holds it) and asks the source for its lag (`with_source_lag`).
Result<PipelineStatus> ReadPipelineStatus(const Config& config, int64_t now_micros,
                                          bool with_source_lag = true);

// Sets the status's figures as `cdc_...` gauges in `registry` (per shard, per target, source).
void ExportStatus(const PipelineStatus& status, metrics::Registry& registry);

// The `status --json` document (also the admin server's /api/status).
std::string StatusJson(const PipelineStatus& status);

// For the process that runs the pipeline: replaces the checkpointed counts of `status` with the
// live ones of its registry (Pipeline::metrics(); its collectors run) where they are ahead:
// published, unmatched, dead letters, per target delivered and dead-lettered (targets without a
// checkpoint mark yet are added), per shard the durable end, per table the published counts.
void ApplyLiveMetrics(metrics::Registry& live, PipelineStatus& status);

}  // namespace cdc
