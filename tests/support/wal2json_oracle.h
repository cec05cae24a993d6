// The e2e tests' independent record of what PostgreSQL committed: a wal2json (format-version 2)
// slot made before anything else, read back with pg_logical_slot_get_changes. Header-only (the
// e2e tests link simdjson; the support library does not).
#pragma once

#include <simdjson.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "support/pg_server.h"

namespace cdc::testing {

// A JSON value as text: a string bare, anything else as minified JSON ("42", "null").
inline std::string JsonValueText(simdjson::dom::element v) {
  if (v.is_string()) return std::string(std::string_view(v.get_string()));
  return simdjson::minify(v);
}

// One committed row change.
struct OracleChange {
  std::string table;  // as wal2json names it (without the schema)
  std::string op;     // INSERT, UPDATE or DELETE
  // The wanted columns' values (JsonValueText), from the new row when there is one, else from
  // the old row's identity (a DELETE, or a column the new row does not carry).
  std::map<std::string, std::string> values;
  std::string Value(const std::string& column) const {
    auto it = values.find(column);
    return it == values.end() ? std::string() : it->second;
  }
};

// Every row change the slot recorded, in commit order (other actions, such as messages and
// TRUNCATE, are left out). Consumes the slot's changes.
inline std::vector<OracleChange> ReadOracle(const PgServer& server, const std::string& db,
                                            const std::vector<std::string>& columns,
                                            const std::string& slot = "oracle") {
  auto rows = server.Query("SELECT data FROM pg_logical_slot_get_changes('" + slot +
                               "', NULL, NULL, 'format-version', '2')",
                           db);
  std::vector<OracleChange> out;
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status().ToString();
    return out;
  }
  simdjson::dom::parser parser;
  static const std::map<std::string, std::string> kOps = {
      {"I", "INSERT"}, {"U", "UPDATE"}, {"D", "DELETE"}};
  for (const auto& row : *rows) {
    simdjson::dom::element e = parser.parse(*row[0]);
    std::string action(std::string_view(e["action"].get_string()));
    if (!kOps.count(action)) continue;
    OracleChange c;
    c.table = std::string(std::string_view(e["table"].get_string()));
    c.op = kOps.at(action);
    for (const char* field : {"identity", "columns"}) {  // the new row's values win
      simdjson::dom::array cols;
      if (e[field].get_array().get(cols)) continue;
      for (auto col : cols) {
        std::string name(std::string_view(col["name"].get_string()));
        for (const auto& wanted : columns) {
          if (name == wanted) c.values[name] = JsonValueText(col["value"]);
        }
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace cdc::testing
