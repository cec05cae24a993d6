#include "stream/stream.h"

#include <algorithm>

#include "config/config.h"
#include "stream/embedded_stream.h"
#include "stream/log.h"

namespace cdc::stream {

Result<std::optional<std::string>> FindLast(const Stream& stream, ShardId shard,
                                            const RecordProbe& probe) {
  ShardStats stats = stream.stats(shard);
  uint64_t first = stats.first.value();
  uint64_t end = stats.next.value();
  // Readers only go forward: read a window at the end, then one twice as large before it, ...
  uint64_t span = 1;
  while (end > first) {
    uint64_t start = end - std::min(span, end - first);
    CDC_ASSIGN_OR_RETURN(auto reader, stream.OpenReader(shard, StreamOffset(start)));
    std::optional<std::string> last;
    while (true) {
      CDC_ASSIGN_OR_RETURN(auto record, reader->Next());
      if (!record || record->offset.value() >= end) break;
      CDC_ASSIGN_OR_RETURN(auto value, probe(*record));
      if (value) last = std::move(value);
    }
    if (last || start == first) return last;
    end = start;
    span *= 2;
  }
  return std::optional<std::string>();
}

Result<std::unique_ptr<Stream>> OpenLocalStream(const std::string& dir, uint32_t shards,
                                                LocalStreamOptions options) {
  LogOptions log_options;
  log_options.segment_bytes = options.segment_bytes;
  log_options.retention_age = options.retention_age;
  CDC_ASSIGN_OR_RETURN(auto stream, EmbeddedStream::Open(dir, shards, log_options));
  return std::unique_ptr<Stream>(std::move(stream));
}

Result<std::unique_ptr<Stream>> OpenStream(const StreamConfig& config,
                                           const std::string& data_dir) {
  if (config.kind != nullptr) return config.kind->open(config, data_dir);
  return OpenEmbeddedStream(config, data_dir);
}

std::string DescribeStream(const StreamConfig& config, const std::string& data_dir) {
  if (config.kind != nullptr && config.kind->describe != nullptr) {
    return config.kind->describe(config, data_dir);
  }
  return config.type + " stream";
}

}  // namespace cdc::stream
