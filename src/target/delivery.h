// The delivery runner: hands each event to its targets, retries a target that answers Retry
// (bounded attempts with exponential backoff), and dead-letters the event for a target that
// answers Failed or runs out of attempts. A target that answers Fatal stops the pipeline (the
// event stays in the stream and is delivered after a restart). Targets never retry themselves.
//
// Thread-safety: one runner per delivery thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "target/dead_letter.h"
#include "target/target.h"

namespace cdc {

struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds initial_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
};

struct TargetStats {
  uint64_t delivered = 0;
  uint64_t dead_lettered = 0;
};

class DeliveryRunner {
 public:
  // `dead_letters` must outlive the runner.
  DeliveryRunner(std::vector<std::unique_ptr<Target>> targets, DeadLetterFile& dead_letters,
                 RetryPolicy policy = {});

  // Index of the named target, or -1.
  int Find(std::string_view name) const;
  // Delivers `event` to targets[index] on behalf of `rule`; the target writes `input` instead
  // when it is not null (a rule's input transformer), and a dead letter records the event
  // itself. Returns an error only when the event could be neither delivered nor dead-lettered
  // (then the caller must stop).
  Status Deliver(const OutputEvent& event, size_t index, std::string_view rule,
                 const std::string* input = nullptr);
  // Flushes every target. The first error is returned after trying all.
  Status Flush();
  // Hands every target's buffered events on (no fsync).
  Status WriteOut();

  size_t size() const { return targets_.size(); }
  Target& target(size_t i) { return *targets_[i]; }
  const TargetStats& stats(size_t i) const { return stats_[i]; }
  // Counts carried over from the last checkpoint (so they survive restarts).
  void set_stats(size_t i, TargetStats stats) { stats_[i] = stats; }

 private:
  std::vector<std::unique_ptr<Target>> targets_;
  std::vector<TargetStats> stats_;
  DeadLetterFile& dead_letters_;
  RetryPolicy policy_;
};

}  // namespace cdc
