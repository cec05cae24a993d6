#include "cli/models_command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/scrub.h"
#include "cli/dsn.h"
#include "config/config.h"
#include "process/model/model.h"
#include "process/schema_export.h"
#ifdef CDC_WITH_POSTGRES
#include "source/postgres/catalog.h"
#include "source/postgres/pg_connection.h"
#endif

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

#ifdef CDC_WITH_POSTGRES

// One column as the catalog describes it.
struct CatalogColumn {
  std::string name;
  std::string type;  // format_type()
  bool not_null = false;
  char typtype = 'b';     // b base, d domain, e enum, c composite, r range, ...
  std::string base_type;  // a domain's base type, or an array-of-domain's element base type
  char element_typtype = 0;
  std::string description;
};

// The model type of a column and, when it only stands in for the PostgreSQL type, a comment
// saying so. Values of enums and types the source does not know decode as text (docs/types.md).
std::pair<model::FieldType, std::string> ModelType(const CatalogColumn& c) {
  bool array = c.type.ends_with("[]");
  if (auto t = model::ParseFieldType(c.type); t.ok()) return {*t, ""};
  if (c.type.starts_with("interval")) {  // "interval day to second": fields are not modelled
    auto t = model::ParseFieldType(array ? "interval[]" : "interval");
    return {*t, "PostgreSQL type " + c.type};
  }
  bool domain = array ? c.element_typtype == 'd' : c.typtype == 'd';
  if (domain && !c.base_type.empty()) {
    if (auto t = model::ParseFieldType(c.base_type + (array ? "[]" : "")); t.ok()) {
      return {*t, "domain " + c.type + " over " + c.base_type};
    }
  }
  bool is_enum = array ? c.element_typtype == 'e' : c.typtype == 'e';
  auto text = model::ParseFieldType(array ? "text[]" : "text");
  return {*text, std::string(is_enum ? "enum " : "PostgreSQL type ") + c.type +
                     ": its values are decoded as text"};
}

Result<std::string> DeriveModelYaml(const std::string& dsn, const std::string& schema,
                                    const std::string& table, uint32_t version,
                                    std::vector<std::string>& guessed) {
  CDC_ASSIGN_OR_RETURN(auto conn, pg::PgConnection::Connect(dsn));
  CDC_ASSIGN_OR_RETURN(
      pg::PgRows rel,
      conn->Query("SELECT c.oid::text AS oid, c.relkind::text AS kind, "
                  "coalesce(obj_description(c.oid, 'pg_class'), '') AS description "
                  "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
                  "c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                  {schema, table}));
  std::string qualified = schema + "." + table;
  if (rel.empty()) {
    return NotFound("table " + qualified + " does not exist in database " + conn->database());
  }
  uint32_t oid = static_cast<uint32_t>(std::stoul(rel.Get(0, "oid").value_or("0")));
  CDC_ASSIGN_OR_RETURN(
      pg::PgRows cols,
      conn->Query("SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, "
                  "a.attnotnull::text AS not_null, t.typtype::text AS typtype, "
                  "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) "
                  "     WHEN et.typtype = 'd' THEN format_type(et.typbasetype, et.typtypmod) "
                  "     ELSE '' END AS base_type, "
                  "coalesce(et.typtype::text, '') AS element_typtype, "
                  "coalesce(col_description(a.attrelid, a.attnum), '') AS description "
                  "FROM pg_catalog.pg_attribute a "
                  "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
                  "LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
                  "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
                  "ORDER BY a.attnum",
                  {std::to_string(oid)}));
  CDC_ASSIGN_OR_RETURN(std::vector<std::string> key, pg::PrimaryKeyColumns(*conn, oid));

  model::Model m;
  m.table = table;
  m.schema = schema;
  m.version = version;
  m.description = rel.Get(0, "description").value_or("");
  m.primary_key = std::move(key);
  model::ModelYamlOptions options;
  options.pii_is_guess = true;
  for (size_t i = 0; i < cols.size(); ++i) {
    CatalogColumn c;
    c.name = cols.Get(i, "name").value_or("");
    c.type = cols.Get(i, "type").value_or("text");
    c.not_null = cols.Get(i, "not_null").value_or("false") == "true";
    std::string typtype = cols.Get(i, "typtype").value_or("b");
    c.typtype = typtype.empty() ? 'b' : typtype[0];
    c.base_type = cols.Get(i, "base_type").value_or("");
    std::string et = cols.Get(i, "element_typtype").value_or("");
    c.element_typtype = et.empty() ? 0 : et[0];
    c.description = cols.Get(i, "description").value_or("");
    auto [type, comment] = ModelType(c);
    model::Field f;
    f.name = c.name;
    f.type = std::move(type);
    f.nullable = !c.not_null;
    f.pii = model::GuessPii(c.name, &f.type);
    f.description = c.description;
    if (f.pii != model::Pii::kNone) guessed.push_back(c.name);
    m.fields.push_back(std::move(f));
    options.field_comments.push_back(std::move(comment));
  }
  options.header = {
      "Model of " + qualified +
          ", derived from the PostgreSQL catalog by `cdc-pipeline models "
          "derive`.",
      "Check the `pii` classes: they are guessed from the column names. Every field with a",
      "`pii` class needs a redaction rule in tables." + table + ".redact (docs/models.md).",
  };
  return model::FormatModelYaml(m, options);
}

#endif  // CDC_WITH_POSTGRES

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
#ifdef CDC_WITH_POSTGRES
  std::optional<std::string> dsn_or = DsnFromArgOrEnv(dsn_);
  if (!dsn_or) return 2;
  const std::string& dsn = *dsn_or;
  std::string schema = "public";
  std::string table = table_;
  if (size_t dot = table.find('.'); dot != std::string::npos) {
    schema = table.substr(0, dot);
    table = table.substr(dot + 1);
  }
  std::vector<std::string> guessed;
  auto yaml = DeriveModelYaml(dsn, schema, table, static_cast<uint32_t>(version_), guessed);
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
#else
  std::fprintf(stderr, "this build has no PostgreSQL support\n");
  return 1;
#endif
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
