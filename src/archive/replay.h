// Replay (EventBridge's StartReplay): the events of an archive whose event time lies in
// [start, end) go through the rules again, each with the top-level field "replay-name" added
// (so a rule can leave replays out with `"replay-name": [{"exists": false}]`). This header holds
// what a replay is asked and reports, and its names; runtime/replay.h runs it, through the same
// assembly of targets and rules as `run`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace cdc::archive {

struct ReplayRequest {
  std::string archive;
  int64_t start_micros = 0;  // event time, inclusive
  int64_t end_micros = 0;    // exclusive
  std::string rule;          // empty: every enabled rule of the config
  std::string name;          // empty: DefaultReplayName(archive, start)
};

struct ReplayProgress {
  uint64_t total = 0;          // archived events to read
  uint64_t read = 0;           // read so far
  uint64_t in_window = 0;      // read, with an event time in [start, end)
  uint64_t matched = 0;        // of those, matched by at least one rule
  uint64_t delivered = 0;      // deliveries (an event sent to two targets counts twice)
  uint64_t dead_lettered = 0;  // deliveries that went to the dead-letter file
};

struct ReplayReport {
  std::string name;
  std::string archive_dir;
  bool archive_missing = false;  // nothing was ever archived: nothing to replay
  ReplayProgress progress;
  std::vector<std::string> rules;             // the rules the events went through
  std::map<std::string, uint64_t> delivered;  // per target
};

// "<archive>-<start as 20261125T100000Z>", the archive part shortened to keep AWS's 64
// characters.
std::string DefaultReplayName(std::string_view archive, int64_t start_micros);

// `event_json` with `,"replay-name":"<name>"` added as its last top-level field (`name` follows
// the replay name rule, so it needs no escaping).
std::string AddReplayName(std::string_view event_json, std::string_view name);

// Checks the request against the config: the archive exists, end is after start, the rule (when
// given) exists and is enabled, the name follows AWS's rule. InvalidArgument says what to fix.
Status CheckReplayRequest(const Config& config, const ReplayRequest& request);

}  // namespace cdc::archive
