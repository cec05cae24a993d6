// The embedded state store: one SQLite file in WAL mode (docs/state-store.md). Only
// OpenStateStore and the store's own tests open it by name.
//
// Thread-safety: as StateStore, one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "state/state_store.h"

namespace cdc::state {

// Opens (creating) the SQLite state store at `path` and takes its lease for `owner` (see
// OpenStateStore).
Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& path,
                                                         const std::string& owner,
                                                         int64_t now_micros);
// Opens read-only without taking the lease.
Result<std::unique_ptr<StateStore>> OpenSqliteStateStoreReadOnly(const std::string& path);

}  // namespace cdc::state
