// Loading config text in tests: no process environment, no .env, only the given variables.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace cdc::testing {

// The rules and targets sections of a minimal config: every event to one stdout target.
inline constexpr const char* kRouteAllToStdout = R"(
rules:
  all:
    event_pattern: {source: [cdc.coredb]}
    targets: [out]
targets:
  out:
    type: stdout
)";

inline EnvOptions IsolatedEnv(std::map<std::string, std::string> vars = {}) {
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = std::move(vars);
  return env;
}

// Loads `yaml` as the file "test.yaml".
inline LoadResult LoadYaml(const std::string& yaml, std::map<std::string, std::string> vars = {}) {
  return LoadConfigFromString(yaml, "test.yaml", IsolatedEnv(std::move(vars)));
}

// Every error, one per line, for failure messages and substring checks.
inline std::string ErrorLines(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

}  // namespace cdc::testing
