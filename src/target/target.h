// Target: where the bus delivers events (a consumer). Targets only deliver; the delivery runner
// (delivery.h) owns retries, backoff and the dead-letter path, so no target has a retry loop.
//
// Thread-safety: a target is driven by one delivery thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
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
  // An event that exists only as text (replayed from an archive): `event` says what the runner
  // needs to know about it (its table, for dead letters); both encodings are given.
  OutputEvent(const ProcessedEvent& event, std::string id, std::string eventbridge_json,
              std::string cloudevents_json);

  const ProcessedEvent& event() const { return event_; }
  const std::string& id() const { return id_; }
  // The event as one line of JSON in the given format (no trailing newline).
  const std::string& Json(EventFormat format) const;

 private:
  const ProcessedEvent& event_;
  const EnvelopeOptions* options_;  // null when the encodings were given
  std::string id_;
  std::string eventbridge_;
  mutable std::string cloudevents_;
};

// kRetry: try again later; kFailed: this event can never be delivered (it is dead-lettered);
// kFatal: the target itself broke in a way retrying cannot fix and dead-lettering would hide
// (a local disk full, a failed fsync): the pipeline stops, and the event is delivered after a
// restart.
enum class Delivery { kDelivered, kRetry, kFailed, kFatal };

struct DeliveryOutcome {
  Delivery result = Delivery::kDelivered;
  Status error;  // why, for kRetry and kFailed
};

// Where an event came from in the durable stream (zero without the stream).
struct StreamPosition {
  uint32_t shard = 0;
  uint64_t offset = 0;
};

// What a target is handed: the bytes it sends and the event they came from.
struct Outgoing {
  // The event in the target's format(), or what a rule's input transformer made of it.
  std::string_view body;
  std::string_view id;      // the event id
  int64_t time_micros = 0;  // the event's time (its change's commit time)
  // The stream record it came from: an exactly-once remote target stores it with the event
  // (in the same transaction or conditional write) and reports it back from Held().
  StreamPosition position;
  // Batches only (max_batch() > 1): the change's table and primary key. Events with the same
  // key must reach the consumer in this order (see DeliverBatch).
  std::string_view key;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const std::string& name() const = 0;
  // The format the target wants events in (when no input transformer applies).
  virtual EventFormat format() const { return EventFormat::kEventBridge; }
  // Queued targets (network endpoints) get their own thread and bounded queue in the delivery
  // runner; the others are called on the delivery thread. A queued target is at-least-once
  // (no Cursor), holds nothing to flush, and must bound each Deliver call (a timeout).
  virtual bool queued() const { return false; }
  // Accepts one event. kDelivered means the target has it (durable after Flush).
  virtual DeliveryOutcome Deliver(const Outgoing& event) = 0;
  // Queued targets whose endpoint takes batches (PutRecords, PutEvents, a Kafka produce) answer
  // with their largest batch; the delivery runner then hands them up to that many queued events
  // at once through DeliverBatch.
  virtual size_t max_batch() const { return 1; }
  // Delivers `events` (in queue order) and sets one result per event in `results` (same size):
  // the runner retries only the events answered kRetry (again as a batch, in their order, after
  // the target's backoff) and dead-letters those answered kFailed. Per-key order is the
  // target's part: it must not answer kDelivered for an event when it did not take an earlier
  // event of the batch with the same `key` (answer kRetry for both). The default sends one
  // event after another and stops at the first that is not delivered (the rest: kRetry).
  virtual void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results);
  // Makes everything delivered so far durable, as the target's fsync policy says.
  virtual Status Flush() = 0;
  // Hands buffered events on to the consumer without waiting for durability (the file target
  // writes its buffer); called whenever the pipeline has caught up, to keep latency low.
  virtual Status WriteOut() { return Status::Ok(); }
  // Exactly-once support, local: after Flush, an opaque description of everything the target
  // durably holds (the file target: its length in bytes), kept in its checkpoint mark, or
  // nullopt for targets that cannot take part (they receive redelivered events again, with the
  // same ids).
  virtual std::optional<std::string> Cursor() const { return std::nullopt; }
  // What the target holds from earlier runs, for the data dir's identity check (an empty state
  // store beside it is refused), e.g. "/data/crm.jsonl (5120 bytes)"; empty when nothing or
  // when the target cannot tell.
  virtual std::string HeldOutput() const { return {}; }
  // On start: go back to `cursor`, dropping what was written after it (it will be delivered
  // again). Only called with a cursor this target returned.
  // A cursor that cannot be read is Corruption, and nothing is cut (ParseLengthCursor).
  virtual Status Reconcile(const std::string& cursor) {
    (void)cursor;
    return Status::Ok();
  }
  // Exactly-once support, remote (a queued target that cannot be cut back): on start, per
  // stream shard, the first offset it does not hold, read back from the consumer itself (the
  // positions it stored with the events by a transaction, a conditional write or its idempotency
  // records). The runner then skips what it holds, even past the checkpoint. An empty map: no
  // such record (at-least-once; events since the checkpoint are sent again with the same ids
  // and Idempotency-Key).
  virtual Result<std::map<uint32_t, uint64_t>> Held() { return std::map<uint32_t, uint64_t>(); }
  // A cheap reachability check for health-check: can this target accept events now?
  virtual Status CheckHealth() = 0;
};

// Builds a target from its config, by its kind (config/registry.h).
Result<std::unique_ptr<Target>> BuildTarget(const TargetConfig& config);
// The kind's short description of a target, without secrets ("file /x.jsonl", "http").
std::string DescribeTarget(const TargetConfig& config);

}  // namespace cdc
