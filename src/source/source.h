// Source: where changes come from (PostgreSQL logical replication, JSON change-event files).
// A source pushes each change to a ChangeSink in commit order; input it cannot decode goes to
// the sink's OnInvalid with the reason, so nothing is dropped silently.
//
// Thread-safety: Run is called on the source's own thread; Stop may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "event/change_event.h"

namespace cdc {

// The original form of a change as read, kept for the dead-letter file.
struct RawInput {
  std::string_view text;      // e.g. one line of a JSON file; empty when there is none
  std::string_view location;  // e.g. "events.jsonl:3"
};

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // A decoded change. An error stops the source.
  virtual Status OnChange(ChangeEvent change, const RawInput& raw) = 0;
  // Input that could not be decoded, with the reason.
  virtual Status OnInvalid(const RawInput& raw, std::string_view reason) = 0;
  // Makes everything passed to OnChange/OnInvalid so far durable at every target (or
  // dead-lettered). Only after it returns OK may a source acknowledge those changes upstream.
  virtual Status MakeDurable() = 0;
  // How long a source may hold changes without calling MakeDurable while it waits for more
  // input: the sink's latency budget (the stream's group-fsync interval).
  virtual std::chrono::milliseconds MaxIdleWait() const { return std::chrono::milliseconds(100); }
};

// How far the upstream is ahead of what the pipeline acknowledged (a database's replication
// slot), in the source's own printable positions.
struct SourceLag {
  std::string holder;     // what keeps the acknowledged position, e.g. "slot cdc_pipeline"
  std::string confirmed;  // the acknowledged position
  std::string current;    // the upstream's current position
  uint64_t bytes = 0;     // how far behind
  bool active = false;    // a reader holds it now
};

// Where an initial snapshot (read while the source streams) is, for the wallboard and /api/status.
struct SnapshotState {
  bool done = false;
  uint64_t tables = 0;          // tables to read
  uint64_t tables_done = 0;     // read to their end
  std::string table;            // being read ("schema.table"); empty between tables
  uint64_t table_rows = 0;      // rows of `table` passed on so far
  uint64_t table_estimate = 0;  // its row count as the database estimates it (0: unknown)
  uint64_t chunks = 0;          // chunks completed, all tables
  // 0..1: tables done, plus the part of the current one read (by the estimate).
  double fraction() const {
    if (done || tables == 0) return 1.0;
    double part = table_estimate > 0
                      ? static_cast<double>(table_rows) / static_cast<double>(table_estimate)
                      : 0.0;
    double f = (static_cast<double>(tables_done) + (part < 1.0 ? part : 1.0)) /
               static_cast<double>(tables);
    return f < 1.0 ? f : 1.0;
  }
};

// A backfill: a table, or the rows of it matching a condition, read again while the source
// streams (requested through the source's signal table, `cdc-pipeline backfill`).
struct BackfillState {
  std::string id;     // the signal's id
  std::string table;  // "schema.table"
  std::string where;  // the condition; empty: every row
  std::string state;  // "queued" | "running" | "done" | "failed"
  std::string error;  // failed: why
  uint64_t chunks = 0;
  uint64_t rows = 0;           // READ rows passed on so far
  uint64_t rows_estimate = 0;  // running: the rows to read as the database estimates them
  int64_t requested_micros = 0;
  int64_t finished_micros = 0;  // done or failed: when
};

class Source {
 public:
  virtual ~Source() = default;
  // Reads until the input ends (file sources) or Stop is called.
  virtual Status Run(ChangeSink& sink) = 0;
  virtual void Stop() = 0;
  // A cheap reachability check for health-check.
  virtual Status CheckHealth() = 0;
  // Whether Run is connected to the upstream now (readiness; any thread may ask). Sources without
  // an upstream connection (files) answer true.
  virtual bool Connected() const { return true; }
  // The lag, for `status` (may connect; callable without Run). Unimplemented for sources with
  // no upstream position (files); another error says why it is unknown now.
  virtual Result<SourceLag> Lag() { return Unimplemented("this source has no upstream lag"); }
  // `run --resnapshot`: accept a position gap found at start (upstream lost changes this
  // pipeline never received) as `on_position_gap: resnapshot` does. A no-op for sources without
  // upstream positions.
  virtual void AllowPositionGap() {}
  // Before Run: the data dir's pipeline id. A source that keeps an upstream position (a
  // replication slot) ties the position to it and refuses one another data dir created.
  virtual void SetPipelineId(const std::string& id) { (void)id; }
  // `run --adopt-slot`: take over an upstream position this data dir did not create (a pipeline
  // moved to a new data dir on purpose); it streams on from where that position is.
  virtual void AdoptPosition() {}
  // `run --reset-state` (the state store was lost and started over): start again whatever the
  // upstream position is, with a PositionGap event and a new snapshot.
  virtual void ResetPosition() {}
  // The initial snapshot this process reads or read (any thread may ask); nullopt when there is
  // none (file sources, a slot whose snapshot finished before this process started).
  virtual std::optional<SnapshotState> Snapshot() const { return std::nullopt; }
  // The backfills queued, running and recently finished, oldest first (any thread may ask; also
  // without Run, from what the data dir records). Empty for sources without backfills.
  virtual std::vector<BackfillState> Backfills() const { return {}; }
};

}  // namespace cdc
