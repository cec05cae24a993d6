#include "lambda/handler.h"

#include <unistd.h>

#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "base/logging.h"
#include "event/event_json.h"
#include "event/json_writer.h"
#include "process/processor.h"
#include "process/redact/redactor.h"
#include "runtime/assembly.h"
#include "state/state_store.h"
#include "target/append_file.h"

namespace cdc::lambda {

std::string BatchResult::ResponseJson() const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("batchItemFailures").BeginArray();
  for (const auto& id : failures) {
    w.BeginObject();
    w.Key("itemIdentifier").String(id);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

struct BatchHandler::Impl {
  std::shared_ptr<const Config> config;
  const Clock* clock = nullptr;
  std::optional<ProcessorSet> processors;
  const TableProcessor* processor = nullptr;  // in `processors`
  std::unique_ptr<Assembly> assembly;
  // The state store of the shard being handled. A local store (SQLite) is one for the sandbox;
  // a shared one (DynamoDB) is one per function and shard (its own lease and item), since Lambda
  // runs one batch per shard at a time but several sandboxes, one per shard, at once.
  std::map<std::string, std::unique_ptr<state::StateStore>> stores;
  state::StateStore* state = nullptr;
  std::string owner;
  EnvelopeOptions envelope;
  int64_t last_expiry_micros = 0;
  // This invocation's delivered (event, rule target) keys, and per shard the last record done.
  std::set<std::string> pending;
  std::map<std::string, std::string> shard_done;
  // Per shard of the pipeline's own kinesis stream (its partition key, "shard-2"), the next
  // offset of its chain (committed with the invocation as lambda.<function>.next.<shard>).
  std::map<std::string, uint64_t> next_offset;
  std::vector<uint32_t> matched;  // scratch
  RoutedEvent routed;             // scratch

  const std::string& function() const { return processor->function(); }

  // Makes `state` the store of `shard` (opening it on first use): see `stores`.
  Status UseStore(const Config& cfg, const std::string& shard) {
    const bool local = cfg.state.type == "sqlite";
    std::string key = local ? std::string() : shard;
    auto it = stores.find(key);
    if (it == stores.end()) {
      StateConfig sc = cfg.state;
      if (!local) sc.pipeline_name += "/lambda/" + function() + (key.empty() ? "" : "/" + key);
      auto opened = state::OpenStateStore(sc, owner, clock->Now().micros);
      if (!opened.ok()) return opened.status().WithContext("state store of " + sc.pipeline_name);
      it = stores.emplace(key, std::move(*opened)).first;
    }
    state = it->second.get();
    return Status::Ok();
  }

  Status DeadLetter(const InputRecord& r, std::string stage, const std::string& reason,
                    const std::string& table, std::string input) {
    cdc::DeadLetter letter;
    letter.stage = std::move(stage);
    letter.reason = redact::RedactFreeText(reason);
    letter.location = r.location;
    letter.table = table;
    letter.input = std::move(input);
    log::Warn("{}: dead-lettered the record at {}: {}", function(), r.location, letter.reason);
    return assembly->runner().WriteDeadLetter(letter);
  }

  // A change the processor or the bus rejected, in a form without PII (as `run` keeps it).
  Status Reject(const InputRecord& r, ChangeEvent& change, bool redacted,
                const std::string& reason) {
    std::string input;
    if (processor->HasPolicy() || processor->HasModel()) {
      processor->PrepareDeadLetter(change, redacted);
      input = EncodeChangeEventJson(change);
      if (!processor->HasPolicy()) input = redact::RedactFreeText(input);
    } else {
      input = redact::RedactFreeText(r.raw);
    }
    return DeadLetter(r, "process", reason, change.QualifiedName(), std::move(input));
  }

  // Whether the record is done (delivered, dead-lettered, filtered); false when a delivery
  // failed. An error stops the batch.
  Result<bool> Record(const InputRecord& r, BatchResult& result,
                      std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>* stop) {
    if (r.skip) {
      ++result.filtered;
      return true;
    }
    if (r.offset) {
      // The shard's chain (docs/kinesis.md): a copy of a record done, or a record put ahead of
      // an earlier one that failed (it comes again in order), is skipped.
      uint64_t& next = next_offset.at(r.chain);
      if (*r.offset != next) {
        ++(*r.offset < next ? result.duplicates : result.filtered);
        return true;
      }
    }
    if (r.incomplete) {
      // Its later fragments are in the next batch: Lambda retries from this record.
      log::Info("{}: {} continues beyond this batch; asking for it again", function(), r.location);
      return false;
    }
    if (r.dead_letter) {
      const TableConfig& table = processor->table();
      if (r.dead_letter->table != table.name &&
          r.dead_letter->table != table.schema + "." + table.name) {
        ++result.filtered;  // the function of its table writes it
        return true;
      }
      ++result.dead_lettered;
      cdc::DeadLetter letter;
      letter.stage = r.dead_letter->stage;
      letter.reason = r.dead_letter->reason;
      letter.location = r.dead_letter->location;
      letter.table = r.dead_letter->table;
      letter.input = r.dead_letter->input;
      CDC_RETURN_IF_ERROR(assembly->runner().WriteDeadLetter(letter));
      return true;
    }
    if (!r.change) {
      ++result.dead_lettered;
      CDC_RETURN_IF_ERROR(DeadLetter(r, "source", r.error, "", redact::RedactFreeText(r.raw)));
      return true;
    }
    ChangeEvent change = *r.change;
    const TableConfig& table = processor->table();
    if (change.table != table.name || change.schema != table.schema) {
      // One stream carries every table's changes (as the original's cdc-changes-stream): the
      // function of that table processes it.
      ++result.filtered;
      return true;
    }
    // A DynamoDB stream carries every change of its table: a type the table does not publish
    // is routine. Kinesis records were put by a producer: such a change is its mistake.
    if (r.source == RecordSource::kDynamoDbStream && !processor->Allows(change.op)) {
      ++result.filtered;
      return true;
    }
    // A record of the pipeline's own stream was captured (and redacted) by `run` already.
    CaptureResult captured = r.captured ? *r.captured : processor->Capture(change);
    Result<ProcessedEvent> processed = processor->Process(change, &captured);
    if (!processed.ok()) {
      ++result.dead_lettered;
      CDC_RETURN_IF_ERROR(Reject(r, change, captured.redacted, processed.status().message()));
      return true;
    }
    OutputEvent out(*processed, envelope);
    const Router& router = assembly->router();
    matched.clear();
    EnvelopeView view(*processed, envelope, out.id());
    Status m = router.Match(out.Json(EventFormat::kEventBridge), view, matched);
    if (!m.ok()) {
      if (m.code() != StatusCode::kInvalidArgument) return m;
      ++result.dead_lettered;
      CDC_RETURN_IF_ERROR(DeadLetter(r, "process", "the bus cannot match the event: " + m.message(),
                                     processed->change.QualifiedName(),
                                     out.Json(EventFormat::kEventBridge)));
      return true;
    }
    ++result.published;
    if (router.Unmatched(matched)) ++result.unmatched;
    routed.Reset(out.Json(EventFormat::kEventBridge));
    int64_t now = clock->Now().micros;
    for (uint32_t rule : matched) {
      for (const RouteTarget& target : router.targets(rule)) {
        std::string key = "lambda/" + out.id() + "/" + router.rule_name(rule) + "/" + target.name;
        bool seen = pending.count(key) > 0;
        if (!seen) {
          CDC_ASSIGN_OR_RETURN(seen, state->HasKey(key, now));
        }
        if (seen) {
          ++result.duplicates;
          continue;
        }
        if (std::chrono::steady_clock::now() >= deadline || (stop != nullptr && stop->load())) {
          return false;
        }
        CDC_ASSIGN_OR_RETURN(const std::string* input, routed.Input(target));
        Status s = assembly->runner().DeliverUntil(out, assembly->Ref(rule, target), input,
                                                   deadline, stop);
        if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kAborted) {
          log::Warn("{}: the record at {} (event {}) was not delivered to target '{}': {}",
                    function(), r.location, out.id(), target.name, s.message());
          return false;
        }
        CDC_RETURN_IF_ERROR(s);
        pending.insert(std::move(key));
        ++result.deliveries;
      }
    }
    return true;
  }

  // The chain of each shard of the batch's frames: where the state store says it is, else (a
  // function's first batch of the shard) at the batch's lowest offset.
  Status LoadChains(const std::vector<InputRecord>& records) {
    for (const InputRecord& r : records) {
      if (!r.offset || next_offset.count(r.chain) > 0) continue;
      CDC_ASSIGN_OR_RETURN(auto stored, state->Value("lambda." + function() + ".next." + r.chain));
      uint64_t next = UINT64_MAX;
      if (stored) {
        auto [p, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), next);
        if (ec != std::errc() || p != stored->data() + stored->size()) {
          return Corruption("state store: lambda." + function() + ".next." + r.chain + " is '" +
                            *stored + "', not an offset");
        }
      } else {
        for (const InputRecord& o : records) {
          if (o.offset && o.chain == r.chain) next = std::min(next, *o.offset);
        }
      }
      next_offset[r.chain] = next;
    }
    return Status::Ok();
  }

  // What the invocation delivered, made durable: the targets' and the dead-letter file's flush,
  // then the dedupe keys and the shards' last records in one state store commit.
  Status Commit() {
    CDC_RETURN_IF_ERROR(assembly->runner().Flush());
    state::CheckpointCommit commit;
    commit.now_micros = clock->Now().micros;
    int64_t expires = commit.now_micros + config->state.dedupe_ttl_hours * 3600 * 1000000;
    for (const auto& key : pending) commit.dedupe_keys.emplace_back(key, expires);
    for (const auto& [shard, item] : shard_done) {
      commit.values["lambda." + function() + ".last." + shard] = item;
    }
    for (const auto& [shard, next] : next_offset) {
      commit.values["lambda." + function() + ".next." + shard] = std::to_string(next);
    }
    CDC_RETURN_IF_ERROR(state->Commit(commit));
    pending.clear();
    shard_done.clear();
    constexpr int64_t kExpiryIntervalMicros = 3600ll * 1000000;
    if (commit.now_micros - last_expiry_micros >= kExpiryIntervalMicros) {
      last_expiry_micros = commit.now_micros;
      auto expired = state->ExpireKeys(commit.now_micros);
      if (!expired.ok()) {
        log::Warn("{}: expiring dedupe keys failed: {}", function(), expired.status().message());
      }
    }
    return Status::Ok();
  }
};

BatchHandler::BatchHandler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BatchHandler::~BatchHandler() = default;

Result<std::unique_ptr<BatchHandler>> BatchHandler::Build(std::shared_ptr<const Config> config,
                                                          const TableConfig& table,
                                                          const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  CDC_ASSIGN_OR_RETURN(impl->processors, ProcessorSet::Build(*config));
  impl->processor = impl->processors->Find(table.schema, table.name);
  if (impl->processor == nullptr) return NotFound("no processor for table '" + table.name + "'");
  CDC_RETURN_IF_ERROR(MakeDirectories(config->pipeline.data_dir).WithContext("pipeline.data_dir"));
  CDC_ASSIGN_OR_RETURN(impl->assembly, Assembly::Build(*config, clock));
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string owner = "lambda " + table.function + " pid " + std::to_string(::getpid()) +
                      " on host " + (host[0] ? host : "unknown");
  impl->owner = std::move(owner);
  if (config->state.type == "sqlite") {
    CDC_RETURN_IF_ERROR(impl->UseStore(*config, ""));
  }
  impl->envelope.pipeline = config->pipeline.name;
  impl->envelope.source = config->bus.source;
  impl->envelope.account = config->bus.account;
  impl->envelope.region = config->bus.region;
  impl->config = std::move(config);
  return std::unique_ptr<BatchHandler>(new BatchHandler(std::move(impl)));
}

Result<BatchResult> BatchHandler::Handle(const std::vector<InputRecord>& records,
                                         std::chrono::steady_clock::time_point deadline,
                                         const std::atomic<bool>* stop) {
  Impl& d = *impl_;
  BatchResult result;
  // A Kinesis batch comes from one shard.
  CDC_RETURN_IF_ERROR(d.UseStore(*d.config, records.empty() ? std::string() : records[0].shard));
  CDC_RETURN_IF_ERROR(d.LoadChains(records));
  size_t failed = records.size();  // the first record not done
  for (size_t i = 0; i < records.size(); ++i) {
    CDC_ASSIGN_OR_RETURN(bool done, d.Record(records[i], result, deadline, stop));
    if (!done) {
      failed = i;
      break;
    }
    if (!records[i].shard.empty() && !records[i].item_identifier.empty()) {
      d.shard_done[records[i].shard] = records[i].item_identifier;
    }
    if (records[i].offset && *records[i].offset == d.next_offset[records[i].chain]) {
      ++d.next_offset[records[i].chain];
    }
  }
  for (size_t i = failed; i < records.size(); ++i) {
    if (!records[i].item_identifier.empty()) {
      result.failures.push_back(records[i].item_identifier);
    }
  }
  CDC_RETURN_IF_ERROR(d.Commit());
  if (failed < records.size() && result.failures.empty()) {
    return Unavailable("the record at " + records[failed].location +
                       " was not delivered and has no sequence number to report");
  }
  return result;
}

}  // namespace cdc::lambda
