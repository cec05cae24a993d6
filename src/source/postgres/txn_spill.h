// TxnSpill: the changes of one in-progress transaction that PostgreSQL streams before it commits
// (pgoutput protocol version 2, `streaming 'on'`), kept on disk until its Stream Commit or Stream
// Abort so a transaction of any size needs constant memory.
//
// The file is unnamed (O_TMPFILE in the given directory, or created and unlinked at once where
// the file system lacks O_TMPFILE): it disappears when closed, also on kill -9, so a crash leaves
// nothing to clean up (PostgreSQL streams the whole transaction again after a restart). Records:
//   u32 length (little-endian, of what follows) | u32 subxid | u8 tag | payload
// where `subxid` is the (sub)transaction the record belongs to, so a rolled-back savepoint's
// records are skipped on reading. Writes go through a 64 KiB buffer; reading is sequential.
//
// Thread-safety: single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/status.h"

namespace cdc::pg {

class TxnSpill {
 public:
  struct Record {
    uint32_t subxid = 0;
    char tag = 0;
    std::string payload;
  };

  // Opens an empty spill file in `dir` (created if missing).
  static Result<std::unique_ptr<TxnSpill>> Open(const std::string& dir);
  ~TxnSpill();
  TxnSpill(const TxnSpill&) = delete;
  TxnSpill& operator=(const TxnSpill&) = delete;

  Status Append(uint32_t subxid, char tag, std::string_view payload);
  // Records of this subtransaction are skipped by Next (ROLLBACK TO SAVEPOINT).
  void Discard(uint32_t subxid) { discarded_.insert(subxid); }

  // Flushes what is buffered and reads from the first record on.
  Status Rewind();
  // The next record not discarded; false at the end. Corruption if the file is cut short.
  Result<bool> Next(Record& out);

  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }

 private:
  explicit TxnSpill(int fd) : fd_(fd) {}
  Status Flush();
  Status Fill(size_t want);

  int fd_ = -1;
  std::string buffer_;  // write buffer, then read buffer after Rewind
  size_t read_pos_ = 0;
  bool reading_ = false;
  bool eof_ = false;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  std::unordered_set<uint32_t> discarded_;
};

}  // namespace cdc::pg
