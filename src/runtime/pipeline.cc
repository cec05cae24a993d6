#include "runtime/pipeline.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <tuple>

#include "base/logging.h"
#include "event/event_json.h"
#include "metrics/metrics.h"
#include "process/redact/redactor.h"
#include "runtime/assembly.h"
#include "runtime/last_images.h"
#include "state/state_store.h"
#include "stream/stream.h"
#include "target/append_file.h"

namespace cdc {

namespace {

void ValidatePatterns(const Config& config, std::vector<ConfigError>& errors) {
  for (const auto& rule : config.rules) {
    Status s = ValidatePattern(rule.event_pattern);
    if (!s.ok()) {
      errors.push_back(
          {rule.pattern_where, "rules." + rule.name + ".event_pattern: " + s.message()});
    }
  }
  for (const auto& a : config.archives) {
    if (a.event_pattern.empty()) continue;  // every event
    Status s = ValidatePattern(a.event_pattern);
    if (!s.ok()) {
      errors.push_back({a.pattern_where, "archives." + a.name + ".event_pattern: " + s.message()});
    }
  }
}

}  // namespace

std::vector<ConfigError> ValidateSemantics(const Config& config) {
  std::vector<ConfigError> errors;
  ValidatePatterns(config, errors);
  for (const auto& t : config.tables) {
    if (t.event_types.empty()) {
      errors.push_back({t.where, "tables." + t.name + ".event_types must name at least one type"});
    }
    if (t.primary_key.empty()) {
      errors.push_back(
          {t.where, "tables." + t.name + ".primary_key must name at least one column"});
    }
  }
  for (const auto& t : config.targets) {
    auto built = BuildTarget(t);
    if (!built.ok()) errors.push_back({t.where, built.status().message()});
  }
  // Keys are read here rather than at load, so a config loads without its secrets but cannot
  // start (or pass validate-config / health-check) without them.
  if (config.redaction.enabled) {
    for (const auto& key : config.redaction.keys) {
      Status s = CheckRedactionKey(key);
      if (!s.ok()) errors.push_back({key.where, s.message()});
    }
  }
  return errors;
}

LoadResult LoadAndValidate(const std::string& path, const EnvOptions& env,
                           const Registry& registry) {
  LoadResult r = LoadConfig(path, env, registry);
  if (!r.config) {
    // Every error in one listing: the event patterns of what did load are checked too (the
    // other checks below could repeat an error the loader already gave for the same entry).
    if (r.partial) {
      auto key = [](const ConfigError& e) {
        return std::tie(e.where.file, e.where.line, e.where.column);
      };
      std::vector<ConfigError> patterns;
      ValidatePatterns(*r.partial, patterns);
      for (auto& e : patterns) {
        // A pattern the loader already found wrong (e.g. an unset ${VAR}) is not reported twice.
        bool known = std::any_of(r.errors.begin(), r.errors.end(),
                                 [&](const ConfigError& l) { return key(l) == key(e); });
        if (!known) r.errors.push_back(std::move(e));
      }
      std::stable_sort(r.errors.begin(), r.errors.end(),
                       [&](const ConfigError& a, const ConfigError& b) { return key(a) < key(b); });
    }
    return r;
  }
  r.errors = ValidateSemantics(*r.config);
  if (!r.errors.empty()) r.config.reset();
  return r;
}

Pipeline::Pipeline(std::shared_ptr<const Config> config, const Clock& clock,
                   ProcessorSet processors)
    : config_(std::move(config)), clock_(clock), processors_(std::move(processors)) {
  envelope_.pipeline = config_->pipeline.name;
  envelope_.source = config_->bus.source;
  envelope_.account = config_->bus.account;
  envelope_.region = config_->bus.region;
}

Result<std::unique_ptr<Pipeline>> Pipeline::Build(std::shared_ptr<const Config> config,
                                                  const Clock& clock, PipelineOptions options) {
  auto errors = ValidateSemantics(*config);
  if (!errors.empty()) return InvalidArgument(errors.front().ToString());
  CDC_ASSIGN_OR_RETURN(ProcessorSet processors, ProcessorSet::Build(*config));
  std::vector<std::string> with_policy;
  for (const auto& t : config->tables) {
    if (!t.redact.empty()) with_policy.push_back(t.name + " (" + t.redact_at + ")");
  }
  if (!config->redaction.enabled) {
    log::Warn(
        "PII REDACTION IS DISABLED (redaction.enabled is false, e.g. ENABLE_PII_REDACTION=false): "
        "the redaction policies of {} table(s) are NOT applied; personal, payment, financial and "
        "auth data pass through to every target",
        with_policy.size());
  } else if (!with_policy.empty()) {
    std::string list;
    for (const auto& t : with_policy) list += (list.empty() ? "" : ", ") + t;
    log::Info("redaction policies in force for {}", list);
  }
  CDC_RETURN_IF_ERROR(MakeDirectories(config->pipeline.data_dir).WithContext("pipeline.data_dir"));
  std::unique_ptr<Pipeline> p(new Pipeline(config, clock, std::move(processors)));
  p->options_ = options;
  CDC_ASSIGN_OR_RETURN(p->assembly_, Assembly::Build(*config, clock));
  p->RegisterMetrics();
  for (const auto& t : config->targets) p->stats_.delivered[t.name] = 0;
  for (const auto& a : config->archives) p->stats_.delivered[ArchiveRuleName(a.name)] = 0;
  return p;
}

DeliveryRunner& Pipeline::runner() { return assembly_->runner(); }

void Pipeline::CountTable(const Meters::PerTable& per_table, const TableProcessor& processor,
                          Op op) {
  auto index = static_cast<size_t>(&processor - processors_.all().data());
  auto o = static_cast<size_t>(op);
  if (index < per_table.size() && o < per_table[index].size() && per_table[index][o] != nullptr) {
    per_table[index][o]->Inc();
  }
}

std::vector<std::string> Pipeline::FailingTargets() {
  std::vector<std::string> out;
  DeliveryRunner& run = runner();
  for (size_t i = 0; i < run.size(); ++i) {
    if (run.failing(i)) out.push_back(run.target(i).name());
  }
  return out;
}

std::vector<RecentDeadLetter> Pipeline::RecentDeadLetters() { return runner().RecentDeadLetters(); }

void Pipeline::RegisterMetrics() {
  metrics_ = std::make_unique<metrics::Registry>();
  metrics::Registry& r = *metrics_;
  meters_.read = &r.GetCounter("cdc_changes_read_total",
                               "Changes and invalid inputs read from the source by this process.");
  meters_.filtered = &r.GetCounter("cdc_changes_filtered_total",
                                   "Changes of a type their table does not publish (skipped).");
  meters_.published =
      &r.GetCounter("cdc_events_published_total", "Changes that became output events.");
  meters_.unmatched =
      &r.GetCounter("cdc_events_unmatched_total", "Published events no rule matched.");
  meters_.duplicates = &r.GetCounter("cdc_duplicates_total",
                                     "Changes seen again (re-sent by the source) and skipped.");
  meters_.processing_dead_letters =
      &r.GetCounter("cdc_processing_dead_lettered_total",
                    "Inputs and changes that could not be processed, dead-lettered.");
  meters_.latency = &r.GetHistogram(
      "cdc_delivery_latency_seconds",
      "From a change's commit to its event being handed to its targets (inline targets: "
      "written; queued targets: queued).",
      metrics::LatencyBuckets());
  meters_.stream_sync = &r.GetHistogram(
      "cdc_stream_fsync_seconds",
      "A group fsync of the stream (what the source acknowledges upstream waits for).",
      metrics::DurationBuckets());
  meters_.checkpoint = &r.GetHistogram(
      "cdc_checkpoint_duration_seconds",
      "A checkpoint: the targets' and the dead-letter file's fsync, then the state store commit.",
      metrics::DurationBuckets());
  for (const TableProcessor& processor : processors_.all()) {
    const TableConfig& table = processor.table();
    std::string name = table.schema == "public" ? table.name : table.schema + "." + table.name;
    auto& captured = meters_.table_captured.emplace_back();
    auto& published = meters_.table_published.emplace_back();
    auto& dead_lettered = meters_.table_dead_lettered.emplace_back();
    // Indexed by Op; a PositionGap belongs to no table.
    for (Op op : {Op::kInsert, Op::kUpdate, Op::kDelete, Op::kTruncate, Op::kRead, Op::kPositionGap,
                  Op::kSchemaChange}) {
      if (op == Op::kPositionGap) {
        captured.push_back(nullptr);
        published.push_back(nullptr);
        dead_lettered.push_back(nullptr);
        continue;
      }
      metrics::Labels labels{name, std::string(OpName(op))};
      captured.push_back(&r.GetCounter(
          "cdc_table_changes_captured_total",
          "Changes of the table read from the source, by operation (READ: snapshot rows) (this "
          "process).",
          {"table", "operation"}, labels));
      published.push_back(&r.GetCounter("cdc_table_events_published_total",
                                        "Changes of the table that became output events, by "
                                        "operation (READ: snapshot rows) (this process).",
                                        {"table", "operation"}, labels));
      dead_lettered.push_back(&r.GetCounter(
          "cdc_table_dead_lettered_total",
          "Changes of the table that could not be processed (model check, transforms), "
          "dead-lettered, by operation (this process).",
          {"table", "operation"}, labels));
    }
  }
  // Counts kept by the runner (atomics), copied when the registry is read.
  r.AddCollector([this](metrics::Registry& reg) {
    if (images_) {
      reg.GetCounter("cdc_toast_filled_total",
                     "Unchanged TOAST columns of UPDATEs filled from the key's last row image "
                     "(tables with unchanged_toast: last_image).")
          .AdvanceTo(images_->filled());
      reg.GetCounter("cdc_toast_unfilled_total",
                     "Unchanged TOAST columns left marked in detail.metadata.unchangedToast: no "
                     "last row image of the key (changed before the pipeline saw it).")
          .AdvanceTo(images_->missed());
    }
    DeliveryRunner& run = runner();
    for (size_t i = 0; i < run.size(); ++i) {
      metrics::Labels target{run.target(i).name()};
      TargetStats st = run.stats(i);
      reg.GetCounter("cdc_target_delivered_total", "Events the target accepted.", {"target"},
                     target)
          .AdvanceTo(st.delivered);
      reg.GetCounter("cdc_target_dead_lettered_total",
                     "Events the target did not accept, dead-lettered.", {"target"}, target)
          .AdvanceTo(st.dead_lettered);
      reg.GetCounter("cdc_target_retries_total", "Delivery attempts the target answered Retry.",
                     {"target"}, target)
          .AdvanceTo(st.retries);
      reg.GetGauge("cdc_target_queue_depth", "Events queued for a queued target (http).",
                   {"target"}, target)
          .Set(static_cast<double>(run.queue_depth(i)));
      reg.GetGauge("cdc_target_failing",
                   "1 while the target's last attempt answered Retry or Fatal (until it next "
                   "accepts an event).",
                   {"target"}, target)
          .Set(run.failing(i) ? 1 : 0);
    }
    reg.GetCounter("cdc_stream_appended_bytes_total",
                   "Bytes of records this process appended to the stream.")
        .AdvanceTo(appended_bytes_.load());
    reg.GetCounter("cdc_dead_lettered_total",
                   "Inputs and deliveries written to the dead-letter file.")
        .AdvanceTo(run.dead_letter_count());
  });
}

Pipeline::~Pipeline() {
  if (delivery_thread_.joinable()) {
    source_done_ = true;
    stop_requested_ = true;
    delivery_thread_.join();
  }
}

void Pipeline::Stop() {
  stop_requested_ = true;
  if (Source* s = source_.load()) s->Stop();
}

Status Pipeline::WriteDeadLetter(const Lane& lane, const DeadLetter& letter) {
  // Below the delivery thread's own mark (after a restart, for a queued target that was behind)
  // this dead letter was written before.
  if (lane.replaying) return Status::Ok();
  CDC_RETURN_IF_ERROR(runner().WriteDeadLetter(letter));
  CountOne(stats_.dead_lettered);
  meters_.processing_dead_letters->Inc();
  return Status::Ok();
}

// Input that is not a change (malformed JSON, missing fields) cannot be matched to a policy, so
// every detector runs over it; the reason goes through them too, as a few reasons quote a
// field of the input (an unknown eventType).
Status Pipeline::OnInvalid(const RawInput& raw, std::string_view reason) {
  ++stats_.read;
  meters_.read->Inc();
  DeadLetter letter;
  letter.stage = "source";
  letter.reason = redact::RedactFreeText(reason);
  letter.location = std::string(raw.location);
  letter.input = redact::RedactFreeText(raw.text);
  log::Warn("dead-lettered input at {}: {}", raw.location, letter.reason);
  if (stream_) return AppendDeadLetter(letter);
  return WriteDeadLetter(inline_lane_, letter);
}

DeadLetter Pipeline::RejectChange(const TableProcessor* processor, ChangeEvent& change,
                                  bool redacted, const RawInput& raw, const std::string& table,
                                  std::string reason) {
  DeadLetter letter;
  letter.stage = "process";
  letter.reason = redact::RedactFreeText(reason);
  letter.location = std::string(raw.location);
  letter.table = redact::RedactFreeText(table);
  if (processor != nullptr && (processor->HasPolicy() || processor->HasModel())) {
    // The raw input still holds the values the policy removes, and columns no model classifies:
    // keep the redacted change without them instead.
    processor->PrepareDeadLetter(change, redacted);
    letter.input = EncodeChangeEventJson(change);
    if (!processor->HasPolicy()) letter.input = redact::RedactFreeText(letter.input);
  } else {
    letter.input = redact::RedactFreeText(raw.text.empty() ? EncodeChangeEventJson(change)
                                                           : std::string(raw.text));
  }
  log::Warn("dead-lettered change of {} at {}: {}", letter.table, raw.location, letter.reason);
  return letter;
}

Status Pipeline::OnChange(ChangeEvent change, const RawInput& raw) {
  ++stats_.read;
  meters_.read->Inc();
  // The pending last row images stay bounded: past the bound, what was appended is made durable
  // and the images with it (a huge transaction is never acknowledged in the middle).
  constexpr size_t kMaxPendingImageBytes = 16 << 20;
  if (images_ && images_->pending_bytes() > kMaxPendingImageBytes) {
    CDC_RETURN_IF_ERROR(MakeDurable());
  }
  if (change.op == Op::kPositionGap) {
    log::Warn("publishing a PositionGap event: changes were lost upstream");
    if (stream_) return AppendChange(nullptr, change, CaptureResult{}, raw.location);
    return Publish(inline_lane_, ProcessedEvent{change, {}, {}});
  }
  const TableProcessor* processor = processors_.Find(change.schema, change.table);
  // Capture is the first thing that happens to a change: the model check reads the captured
  // row, then redaction at capture runs, so nothing below (the stream, the processor, the
  // dead-letter file, the log) ever sees the raw values.
  CaptureResult captured;
  if (processor != nullptr) {
    CountTable(meters_.table_captured, *processor, change.op);
    captured = processor->Capture(change);
    // Whatever becomes of the change, it is the table's state: the key's image follows it.
    if (images_ && processor->table().unchanged_toast == "last_image") {
      CDC_RETURN_IF_ERROR(images_->Apply(change));
    }
  }
  if (processor != nullptr && !captured.model.status.ok()) {
    // The change will be rejected: make it the dead letter it becomes (redacted, without the
    // columns no model classifies) before it is written anywhere, the stream included.
    processor->PrepareDeadLetter(change, captured.redacted);
    captured.redacted = true;
  }
  if (processor == nullptr) {
    std::string table = change.QualifiedName();
    DeadLetter letter =
        RejectChange(nullptr, change, false, raw, table,
                     "unknown table '" + table + "': it is not configured in 'tables'");
    return stream_ ? AppendDeadLetter(letter) : WriteDeadLetter(inline_lane_, letter);
  }
  if (!options_.dead_letter_disallowed_types && !processor->Allows(change.op)) {
    ++stats_.filtered;
    meters_.filtered->Inc();
    return Status::Ok();
  }
  if (stream_) return AppendChange(processor, change, captured, raw.location);
  return ProcessAndDeliver(inline_lane_, *processor, change, &captured, raw);
}

Status Pipeline::ProcessAndDeliver(Lane& lane, const TableProcessor& processor, ChangeEvent& change,
                                   CaptureResult* captured, const RawInput& raw) {
  Result<ProcessedEvent> processed = processor.Process(change, captured);
  if (!processed.ok()) {
    if (!lane.replaying) CountTable(meters_.table_dead_lettered, processor, change.op);
    return WriteDeadLetter(
        lane, RejectChange(&processor, change, captured->redacted, raw, change.QualifiedName(),
                           processed.status().message()));
  }
  return Publish(lane, *processed, &processor);
}

Status Pipeline::Publish(Lane& lane, const ProcessedEvent& processed,
                         const TableProcessor* processor) {
  OutputEvent out(processed, envelope_);
  lane.matched.clear();
  const Router& router = assembly_->router();
  EnvelopeView view(processed, envelope_, out.id());
  Status routed = router.Match(out.Json(EventFormat::kEventBridge), view, lane.matched);
  lane.api_matched.clear();
  std::shared_ptr<const Router> api = ApiRouter();
  if (routed.ok() && api) {
    routed = api->Match(out.Json(EventFormat::kEventBridge), view, lane.api_matched);
  }
  if (!routed.ok()) {
    // The matcher refuses an event it cannot read (nested deeper than kMaxEventDepth where a
    // rule reads): the event goes to the dead-letter file with the reason, already redacted.
    if (routed.code() != StatusCode::kInvalidArgument) return routed;
    if (!lane.replaying && processor != nullptr) {
      CountTable(meters_.table_dead_lettered, *processor, processed.change.op);
    }
    DeadLetter letter;
    letter.stage = "process";
    letter.reason = "the bus cannot match the event: " + routed.message();
    letter.table = processed.change.QualifiedName();
    letter.input = out.Json(EventFormat::kEventBridge);
    log::Warn("dead-lettered change of {}: {}", letter.table, letter.reason);
    return WriteDeadLetter(lane, letter);
  }
  if (!lane.replaying) {
    CountOne(stats_.published);
    meters_.published->Inc();
    if (processor != nullptr) {
      CountTable(meters_.table_published, *processor, processed.change.op);
    }
  }
  if (!lane.replaying && processed.change.op == Op::kPositionGap) {
    CountOne(stats_.position_gaps);
  }
  if (!lane.replaying && router.Unmatched(lane.matched) && lane.api_matched.empty()) {
    CountOne(stats_.unmatched);
    meters_.unmatched->Inc();
  }
  if (lane.matched.empty() && lane.api_matched.empty()) return Status::Ok();
  lane.routed.Reset(out.Json(EventFormat::kEventBridge));
  CDC_RETURN_IF_ERROR(DeliverMatched(lane, router, lane.matched, out));
  if (api) CDC_RETURN_IF_ERROR(DeliverMatched(lane, *api, lane.api_matched, out));
  if (!lane.replaying) {
    int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    meters_.latency->Observe(static_cast<double>(now - processed.change.commit_time.micros) / 1e6);
  }
  return Status::Ok();
}

Status Pipeline::DeliverMatched(Lane& lane, const Router& router,
                                const std::vector<uint32_t>& matched, const OutputEvent& out) {
  for (uint32_t rule : matched) {
    for (const RouteTarget& target : router.targets(rule)) {
      // After a restart, a target that was ahead of the checkpoint already has this event.
      if (!target_start_.empty() &&
          lane.position.offset < target_start_[target.index][lane.position.shard]) {
        continue;
      }
      CDC_ASSIGN_OR_RETURN(const std::string* input, lane.routed.Input(target));
      RuleTargetRef ref{target.index, &router.rule_name(rule), target.dead_letter};
      std::lock_guard lock(deliver_mu_);
      CDC_RETURN_IF_ERROR(
          runner().Deliver(out, ref, input, lane.position, stream_ ? &stop_requested_ : nullptr));
    }
  }
  return Status::Ok();
}

Result<RouteResult> Pipeline::Route(ChangeEvent change) const {
  const TableProcessor* processor = processors_.Find(change.schema, change.table);
  if (processor == nullptr) {
    return InvalidArgument("unknown table '" + change.QualifiedName() +
                           "': it is not configured in 'tables'");
  }
  CaptureResult captured = processor->Capture(change);
  CDC_ASSIGN_OR_RETURN(ProcessedEvent processed, processor->Process(change, &captured));
  RouteResult result;
  result.event_json = EncodeEnvelope(processed, envelope_);
  const Router& router = assembly_->router();
  std::vector<uint32_t> matched;
  CDC_RETURN_IF_ERROR(router.Match(result.event_json, matched));
  RoutedEvent routed;
  routed.Reset(result.event_json);
  for (uint32_t rule : matched) {
    const std::string& name = router.rule_name(rule);
    std::vector<std::string>& targets =
        result.rules.emplace_back(name, std::vector<std::string>()).second;
    for (const RouteTarget& target : router.targets(rule)) {
      targets.push_back(target.name);
      CDC_ASSIGN_OR_RETURN(const std::string* input, routed.Input(target));
      if (input != nullptr) result.inputs.push_back({name, target.name, *input});
    }
  }
  return result;
}

Status Pipeline::MakeDurable() {
  if (stream_) {
    CDC_RETURN_IF_ERROR(SyncStream());
    // After the stream: the images never run ahead of what it holds.
    return images_ ? images_->Commit() : Status::Ok();
  }
  // Without the stream, acknowledging means every target has the events, the queued ones too.
  CDC_RETURN_IF_ERROR(runner().Drain(&stop_requested_));
  return Flush();
}

std::chrono::milliseconds Pipeline::MaxIdleWait() const {
  if (!stream_) return std::chrono::milliseconds(100);
  return std::max(std::chrono::milliseconds(1), stream_->sync_interval());
}

Status Pipeline::Flush() { return runner().Flush(); }

Status Pipeline::Run(Source& source) {
  if (config_->stream.enabled) return RunDurable(source);
  source_ = &source;
  if (stop_requested_) source.Stop();
  runner().Start();
  Status s = source.Run(*this);
  source_ = nullptr;
  Status f = runner().Drain(&stop_requested_);
  runner().Stop();
  if (f.ok()) f = Flush();
  for (size_t i = 0; i < runner().size(); ++i) {
    stats_.delivered[runner().target(i).name()] = runner().stats(i).delivered;
  }
  stats_.dead_lettered = runner().dead_letter_count();
  return s.ok() ? f : s;
}

}  // namespace cdc
