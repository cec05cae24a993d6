// Target: where the bus delivers events (a consumer). Targets only deliver; the delivery runner
// (delivery.h) owns retries, backoff and the dead-letter path, so no target has a retry loop.
//
// Thread-safety: a target is driven by one delivery thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/config.h"
#include "event/envelope.h"

namespace cdc {

enum class EventFormat { kEventBridge, kCloudEvents };

// One event on its way to targets, with its encodings made at most once.
class OutputEvent {
 public:
  OutputEvent(const ProcessedEvent& event, const EnvelopeOptions& options);

  const ProcessedEvent& event() const { return event_; }
  const std::string& id() const { return id_; }
  // The event as one line of JSON in the given format (no trailing newline).
  const std::string& Json(EventFormat format) const;

 private:
  const ProcessedEvent& event_;
  const EnvelopeOptions& options_;
  std::string id_;
  std::string eventbridge_;
  mutable std::string cloudevents_;
};

enum class Delivery { kDelivered, kRetry, kFailed };

struct DeliveryOutcome {
  Delivery result = Delivery::kDelivered;
  Status error;  // why, for kRetry and kFailed
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const std::string& name() const = 0;
  // Accepts one event. kDelivered means the target has it (durable after Flush).
  virtual DeliveryOutcome Deliver(const OutputEvent& event) = 0;
  // Makes everything delivered so far durable, as the target's fsync policy says.
  virtual Status Flush() = 0;
  // A cheap reachability check for health-check: can this target accept events now?
  virtual Status CheckHealth() = 0;
};

// Builds a target from its config (file, stdout).
Result<std::unique_ptr<Target>> BuildTarget(const TargetConfig& config);

}  // namespace cdc
