// `cdc-pipeline status`: where the pipeline is, from its state store (as of the last checkpoint,
// at most state.checkpoint_interval_ms old while `run` is running) and from the source's Lag()
// (for PostgreSQL, the replication slot). Works while `run` is running and after it stopped.
// The figures are a PipelineStatus (runtime/status.h), printed as text, JSON or Prometheus text.
#pragma once

#include "config/config.h"

namespace cdc {

enum class StatusFormat { kText, kJson, kPrometheus };

// Prints the status of the pipeline of `config`. Returns the process exit code.
int StatusCommand(const Config& config, StatusFormat format);

}  // namespace cdc
