#include "target/append_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "base/logging.h"

namespace cdc {

FsyncPolicy ParseFsyncPolicy(std::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "never") return FsyncPolicy::kNever;
  return FsyncPolicy::kBatch;
}

Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory '" + partial + "'", errno);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return IoError("'" + dir + "' is not a directory");
  }
  return Status::Ok();
}

namespace {
std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AppendFile::AppendFile(std::string path, FsyncPolicy fsync)
    : path_(std::move(path)), fsync_(fsync) {}

AppendFile::~AppendFile() {
  if (fd_ >= 0) {
    (void)WriteBuffer();
    ::close(fd_);
  }
}

Status AppendFile::Open() {
  if (fd_ >= 0) return Status::Ok();
  CDC_RETURN_IF_ERROR(MakeDirectories(DirName(path_)));
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoError("cannot open '" + path_ + "' for appending", errno);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoError("cannot stat '" + path_ + "'", errno);
  regular_ = S_ISREG(st.st_mode);
  if (!regular_) return Status::Ok();  // a pipe or a device: nothing to repair or measure
  CDC_RETURN_IF_ERROR(TruncateTornTail());
  off_t end = ::lseek(fd_, 0, SEEK_END);
  if (end < 0) return ErrnoError("cannot seek in '" + path_ + "'", errno);
  size_ = static_cast<uint64_t>(end);
  if (truncated_bytes_ > 0) {
    log::Warn(
        "{}: removed a partly written last line ({} bytes) left by a crash; its events are "
        "delivered again",
        path_, truncated_bytes_);
  }
  return Status::Ok();
}

// A crash in the middle of a write can leave a last line without its newline. Appending after it
// would glue two events into one invalid line, so the partial line is cut off; the events it
// held are delivered again (the source resumes from its last acknowledged position).
Status AppendFile::TruncateTornTail() {
  off_t size = ::lseek(fd_, 0, SEEK_END);
  if (size <= 0) return Status::Ok();
  char last = 0;
  if (::pread(fd_, &last, 1, size - 1) != 1)
    return ErrnoError("cannot read '" + path_ + "'", errno);
  if (last == '\n') return Status::Ok();
  off_t end = size;
  char buf[4096];
  while (end > 0) {
    off_t start = end > static_cast<off_t>(sizeof(buf)) ? end - static_cast<off_t>(sizeof(buf)) : 0;
    ssize_t n = ::pread(fd_, buf, static_cast<size_t>(end - start), start);
    if (n <= 0) return ErrnoError("cannot read '" + path_ + "'", errno);
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buf[i] == '\n') {
        off_t keep = start + i + 1;
        if (::ftruncate(fd_, keep) != 0)
          return ErrnoError("cannot truncate '" + path_ + "'", errno);
        truncated_bytes_ = static_cast<uint64_t>(size - keep);
        return Status::Ok();
      }
    }
    end = start;
  }
  if (::ftruncate(fd_, 0) != 0) return ErrnoError("cannot truncate '" + path_ + "'", errno);
  truncated_bytes_ = static_cast<uint64_t>(size);
  return Status::Ok();
}

Status AppendFile::Append(std::string_view line) {
  CDC_RETURN_IF_ERROR(Open());
  buffer_.append(line);
  buffer_.push_back('\n');
  if (fsync_ == FsyncPolicy::kAlways) return Flush();
  if (buffer_.size() >= (1 << 20)) return WriteBuffer();
  return Status::Ok();
}

Status AppendFile::WriteBuffer() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoError("cannot write to '" + path_ + "'", errno);
      buffer_.erase(0, off);
      return s;
    }
    off += static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  buffer_.clear();
  return Status::Ok();
}

Status AppendFile::WriteOut() {
  if (fd_ < 0) return Status::Ok();
  return WriteBuffer();
}

Result<uint64_t> AppendFile::Size() {
  if (fd_ >= 0) return size_;
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return uint64_t{0};  // not created until the first line
    return ErrnoError("cannot stat '" + path_ + "'", errno);
  }
  return S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
}

bool AppendFile::IsRegular() const {
  if (fd_ >= 0) return regular_;
  struct stat st;
  return ::stat(path_.c_str(), &st) != 0 || S_ISREG(st.st_mode);  // missing: created regular
}

Result<bool> AppendFile::TruncateTo(uint64_t size) {
  if (fd_ < 0 && ::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return size == 0;
  CDC_RETURN_IF_ERROR(Open());
  if (!regular_) return true;
  buffer_.clear();
  if (size_ < size) return false;
  if (size_ == size) return true;
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return ErrnoError("cannot truncate '" + path_ + "'", errno);
  }
  if (::fdatasync(fd_) != 0) return ErrnoError("cannot fsync '" + path_ + "'", errno);
  size_ = size;
  return true;
}

Status AppendFile::Flush() {
  if (fd_ < 0) return Status::Ok();
  CDC_RETURN_IF_ERROR(WriteBuffer());
  if (fsync_ != FsyncPolicy::kNever && ::fdatasync(fd_) != 0) {
    return ErrnoError("cannot fsync '" + path_ + "'", errno);
  }
  return Status::Ok();
}

Status AppendFile::CheckWritable(const std::string& path) {
  CDC_RETURN_IF_ERROR(MakeDirectories(DirName(path)));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open '" + path + "' for appending", errno);
  ::close(fd);
  return Status::Ok();
}

Result<uint64_t> ParseLengthCursor(std::string_view cursor) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), v);
  if (cursor.empty() || ec != std::errc() || p != cursor.data() + cursor.size()) {
    return Corruption("the cursor '" + std::string(cursor) + "' is not a byte length")
        .set_data_loss();
  }
  return v;
}

}  // namespace cdc
