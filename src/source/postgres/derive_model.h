// `models derive` for PostgreSQL: a table's data model from the catalog (pg_class,
// pg_attribute, pg_type, comments), with `pii` classes guessed from column names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cdc::pg {

// The models/<table>.yaml text of `table` ("name" in schema public, or "schema.name"); the
// fields whose `pii` class was guessed are appended to `guessed`.
Result<std::string> DeriveModelYaml(const std::string& dsn, const std::string& table,
                                    uint32_t version, std::vector<std::string>& guessed);

}  // namespace cdc::pg
