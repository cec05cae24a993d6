// Implementation details of the embedded stream shared by its .cc files and its tests: the
// record layout (docs/log-format.md), file names, the portable CRC-32C and the hash-key split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/position.h"
#include "base/status.h"

namespace cdc::stream::internal {

// A 128-bit hash key (GCC and Clang extension; -Wpedantic needs the __extension__).
__extension__ typedef unsigned __int128 Uint128;

// Record header, little-endian: u32 payload length, u32 CRC-32C of everything after the CRC
// field (type, offset, append micros, payload), u8 type, u64 offset, i64 append micros.
inline constexpr size_t kHeaderBytes = 4 + 4 + 1 + 8 + 8;
inline constexpr size_t kCrcCoverStart = 8;  // the CRC covers bytes [8, kHeaderBytes + length)
// Larger payloads are refused by Append, and a larger length in a header is corruption.
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr std::string_view kMetaFileName = "stream.meta";
inline constexpr std::string_view kLockFileName = "LOCK";
// Per shard, the end of what was synced (and so may have been acknowledged to the source).
inline constexpr std::string_view kSyncedFileName = "synced";

struct RecordHeader {
  uint32_t length = 0;
  uint32_t crc = 0;
  uint8_t type = 0;
  uint64_t offset = 0;
  int64_t append_micros = 0;
};

// Appends header and payload to `out`.
void EncodeRecord(std::string& out, uint64_t offset, uint8_t type, int64_t append_micros,
                  std::string_view payload);
// Decodes the kHeaderBytes at `p` (no checks).
RecordHeader DecodeHeader(const char* p);
// Whether the CRC in the header at `p` matches the `length` bytes of payload that follow it.
bool CrcMatches(const char* p, const RecordHeader& header);

// "shard-0003", "00000000000000000042.log".
std::string ShardDirName(ShardId shard);
std::string SegmentFileName(uint64_t first_offset);
// The first offset from a segment file name, or nullopt when the name is not one.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

// What the scan of the last segment of a shard found.
struct TailScan {
  uint64_t valid_bytes = 0;  // records [0, valid_bytes) are whole and valid
  uint64_t next_offset = 0;  // offset after the last valid record
  std::optional<int64_t> last_append_micros;
  std::string torn_reason;  // why the bytes from valid_bytes on were cut ("" when none)
};

// Checks every record of the segment `data` (the file `path`, first offset `first_offset`).
// A bad record with nothing valid after it is a torn tail (valid_bytes < data.size()); a bad
// record followed by a valid one, or a record with a wrong offset, is a Corruption error naming
// `path` and the byte position.
Result<TailScan> ScanSegment(std::string_view data, const std::string& path, uint64_t first_offset);

// The `synced` file: one fixed-width line per shard with the offset after its last synced record,
// then a CRC-32C of those lines, so that it is rewritten in place with one write of the same
// length. Parse returns Corruption (naming `path`) for anything else.
std::string EncodeSynced(const std::vector<uint64_t>& ends);
// The whole content of a small file (segment metadata, the synced file, a segment to check).
Result<std::string> ReadWholeFile(const std::string& path);

Result<std::vector<uint64_t>> ParseSynced(std::string_view content, const std::string& path);

// Kinesis hash-key ranges: the shard whose range holds `hash` in a new stream of `shard_count`.
ShardId ShardForHash(Uint128 hash, uint32_t shard_count);
// The StartingHashKey of `shard` (i * floor(2^128 / shard_count)).
Uint128 StartingHashKey(uint32_t shard, uint32_t shard_count);

// Table-driven CRC-32C; the same result as Crc32c, without SSE4.2.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);

}  // namespace cdc::stream::internal
