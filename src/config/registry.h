// The registry of component kinds: every kind of source, target, stream and state store is one
// descriptor (its name, description, config fields, option parser, capabilities and factory),
// and every command a folder adds to the CLI one CommandKind, registered by one call from its
// own folder (src/registry/ lists the built-in ones). The loader parses a kind's section
// with its fields and parser; config-reference, validate-config, health-check and the runtime
// iterate the registry, so nothing outside a kind's folder names it.
//
// A loaded Config keeps the kind of each source and target (TargetConfig::kind), so what a kind
// parsed is only ever built by the same kind.
//
// Thread-safety: filled once before use (BuiltinRegistry), then read-only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/fields.h"

namespace cdc {

class Target;
class Source;
struct Config;
struct SourceLocation;
struct TargetConfig;
struct StreamConfig;
struct StateConfig;
namespace stream {
class Stream;
class ShardAssigner;
}  // namespace stream
namespace state {
class StateStore;
}

// The base of a kind's own options (FileTargetOptions, PostgresSourceOptions, ...): the parsed
// values of the fields the kind declares. Immutable once parsed.
class KindOptions {
 public:
  virtual ~KindOptions() = default;
};

// What a kind's parser reads its section with: the loader's reader over one YAML mapping, which
// already rejected unknown keys, missing required keys and values of the wrong type or below
// their bounds. Every string has its ${VAR} expanded. Errors carry the file and line.
class OptionsReader {
 public:
  virtual ~OptionsReader() = default;
  // "targets.hook", "source": for messages.
  virtual const std::string& path() const = 0;
  virtual bool Has(std::string_view key) const = 0;
  virtual SourceLocation Where(std::string_view key) const = 0;
  // Each leaves `out` unchanged when the key is absent or wrong (then an error was reported).
  virtual void String(std::string_view key, std::string& out) = 0;
  virtual void Int(std::string_view key, int64_t& out) = 0;
  virtual void Bool(std::string_view key, bool& out) = 0;
  // What a StringMap check says of an entry it refuses, and whether the key or the value is
  // wrong (for the line reported).
  struct EntryError {
    std::string message;
    bool at_value = false;
  };
  using EntryCheck =
      std::function<std::optional<EntryError>(const std::string& key, const std::string& value)>;
  // A kStringMap field: its entries in file order, values expanded; an entry that `check`
  // refuses is reported ("'<path>.<key>.<name>': <message>") and left out.
  virtual void StringMap(std::string_view key,
                         std::vector<std::pair<std::string, std::string>>& out,
                         const EntryCheck& check) = 0;
  virtual void Error(std::string_view key, std::string message) = 0;
};

struct KindSpec {
  std::string_view name;  // the `type` value
  std::string_view description;
  // The kind's fields, without `type`. A target's `format`, `retry` and `queue_size` are read by
  // the loader itself when the kind declares them (kFormatField, kRetryField, kQueueSizeField).
  std::vector<config::FieldSpec> fields;
  std::function<std::shared_ptr<const KindOptions>(OptionsReader&)> parse;
};

struct TargetCapabilities {
  // The target can go back to a durable cursor after a crash (Target::Cursor/Reconcile), so it
  // receives each event exactly once; otherwise at least once, with the same ids.
  bool exactly_once = false;
  // Each target of the kind gets its own worker thread and bounded queue (network endpoints).
  bool queued = false;
  // It may receive a rule target's dead letters (`rules.<name>.targets[].dead_letter`).
  bool dead_letter_sink = false;
};

struct TargetKind {
  KindSpec spec;
  TargetCapabilities caps;
  Result<std::unique_ptr<Target>> (*build)(const TargetConfig& config) = nullptr;
  // A short text for health-check and logs, without secrets (e.g. "file /var/x.jsonl").
  std::string (*describe)(const TargetConfig& config) = nullptr;
};

struct SourceCapabilities {
  bool ordered = false;          // changes come in commit order with ordered positions
  bool full_row_images = false;  // UPDATE/DELETE carry the old row (with REPLICA IDENTITY FULL)
  // The source captures only what it is asked for, so a change of a type a table does not
  // publish is routine (filtered and counted) rather than a producer's mistake (dead-lettered).
  bool supports_filtering = false;
  // validate-config also checks the source itself (e.g. a database's tables and slot); when it
  // cannot be reached, validate-config notes it and still succeeds.
  bool check_on_validate = false;
};

// One finding of a kind's part of `verify-data`: a problem with its remedy, or what is fine.
struct DataDirFinding {
  bool problem = false;
  std::string what;
  std::string remedy;  // for problems
};

struct SourceKind {
  KindSpec spec;
  SourceCapabilities caps;
  Result<std::unique_ptr<Source>> (*build)(const Config& config) = nullptr;
  // For logs and health-check, without secrets: "PostgreSQL (slot s, publication p)".
  std::string (*describe)(const Config& config) = nullptr;
  // Sources that read change-event files: the options that read `path` ("-" = stdin), for
  // `run --input` and `invoke --event`. Null for the others.
  std::shared_ptr<const KindOptions> (*file_options)(const std::string& path) = nullptr;
  // Sources with a catalog: the data model (models/<table>.yaml text) of `table` ("name" or
  // "schema.name") as the database describes it, for `models derive`; the names of the fields
  // whose `pii` class was guessed go to `guessed`. Null for the others.
  Result<std::string> (*derive_model)(const std::string& dsn, const std::string& table,
                                      uint32_t version,
                                      std::vector<std::string>& guessed) = nullptr;
  // For `verify-data`, read-only and without connecting: what the source keeps in the data dir
  // (the PostgreSQL source: its slot's owner record) against the data dir's pipeline id (empty
  // when the state store has none). Null when the source keeps nothing there.
  std::vector<DataDirFinding> (*verify_data)(const Config& config,
                                             const std::string& pipeline_id) = nullptr;
};

// A command a kind's folder brings to the CLI beside the built-in ones (`cdc-pipeline generate`
// from src/workload). The CLI adds one subcommand per registered command, with its options.
struct CommandOption {
  std::string_view name;  // "--rate"
  std::string_view help;
  enum class Type { kString, kNumber, kFlag } type = Type::kString;
  std::string_view default_value;  // the value when absent (shown in --help); empty: none
};

// The options of one invocation: each option's value as given (or its default), a flag "true"
// or "false".
class CommandArgs {
 public:
  void Set(std::string name, std::string value);
  // The value of `name` ("--rate"); empty when absent without a default.
  const std::string& Get(std::string_view name) const;
  double Number(std::string_view name) const;  // a kNumber option, checked by the CLI
  bool Flag(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

struct CommandKind {
  std::string_view name;
  std::string_view description;
  std::vector<CommandOption> options;
  // Runs the command; its exit code. `stop` turns true on SIGINT/SIGTERM/SIGHUP.
  int (*run)(const CommandArgs& args, const std::atomic<bool>& stop) = nullptr;
  // The command reads the pipeline's configuration: the CLI gives it `-c/--config` like its own
  // commands (and CDC_CONFIG), passed as the value of "--config".
  bool takes_config = false;
};

// The stream between the source and the processors (`stream.type`). The loader reads the fields
// every stream has (`enabled`, `shards`, `max_unprocessed_bytes`) and the kind's own.
struct StreamKind {
  KindSpec spec;
  // Opens (creating) the stream the config describes; `data_dir` is the pipeline's data dir.
  Result<std::unique_ptr<stream::Stream>> (*open)(const StreamConfig& config,
                                                  const std::string& data_dir) = nullptr;
  // For logs and status, without secrets: "embedded log /data/stream".
  std::string (*describe)(const StreamConfig& config, const std::string& data_dir) = nullptr;
  // The kind's own way for `run --role process` processes to share the shards (a Kafka
  // consumer group), joined as `member` ("pid N on host H"); null: none.
  Result<std::unique_ptr<stream::ShardAssigner>> (*open_assigner)(const StreamConfig& config,
                                                                  const std::string& pipeline_name,
                                                                  std::string member) = nullptr;
};

// The state store: checkpoints, delivery cursors, leases (`state.type`). The loader reads the
// fields every store has (`checkpoint_interval_ms`, `dedupe_ttl_hours`) and the kind's own.
struct StateKind {
  KindSpec spec;
  // Opens (creating) the store and takes its lease as `owner`.
  Result<std::unique_ptr<state::StateStore>> (*open)(const StateConfig& config,
                                                     const std::string& owner,
                                                     int64_t now_micros) = nullptr;
  // Opens an existing store to read it, without a lease (status, verify-data).
  Result<std::unique_ptr<state::StateStore>> (*open_read_only)(const StateConfig& config) = nullptr;
  std::string (*describe)(const StateConfig& config) = nullptr;
  // The file the store keeps, for kinds that keep one (verify-data tells a store that was never
  // created from one it cannot open); null for stores elsewhere (a database service).
  std::string (*local_file)(const StateConfig& config) = nullptr;
  // The store keeps last row images (StateStore::OpenLastImages), which
  // `tables.<name>.unchanged_toast: last_image` needs; the loader refuses that setting otherwise.
  bool keeps_last_images = false;
};

class Registry {
 public:
  // Kinds are listed (config-reference, `type` choices) in the order they were added. Adding a
  // name twice is a programming error.
  void AddTarget(TargetKind kind);
  void AddSource(SourceKind kind);
  void AddStream(StreamKind kind);
  void AddState(StateKind kind);
  void AddCommand(CommandKind kind);

  const TargetKind* FindTarget(std::string_view name) const;
  const SourceKind* FindSource(std::string_view name) const;
  const StreamKind* FindStream(std::string_view name) const;
  const StateKind* FindState(std::string_view name) const;
  // The first source kind that reads change-event files, or null.
  const SourceKind* FileSource() const;
  // The first source kind that derives data models from its catalog, or null.
  const SourceKind* ModelSource() const;
  const std::vector<std::unique_ptr<TargetKind>>& targets() const { return targets_; }
  const std::vector<std::unique_ptr<SourceKind>>& sources() const { return sources_; }
  const std::vector<std::unique_ptr<StreamKind>>& streams() const { return streams_; }
  const std::vector<std::unique_ptr<StateKind>>& states() const { return states_; }
  const std::vector<std::unique_ptr<CommandKind>>& commands() const { return commands_; }
  std::vector<std::string_view> TargetNames() const;
  std::vector<std::string_view> SourceNames() const;
  std::vector<std::string_view> StreamNames() const;
  std::vector<std::string_view> StateNames() const;

 private:
  std::vector<std::unique_ptr<TargetKind>> targets_;
  std::vector<std::unique_ptr<SourceKind>> sources_;
  std::vector<std::unique_ptr<StreamKind>> streams_;
  std::vector<std::unique_ptr<StateKind>> states_;
  std::vector<std::unique_ptr<CommandKind>> commands_;
};

// The registry with every kind built into this binary. Defined in src/registry (cdc_builtin),
// which links them all; a program or test that uses it links cdc_builtin.
const Registry& BuiltinRegistry();

// Fields the loader reads for any target kind that declares them.
extern const config::FieldSpec kFormatField;
extern const config::FieldSpec kRetryField;
extern const config::FieldSpec kQueueSizeField;

}  // namespace cdc
