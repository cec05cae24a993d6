// The delivery runner: hands each event to its targets, retries a target that answers Retry
// (the target's RetryPolicy: bounded attempts and event age, exponential backoff with full
// jitter), and dead-letters the event for a target that answers Failed or runs out of retries,
// to the rule target's dead-letter target or else the dead-letter file. A target that answers
// Fatal stops the pipeline (the event stays in the stream and is delivered after a restart).
// Targets never retry themselves.
//
// Inline targets (file, stdout) are called on the caller's thread. Queued targets (http) each
// have a worker thread and a bounded queue: a slow or failing endpoint holds up the others only
// once its queue is full. Each queued event carries its stream position, so a checkpoint can
// record, per queued target, the first position it has not finished (Progress) without waiting
// for it.
//
// Thread-safety: Deliver, Flush, WriteOut, Progress and the stats are called by one thread (the
// delivery thread); the workers share only the queues, the dead-letter writers (locked) and
// their counters (atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "target/dead_letter.h"
#include "target/target.h"

namespace cdc {

struct RetryPolicy {
  int max_attempts = 185;
  std::chrono::seconds max_event_age{86400};
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{30000};

  static RetryPolicy FromConfig(const RetryConfig& config);
  // The longest wait after `attempt` failed attempts (1-based): initial_backoff doubled per
  // attempt, capped at max_backoff. The runner waits a uniformly random time up to it.
  std::chrono::milliseconds BackoffCap(int attempt) const;
};

struct TargetStats {
  uint64_t delivered = 0;
  uint64_t dead_lettered = 0;
  uint64_t retries = 0;  // attempts answered Retry (this process only; not checkpointed)
};

// A rule target as the runner sees it: the target, the rule, and where its dead letters go.
struct RuleTargetRef {
  size_t index = 0;                   // the target
  const std::string* rule = nullptr;  // the rule's name (owned by the config)
  int dead_letter = -1;               // a target index (a file target), or -1: the dead-letter file
};

class DeliveryRunner {
 public:
  // `dead_letters` must outlive the runner. `policies[i]` and `queue_sizes[i]` belong to
  // targets[i] (queue sizes matter only for queued targets).
  DeliveryRunner(std::vector<std::unique_ptr<Target>> targets, std::vector<RetryPolicy> policies,
                 std::vector<size_t> queue_sizes, DeadLetterFile& dead_letters);
  ~DeliveryRunner();

  // Index of the named target, or -1.
  int Find(std::string_view name) const;
  // Starts the queued targets' workers (Deliver before Start only queues).
  void Start();
  // Delivers `event` to a rule target (or queues it, waiting while the queue is full, unless
  // `stop` becomes true: then returns Aborted and the event is not queued). The target sends
  // `input` instead of the event when it is not null (a rule's input transformer); a dead
  // letter records the event itself. Returns an error only when the event could be neither
  // delivered nor dead-lettered, or a queued target failed fatally (then the caller must stop).
  Status Deliver(const OutputEvent& event, const RuleTargetRef& to, const std::string* input,
                 StreamPosition position, const std::atomic<bool>* stop = nullptr);
  // For a caller that hands failures back to its own caller instead of dead-lettering them (the
  // Lambda runtime's batchItemFailures): delivers `event` on the calling thread, a queued target
  // too (only before Start: no worker may drive the target), retrying answers of Retry as the
  // target's policy says but never past `deadline`. Returns OK when the target took the event or
  // answered Failed (then dead-lettered as Deliver does: retrying cannot help), Unavailable when
  // it still answered Retry when the policy or the deadline ran out (nothing is dead-lettered),
  // and other errors as Deliver.
  Status DeliverUntil(const OutputEvent& event, const RuleTargetRef& to, const std::string* input,
                      std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>* stop = nullptr);
  // Flushes every inline target and the dead-letter file; the first error after trying all.
  // Queued targets hold nothing to flush: what they answered Delivered for is delivered.
  Status Flush();
  // Hands every inline target's buffered events on (no fsync).
  Status WriteOut();
  // Waits until every queued target has finished what it was given (without the stream, where
  // there is no position to come back to), or `stop` becomes true.
  Status Drain(const std::atomic<bool>* stop = nullptr);
  // Whether no queued target has anything left to do.
  bool Idle() const;
  // A queued target's fatal error (it stopped), or Ok.
  Status failure() const;
  // For a queued target: per shard, the first offset it has not finished, given that the
  // delivery thread has handed it everything before `next[shard]`.
  std::map<uint32_t, uint64_t> Progress(size_t index, const std::vector<uint64_t>& next) const;
  // Stops the workers; queued events not yet delivered are left (delivered after a restart).
  void Stop();

  // An inline target's Cursor (after Flush); nullopt for queued targets.
  std::optional<std::string> Cursor(size_t i);

  size_t size() const { return targets_.size(); }
  Target& target(size_t i) { return *targets_[i]; }
  bool queued(size_t i) const { return targets_[i]->queued(); }
  // Thread-safe (atomics), like queue_depth and dead_letter_count: metrics read them.
  TargetStats stats(size_t i) const;
  // Events queued for a queued target (0 for inline targets).
  size_t queue_depth(size_t i) const;
  // Whether the target's last attempt answered Retry or Fatal: it is failing until it next
  // accepts an event (the admin server's readiness).
  bool failing(size_t i) const;
  // Counts carried over from the last checkpoint (so they survive restarts).
  void set_stats(size_t i, TargetStats stats);
  // The dead-letter file, for the delivery thread's own (processing) dead letters.
  Status WriteDeadLetter(const DeadLetter& letter);
  uint64_t dead_letter_count() const;
  // The dead-letter file's durable length after Flush (for the checkpoint).
  Result<uint64_t> DeadLetterSize();
  // The last kRecentDeadLetters dead letters of this process (file and dead-letter targets),
  // newest first. Any thread may call it.
  static constexpr size_t kRecentDeadLetters = 20;
  std::vector<RecentDeadLetter> RecentDeadLetters() const;

 private:
  struct Slot;
  struct Item;
  // Tries `to`'s target until it takes the event or the policy gives up (then dead-letters it).
  // Runs on the delivery thread for inline targets, on the worker for queued ones.
  // With `deadline` (DeliverUntil): gives up at it, and a give-up after Retry answers is
  // Unavailable instead of a dead letter.
  Status DeliverNow(Slot& slot, const Item& item, const std::atomic<bool>* stop,
                    std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
  // A batching target's batch (queued entries, in order): per-event results, the events to
  // retry sent again together after the backoff, each dead-lettered when the policy gives up.
  Status DeliverBatchNow(Slot& slot, const std::vector<const Item*>& items);
  std::chrono::milliseconds Backoff(Slot& slot, int attempt,
                                    std::chrono::steady_clock::duration waited);
  Status DeadLetterDelivery(Slot& slot, const Item& item, const Status& error, int attempts);
  void Work(Slot& slot);
  void Remember(const DeadLetter& letter);
  template <typename TargetOp, typename FileOp>
  Status ForEachInline(TargetOp target_op, FileOp file_op);

  std::vector<std::unique_ptr<Target>> targets_;
  std::vector<std::unique_ptr<Slot>> slots_;
  DeadLetterFile& dead_letters_;
  mutable std::mutex dead_letters_mu_;
  mutable std::mutex recent_mu_;
  std::deque<RecentDeadLetter> recent_;  // newest first; guarded by recent_mu_
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace cdc
