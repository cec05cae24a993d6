#include "target/delivery.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <random>
#include <thread>

#include "base/logging.h"
#include "event/event_json.h"

namespace cdc {

RetryPolicy RetryPolicy::FromConfig(const RetryConfig& config) {
  RetryPolicy p;
  p.max_attempts = static_cast<int>(std::clamp<int64_t>(config.max_attempts, 1, 1 << 30));
  p.max_event_age = std::chrono::seconds(std::max<int64_t>(1, config.max_event_age_seconds));
  p.initial_backoff = std::chrono::milliseconds(config.initial_backoff_ms);
  p.max_backoff = std::chrono::milliseconds(config.max_backoff_ms);
  return p;
}

std::chrono::milliseconds RetryPolicy::BackoffCap(int attempt) const {
  auto cap = initial_backoff;
  for (int i = 1; i < attempt && cap < max_backoff; ++i) cap *= 2;
  return std::min(cap, max_backoff);
}

// One event on its way to one rule target: views into the OutputEvent (inline delivery) or
// into a Queued entry's own copies.
struct DeliveryRunner::Item {
  std::string_view body;        // what the target sends
  std::string_view event_json;  // the event (EventBridge format), for a dead letter
  std::string_view id;
  int64_t time_micros = 0;
  const OutputEvent* source = nullptr;  // inline: the table comes from it
  std::string_view table;               // queued
  RuleTargetRef to;
  StreamPosition position;
  std::string_view key;  // batching targets: table + primary key
};

namespace {

// A queued event owns its bytes (the OutputEvent is gone once the delivery thread moves on).
struct Queued {
  std::string body, event_json, id, table, key;
  bool body_is_event = false;
};

// The table and primary-key values of a change: what a batching target keeps in order.
void OrderKey(const ChangeEvent& change, std::string& out) {
  out = change.QualifiedName();
  for (const Column& c : change.key.columns()) {
    out.push_back('\x1f');
    out.append(ValueToJson(c.value));
  }
}

}  // namespace

struct DeliveryRunner::Slot {
  size_t index = 0;
  Target* target = nullptr;
  RetryPolicy policy;
  size_t capacity = 1;
  std::mutex target_mu;           // inline targets: a dead-letter target is also written by workers
  mutable std::mutex mu;          // queued targets: the queue, `failed`, `fatal`
  std::condition_variable ready;  // items to deliver, or stopping
  std::condition_variable space;  // room in the queue, the queue empty, or failed
  struct Entry {
    Queued owned;
    Item item;
  };
  std::deque<std::unique_ptr<Entry>> queue;  // the front is the one being delivered
  bool failed = false;
  Status fatal;
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> retries{0};
  // Its last attempt answered Retry or Fatal; cleared when it next accepts an event (readiness).
  std::atomic<bool> failing{false};
  std::mt19937_64 rng{std::random_device{}()};
  std::thread worker;
};

DeliveryRunner::DeliveryRunner(std::vector<std::unique_ptr<Target>> targets,
                               std::vector<RetryPolicy> policies, std::vector<size_t> queue_sizes,
                               DeadLetterFile& dead_letters)
    : targets_(std::move(targets)), dead_letters_(dead_letters) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->target = targets_[i].get();
    if (i < policies.size()) slot->policy = policies[i];
    slot->capacity = std::max<size_t>(1, i < queue_sizes.size() ? queue_sizes[i] : 1000);
    slots_.push_back(std::move(slot));
  }
}

DeliveryRunner::~DeliveryRunner() { Stop(); }

int DeliveryRunner::Find(std::string_view name) const {
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i]->name() == name) return static_cast<int>(i);
  }
  return -1;
}

void DeliveryRunner::Start() {
  if (started_) return;
  started_ = true;
  for (auto& slot : slots_) {
    if (!slot->target->queued()) continue;
    Slot* s = slot.get();
    slot->worker = std::thread([this, s] { Work(*s); });
  }
}

void DeliveryRunner::Stop() {
  stopping_ = true;
  for (auto& slot : slots_) {
    { std::lock_guard lock(slot->mu); }
    slot->ready.notify_all();
    slot->space.notify_all();
  }
  for (auto& slot : slots_) {
    if (slot->worker.joinable()) slot->worker.join();
  }
}

Status DeliveryRunner::Deliver(const OutputEvent& event, const RuleTargetRef& to,
                               const std::string* input, StreamPosition position,
                               const std::atomic<bool>* stop) {
  Slot& slot = *slots_[to.index];
  const std::string& body = input != nullptr ? *input : event.Json(slot.target->format());
  const std::string& event_json = event.Json(EventFormat::kEventBridge);
  int64_t time = event.event().change.commit_time.micros;
  if (!slot.target->queued()) {
    Item item{body, event_json, event.id(), time, &event, {}, to, position};
    return DeliverNow(slot, item, stop);
  }
  auto entry = std::make_unique<Slot::Entry>();
  Queued& q = entry->owned;
  q.body_is_event = &body == &event_json;
  if (!q.body_is_event) q.body = body;
  q.event_json = event_json;
  q.id = event.id();
  q.table = event.event().change.QualifiedName();
  if (slot.target->max_batch() > 1) OrderKey(event.event().change, q.key);
  entry->item = Item{q.body_is_event ? std::string_view(q.event_json) : std::string_view(q.body),
                     q.event_json,
                     q.id,
                     time,
                     nullptr,
                     q.table,
                     to,
                     position,
                     q.key};
  std::unique_lock lock(slot.mu);
  while (slot.queue.size() >= slot.capacity && !slot.failed && !stopping_) {
    if (stop != nullptr && stop->load()) {
      return Aborted("stopping while target '" + slot.target->name() + "' has a full queue");
    }
    slot.space.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (slot.failed) return slot.fatal;
  if (stopping_) return Aborted("the delivery runner is stopping");
  slot.queue.push_back(std::move(entry));
  lock.unlock();
  slot.ready.notify_one();
  return Status::Ok();
}

// Full jitter: a uniformly random wait up to the capped exponential backoff, never past the
// event's maximum age.
std::chrono::milliseconds DeliveryRunner::Backoff(Slot& slot, int attempt,
                                                  std::chrono::steady_clock::duration waited) {
  const RetryPolicy& policy = slot.policy;
  auto cap = policy.BackoffCap(attempt);
  std::chrono::milliseconds wait{0};
  if (cap.count() > 0) {
    std::uniform_int_distribution<int64_t> pick(0, cap.count());
    wait = std::chrono::milliseconds(pick(slot.rng));
  }
  return std::min(
      wait, std::chrono::duration_cast<std::chrono::milliseconds>(policy.max_event_age - waited) +
                std::chrono::milliseconds(1));
}

Status DeliveryRunner::DeliverUntil(const OutputEvent& event, const RuleTargetRef& to,
                                    const std::string* input,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::atomic<bool>* stop) {
  CDC_ASSERT(!started_, "DeliverUntil drives a target its worker would drive too");
  Slot& slot = *slots_[to.index];
  const std::string& body = input != nullptr ? *input : event.Json(slot.target->format());
  std::string key;
  if (slot.target->max_batch() > 1) OrderKey(event.event().change, key);
  Item item{body,       event.Json(EventFormat::kEventBridge),
            event.id(), event.event().change.commit_time.micros,
            &event,     {},
            to,         StreamPosition{},
            key};
  return DeliverNow(slot, item, stop, deadline);
}

Status DeliveryRunner::DeliverNow(Slot& slot, const Item& item, const std::atomic<bool>* stop,
                                  std::optional<std::chrono::steady_clock::time_point> deadline) {
  Target& target = *slot.target;
  const RetryPolicy& policy = slot.policy;
  auto first = std::chrono::steady_clock::now();
  Outgoing out{item.body, item.id, item.time_micros, item.position, item.key};
  DeliveryOutcome outcome;
  int attempt = 0;
  while (true) {
    ++attempt;
    if (target.queued()) {
      outcome = target.Deliver(out);
    } else {
      std::lock_guard lock(slot.target_mu);
      outcome = target.Deliver(out);
    }
    if (outcome.result == Delivery::kDelivered) {
      ++slot.delivered;
      slot.failing = false;
      return Status::Ok();
    }
    if (outcome.result == Delivery::kFatal) {
      slot.failing = true;
      return outcome.error.WithContext("target '" + target.name() + "' cannot accept events");
    }
    if (outcome.result == Delivery::kFailed) break;
    ++slot.retries;
    slot.failing = true;
    auto waited = std::chrono::steady_clock::now() - first;
    if (attempt >= policy.max_attempts || waited >= policy.max_event_age) break;
    auto wait = Backoff(slot, attempt, waited);
    if (deadline && std::chrono::steady_clock::now() + wait >= *deadline) break;
    // Every attempt of a long outage would flood the log: the first ones and then powers of two.
    if (attempt <= 3 || (attempt & (attempt - 1)) == 0) {
      log::Warn("target '{}' failed event {} (attempt {} of at most {}): {}; retrying in {} ms",
                target.name(), item.id, attempt, policy.max_attempts, outcome.error.message(),
                wait.count());
    }
    auto until = std::chrono::steady_clock::now() + wait;
    if (target.queued()) {
      std::unique_lock lock(slot.mu);
      slot.ready.wait_until(lock, until, [&] { return stopping_.load(); });
    } else {
      while (std::chrono::steady_clock::now() < until && !(stop != nullptr && stop->load())) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            until - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
      }
    }
    if (stopping_ || (stop != nullptr && stop->load())) {
      return Aborted("stopping while retrying target '" + target.name() + "'");
    }
  }
  if (deadline && outcome.result == Delivery::kRetry) {
    return Unavailable("target '" + target.name() + "' did not accept event " +
                       std::string(item.id) + " after " + std::to_string(attempt) +
                       " attempt(s): " + outcome.error.message());
  }
  return DeadLetterDelivery(slot, item, outcome.error, attempt);
}

Status DeliveryRunner::DeadLetterDelivery(Slot& slot, const Item& item, const Status& error,
                                          int attempts) {
  Target& target = *slot.target;
  DeadLetter letter;
  letter.stage = "delivery";
  letter.reason = error.message();
  letter.table = item.source != nullptr ? item.source->event().change.QualifiedName()
                                        : std::string(item.table);
  letter.rule = *item.to.rule;
  letter.target = target.name();
  letter.attempts = attempts;
  letter.input = std::string(item.event_json);
  if (item.to.dead_letter >= 0) {
    Slot& dlq = *slots_[static_cast<size_t>(item.to.dead_letter)];
    std::string line = DeadLetterJson(letter, dead_letters_.clock());
    DeliveryOutcome outcome;
    {
      std::lock_guard lock(dlq.target_mu);
      outcome = dlq.target->Deliver(Outgoing{line, item.id, item.time_micros});
    }
    if (outcome.result == Delivery::kDelivered) {
      log::Error(
          "target '{}' did not accept event {} after {} attempt(s): {}; dead-lettered to "
          "target '{}'",
          target.name(), item.id, attempts, error.message(), dlq.target->name());
      ++dlq.delivered;
      ++slot.dead_lettered;
      Remember(letter);
      return Status::Ok();
    }
    // Nothing is lost: the dead-letter file takes it, saying why.
    log::Error("dead-letter target '{}' failed: {}; writing to the dead-letter file instead",
               dlq.target->name(), outcome.error.message());
    letter.reason += " (then dead-letter target '" + dlq.target->name() +
                     "' failed: " + outcome.error.message() + ")";
  } else {
    log::Error("target '{}' did not accept event {} after {} attempt(s): {}; dead-lettered",
               target.name(), item.id, attempts, error.message());
  }
  CDC_RETURN_IF_ERROR(WriteDeadLetter(letter));
  ++slot.dead_lettered;
  return Status::Ok();
}

void DeliveryRunner::Work(Slot& slot) {
  size_t batch = std::max<size_t>(1, slot.target->max_batch());
  std::vector<const Item*> items;
  while (true) {
    items.clear();
    {
      std::unique_lock lock(slot.mu);
      slot.ready.wait(lock, [&] { return stopping_.load() || !slot.queue.empty(); });
      if (stopping_) return;
      // The entries stay queued (Progress sees them) until they are delivered or dead-lettered.
      for (size_t i = 0; i < slot.queue.size() && i < batch; ++i) {
        items.push_back(&slot.queue[i]->item);
      }
    }
    Status s =
        batch == 1 ? DeliverNow(slot, *items.front(), nullptr) : DeliverBatchNow(slot, items);
    std::unique_lock lock(slot.mu);
    if (!s.ok()) {
      if (stopping_) return;  // the events stay queued: delivered after a restart
      log::Error("target '{}' stopped: {}", slot.target->name(), s.message());
      slot.failed = true;
      slot.fatal = s;
      lock.unlock();
      slot.space.notify_all();
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) slot.queue.pop_front();
    lock.unlock();
    slot.space.notify_all();
  }
}

Status DeliveryRunner::DeliverBatchNow(Slot& slot, const std::vector<const Item*>& items) {
  Target& target = *slot.target;
  const RetryPolicy& policy = slot.policy;
  auto first = std::chrono::steady_clock::now();
  std::vector<const Item*> pending(items);
  std::vector<Outgoing> out;
  std::vector<DeliveryOutcome> results;
  for (int attempt = 1;; ++attempt) {
    out.clear();
    for (const Item* item : pending) {
      out.push_back({item->body, item->id, item->time_micros, item->position, item->key});
    }
    results.assign(out.size(), DeliveryOutcome{});
    target.DeliverBatch(out, results);
    auto waited = std::chrono::steady_clock::now() - first;
    bool give_up = attempt >= policy.max_attempts || waited >= policy.max_event_age;
    std::vector<const Item*> again;
    Status last_error;
    for (size_t i = 0; i < pending.size(); ++i) {
      const DeliveryOutcome& r = results[i];
      switch (r.result) {
        case Delivery::kDelivered:
          ++slot.delivered;
          slot.failing = false;
          break;
        case Delivery::kFatal:
          slot.failing = true;
          return r.error.WithContext("target '" + target.name() + "' cannot accept events");
        case Delivery::kFailed:
          CDC_RETURN_IF_ERROR(DeadLetterDelivery(slot, *pending[i], r.error, attempt));
          break;
        case Delivery::kRetry:
          if (give_up) {
            CDC_RETURN_IF_ERROR(DeadLetterDelivery(slot, *pending[i], r.error, attempt));
          } else {
            ++slot.retries;
            slot.failing = true;
            again.push_back(pending[i]);
            last_error = r.error;
          }
          break;
      }
    }
    if (again.empty()) return Status::Ok();
    pending = std::move(again);
    auto wait = Backoff(slot, attempt, waited);
    if (attempt <= 3 || (attempt & (attempt - 1)) == 0) {
      log::Warn(
          "target '{}' took part of a batch ({} event(s) to retry, attempt {} of at most {}): "
          "{}; retrying in {} ms",
          target.name(), pending.size(), attempt, policy.max_attempts, last_error.message(),
          wait.count());
    }
    std::unique_lock lock(slot.mu);
    slot.ready.wait_until(lock, std::chrono::steady_clock::now() + wait,
                          [&] { return stopping_.load(); });
    if (stopping_) return Aborted("stopping while retrying target '" + target.name() + "'");
  }
}

Status DeliveryRunner::Drain(const std::atomic<bool>* stop) {
  for (auto& slot : slots_) {
    if (!slot->target->queued()) continue;
    std::unique_lock lock(slot->mu);
    while (!slot->queue.empty() && !slot->failed && !stopping_) {
      if (stop != nullptr && stop->load()) return Aborted("stopped before every target finished");
      slot->space.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (slot->failed) return slot->fatal;
  }
  return Status::Ok();
}

bool DeliveryRunner::Idle() const {
  for (const auto& slot : slots_) {
    if (!slot->target->queued()) continue;
    std::lock_guard lock(slot->mu);
    if (!slot->queue.empty() && !slot->failed) return false;
  }
  return true;
}

Status DeliveryRunner::failure() const {
  for (const auto& slot : slots_) {
    if (!slot->target->queued()) continue;
    std::lock_guard lock(slot->mu);
    if (slot->failed) return slot->fatal;
  }
  return Status::Ok();
}

std::map<uint32_t, uint64_t> DeliveryRunner::Progress(size_t index,
                                                      const std::vector<uint64_t>& next) const {
  std::map<uint32_t, uint64_t> progress;
  for (uint32_t s = 0; s < next.size(); ++s) progress[s] = next[s];
  const Slot& slot = *slots_[index];
  std::lock_guard lock(slot.mu);
  for (const auto& entry : slot.queue) {
    auto it = progress.find(entry->item.position.shard);
    if (it != progress.end()) it->second = std::min(it->second, entry->item.position.offset);
  }
  return progress;
}

// Calls `target_op` on every inline target and `file_op` on the dead-letter file, each under its
// lock; the first error after trying all.
template <typename TargetOp, typename FileOp>
Status DeliveryRunner::ForEachInline(TargetOp target_op, FileOp file_op) {
  Status first;
  for (auto& slot : slots_) {
    if (slot->target->queued()) continue;
    std::lock_guard lock(slot->target_mu);
    Status s = target_op(*slot->target);
    if (!s.ok() && first.ok()) first = s.WithContext("target '" + slot->target->name() + "'");
  }
  std::lock_guard lock(dead_letters_mu_);
  Status d = file_op(dead_letters_);
  return first.ok() ? d : first;
}

Status DeliveryRunner::WriteOut() {
  return ForEachInline([](Target& t) { return t.WriteOut(); },
                       [](DeadLetterFile& f) { return f.WriteOut(); });
}

Status DeliveryRunner::Flush() {
  return ForEachInline([](Target& t) { return t.Flush(); },
                       [](DeadLetterFile& f) { return f.Flush(); });
}

std::optional<std::string> DeliveryRunner::Cursor(size_t i) {
  Slot& slot = *slots_[i];
  if (slot.target->queued()) return std::nullopt;
  std::lock_guard lock(slot.target_mu);
  return slot.target->Cursor();
}

TargetStats DeliveryRunner::stats(size_t i) const {
  return {slots_[i]->delivered.load(), slots_[i]->dead_lettered.load(), slots_[i]->retries.load()};
}

bool DeliveryRunner::failing(size_t i) const { return slots_[i]->failing.load(); }

size_t DeliveryRunner::queue_depth(size_t i) const {
  const Slot& slot = *slots_[i];
  if (!slot.target->queued()) return 0;
  std::lock_guard lock(slot.mu);
  return slot.queue.size();
}

void DeliveryRunner::set_stats(size_t i, TargetStats stats) {
  slots_[i]->delivered = stats.delivered;
  slots_[i]->dead_lettered = stats.dead_lettered;
}

Status DeliveryRunner::WriteDeadLetter(const DeadLetter& letter) {
  {
    std::lock_guard lock(dead_letters_mu_);
    CDC_RETURN_IF_ERROR(dead_letters_.Write(letter));
  }
  Remember(letter);
  return Status::Ok();
}

void DeliveryRunner::Remember(const DeadLetter& letter) {
  RecentDeadLetter r;
  r.time_micros = dead_letters_.clock().Now().micros;
  r.stage = letter.stage;
  r.table = letter.table;
  r.rule = letter.rule;
  r.target = letter.target;
  r.reason = letter.reason;
  std::lock_guard lock(recent_mu_);
  recent_.push_front(std::move(r));
  if (recent_.size() > kRecentDeadLetters) recent_.pop_back();
}

std::vector<RecentDeadLetter> DeliveryRunner::RecentDeadLetters() const {
  std::lock_guard lock(recent_mu_);
  return {recent_.begin(), recent_.end()};
}

uint64_t DeliveryRunner::dead_letter_count() const {
  std::lock_guard lock(dead_letters_mu_);
  return dead_letters_.count();
}

Result<uint64_t> DeliveryRunner::DeadLetterSize() {
  std::lock_guard lock(dead_letters_mu_);
  return dead_letters_.Size();
}

}  // namespace cdc
