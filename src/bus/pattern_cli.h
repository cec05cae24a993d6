// The `cdc-pipeline test-event-pattern` command without its argument parsing, so the CLI and the
// tests share one implementation. Output follows `aws events test-event-pattern`.
//
// Thread-safety: each call is independent; output goes only to the given streams.
#pragma once

#include <cstdio>
#include <string>

namespace cdc {

// Tests one event against one pattern. Each argument is inline JSON or "@path" to read a file.
// Prints {"Result": true} or {"Result": false} to `out` and returns 0; prints the error to `err`
// and returns 1 when the pattern is invalid, the event is not valid JSON or a file is unreadable.
int RunTestEventPattern(const std::string& pattern_arg, const std::string& event_arg,
                        std::FILE* out, std::FILE* err);

// Tests many pairs: `batch_file` ("-" for stdin) holds one JSON object per line with a "pattern"
// field (a pattern object, or a string holding one) and an "event" field (likewise). Prints one
// line per input line: {"Result": true}, {"Result": false}, or {"Error": "<reason>"} for an
// invalid pair. Blank lines are skipped. Returns 0 if every pair was valid, 1 otherwise.
int RunTestEventPatternBatch(const std::string& batch_file, std::FILE* out, std::FILE* err);

}  // namespace cdc
