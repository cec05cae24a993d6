// The `embedded` stream kind: the segment log of log.h in <data_dir>/stream, with its options.
// Registered by RegisterEmbeddedStream (one line in this folder's CMakeLists).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/registry.h"
#include "stream/stream.h"

namespace cdc::stream {

// `stream` of type embedded, as configured (defaults as documented in docs/configuration.md).
struct EmbeddedStreamOptions : KindOptions {
  int64_t segment_bytes = 64ll << 20;
  int64_t fsync_interval_ms = 5;
  int64_t fsync_bytes = 1ll << 20;
  int64_t retention_hours = 24;
  int64_t retention_bytes = 1ll << 30;
};

// Opens the embedded log for `config` (its options, or the defaults when it has none).
Result<std::unique_ptr<Stream>> OpenEmbeddedStream(const StreamConfig& config,
                                                   const std::string& data_dir);

}  // namespace cdc::stream

namespace cdc {
void RegisterEmbeddedStream(Registry& registry);
}
