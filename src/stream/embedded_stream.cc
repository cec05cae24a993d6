#include "stream/embedded_stream.h"

#include <chrono>

#include "config/config.h"
#include "stream/log.h"

namespace cdc::stream {
namespace {

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<EmbeddedStreamOptions>();
  r.Int("segment_bytes", o->segment_bytes);
  r.Int("fsync_interval_ms", o->fsync_interval_ms);
  r.Int("fsync_bytes", o->fsync_bytes);
  r.Int("retention_hours", o->retention_hours);
  r.Int("retention_bytes", o->retention_bytes);
  return o;
}

std::string Describe(const StreamConfig& config, const std::string& data_dir) {
  return "embedded log " + data_dir + "/stream (" + std::to_string(config.shards) + " shards)";
}

}  // namespace

Result<std::unique_ptr<Stream>> OpenEmbeddedStream(const StreamConfig& config,
                                                   const std::string& data_dir) {
  static const EmbeddedStreamOptions kDefaults;
  const auto* o = config.OptionsAs<EmbeddedStreamOptions>();
  if (o == nullptr) o = &kDefaults;
  LogOptions options;
  options.segment_bytes = static_cast<uint64_t>(o->segment_bytes);
  options.fsync_bytes = static_cast<uint64_t>(o->fsync_bytes);
  options.fsync_interval = std::chrono::milliseconds(o->fsync_interval_ms);
  options.retention_age = std::chrono::hours(o->retention_hours);
  options.retention_bytes = static_cast<uint64_t>(o->retention_bytes);
  options.record_synced_ends = true;
  CDC_ASSIGN_OR_RETURN(
      auto stream,
      EmbeddedStream::Open(data_dir + "/stream", static_cast<uint32_t>(config.shards), options));
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace cdc::stream

namespace cdc {

void RegisterEmbeddedStream(Registry& registry) {
  StreamKind kind;
  kind.spec.name = "embedded";
  kind.spec.description =
      "The embedded log: each shard is a directory of checksummed segment files in "
      "`<data_dir>/stream/` (format: docs/log-format.md), fsynced in groups.";
  kind.spec.fields = {
      {"segment_bytes", config::FieldType::kInt, "67108864",
       "A shard starts a new segment file past this size."},
      {"fsync_interval_ms", config::FieldType::kInt, "5",
       "Group fsync: appended changes are fsynced at least this often."},
      {"fsync_bytes", config::FieldType::kInt, "1048576",
       "Group fsync: also fsync once this many bytes are waiting. Bounds the append buffer."},
      {"retention_hours", config::FieldType::kInt, "24",
       "Segments that every target has processed are kept this long (0: deleted once "
       "processed)..."},
      {"retention_bytes", config::FieldType::kInt, "1073741824",
       "...or deleted earlier while a shard is larger than this (0: no size limit)."},
  };
  kind.spec.parse = stream::ParseOptions;
  kind.open = stream::OpenEmbeddedStream;
  kind.describe = stream::Describe;
  registry.AddStream(std::move(kind));
}

}  // namespace cdc
