// Factories of the built-in targets. Internal to src/target.
#pragma once

#include <memory>

#include "target/target.h"

namespace cdc {
std::unique_ptr<Target> MakeFileTarget(const TargetConfig& config);
std::unique_ptr<Target> MakeStdoutTarget(const TargetConfig& config);
std::unique_ptr<Target> MakeHttpTarget(const TargetConfig& config);
}  // namespace cdc
