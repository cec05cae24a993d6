#include "source/postgres/txn_spill.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace cdc::pg {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
constexpr size_t kHeaderBytes = 9;  // u32 length, u32 subxid, u8 tag

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

Result<std::unique_ptr<TxnSpill>> TxnSpill::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("creating the spill directory " + dir + ": " + ec.message());
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // No O_TMPFILE on this file system: a named file, unlinked at once.
    std::string path = dir + "/txn-spill.XXXXXX";
    fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) unlink(path.c_str());
  }
  if (fd < 0) return ErrnoError("creating a transaction spill file in " + dir, errno);
  return std::unique_ptr<TxnSpill>(new TxnSpill(fd));
}

TxnSpill::~TxnSpill() {
  if (fd_ >= 0) close(fd_);
}

Status TxnSpill::Append(uint32_t subxid, char tag, std::string_view payload) {
  if (reading_) return Internal("transaction spill: append after rewind");
  PutLe32(buffer_, static_cast<uint32_t>(payload.size() + 5));
  PutLe32(buffer_, subxid);
  buffer_.push_back(tag);
  buffer_.append(payload);
  ++records_;
  bytes_ += payload.size() + kHeaderBytes;
  if (buffer_.size() >= kBufferBytes) return Flush();
  return Status::Ok();
}

Status TxnSpill::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing a transaction spill file", errno);
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  if (buffer_.capacity() > 4 * kBufferBytes) buffer_.shrink_to_fit();
  return Status::Ok();
}

Status TxnSpill::Rewind() {
  if (!reading_) CDC_RETURN_IF_ERROR(Flush());
  if (lseek(fd_, 0, SEEK_SET) < 0) return ErrnoError("rewinding a transaction spill file", errno);
  reading_ = true;
  eof_ = false;
  buffer_.clear();
  read_pos_ = 0;
  return Status::Ok();
}

// Makes at least `want` unread bytes available unless the file ends first.
Status TxnSpill::Fill(size_t want) {
  if (buffer_.size() - read_pos_ >= want || eof_) return Status::Ok();
  buffer_.erase(0, read_pos_);
  read_pos_ = 0;
  size_t target = std::max(want, kBufferBytes);
  while (buffer_.size() < target && !eof_) {
    size_t old = buffer_.size();
    buffer_.resize(target);
    ssize_t n = read(fd_, buffer_.data() + old, target - old);
    if (n < 0) {
      buffer_.resize(old);
      if (errno == EINTR) continue;
      return ErrnoError("reading a transaction spill file", errno);
    }
    buffer_.resize(old + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
  return Status::Ok();
}

Result<bool> TxnSpill::Next(Record& out) {
  if (!reading_) return Internal("transaction spill: read before rewind");
  while (true) {
    CDC_RETURN_IF_ERROR(Fill(kHeaderBytes));
    size_t avail = buffer_.size() - read_pos_;
    if (avail == 0) return false;
    if (avail < kHeaderBytes) return Corruption("transaction spill file: cut short in a header");
    const char* p = buffer_.data() + read_pos_;
    uint32_t length = GetLe32(p);
    if (length < 5) return Corruption("transaction spill file: bad record length");
    CDC_RETURN_IF_ERROR(Fill(4 + static_cast<size_t>(length)));
    if (buffer_.size() - read_pos_ < 4 + static_cast<size_t>(length)) {
      return Corruption("transaction spill file: cut short in a record");
    }
    p = buffer_.data() + read_pos_;
    out.subxid = GetLe32(p + 4);
    out.tag = p[8];
    out.payload.assign(p + kHeaderBytes, length - 5);
    read_pos_ += 4 + static_cast<size_t>(length);
    if (!discarded_.contains(out.subxid)) return true;
  }
}

}  // namespace cdc::pg
