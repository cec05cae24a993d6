// The durable half of Pipeline: the stream between the source and the processors, the delivery
// thread, and the checkpoint protocol (docs/architecture.md, "Checkpoints and exactly-once").
//
//   source thread:   capture redaction -> append to the shard of table + key -> group fsync ->
//                    (the source acknowledges upstream only after MakeDurable = fsync)
//   delivery thread: read fsynced records -> process, match, deliver -> when caught up, write the
//                    targets' buffers out -> every checkpoint_interval: fsync the targets, then
//                    commit shard checkpoints + target marks (file lengths) in one transaction.
//   restart:         cut every file target back to its mark, resume each shard at its
//                    checkpoint: what was written after the mark is written again, exactly once.
#include <pthread.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>

#include "base/host.h"
#include "base/logging.h"
#include "event/change_codec.h"
#include "event/event_json.h"
#include "event/json_writer.h"
#include "metrics/metrics.h"
#include "runtime/assembly.h"
#include "runtime/change_record.h"
#include "runtime/last_images.h"
#include "runtime/pipeline.h"
#include "state/state_store.h"
#include "stream/stream.h"

namespace cdc {
namespace {

// The state store's key for the API's rules (src/api owns the format).
constexpr char kApiRulesKey[] = "api.rules";
constexpr size_t kBatchRecords = 512;

// Change records: runtime/change_record.h.

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A value of the state store's kv table that is not what was written there: the table, the key
// and the value, and what to do.
Status BadValue(const std::string& state_path, const std::string& key, const std::string& value,
                std::string_view expected) {
  return Corruption("state store " + state_path + ": table kv, key '" + key + "': '" + value +
                    "' is not " + std::string(expected) +
                    "; the file was changed by something other than cdc-pipeline. Restore it "
                    "from a backup (nothing was changed; `cdc-pipeline verify-data` lists every "
                    "damaged value)")
      .set_data_loss();
}

// A count the state store keeps (0 when absent).
Result<uint64_t> ParseCount(const std::string& state_path, const std::string& key,
                            const std::optional<std::string>& text) {
  uint64_t v = 0;
  if (!text) return v;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || p != text->data() + text->size()) {
    return BadValue(state_path, key, *text, "a number");
  }
  return v;
}

// The partition key: the table and the values of its partition-key columns (the primary key
// unless `partition_key` says otherwise), so the changes of one row stay in order. A change
// without them (it will be dead-lettered) goes by its key as captured.
void PartitionKey(const TableProcessor& processor, const ChangeEvent& change, std::string& out) {
  out.clear();
  out.append(change.schema).push_back('.');
  out.append(change.table);
  auto columns = processor.PartitionKey(change);
  const Row& key = columns.ok() ? *columns : change.key;
  for (const Column& c : key.columns()) {
    out.push_back('\x1f');
    out.append(ValueToJson(c.value));
  }
}

// A position the state store keeps (PositionStateText); none when absent.
Result<SourcePosition> ReadPosition(const std::string& state_path, const std::string& key,
                                    const std::optional<std::string>& text) {
  if (!text) return SourcePosition();
  auto position = ParsePositionStateText(*text);
  if (!position) return BadValue(state_path, key, *text, "a source position");
  return std::move(*position);
}

// A new pipeline id: a random (version 4) UUID.
std::string NewPipelineId() {
  std::random_device random;
  uint8_t b[16];
  for (size_t i = 0; i < sizeof(b); i += 4) {
    uint32_t r = random();
    std::memcpy(b + i, &r, 4);
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(b); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

}  // namespace

// The position of the last change record of `shard`, searching back from its end.
Result<SourcePosition> LastPosition(const stream::Stream& stream, ShardId shard) {
  CDC_ASSIGN_OR_RETURN(
      auto last,
      stream::FindLast(stream, shard,
                       [](const stream::Record& record) -> Result<std::optional<std::string>> {
                         if (record.type != kRecordChange) return std::optional<std::string>();
                         std::string_view payload = record.payload;
                         CaptureResult captured;
                         std::string location;
                         if (!ReadCaptureHeader(payload, captured, location)) {
                           return Corruption("malformed change record at offset " +
                                             std::to_string(record.offset.value()));
                         }
                         CDC_ASSIGN_OR_RETURN(ChangeEvent change, DecodeChange(payload));
                         if (!IsOrdered(change.position)) return std::optional<std::string>();
                         return std::optional<std::string>(PositionStateText(change.position));
                       }));
  if (!last) return SourcePosition();
  auto position = ParsePositionStateText(*last);
  if (!position) return Corruption("unreadable position '" + *last + "'");
  return std::move(*position);
}

Status Pipeline::CheckIdentity() {
  const std::string state_desc = state::DescribeStateStore(config_->state);
  const std::string stream_desc =
      stream::DescribeStream(config_->stream, config_->pipeline.data_dir);
  CDC_ASSIGN_OR_RETURN(auto state_id, state_->Value("pipeline.id"));
  CDC_ASSIGN_OR_RETURN(auto reset, state_->Value("pipeline.reset"));
  reset_pending_ = reset == std::optional<std::string>("pending");
  const std::string& stream_id = stream_->identity();
  if (state_id && !state_id->empty()) {
    if (options_.reset_state) {
      return FailedPrecondition(
          "run --reset-state starts again from an empty state store, but " + state_desc +
          " holds the state of pipeline " + *state_id +
          ": nothing to reset. Start `run` without --reset-state; to start over on purpose, "
          "move the state store away first");
    }
    if (!stream_id.empty() && stream_id != *state_id) {
      return FailedPrecondition(
                 "the state store " + state_desc + " belongs to pipeline " + *state_id +
                 " but the stream (" + stream_desc + ") to pipeline " + stream_id +
                 ": they come from different data dirs or backups, and together they would "
                 "deliver changes twice or never. Nothing was changed. Restore the state store "
                 "and the stream of one data dir together (`cdc-pipeline verify-data` shows "
                 "both ids); or, to start over with a new snapshot, move the state store away "
                 "and run `cdc-pipeline run --reset-state`")
          .set_data_loss();
    }
    pipeline_id_ = *state_id;
    if (stream_id.empty()) CDC_RETURN_IF_ERROR(stream_->SetIdentity(pipeline_id_));
    return Status::Ok();
  }

  // No id in the state store: a new one, or one written before ids existed (it holds a
  // position, checkpoints or marks).
  CDC_ASSIGN_OR_RETURN(auto position, state_->Value("source.position"));
  CDC_ASSIGN_OR_RETURN(auto checkpoints, state_->ShardCheckpoints());
  CDC_ASSIGN_OR_RETURN(auto marks, state_->TargetMarks());
  if (position || !checkpoints.empty() || !marks.empty()) {
    pipeline_id_ = stream_id.empty() ? NewPipelineId() : stream_id;
    log::Info("pipeline id {} recorded for this data dir (its state store had none yet)",
              pipeline_id_);
    if (stream_id.empty()) CDC_RETURN_IF_ERROR(stream_->SetIdentity(pipeline_id_));
    return Status::Ok();  // the first checkpoint records it in the state store
  }

  // A processor of a stream another process captures into: the stream's pipeline is its own.
  if (options_.role == PipelineOptions::Role::kProcess) {
    if (stream_id.empty()) {
      return FailedPrecondition("the stream (" + stream_desc +
                                ") has no pipeline id yet: start the capture process "
                                "(`run --role capture`) first, then the processors");
    }
    pipeline_id_ = stream_id;
    log::Info("processing the stream of pipeline {} (a new state store {})", pipeline_id_,
              state_desc);
    return Status::Ok();
  }

  // An empty state store: is there anything of an earlier run beside it?
  std::vector<std::string> found;
  uint64_t appended = 0;  // offsets ever given out (retention keeps them counting)
  for (uint32_t i = 0; i < stream_->shard_count(); ++i) {
    appended += stream_->stats(ShardId(i)).next.value();
  }
  if (appended > 0) {
    found.push_back("the stream (" + stream_desc + ") with " + std::to_string(appended) +
                    " records appended" +
                    (stream_id.empty() ? std::string() : " by pipeline " + stream_id));
  }
  for (size_t i = 0; i < runner().size(); ++i) {
    std::string held = runner().target(i).HeldOutput();
    if (!held.empty()) found.push_back("target '" + runner().target(i).name() + "': " + held);
  }
  if (auto size = runner().DeadLetterSize(); size.ok() && *size > 0) {
    found.push_back("the dead-letter file " + assembly_->dead_letters().path() + " (" +
                    std::to_string(*size) + " bytes)");
  }
  if (found.empty() || options_.reset_state) {
    if (!found.empty()) {
      std::string what;
      for (const auto& f : found) what += (what.empty() ? "" : "; ") + f;
      log::Warn(
          "run --reset-state: starting over with an empty state store beside an earlier run's "
          "data ({}): the stream's records are dropped, target files are kept and appended to, "
          "and the source starts again with a PositionGap event and a new snapshot",
          what);
      reset_pending_ = true;
      for (uint32_t i = 0; i < stream_->shard_count(); ++i) {
        // A stream that cannot drop its records (a kafka topic) refuses, saying what to do.
        CDC_RETURN_IF_ERROR(stream_->TruncateTo(ShardId(i), stream_->stats(ShardId(i)).first)
                                .WithContext("run --reset-state"));
      }
    } else if (options_.reset_state) {
      log::Info("run --reset-state: the data dir holds nothing of an earlier run; a plain start");
    }
    // A stream with an id but no record: a start that died before its first checkpoint.
    pipeline_id_ = stream_id.empty() || !found.empty() ? NewPipelineId() : stream_id;
    // The stream first: a crash before the first checkpoint leaves an empty state store beside
    // a stream with an id, which is refused (and --reset-state again finishes the job).
    CDC_RETURN_IF_ERROR(stream_->SetIdentity(pipeline_id_));
    log::Info("pipeline id {} for this data dir", pipeline_id_);
    return Status::Ok();
  }
  std::string what;
  for (const auto& f : found) what += "\n  - " + f;
  return FailedPrecondition(
             "the state store " + state_desc +
             " is empty (new), but this data dir holds data of an earlier run:" + what +
             "\nThe state store was deleted, replaced or moved away: started like this, every "
             "consumer would receive what it already has again, or miss changes. Nothing was "
             "changed (`cdc-pipeline verify-data` lists what the data dir holds). Ways on: restore "
             "the state store from a backup taken with this stream "
             "and these files; or run `cdc-pipeline run --reset-state` to start over: a new "
             "snapshot after a PositionGap event, appended to the target files")
      .set_data_loss();
}

Status Pipeline::OpenDurable() {
  int64_t now = NowMicros();
  std::string owner = ProcessOwner();
  CDC_ASSIGN_OR_RETURN(state_, state::OpenStateStore(config_->state, owner, now));
  if (std::any_of(config_->tables.begin(), config_->tables.end(),
                  [](const TableConfig& t) { return t.unchanged_toast == "last_image"; })) {
    CDC_ASSIGN_OR_RETURN(auto images, state_->OpenLastImages());
    images_ = std::make_unique<LastImages>(std::move(images));
  }
  CDC_ASSIGN_OR_RETURN(stream_, stream::OpenStream(config_->stream, config_->pipeline.data_dir));
  CDC_RETURN_IF_ERROR(CheckIdentity());
  uint32_t shards = stream_->shard_count();
  CDC_ASSIGN_OR_RETURN(auto checkpoints, state_->ShardCheckpoints());
  next_ = std::vector<std::atomic<uint64_t>>(shards);
  backlog_end_.assign(shards, 0);
  pending_keys_.assign(shards, {});
  shard_locations_.clear();
  for (uint32_t i = 0; i < shards; ++i)
    shard_locations_.push_back("stream shard " + std::to_string(i));
  retained_.assign(shards, 0);
  committed_ = std::vector<std::atomic<uint64_t>>(shards);
  meters_.shard_cursor.clear();
  meters_.shard_end.clear();
  meters_.shard_lag.clear();
  meters_.shard_bytes.clear();
  for (uint32_t i = 0; i < shards; ++i) {
    metrics::Labels shard{std::to_string(i)};
    meters_.shard_cursor.push_back(&metrics_->GetGauge(
        "cdc_shard_delivered_offset",
        "Per stream shard, the first offset the delivery thread has not processed.", {"shard"},
        shard));
    meters_.shard_end.push_back(&metrics_->GetGauge(
        "cdc_shard_end_offset", "Per stream shard, its durable end (the next offset to read).",
        {"shard"}, shard));
    meters_.shard_lag.push_back(&metrics_->GetGauge(
        "cdc_shard_lag_records", "Per stream shard, durable records not yet processed.", {"shard"},
        shard));
    meters_.shard_bytes.push_back(&metrics_->GetGauge(
        "cdc_shard_bytes", "Per stream shard, the bytes its segments hold.", {"shard"}, shard));
  }
  for (uint32_t i = 0; i < shards; ++i) {
    stream::ShardStats shard_stats = stream_->stats(ShardId(i));
    auto it = checkpoints.find(i);
    uint64_t first = shard_stats.first.value();
    uint64_t checkpoint = it != checkpoints.end() ? it->second : first;
    if (checkpoint < first) {
      return Corruption("stream shard " + std::to_string(i) + " (" +
                        stream_->ShardLocation(ShardId(i)) + ") starts at offset " +
                        std::to_string(first) + " but its checkpoint is " +
                        std::to_string(checkpoint) +
                        ": records that were never delivered are gone (was the stream directory "
                        "replaced?)");
    }
    if (checkpoint > shard_stats.next.value()) {
      return Corruption(
                 "stream shard " + std::to_string(i) + " (" + stream_->ShardLocation(ShardId(i)) +
                 ") has records up to offset " + std::to_string(shard_stats.next.value()) +
                 " but its checkpoint in the state store " +
                 state::DescribeStateStore(config_->state) + " is " + std::to_string(checkpoint) +
                 ": the stream lost records that were fsynced and delivered (the stream was "
                 "replaced, or restored from an older copy than the state store). Nothing was "
                 "changed. Restore the data dir's stream, state.db and consumer files together "
                 "from one backup; `cdc-pipeline verify-data` lists what disagrees")
          .set_data_loss();
    }
    next_[i] = checkpoint;
    backlog_end_[i] = shard_stats.next.value();
    committed_[i] = checkpoint;
    retained_[i] = first;
  }

  // Per shard, the position of the last change it holds: the source may send changes again
  // (appended but not acknowledged upstream before a crash), and those a shard already has must
  // be skipped. Per shard, not overall: a crash between the writes of a group sync can leave a
  // later change in one shard and lose an earlier one of another, which must then be appended.
  const std::string state_path = state::DescribeStateStore(config_->state);
  CDC_ASSIGN_OR_RETURN(auto delivered_position, state_->Value("source.position"));
  CDC_ASSIGN_OR_RETURN(last_delivered_,
                       ReadPosition(state_path, "source.position", delivered_position));
  shard_tail_.assign(shards, SourcePosition());
  shard_delivered_.assign(shards, SourcePosition());
  for (uint32_t i = 0; i < shards; ++i) {
    std::string key = "source.position." + std::to_string(i);
    CDC_ASSIGN_OR_RETURN(auto delivered, state_->Value(key));
    CDC_ASSIGN_OR_RETURN(shard_delivered_[i], ReadPosition(state_path, key, delivered));
    CDC_ASSIGN_OR_RETURN(shard_tail_[i], LastPosition(*stream_, ShardId(i)));
    // A shard whose records were all delivered and deleted by retention: its last delivered
    // change is its last change.
    if (shard_tail_[i].empty()) shard_tail_[i] = shard_delivered_[i];
  }

  CDC_ASSIGN_OR_RETURN(auto published, state_->Value("count.published"));
  CDC_ASSIGN_OR_RETURN(auto unmatched, state_->Value("count.unmatched"));
  CDC_ASSIGN_OR_RETURN(auto last_commit, state_->Value("time.last_commit"));
  CDC_ASSIGN_OR_RETURN(stats_.published, ParseCount(state_path, "count.published", published));
  CDC_ASSIGN_OR_RETURN(stats_.unmatched, ParseCount(state_path, "count.unmatched", unmatched));
  // The counters go on from the totals of earlier runs, like the targets' (and `status`).
  meters_.published->AdvanceTo(stats_.published);
  meters_.unmatched->AdvanceTo(stats_.unmatched);
  CDC_ASSIGN_OR_RETURN(auto gaps, state_->Value("count.position_gaps"));
  CDC_ASSIGN_OR_RETURN(stats_.position_gaps, ParseCount(state_path, "count.position_gaps", gaps));
  CDC_ASSIGN_OR_RETURN(uint64_t last_commit_micros,
                       ParseCount(state_path, "time.last_commit", last_commit));
  last_commit_micros_ = static_cast<int64_t>(last_commit_micros);
  halted_ = false;
  delivered_ = unwritten_ = false;

  // The rules made over the API route the backlog too.
  if (api_loader_) {
    CDC_ASSIGN_OR_RETURN(auto stored, state_->Value(kApiRulesKey));
    auto rules = api_loader_(stored);
    if (!rules.ok()) return rules.status().WithContext(state_path + ", key '" + kApiRulesKey + "'");
    auto router = BuildApiRouter(std::move(*rules));
    if (!router.ok()) {
      return router.status().WithContext(
          "the rules made over the API (kept in " + state_path +
          ") name a target the config no longer has: add the target back, or remove the rule "
          "(DeleteRule, RemoveTargets) after starting with the target back in place");
    }
    std::lock_guard lock(api_mu_);
    api_routers_.push_back(*router);
    api_router_ = (*router)->size() == 0 ? nullptr : *router;
  }

  // Exactly-once targets go back to their marks; counts carry over. Each target resumes where
  // its mark says: the shard checkpoints are the oldest of them (a queued target may be behind).
  CDC_ASSIGN_OR_RETURN(auto marks, state_->TargetMarks());
  auto starts = [&](const state::TargetMark* mark) {
    std::vector<uint64_t> start(next_.begin(), next_.end());
    if (mark == nullptr) return start;
    for (uint32_t s = 0; s < shards; ++s) {
      auto it = mark->shard_next.find(s);
      if (it != mark->shard_next.end()) start[s] = std::max(start[s], it->second);
    }
    return start;
  };
  CDC_RETURN_IF_ERROR(assembly_->Reconcile(marks, /*restore_counts=*/true));
  target_start_.clear();
  for (size_t i = 0; i < runner().size(); ++i) {
    Target& target = runner().target(i);
    auto it = marks.find(target.name());
    std::vector<uint64_t> start = starts(it == marks.end() ? nullptr : &it->second);
    // A remote exactly-once target may hold more than its mark says (it took events after the
    // last checkpoint): what it holds is not sent again.
    auto held = target.Held();
    if (!held.ok()) return held.status().WithContext("target '" + target.name() + "'");
    for (auto [shard, offset] : *held) {
      if (shard < shards) start[shard] = std::max(start[shard], offset);
    }
    target_start_.push_back(std::move(start));
  }
  auto dl = marks.find(state::kDeadLetterMark);
  delivery_start_ = starts(dl == marks.end() ? nullptr : &dl->second);

  // Marks for targets that have none yet (the first run, or a target added to the config), so a
  // crash before the first regular checkpoint also cuts them back to where they started.
  CDC_RETURN_IF_ERROR(Checkpoint(false));

  {
    // The API may append from here on; the delivery thread reads what it appends.
    std::lock_guard lock(append_mu_);
    accepting_ = true;
  }
  uint64_t backlog = 0;
  for (uint32_t i = 0; i < shards; ++i) {
    backlog += stream_->stats(ShardId(i)).next.value() - next_[i];
  }
  log::Info(
      "stream: {} ({} records to deliver from the last checkpoint); state: {} (lease token {})",
      stream::DescribeStream(config_->stream, config_->pipeline.data_dir), backlog,
      state::DescribeStateStore(config_->state), state_->lease().token);
  return Status::Ok();
}

Status Pipeline::AppendChange(const TableProcessor* processor, const ChangeEvent& change,
                              const CaptureResult& captured, std::string_view location) {
  if (processor != nullptr) {
    PartitionKey(*processor, change, key_);
  } else {
    key_ = "@position-gap";
  }
  ShardId shard = stream::ShardForKey(key_, stream_->shard_count());
  if (IsOrdered(change.position)) {
    SourcePosition& tail = shard_tail_[shard.value()];
    if (auto order = ComparePositions(change.position, tail); order && *order <= 0) {
      ++source_duplicates_;  // sent again by the source: its shard already has it
      meters_.duplicates->Inc();
      return Status::Ok();
    }
    tail = change.position;
  }
  record_.clear();
  record_.push_back(
      static_cast<char>((captured.redacted ? 1 : 0) | (captured.model.compatible_change ? 2 : 0)));
  PutVarint(record_, captured.model.schema_version);
  record_.push_back(static_cast<char>(captured.model.status.code()));
  PutString(record_, captured.model.status.message());
  PutVarint(record_, captured.redacted_columns.size());
  for (const auto& c : captured.redacted_columns) PutString(record_, c);
  PutString(record_, location);
  EncodeChange(change, record_);
  {
    std::lock_guard lock(append_mu_);
    CDC_RETURN_IF_ERROR(stream_->Append(shard, kRecordChange, record_, NowMicros())
                            .status()
                            .WithContext("stream shard " + std::to_string(shard.value())));
    appended_bytes_ += record_.size();
    if (stream_->SyncDue()) CDC_RETURN_IF_ERROR(SyncStreamLocked());
  }
  return WaitForBackpressure();
}

Status Pipeline::AppendDeadLetter(const DeadLetter& letter) {
  record_.clear();
  PutString(record_, letter.stage);
  PutString(record_, letter.reason);
  PutString(record_, letter.location);
  PutString(record_, letter.table);
  PutString(record_, letter.input);
  {
    std::lock_guard lock(append_mu_);
    CDC_RETURN_IF_ERROR(stream_
                            ->Append(letter.table.empty() ? "@invalid" : letter.table,
                                     kRecordDeadLetter, record_, NowMicros())
                            .status());
    appended_bytes_ += record_.size();
    if (stream_->SyncDue()) CDC_RETURN_IF_ERROR(SyncStreamLocked());
  }
  return WaitForBackpressure();
}

Status Pipeline::PublishEvents(const std::vector<BusEvent>& events) {
  auto limit = static_cast<uint64_t>(config_->stream.max_unprocessed_bytes);
  if (limit != 0 && appended_bytes_ - processed_bytes_ > limit) {
    return ResourceExhausted(
        "the targets are behind (stream.max_unprocessed_bytes of the stream not yet delivered); "
        "retry later");
  }
  std::lock_guard lock(append_mu_);
  if (!accepting_) {
    return Unavailable("the pipeline is not running (starting or stopping); retry later");
  }
  int64_t now = NowMicros();
  for (const BusEvent& e : events) {
    CDC_RETURN_IF_ERROR(stream_->Append(e.partition_key, kRecordBusEvent, e.json, now).status());
    appended_bytes_ += e.json.size();
  }
  return SyncStreamLocked();
}

Result<std::shared_ptr<const Router>> Pipeline::BuildApiRouter(std::vector<RouterRule> rules) {
  DeliveryRunner& r = runner();
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<Router> router,
                       Router::Build(std::move(rules), {},
                                     {config_->bus.region, config_->bus.account, config_->bus.name},
                                     [&r](std::string_view name) { return r.Find(name); }));
  return std::shared_ptr<const Router>(std::move(router));
}

std::shared_ptr<const Router> Pipeline::ApiRouter() {
  std::lock_guard lock(api_mu_);
  return api_router_;
}

Status Pipeline::ReplaceApiRules(std::vector<RouterRule> rules, const std::string& stored) {
  std::lock_guard write_lock(api_write_mu_);
  {
    std::lock_guard lock(append_mu_);
    if (!accepting_) {
      return Unavailable("the pipeline is not running (starting or stopping); retry later");
    }
  }
  CDC_ASSIGN_OR_RETURN(std::shared_ptr<const Router> router, BuildApiRouter(std::move(rules)));
  {
    std::lock_guard lock(state_mu_);
    state::CheckpointCommit commit;
    commit.now_micros = NowMicros();
    commit.values[kApiRulesKey] = stored;
    CDC_RETURN_IF_ERROR(state_->Commit(commit).WithContext("keeping the API's rules"));
  }
  std::lock_guard lock(api_mu_);
  api_routers_.push_back(router);
  api_router_ = router->size() == 0 ? nullptr : router;
  return Status::Ok();
}

// An event published over the API, as the runner needs it: its id and time, and its CloudEvents
// form (the same attributes the pipeline's own events get).
Status Pipeline::PublishBusEvent(Lane& lane, std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Corruption("stream shard " + std::to_string(lane.position.shard) + " offset " +
                      std::to_string(lane.position.offset) + ": malformed API event record");
  }
  std::string_view id, time, source, type;
  if (root["id"].get(id) != simdjson::SUCCESS) id = {};
  if (root["time"].get(time) != simdjson::SUCCESS) time = {};
  if (root["source"].get(source) != simdjson::SUCCESS) source = {};
  if (root["detail-type"].get(type) != simdjson::SUCCESS) type = {};
  ProcessedEvent processed;
  if (auto t = ParseRfc3339(time)) processed.change.commit_time = *t;
  std::string cloud;
  JsonWriter w(cloud);
  w.BeginObject();
  w.Key("specversion").String("1.0");
  w.Key("id").String(id);
  w.Key("source").String(source);
  w.Key("type").String(type);
  w.Key("time").String(time);
  w.Key("datacontenttype").String("application/json");
  w.Key("data");
  simdjson::dom::element detail;
  if (root["detail"].get(detail) == simdjson::SUCCESS) {
    w.Raw(simdjson::minify(detail));
  } else {
    w.Null();
  }
  w.EndObject();
  if (!lane.replaying) {
    CountOne(stats_.published);
    meters_.published->Inc();
  }
  std::string text(json);
  lane.matched.clear();
  const Router& router = assembly_->router();
  CDC_RETURN_IF_ERROR(router.Match(text, lane.matched));
  lane.api_matched.clear();
  std::shared_ptr<const Router> api = ApiRouter();
  if (api) CDC_RETURN_IF_ERROR(api->Match(text, lane.api_matched));
  if (!lane.replaying && router.Unmatched(lane.matched) && lane.api_matched.empty()) {
    CountOne(stats_.unmatched);
    meters_.unmatched->Inc();
  }
  if (lane.matched.empty() && lane.api_matched.empty()) return Status::Ok();
  OutputEvent out(processed, std::string(id), std::move(text), std::move(cloud));
  lane.routed.Reset(out.Json(EventFormat::kEventBridge));
  CDC_RETURN_IF_ERROR(DeliverMatched(lane, router, lane.matched, out));
  if (api) CDC_RETURN_IF_ERROR(DeliverMatched(lane, *api, lane.api_matched, out));
  return Status::Ok();
}

Status Pipeline::SyncStream() {
  std::lock_guard lock(append_mu_);
  return SyncStreamLocked();
}

Status Pipeline::SyncStreamLocked() {
  if (delivery_failed_) return Aborted("delivery stopped: " + delivery_error_.message());
  auto start = std::chrono::steady_clock::now();
  CDC_RETURN_IF_ERROR(stream_->Sync().WithContext("stream"));
  if (uint64_t appended = appended_bytes_.load(); appended != synced_bytes_) {
    synced_bytes_ = appended;
    meters_.stream_sync->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // Retention runs here, on the appending thread, behind the delivery thread's checkpoints.
  int64_t now = 0;
  for (uint32_t i = 0; i < stream_->shard_count(); ++i) {
    uint64_t c = committed_[i].load();
    if (c <= retained_[i]) continue;
    if (now == 0) now = NowMicros();
    CDC_RETURN_IF_ERROR(stream_->ApplyRetention(ShardId(i), StreamOffset(c), now));
    retained_[i] = c;
  }
  return Status::Ok();
}

// A stalled target must not make memory or the stream grow without bound: past
// stream.max_unprocessed_bytes the source waits (it stops reading the WAL) until delivery
// catches up.
Status Pipeline::WaitForBackpressure() {
  // A capture process delivers nothing: the processors elsewhere are not its to wait for.
  if (options_.role == PipelineOptions::Role::kCapture) return Status::Ok();
  auto limit = static_cast<uint64_t>(config_->stream.max_unprocessed_bytes);
  if (limit == 0 || appended_bytes_ - processed_bytes_ <= limit) return Status::Ok();
  CDC_RETURN_IF_ERROR(SyncStream());
  if (!paused_logged_) {
    log::Warn(
        "targets are behind: {} MiB of the stream not yet delivered (limit "
        "stream.max_unprocessed_bytes); pausing the source until they catch up",
        (appended_bytes_ - processed_bytes_) >> 20);
    paused_logged_ = true;
  }
  std::unique_lock lock(progress_mu_);
  while (appended_bytes_ - processed_bytes_ > limit / 2 && !delivery_failed_ && !stop_requested_) {
    progress_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (delivery_failed_) return Aborted("delivery stopped: " + delivery_error_.message());
  if (paused_logged_) {
    log::Info("targets caught up; resuming the source");
    paused_logged_ = false;
  }
  return Status::Ok();
}

Status Pipeline::DeliverRecord(Lane& lane, uint32_t shard, uint64_t offset, uint8_t type,
                               std::string_view payload) {
  std::string_view location = shard_locations_[shard];
  lane.position = StreamPosition{shard, offset};
  // Before the delivery thread's own mark: delivered before the last crash to every target but
  // a queued one that was behind; only that one gets it again (at-least-once, same id).
  lane.replaying = offset < delivery_start_[shard];
  if (type == kRecordDeadLetter) {
    DeadLetter letter;
    if (!GetString(payload, letter.stage) || !GetString(payload, letter.reason) ||
        !GetString(payload, letter.location) || !GetString(payload, letter.table) ||
        !GetString(payload, letter.input)) {
      return Corruption(std::string(location) + ": malformed dead-letter record");
    }
    return WriteDeadLetter(lane, letter);
  }
  if (type == kRecordBusEvent) return PublishBusEvent(lane, payload);
  if (type != kRecordChange) {
    return Corruption(std::string(location) + ": unknown record type " + std::to_string(type));
  }
  CaptureResult captured;
  std::string input_location;
  if (!ReadCaptureHeader(payload, captured, input_location)) {
    return Corruption(std::string(location) + ": malformed change record");
  }
  if (!input_location.empty()) location = input_location;
  CDC_ASSIGN_OR_RETURN(ChangeEvent change, DecodeChange(payload));
  if (lane.replaying) {
    // Counted, deduplicated and positioned the first time.
  } else if (IsOrdered(change.position)) {
    shard_delivered_[shard] = change.position;
  } else if (!change.position.empty()) {
    // Unordered positions (JSON input's content digests): events are remembered by id for
    // dedupe_ttl_hours. An event id has one partition key, so one shard: the shard's own
    // pending keys and the committed ones are all there is to look at.
    std::string key = PositionKey(change.position);
    bool seen = pending_keys_[shard].count(key) > 0;
    if (!seen) {
      std::lock_guard lock(state_mu_);
      CDC_ASSIGN_OR_RETURN(seen, state_->HasKey(key, NowMicros()));
    }
    if (seen) {
      CountOne(stats_.duplicates);
      meters_.duplicates->Inc();
      return Status::Ok();
    }
    pending_keys_[shard].insert(std::move(key));
  }
  if (!lane.replaying) {
    int64_t t = change.commit_time.micros;
    int64_t last = last_commit_micros_.load(std::memory_order_relaxed);
    while (t > last && !last_commit_micros_.compare_exchange_weak(last, t)) {
    }
  }
  if (change.op == Op::kPositionGap) {
    reset_pending_ = false;  // a reset's marker is durable: the source started over
    return Publish(lane, ProcessedEvent{change, {}, {}});
  }
  const TableProcessor* processor = processors_.Find(change.schema, change.table);
  if (processor == nullptr) {
    // The config changed since the change was captured.
    return WriteDeadLetter(
        lane, RejectChange(nullptr, change, true, RawInput{{}, location}, change.QualifiedName(),
                           "unknown table '" + change.QualifiedName() +
                               "': it is not configured in 'tables'"));
  }
  return ProcessAndDeliver(lane, *processor, change, &captured, RawInput{{}, location});
}

Status Pipeline::Checkpoint(bool final) {
  // Queued targets first: a dead letter they write after this is for an event still pending
  // here, so it is cut from the dead-letter file on a restart and written again then.
  std::map<uint32_t, uint64_t> delivered;
  std::vector<uint64_t> next(next_.begin(), next_.end());
  for (uint32_t i = 0; i < next.size(); ++i) delivered[i] = next[i];
  int64_t now = NowMicros();
  state::CheckpointCommit commit;
  commit.now_micros = now;
  commit.shard_checkpoints = delivered;
  for (size_t i = 0; i < runner().size(); ++i) {
    if (!runner().queued(i)) continue;
    state::TargetMark mark;
    mark.shard_next = runner().Progress(i, next);
    for (auto [shard, offset] : mark.shard_next) {
      uint64_t& c = commit.shard_checkpoints[shard];
      c = std::min(c, offset);
    }
    TargetStats stats = runner().stats(i);
    mark.delivered = stats.delivered;
    mark.dead_lettered = stats.dead_lettered;
    commit.target_marks[runner().target(i).name()] = std::move(mark);
  }
  auto start = std::chrono::steady_clock::now();
  CDC_RETURN_IF_ERROR(Flush());
  for (size_t i = 0; i < runner().size(); ++i) {
    if (runner().queued(i)) continue;
    state::TargetMark mark;
    mark.cursor = runner().Cursor(i).value_or("");
    mark.shard_next = delivered;
    TargetStats stats = runner().stats(i);
    mark.delivered = stats.delivered;
    mark.dead_lettered = stats.dead_lettered;
    commit.target_marks[runner().target(i).name()] = std::move(mark);
  }
  {
    state::TargetMark mark;
    CDC_ASSIGN_OR_RETURN(uint64_t size, runner().DeadLetterSize());
    mark.cursor = std::to_string(size);
    mark.shard_next = delivered;
    mark.delivered = runner().dead_letter_count();
    commit.target_marks[state::kDeadLetterMark] = std::move(mark);
  }
  int64_t expires = now + config_->state.dedupe_ttl_hours * 3600 * 1000000;
  for (const auto& keys : pending_keys_) {
    for (const auto& key : keys) commit.dedupe_keys.emplace_back(key, expires);
  }
  for (const SourcePosition& p : shard_delivered_) {
    if (p.empty()) continue;
    auto order = ComparePositions(p, last_delivered_);
    if (last_delivered_.empty() || (order && *order > 0)) last_delivered_ = p;
  }
  auto& v = commit.values;
  if (!last_delivered_.empty()) v["source.position"] = PositionStateText(last_delivered_);
  for (uint32_t i = 0; i < shard_delivered_.size(); ++i) {
    if (!shard_delivered_[i].empty()) {
      v["source.position." + std::to_string(i)] = PositionStateText(shard_delivered_[i]);
    }
  }
  v["count.published"] = std::to_string(stats_.published);
  v["count.unmatched"] = std::to_string(stats_.unmatched);
  v["count.position_gaps"] = std::to_string(stats_.position_gaps);
  v["count.dead_lettered"] = std::to_string(runner().dead_letter_count());
  v["time.last_commit"] = std::to_string(last_commit_micros_.load());
  v["time.caught_up"] = std::to_string(caught_up_micros_);
  v["time.checkpoint"] = std::to_string(now);
  v["pipeline.running"] = final ? "false" : "true";
  v["pipeline.id"] = pipeline_id_;
  v["pipeline.reset"] = reset_pending_ ? "pending" : "no";
  v["pipeline.owner"] = state_->lease().owner;
  struct rusage usage = {};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    v["memory.max_rss_bytes"] = std::to_string(static_cast<uint64_t>(usage.ru_maxrss) * 1024);
  }
  v["stream.shards"] = std::to_string(stream_->shard_count());
  for (uint32_t i = 0; i < stream_->shard_count(); ++i) {
    stream::ShardStats st = stream_->stats(ShardId(i));
    v["stream.shard." + std::to_string(i)] =
        std::to_string(st.first.value()) + " " + std::to_string(st.next.value()) + " " +
        std::to_string(st.durable_end.value()) + " " + std::to_string(st.bytes) + " " +
        std::to_string(st.segments);
  }
  {
    std::lock_guard lock(state_mu_);
    CDC_RETURN_IF_ERROR(state_->Commit(commit).WithContext("checkpoint"));
  }
  meters_.checkpoint->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (auto& keys : pending_keys_) keys.clear();
  for (uint32_t i = 0; i < next.size(); ++i) committed_[i] = commit.shard_checkpoints[i];
  if (options_.on_checkpoint) {
    for (uint32_t shard : config_->stream.only_shards) {
      if (shard < next.size()) options_.on_checkpoint(shard, commit.shard_checkpoints[shard]);
    }
  }
  ++checkpoints_;
  if (checkpoints_ % 1000 == 0) {
    std::lock_guard lock(state_mu_);
    CDC_ASSIGN_OR_RETURN(uint64_t expired, state_->ExpireKeys(now));
    if (expired > 0) log::Debug("expired {} dedupe keys", expired);
  }
  return Status::Ok();
}

void Pipeline::UpdateShardGauges() {
  for (uint32_t i = 0; i < next_.size(); ++i) {
    stream::ShardStats stats = stream_->stats(ShardId(i));
    uint64_t end = stats.durable_end.value();
    uint64_t next = next_[i].load();
    meters_.shard_bytes[i]->Set(static_cast<double>(stats.bytes));
    meters_.shard_cursor[i]->Set(static_cast<double>(next));
    meters_.shard_end[i]->Set(static_cast<double>(end));
    meters_.shard_lag[i]->Set(static_cast<double>(end > next ? end - next : 0));
  }
}

namespace {

// Stop signals go to the main thread, never to a delivery thread: a blocked write is not
// interrupted half-way.
void BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

}  // namespace

void Pipeline::FailDelivery(Status error) {
  {
    std::lock_guard lock(error_mu_);
    if (delivery_failed_) return;
    delivery_error_ = std::move(error);
    delivery_failed_ = true;
  }
  progress_cv_.notify_all();
  workers_cv_.notify_all();
  if (Source* src = source_.load()) src->Stop();
}

void Pipeline::DeliveryWorker(uint32_t shard, stream::ShardReader& reader) {
  BlockStopSignals();
  Lane lane;
  // Wait for this shard only.
  std::vector<StreamOffset> seen(stream_->shard_count(),
                                 StreamOffset(std::numeric_limits<uint64_t>::max()));
  while (true) {
    {
      std::unique_lock lock(workers_mu_);
      workers_cv_.wait(lock, [&] { return !pause_ || workers_exit_; });
      if (workers_exit_) return;
      ++busy_;
    }
    bool progressed = false;
    Status failure;
    for (size_t n = 0; n < kBatchRecords; ++n) {
      if (pause_requested_.load(std::memory_order_relaxed) || delivery_failed_) break;
      auto record = reader.Next();
      if (!record.ok()) {
        failure = record.status().WithContext("stream shard " + std::to_string(shard));
        break;
      }
      if (!record->has_value()) break;
      const stream::Record& r = **record;
      uint64_t next = next_[shard].load(std::memory_order_relaxed);
      if (r.offset.value() != next) {
        failure = Corruption("stream shard " + std::to_string(shard) + ": expected offset " +
                             std::to_string(next) + ", read " + std::to_string(r.offset.value()));
        break;
      }
      Status s = DeliverRecord(lane, shard, r.offset.value(), r.type, r.payload);
      if (!s.ok() && s.code() == StatusCode::kAborted && stop_requested_) {
        // Stopped half-way through a record (a target's retries or full queue): no final
        // checkpoint, so the last one stands and the record is delivered again after a start.
        log::Warn(
            "stopped while delivering: {}; what was not checkpointed is delivered after the "
            "next start",
            s.message());
        halted_ = true;
        break;
      }
      if (!s.ok()) {
        failure = std::move(s);
        break;
      }
      next_[shard].store(r.offset.value() + 1);
      // Backpressure counts what this run appended (the backlog of an earlier run was bounded
      // by it).
      if (r.offset.value() >= backlog_end_[shard]) processed_bytes_ += r.payload.size();
      progressed = true;
    }
    if (progressed) {
      delivered_ = unwritten_ = true;
      progress_cv_.notify_all();
    } else if (failure.ok() && !halted_ && unwritten_.exchange(false)) {
      // Caught up: hand what the workers delivered on to the targets' files.
      std::lock_guard lock(deliver_mu_);
      failure = runner().WriteOut();
    }
    {
      std::lock_guard lock(workers_mu_);
      --busy_;
    }
    workers_cv_.notify_all();
    if (!failure.ok()) return FailDelivery(std::move(failure));
    if (halted_) {
      workers_cv_.notify_all();
      return;
    }
    if (!progressed) {
      seen[shard] = StreamOffset(next_[shard].load());
      stream_->WaitForData(seen, std::chrono::milliseconds(20));
    }
  }
}

bool Pipeline::PauseWorkers(std::optional<std::chrono::steady_clock::time_point>& deadline) {
  std::unique_lock lock(workers_mu_);
  pause_ = true;
  pause_requested_ = true;
  while (busy_ > 0) {
    auto now = std::chrono::steady_clock::now();
    if (stop_requested_ && !deadline) {
      deadline = now + std::chrono::milliseconds(config_->pipeline.shutdown_timeout_ms);
    }
    if (deadline && now >= *deadline) return false;
    workers_cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  return true;
}

void Pipeline::ResumeWorkers() {
  {
    std::lock_guard lock(workers_mu_);
    pause_ = false;
    pause_requested_ = false;
  }
  workers_cv_.notify_all();
}

void Pipeline::DeliveryLoop() {
  BlockStopSignals();
  struct Done {
    Pipeline* p;
    ~Done() {
      std::lock_guard lock(p->done_mu_);
      p->delivery_done_ = true;
      p->done_cv_.notify_all();
    }
  } done_guard{this};
  uint32_t shards = stream_->shard_count();
  // The shards this process delivers (`run --role process --shards`; all when none are named).
  std::vector<bool> mine(shards, config_->stream.only_shards.empty());
  for (uint32_t i : config_->stream.only_shards) {
    if (i < shards) mine[i] = true;
  }
  std::vector<std::unique_ptr<stream::ShardReader>> readers(shards);
  for (uint32_t i = 0; i < shards; ++i) {
    if (!mine[i]) continue;
    auto r = stream_->OpenReader(ShardId(i), StreamOffset(next_[i].load()));
    if (!r.ok()) return FailDelivery(r.status().WithContext("stream shard " + std::to_string(i)));
    readers[i] = std::move(r).value();
  }
  runner().Start();
  {
    std::lock_guard lock(workers_mu_);
    pause_ = workers_exit_ = false;
    busy_ = 0;
  }
  std::vector<std::thread> workers;
  for (uint32_t i = 0; i < shards; ++i) {
    if (!mine[i]) continue;
    workers.emplace_back([this, i, reader = readers[i].get()] { DeliveryWorker(i, *reader); });
  }
  // Lets the workers go and waits for them (a worker stuck in a target that never returns keeps
  // this thread here too: Run then gives up on it after the shutdown timeout).
  auto end_workers = [&] {
    {
      std::lock_guard lock(workers_mu_);
      workers_exit_ = true;
    }
    workers_cv_.notify_all();
    stream_->Wake();
    for (auto& w : workers) w.join();
  };
  auto interval = std::chrono::milliseconds(config_->state.checkpoint_interval_ms);
  auto last_checkpoint = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> deadline;
  while (true) {
    // Read before looking at the shards: once the source is done and synced, every shard
    // delivered to its end means everything was delivered.
    bool source_finished = source_done_.load();
    {
      std::unique_lock lock(workers_mu_);
      workers_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    if (delivery_failed_) return end_workers();
    if (halted_) {
      end_workers();
      runner().Stop();
      return;
    }
    UpdateShardGauges();
    if (Status f = runner().failure(); !f.ok()) {
      FailDelivery(f);
      return end_workers();
    }
    bool caught_up = true;
    for (uint32_t i = 0; i < shards && caught_up; ++i) {
      caught_up = !mine[i] || next_[i].load() >= stream_->stats(ShardId(i)).durable_end.value();
    }
    if (caught_up) caught_up_micros_ = NowMicros();
    bool idle = runner().Idle();  // queued targets move on by themselves
    bool dirty = delivered_ || !idle;
    // Done once everything is read and the queued targets have finished theirs.
    bool done = source_finished && (caught_up || release_requested_) && idle;
    auto now = std::chrono::steady_clock::now();
    if (stop_requested_ && !deadline) {
      deadline = now + std::chrono::milliseconds(config_->pipeline.shutdown_timeout_ms);
    }
    bool out_of_time = deadline && now >= *deadline;
    // Queued targets stop where they are (their pending events are delivered after a start).
    if (out_of_time) runner().Stop();
    if (done || out_of_time || (dirty && now - last_checkpoint >= interval)) {
      if (!PauseWorkers(deadline)) {
        // A worker is still inside a record past the shutdown timeout: the last checkpoint
        // stands.
        log::Warn(
            "shutdown timeout ({} ms) reached while delivering a record; what was not "
            "checkpointed is delivered after the next start",
            config_->pipeline.shutdown_timeout_ms);
        runner().Stop();
        return end_workers();
      }
      if (halted_ || delivery_failed_) {
        // A worker stopped half-way through a record, or failed: the last checkpoint stands
        // (the next round ends the loop).
        ResumeWorkers();
        continue;
      }
      delivered_ = false;
      bool final_checkpoint = done || out_of_time;
      Status s;
      {
        std::lock_guard lock(deliver_mu_);
        s = Checkpoint(final_checkpoint);
      }
      // After the final checkpoint the workers stay paused until they are let go.
      if (!final_checkpoint) ResumeWorkers();
      if (!s.ok()) {
        FailDelivery(s);
        return end_workers();
      }
      last_checkpoint = now;
    }
    if (done) {
      end_workers();
      runner().Stop();
      return;
    }
    if (out_of_time) {
      uint64_t left = 0;
      for (uint32_t i = 0; i < shards; ++i) {
        left += stream_->stats(ShardId(i)).durable_end.value() - next_[i].load();
      }
      log::Warn(
          "shutdown timeout ({} ms) reached with {} records not yet delivered; they are "
          "delivered after the next start",
          config_->pipeline.shutdown_timeout_ms, left);
      return end_workers();
    }
  }
}

Status Pipeline::RunDurable(Source& source) {
  CDC_RETURN_IF_ERROR(OpenDurable());
  source.SetPipelineId(pipeline_id_);
  if (reset_pending_) source.ResetPosition();
  source_ = &source;
  if (stop_requested_) source.Stop();
  if (options_.role == PipelineOptions::Role::kCapture) {
    std::lock_guard lock(done_mu_);
    delivery_done_ = true;  // processes elsewhere deliver
  } else {
    delivery_thread_ = std::thread([this] { DeliveryLoop(); });
  }
  Status s = source.Run(*this);
  std::unique_lock append_lock(append_mu_);
  accepting_ = false;
  Status synced = stream_->Sync();
  append_lock.unlock();
  if (s.ok() && !synced.ok()) s = synced.WithContext("stream");
  source_done_ = true;
  stream_->Wake();
  // Delivery drains the stream. After a stop request it gets shutdown_timeout_ms (and checks
  // the clock itself); if it is stuck in a target (a write that never returns), give up a second
  // later without a final checkpoint: nothing is lost, the next start delivers from the last one.
  auto timeout =
      std::chrono::milliseconds(config_->pipeline.shutdown_timeout_ms) + std::chrono::seconds(1);
  std::optional<std::chrono::steady_clock::time_point> deadline;
  {
    std::unique_lock lock(done_mu_);
    while (!delivery_done_) {
      auto now = std::chrono::steady_clock::now();
      if (stop_requested_ && !deadline) deadline = now + timeout;
      if (deadline && now >= *deadline) break;
      done_cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (!delivery_done_) {
      abandoned_ = true;
      delivery_thread_.detach();
      return Aborted("delivery did not stop within pipeline.shutdown_timeout_ms (" +
                     std::to_string(config_->pipeline.shutdown_timeout_ms) +
                     " ms): a target is blocked; exiting without a final checkpoint. Nothing is "
                     "lost: what was not checkpointed is delivered after the next start");
    }
  }
  if (delivery_thread_.joinable()) delivery_thread_.join();
  source_ = nullptr;
  for (size_t i = 0; i < runner().size(); ++i) {
    stats_.delivered[runner().target(i).name()] = runner().stats(i).delivered;
  }
  stats_.dead_lettered = runner().dead_letter_count();
  stats_.duplicates += source_duplicates_;
  if (delivery_failed_) return delivery_error_;
  return s;
}

}  // namespace cdc
