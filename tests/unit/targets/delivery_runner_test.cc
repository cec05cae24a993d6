// The delivery runner: the retry policy (attempts, event age, backoff), dead letters per rule
// target, and queued targets that do not hold up the others beyond their bounded queue.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <span>
#include <thread>

#include "event/position_kinds.h"
#include "support/test_util.h"
#include "target/delivery.h"
#include "target/file/file_target.h"

namespace cdc {
namespace {

// A target that answers `script` in turn (then Delivered), counting attempts. With `gate`, a
// queued target waits for the gate to open before answering (a stalled endpoint).
class ScriptedTarget final : public Target {
 public:
  ScriptedTarget(std::string name, std::vector<Delivery> script, bool queued = false)
      : name_(std::move(name)), script_(std::move(script)), queued_(queued) {}
  const std::string& name() const override { return name_; }
  bool queued() const override { return queued_; }
  DeliveryOutcome Deliver(const Outgoing& event) override {
    while (gate_ != nullptr && !gate_->load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ++attempts;
    size_t n = calls_++;
    if (n < script_.size() && script_[n] != Delivery::kDelivered) {
      return {script_[n], Unavailable("endpoint said no (call " + std::to_string(n) + ")")};
    }
    bodies.emplace_back(event.body);
    return {};
  }
  Status Flush() override { return Status::Ok(); }
  Status CheckHealth() override { return Status::Ok(); }

  std::atomic<int> attempts{0};
  std::vector<std::string> bodies;
  const std::atomic<bool>* gate_ = nullptr;

 private:
  std::string name_;
  std::vector<Delivery> script_;
  bool queued_;
  size_t calls_ = 0;
};

ProcessedEvent Event(int i) {
  ProcessedEvent e;
  e.change.schema = "public";
  e.change.table = "users";
  e.change.op = Op::kInsert;
  e.change.position = ToPosition(PgPosition{Lsn(100 + i), TxId(7), 0});
  return e;
}

RetryPolicy Fast(int attempts) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff = std::chrono::milliseconds(1);
  p.max_backoff = std::chrono::milliseconds(4);
  return p;
}

struct Fixture {
  testing::TempDir dir;
  DeadLetterFile dead_letters{(dir / "dead.jsonl"), FsyncPolicy::kNever, SystemClock::Instance()};
  EnvelopeOptions options;
  std::string rule = "r1";
};

// A runner with one scripted target.
struct OneTarget : Fixture {
  ScriptedTarget* target = nullptr;
  std::unique_ptr<DeliveryRunner> runner;
  OneTarget(std::vector<Delivery> script, RetryPolicy policy) {
    auto t = std::make_unique<ScriptedTarget>("t", std::move(script));
    target = t.get();
    std::vector<std::unique_ptr<Target>> targets;
    targets.push_back(std::move(t));
    runner = std::make_unique<DeliveryRunner>(std::move(targets), std::vector<RetryPolicy>{policy},
                                              std::vector<size_t>{10}, dead_letters);
  }
  Status Send(const OutputEvent& out) { return runner->Deliver(out, {0, &rule, -1}, nullptr, {}); }
};

TEST(RetryPolicy, BackoffDoublesUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff = std::chrono::milliseconds(100);
  p.max_backoff = std::chrono::milliseconds(1000);
  EXPECT_EQ(p.BackoffCap(1).count(), 100);
  EXPECT_EQ(p.BackoffCap(2).count(), 200);
  EXPECT_EQ(p.BackoffCap(4).count(), 800);
  EXPECT_EQ(p.BackoffCap(5).count(), 1000);
  EXPECT_EQ(p.BackoffCap(100).count(), 1000);
  RetryConfig c;
  c.max_attempts = 3;
  c.max_event_age_seconds = 60;
  EXPECT_EQ(RetryPolicy::FromConfig(c).max_attempts, 3);
  EXPECT_EQ(RetryPolicy::FromConfig(c).max_event_age.count(), 60);
}

TEST(DeliveryRunner, RetriesATargetThatFailsNTimesThenDelivers) {
  OneTarget f({Delivery::kRetry, Delivery::kRetry, Delivery::kRetry}, Fast(5));
  ProcessedEvent e = Event(1);
  ASSERT_TRUE(f.Send(OutputEvent(e, f.options)).ok());
  EXPECT_EQ(f.target->attempts, 4);
  EXPECT_EQ(f.runner->stats(0).delivered, 1u);
  EXPECT_EQ(f.runner->stats(0).dead_lettered, 0u);
  EXPECT_EQ(f.runner->dead_letter_count(), 0u);
}

TEST(DeliveryRunner, DeadLettersAfterMaxAttemptsWithTheAttemptCountAndRule) {
  OneTarget f(std::vector<Delivery>(10, Delivery::kRetry), Fast(3));
  ProcessedEvent e = Event(1);
  OutputEvent out(e, f.options);
  ASSERT_TRUE(f.Send(out).ok());
  ASSERT_TRUE(f.runner->Flush().ok());
  EXPECT_EQ(f.target->attempts, 3);
  EXPECT_EQ(f.runner->stats(0).dead_lettered, 1u);
  auto lines = testing::ReadLines(f.dir / "dead.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(R"("stage":"delivery")"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(R"("rule":"r1")"), std::string::npos);
  EXPECT_NE(lines[0].find(R"("target":"t")"), std::string::npos);
  EXPECT_NE(lines[0].find(R"("attempts":3)"), std::string::npos);
  EXPECT_NE(lines[0].find("endpoint said no (call 2)"), std::string::npos);
  EXPECT_NE(lines[0].find(R"("event":{"version":"0","id":")" + out.id()), std::string::npos);
}

TEST(DeliveryRunner, FailedIsNotRetried) {
  OneTarget f({Delivery::kFailed}, Fast(5));
  ProcessedEvent e = Event(1);
  ASSERT_TRUE(f.Send(OutputEvent(e, f.options)).ok());
  EXPECT_EQ(f.target->attempts, 1);
  EXPECT_EQ(f.runner->dead_letter_count(), 1u);
}

TEST(DeliveryRunner, MaxEventAgeEndsRetriesBeforeMaxAttempts) {
  RetryPolicy p = Fast(100000);
  p.max_event_age = std::chrono::seconds(1);
  p.initial_backoff = p.max_backoff = std::chrono::milliseconds(50);
  OneTarget f(std::vector<Delivery>(100000, Delivery::kRetry), p);
  ProcessedEvent e = Event(1);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.Send(OutputEvent(e, f.options)).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_LT(f.target->attempts, 100000);
  EXPECT_EQ(f.runner->dead_letter_count(), 1u);
}

TEST(DeliveryRunner, ARuleTargetsDeadLetterGoesToItsDeadLetterTarget) {
  Fixture f;
  TargetConfig dlq;
  dlq.name = "dlq";
  dlq.type = "file";
  dlq.kind = BuiltinRegistry().FindTarget("file");
  auto options = std::make_shared<FileTargetOptions>();
  options->path = f.dir / "dlq.jsonl";
  dlq.options = options;
  std::vector<std::unique_ptr<Target>> targets;
  targets.push_back(
      std::make_unique<ScriptedTarget>("t", std::vector<Delivery>{Delivery::kFailed}));
  targets.push_back(BuildTarget(dlq).value());
  DeliveryRunner runner(std::move(targets), {Fast(3), Fast(3)}, {10, 10}, f.dead_letters);
  ProcessedEvent e = Event(1);
  OutputEvent out(e, f.options);
  ASSERT_TRUE(runner.Deliver(out, {0, &f.rule, 1}, nullptr, {}).ok());
  ASSERT_TRUE(runner.Flush().ok());
  EXPECT_EQ(runner.dead_letter_count(), 0u);
  EXPECT_EQ(runner.stats(0).dead_lettered, 1u);
  auto lines = testing::ReadLines(f.dir / "dlq.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(R"("rule":"r1","target":"t","attempts":1)"), std::string::npos)
      << lines[0];
}

TEST(DeliveryRunner, AStalledQueuedTargetDoesNotHoldUpTheOthersUntilItsQueueIsFull) {
  Fixture f;
  std::atomic<bool> open{false};
  auto slow = std::make_unique<ScriptedTarget>("slow", std::vector<Delivery>{}, true);
  slow->gate_ = &open;
  ScriptedTarget* s = slow.get();
  auto fast = std::make_unique<ScriptedTarget>("fast", std::vector<Delivery>{});
  ScriptedTarget* q = fast.get();
  std::vector<std::unique_ptr<Target>> targets;
  targets.push_back(std::move(slow));
  targets.push_back(std::move(fast));
  DeliveryRunner runner(std::move(targets), {Fast(3), Fast(3)}, {5, 5}, f.dead_letters);
  runner.Start();
  std::atomic<bool> stop{false};
  // The stalled target holds 5 events (the one it is stuck on included); the other gets all 5.
  for (int i = 0; i < 5; ++i) {
    ProcessedEvent e = Event(i);
    OutputEvent out(e, f.options);
    ASSERT_TRUE(runner.Deliver(out, {0, &f.rule, -1}, nullptr, {0, uint64_t(10 + i)}, &stop).ok());
    ASSERT_TRUE(runner.Deliver(out, {1, &f.rule, -1}, nullptr, {0, uint64_t(10 + i)}, &stop).ok());
  }
  EXPECT_EQ(q->bodies.size(), 5u);
  EXPECT_FALSE(runner.Idle());
  // Its progress is the first event it has not finished.
  EXPECT_EQ(runner.Progress(0, {15}).at(0), 10u);
  // Queue full: the next event waits, and gives up when asked to stop.
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  ProcessedEvent e = Event(99);
  OutputEvent out(e, f.options);
  Status full = runner.Deliver(out, {0, &f.rule, -1}, nullptr, {0, 15}, &stop);
  stopper.join();
  EXPECT_EQ(full.code(), StatusCode::kAborted) << full.ToString();
  open = true;
  ASSERT_TRUE(runner.Drain().ok());
  EXPECT_TRUE(runner.Idle());
  EXPECT_EQ(s->bodies.size(), 5u);
  EXPECT_EQ(runner.Progress(0, {15}).at(0), 15u);
  runner.Stop();
}

}  // namespace
}  // namespace cdc

namespace cdc {
namespace {

// A queued target that takes batches of up to 3 and answers each event by its id's script.
class BatchTarget final : public Target {
 public:
  explicit BatchTarget(std::map<std::string, std::vector<Delivery>> script)
      : script_(std::move(script)) {}
  const std::string& name() const override { return name_; }
  bool queued() const override { return true; }
  size_t max_batch() const override { return 3; }
  DeliveryOutcome Deliver(const Outgoing&) override {
    ADD_FAILURE() << "a batching target is called with batches";
    return {};
  }
  void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) override {
    std::vector<std::string> batch;
    for (size_t i = 0; i < events.size(); ++i) {
      std::string id(events[i].id);
      batch.push_back(id);
      keys.emplace_back(events[i].key);
      std::vector<Delivery>& answers = script_[id];
      Delivery answer = answers.empty() ? Delivery::kDelivered : answers.front();
      if (!answers.empty()) answers.erase(answers.begin());
      results[i] = {answer, answer == Delivery::kDelivered ? Status::Ok() : Unavailable("no")};
      if (answer == Delivery::kDelivered) delivered.push_back(id);
    }
    batches.push_back(std::move(batch));
  }
  Status Flush() override { return Status::Ok(); }
  Status CheckHealth() override { return Status::Ok(); }

  std::vector<std::vector<std::string>> batches;
  std::vector<std::string> delivered, keys;

 private:
  std::string name_ = "batch";
  std::map<std::string, std::vector<Delivery>> script_;
};

TEST(DeliveryRunner, ABatchingTargetGetsBatchesAndOnlyItsFailedEventsAreRetried) {
  Fixture f;
  std::vector<ProcessedEvent> events;
  std::vector<std::string> ids;
  for (int i = 1; i <= 6; ++i) {
    events.push_back(Event(i));
    Row key;
    key.Add("id", Value::Int64(i));
    events.back().change.key = key;
    ids.push_back(OutputEvent(events.back(), f.options).id());
  }
  // The 2nd event is retried twice, the 3rd is refused for good.
  auto t = std::make_unique<BatchTarget>(std::map<std::string, std::vector<Delivery>>{
      {ids[1], {Delivery::kRetry, Delivery::kRetry}}, {ids[2], {Delivery::kFailed}}});
  BatchTarget* target = t.get();
  std::vector<std::unique_ptr<Target>> targets;
  targets.push_back(std::move(t));
  DeliveryRunner runner(std::move(targets), {Fast(5)}, {10}, f.dead_letters);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_TRUE(runner
                    .Deliver(OutputEvent(events[i], f.options), {0, &f.rule, -1}, nullptr,
                             {0, static_cast<uint64_t>(i)})
                    .ok());
  }
  runner.Start();
  ASSERT_TRUE(runner.Drain().ok());
  runner.Stop();
  // The first three together; then the one to retry alone (twice); then the rest.
  EXPECT_EQ(target->batches,
            (std::vector<std::vector<std::string>>{
                {ids[0], ids[1], ids[2]}, {ids[1]}, {ids[1]}, {ids[3], ids[4], ids[5]}}));
  EXPECT_EQ(target->delivered, (std::vector<std::string>{ids[0], ids[1], ids[3], ids[4], ids[5]}));
  EXPECT_EQ(runner.stats(0).delivered, 5u);
  EXPECT_EQ(runner.stats(0).dead_lettered, 1u);
  EXPECT_EQ(runner.dead_letter_count(), 1u);
  ASSERT_FALSE(target->keys.empty());
  EXPECT_EQ(target->keys[0],
            "users\x1f"
            "1");
}

// The default DeliverBatch sends one event after another and stops at the first it cannot.
TEST(Target, TheDefaultBatchStopsAtTheFirstEventNotDelivered) {
  ScriptedTarget t("t", {Delivery::kDelivered, Delivery::kRetry});
  std::vector<Outgoing> events(4);
  std::vector<DeliveryOutcome> results(4);
  t.DeliverBatch(events, results);
  EXPECT_EQ(results[0].result, Delivery::kDelivered);
  EXPECT_EQ(results[1].result, Delivery::kRetry);
  EXPECT_EQ(results[2].result, Delivery::kRetry);
  EXPECT_EQ(results[3].result, Delivery::kRetry);
  EXPECT_EQ(t.attempts, 2);
}

}  // namespace
}  // namespace cdc
