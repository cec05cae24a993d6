// The output event: an EventBridge event whose detail is the change in the original format plus
// changedFields, redacted and metadata (see ARCHITECTURE.md, "The output event").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "event/change_event.h"
#include "event/event_visitor.h"

namespace cdc {

// Identity of the bus and pipeline, from config.
struct EnvelopeOptions {
  std::string pipeline = "coredb";
  std::string source = "cdc.coredb";
  std::string account = "000000000000";
  std::string region = "local";
};

// A change after its table's processor ran.
struct ProcessedEvent {
  ChangeEvent change;
  std::vector<std::string> changed_fields;  // UPDATE only; sorted
  std::vector<std::string> redacted;        // columns the processor redacted; sorted
};

// The deterministic event id: a UUIDv5 of the pipeline name and the source position, so the
// same change always gets the same id, across runs and redeliveries.
std::string EventId(std::string_view pipeline, const SourcePosition& position);

// "users.UPDATE"; "PositionGap" for the marker of a position gap.
std::string DetailType(const ChangeEvent& change);

// The whole EventBridge event as one line of JSON (no trailing newline). `id` is EventId(...);
// pass it when already computed, so it is hashed once per event.
std::string EncodeEnvelope(const ProcessedEvent& event, const EnvelopeOptions& options);
std::string EncodeEnvelope(const ProcessedEvent& event, const EnvelopeOptions& options,
                           std::string_view id);

// The same event as something that writes itself to a visitor with the calls EncodeEnvelope
// makes (parts the visitor does not want are skipped): what the rule matcher reads instead of
// the text.
class EnvelopeView final : public VisitableEvent {
 public:
  // All three must outlive the view.
  EnvelopeView(const ProcessedEvent& event, const EnvelopeOptions& options, std::string_view id)
      : event_(event), options_(options), id_(id) {}
  void Accept(EventVisitor& visitor) const override;

 private:
  const ProcessedEvent& event_;
  const EnvelopeOptions& options_;
  std::string_view id_;
};

// The CloudEvents 1.0 structured-mode form of the same event (id, source, type, time, data).
std::string EncodeCloudEvent(const ProcessedEvent& event, const EnvelopeOptions& options);
std::string EncodeCloudEvent(const ProcessedEvent& event, const EnvelopeOptions& options,
                             std::string_view id);

}  // namespace cdc
