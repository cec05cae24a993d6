// Builds the pipeline from config and runs it: source -> durable stream -> processor per table ->
// bus (envelope, compiled rules) -> delivery runner -> targets, with the dead-letter file for
// what cannot be processed or delivered.
//
// With the stream (the default), the source thread redacts at capture and appends each change to
// the stream (group fsync; the source acknowledges only what is durable there); one delivery
// worker per stream shard reads its shard, processes, matches and delivers (the targets take one
// worker's event at a time); and the delivery thread checkpoints to the state store (the
// checkpoint protocol of docs/architecture.md), pausing the workers between two records to do
// so. Without the stream, the source thread does everything.
//
// Thread-safety: one thread calls Run; Stop may be called from any thread or a signal handler.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "bus/router.h"
#include "config/config.h"
#include "process/processor.h"
#include "source/source.h"
#include "target/delivery.h"

namespace cdc {

class Assembly;
class LastImages;
namespace stream {
class ShardReader;
class Stream;
}  // namespace stream
namespace metrics {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace metrics
namespace state {
class StateStore;
}

// Semantic checks that need the stages (patterns compile, targets can be built, tables name
// event types, the HMAC keys of the redaction policies can be read). Each error carries its
// file:line.
std::vector<ConfigError> ValidateSemantics(const Config& config);

// Loads, then runs ValidateSemantics: every error of the file at once.
LoadResult LoadAndValidate(const std::string& path, const EnvOptions& env = {},
                           const Registry& registry = BuiltinRegistry());

struct PipelineOptions {
  // A change whose type its table does not publish: dead-lettered (JSON input, where it is a
  // producer's mistake) or counted as filtered (database sources, where it is routine).
  bool dead_letter_disallowed_types = true;
  // `run --reset-state`: the state store is empty but the data dir holds a stream or target
  // output of an earlier run (the state was lost). Start again: a new pipeline id, the stream's
  // records dropped, and the source told to start over (Source::ResetPosition: a PositionGap
  // event and a new snapshot). Refused when the state store is not empty.
  bool reset_state = false;
  // `run --role`: both halves in this process (kAll); capture only (kCapture: the source into
  // the stream, which processes elsewhere read; no delivery, no backpressure); or process only
  // (kProcess: no source; the stream's shards in `stream.only_shards`, all when empty, delivered
  // to the targets, with the pipeline id taken from the stream the capture process wrote).
  enum class Role { kAll, kCapture, kProcess };
  Role role = Role::kAll;
  // Called on the delivery thread after each checkpoint the state store committed, once per
  // shard this process delivers, with the first offset not yet delivered (a unit of
  // `run --role process` tells its shard assigner, src/runtime/shard_units.h).
  std::function<void(uint32_t shard, uint64_t next_offset)> on_checkpoint;
};

struct PipelineStats {
  uint64_t read = 0;           // changes and invalid inputs seen
  uint64_t filtered = 0;       // changes of a type their table does not publish
  uint64_t published = 0;      // changes that became output events
  uint64_t dead_lettered = 0;  // inputs or deliveries written to the dead-letter file
  uint64_t unmatched = 0;      // published events no rule matched (counted, not lost)
  uint64_t duplicates = 0;     // changes seen again (redelivered by the source) and skipped
  uint64_t position_gaps = 0;  // PositionGap events published (gaps the source accepted)
  std::map<std::string, uint64_t> delivered;  // per target
};

// What the bus does with one event: the rules that matched and their targets.
struct RouteResult {
  std::string event_json;
  std::vector<std::pair<std::string, std::vector<std::string>>> rules;  // rule -> targets
  // For each matched (rule, target) with an input transformer: what the target would receive.
  struct Input {
    std::string rule, target, text;
  };
  std::vector<Input> inputs;
};

// Turns the API's rules as the state store keeps them (the value of "api.rules", absent before
// the first PutRule) into rules the router takes (src/api owns the format).
using ApiRuleLoader =
    std::function<Result<std::vector<RouterRule>>(const std::optional<std::string>& stored)>;

class Pipeline : public ChangeSink {
 public:
  // `clock` must outlive the pipeline.
  static Result<std::unique_ptr<Pipeline>> Build(std::shared_ptr<const Config> config,
                                                 const Clock& clock = SystemClock::Instance(),
                                                 PipelineOptions options = {});

  ~Pipeline() override;

  // Runs `source` to its end (or until Stop), then delivers what is left in the stream (at most
  // pipeline.shutdown_timeout_ms after a Stop) and flushes every target and the dead-letter file.
  Status Run(Source& source);
  // Async-signal-safe: stops the source; Run then drains and returns.
  void Stop();
  // Stops without draining: Run checkpoints what was delivered and returns, leaving the rest of
  // the stream to whoever delivers the shards next (a unit of `run --role process` whose shard
  // went to another process).
  void Release() {
    release_requested_ = true;
    Stop();
  }
  // After Run: delivery was stuck past the shutdown timeout and was left running; the caller
  // must end the process at once (std::_Exit), without destroying the pipeline.
  bool abandoned() const { return abandoned_; }

  // Processes one change as `invoke` does: the output event and the rules that match it;
  // delivers nothing.
  Result<RouteResult> Route(ChangeEvent change) const;

  Status OnChange(ChangeEvent change, const RawInput& raw) override;
  Status OnInvalid(const RawInput& raw, std::string_view reason) override;
  Status MakeDurable() override;
  std::chrono::milliseconds MaxIdleWait() const override;

  // After Run: the totals (with the stream: including earlier runs on the same data dir, except
  // `read`, `filtered` and `duplicates`, which count this run).
  const PipelineStats& stats() const { return stats_; }
  const Config& config() const { return *config_; }
  const ProcessorSet& processors() const { return processors_; }
  // The live metrics (`cdc_...`, src/metrics): counters updated as changes pass, per-target
  // counts and per-shard cursor, end and lag collected when read. Any thread may read it (the
  // admin server of issue 16 renders it with metrics::RenderPrometheus).
  metrics::Registry& metrics() { return *metrics_; }
  // Targets whose last delivery attempt answered Retry or Fatal (failing until they next accept
  // an event), by name. Any thread may call it (the admin server's /readyz).
  std::vector<std::string> FailingTargets();
  // After Run started (or a failed one): the data dir's pipeline id; empty without the stream.
  const std::string& pipeline_id() const { return pipeline_id_; }

  // The bus's API (src/api). Set before Run: Run calls it once the state store is open and
  // routes by what it returns (the rules made over the API), after the config's rules.
  void SetApiRuleLoader(ApiRuleLoader loader) { api_loader_ = std::move(loader); }
  // Any thread: appends `events` to the stream and syncs it, so they are durable when it returns
  // OK; the delivery thread then matches and delivers them like the pipeline's own events.
  // Unavailable before Run has opened the stream and after the source stopped; ResourceExhausted
  // while the targets are behind (stream.max_unprocessed_bytes).
  Status PublishEvents(const std::vector<BusEvent>& events);
  // Any thread: routes by `rules` from now on (instead of the API's earlier rules), after
  // keeping `stored` in the state store as "api.rules". A target the pipeline does not have is
  // InvalidArgument, and nothing changes.
  Status ReplaceApiRules(std::vector<RouterRule> rules, const std::string& stored);
  // The last dead letters of this process, newest first, without their input. Any thread may
  // call it (the admin server's /api/status).
  std::vector<RecentDeadLetter> RecentDeadLetters();

 private:
  Pipeline(std::shared_ptr<const Config> config, const Clock& clock, ProcessorSet processors);

  // What delivering one event needs of its own: each delivery worker has one, and so has the
  // source thread (without the stream).
  struct Lane {
    StreamPosition position;                     // the stream record being delivered
    bool replaying = false;                      // the record is before delivery_start_
    std::vector<uint32_t> matched, api_matched;  // scratch
    RoutedEvent routed;  // scratch: the event, parsed only for input transformers
  };

  // Adds one to a count that several delivery workers add to.
  static void CountOne(uint64_t& count) {
    std::atomic_ref<uint64_t>(count).fetch_add(1, std::memory_order_relaxed);
  }

  Status Flush();
  // Processes one captured change (`captured`: what Capture found and did) and delivers it to
  // the targets of every matching rule.
  Status ProcessAndDeliver(Lane& lane, const TableProcessor& processor, ChangeEvent& change,
                           CaptureResult* captured, const RawInput& raw);
  // Matches a processed event (or a PositionGap marker) and delivers it to the rules' targets.
  // Matches and delivers one event; `processor`: its table's, for the per-table counts (none
  // for events that are not a table's change).
  Status Publish(Lane& lane, const ProcessedEvent& processed,
                 const TableProcessor* processor = nullptr);
  // Delivers an event to the targets of the rules of `router` it matched.
  Status DeliverMatched(Lane& lane, const Router& router, const std::vector<uint32_t>& matched,
                        const OutputEvent& out);
  // A record of an event published over the API (PublishEvents).
  Status PublishBusEvent(Lane& lane, std::string_view json);
  Result<std::shared_ptr<const Router>> BuildApiRouter(std::vector<RouterRule> rules);
  std::shared_ptr<const Router> ApiRouter();
  // A rejected change in a form without PII: redacted by its table's policy and without the
  // columns its model does not have, otherwise (and when the table has no policy) with every
  // detector applied.
  DeadLetter RejectChange(const TableProcessor* processor, ChangeEvent& change, bool redacted,
                          const RawInput& raw, const std::string& table, std::string reason);
  Status WriteDeadLetter(const Lane& lane, const DeadLetter& letter);
  DeliveryRunner& runner();

  // The durable stream (durable.cc).
  Status RunDurable(Source& source);
  Status OpenDurable();
  // The data dir's identity: the state store and the stream must hold the same pipeline id, and
  // an empty state store must not sit beside an earlier run's stream or target output.
  Status CheckIdentity();
  // `processor` is null for a PositionGap marker.
  Status AppendChange(const TableProcessor* processor, const ChangeEvent& change,
                      const CaptureResult& captured, std::string_view location);
  Status AppendDeadLetter(const DeadLetter& letter);
  Status SyncStream();
  Status SyncStreamLocked();  // with append_mu_ held
  Status WaitForBackpressure();
  void DeliveryLoop();
  // The delivery worker of `shard`: reads it from `reader` and delivers, between the pauses of
  // the checkpoints, until the delivery thread lets it go.
  void DeliveryWorker(uint32_t shard, stream::ShardReader& reader);
  // The delivery thread: waits until no worker is inside a batch and keeps them out; false when
  // a worker did not come out before `deadline` (set from a stop request while waiting).
  bool PauseWorkers(std::optional<std::chrono::steady_clock::time_point>& deadline);
  void ResumeWorkers();
  // Any delivery thread: stops delivery with `error` (the first one is kept) and the source.
  void FailDelivery(Status error);
  void RegisterMetrics();
  // Counts one change of `processor`'s table with operation `op` in `per_table` (any thread).
  void CountTable(const std::vector<std::vector<metrics::Counter*>>& per_table,
                  const TableProcessor& processor, Op op);
  // Delivery thread: the shards' delivered cursor, durable end and lag as gauges.
  void UpdateShardGauges();
  Status DeliverRecord(Lane& lane, uint32_t shard, uint64_t offset, uint8_t type,
                       std::string_view payload);
  Status Checkpoint(bool final);

  std::shared_ptr<const Config> config_;
  const Clock& clock_;
  PipelineOptions options_;
  EnvelopeOptions envelope_;
  ProcessorSet processors_;
  // The targets, the dead-letter file, the runner and the router (runtime/assembly.h).
  std::unique_ptr<Assembly> assembly_;
  PipelineStats stats_;
  // The same counts as stats_ (and more) for readers on other threads; created in Build.
  std::unique_ptr<metrics::Registry> metrics_;
  struct Meters {
    metrics::Counter* read = nullptr;
    metrics::Counter* filtered = nullptr;
    metrics::Counter* published = nullptr;
    metrics::Counter* unmatched = nullptr;
    metrics::Counter* duplicates = nullptr;
    metrics::Counter* processing_dead_letters = nullptr;
    metrics::Histogram* latency = nullptr;      // commit to handed to the targets
    metrics::Histogram* stream_sync = nullptr;  // a group fsync of the stream
    metrics::Histogram* checkpoint = nullptr;   // the targets' fsync and the state commit
    std::vector<metrics::Gauge*> shard_cursor, shard_end, shard_lag, shard_bytes;
    // Per processor (processors_.all() order), per operation (INSERT .. READ): captured,
    // published and dead-lettered.
    using PerTable = std::vector<std::vector<metrics::Counter*>>;
    PerTable table_captured, table_published, table_dead_lettered;
  } meters_;
  uint64_t synced_bytes_ = 0;  // guarded by append_mu_: appended_bytes_ at the last sync
  Lane inline_lane_;           // the source thread's, without the stream
  // After a restart: per target and shard, the first offset the target does not have yet (a
  // queued target may be behind the others); empty without the stream.
  std::vector<std::vector<uint64_t>> target_start_;
  // Per shard, the first offset the delivery thread itself has not processed (its dead letters
  // and counts); records before it are delivered again only to targets that are behind.
  std::vector<uint64_t> delivery_start_;

  // Durable mode. Source thread: stream appends; delivery thread: everything downstream.
  std::unique_ptr<state::StateStore> state_;
  // Tables with unchanged_toast: last_image (null without any): used by the source's thread.
  std::unique_ptr<LastImages> images_;  // used under state_mu_ once Run started
  std::mutex state_mu_;
  // Stream appends and syncs: the source thread's and the API's (PublishEvents).
  std::mutex append_mu_;
  bool accepting_ = false;  // guarded by append_mu_: the API may append
  // The API's rules (null: none) and every router they had (a queued target may still hold a
  // rule name of an earlier one).
  ApiRuleLoader api_loader_;
  std::mutex api_mu_;
  std::shared_ptr<const Router> api_router_;                // guarded by api_mu_
  std::vector<std::shared_ptr<const Router>> api_routers_;  // guarded by api_mu_
  std::mutex api_write_mu_;                                 // one ReplaceApiRules at a time
  std::unique_ptr<stream::Stream> stream_;
  std::string pipeline_id_;  // the data dir's identity (state key pipeline.id, stream metadata)
  // A --reset-state was started and its PositionGap marker not yet delivered (state key
  // pipeline.reset): the next start resets the source again.
  std::atomic<bool> reset_pending_{false};
  std::atomic<Source*> source_{nullptr};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> release_requested_{false};
  std::atomic<bool> source_done_{false};
  std::atomic<bool> delivery_failed_{false};
  std::mutex error_mu_;
  Status delivery_error_;  // guarded by error_mu_; set before delivery_failed_
  // Source thread: per shard, the last ordered change position it holds (skip what it already
  // has); empty when none.
  std::vector<SourcePosition> shard_tail_;
  std::string record_, key_;  // source thread scratch
  std::atomic<uint64_t> appended_bytes_{0};
  std::atomic<uint64_t> processed_bytes_{0};
  std::vector<std::atomic<uint64_t>> committed_;  // per shard: last checkpoint (for retention)
  std::vector<uint64_t> retained_;                // source thread: checkpoint retention applied to
  std::mutex progress_mu_;
  std::condition_variable progress_cv_;  // the delivery thread made progress
  bool paused_logged_ = false;
  uint64_t source_duplicates_ = 0;
  // Delivery. Per shard, written by the shard's worker and read by the delivery thread while
  // the workers are paused (the next offset also by the gauges, any time).
  std::vector<std::atomic<uint64_t>> next_;   // per shard: next offset to deliver
  std::vector<uint64_t> backlog_end_;         // per shard: the stream's end when this run started
  std::vector<std::string> shard_locations_;  // per shard: "stream shard N", for dead letters
  std::vector<std::set<std::string>> pending_keys_;  // per shard: dedupe keys to commit
  std::vector<SourcePosition> shard_delivered_;
  // Delivery thread: the furthest ordered position delivered (ordered positions only; empty
  // when none), from shard_delivered_ at each checkpoint.
  SourcePosition last_delivered_;
  std::atomic<int64_t> last_commit_micros_{0};  // the latest commit time delivered
  int64_t caught_up_micros_ = 0;  // when the delivery thread last found every shard delivered
  // The runner's Deliver, WriteOut and the checkpoint's Flush: one thread at a time.
  std::mutex deliver_mu_;
  // The workers' pauses: a checkpoint waits until no worker is inside a batch.
  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  bool pause_ = false;                        // guarded by workers_mu_
  bool workers_exit_ = false;                 // guarded by workers_mu_
  int busy_ = 0;                              // guarded by workers_mu_: workers inside a batch
  std::atomic<bool> pause_requested_{false};  // pause_, read between records
  std::atomic<bool> delivered_{false};        // a worker delivered since the last checkpoint
  std::atomic<bool> unwritten_{false};        // a worker delivered since the last WriteOut
  // A worker stopped half-way through a record (a stop during a target's retries or full
  // queue): no final checkpoint, the last one stands.
  std::atomic<bool> halted_{false};
  uint64_t checkpoints_ = 0;
  std::thread delivery_thread_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool delivery_done_ = false;  // guarded by done_mu_
  bool abandoned_ = false;
};

}  // namespace cdc
