#include "state/state_store.h"

#include "config/config.h"
#include "state/sqlite_state_store.h"

namespace cdc::state {

Result<std::unique_ptr<StateStore>> OpenStateStore(const StateConfig& config,
                                                   const std::string& owner, int64_t now_micros) {
  return OpenSqliteStateStore(config.path, owner, now_micros);
}

Result<std::unique_ptr<StateStore>> OpenStateStoreReadOnly(const StateConfig& config) {
  return OpenSqliteStateStoreReadOnly(config.path);
}

}  // namespace cdc::state
