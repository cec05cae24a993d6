#include "cli/models_command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/dsn.h"
#include "base/scrub.h"
#include "config/config.h"
#include "config/registry.h"
#include "process/model/model.h"
#include "process/schema_export.h"

namespace cdc {
namespace {

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace

ModelsCommand::ModelsCommand(CLI::App& app, std::string& config_path) : config_path_(config_path) {
  models_ = app.add_subcommand(
      "models",
      "Data models of the captured tables: derive one from PostgreSQL, or export JSON "
      "Schemas of the event details (docs/models.md)");
  models_->require_subcommand(1);

  derive_ = models_->add_subcommand(
      "derive",
      "Write a model (YAML) of a table from the PostgreSQL catalog: types, nullability, primary "
      "key, and PII classes guessed from column names (marked as guesses)");
  derive_->add_option("--dsn", dsn_, "Database (libpq connection string); default: $COREDB_DSN");
  derive_->add_option("--table", table_, "The table: name or schema.name")->required();
  derive_->add_option("--out", out_, "Write the model to FILE instead of standard output");
  derive_->add_option("--version", version_, "The model's version")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{UINT32_MAX} - 1));

  export_ = models_->add_subcommand(
      "export",
      "Write a JSON Schema (draft 2020-12) of each configured table's event detail, as "
      "consumers receive it (after redaction and transforms), to DIR/<table>.schema.json");
  export_->add_option("-c,--config", config_path_, "Configuration file")->capture_default_str();
  export_->add_option("--format", format_, "Schema format: jsonschema")
      ->required()
      ->check(CLI::IsMember({"jsonschema"}));
  export_->add_option("--out", out_dir_, "Directory to write the schemas to (created if missing)")
      ->required();
}

int ModelsCommand::Run() {
  if (derive_->parsed()) return Derive();
  if (export_->parsed()) return Export();
  return 2;
}

int ModelsCommand::Derive() {
  const SourceKind* source = BuiltinRegistry().ModelSource();
  if (source == nullptr) {
    std::fprintf(stderr,
                 "models derive: this build has no source that derives models from a catalog "
                 "(build with PostgreSQL: cmake -DCDC_WITH_POSTGRES=ON)\n");
    return 1;
  }
  std::optional<std::string> dsn_or = DsnFromArgOrEnv(dsn_);
  if (!dsn_or) return 2;
  std::vector<std::string> guessed;
  auto yaml = source->derive_model(*dsn_or, table_, static_cast<uint32_t>(version_), guessed);
  if (!yaml.ok()) {
    std::fprintf(stderr, "models derive: %s\n", ScrubSecrets(yaml.status().message()).c_str());
    return 1;
  }
  std::string guesses;
  for (const auto& g : guessed) guesses += (guesses.empty() ? "" : ", ") + g;
  if (out_.empty()) {
    std::fputs(yaml->c_str(), stdout);
  } else {
    Status s = WriteTextFile(out_, *yaml);
    if (!s.ok()) {
      std::fprintf(stderr, "models derive: %s\n", s.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %s\n", out_.c_str());
  }
  std::fprintf(stderr, "PII guessed from column names (check them): %s\n",
               guesses.empty() ? "none" : guesses.c_str());
  return 0;
}

int ModelsCommand::Export() {
  LoadResult r = LoadConfig(config_path_);
  if (!r.config) {
    for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "%zu error(s) in the configuration\n", r.errors.size());
    return 1;
  }
  int written = 0;
  for (const auto& t : r.config->tables) {
    auto schema = DetailJsonSchema(*r.config, t);
    if (!schema.ok()) {
      std::fprintf(stderr, "tables.%s: %s\n", t.name.c_str(), schema.status().message().c_str());
      return 1;
    }
    std::string path = (std::filesystem::path(out_dir_) / SchemaFileName(t)).string();
    Status s = WriteTextFile(path, *schema);
    if (!s.ok()) {
      std::fprintf(stderr, "models export: %s\n", s.message().c_str());
      return 1;
    }
    std::string what = t.model ? "model " + t.model->Label() : "no model: rows not described";
    std::printf("%s  (%s)\n", path.c_str(), what.c_str());
    ++written;
  }
  std::fprintf(stderr, "wrote %d JSON Schema(s) (draft 2020-12) to %s\n", written,
               out_dir_.c_str());
  return 0;
}

}  // namespace cdc
