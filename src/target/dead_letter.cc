#include "target/dead_letter.h"

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

Status DeadLetterFile::Write(const DeadLetter& letter) {
  CDC_RETURN_IF_ERROR(file_.Append(DeadLetterJson(letter, clock_)));
  ++count_;
  return Status::Ok();
}

}  // namespace cdc
