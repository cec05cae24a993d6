// The validated configuration: plain values, no YAML. Built by LoadConfig (loader.cc) from
// config/cdc-pipeline.yaml. Every field is declared once in schema.cc, with its type, default and
// description; the same table parses, rejects unknown keys and generates docs/configuration.md.
//
// Thread-safety: immutable once loaded; share as std::shared_ptr<const Config>.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "bus/input_transformer.h"
#include "config/registry.h"
#include "event/change_event.h"
#include "process/model/model.h"
#include "process/transform/transform.h"

namespace cdc {

// Where a value came from, for error messages: "config/cdc-pipeline.yaml:12:5".
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  std::string ToString() const;
};

struct ConfigError {
  SourceLocation where;
  std::string message;
  std::string ToString() const;  // "file:line:col: message"
};

struct PipelineConfig {
  std::string name = "coredb";
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string log_format = "text";      // text or json
  int64_t shutdown_timeout_ms = 10000;  // SIGTERM: drain in-flight events at most this long
};

struct BusConfig {
  std::string name = "cdc-events";
  std::string source = "cdc.coredb";
  std::string account = "000000000000";
  std::string region = "local";
};

// `source`: the kind (a registered source kind, see config/registry.h) and its own options.
struct SourceConfig {
  std::string type = "json";
  const SourceKind* kind = nullptr;  // set by the loader
  std::shared_ptr<const KindOptions> options;
  SourceLocation where;

  // The kind's options as its own type (null when they are of another type).
  template <typename T>
  const T* OptionsAs() const {
    return dynamic_cast<const T*>(options.get());
  }
};

// One column's redaction policy: `email: mask:email`, or the long form
// `notes: {rule: hash, detect: [email, phone]}`. Checked at load (rule syntax, detector names,
// keys for `hash`); the redact library turns it into a redact::ColumnRule.
struct RedactColumnConfig {
  std::string column;
  std::string rule;                 // "" when the column only has detectors
  std::vector<std::string> detect;  // detector names: email, card, phone, ssn, ip
  SourceLocation where;
};

// One step of a table's `transforms` list, checked at load (see process/transform/transform.h).
struct TransformConfig {
  transform::StepSpec spec;
  SourceLocation where;
};

struct TableConfig {
  std::string name;
  std::string schema = "public";
  std::string function;  // processor name, e.g. processUserChanges
  std::vector<Op> event_types;
  std::vector<std::string> primary_key;
  std::string pii = "none";                  // none | personal | payment | financial | auth
  std::string replica_identity = "default";  // default | full (the pipeline sets FULL)
  // What a SCHEMA_CHANGE event of the table becomes: publish | dead_letter.
  std::string schema_changes = "publish";
  // An UPDATE's TOASTed value that did not change (PostgreSQL does not send it without
  // REPLICA IDENTITY FULL): mark (left out of `after`, named in detail.metadata.unchangedToast)
  // | last_image (filled from the key's last row image kept in the state store).
  std::string unchanged_toast = "mark";
  std::string description;
  std::vector<RedactColumnConfig> redact;  // in file order
  // capture | processor. The loader resolves the default: capture when `pii` is not none.
  std::string redact_at = "processor";
  // The data model (tables.<name>.model): the path as configured, relative to the config file's
  // directory, and the model read from it. Null without one.
  std::string model_path;
  std::shared_ptr<const model::Model> model;
  std::vector<TransformConfig> transforms;  // in order
  // Columns of the stream partition key, as captured (before transforms). Empty: the primary key.
  std::vector<std::string> partition_key;
  SourceLocation where;
};

struct RuleConfig {
  std::string name;
  std::string description;
  std::string event_pattern;  // JSON text
  SourceLocation pattern_where;
  bool enabled = true;
  std::vector<std::string> targets;
  std::vector<SourceLocation> target_where;  // one per entry of `targets`
  // One per entry of `targets`: what the target receives instead of the whole event (`input`,
  // `input_path`, `input_transformer`), checked at load. Empty: the event itself.
  std::vector<InputSpec> target_inputs;
  // One per entry of `targets`: the file target that receives this rule target's failed
  // deliveries (`dead_letter`), or "" for the pipeline's dead-letter file.
  std::vector<std::string> target_dead_letters;
  std::vector<SourceLocation> target_dead_letter_where;
  SourceLocation where;
};

// How a target's failed deliveries are retried (EventBridge's RetryPolicy): attempts stop at
// `max_attempts` (the first delivery included) or once the event has waited
// `max_event_age_seconds` since its first attempt; then the event is dead-lettered.
struct RetryConfig {
  int64_t max_attempts = 185;
  int64_t max_event_age_seconds = 86400;
  int64_t initial_backoff_ms = 100;  // the wait before the second attempt, doubling (jittered)
  int64_t max_backoff_ms = 30000;
};

// An EventBridge archive (`archives:` list): every published event that matches `event_pattern`
// (every event when it is empty) is kept in <data_dir>/archives/<name>/ for `replay`.
struct ArchiveConfig {
  std::string name;  // AWS's rule: 1-48 characters of [.-_A-Za-z0-9]
  std::string description;
  std::string event_pattern;  // JSON text; empty = every event
  SourceLocation pattern_where;
  int64_t retention_days = 0;  // 0 = keep forever
  SourceLocation where;
};

// AWS's naming rules: an archive name has 1 to 48 characters, a replay name 1 to 64, each a
// letter, a digit, '.', '-' or '_'.
bool ValidArchiveName(std::string_view name);
bool ValidReplayName(std::string_view name);
// The pipeline feeds each archive through a hidden rule and target named "archive:<name>"; user
// rules and targets cannot start with this prefix.
inline constexpr std::string_view kReservedArchivePrefix = "archive:";
inline std::string ArchiveRuleName(std::string_view archive) {
  return std::string(kReservedArchivePrefix) + std::string(archive);
}

// `targets.<name>`: the kind (a registered target kind, see config/registry.h), the fields the
// delivery runner uses, and the kind's own options (a file's path, an endpoint's URL, ...).
struct TargetConfig {
  std::string name;
  std::string type;
  const TargetKind* kind = nullptr;  // set by the loader
  std::shared_ptr<const KindOptions> options;
  std::string pipeline;  // pipeline.name (a transactional id names its pipeline)
  // The unit of `run --role process` this target delivers for ("shard-3"), else empty: kinds
  // that name their writer (Kafka's transactional.id) add it, so units do not fence each other.
  std::string unit;
  std::string format = "eventbridge";  // eventbridge | cloudevents
  int64_t queue_size = 1000;           // queued kinds: events waiting before the bus waits
  RetryConfig retry;
  SourceLocation where;

  template <typename T>
  const T* OptionsAs() const {
    return dynamic_cast<const T*>(options.get());
  }
};

// An HMAC key of the `hash` rule: where its bytes are ("env:VAR" or "file:/path"). The loader
// only checks the syntax; the key itself is read when the pipeline is built or validated
// (ValidateSemantics), so a config loads without its secrets.
struct RedactionKeyConfig {
  std::string id;
  std::string source;
  SourceLocation where;
};

struct RedactionConfig {
  // The original's ENABLE_PII_REDACTION. When false, no table's policy is applied and the
  // pipeline logs a warning at startup.
  bool enabled = true;
  std::vector<RedactionKeyConfig> keys;  // in file order
  std::string active_key;                // resolved by the loader: the first key by default
  SourceLocation where;
};

// The durable stream between the source and the processors (the Kinesis counterpart): the fields
// every stream kind has, and the kind (`stream.type`, a registered stream kind) with its own.
struct StreamConfig {
  bool enabled = true;  // false: changes go straight to the processors (at-least-once)
  std::string type = "embedded";
  const StreamKind* kind = nullptr;  // set by the loader; null: the embedded log, its defaults
  std::shared_ptr<const KindOptions> options;
  int64_t shards = 4;
  int64_t max_unprocessed_bytes = 256ll << 20;
  // The shards this process reads, by their index in the stream (`run --role process
  // --shards`); empty: all of them. Not a config key.
  std::vector<uint32_t> only_shards;
  std::string pipeline;  // pipeline.name, for kinds that derive names from it (kafka's topic)
  SourceLocation where;

  template <typename T>
  const T* OptionsAs() const {
    return dynamic_cast<const T*>(options.get());
  }
};

// The state store (the DynamoDB counterpart): checkpoints, delivery marks, dedupe keys. The
// fields every kind has, and the kind (`state.type`) with its own.
struct StateConfig {
  std::string type = "sqlite";
  const StateKind* kind = nullptr;  // set by the loader; null: SQLite, its defaults
  std::shared_ptr<const KindOptions> options;
  std::string data_dir;       // the pipeline's, for kinds that keep files there by default
  std::string pipeline_name;  // pipeline.name, for kinds that keep several pipelines in one place
  int64_t checkpoint_interval_ms = 1000;
  int64_t dedupe_ttl_hours = 168;
  SourceLocation where;

  template <typename T>
  const T* OptionsAs() const {
    return dynamic_cast<const T*>(options.get());
  }
};

struct DeadLetterConfig {
  std::string path;  // default: <data_dir>/dead-letter.jsonl
  std::string fsync = "batch";
};

// `admin`: the HTTP server `run` starts for operators (/metrics, /healthz, /readyz,
// /api/status; src/admin). Loopback unless configured otherwise.
struct AdminConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:9400";  // checked by the loader: host:port, [v6]:port
  std::string host = "127.0.0.1";         // parsed from `listen`, without brackets
  int port = 9400;                        // 0: any free port (tests)
  int64_t ready_max_lag_seconds = 0;      // /readyz: source lag bound; 0 = none
  SourceLocation where;
};

// `api`: the local bus served as an EventBridge-compatible API (src/api).
struct ApiConfig {
  std::string listen;              // empty: off; otherwise host:port, [v6]:port
  std::string host = "127.0.0.1";  // parsed from `listen`, without brackets
  int port = 0;                    // 0: any free port (tests)
  // Both set: requests must carry a SigV4 signature made with this key (src/aws/sigv4.h).
  std::string access_key_id;      // never logged
  std::string secret_access_key;  // a secret: never logged
  // Testing: this share (0..100) of the PutEvents entries that would be accepted are answered
  // ThrottlingException instead, without being published.
  int64_t inject_throttling_percent = 0;
  SourceLocation where;

  bool verifies_signatures() const { return !access_key_id.empty(); }

  bool enabled() const { return !listen.empty(); }
};

struct Config {
  std::string file;                    // the file it was loaded from
  const Registry* registry = nullptr;  // the kinds it was loaded with (outlives the config)
  PipelineConfig pipeline;
  BusConfig bus;
  SourceConfig source;
  StreamConfig stream;
  StateConfig state;
  DeadLetterConfig dead_letter;
  AdminConfig admin;
  ApiConfig api;
  RedactionConfig redaction;
  std::vector<TableConfig> tables;      // in file order
  std::vector<RuleConfig> rules;        // in file order
  std::vector<TargetConfig> targets;    // in file order
  std::vector<ArchiveConfig> archives;  // in file order

  const TableConfig* FindTable(std::string_view schema, std::string_view table) const;
  const TableConfig* FindTableByFunction(std::string_view function) const;
  const TargetConfig* FindTarget(std::string_view name) const;
  const ArchiveConfig* FindArchive(std::string_view name) const;
};

// Where ${VAR} values come from: the process environment first, then the .env.local file, then
// the .env file.
struct EnvOptions {
  std::string dotenv_path = ".env";  // and dotenv_path + ".local" before it; missing files are fine
  bool use_process_env = true;
  std::map<std::string, std::string> overrides;  // highest precedence (tests)
};

// Loads and checks a config file. On failure returns every error found (never only the first).
struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is non-empty
  std::vector<ConfigError> errors;
  // When errors is non-empty: what did load (entries with errors left out), so that checks made
  // after loading (event patterns) still report their errors in the same listing. Null when
  // the file is not YAML or not a mapping.
  std::shared_ptr<const Config> partial;
};
// `registry` names the source and target kinds; it must outlive the config.
LoadResult LoadConfig(const std::string& path, const EnvOptions& env = {},
                      const Registry& registry = BuiltinRegistry());
LoadResult LoadConfigFromString(const std::string& yaml, const std::string& file_name,
                                const EnvOptions& env = {},
                                const Registry& registry = BuiltinRegistry());

// Loads one model file (config/models/<table>.yaml; its format is in the configuration
// reference). On failure returns every error with file:line, and no model.
struct ModelLoadResult {
  std::shared_ptr<const model::Model> model;
  std::vector<ConfigError> errors;
};
ModelLoadResult LoadModelFile(const std::string& path, const EnvOptions& env = {});

// The configuration reference (Markdown), generated from the field tables.
std::string ConfigReferenceMarkdown(const Registry& registry = BuiltinRegistry());

// The default processor function name of a table: "process" + singular CamelCase + "Changes"
// (users -> processUserChanges, audit_logs -> processAuditLogChanges,
// inventory -> processInventoryChanges).
std::string DefaultFunctionName(std::string_view table);

}  // namespace cdc
