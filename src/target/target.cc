#include "target/target.h"

namespace cdc {

OutputEvent::OutputEvent(const ProcessedEvent& event, const EnvelopeOptions& options)
    : event_(event),
      options_(&options),
      id_(EventId(options.pipeline, event.change.position)),
      eventbridge_(EncodeEnvelope(event, options, id_)) {}

OutputEvent::OutputEvent(const ProcessedEvent& event, std::string id, std::string eventbridge_json,
                         std::string cloudevents_json)
    : event_(event),
      options_(nullptr),
      id_(std::move(id)),
      eventbridge_(std::move(eventbridge_json)),
      cloudevents_(std::move(cloudevents_json)) {}

const std::string& OutputEvent::Json(EventFormat format) const {
  if (format == EventFormat::kEventBridge) return eventbridge_;
  if (cloudevents_.empty() && options_ != nullptr) {
    cloudevents_ = EncodeCloudEvent(event_, *options_, id_);
  }
  return cloudevents_;
}

void Target::DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) {
  CDC_ASSERT(events.size() == results.size(), "one result per event");
  size_t i = 0;
  for (; i < events.size(); ++i) {
    results[i] = Deliver(events[i]);
    if (results[i].result != Delivery::kDelivered) break;
  }
  // The first one not delivered keeps its answer; the rest were not tried (same key or not).
  for (++i; i < events.size(); ++i) {
    results[i] = {Delivery::kRetry, Unavailable("not tried: an earlier event of the batch failed")};
  }
}

Result<std::unique_ptr<Target>> BuildTarget(const TargetConfig& config) {
  if (config.kind == nullptr) {
    return InvalidArgument("target '" + config.name + "' has unknown type '" + config.type + "'");
  }
  return config.kind->build(config);
}

std::string DescribeTarget(const TargetConfig& config) {
  if (config.kind == nullptr || config.kind->describe == nullptr) return config.type;
  return config.kind->describe(config);
}

}  // namespace cdc
