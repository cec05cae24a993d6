// Input transformers: what a rule sends to one of its targets instead of the whole event, with
// EventBridge's semantics (Input, InputPath, InputTransformer):
//   - `input`: constant JSON text;
//   - `input_path`: a JSONPath (`$.detail.after`) selecting part of the event;
//   - `input_paths_map` + `input_template`: named JSONPaths and a template with `<name>`
//     placeholders, plus the predefined `<aws.events.event>` (the event without `detail`),
//     `<aws.events.event.json>`, `<aws.events.rule-name>`, `<aws.events.rule-arn>` and
//     `<aws.events.event.ingestion-time>` (the event's `time`, so the same change always gives
//     the same output).
// A template whose first non-blank character is `{`, `[` or `"` is JSON: a placeholder inside
// quotes inserts the value as string text (a string without its quotes, an object or array with
// its quotes removed, a missing path as nothing), outside quotes the JSON value (a missing path
// as null); whitespace between JSON tokens is dropped so the output is one line. Any other
// template is plain text, and every placeholder inserts string text (objects and arrays as JSON).
// Like EventBridge, values are not escaped further: a string value goes in as it appears inside
// the event's JSON quotes.
//
// A transformer is compiled once (paths parsed, the template split into parts) and applied to
// an EventDocument, the event parsed once for every transformer of every matched rule.
//
// Thread-safety: a compiled InputTransformer is immutable and may be shared; an EventDocument
// belongs to one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cdc {

// A rule target's input, as configured. Empty: the target receives the event itself.
struct InputSpec {
  std::optional<std::string> input;
  std::optional<std::string> input_path;
  std::vector<std::pair<std::string, std::string>> input_paths_map;  // name -> JSONPath
  std::optional<std::string> input_template;

  bool empty() const { return !input && !input_path && input_paths_map.empty() && !input_template; }
};

// One problem in an InputSpec. `field` is "input", "input_path", "input_paths_map.<name>",
// "input_paths_map" or "input_template".
struct InputSpecError {
  std::string field;
  std::string message;
};

inline constexpr size_t kMaxInputPaths = 100;

// Every problem in `spec` (empty when it compiles).
std::vector<InputSpecError> ValidateInputSpec(const InputSpec& spec);

// Checks one JSONPath: `$`, then `.name`, `['name']`, `[N]`, `.*` or `[*]` steps.
Status ValidateJsonPath(std::string_view path);

// The made-up ARN of a rule: arn:aws:events:<region>:<account>:rule/<bus>/<rule>.
std::string RuleArn(std::string_view region, std::string_view account, std::string_view bus,
                    std::string_view rule);

// The event (EventBridge JSON), parsed for input transformers. Reused from event to event.
class EventDocument {
 public:
  EventDocument();
  ~EventDocument();
  EventDocument(const EventDocument&) = delete;
  EventDocument& operator=(const EventDocument&) = delete;

  Status Parse(std::string_view event_json);

 private:
  friend class InputTransformer;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class InputTransformer {
 public:
  struct Rule {
    std::string name;
    std::string arn;
  };

  // Fails with the first of ValidateInputSpec's errors ("<field>: <message>").
  static Result<std::unique_ptr<const InputTransformer>> Compile(const InputSpec& spec, Rule rule);
  ~InputTransformer();

  // Replaces `out` with the text for the target. `event` must have been parsed.
  void Apply(const EventDocument& event, std::string& out) const;

  struct Compiled;

 private:
  explicit InputTransformer(std::unique_ptr<Compiled> compiled);
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace cdc
