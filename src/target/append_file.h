// An append-only file of lines with a write buffer and an fsync policy; used by the file target
// and the dead-letter file.
//
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace cdc {

enum class FsyncPolicy { kAlways, kBatch, kNever };
FsyncPolicy ParseFsyncPolicy(std::string_view text);  // always | batch | never (default batch)

class AppendFile {
 public:
  AppendFile(std::string path, FsyncPolicy fsync);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Opens (creating the file and its directory if missing). A last line left without its newline
  // by a crash is cut off (see truncated_bytes).
  Status Open();
  // Appends `line` and a newline. With kAlways the line is written and fsynced before return.
  Status Append(std::string_view line);
  // Writes buffered lines; fsyncs unless the policy is kNever.
  Status Flush();
  // Writes buffered lines without fsync.
  Status WriteOut();
  // The file's length including written (not buffered) lines; 0 for a file not yet created.
  Result<uint64_t> Size();
  // Whether the path is (or will be created as) a regular file, not a pipe or a device: only
  // a regular file can be measured and cut back, i.e. take part in exactly-once delivery.
  bool IsRegular() const;
  // Cuts the file back to `size` bytes (what a checkpoint recorded), dropping the buffer.
  // A file already shorter is left alone and reported in the result (false).
  Result<bool> TruncateTo(uint64_t size);
  // Whether the directory of `path` exists or can be created, and a file there can be written.
  static Status CheckWritable(const std::string& path);

  const std::string& path() const { return path_; }
  // Bytes of a torn last line removed by Open.
  uint64_t truncated_bytes() const { return truncated_bytes_; }

 private:
  Status WriteBuffer();
  Status TruncateTornTail();

  std::string path_;
  FsyncPolicy fsync_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t truncated_bytes_ = 0;
  uint64_t size_ = 0;  // bytes in the file (written, not buffered)
  bool regular_ = true;
};

// mkdir -p
Status MakeDirectories(const std::string& dir);

// A byte-length cursor (the file target's and the dead-letter file's), read back from the state
// store: only decimal digits that fit a uint64; anything else is Corruption (a target never cuts
// its file to a length it could not read).
Result<uint64_t> ParseLengthCursor(std::string_view cursor);

}  // namespace cdc
