// `cdc-pipeline deploy render`: the CloudFormation template (plain CloudFormation, JSON) of the
// serverless deployment of a config, and the parameter file of each environment. What the
// template holds and why: docs/deploy.md.
//
// The output is a function of the config and the environment only (no clock, no host, no
// randomness): the same config renders to the same bytes, which the golden files
// tests/data/deploy/template-prod.json and template-native-targets.json pin down. Secrets (the
// credentials of http targets) never are in it: they become NoEcho parameters, which
// RenderParameters leaves out.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace cdc::deploy {

enum class Environment { kDev, kStaging, kProd };

// "dev", "staging" or "prod"; InvalidArgument naming the three otherwise.
Result<Environment> ParseEnvironment(std::string_view name);
std::string_view EnvironmentName(Environment env);

// Values the template's functions are wired with (read from the config, and for the names the
// original system took from the environment, from there: KINESIS_STREAM_NAME, STATE_TABLE_NAME).
struct DeployNames {
  std::string stream;       // the Kinesis stream
  std::string state_table;  // the DynamoDB state table
  std::string lease_table;  // the KCL-shaped lease table of the capture process
  std::string bus;          // the EventBridge bus
};
DeployNames ResolveNames(const Config& config);

// The event source mappings' BatchSize default: the original's BATCH_SIZE (docs/deploy.md).
inline constexpr int kDefaultBatchSize = 100;
// Retries of a failed batch (after bisecting) before it goes to the function's DLQ.
inline constexpr int kMaximumRetryAttempts = 10;

// The template (pretty-printed JSON, newline-terminated). Rule targets of the kinds EventBridge
// delivers to (eventbridge, kinesis, http) are rendered as such, the others as SQS queues
// (docs/deploy.md "Rule targets"). InvalidArgument when the config holds something the template
// cannot express (a rule pattern with a non-integer number, an http target on http://, an
// eventbridge target on the bus its rules are on).
Result<std::string> RenderTemplate(const Config& config, Environment env);

// The parameter file of `env` for `aws cloudformation create-stack --parameters file://...`:
// [{"ParameterKey": ..., "ParameterValue": ...}, ...], pretty-printed. Every parameter of the
// template but the secrets (NoEcho), which are given at deploy time.
std::string RenderParameters(const Config& config, Environment env);

// The functions the template deploys (the tables' `function` names), in config order.
std::vector<std::string> FunctionNames(const Config& config);

// "processUserChanges" -> "ProcessUserChanges"; "catalog-service" -> "CatalogService": a
// CloudFormation logical id part (letters and digits only).
std::string LogicalId(std::string_view name);

}  // namespace cdc::deploy
