// The embedded state store (`state.type: sqlite`): one SQLite file in WAL mode
// (docs/state-store.md). Only OpenStateStore, the kind and the store's own tests open it by name.
//
// Thread-safety: as StateStore, one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/registry.h"
#include "state/state_store.h"

namespace cdc::state {

// `state` of type sqlite, as configured.
struct SqliteStateOptions : KindOptions {
  std::string path;  // empty: <data_dir>/state.db
};

// The file `config` names: its `path`, or <data_dir>/state.db.
std::string SqliteStatePath(const StateConfig& config);

// Opens (creating) the SQLite state store at `path` and takes its lease for `owner` (see
// OpenStateStore).
Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path,
                                                         const std::string& owner,
                                                         int64_t now_micros);
// Opens read-only without taking the lease.
Result<std::unique_ptr<StateStore>> OpenSqliteStateStoreReadOnly(const std::string& path);

}  // namespace cdc::state

namespace cdc {
// The `sqlite` state store kind (one line in this folder's CMakeLists registers it).
void RegisterSqliteStateStore(Registry& registry);
}  // namespace cdc
