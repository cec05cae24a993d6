// `cdc-pipeline deploy render --env dev|staging|prod [--out DIR] [--params]` and
// `cdc-pipeline rollback --env E --version V [--dry-run] [--function F]...`: the serverless
// deployment of the config (src/deploy, docs/deploy.md). Registered on the application in one
// call and run after parsing, like ReplayCommand.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace cdc {

class DeployCommand {
 public:
  // Adds `deploy render` and `rollback` to `app`; `config_path` is the shared -c/--config value.
  DeployCommand(CLI::App& app, std::string& config_path);
  DeployCommand(const DeployCommand&) = delete;
  DeployCommand& operator=(const DeployCommand&) = delete;

  bool render_parsed() const { return render_ != nullptr && render_->parsed(); }
  bool rollback_parsed() const { return rollback_ != nullptr && rollback_->parsed(); }
  // The exit code (0 ok, 1 failure).
  int Render(const Config& config);
  int Rollback(const Config& config);

 private:
  CLI::App* render_ = nullptr;
  CLI::App* rollback_ = nullptr;
  std::string env_;
  std::string out_dir_;
  bool params_only_ = false;
  std::string rollback_env_;
  std::string version_;
  bool dry_run_ = false;
  std::vector<std::string> functions_;
  std::string region_;
  std::string endpoint_;
};

}  // namespace cdc
