// The `eventbridge` target kind: PutEvents to an EventBridge event bus (Amazon's, or another
// pipeline's bus API), entries mapped from the EventBridge envelope, at least once with the
// event's deterministic id in `Detail` (metadata.eventId).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "target/aws_target_options.h"

namespace cdc {

struct EventBridgeTargetOptions : AwsTargetOptions {
  std::string bus_name;     // empty: EVENT_BUS_NAME, else "cdc-events"
  int64_t concurrency = 8;  // PutEvents calls in flight at once
};

// One PutEvents entry made from an event in the EventBridge envelope: Source, DetailType,
// Detail (the envelope's detail with metadata.eventId = `id`), Resources, Time (epoch seconds)
// and EventBusName. `size` is the entry's size as EventBridge counts it (Source, DetailType,
// Detail, Resources, and 14 bytes for Time). InvalidArgument when `envelope` is not an
// EventBridge envelope (an input transformer made something else of the event).
struct PutEventsEntry {
  std::string json;
  size_t size = 0;
};
Result<PutEventsEntry> MakePutEventsEntry(std::string_view envelope, std::string_view id,
                                          const std::string& bus_name);

// The bus the target puts into: `bus_name`, else EVENT_BUS_NAME, else "cdc-events" (a name or an
// ARN). `deploy render` makes the rule target's ARN of it.
std::string EventBridgeBusName(const EventBridgeTargetOptions& options);

void RegisterEventBridgeTarget(Registry& registry);

}  // namespace cdc
