#include "target/dead_letter.h"

#include "base/logging.h"
#include "event/event_json.h"
#include "event/json_writer.h"

namespace cdc {

DeadLetterFile::DeadLetterFile(std::string path, FsyncPolicy fsync, const Clock& clock)
    : file_(std::move(path), fsync), clock_(clock) {}

std::string DeadLetterJson(const DeadLetter& letter, const Clock& clock) {
  std::string line;
  JsonWriter w(line);
  w.BeginObject();
  w.Key("time").String(FormatRfc3339(clock.Now()));
  w.Key("stage").String(letter.stage);
  w.Key("reason").String(letter.reason);
  if (!letter.location.empty()) w.Key("location").String(letter.location);
  if (!letter.table.empty()) w.Key("table").String(letter.table);
  if (!letter.rule.empty()) w.Key("rule").String(letter.rule);
  if (!letter.target.empty()) w.Key("target").String(letter.target);
  if (letter.attempts > 0) w.Key("attempts").Int(letter.attempts);
  auto json = MinifyJson(letter.input);
  if (json.ok() && !json->empty() && (json->front() == '{' || json->front() == '[')) {
    w.Key("event").Raw(*json);
  } else {
    w.Key("input").String(letter.input);
  }
  w.EndObject();
  return line;
}

Status DeadLetterFile::Reconcile(std::string_view cursor) {
  CDC_ASSIGN_OR_RETURN(uint64_t size, ParseLengthCursor(cursor));
  CDC_ASSIGN_OR_RETURN(uint64_t before, file_.Size());
  CDC_ASSIGN_OR_RETURN(bool cut, file_.TruncateTo(size));
  if (!cut) {
    log::Warn("{} is shorter than at the last checkpoint: rotated or truncated by someone else",
              path());
  } else if (before > size) {
    log::Info("cut {} bytes written after the last checkpoint from {}", before - size, path());
  }
  return Status::Ok();
}

Status DeadLetterFile::Write(const DeadLetter& letter) {
  CDC_RETURN_IF_ERROR(file_.Append(DeadLetterJson(letter, clock_)));
  ++count_;
  return Status::Ok();
}

}  // namespace cdc
