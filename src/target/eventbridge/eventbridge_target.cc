// The eventbridge target: PutEvents (at most 10 entries and 256 KB a call), `concurrency` calls in
// flight at once (one call takes a round trip and, at the bus, a durable write: one call at a
// time would cap a target at a few hundred events a second). Partial failures are answered per
// entry: FailedEntryCount > 0 marks the failed entries, and only those are sent
// again (ThrottlingException, InternalFailure: kRetry), or dead-lettered with EventBridge's reason
// (MalformedDetail, InvalidArgument, ...). Per-key order: an entry is sent only after every
// earlier entry of its table + primary key was acknowledged (kinesis/batch_rounds.h): a round holds
// at most one entry per row, so its calls may go out in parallel. An entry over 256 KB can never
// be put: it is dead-lettered with its size.
//
// EventBridge gives each entry an id of its own, so the event's deterministic id travels inside
// Detail as metadata.eventId: a consumer deduplicates on it (delivery is at least once).
// Credentials never reach a message or the log (src/aws).

#include "target/eventbridge/eventbridge_target.h"

#include <simdjson.h>

#include <cstdlib>

#include "aws/client.h"
#include "base/time.h"
#include "event/json_writer.h"
#include "target/kinesis/batch_rounds.h"
#include "target/target.h"

namespace cdc {

namespace {

constexpr size_t kMaxEntries = 10;
constexpr size_t kMaxRequestBytes = 256 * 1024;  // the entries' sizes, as EventBridge counts them
constexpr size_t kTimeBytes = 14;                // what a Time counts for

// `detail` with metadata.eventId set to `id` (a metadata object is added when there is none; a
// metadata that is not an object is left as it is).
std::string DetailWithId(simdjson::dom::object detail, std::string_view id) {
  std::string text;
  JsonWriter d(text);
  d.BeginObject();
  bool has_metadata = false;
  for (auto [key, value] : detail) {
    d.Key(key);
    simdjson::dom::object metadata;
    if (key == "metadata" && value.get(metadata) == simdjson::SUCCESS) {
      has_metadata = true;
      d.BeginObject();
      for (auto [mkey, mvalue] : metadata) {
        if (mkey == "eventId") continue;
        d.Key(mkey).Raw(simdjson::minify(mvalue));
      }
      d.Key("eventId").String(id).EndObject();
    } else {
      if (key == "metadata") has_metadata = true;
      d.Raw(simdjson::minify(value));
    }
  }
  if (!has_metadata) d.Key("metadata").BeginObject().Key("eventId").String(id).EndObject();
  d.EndObject();
  return text;
}

}  // namespace

Result<PutEventsEntry> MakePutEventsEntry(std::string_view envelope, std::string_view id,
                                          const std::string& bus_name) {
  // One parser per thread, reused: its buffers grow once instead of being allocated per event
  // (everything read is copied into the entry before the next call).
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view source, detail_type, time;
  simdjson::dom::object detail;
  if (parser.parse(envelope.data(), envelope.size()).get(root) != simdjson::SUCCESS ||
      root["source"].get(source) != simdjson::SUCCESS ||
      root["detail-type"].get(detail_type) != simdjson::SUCCESS ||
      root["detail"].get(detail) != simdjson::SUCCESS) {
    return InvalidArgument(
        "the eventbridge target puts EventBridge events (source, detail-type, detail), and this "
        "is not one: remove the input transformer of the rule target (EventBridge carries the "
        "event as it is)");
  }
  PutEventsEntry entry;
  JsonWriter w(entry.json);
  w.BeginObject().Key("Source").String(source).Key("DetailType").String(detail_type);
  std::string detail_text = DetailWithId(detail, id);
  w.Key("Detail").String(detail_text);
  entry.size = source.size() + detail_type.size() + detail_text.size();
  simdjson::dom::array resources;
  if (root["resources"].get(resources) == simdjson::SUCCESS && resources.size() > 0) {
    w.Key("Resources").BeginArray();
    for (simdjson::dom::element r : resources) {
      std::string_view text;
      if (r.get(text) != simdjson::SUCCESS) continue;
      w.String(text);
      entry.size += text.size();
    }
    w.EndArray();
  }
  if (root["time"].get(time) == simdjson::SUCCESS) {
    if (auto t = ParseRfc3339(time)) {
      w.Key("Time").Int(t->micros / 1000000);
      entry.size += kTimeBytes;
    }
  }
  w.Key("EventBusName").String(bus_name).EndObject();
  return entry;
}

namespace {

// What a failed entry's ErrorCode means for it.
Delivery ForEntryError(std::string_view code) {
  if (code == "ThrottlingException" || code == "InternalFailure" || code == "InternalException" ||
      code == "ServiceUnavailable") {
    return Delivery::kRetry;
  }
  if (code == "NotFoundException" || code == "ResourceNotFoundException" ||
      code == "AccessDeniedException") {
    return Delivery::kFatal;
  }
  return Delivery::kFailed;  // MalformedDetail, InvalidArgument, NotAuthorizedFor...
}

class EventBridgeTarget final : public Target {
 public:
  EventBridgeTarget(const TargetConfig& config, std::string bus_name, size_t concurrency,
                    std::unique_ptr<aws::JsonClient> client)
      : name_(config.name),
        bus_(std::move(bus_name)),
        concurrency_(concurrency),
        client_(std::move(client)) {}

  const std::string& name() const override { return name_; }
  bool queued() const override { return true; }
  size_t max_batch() const override { return kMaxEntries * concurrency_; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    DeliveryOutcome result;
    DeliverBatch(std::span<const Outgoing>(&event, 1), std::span<DeliveryOutcome>(&result, 1));
    return result;
  }

  void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) override {
    entries_.clear();
    for (const Outgoing& e : events) entries_.push_back(MakePutEventsEntry(e.body, e.id, bus_));
    internal::DeliverInKeyRounds(
        events, results, [&](size_t, size_t n) { return n < max_batch(); },
        [&](const std::vector<size_t>& round, std::span<DeliveryOutcome> out) {
          Send(round, out);
        });
  }

  Status Flush() override { return Status::Ok(); }

  Status CheckHealth() override {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("Name").String(bus_).EndObject();
    aws::Response r = client_->Call("DescribeEventBus", body);
    if (!r.status.ok()) return r.status.WithContext("event bus '" + bus_ + "'");
    return Status::Ok();
  }

 private:
  // Sends one round (at most one entry per row) as calls of at most 10 entries and 256 KB,
  // `concurrency_` at a time.
  void Send(const std::vector<size_t>& round, std::span<DeliveryOutcome> out) {
    std::vector<std::vector<size_t>> calls;
    size_t call_bytes = 0;
    for (size_t i : round) {
      if (!entries_[i].ok()) {
        out[i] = {Delivery::kFailed, entries_[i].status()};
        continue;
      }
      size_t bytes = entries_[i]->size;
      if (bytes > kMaxRequestBytes) {
        out[i] = {Delivery::kFailed,
                  InvalidArgument("the entry is " + std::to_string(bytes) +
                                  " bytes; EventBridge takes at most 256 KB (Source, "
                                  "DetailType, Detail, Resources and Time)")};
        continue;
      }
      if (calls.empty() || calls.back().size() == kMaxEntries ||
          call_bytes + bytes > kMaxRequestBytes) {
        calls.emplace_back();
        call_bytes = 0;
      }
      calls.back().push_back(i);
      call_bytes += bytes;
    }
    if (calls.empty()) return;
    std::vector<std::string> bodies;
    for (const auto& call : calls) {
      std::string& body = bodies.emplace_back();
      JsonWriter w(body);
      w.BeginObject().Key("Entries").BeginArray();
      for (size_t i : call) w.Raw(entries_[i]->json);
      w.EndArray().EndObject();
    }
    std::vector<aws::Response> answers = client_->CallMany("PutEvents", bodies, concurrency_);
    for (size_t c = 0; c < calls.size(); ++c) {
      ReadBatchAnswer(answers[c], "Entries", "event bus '" + bus_ + "'",
                      "eventbridge PutEvents at " + client_->origin(), calls[c], ForEntryError,
                      out);
    }
  }

  std::string name_;
  std::string bus_;
  size_t concurrency_;
  std::unique_ptr<aws::JsonClient> client_;
  std::vector<Result<PutEventsEntry>> entries_;
};

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<EventBridgeTargetOptions>();
  r.String("bus_name", o->bus_name);
  r.Int("concurrency", o->concurrency);
  ReadAwsTargetOptions(r, *o);
  return o;
}

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  const auto* o = config.OptionsAs<EventBridgeTargetOptions>();
  if (o == nullptr) return InvalidArgument("target '" + config.name + "' has no options");
  CDC_ASSIGN_OR_RETURN(auto client, ConnectAwsTarget(aws::kEventBridge, *o, config.name));
  return std::unique_ptr<Target>(std::make_unique<EventBridgeTarget>(
      config, EventBridgeBusName(*o), static_cast<size_t>(o->concurrency), std::move(client)));
}

std::string Describe(const TargetConfig& config) {
  const auto* o = config.OptionsAs<EventBridgeTargetOptions>();
  return "eventbridge bus " + (o != nullptr ? EventBridgeBusName(*o) : std::string());
}

}  // namespace

std::string EventBridgeBusName(const EventBridgeTargetOptions& options) {
  if (!options.bus_name.empty()) return options.bus_name;
  const char* env = std::getenv("EVENT_BUS_NAME");
  return env != nullptr && *env != '\0' ? env : "cdc-events";
}

void RegisterEventBridgeTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"eventbridge",
       "Puts each event into an EventBridge event bus (PutEvents, up to 10 entries or 256 KB a "
       "call, `concurrency` calls at once): Source, DetailType, Detail, Resources and Time from "
       "the event's envelope. "
       "EventBridge gives every entry an id of its own, so the event's deterministic id is in "
       "Detail as `metadata.eventId`: delivery is at least once, and consumers deduplicate on "
       "it. Only the failed entries of a call are sent again (ThrottlingException, "
       "InternalFailure, 5xx and network errors, by `retry`), and an entry is not sent while an "
       "earlier one of its row is unacknowledged; an entry EventBridge refuses (MalformedDetail, "
       "InvalidArgument) or one over 256 KB is dead-lettered with the reason; refused "
       "credentials or a missing bus stop the pipeline with what to fix. Rule targets with an "
       "input transformer cannot feed it (their events are dead-lettered). Credentials come from "
       "the standard AWS chain (see AWS access in the README).",
       {
           {"bus_name", FieldType::kString, "",
            "The event bus: a name or an ARN; empty: `EVENT_BUS_NAME`, else `cdc-events`."},
           {"concurrency",
            FieldType::kInt,
            "8",
            "PutEvents calls in flight at once (entries of different rows; each row's entries "
            "still go one after another).",
            {},
            false,
            1},
           {"region", FieldType::kString, "",
            "AWS region; empty: `AWS_REGION`, else `AWS_DEFAULT_REGION`."},
           {"endpoint", FieldType::kString, "",
            "Endpoint URL (another pipeline's bus API, a VPC endpoint); empty: "
            "`AWS_ENDPOINT_URL_EVENTBRIDGE`, else `AWS_ENDPOINT_URL`, else AWS's endpoint for "
            "the region."},
           {"timeout_ms",
            FieldType::kInt,
            "10000",
            "How long one PutEvents call may take before it counts as failed and is retried.",
            {},
            false,
            1},
           kQueueSizeField,
           kRetryField,
       },
       ParseOptions},
      {.exactly_once = false, .queued = true, .dead_letter_sink = false},
      Build,
      Describe});
}

}  // namespace cdc
