// `cdc-pipeline replay --archive NAME --start T --end T [--rule R] [--name REPLAY_NAME]`: sends
// the archived events with an event time in [start, end) through the rules again, with
// "replay-name" added, as EventBridge's StartReplay does (src/runtime/replay.h). T is RFC 3339
// (2026-11-25T10:00:00Z) or epoch seconds. Progress goes to stderr (a bar on a terminal, else a
// line a second), then a summary; stdout is left to stdout targets.
//
// Registered on the application in one call and run after parsing, like ModelsCommand.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace cdc {

// A replay bound: RFC 3339 with an offset, or whole seconds since the epoch. Micros, or nullopt.
std::optional<int64_t> ParseReplayTime(std::string_view text);

class ReplayCommand {
 public:
  // Adds `replay` to `app`; `config_path` is the shared -c/--config value.
  ReplayCommand(CLI::App& app, std::string& config_path);
  ReplayCommand(const ReplayCommand&) = delete;
  ReplayCommand& operator=(const ReplayCommand&) = delete;

  bool parsed() const { return replay_ != nullptr && replay_->parsed(); }
  // Runs the replay with the loaded config; the exit code (0 ok, 1 failure, 2 bad arguments).
  int Run(const Config& config);

 private:
  std::string& config_path_;
  CLI::App* replay_ = nullptr;
  std::string archive_;
  std::string start_;
  std::string end_;
  std::string rule_;
  std::string name_;
};

}  // namespace cdc
