// One Lambda function's work on a batch: each record, in order, through its table's processor
// (event-type filter, model check, transforms, redaction) and the bus's rules, then delivered
// to the rules' targets. What cannot become an event (not base64, not JSON, not a change of the
// function's table, rejected by the processor) is dead-lettered with its reason and counts as
// done. A record whose delivery still fails when the target's retry policy or the invocation's
// deadline runs out is reported, and so is every later record of the batch, which is not
// delivered (Lambda resumes a Kinesis shard from the lowest failed sequence number, and one
// key's changes stay in order). Ids already delivered to a rule target (dedupe keys in the state
// store) are not delivered to it again. The semantics are in docs/lambda.md.
//
// Thread-safety: one thread drives a handler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "config/config.h"
#include "lambda/event_records.h"

namespace cdc {
class Assembly;
class TableProcessor;
namespace state {
class StateStore;
}
}  // namespace cdc

namespace cdc::lambda {

struct BatchResult {
  // The item identifiers (sequence numbers) Lambda must retry, in batch order.
  std::vector<std::string> failures;
  uint64_t published = 0;      // records that became events
  uint64_t deliveries = 0;     // (event, rule target) deliveries that succeeded
  uint64_t dead_lettered = 0;  // records dead-lettered (malformed, rejected)
  // (event, rule target) deliveries skipped (already delivered), and copies of records of the
  // pipeline's own stream
  uint64_t duplicates = 0;
  // Records for another function (a change of another table; DynamoDB Streams changes of a type
  // the table does not publish; the own stream's API events and records put ahead of a failed one)
  uint64_t filtered = 0;
  uint64_t unmatched = 0;  // events no rule matched

  // {"batchItemFailures":[{"itemIdentifier":"..."}, ...]}
  std::string ResponseJson() const;
};

class BatchHandler {
 public:
  // The processor of `table`'s function, the targets and rules (runtime/assembly.h), and the
  // state store (`state.type`) for the dedupe keys. `clock` must outlive the handler.
  static Result<std::unique_ptr<BatchHandler>> Build(std::shared_ptr<const Config> config,
                                                     const TableConfig& table, const Clock& clock);
  ~BatchHandler();

  // Handles one batch, giving up on delivery at `deadline` (or once `stop` is set). An error
  // only when nothing can be said about the batch (the dead-letter file or the state store
  // failed, a target failed fatally): the invocation fails and Lambda retries it whole.
  Result<BatchResult> Handle(const std::vector<InputRecord>& records,
                             std::chrono::steady_clock::time_point deadline,
                             const std::atomic<bool>* stop = nullptr);

 private:
  struct Impl;
  explicit BatchHandler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdc::lambda
