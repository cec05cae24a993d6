// The `file` target kind: each event as one JSON line of a file, exactly once across crashes.
#pragma once

#include <string>

#include "config/registry.h"

namespace cdc {

struct FileTargetOptions : KindOptions {
  std::string path;
  std::string fsync = "batch";  // always | batch | never
};

void RegisterFileTarget(Registry& registry);

}  // namespace cdc
