#include "source/postgres/derive_model.h"

#include <string>
#include <utility>

#include "process/model/model.h"
#include "source/postgres/catalog.h"
#include "source/postgres/pg_connection.h"

namespace cdc::pg {
namespace {

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

}  // namespace

Result<std::string> DeriveModelYaml(const std::string& dsn, const std::string& table_ref,
                                    uint32_t version, std::vector<std::string>& guessed) {
  std::string schema = "public";
  std::string table = table_ref;
  if (size_t dot = table.find('.'); dot != std::string::npos) {
    schema = table.substr(0, dot);
    table = table.substr(dot + 1);
  }
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(dsn));
  CDC_ASSIGN_OR_RETURN(
      PgRows rel,
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
      PgRows cols,
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
  CDC_ASSIGN_OR_RETURN(std::vector<std::string> key, PrimaryKeyColumns(*conn, oid));

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

}  // namespace cdc::pg
