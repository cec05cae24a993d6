// The record layout and the scan of a shard's last segment (docs/log-format.md).
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "stream/internal.h"
#include "stream/log.h"

namespace cdc::stream::internal {
namespace {

template <typename T>
void PutLittle(std::string& out, T v) {
  char bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  out.append(bytes, sizeof(T));
}

template <typename T>
T GetLittle(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return static_cast<T>(v);
}

}  // namespace

void EncodeRecord(std::string& out, uint64_t offset, uint8_t type, int64_t append_micros,
                  std::string_view payload) {
  size_t start = out.size();
  PutLittle<uint32_t>(out, static_cast<uint32_t>(payload.size()));
  PutLittle<uint32_t>(out, 0);  // CRC, filled in below
  out.push_back(static_cast<char>(type));
  PutLittle<uint64_t>(out, offset);
  PutLittle<int64_t>(out, append_micros);
  out.append(payload);
  std::string_view covered(out.data() + start + kCrcCoverStart,
                           kHeaderBytes - kCrcCoverStart + payload.size());
  uint32_t crc = Crc32c(covered);
  for (size_t i = 0; i < 4; ++i) out[start + 4 + i] = static_cast<char>(crc >> (8 * i));
}

RecordHeader DecodeHeader(const char* p) {
  RecordHeader h;
  h.length = GetLittle<uint32_t>(p);
  h.crc = GetLittle<uint32_t>(p + 4);
  h.type = static_cast<uint8_t>(p[8]);
  h.offset = GetLittle<uint64_t>(p + 9);
  h.append_micros = GetLittle<int64_t>(p + 17);
  return h;
}

bool CrcMatches(const char* p, const RecordHeader& header) {
  std::string_view covered(p + kCrcCoverStart, kHeaderBytes - kCrcCoverStart + header.length);
  return Crc32c(covered) == header.crc;
}

std::string ShardDirName(ShardId shard) { return fmt::format("shard-{:04}", shard.value()); }

std::string SegmentFileName(uint64_t first_offset) {
  return fmt::format("{:020}.log", first_offset);
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".log") return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

namespace {

// Why the record at `pos` is unusable, or "" when it is a whole record with a matching CRC.
std::string CheckRecord(std::string_view data, size_t pos, RecordHeader& h) {
  size_t left = data.size() - pos;
  if (left < kHeaderBytes)
    return fmt::format("incomplete record header ({} of {} bytes)", left, kHeaderBytes);
  h = DecodeHeader(data.data() + pos);
  if (h.length > kMaxPayloadBytes) return fmt::format("impossible record length {}", h.length);
  if (h.length > left - kHeaderBytes) {
    return fmt::format("incomplete record (payload length {}, {} bytes present)", h.length,
                       left - kHeaderBytes);
  }
  if (!CrcMatches(data.data() + pos, h)) return "checksum mismatch";
  return "";
}

// The position of a whole, CRC-valid record after `from` that could belong to this segment (its
// offset at least `expected`), or nullopt. Only offsets that fit in the bytes left are candidates,
// so garbage is rejected before any CRC is computed.
std::optional<size_t> FindValidRecordAfter(std::string_view data, size_t from, uint64_t expected) {
  if (data.size() < kHeaderBytes) return std::nullopt;
  uint64_t max_offset = expected + (data.size() - from) / kHeaderBytes;
  for (size_t q = from; q + kHeaderBytes <= data.size(); ++q) {
    RecordHeader h = DecodeHeader(data.data() + q);
    if (h.offset < expected || h.offset > max_offset) continue;
    if (h.length > kMaxPayloadBytes || h.length > data.size() - q - kHeaderBytes) continue;
    if (CrcMatches(data.data() + q, h)) return q;
  }
  return std::nullopt;
}

}  // namespace

Result<TailScan> ScanSegment(std::string_view data, const std::string& path,
                             uint64_t first_offset) {
  TailScan scan;
  scan.next_offset = first_offset;
  size_t pos = 0;
  while (pos < data.size()) {
    RecordHeader h;
    std::string bad = CheckRecord(data, pos, h);
    if (bad.empty()) {
      if (h.offset != scan.next_offset) {
        return Corruption(
                   fmt::format("{}: the record at byte {} has offset {}, expected {} (offsets "
                               "must be contiguous); the segment is corrupt",
                               path, pos, h.offset, scan.next_offset))
            .set_data_loss();
      }
      scan.last_append_micros = h.append_micros;
      ++scan.next_offset;
      pos += kHeaderBytes + h.length;
      continue;
    }
    if (std::optional<size_t> next = FindValidRecordAfter(data, pos + 1, scan.next_offset)) {
      return Corruption(
                 fmt::format("{}: {} at byte {} (offset {}), but a valid record follows at byte "
                             "{}; the segment is corrupt, not torn by a crash",
                             path, bad, pos, scan.next_offset, *next))
          .set_data_loss();
    }
    scan.torn_reason = bad;
    break;
  }
  scan.valid_bytes = pos;
  return scan;
}

std::string EncodeSynced(const std::vector<uint64_t>& ends) {
  std::string out = "cdc-pipeline synced\n";
  for (size_t i = 0; i < ends.size(); ++i) out += fmt::format("shard {:04} {:020}\n", i, ends[i]);
  out += fmt::format("crc {:08x}\n", Crc32c(out));
  return out;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open '" + path + "'", errno);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read '" + path + "'", err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::vector<uint64_t>> ParseSynced(std::string_view content, const std::string& path) {
  auto bad = [&](std::string_view what) -> Status {
    return Corruption(fmt::format("{}: {}; this file records how far each shard was synced and "
                                  "acknowledged to the source. If the stream is otherwise intact, "
                                  "move it away (the check starts again from the next sync)",
                                  path, what))
        .set_data_loss();
  };
  constexpr std::string_view kMagic = "cdc-pipeline synced\n";
  if (content.substr(0, kMagic.size()) != kMagic) return bad("not a synced-ends file");
  size_t crc_at = content.rfind("crc ");
  if (crc_at == std::string_view::npos || crc_at < kMagic.size() || content.back() != '\n' ||
      content[crc_at - 1] != '\n') {
    return bad("the checksum line is missing");
  }
  uint32_t crc = 0;
  std::string_view crc_text = content.substr(crc_at + 4, content.size() - crc_at - 5);
  auto [cp, cec] = std::from_chars(crc_text.data(), crc_text.data() + crc_text.size(), crc, 16);
  if (cec != std::errc() || cp != crc_text.data() + crc_text.size() ||
      crc != Crc32c(content.substr(0, crc_at))) {
    return bad("checksum mismatch");
  }
  std::vector<uint64_t> ends;
  std::string_view lines = content.substr(kMagic.size(), crc_at - kMagic.size());
  constexpr size_t kLine = 6 + 4 + 1 + 20 + 1;  // "shard NNNN <20 digits>\n"
  if (lines.size() % kLine != 0) return bad("malformed shard line");
  for (size_t at = 0; at < lines.size(); at += kLine) {
    std::string_view line = lines.substr(at, kLine);
    uint64_t shard = 0, end = 0;
    auto [p1, e1] = std::from_chars(line.data() + 6, line.data() + 10, shard);
    auto [p2, e2] = std::from_chars(line.data() + 11, line.data() + 31, end);
    if (line.substr(0, 6) != "shard " || e1 != std::errc() || p1 != line.data() + 10 ||
        e2 != std::errc() || p2 != line.data() + 31 || shard != ends.size()) {
      return bad("malformed shard line");
    }
    ends.push_back(end);
  }
  return ends;
}

}  // namespace cdc::stream::internal
