#include "cli/deploy_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "aws/client.h"
#include "base/scrub.h"
#include "deploy/rollback.h"
#include "deploy/template.h"

namespace cdc {
namespace {

const std::vector<std::string> kEnvironments = {"dev", "staging", "prod"};

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

DeployCommand::DeployCommand(CLI::App& app, std::string& config_path) {
  auto* deploy = app.add_subcommand(
      "deploy", "The serverless deployment: render its CloudFormation template (docs/deploy.md)");
  deploy->require_subcommand(1);
  render_ = deploy->add_subcommand(
      "render",
      "Write the CloudFormation template (template.json) and the environment's parameter file "
      "(params-<env>.json) of the config: stream, state and lease tables, one Lambda function "
      "per table with a version and an alias per environment, bus, rules, queues, alarms, roles");
  render_->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  render_->add_option("--env", env_, "dev | staging | prod")
      ->required()
      ->check(CLI::IsMember(kEnvironments));
  render_->add_option("--out", out_dir_,
                      "Write template.json and params-<env>.json into DIR (it must exist); "
                      "without it the template goes to stdout");
  render_->add_flag("--params", params_only_,
                    "Without --out: print the parameter file instead of the template");

  rollback_ = app.add_subcommand(
      "rollback",
      "Point the environment's alias of every function at another published version (the "
      "Lambda API; credentials and region as the AWS CLI finds them)");
  rollback_->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  rollback_->add_option("--env", rollback_env_, "dev | staging | prod: the alias to move")
      ->required()
      ->check(CLI::IsMember(kEnvironments));
  rollback_
      ->add_option("--version", version_,
                   "previous (the version before the alias's current one), a version number, or "
                   "a release such as v1.2.3 (the ReleaseVersion it was deployed with)")
      ->required();
  rollback_->add_flag("--dry-run", dry_run_,
                      "Read the aliases and versions, print the `aws lambda update-alias` "
                      "commands of the moves, move nothing");
  rollback_->add_option("--function", functions_,
                        "Only this function (repeatable); default: every table's function");
  rollback_->add_option("--region", region_, "AWS region (default: AWS_REGION)");
  rollback_->add_option("--endpoint", endpoint_,
                        "Lambda endpoint URL (default: AWS_ENDPOINT_URL_LAMBDA, "
                        "AWS_ENDPOINT_URL, else AWS's)");
}

int DeployCommand::Render(const Config& config) {
  auto env = deploy::ParseEnvironment(env_);
  if (!env.ok()) {
    std::fprintf(stderr, "%s\n", env.status().message().c_str());
    return 2;
  }
  auto rendered = deploy::RenderTemplate(config, *env);
  if (!rendered.ok()) {
    std::fprintf(stderr, "cannot render the template: %s\n", rendered.status().message().c_str());
    return 1;
  }
  std::string params = deploy::RenderParameters(config, *env);
  if (out_dir_.empty()) {
    std::fputs(params_only_ ? params.c_str() : rendered->c_str(), stdout);
    return 0;
  }
  std::string template_path = out_dir_ + "/template.json";
  std::string params_path = out_dir_ + "/params-" + env_ + ".json";
  if (!WriteText(template_path, *rendered) || !WriteText(params_path, params)) return 1;
  std::printf("wrote %s and %s\n", template_path.c_str(), params_path.c_str());
  return 0;
}

int DeployCommand::Rollback(const Config& config) {
  std::vector<std::string> all = deploy::FunctionNames(config);
  std::vector<std::string> functions = functions_.empty() ? all : functions_;
  for (const auto& f : functions) {
    if (std::find(all.begin(), all.end(), f) == all.end()) {
      std::string known;
      for (const auto& a : all) known += "\n  " + a;
      std::fprintf(stderr, "unknown function '%s'; the configured functions are:%s\n", f.c_str(),
                   known.c_str());
      return 2;
    }
  }
  aws::ClientOptions options;
  options.service = aws::kLambda;
  options.region = region_;
  options.endpoint = endpoint_;
  auto client = aws::JsonClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "rollback: %s\n", client.status().message().c_str());
    return 1;
  }
  auto moves = deploy::PlanRollback(**client, functions, rollback_env_, version_);
  if (!moves.ok()) {
    std::fprintf(stderr, "rollback: nothing moved: %s\n",
                 ScrubSecrets(moves.status().message()).c_str());
    return 1;
  }
  for (const auto& m : *moves) {
    std::string release = m.release.empty() ? "" : " (" + m.release + ")";
    if (m.noop()) {
      std::fprintf(stderr, "%s: alias %s is already at version %s%s\n", m.function.c_str(),
                   m.alias.c_str(), m.to.c_str(), release.c_str());
    } else if (dry_run_) {
      std::printf("%s\n", deploy::UpdateAliasCommand(m).c_str());
    } else {
      std::fprintf(stderr, "%s: alias %s %s -> %s%s\n", m.function.c_str(), m.alias.c_str(),
                   m.from.c_str(), m.to.c_str(), release.c_str());
    }
  }
  if (dry_run_) return 0;
  Status s = deploy::ApplyRollback(**client, *moves);
  if (!s.ok()) {
    std::fprintf(stderr, "rollback failed: %s\n", ScrubSecrets(s.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace cdc
