// The CoreDB workload generator behind `cdc-pipeline generate`: a realistic mix of business
// actions (signups, logins, orders, payments, catalog edits, config changes, ...) over the 12
// CoreDB tables of sql/coredb.sql, each action one transaction, producing only the kinds of
// change each table's consumers care about (inventory and configurations are only updated, audit
// logs only inserted, ...). It paces itself to a target rate of changed rows per second.
//
// Thread-safety: one generator per thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/status.h"

namespace cdc::workload {

struct GeneratorOptions {
  std::string dsn;
  double rate = 100;       // changed rows per second
  double duration = 10;    // seconds; 0 = until stopped
  uint64_t seed = 0;       // 0 = from the clock
  bool seed_only = false;  // only create the reference rows (products, inventory, configurations)
};

// What was committed: per "table.OP", the number of rows.
struct GeneratorReport {
  std::map<std::string, uint64_t> rows;
  uint64_t transactions = 0;
  uint64_t total_rows = 0;
  double seconds = 0;
};

// Runs the workload. `progress` (may be empty) is called about once a second.
Result<GeneratorReport> RunGenerator(const GeneratorOptions& options, const std::atomic<bool>& stop,
                                     const std::function<void(const GeneratorReport&)>& progress);

}  // namespace cdc::workload
