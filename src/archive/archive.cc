#include "archive/archive.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "stream/stream.h"

namespace cdc::archive {
namespace {

constexpr uint8_t kRecordEvent = 1;
constexpr size_t kTimeBytes = 8;

void PutI64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

int64_t GetI64(const char* p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(u);
}

}  // namespace

std::string ArchiveDir(const std::string& data_dir, const std::string& name) {
  return data_dir + "/archives/" + name;
}

// ---- reader ----

ArchiveReader::ArchiveReader(std::unique_ptr<stream::ShardReader> reader, uint64_t first,
                             uint64_t end, uint64_t total_bytes, int64_t start_micros,
                             int64_t end_micros)
    : reader_(std::move(reader)),
      first_(first),
      end_(end),
      total_bytes_(total_bytes),
      start_micros_(start_micros),
      end_micros_(end_micros) {}

ArchiveReader::~ArchiveReader() = default;

Result<std::optional<ArchivedEvent>> ArchiveReader::Next() {
  while (first_ + scanned_ < end_) {
    CDC_ASSIGN_OR_RETURN(std::optional<stream::Record> rec, reader_->Next());
    if (!rec) break;  // cannot happen below the durable end; treated as the end
    ++scanned_;
    if (rec->type != kRecordEvent || rec->payload.size() < kTimeBytes) {
      return Corruption(fmt::format("archive record {} is not an event (type {}, {} bytes)",
                                    rec->offset.value(), rec->type, rec->payload.size()))
          .set_data_loss();
    }
    int64_t t = GetI64(rec->payload.data());
    if (t < start_micros_ || t >= end_micros_) continue;
    ArchivedEvent ev;
    ev.offset = rec->offset.value();
    ev.event_micros = t;
    ev.archived_micros = rec->append_micros;
    ev.json = rec->payload.substr(kTimeBytes);
    return std::optional<ArchivedEvent>(ev);
  }
  return std::optional<ArchivedEvent>();
}

// ---- archive ----

Archive::Archive(std::string dir, const ArchiveOptions& options,
                 std::unique_ptr<stream::Stream> log)
    : dir_(std::move(dir)), options_(options), log_(std::move(log)) {}

Archive::~Archive() = default;

Result<std::unique_ptr<Archive>> Archive::Open(const std::string& dir,
                                               const ArchiveOptions& options) {
  if (options.retention_days < 0) return InvalidArgument("retention_days must be >= 0");
  stream::LocalStreamOptions log_options;
  log_options.segment_bytes = options.segment_bytes;
  log_options.retention_age = std::chrono::hours(24 * options.retention_days);
  auto log = stream::OpenLocalStream(dir, 1, log_options);
  if (!log.ok()) return log.status().WithContext("archive " + dir);
  return std::unique_ptr<Archive>(new Archive(dir, options, std::move(log).value()));
}

Status Archive::Append(int64_t event_micros, std::string_view event_json, int64_t now_micros) {
  record_.clear();
  PutI64(record_, event_micros);
  record_.append(event_json);
  CDC_RETURN_IF_ERROR(log_->Append(ShardId(0), kRecordEvent, record_, now_micros).status());
  unsynced_bytes_ += record_.size();
  if (unsynced_bytes_ >= options_.sync_bytes) return Sync();
  return Status::Ok();
}

Status Archive::Sync() {
  CDC_RETURN_IF_ERROR(log_->Sync().WithContext("archive " + dir_));
  unsynced_bytes_ = 0;
  return Status::Ok();
}

ArchiveStats Archive::stats() const {
  stream::ShardStats st = log_->stats(ShardId(0));
  return ArchiveStats{st.first.value(), st.durable_end.value(), st.bytes, st.segments};
}

Status Archive::TruncateTo(uint64_t offset) {
  unsynced_bytes_ = 0;
  return log_->TruncateTo(ShardId(0), StreamOffset(offset)).WithContext("archive " + dir_);
}

Status Archive::ApplyRetention(int64_t now_micros) {
  if (options_.retention_days == 0) return Status::Ok();  // the log would delete right away
  return log_->ApplyRetention(ShardId(0), log_->stats(ShardId(0)).durable_end, now_micros)
      .WithContext("archive " + dir_);
}

Result<std::unique_ptr<ArchiveReader>> Archive::Read(int64_t start_micros, int64_t end_micros,
                                                     std::optional<uint64_t> limit) const {
  ArchiveStats st = stats();
  uint64_t end = limit ? std::min(*limit, st.end) : st.end;
  end = std::max(end, st.first);
  CDC_ASSIGN_OR_RETURN(auto reader, log_->OpenReader(ShardId(0), StreamOffset(st.first)));
  return std::unique_ptr<ArchiveReader>(
      new ArchiveReader(std::move(reader), st.first, end, st.bytes, start_micros, end_micros));
}

}  // namespace cdc::archive
