// The embedded stream: shards of append-only segment files (docs/log-format.md).
//
// Appends are encoded into memory and reach the disk in Sync() (write + fdatasync), so one fsync
// covers a whole batch. durable_end is published after the fdatasync with release ordering;
// readers load it with acquire ordering before they pread, so every record below the value they
// saw is complete in the file. Readers open segment files themselves, so a segment deleted by
// retention stays readable for a reader that already has it open.
#include "stream/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "stream/internal.h"

namespace cdc::stream {
namespace {

using internal::kHeaderBytes;
using internal::kMaxPayloadBytes;
using internal::RecordHeader;
using SteadyTime = std::chrono::steady_clock::time_point;

// ---- small file helpers ----

Status MakeDir(const std::string& path, bool& created) {
  created = false;
  if (::mkdir(path.c_str(), 0755) == 0) {
    created = true;
    return Status::Ok();
  }
  if (errno != EEXIST) return ErrnoError("cannot create directory '" + path + "'", errno);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return IoError("'" + path + "' exists and is not a directory");
  }
  return Status::Ok();
}

Status MakeDirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    bool created = false;
    CDC_RETURN_IF_ERROR(MakeDir(path.substr(0, pos), created));
  }
  bool created = false;
  return MakeDir(path, created);
}

// Makes the creation or removal of entries in `dir` durable.
Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open directory '" + dir + "'", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync directory '" + dir + "'", err);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write to '" + path + "'", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Writes `path` so that it is either absent or complete after a crash.
Status WriteFileAtomically(const std::string& dir, const std::string& path,
                           std::string_view content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create '" + tmp + "'", errno);
  Status s = WriteAll(fd, content, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoError("cannot fsync '" + tmp + "'", errno);
  ::close(fd);
  CDC_RETURN_IF_ERROR(s);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("cannot rename '" + tmp + "' to '" + path + "'", errno);
  }
  return SyncDir(dir);
}

// ---- wake-ups for WaitForData ----

class Notifier {
 public:
  // Called after a durable_end was advanced (the store happens before the lock, so a waiter
  // either sees the new value in its predicate or is already waiting when notified).
  void Notify() {
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }
  void Wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++wakes_;
    }
    cv_.notify_all();
  }
  template <typename Ready>
  void Wait(std::chrono::milliseconds timeout, Ready ready) {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t wakes = wakes_;
    cv_.wait_for(lock, timeout, [&] { return wakes_ != wakes || ready(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakes_ = 0;
};

// Runs a few jobs at the same time: job 0 on the calling thread, job i on worker i - 1. A group
// sync fdatasyncs every shard written since the last one; on ext4 (and most journaling file
// systems) concurrent fdatasyncs share journal commits, so N shards take about as long as one
// instead of N times as long (measured on the benchmark VM: 4 shards 15-19 ms one after
// another, 4-5 ms at once). The appending thread waits for all of them, as before.
class ParallelJobs {
 public:
  ParallelJobs() = default;
  ParallelJobs(const ParallelJobs&) = delete;
  ParallelJobs& operator=(const ParallelJobs&) = delete;
  ~ParallelJobs() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Runs job(i) for every i < n and returns when all have returned. Workers are started on
  // first use and kept.
  void Run(size_t n, const std::function<void(size_t)>& job) {
    if (n == 0) return;
    if (n > 1) {
      std::unique_lock<std::mutex> lock(mu_);
      while (workers_.size() < n - 1) {
        size_t index = workers_.size() + 1;
        workers_.emplace_back([this, index] { Work(index); });
      }
      job_ = &job;
      jobs_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    start_cv_.notify_all();
    job(0);
    if (n > 1) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [&] { return pending_ == 0; });
      job_ = nullptr;
    }
  }

 private:
  void Work(size_t index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= jobs_) continue;
      const std::function<void(size_t)>* job = job_;
      lock.unlock();
      (*job)(index);
      lock.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t jobs_ = 0;
  size_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// ---- one shard ----

struct Segment {
  uint64_t first = 0;  // offset of its first record (also its file name)
  std::string path;
  uint64_t bytes = 0;  // written to the file
  // Append time of its last record; unknown for segments of an earlier run until read.
  std::optional<int64_t> last_append_micros;
};

// Records appended since the last Sync, in file order. A chunk with new_segment starts a new
// segment file at offset `first`.
struct Chunk {
  bool new_segment = false;
  uint64_t first = 0;
  std::string bytes;
  int64_t last_append_micros = 0;
};

class ShardLogImpl;

class ShardReaderImpl final : public ShardReader {
 public:
  // Reads the segment starting at `segment_first` (file `path`) and returns records from `from`.
  ShardReaderImpl(const ShardLogImpl& log, uint64_t segment_first, std::string path, uint64_t from)
      : log_(log),
        segment_first_(segment_first),
        path_(std::move(path)),
        next_(segment_first),
        from_(from) {}
  ~ShardReaderImpl() override {
    if (fd_ >= 0) ::close(fd_);
  }
  ShardReaderImpl(const ShardReaderImpl&) = delete;
  ShardReaderImpl& operator=(const ShardReaderImpl&) = delete;

  Result<std::optional<Record>> Next() override;

 private:
  static constexpr size_t kReadChunk = 256 << 10;

  Result<Record> ReadRecord(uint64_t durable);
  Status OpenFile();
  Status NextSegment();
  // Makes at least `n` bytes from pos_ available in the buffer unless the file ends first.
  Status Ensure(size_t n, uint64_t durable);
  size_t Available() const {
    if (pos_ < buf_start_ || pos_ > buf_start_ + buf_len_) return 0;
    return static_cast<size_t>(buf_start_ + buf_len_ - pos_);
  }
  Status Corrupt(const std::string& what) const {
    return Corruption(fmt::format("{}: {}; the segment is corrupt and records from offset {} on "
                                  "cannot be delivered. Nothing was changed: restore the data dir "
                                  "(stream, state.db and consumer files together) from a backup; "
                                  "`cdc-pipeline verify-data` lists every damaged file",
                                  path_, what, next_))
        .set_data_loss();
  }

  const ShardLogImpl& log_;
  uint64_t segment_first_;
  std::string path_;
  int fd_ = -1;
  uint64_t pos_ = 0;  // file position of the record with offset next_
  uint64_t next_;     // offset of the next record in the file
  uint64_t from_;     // records below are skipped
  std::string buf_;   // file bytes [buf_start_, buf_start_ + buf_len_)
  uint64_t buf_start_ = 0;
  size_t buf_len_ = 0;
  bool buf_eof_ = false;
  // durable_end when the buffer was read: the bytes of records below it are complete in buf_.
  uint64_t buf_durable_ = 0;
};

class ShardLogImpl final : public ShardLog {
 public:
  ShardLogImpl(std::string dir, ShardId id, const LogOptions& options,
               std::shared_ptr<Notifier> notifier)
      : dir_(std::move(dir)), id_(id), options_(options), notifier_(std::move(notifier)) {}
  ~ShardLogImpl() override {
    if (active_fd_ >= 0) ::close(active_fd_);
  }
  ShardLogImpl(const ShardLogImpl&) = delete;
  ShardLogImpl& operator=(const ShardLogImpl&) = delete;

  // Lists the segments and recovers the last one (see EmbeddedStream::Open). Records below
  // `synced_end` were synced before (the `synced` file): missing or damaged, they are refused,
  // never cut as a torn tail.
  Status Recover(uint64_t synced_end);

  Result<StreamOffset> Append(uint8_t type, std::string_view payload,
                              int64_t append_micros) override;
  Status Sync() override {
    CDC_RETURN_IF_ERROR(SyncWithoutNotify());
    notifier_->Notify();
    return Status::Ok();
  }
  StreamOffset next_offset() const override {
    return StreamOffset(next_.load(std::memory_order_acquire));
  }
  StreamOffset durable_end() const override {
    return StreamOffset(durable_end_.load(std::memory_order_acquire));
  }
  ShardStats stats() const override;
  uint64_t truncated_bytes() const override { return truncated_bytes_; }
  Status ApplyRetention(StreamOffset checkpoint, int64_t now_micros) override;
  Status TruncateTo(StreamOffset offset) override;
  Result<std::unique_ptr<ShardReader>> OpenReader(StreamOffset from) const override;

  // For the stream (appender thread).
  Status SyncWithoutNotify();
  uint64_t pending_bytes() const { return pending_bytes_; }
  std::optional<SteadyTime> oldest_pending() const { return oldest_pending_; }

  // For readers (any thread).
  uint64_t durable_end_value() const { return durable_end_.load(std::memory_order_acquire); }
  // The segment whose first offset is `first`, or nullopt (then *oldest is the oldest on disk).
  std::optional<Segment> SegmentStartingAt(uint64_t first, uint64_t* oldest) const;

 private:
  Status StartSegment(uint64_t first);
  Status LostSynced(uint64_t synced_end, const std::string& what, uint64_t have) const;
  Result<int64_t> LastAppendMicros(size_t index);
  void PublishLayout();  // refreshes first_, bytes_ and segment_count_ from segments_ (mu_ held)

  const std::string dir_;
  const ShardId id_;
  const LogOptions options_;
  std::shared_ptr<Notifier> notifier_;

  // Written by the appender thread under mu_, read by readers under mu_ (the appender reads
  // without it).
  mutable std::mutex mu_;
  std::vector<Segment> segments_;  // oldest first; back() is the active one

  // Appender thread only.
  int active_fd_ = -1;
  std::vector<Chunk> chunks_;
  std::string spare_;        // an emptied chunk buffer, reused so that batches do not reallocate
  uint64_t tail_bytes_ = 0;  // size of the segment the next record goes to, pending included
  uint64_t pending_bytes_ = 0;
  std::optional<SteadyTime> oldest_pending_;
  Status broken_;  // a failed write or fsync: the file state is unknown until reopened
  uint64_t truncated_bytes_ = 0;

  // Any thread.
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> durable_end_{0};
  std::atomic<uint64_t> first_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint32_t> segment_count_{0};

  friend class ShardReaderImpl;
};

Status ShardLogImpl::Recover(uint64_t synced_end) {
  bool created = false;
  CDC_RETURN_IF_ERROR(MakeDir(dir_, created));
  if (created) {
    size_t slash = dir_.rfind('/');
    CDC_RETURN_IF_ERROR(SyncDir(slash == std::string::npos ? "." : dir_.substr(0, slash)));
  }

  std::vector<Segment> segments;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return ErrnoError("cannot list '" + dir_ + "'", errno);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (std::optional<uint64_t> first = internal::ParseSegmentFileName(name)) {
      segments.push_back(Segment{*first, dir_ + "/" + std::string(name), 0, std::nullopt});
    } else {
      log::Warn("{}: ignoring '{}', which is not a segment file", dir_, name);
    }
  }
  ::closedir(d);
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.first < b.first; });
  for (Segment& s : segments) {
    struct stat st;
    if (::stat(s.path.c_str(), &st) != 0) return ErrnoError("cannot stat '" + s.path + "'", errno);
    s.bytes = static_cast<uint64_t>(st.st_size);
  }

  if (segments.empty()) {
    if (synced_end > 0) return LostSynced(synced_end, "holds no segment files", 0);
    CDC_RETURN_IF_ERROR(StartSegment(0));
  } else {
    // Only the last segment can hold a torn tail: a segment is fdatasynced before the next one is
    // created. Earlier segments are checked by the readers that read them.
    Segment& last = segments.back();
    int fd = ::open(last.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return ErrnoError("cannot open '" + last.path + "'", errno);
    active_fd_ = fd;
    internal::TailScan scan;
    if (last.bytes > 0) {
      void* map = ::mmap(nullptr, last.bytes, PROT_READ, MAP_SHARED, fd, 0);
      if (map == MAP_FAILED) return ErrnoError("cannot map '" + last.path + "'", errno);
      Result<internal::TailScan> r = internal::ScanSegment(
          std::string_view(static_cast<const char*>(map), last.bytes), last.path, last.first);
      ::munmap(map, last.bytes);
      if (!r.ok()) return r.status();
      scan = std::move(r).value();
    } else {
      scan.next_offset = last.first;
    }
    if (scan.next_offset < synced_end) {
      std::string what =
          scan.valid_bytes < last.bytes
              ? fmt::format("{} ends in a damaged record at byte {} ({}, offset {})", last.path,
                            scan.valid_bytes, scan.torn_reason, scan.next_offset)
              : fmt::format("{} is its newest segment and ends at byte {} after offset {}",
                            last.path, last.bytes, scan.next_offset - 1);
      if (scan.next_offset == last.first && scan.valid_bytes == last.bytes) {
        what = fmt::format("{} is its newest segment and is empty", last.path);
      }
      return LostSynced(synced_end, what, scan.next_offset);
    }
    if (scan.valid_bytes < last.bytes) {
      uint64_t cut = last.bytes - scan.valid_bytes;
      if (::ftruncate(fd, static_cast<off_t>(scan.valid_bytes)) != 0) {
        return ErrnoError("cannot truncate '" + last.path + "'", errno);
      }
      if (::fsync(fd) != 0) return ErrnoError("cannot fsync '" + last.path + "'", errno);
      log::Warn(
          "{}: cut a torn tail of {} bytes at byte {} ({}), left by a crash during an append; "
          "records from offset {} on had not been synced",
          last.path, cut, scan.valid_bytes, scan.torn_reason, scan.next_offset);
      truncated_bytes_ += cut;
      last.bytes = scan.valid_bytes;
    }
    last.last_append_micros = scan.last_append_micros;
    tail_bytes_ = last.bytes;
    next_.store(scan.next_offset);
    durable_end_.store(scan.next_offset);
    std::lock_guard<std::mutex> lock(mu_);
    segments_ = std::move(segments);
    PublishLayout();
  }
  return Status::Ok();
}

Status ShardLogImpl::LostSynced(uint64_t synced_end, const std::string& what, uint64_t have) const {
  return Corruption(
             fmt::format(
                 "stream shard {} ({}): {}, but records up to offset {} were synced and "
                 "acknowledged to the source (the stream's synced file says so): offsets {} to "
                 "{} are missing or damaged, and the source will not send them again. Nothing "
                 "was changed. Restore the data dir (stream, state.db and consumer files "
                 "together) from a backup; or, to go on without those {} changes, move '{}/{}' "
                 "away and start again (the damaged tail is then cut). `cdc-pipeline "
                 "verify-data` lists every damaged file",
                 id_.value(), dir_, what, synced_end - 1, have, synced_end - 1, synced_end - have,
                 dir_.substr(0, dir_.rfind('/')), internal::kSyncedFileName))
      .set_data_loss();
}

Status ShardLogImpl::StartSegment(uint64_t first) {
  std::string path = dir_ + "/" + internal::SegmentFileName(first);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create segment '" + path + "'", errno);
  Status s = SyncDir(dir_);
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = fd;
  tail_bytes_ = 0;
  std::lock_guard<std::mutex> lock(mu_);
  segments_.push_back(Segment{first, std::move(path), 0, std::nullopt});
  PublishLayout();
  return Status::Ok();
}

void ShardLogImpl::PublishLayout() {
  uint64_t bytes = 0;
  for (const Segment& s : segments_) bytes += s.bytes;
  first_.store(segments_.empty() ? next_.load() : segments_.front().first);
  bytes_.store(bytes);
  segment_count_.store(static_cast<uint32_t>(segments_.size()));
}

Result<StreamOffset> ShardLogImpl::Append(uint8_t type, std::string_view payload,
                                          int64_t append_micros) {
  if (!broken_.ok()) return broken_;
  if (payload.size() > kMaxPayloadBytes) {
    return InvalidArgument(fmt::format("a stream record holds at most {} bytes, this one has {}",
                                       kMaxPayloadBytes, payload.size()));
  }
  uint64_t offset = next_.load(std::memory_order_relaxed);
  if (tail_bytes_ > options_.segment_bytes) {
    chunks_.push_back(Chunk{true, offset, {}, 0});
    tail_bytes_ = 0;
  } else if (chunks_.empty()) {
    chunks_.push_back(Chunk{false, offset, std::move(spare_), 0});
    spare_.clear();
  }
  Chunk& chunk = chunks_.back();
  size_t before = chunk.bytes.size();
  internal::EncodeRecord(chunk.bytes, offset, type, append_micros, payload);
  size_t added = chunk.bytes.size() - before;
  chunk.last_append_micros = append_micros;
  tail_bytes_ += added;
  pending_bytes_ += added;
  if (!oldest_pending_) oldest_pending_ = std::chrono::steady_clock::now();
  next_.store(offset + 1, std::memory_order_release);
  return StreamOffset(offset);
}

Status ShardLogImpl::SyncWithoutNotify() {
  if (!broken_.ok()) return broken_;
  if (chunks_.empty()) return Status::Ok();
  Status s = [&]() -> Status {
    bool dirty = false;  // written to active_fd_ but not yet fdatasynced
    for (Chunk& chunk : chunks_) {
      if (chunk.new_segment) {
        // The old segment is complete on disk before the next one exists, so after a crash
        // only the last segment can have a torn tail.
        if (dirty && ::fdatasync(active_fd_) != 0) {
          return ErrnoError("cannot fdatasync '" + segments_.back().path + "'", errno);
        }
        dirty = false;
        CDC_RETURN_IF_ERROR(StartSegment(chunk.first));
      }
      CDC_RETURN_IF_ERROR(WriteAll(active_fd_, chunk.bytes, segments_.back().path));
      dirty = true;
      std::lock_guard<std::mutex> lock(mu_);
      segments_.back().bytes += chunk.bytes.size();
      segments_.back().last_append_micros = chunk.last_append_micros;
      PublishLayout();
    }
    if (dirty && ::fdatasync(active_fd_) != 0) {
      return ErrnoError("cannot fdatasync '" + segments_.back().path + "'", errno);
    }
    return Status::Ok();
  }();
  if (!s.ok()) {
    // After a failed write or fsync the kernel may have dropped dirty pages: nothing written
    // since the last good sync can be trusted, so the shard refuses further work until it is
    // reopened (which recovers from what is really on disk).
    broken_ = s.WithContext(fmt::format("stream shard {} is unusable until reopened", id_.value()));
    return broken_;
  }
  spare_ = std::move(chunks_.front().bytes);  // its capacity serves the next batch
  spare_.clear();
  chunks_.clear();
  pending_bytes_ = 0;
  oldest_pending_.reset();
  durable_end_.store(next_.load(std::memory_order_relaxed), std::memory_order_release);
  return Status::Ok();
}

ShardStats ShardLogImpl::stats() const {
  ShardStats s;
  s.first = StreamOffset(first_.load());
  s.next = StreamOffset(next_.load());
  s.durable_end = StreamOffset(durable_end_.load());
  s.bytes = bytes_.load();
  s.segments = segment_count_.load();
  return s;
}

std::optional<Segment> ShardLogImpl::SegmentStartingAt(uint64_t first, uint64_t* oldest) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::lower_bound(segments_.begin(), segments_.end(), first,
                             [](const Segment& s, uint64_t v) { return s.first < v; });
  if (it != segments_.end() && it->first == first) return *it;
  *oldest = segments_.empty() ? 0 : segments_.front().first;
  return std::nullopt;
}

Result<std::unique_ptr<ShardReader>> ShardLogImpl::OpenReader(StreamOffset from) const {
  uint64_t want = from.value();
  uint64_t next = next_.load(std::memory_order_acquire);
  if (want > next) {
    return InvalidArgument(
        fmt::format("cannot read shard {} from offset {}: the next offset to be appended is {}",
                    id_.value(), want, next));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (segments_.empty() || want < segments_.front().first) {
    return NotFound(fmt::format(
        "cannot read shard {} from offset {}: the oldest offset on disk is {} (older records "
        "were deleted by retention)",
        id_.value(), want, segments_.empty() ? next : segments_.front().first));
  }
  auto it = std::upper_bound(segments_.begin(), segments_.end(), want,
                             [](uint64_t v, const Segment& s) { return v < s.first; });
  --it;
  return std::unique_ptr<ShardReader>(
      std::make_unique<ShardReaderImpl>(*this, it->first, it->path, want));
}

Result<int64_t> ShardLogImpl::LastAppendMicros(size_t index) {
  Segment& seg = segments_[index];
  if (seg.last_append_micros) return *seg.last_append_micros;
  // A segment of an earlier run: its modification time is when its last record was written.
  // Retention never reads what it deletes (a damaged segment that was fully delivered must not
  // stop the pipeline).
  struct stat st;
  if (::stat(seg.path.c_str(), &st) != 0) {
    return ErrnoError("cannot stat segment '" + seg.path + "'", errno);
  }
  int64_t micros = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  seg.last_append_micros = micros;
  return micros;
}

Status ShardLogImpl::ApplyRetention(StreamOffset checkpoint, int64_t now_micros) {
  const int64_t age_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.retention_age).count();
  const bool unlimited = options_.retention_age.count() == 0 && options_.retention_bytes == 0;
  uint64_t bytes = 0;
  for (const Segment& s : segments_) bytes += s.bytes;

  size_t drop = 0;
  // Never the active (last) segment, and only segments whose every record is below the
  // checkpoint: the next segment must start at or below it.
  while (drop + 1 < segments_.size() && segments_[drop + 1].first <= checkpoint.value()) {
    bool expired = unlimited;
    if (!expired && options_.retention_bytes > 0 && bytes > options_.retention_bytes) {
      expired = true;
    }
    if (!expired && age_micros > 0) {
      CDC_ASSIGN_OR_RETURN(int64_t last, LastAppendMicros(drop));
      expired = now_micros - last >= age_micros;
    }
    if (!expired) break;
    bytes -= segments_[drop].bytes;
    ++drop;
  }
  if (drop == 0) return Status::Ok();

  std::vector<std::string> paths;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < drop; ++i) paths.push_back(segments_[i].path);
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(drop));
    PublishLayout();
  }
  // Oldest first, so a crash in between leaves a contiguous log.
  for (const std::string& path : paths) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError("cannot delete segment '" + path + "'", errno);
    }
  }
  log::Debug("{}: retention deleted {} segment(s) below offset {}", dir_, drop, checkpoint.value());
  return SyncDir(dir_);
}

Status ShardLogImpl::TruncateTo(StreamOffset offset) {
  if (!broken_.ok()) return broken_;
  const uint64_t want = offset.value();
  const uint64_t durable = durable_end_.load(std::memory_order_relaxed);
  if (want > durable) {
    return InvalidArgument(
        fmt::format("cannot truncate shard {} to offset {}: only the records below {} are durable",
                    id_.value(), want, durable));
  }
  if (segments_.empty() || want < segments_.front().first) {
    return NotFound(fmt::format(
        "cannot truncate shard {} to offset {}: the oldest offset on disk is {} (older records "
        "were deleted by retention)",
        id_.value(), want, segments_.empty() ? durable : segments_.front().first));
  }
  // Records not yet synced all lie at or after the durable end, so they go in any case.
  chunks_.clear();
  pending_bytes_ = 0;
  oldest_pending_.reset();
  if (want == durable) {
    tail_bytes_ = segments_.back().bytes;
    next_.store(durable, std::memory_order_release);
    return Status::Ok();
  }

  // The segment holding `want`, and the byte position of that record in it.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), want,
                             [](uint64_t v, const Segment& s) { return v < s.first; });
  const size_t keep = static_cast<size_t>(it - segments_.begin()) - 1;
  const Segment& seg = segments_[keep];
  uint64_t cut = 0;
  if (want > seg.first) {
    ShardReaderImpl reader(*this, seg.first, seg.path, seg.first);
    for (uint64_t expected = seg.first; expected < want; ++expected) {
      CDC_ASSIGN_OR_RETURN(std::optional<Record> rec, reader.Next());
      if (!rec || rec->offset.value() != expected) {
        return Corruption(
                   fmt::format("{}: offset {} is not where the segment says", seg.path, expected))
            .set_data_loss();
      }
      cut += kHeaderBytes + rec->payload.size();
    }
  }

  Status s = [&]() -> Status {
    // Newest first, so that a crash in between leaves a contiguous log.
    for (size_t i = segments_.size(); i-- > keep + 1;) {
      if (::unlink(segments_[i].path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoError("cannot delete segment '" + segments_[i].path + "'", errno);
      }
    }
    if (segments_.size() > keep + 1) CDC_RETURN_IF_ERROR(SyncDir(dir_));
    int fd = ::open(seg.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return ErrnoError("cannot open '" + seg.path + "'", errno);
    if (::ftruncate(fd, static_cast<off_t>(cut)) != 0 || ::fsync(fd) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot truncate '" + seg.path + "'", err);
    }
    if (active_fd_ >= 0) ::close(active_fd_);
    active_fd_ = fd;
    return Status::Ok();
  }();
  if (!s.ok()) {
    broken_ = s.WithContext(fmt::format("stream shard {} is unusable until reopened", id_.value()));
    return broken_;
  }
  log::Debug("{}: truncated to offset {} (was {})", dir_, want, durable);
  {
    std::lock_guard<std::mutex> lock(mu_);
    segments_.resize(keep + 1);
    segments_.back().bytes = cut;
    segments_.back().last_append_micros.reset();
    next_.store(want, std::memory_order_release);
    durable_end_.store(want, std::memory_order_release);
    PublishLayout();
  }
  tail_bytes_ = cut;
  return Status::Ok();
}

// ---- reader ----

Result<std::optional<Record>> ShardReaderImpl::Next() {
  for (;;) {
    uint64_t durable = log_.durable_end_value();
    if (next_ >= durable) return std::optional<Record>();
    CDC_ASSIGN_OR_RETURN(Record rec, ReadRecord(durable));
    if (rec.offset.value() < from_) continue;
    return std::optional<Record>(rec);
  }
}

Status ShardReaderImpl::OpenFile() {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ >= 0) return Status::Ok();
  if (errno == ENOENT) {
    return NotFound(
        fmt::format("{}: offset {} is no longer on disk (deleted by retention)", path_, next_));
  }
  return ErrnoError("cannot open '" + path_ + "'", errno);
}

Status ShardReaderImpl::NextSegment() {
  uint64_t oldest = 0;
  std::optional<Segment> seg = log_.SegmentStartingAt(next_, &oldest);
  if (!seg || seg->first == segment_first_) {
    if (!seg && next_ < oldest) {
      return NotFound(
          fmt::format("offset {} is no longer on disk (deleted by retention; the oldest is {})",
                      next_, oldest));
    }
    return Corrupt(
        fmt::format("it ends at byte {} after offset {}, but no other segment starts "
                    "at offset {}",
                    pos_, next_ - 1, next_));
  }
  ::close(fd_);
  fd_ = -1;
  segment_first_ = seg->first;
  path_ = std::move(seg->path);
  pos_ = 0;
  buf_start_ = 0;
  buf_len_ = 0;
  buf_eof_ = false;
  buf_durable_ = 0;
  return OpenFile();
}

Status ShardReaderImpl::Ensure(size_t n, uint64_t durable) {
  bool fresh = next_ < buf_durable_ && pos_ >= buf_start_ && pos_ <= buf_start_ + buf_len_;
  if (fresh && (Available() >= n || buf_eof_)) return Status::Ok();
  size_t want = std::max(n, kReadChunk);
  if (buf_.size() < want) buf_.resize(want);
  buf_start_ = pos_;
  buf_len_ = 0;
  buf_eof_ = false;
  buf_durable_ = durable;
  while (buf_len_ < want) {
    ssize_t r =
        ::pread(fd_, buf_.data() + buf_len_, want - buf_len_, static_cast<off_t>(pos_ + buf_len_));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read '" + path_ + "'", errno);
    }
    if (r == 0) {
      buf_eof_ = true;
      break;
    }
    buf_len_ += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Result<Record> ShardReaderImpl::ReadRecord(uint64_t durable) {
  // The record with offset next_ is durable, so it is whole in this segment at pos_, or this
  // segment ends at pos_ and the record starts the next one.
  for (;;) {
    if (fd_ < 0) CDC_RETURN_IF_ERROR(OpenFile());
    CDC_RETURN_IF_ERROR(Ensure(kHeaderBytes, durable));
    size_t have = Available();
    if (have == 0) {
      CDC_RETURN_IF_ERROR(NextSegment());
      continue;
    }
    if (have < kHeaderBytes) {
      return Corrupt(fmt::format("incomplete record header ({} of {} bytes) at byte {}", have,
                                 kHeaderBytes, pos_));
    }
    RecordHeader h = internal::DecodeHeader(buf_.data() + (pos_ - buf_start_));
    if (h.length > kMaxPayloadBytes) {
      return Corrupt(fmt::format("impossible record length {} at byte {}", h.length, pos_));
    }
    size_t total = kHeaderBytes + h.length;
    CDC_RETURN_IF_ERROR(Ensure(total, durable));
    have = Available();
    if (have < total) {
      return Corrupt(
          fmt::format("incomplete record at byte {} (payload length {}, the file "
                      "ends after {} bytes)",
                      pos_, h.length, have));
    }
    const char* p = buf_.data() + (pos_ - buf_start_);
    if (!internal::CrcMatches(p, h)) {
      return Corrupt(
          fmt::format("checksum mismatch in the record at byte {} (offset {})", pos_, next_));
    }
    if (h.offset != next_) {
      return Corrupt(
          fmt::format("the record at byte {} has offset {}, expected {}", pos_, h.offset, next_));
    }
    Record rec;
    rec.offset = StreamOffset(h.offset);
    rec.type = h.type;
    rec.append_micros = h.append_micros;
    rec.payload = std::string_view(p + kHeaderBytes, h.length);
    pos_ += total;
    ++next_;
    return rec;
  }
}

// ---- the stream ----

std::string MetaContent(uint32_t shards, const std::string& identity) {
  std::string content = fmt::format("cdc-pipeline stream\nformat_version {}\nshard_count {}\n",
                                    internal::kFormatVersion, shards);
  if (!identity.empty()) content += "pipeline_id " + identity + "\n";
  return content;
}

// Opens (creating) the stream's metadata file; `identity` gets its pipeline_id line (empty when
// none is recorded yet).
Status OpenMeta(const std::string& dir, uint32_t shards, std::string& identity) {
  std::string path = dir + "/" + std::string(internal::kMetaFileName);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoError("cannot stat '" + path + "'", errno);
    struct stat shard0;
    std::string first_shard = dir + "/" + internal::ShardDirName(ShardId(0));
    if (::stat(first_shard.c_str(), &shard0) == 0) {
      return FailedPrecondition(fmt::format(
          "'{}' holds stream shards but no {}; restore that file (it records the shard count), "
          "or move the directory away to start a new stream",
          dir, internal::kMetaFileName));
    }
    CDC_RETURN_IF_ERROR(WriteFileAtomically(dir, path, MetaContent(shards, "")));
    // A new stream: also make its directory's own entry durable.
    size_t slash = dir.find_last_of('/');
    return SyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash));
  }
  CDC_ASSIGN_OR_RETURN(std::string content, internal::ReadWholeFile(path));
  std::optional<uint64_t> version, count;
  size_t line_start = 0;
  bool first_line = true;
  bool magic = false;
  while (line_start < content.size()) {
    size_t end = content.find('\n', line_start);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + line_start, end - line_start);
    line_start = end + 1;
    if (first_line) {
      magic = line == "cdc-pipeline stream";
      first_line = false;
      continue;
    }
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view key = line.substr(0, space);
    std::string value(line.substr(space + 1));
    if (key == "pipeline_id") {
      identity = value;
      continue;
    }
    char* endp = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(value.c_str(), &endp, 10);
    if (value.empty() || *endp != '\0' || errno != 0) continue;
    if (key == "format_version") version = v;
    if (key == "shard_count") count = v;
  }
  if (!magic || !version || !count) {
    return Corruption(fmt::format("{}: not a stream metadata file (expected the lines "
                                  "'cdc-pipeline stream', 'format_version N', 'shard_count N')",
                                  path))
        .set_data_loss();
  }
  if (*version != internal::kFormatVersion) {
    return FailedPrecondition(fmt::format(
        "{}: the stream has format version {}, this build reads version {}; use a matching "
        "cdc-pipeline build, or move '{}' away to start a new stream",
        path, *version, internal::kFormatVersion, dir));
  }
  if (*count != shards) {
    return FailedPrecondition(fmt::format(
        "the stream in '{}' was created with {} shards, but {} shards were asked for; the shard "
        "count of an existing stream cannot change (keys would move between shards and lose "
        "their order). Set the shard count back to {}, or, to start a new stream with {} shards, "
        "let every shard be fully processed and move '{}' away",
        dir, *count, shards, *count, shards, dir));
  }
  return Status::Ok();
}

class EmbeddedStreamImpl final : public EmbeddedStream {
 public:
  EmbeddedStreamImpl(std::string dir, LogOptions options, int lock_fd)
      : dir_(std::move(dir)),
        options_(options),
        lock_fd_(lock_fd),
        notifier_(std::make_shared<Notifier>()) {}
  ~EmbeddedStreamImpl() override {
    shards_.clear();
    if (synced_fd_ >= 0) ::close(synced_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  EmbeddedStreamImpl(const EmbeddedStreamImpl&) = delete;
  EmbeddedStreamImpl& operator=(const EmbeddedStreamImpl&) = delete;

  void set_identity(std::string id) { identity_ = std::move(id); }

  Status OpenShards(uint32_t count) {
    std::vector<uint64_t> synced(count, 0);
    if (options_.record_synced_ends) {
      CDC_ASSIGN_OR_RETURN(synced, OpenSynced(count));
    }
    for (uint32_t i = 0; i < count; ++i) {
      auto shard = std::make_unique<ShardLogImpl>(dir_ + "/" + internal::ShardDirName(ShardId(i)),
                                                  ShardId(i), options_, notifier_);
      CDC_RETURN_IF_ERROR(shard->Recover(synced[i]));
      shards_.push_back(std::move(shard));
    }
    if (options_.record_synced_ends) CDC_RETURN_IF_ERROR(WriteSynced());
    return Status::Ok();
  }

  // Reads the `synced` file (all zeros when there is none yet) and keeps it open for writing.
  Result<std::vector<uint64_t>> OpenSynced(uint32_t count) {
    std::string path = dir_ + "/" + std::string(internal::kSyncedFileName);
    std::vector<uint64_t> ends(count, 0);
    struct stat st;
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists) {
      CDC_ASSIGN_OR_RETURN(std::string content, internal::ReadWholeFile(path));
      CDC_ASSIGN_OR_RETURN(ends, internal::ParseSynced(content, path));
      if (ends.size() != count) {
        return Corruption(fmt::format("{}: records {} shards, the stream has {}; move it away if "
                                      "the stream is otherwise intact",
                                      path, ends.size(), count))
            .set_data_loss();
      }
    }
    synced_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (synced_fd_ < 0) return ErrnoError("cannot open '" + path + "'", errno);
    if (!exists) CDC_RETURN_IF_ERROR(SyncDir(dir_));
    return ends;
  }

  // Records every shard's durable end in the `synced` file, in place, and fdatasyncs it.
  Status WriteSynced() {
    std::vector<uint64_t> ends;
    for (const auto& shard : shards_) ends.push_back(shard->durable_end_value());
    if (ends == synced_) return Status::Ok();
    std::string content = internal::EncodeSynced(ends);
    std::string path = dir_ + "/" + std::string(internal::kSyncedFileName);
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::pwrite(synced_fd_, content.data() + done, content.size() - done,
                           static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("cannot write '" + path + "'", errno);
      }
      done += static_cast<size_t>(n);
    }
    if (::fdatasync(synced_fd_) != 0) return ErrnoError("cannot fdatasync '" + path + "'", errno);
    synced_ = std::move(ends);
    return Status::Ok();
  }

  uint32_t shard_count() const override { return static_cast<uint32_t>(shards_.size()); }
  ShardLog& shard(ShardId id) override {
    CDC_ASSERT(id.value() < shards_.size(), "shard id out of range");
    return *shards_[id.value()];
  }
  const ShardLog& shard(ShardId id) const override {
    CDC_ASSERT(id.value() < shards_.size(), "shard id out of range");
    return *shards_[id.value()];
  }

  const std::string& name() const override { return dir_; }
  std::string ShardLocation(ShardId shard) const override {
    return dir_ + "/" + internal::ShardDirName(shard);
  }

  Result<StreamOffset> Append(ShardId shard, uint8_t type, std::string_view payload,
                              int64_t append_micros) override {
    return this->shard(shard).Append(type, payload, append_micros);
  }

  Result<std::unique_ptr<ShardReader>> OpenReader(ShardId shard, StreamOffset from) const override {
    return this->shard(shard).OpenReader(from);
  }

  Status ApplyRetention(ShardId shard, StreamOffset checkpoint, int64_t now_micros) override {
    return this->shard(shard).ApplyRetention(checkpoint, now_micros);
  }

  ShardStats stats(ShardId shard) const override { return this->shard(shard).stats(); }

  Status TruncateTo(ShardId shard, StreamOffset offset) override {
    CDC_RETURN_IF_ERROR(this->shard(shard).TruncateTo(offset));
    return options_.record_synced_ends ? WriteSynced() : Status::Ok();
  }

  Result<std::pair<ShardId, StreamOffset>> Append(std::string_view partition_key, uint8_t type,
                                                  std::string_view payload,
                                                  int64_t append_micros) override {
    ShardId id = ShardForKey(partition_key, shard_count());
    CDC_ASSIGN_OR_RETURN(StreamOffset offset,
                         shards_[id.value()]->Append(type, payload, append_micros));
    return std::make_pair(id, offset);
  }

  Status Sync() override {
    // The shards are independent (each has its own files and state), so they sync at the
    // same time; the first error in shard order is returned, as one after another would.
    std::vector<ShardLogImpl*> dirty;
    for (auto& shard : shards_) {
      if (shard->pending_bytes() != 0) dirty.push_back(shard.get());
    }
    std::vector<Status> results(dirty.size());
    sync_jobs_.Run(dirty.size(), [&](size_t i) { results[i] = dirty[i]->SyncWithoutNotify(); });
    Status first_error;
    bool synced = false;
    for (const Status& s : results) {
      if (s.ok()) {
        synced = true;
      } else if (first_error.ok()) {
        first_error = s;
      }
    }
    // The synced ends are durable before Sync returns, so before the source acknowledges.
    if (synced && first_error.ok() && options_.record_synced_ends) first_error = WriteSynced();
    if (synced) notifier_->Notify();
    return first_error;
  }

  bool SyncDue() const override {
    uint64_t pending = 0;
    std::optional<SteadyTime> oldest;
    for (const auto& shard : shards_) {
      pending += shard->pending_bytes();
      if (auto t = shard->oldest_pending(); t && (!oldest || *t < *oldest)) oldest = t;
    }
    if (pending == 0) return false;
    if (pending >= options_.fsync_bytes) return true;
    return oldest && std::chrono::steady_clock::now() - *oldest >= options_.fsync_interval;
  }
  std::chrono::milliseconds sync_interval() const override { return options_.fsync_interval; }

  void WaitForData(const std::vector<StreamOffset>& seen,
                   std::chrono::milliseconds timeout) const override {
    notifier_->Wait(timeout, [&] {
      size_t n = std::min(seen.size(), shards_.size());
      for (size_t i = 0; i < n; ++i) {
        if (shards_[i]->durable_end_value() > seen[i].value()) return true;
      }
      return false;
    });
  }

  void Wake() const override { notifier_->Wake(); }

 private:
  const std::string dir_;
  const LogOptions options_;
  int lock_fd_;
  std::shared_ptr<Notifier> notifier_;
  const std::string& identity() const override { return identity_; }
  Status SetIdentity(const std::string& id) override {
    std::string path = dir_ + "/" + std::string(internal::kMetaFileName);
    CDC_RETURN_IF_ERROR(WriteFileAtomically(dir_, path, MetaContent(shard_count(), id)));
    identity_ = id;
    return Status::Ok();
  }

  std::string identity_;  // the pipeline_id line of the metadata file
  std::vector<std::unique_ptr<ShardLogImpl>> shards_;
  int synced_fd_ = -1;            // the `synced` file, when options_.record_synced_ends
  std::vector<uint64_t> synced_;  // what it holds
  ParallelJobs sync_jobs_;        // idle between syncs: Sync runs on the appending thread only
};

}  // namespace

Result<std::unique_ptr<EmbeddedStream>> EmbeddedStream::Open(const std::string& dir,
                                                             uint32_t shards, LogOptions options) {
  if (shards == 0) return InvalidArgument("a stream needs at least one shard");
  if (dir.empty()) return InvalidArgument("the stream directory is empty");
  CDC_RETURN_IF_ERROR(MakeDirs(dir));

  // One process, one appender: a second open of the same directory would interleave appends.
  std::string lock_path = dir + "/" + std::string(internal::kLockFileName);
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return ErrnoError("cannot open '" + lock_path + "'", errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return FailedPrecondition(fmt::format(
          "the stream in '{}' is already open (another cdc-pipeline process, or another open in "
          "this one, holds {}); stop it first or use another data directory",
          dir, lock_path));
    }
    return ErrnoError("cannot lock '" + lock_path + "'", err);
  }
  auto stream = std::make_unique<EmbeddedStreamImpl>(dir, options, lock_fd);
  std::string identity;
  CDC_RETURN_IF_ERROR(OpenMeta(dir, shards, identity));
  stream->set_identity(std::move(identity));
  CDC_RETURN_IF_ERROR(stream->OpenShards(shards));
  return std::unique_ptr<EmbeddedStream>(std::move(stream));
}

}  // namespace cdc::stream
