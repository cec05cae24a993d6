// The dead-letter file: what cannot be processed or delivered is appended here as one JSON line
// with the reason, never dropped. Reasons name tables, columns and positions, never row values;
// the original input is kept so it can be fixed and replayed.
//
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <string>

#include "base/time.h"
#include "target/append_file.h"

namespace cdc {

struct DeadLetter {
  std::string stage;  // source | process | delivery
  std::string reason;
  std::string location;  // "input.jsonl:3" for file input
  std::string table;     // when known
  std::string rule;      // delivery failures
  std::string target;    // delivery failures
  int attempts = 0;      // delivery failures
  std::string input;     // the original input: embedded as JSON when valid, else as a string
};

// A dead letter without its input, as the wallboard lists the last ones (DeliveryRunner).
struct RecentDeadLetter {
  int64_t time_micros = 0;
  std::string stage, table, rule, target, reason;
};

// A dead letter as one JSON line (no newline), as the dead-letter file and the per-rule-target
// dead-letter targets write it.
std::string DeadLetterJson(const DeadLetter& letter, const Clock& clock);

class DeadLetterFile {
 public:
  DeadLetterFile(std::string path, FsyncPolicy fsync, const Clock& clock);
  Status Write(const DeadLetter& letter);
  Status Flush() { return file_.Flush(); }
  Status WriteOut() { return file_.WriteOut(); }
  // Exactly-once, as the file target: the durable length, and cutting back to it on start.
  Result<uint64_t> Size() { return file_.Size(); }
  Result<bool> TruncateTo(uint64_t size) { return file_.TruncateTo(size); }
  // On start: cut back to its length at the last checkpoint, the mark's `cursor` (decimal; what
  // followed is written again). A file shorter than that (rotated by someone else) is appended
  // to, with a warning.
  Status Reconcile(std::string_view cursor);
  void set_count(uint64_t n) { count_ = n; }
  const Clock& clock() const { return clock_; }
  uint64_t count() const { return count_; }
  const std::string& path() const { return file_.path(); }

 private:
  AppendFile file_;
  const Clock& clock_;
  uint64_t count_ = 0;
};

}  // namespace cdc
