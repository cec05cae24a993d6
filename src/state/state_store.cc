#include "state/state_store.h"

#include "config/config.h"
#include "state/sqlite_state_store.h"

namespace cdc::state {

Result<std::unique_ptr<StateStore>> OpenStateStore(const StateConfig& config,
                                                   const std::string& owner, int64_t now_micros) {
  if (config.kind != nullptr) return config.kind->open(config, owner, now_micros);
  return OpenSqliteStateStore(SqliteStatePath(config), owner, now_micros);
}

Result<std::unique_ptr<StateStore>> OpenStateStoreReadOnly(const StateConfig& config) {
  if (config.kind != nullptr) return config.kind->open_read_only(config);
  return OpenSqliteStateStoreReadOnly(SqliteStatePath(config));
}

std::string DescribeStateStore(const StateConfig& config) {
  if (config.kind != nullptr && config.kind->describe != nullptr) {
    return config.kind->describe(config);
  }
  return "SQLite " + SqliteStatePath(config);
}

}  // namespace cdc::state
