#include "target/delivery.h"

#include <algorithm>
#include <thread>

#include "base/logging.h"

namespace cdc {

DeliveryRunner::DeliveryRunner(std::vector<std::unique_ptr<Target>> targets,
                               DeadLetterFile& dead_letters, RetryPolicy policy)
    : targets_(std::move(targets)),
      stats_(targets_.size()),
      dead_letters_(dead_letters),
      policy_(policy) {}

int DeliveryRunner::Find(std::string_view name) const {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i]->name() == name) return static_cast<int>(i);
  }
  return -1;
}

Status DeliveryRunner::Deliver(const OutputEvent& event, size_t index, std::string_view rule,
                               const std::string* input) {
  Target& target = *targets_[index];
  auto backoff = policy_.initial_backoff;
  DeliveryOutcome outcome;
  int attempt = 0;
  while (true) {
    ++attempt;
    outcome = target.Deliver(event, input);
    if (outcome.result == Delivery::kDelivered) {
      ++stats_[index].delivered;
      return Status::Ok();
    }
    if (outcome.result == Delivery::kFatal) {
      return outcome.error.WithContext("target '" + target.name() + "' cannot accept events");
    }
    if (outcome.result == Delivery::kFailed || attempt >= policy_.max_attempts) break;
    log::Warn("target '{}' asked to retry event {} (attempt {}): {}", target.name(), event.id(),
              attempt, outcome.error.message());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, policy_.max_backoff);
  }
  log::Error("target '{}' did not accept event {} after {} attempt(s): {}; dead-lettered",
             target.name(), event.id(), attempt, outcome.error.message());
  DeadLetter letter;
  letter.stage = "delivery";
  letter.reason = outcome.error.message();
  letter.table = event.event().change.QualifiedName();
  letter.rule = std::string(rule);
  letter.target = target.name();
  letter.attempts = attempt;
  letter.input = event.Json(EventFormat::kEventBridge);
  CDC_RETURN_IF_ERROR(dead_letters_.Write(letter));
  ++stats_[index].dead_lettered;
  return Status::Ok();
}

Status DeliveryRunner::WriteOut() {
  Status first;
  for (auto& t : targets_) {
    Status s = t->WriteOut();
    if (!s.ok() && first.ok()) first = s.WithContext("target '" + t->name() + "'");
  }
  return first;
}

Status DeliveryRunner::Flush() {
  Status first;
  for (auto& t : targets_) {
    Status s = t->Flush();
    if (!s.ok() && first.ok()) first = s.WithContext("target '" + t->name() + "'");
  }
  return first;
}

}  // namespace cdc
