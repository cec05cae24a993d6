#include "target/target.h"

#include "target/builtin.h"

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

Result<std::unique_ptr<Target>> BuildTarget(const TargetConfig& config) {
  if (config.type == "file") {
    if (config.path.empty()) return InvalidArgument("target '" + config.name + "' needs a path");
    return MakeFileTarget(config);
  }
  if (config.type == "stdout") return MakeStdoutTarget(config);
  if (config.type == "http") {
    if (config.url.empty()) return InvalidArgument("target '" + config.name + "' needs a url");
    return MakeHttpTarget(config);
  }
  return InvalidArgument("target '" + config.name + "' has unknown type '" + config.type + "'");
}

}  // namespace cdc
