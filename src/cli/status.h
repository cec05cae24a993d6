// `cdc-pipeline status`: where the pipeline is, from its state store (as of the last checkpoint,
// at most state.checkpoint_interval_ms old while `run` is running) and, for a PostgreSQL source,
// from the replication slot. Works while `run` is running and after it stopped.
#pragma once

#include "config/config.h"

namespace cdc {

// Prints the status of the pipeline of `config` (text, or one JSON object with `json`).
// Returns the process exit code.
int StatusCommand(const Config& config, bool json);

}  // namespace cdc
