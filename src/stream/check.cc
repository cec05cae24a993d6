// `verify-data`'s read of the embedded stream: every segment, every record, nothing changed.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "config/config.h"
#include "stream/internal.h"
#include "stream/stream.h"

namespace cdc::stream {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<ShardCheck> CheckShard(const std::string& dir, std::optional<uint64_t> synced_end) {
  ShardCheck check;
  check.location = dir;
  check.synced_end = synced_end;
  std::vector<std::pair<uint64_t, std::string>> segments;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (auto first = internal::ParseSegmentFileName(e->d_name)) {
        segments.emplace_back(*first, dir + "/" + e->d_name);
      }
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    return ErrnoError("cannot list '" + dir + "'", errno);
  }
  std::sort(segments.begin(), segments.end());
  check.segments = static_cast<uint32_t>(segments.size());
  if (segments.empty()) {
    if (synced_end && *synced_end > 0) {
      check.damage.push_back({dir, 0, *synced_end - 1,
                              fmt::format("no segment files, but records up to offset {} were "
                                          "synced and acknowledged to the source",
                                          *synced_end - 1),
                              false});
    }
    return check;
  }
  check.first = segments.front().first;
  uint64_t expected = segments.front().first;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& [first, path] = segments[i];
    bool last = i + 1 == segments.size();
    uint64_t next_first = last ? UINT64_MAX : segments[i + 1].first;
    if (first > expected) {
      check.damage.push_back(
          {path, expected, first - 1,
           fmt::format("offsets {} to {} are missing: no segment holds them (a segment file "
                       "was deleted)",
                       expected, first - 1),
           false});
    } else if (first < expected) {
      check.damage.push_back(
          {path, first, expected - 1,
           fmt::format("starts at offset {}, but the segment before it goes up to offset {}", first,
                       expected - 1),
           false});
    }
    CDC_ASSIGN_OR_RETURN(std::string data, internal::ReadWholeFile(path));
    auto scan = internal::ScanSegment(data, path, first);
    if (!scan.ok()) {
      check.damage.push_back({path, first, last ? UINT64_MAX : next_first - 1,
                              std::string(scan.status().message()), false});
      expected = next_first;
      continue;
    }
    if (scan->valid_bytes < data.size()) {
      uint64_t synced = synced_end.value_or(0);
      bool harmless = last && scan->next_offset >= synced;
      std::string what = fmt::format("{} at byte {} (offset {}), {} bytes to the end of the file",
                                     scan->torn_reason, scan->valid_bytes, scan->next_offset,
                                     data.size() - scan->valid_bytes);
      if (harmless) {
        what += "; a torn tail left by a crash during an append (never synced): `run` cuts it";
      }
      check.damage.push_back(
          {path, scan->next_offset, last ? UINT64_MAX : next_first - 1, what, harmless});
    }
    expected = scan->next_offset;
    if (last) check.end = scan->next_offset;
  }
  if (synced_end && check.end < *synced_end) {
    check.damage.push_back(
        {segments.back().second, check.end, *synced_end - 1,
         fmt::format("the shard ends at offset {}, but records up to offset {} were synced and "
                     "acknowledged to the source: offsets {} to {} are missing",
                     check.end, *synced_end - 1, check.end, *synced_end - 1),
         false});
  }
  return check;
}

}  // namespace

Result<StreamCheck> CheckStream(const StreamConfig& config, const std::string& data_dir) {
  StreamCheck out;
  if (config.kind != nullptr && config.type != "embedded") {
    out.dir = DescribeStream(config, data_dir);
    out.not_checked = "the stream is a " + out.dir +
                      ", not in the data dir: verify-data does not read it (the service keeps its "
                      "records; `run` checks its partitions and offsets against the checkpoints)";
    return out;
  }
  out.dir = data_dir + "/stream";
  std::string meta = out.dir + "/" + std::string(internal::kMetaFileName);
  if (!Exists(out.dir)) return out;
  out.exists = true;
  auto shards = static_cast<uint32_t>(config.shards);
  if (!Exists(meta)) {
    out.problems.push_back(meta + " is missing");
  } else {
    CDC_ASSIGN_OR_RETURN(std::string content, internal::ReadWholeFile(meta));
    std::string want_count = fmt::format("\nshard_count {}\n", shards);
    if (content.rfind("cdc-pipeline stream\n", 0) != 0) {
      out.problems.push_back(meta + ": not a stream metadata file");
    } else if (content.find(want_count) == std::string::npos) {
      out.problems.push_back(
          fmt::format("{}: the shard count is not {} (stream.shards)", meta, shards));
    }
    if (size_t at = content.find("\npipeline_id "); at != std::string::npos) {
      size_t begin = at + std::string_view("\npipeline_id ").size();
      size_t end = content.find('\n', begin);
      out.identity = content.substr(begin, end == std::string::npos ? end : end - begin);
    }
  }
  std::vector<std::optional<uint64_t>> synced(shards);
  std::string synced_path = out.dir + "/" + std::string(internal::kSyncedFileName);
  if (Exists(synced_path)) {
    CDC_ASSIGN_OR_RETURN(std::string content, internal::ReadWholeFile(synced_path));
    auto ends = internal::ParseSynced(content, synced_path);
    if (!ends.ok()) {
      out.problems.push_back(std::string(ends.status().message()));
    } else if (ends->size() != shards) {
      out.problems.push_back(fmt::format("{}: records {} shards, the stream has {}", synced_path,
                                         ends->size(), shards));
    } else {
      for (uint32_t i = 0; i < shards; ++i) synced[i] = (*ends)[i];
    }
  }
  for (uint32_t i = 0; i < shards; ++i) {
    CDC_ASSIGN_OR_RETURN(ShardCheck shard,
                         CheckShard(out.dir + "/" + internal::ShardDirName(ShardId(i)), synced[i]));
    out.shards.push_back(std::move(shard));
  }
  return out;
}

}  // namespace cdc::stream
