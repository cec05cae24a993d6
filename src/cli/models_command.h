// `cdc-pipeline models`: data models of the captured tables (docs/models.md).
//
//   models derive --dsn DSN --table T [--out FILE] [--version N]
//       writes a model from the PostgreSQL catalog: types, nullability, primary key, and PII
//       classes guessed from column names (marked as guesses)
//   models export --format jsonschema --out DIR [-c CONFIG]
//       writes a JSON Schema (draft 2020-12) of each table's event detail
//
// Registered on the application in one call and run after parsing, so main.cc needs two lines.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace cdc {

class ModelsCommand {
 public:
  // Adds `models` and its subcommands to `app`; `config_path` is the shared -c/--config value.
  ModelsCommand(CLI::App& app, std::string& config_path);
  ModelsCommand(const ModelsCommand&) = delete;
  ModelsCommand& operator=(const ModelsCommand&) = delete;

  // Whether the command line chose `models`.
  bool parsed() const { return models_ != nullptr && models_->parsed(); }
  // Runs the chosen subcommand; the exit code (0 ok, 1 failure, 2 usage).
  int Run();

 private:
  int Derive();
  int Export();

  std::string& config_path_;
  CLI::App* models_ = nullptr;
  CLI::App* derive_ = nullptr;
  CLI::App* export_ = nullptr;
  std::string dsn_;
  std::string table_;
  std::string out_;
  int64_t version_ = 1;
  std::string format_;
  std::string out_dir_;
};

}  // namespace cdc
