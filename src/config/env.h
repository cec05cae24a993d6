// ${VAR} / ${VAR:-default} expansion from the environment and a .env file. Internal.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cdc::config_internal {

// Parses a .env file: KEY=VALUE lines, optional `export `, # comments, single or double quotes.
std::map<std::string, std::string> ParseDotEnv(std::string_view text);

class EnvLookup {
 public:
  EnvLookup(std::map<std::string, std::string> overrides, std::map<std::string, std::string> dotenv,
            bool use_process_env);
  std::optional<std::string> Get(const std::string& name) const;

 private:
  std::map<std::string, std::string> overrides_;
  std::map<std::string, std::string> dotenv_;
  bool use_process_env_;
};

// Expands ${VAR} and ${VAR:-default} ("$$" is a literal "$"). An unset variable without a
// default is an error naming the variable.
Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env);

}  // namespace cdc::config_internal
