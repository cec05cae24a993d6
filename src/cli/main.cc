// cdc-pipeline: the command line. Each command is a function taking its parsed options; errors
// are printed with what to fix and turned into exit codes (0 ok, 1 failure, 2 usage).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "api/api_server.h"
#include "archive/archive.h"
#include "base/dsn.h"
#include "base/host.h"
#include "base/logging.h"
#include "base/scrub.h"
#include "base/version.h"
#include "bus/pattern_cli.h"
#include "cli/deploy_command.h"
#include "cli/models_command.h"
#include "cli/replay_command.h"
#include "cli/status.h"
#include "cli/verify_command.h"
#include "config/config.h"
#include "config/registry.h"
#include "event/json_writer.h"
#include "lambda/runtime.h"
#include "runtime/pipeline.h"
#include "runtime/shard_units.h"
#include "state/dynamodb/shard_leases.h"
#include "target/append_file.h"

namespace cdc {
namespace {

constexpr const char* kDefaultConfig = "config/cdc-pipeline.yaml";
bool g_log_level_from_cli = false;
bool g_log_format_from_cli = false;

void PrintErrors(const std::vector<ConfigError>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
  std::fprintf(stderr, "%zu error(s) in the configuration\n", errors.size());
}

// Applies the config's log level and format unless the command line set them.
void ApplyLogSettings(const Config& config) {
  log::Level level;
  if (!g_log_level_from_cli && log::ParseLevel(config.pipeline.log_level, level)) {
    log::SetLevel(level);
  }
  log::Format format;
  if (!g_log_format_from_cli && log::ParseFormat(config.pipeline.log_format, format)) {
    log::SetFormat(format);
  }
}

// Loads and validates the config, applying its log level. Null (errors printed) on failure.
std::shared_ptr<const Config> LoadOrReport(const std::string& path) {
  LoadResult r = LoadAndValidate(path);
  if (!r.config) {
    PrintErrors(r.errors);
    return nullptr;
  }
  ApplyLogSettings(*r.config);
  return r.config;
}

// A Status for the terminal: messages about the source can quote its DSN (libpq does), so they
// pass through the one scrubber (base/scrub.h) like log lines.
std::string Printable(const Status& s) { return ScrubSecrets(s.message()); }

// The running pipeline, stopped by SIGINT, SIGTERM or SIGHUP (Stop only stores atomic flags).
std::atomic<Pipeline*> g_running_pipeline{nullptr};
std::atomic<bool> g_stop{false};

void OnStopSignal(int) {
  g_stop = true;
  if (Pipeline* p = g_running_pipeline.load()) p->Stop();
}

void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed terminal or `kill -HUP` stops cleanly too (final checkpoint, summary, exit 0); the
  // configuration is not reloaded: restart `run` for a new one.
  sigaction(SIGHUP, &sa, nullptr);
}

// The source `run` reads: the configured one, or with `--input FILE` the registry's file source
// (the config copied with its source replaced).
Result<std::unique_ptr<Source>> MakeSource(std::shared_ptr<const Config>& config,
                                           const std::string& input) {
  if (!input.empty()) {
    const SourceKind* file = config->registry->FileSource();
    if (file == nullptr) return Unimplemented("this build has no source that reads files");
    auto copy = std::make_shared<Config>(*config);
    copy->source.type = std::string(file->spec.name);
    copy->source.kind = file;
    copy->source.options = file->file_options(input);
    config = std::move(copy);
  }
  const SourceKind* kind = config->source.kind;
  if (kind == nullptr) return InvalidArgument("unknown source type '" + config->source.type + "'");
  return kind->build(*config);
}

struct RunFlags {
  bool resnapshot = false;
  bool reset_state = false;
  bool adopt_slot = false;
  std::string role = "all";
  std::vector<uint32_t> shards;
};

// `--role` and `--shards` against the config: what the split needs, or an error saying what to
// change.
Status CheckRole(std::shared_ptr<const Config>& config, const std::string& input,
                 const RunFlags& flags, PipelineOptions& options) {
  if (flags.role == "all") {
    if (!flags.shards.empty()) return InvalidArgument("--shards needs --role process");
    return Status::Ok();
  }
  const std::string& type = config->stream.type;
  if (!config->stream.enabled || (type != "kinesis" && type != "kafka")) {
    return InvalidArgument(
        "--role " + flags.role + " needs a stream that processes on other machines can read (" +
        "stream.type: kinesis or kafka); this config's stream is " +
        (config->stream.enabled ? "the embedded log in the data dir" : "disabled"));
  }
  if (flags.role == "capture") {
    if (!flags.shards.empty()) return InvalidArgument("--shards needs --role process");
    options.role = PipelineOptions::Role::kCapture;
    return Status::Ok();
  }
  if (!input.empty()) return InvalidArgument("--role process reads no --input: it has no source");
  for (uint32_t shard : flags.shards) {
    if (shard >= static_cast<uint32_t>(config->stream.shards)) {
      return InvalidArgument("--shards names shard " + std::to_string(shard) +
                             " but the stream has " + std::to_string(config->stream.shards) +
                             " (stream.shards): 0 to " + std::to_string(config->stream.shards - 1));
    }
  }
  options.role = PipelineOptions::Role::kProcess;
  return Status::Ok();
}

// `run --role process`: the units of the shards this process is given (src/runtime/
// shard_units.h): the `--shards` named, else those the stream kind's own assigner gives it (a
// kafka stream's consumer group), else (with a dynamodb state and a kinesis stream) those its
// leases give it, else all.
int RunProcessRole(const std::string& config_path, std::shared_ptr<const Config> config,
                   const RunFlags& flags) {
  std::unique_ptr<stream::ShardAssigner> assigner;
  if (!flags.shards.empty()) {
    assigner = FixedShards(flags.shards);
  } else if (config->stream.kind != nullptr && config->stream.kind->open_assigner != nullptr) {
    auto group =
        config->stream.kind->open_assigner(config->stream, config->pipeline.name, ProcessOwner());
    if (!group.ok()) {
      std::fprintf(stderr, "cannot start: %s\n", Printable(group.status()).c_str());
      return 1;
    }
    assigner = std::move(group).value();
  } else if (config->state.type == "dynamodb" && config->stream.type == "kinesis") {
    auto leases = state::OpenShardLeases(
        config->state, static_cast<uint32_t>(config->stream.shards), ProcessOwner());
    if (!leases.ok()) {
      std::fprintf(stderr, "cannot start: %s\n", Printable(leases.status()).c_str());
      return 1;
    }
    assigner = std::move(leases).value();
  } else {
    std::vector<uint32_t> all;
    for (uint32_t i = 0; i < static_cast<uint32_t>(config->stream.shards); ++i) all.push_back(i);
    assigner = FixedShards(std::move(all));
  }
  ShardUnitsView view;
  std::unique_ptr<admin::ProcessAdminServer> admin_server;
  if (config->admin.enabled) {
    auto started = admin::ProcessAdminServer::Start(config, view);
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start: %s\n", Printable(started.status()).c_str());
      return 1;
    }
    admin_server = std::move(started).value();
  }
  InstallStopHandlers();
  Status s = RunShardUnits(config_path, config, *assigner, g_stop, SystemClock::Instance(), &view);
  if (!s.ok()) {
    std::fprintf(stderr, "pipeline stopped: %s\n", ScrubSecrets(s.ToString()).c_str());
    std::fflush(stderr);
    // A unit's delivery thread may be stuck in a target: end here, destroying nothing.
    std::_Exit(1);
  }
  return 0;
}

int RunCommand(const std::string& config_path, const std::string& input, const RunFlags& flags) {
  auto config = LoadOrReport(config_path);
  if (!config) return 1;
  PipelineOptions options;
  if (Status role = CheckRole(config, input, flags, options); !role.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", role.message().c_str());
    return 2;
  }
  if (options.role == PipelineOptions::Role::kProcess) {
    return RunProcessRole(config_path, config, flags);
  }
  auto source = MakeSource(config, input);
  if (!source.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", Printable(source.status()).c_str());
    return 1;
  }
  if (flags.resnapshot) (*source)->AllowPositionGap();
  if (flags.adopt_slot) (*source)->AdoptPosition();
  const SourceKind& kind = *config->source.kind;
  // A source that captures only what it is asked for: changes of a type a table does not
  // publish are routine (filtered, counted), not a producer's mistake (dead-lettered).
  options.dead_letter_disallowed_types = !kind.caps.supports_filtering;
  options.reset_state = flags.reset_state;
  log::Info("pipeline '{}' {}{}", config->pipeline.name, kind.describe(*config),
            options.role == PipelineOptions::Role::kCapture
                ? " (--role capture: into the stream; processes elsewhere deliver)"
                : "");
  auto pipeline = Pipeline::Build(config, SystemClock::Instance(), options);
  if (!pipeline.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", Printable(pipeline.status()).c_str());
    return 1;
  }
  std::unique_ptr<admin::AdminServer> admin_server;
  if (config->admin.enabled) {
    auto started = admin::AdminServer::Start(config, **pipeline, **source);
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start: %s\n", Printable(started.status()).c_str());
      return 1;
    }
    admin_server = std::move(started).value();
  }
  std::unique_ptr<api::ApiServer> api_server;
  if (config->api.enabled()) {
    auto started = api::ApiServer::Start(config, **pipeline);
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start: %s\n", Printable(started.status()).c_str());
      return 1;
    }
    api_server = std::move(started).value();
  }
  g_running_pipeline = pipeline->get();
  InstallStopHandlers();
  if (g_stop) (*pipeline)->Stop();
  Status s = (*pipeline)->Run(**source);
  g_running_pipeline = nullptr;
  if (api_server) api_server->Stop();
  if (admin_server) admin_server->Stop();
  const PipelineStats& st = (*pipeline)->stats();
  std::string delivered;
  for (const auto& [name, n] : st.delivered) {
    delivered += (delivered.empty() ? "" : ", ") + name + "=" + std::to_string(n);
  }
  std::fprintf(
      stderr,
      "read %llu, published %llu, dead-lettered %llu (%s), filtered %llu, unmatched %llu, "
      "duplicates skipped %llu\n"
      "delivered: %s\n",
      static_cast<unsigned long long>(st.read), static_cast<unsigned long long>(st.published),
      static_cast<unsigned long long>(st.dead_lettered), config->dead_letter.path.c_str(),
      static_cast<unsigned long long>(st.filtered), static_cast<unsigned long long>(st.unmatched),
      static_cast<unsigned long long>(st.duplicates),
      delivered.empty() ? "(no targets)" : delivered.c_str());
  if (st.position_gaps > 0) {
    std::fprintf(stderr, "position gaps accepted: %llu (PositionGap events published)\n",
                 static_cast<unsigned long long>(st.position_gaps));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "pipeline stopped: %s\n", ScrubSecrets(s.ToString()).c_str());
    if (s.code() == StatusCode::kIoError) {
      std::fprintf(stderr,
                   "a local file could not be written or synced (disk full or failing? see "
                   "`df` and `dmesg`). Nothing is lost: PostgreSQL was acknowledged only for "
                   "what reached the disk, and the targets resume from the last checkpoint. "
                   "Fix the disk, then start `run` again.\n");
    }
    // A delivery thread stuck in a target still uses the pipeline: end here, destroying nothing.
    if ((*pipeline)->abandoned()) {
      std::fflush(stderr);
      std::_Exit(1);
    }
    return 1;
  }
  return 0;
}

// Collects the changes of an event file for `invoke`.
class CollectSink final : public ChangeSink {
 public:
  Status OnChange(ChangeEvent change, const RawInput&) override {
    changes.push_back(std::move(change));
    return Status::Ok();
  }
  Status OnInvalid(const RawInput& raw, std::string_view reason) override {
    errors.push_back(std::string(raw.location) + ": " + std::string(reason));
    return Status::Ok();
  }
  Status MakeDurable() override { return Status::Ok(); }
  std::vector<ChangeEvent> changes;
  std::vector<std::string> errors;
};

// `invoke --json`: one JSON object per event, what the text form prints.
std::string RouteJson(const RouteResult& routed) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("event").Raw(routed.event_json);
  w.Key("rules").BeginArray();
  for (const auto& [rule, targets] : routed.rules) {
    if (rule.rfind(kReservedArchivePrefix, 0) == 0) continue;
    w.BeginObject();
    w.Key("rule").String(rule);
    w.Key("targets").BeginArray();
    for (const auto& t : targets) w.String(t);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("archives").BeginArray();
  for (const auto& [rule, targets] : routed.rules) {
    if (rule.rfind(kReservedArchivePrefix, 0) == 0) {
      w.String(rule.substr(kReservedArchivePrefix.size()));
    }
  }
  w.EndArray();
  w.Key("inputs").BeginArray();
  for (const auto& input : routed.inputs) {
    w.BeginObject();
    w.Key("rule").String(input.rule);
    w.Key("target").String(input.target);
    w.Key("input").String(input.text);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

int InvokeCommand(const std::string& config_path, const std::string& function,
                  const std::string& event_file, bool json) {
  auto config = LoadOrReport(config_path);
  if (!config) return 1;
  auto pipeline = Pipeline::Build(config);
  if (!pipeline.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", Printable(pipeline.status()).c_str());
    return 1;
  }
  const TableProcessor* processor = (*pipeline)->processors().FindByFunction(function);
  if (processor == nullptr) {
    std::string known;
    for (const auto& p : (*pipeline)->processors().all()) known += "\n  " + p.function();
    std::fprintf(stderr, "unknown function '%s'; the configured functions are:%s\n",
                 function.c_str(), known.c_str());
    return 1;
  }
  std::shared_ptr<const Config> input_config = config;
  auto source = MakeSource(input_config, event_file);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", Printable(source.status()).c_str());
    return 1;
  }
  CollectSink sink;
  Status s = (*source)->Run(sink);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", Printable(s).c_str());
    return 1;
  }
  for (const auto& e : sink.errors) std::fprintf(stderr, "invalid event: %s\n", e.c_str());
  int rc = sink.errors.empty() ? 0 : 1;
  for (auto& change : sink.changes) {
    const TableConfig& table = processor->table();
    if (change.table != table.name || change.schema != table.schema) {
      std::fprintf(stderr, "the event is for table '%s', but %s processes '%s'\n",
                   change.QualifiedName().c_str(), function.c_str(), table.name.c_str());
      rc = 1;
      continue;
    }
    auto routed = (*pipeline)->Route(std::move(change));
    if (!routed.ok()) {
      std::fprintf(stderr, "%s rejected the event: %s\n", function.c_str(),
                   routed.status().message().c_str());
      rc = 1;
      continue;
    }
    if (json) {
      std::printf("%s\n", RouteJson(*routed).c_str());
      continue;
    }
    std::printf("%s\n", routed->event_json.c_str());
    // The archives' hidden rules (archive:<name>) are shown as what they are.
    auto is_archive = [](const std::string& rule) {
      return rule.rfind(kReservedArchivePrefix, 0) == 0;
    };
    if (std::all_of(routed->rules.begin(), routed->rules.end(),
                    [&](const auto& r) { return is_archive(r.first); })) {
      std::printf("matched rules: none (the event would not be delivered)\n");
    }
    for (const auto& [rule, targets] : routed->rules) {
      if (is_archive(rule)) {
        std::printf("archived in: %s\n", rule.substr(kReservedArchivePrefix.size()).c_str());
        continue;
      }
      std::string list;
      for (const auto& t : targets) list += (list.empty() ? "" : ", ") + t;
      std::printf("matched rule: %s -> targets: %s\n", rule.c_str(), list.c_str());
    }
    for (const auto& input : routed->inputs) {
      std::printf("input transformer of rule %s, target %s: %s\n", input.rule.c_str(),
                  input.target.c_str(), input.text.c_str());
    }
  }
  return rc;
}

// `lambda`: the AWS Lambda custom runtime (src/lambda). Configuration errors go to stderr and
// to the Runtime API's init error.
int LambdaCommand(const std::string& config_path) {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    std::fprintf(stderr,
                 "AWS_LAMBDA_RUNTIME_API is not set: `lambda` is the runtime a Lambda function's "
                 "bootstrap runs (docs/lambda.md); to try a function locally use `invoke`\n");
    return 1;
  }
  LoadResult loaded = LoadAndValidate(config_path);
  if (loaded.config) {
    ApplyLogSettings(*loaded.config);
  } else {
    PrintErrors(loaded.errors);
  }
  lambda::RuntimeOptions options;
  options.api_address = api;
  for (const char* var : {"_HANDLER", "AWS_LAMBDA_FUNCTION_NAME"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') options.function_names.emplace_back(value);
  }
  options.stop = &g_stop;
  InstallStopHandlers();
  return lambda::RunRuntime(loaded, options);
}

// "1 error", "2 errors".
std::string CountErrors(size_t n) { return std::to_string(n) + (n == 1 ? " error" : " errors"); }

int ValidateConfigCommand(const std::string& config_path, bool json) {
  LoadResult r = LoadAndValidate(config_path);
  std::vector<std::string> errors;  // "file:line:col: message"
  for (const auto& e : r.errors) errors.push_back(e.ToString());
  std::string source_note, source_ready;
  // A database source knows things the file cannot say (a table without a primary key): check
  // it when it can be reached, so they are named before anything starts.
  const SourceKind* kind = r.config ? r.config->source.kind : nullptr;
  if (kind != nullptr && kind->caps.check_on_validate) {
    auto source = kind->build(*r.config);
    Status s = source.ok() ? (*source)->CheckHealth() : source.status();
    if (s.code() == StatusCode::kUnavailable) {
      source_note =
          "the database could not be reached, so the tables were not checked: " + Printable(s);
    } else if (!s.ok()) {
      errors.push_back(r.config->source.where.ToString() + ": source: " + Printable(s));
    } else {
      source_ready = kind->describe(*r.config);
    }
  }
  if (json) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("config").String(config_path);
    w.Key("valid").Bool(errors.empty());
    w.Key("errors").BeginArray();
    for (const auto& e : errors) w.String(e);
    w.EndArray();
    if (r.config && errors.empty()) {
      w.Key("tables").Int(static_cast<int64_t>(r.config->tables.size()));
      w.Key("rules").Int(static_cast<int64_t>(r.config->rules.size()));
      w.Key("targets").Int(static_cast<int64_t>(r.config->targets.size()));
      w.Key("archives").Int(static_cast<int64_t>(r.config->archives.size()));
    }
    if (!source_ready.empty()) w.Key("sourceReady").String(source_ready);
    if (!source_note.empty()) w.Key("note").String(source_note);
    w.EndObject();
    std::printf("%s\n", out.c_str());
    return errors.empty() ? 0 : 1;
  }
  if (!r.config) {
    PrintErrors(r.errors);
    std::printf("%s: invalid (%s)\n", config_path.c_str(), CountErrors(r.errors.size()).c_str());
    return 1;
  }
  if (!source_note.empty()) std::printf("note: %s\n", source_note.c_str());
  if (!source_ready.empty()) std::printf("source ready: %s\n", source_ready.c_str());
  if (!errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fflush(stderr);
    std::printf("%s: invalid (%s)\n", config_path.c_str(), CountErrors(errors.size()).c_str());
    return 1;
  }
  std::string archives;
  if (!r.config->archives.empty()) {
    archives = ", " + std::to_string(r.config->archives.size()) +
               (r.config->archives.size() == 1 ? " archive" : " archives");
  }
  std::printf("%s: valid (%zu tables, %zu rules, %zu targets%s)\n", config_path.c_str(),
              r.config->tables.size(), r.config->rules.size(), r.config->targets.size(),
              archives.c_str());
  return 0;
}

int HealthCheckCommand(const std::string& config_path, bool json) {
  std::vector<std::pair<std::string, Status>> checks;
  LoadResult r = LoadAndValidate(config_path);
  if (!r.config) {
    std::string msg;
    for (const auto& e : r.errors) msg += "\n    " + e.ToString();
    checks.push_back({"config " + config_path,
                      InvalidArgument(std::to_string(r.errors.size()) + " error(s):" + msg)});
  } else {
    const Config& c = *r.config;
    checks.push_back({"config " + config_path, Status::Ok()});
    Status dir = MakeDirectories(c.pipeline.data_dir);
    if (dir.ok()) dir = AppendFile::CheckWritable(c.pipeline.data_dir + "/.health-check");
    if (dir.ok()) ::unlink((c.pipeline.data_dir + "/.health-check").c_str());
    checks.push_back({"data_dir " + c.pipeline.data_dir + " writable", dir});
    checks.push_back(
        {"dead_letter " + c.dead_letter.path, AppendFile::CheckWritable(c.dead_letter.path)});
    if (c.source.kind != nullptr) {
      auto source = c.source.kind->build(c);
      checks.push_back({"source (" + c.source.type + "): " + c.source.kind->describe(c),
                        source.ok() ? (*source)->CheckHealth() : source.status()});
    }
    for (const auto& t : c.targets) {
      auto target = BuildTarget(t);
      Status s = target.ok() ? (*target)->CheckHealth() : target.status();
      checks.push_back({"target " + t.name + " (" + DescribeTarget(t) + ")", s});
    }
    for (const auto& a : c.archives) {
      std::string adir = archive::ArchiveDir(c.pipeline.data_dir, a.name);
      Status s = AppendFile::CheckWritable(adir + "/.health-check");
      if (s.ok()) ::unlink((adir + "/.health-check").c_str());
      checks.push_back({"archive " + a.name + " (" + adir + ")", s});
    }
    // While `run` serves its admin server, its own view: source connected, targets healthy,
    // lag within bounds (the same answer as its /readyz).
    auto probe = admin::ProbeRunningPipeline(c);
    if (!probe.ok()) {
      checks.push_back({"running pipeline", probe.status()});
    } else if (*probe) {
      const admin::Readiness& ready = **probe;
      std::string reasons;
      for (const auto& reason : ready.reasons) reasons += (reasons.empty() ? "" : "; ") + reason;
      checks.push_back(
          {"running pipeline ready (http://" + ready.address + "/readyz)",
           ready.ready ? Status::Ok() : Unavailable(reasons.empty() ? "not ready" : reasons)});
    }
  }
  int failed = 0;
  for (const auto& check : checks) failed += check.second.ok() ? 0 : 1;
  if (json) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("healthy").Bool(failed == 0);
    w.Key("checks").BeginArray();
    for (const auto& [name, s] : checks) {
      w.BeginObject();
      w.Key("check").String(name);
      w.Key("ok").Bool(s.ok());
      if (!s.ok()) w.Key("error").String(Printable(s));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::printf("%s\n", out.c_str());
    return failed ? 1 : 0;
  }
  for (const auto& [name, s] : checks) {
    if (s.ok()) {
      std::printf("ok    %s\n", name.c_str());
    } else {
      std::printf("FAIL  %s: %s\n", name.c_str(), Printable(s).c_str());
    }
  }
  if (failed) {
    std::printf("unhealthy: %d of %zu checks failed\n", failed, checks.size());
    return 1;
  }
  std::printf("healthy: %zu checks passed\n", checks.size());
  return 0;
}

}  // namespace
}  // namespace cdc

int main(int argc, char** argv) {
  using namespace cdc;
  CLI::App app{"cdc-pipeline: change data capture from CoreDB to its consumers"};
  app.set_version_flag("--version", std::string("cdc-pipeline ") + CDC_VERSION);
  app.require_subcommand(1);
  // Options of the application (--log-level, --log-format) are accepted after the command too.
  app.fallthrough();
  std::string log_level, log_format;
  app.add_option("--log-level", log_level,
                 "debug | info | warn | error | off (overrides the config)");
  app.add_option("--log-format", log_format,
                 "text | json (one JSON object per line: time, level, message)");

  // CDC_CONFIG names the configuration file when -c/--config does not.
  const char* config_env = std::getenv("CDC_CONFIG");
  std::string config_path = config_env != nullptr && *config_env ? config_env : kDefaultConfig;
  auto add_config = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  };

  auto* run = app.add_subcommand("run", "Run the pipeline: read changes, process, route, deliver");
  add_config(run);
  std::string input;
  run->add_option("--input", input,
                  "Read change events (JSON lines or a JSON array) from FILE, or '-' for stdin, "
                  "instead of the configured source");
  RunFlags run_flags;
  run->add_flag("--resnapshot", run_flags.resnapshot,
                "Accept a position gap (the replication slot was dropped, invalidated or moved "
                "past this pipeline's position): publish a PositionGap event and snapshot every "
                "table again as READ events. Without it, `run` refuses to start on a gap");
  run->add_flag("--reset-state", run_flags.reset_state,
                "Start over when the state store is empty but the data dir holds an earlier "
                "run's stream or target files (the state store was lost): drop the stream's "
                "records, publish a PositionGap event and snapshot every table again, appending "
                "to the target files. Refused when the state store is not empty");
  run->add_option("--role", run_flags.role,
                  "all: capture and deliver in this process; capture: the source into the "
                  "stream only (stream.type kinesis or kafka), for processes elsewhere to "
                  "deliver; process: deliver the stream's shards with no source (--shards, "
                  "else a kafka stream's consumer group or a kinesis stream's DynamoDB leases "
                  "share them, else all)")
      ->check(CLI::IsMember({"all", "capture", "process"}))
      ->capture_default_str();
  run->add_option("--shards", run_flags.shards,
                  "With --role process: the stream's shards this process delivers, e.g. "
                  "--shards 0,1 (each shard in exactly one process; its data dir keeps their "
                  "checkpoints and target files)")
      ->delimiter(',');
  run->add_flag("--adopt-slot", run_flags.adopt_slot,
                "Take over a replication slot this data dir did not create (a pipeline moved to "
                "a new data dir on purpose): stream on from the slot's position, no snapshot");

  auto* status = app.add_subcommand(
      "status",
      "Show source position and lag, stream shards and checkpoints, and per-target pending, "
      "delivered and dead-lettered counts; works while `run` runs and after it stopped");
  add_config(status);
  bool status_json = false;
  status->add_flag("--json", status_json, "Print one JSON object");
  bool status_prometheus = false;
  status->add_flag("--prometheus", status_prometheus,
                   "Print the figures as Prometheus text exposition (cdc_... metrics)");

  auto* invoke = app.add_subcommand(
      "invoke",
      "Run one table's processor and the bus on an event file and print the output "
      "events and the rules they match; delivers nothing");
  add_config(invoke);
  bool invoke_json = false;
  invoke->add_flag("--json", invoke_json,
                   "Print one JSON object per event: the event, its rules and targets, archives "
                   "and transformed inputs");
  std::string function, event_file;
  invoke->add_option("--function", function, "Processor name, e.g. processUserChanges")->required();
  invoke->add_option("--event", event_file, "Change event file (JSON object, array or lines)")
      ->required();

  auto* lambda_cmd = app.add_subcommand(
      "lambda",
      "Run as an AWS Lambda custom runtime (the bootstrap of a function): take Kinesis or "
      "DynamoDB Streams batches from AWS_LAMBDA_RUNTIME_API, run the table's processor and the "
      "bus, deliver, answer batchItemFailures. The function comes from _HANDLER or "
      "AWS_LAMBDA_FUNCTION_NAME (e.g. processUserChanges)");
  add_config(lambda_cmd);

  auto* validate =
      app.add_subcommand("validate-config", "Check the configuration; list every error");
  add_config(validate);
  bool validate_json = false;
  validate->add_flag("--json", validate_json, "Print one JSON object: valid, errors, counts");

  auto* health = app.add_subcommand(
      "health-check",
      "Check config, data directory, source, targets and, while `run` serves, its readiness; "
      "exit 1 naming failures");
  add_config(health);
  bool health_json = false;
  health->add_flag("--json", health_json, "Print one JSON object");

  auto* verify = app.add_subcommand(
      "verify-data",
      "Check the data dir read-only: every stream segment, the state store, the consumer files "
      "against their marks; print each problem with its remedy; exit 1 if any");
  add_config(verify);

  auto* reference =
      app.add_subcommand("config-reference", "Print the configuration reference (Markdown)");

  auto* test_pattern = app.add_subcommand(
      "test-event-pattern",
      "Test an EventBridge event pattern against an event, like `aws events test-event-pattern`: "
      "prints {\"Result\": true} or {\"Result\": false}");
  std::string pattern_arg, event_arg, batch_file;
  test_pattern->add_option("--event-pattern", pattern_arg,
                           "The pattern: inline JSON, @file or file://path");
  test_pattern->add_option("--event", event_arg, "The event: inline JSON, @file or file://path");
  test_pattern->add_option("--batch", batch_file,
                           "JSON lines with `pattern` and `event` fields ('-' for stdin); one "
                           "result per line");

  // Commands the kinds' folders bring (`generate` from src/workload), with their options.
  struct Registered {
    const CommandKind* kind;
    CLI::App* app;
    std::vector<std::string> values;
    std::vector<bool> flags;
  };
  std::vector<Registered> registered;
  registered.reserve(BuiltinRegistry().commands().size());
  for (const auto& kind : BuiltinRegistry().commands()) {
    Registered& r = registered.emplace_back(Registered{
        kind.get(), app.add_subcommand(std::string(kind->name), std::string(kind->description)),
        std::vector<std::string>(kind->options.size()), std::vector<bool>(kind->options.size())});
    if (kind->takes_config) add_config(r.app);
    for (size_t i = 0; i < kind->options.size(); ++i) {
      const CommandOption& o = kind->options[i];
      if (o.type == CommandOption::Type::kFlag) {
        // vector<bool> has no element references: CLI11 writes through a callback.
        r.app->add_flag_callback(
            std::string(o.name), [&flags = r.flags, i] { flags[i] = true; }, std::string(o.help));
        continue;
      }
      r.values[i] = std::string(o.default_value);
      auto* option = r.app->add_option(std::string(o.name), r.values[i], std::string(o.help));
      if (!o.default_value.empty()) option->capture_default_str();
      if (o.type == CommandOption::Type::kNumber) option->check(CLI::Number);
    }
  }

  ModelsCommand models(app, config_path);
  ReplayCommand replay(app, config_path);
  DeployCommand deploy(app, config_path);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2 (CLI11's own codes are mapped).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!log_format.empty()) {
    log::Format format;
    if (!log::ParseFormat(log_format, format)) {
      std::fprintf(stderr, "--log-format must be text or json\n");
      return 2;
    }
    log::SetFormat(format);
    g_log_format_from_cli = true;
  }
  if (!log_level.empty()) {
    log::Level level;
    if (!log::ParseLevel(log_level, level)) {
      std::fprintf(stderr, "--log-level must be debug, info, warn, error or off\n");
      return 2;
    }
    log::SetLevel(level);
    g_log_level_from_cli = true;
  }
  int rc = 0;
  if (*run) rc = RunCommand(config_path, input, run_flags);
  if (*invoke) rc = InvokeCommand(config_path, function, event_file, invoke_json);
  if (*status) {
    auto config = LoadOrReport(config_path);
    rc = config ? StatusCommand(*config, status_prometheus ? StatusFormat::kPrometheus
                                         : status_json     ? StatusFormat::kJson
                                                           : StatusFormat::kText)
                : 1;
  }
  if (*lambda_cmd) rc = LambdaCommand(config_path);
  if (*validate) rc = ValidateConfigCommand(config_path, validate_json);
  if (*verify) {
    auto config = LoadOrReport(config_path);
    rc = config ? VerifyDataCommand(*config) : 1;
  }
  if (*health) rc = HealthCheckCommand(config_path, health_json);
  if (*reference) std::fputs(ConfigReferenceMarkdown().c_str(), stdout);
  if (*test_pattern) {
    if (!batch_file.empty()) {
      rc = RunTestEventPatternBatch(batch_file, stdout, stderr);
    } else if (pattern_arg.empty() || event_arg.empty()) {
      std::fprintf(stderr, "test-event-pattern needs --event-pattern and --event, or --batch\n");
      rc = 2;
    } else {
      rc = RunTestEventPattern(pattern_arg, event_arg, stdout, stderr);
    }
  }
  for (const Registered& r : registered) {
    if (!r.app->parsed()) continue;
    CommandArgs args;
    if (r.kind->takes_config) args.Set("--config", config_path);
    for (size_t i = 0; i < r.kind->options.size(); ++i) {
      const CommandOption& o = r.kind->options[i];
      args.Set(std::string(o.name), o.type == CommandOption::Type::kFlag
                                        ? std::string(r.flags[i] ? "true" : "false")
                                        : r.values[i]);
    }
    InstallStopHandlers();
    rc = r.kind->run(args, g_stop);
  }
  if (models.parsed()) rc = models.Run();
  if (replay.parsed()) {
    auto config = LoadOrReport(config_path);
    rc = config ? replay.Run(*config) : 1;
  }
  if (deploy.render_parsed() || deploy.rollback_parsed()) {
    auto config = LoadOrReport(config_path);
    if (!config) return 1;
    rc = deploy.render_parsed() ? deploy.Render(*config) : deploy.Rollback(*config);
  }
  return rc;
}
