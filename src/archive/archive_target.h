// The target that feeds an archive. The runtime assembly makes one per entry of `archives`, named
// "archive:<name>", fed by a hidden rule of the same name whose pattern is the archive's, so the
// archive receives every published event that matches it, whatever the user's rules do.
//
// It takes part in the checkpoint protocol like the file target: Cursor is the archive's durable
// end offset, Reconcile cuts the archive back to it, so each event is archived exactly once
// across crashes. The archive is opened (and its directory locked) on first use, so building a
// pipeline (`invoke`, `validate-config`) never touches it.
#pragma once

#include <memory>
#include <string>

#include "archive/archive.h"
#include "config/config.h"
#include "target/target.h"

namespace cdc::archive {

// `data_dir` is pipeline.data_dir. `options.retention_days` is taken from `config`.
std::unique_ptr<Target> MakeArchiveTarget(const ArchiveConfig& config, const std::string& data_dir,
                                          ArchiveOptions options = {});

}  // namespace cdc::archive
