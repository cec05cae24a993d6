// The record layout and the scan of a shard's last segment (docs/log-format.md).
#include <fmt/core.h>

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

}  // namespace cdc::stream::internal
