// What the embedded stream reads back from disk after a crash or a disk fault: a segment file
// (records with length, CRC-32C, type, offset, time), the `synced` file, and the binary change
// encoding inside change records. Input: a segment's bytes. The scan must either report
// corruption or say which prefix is valid; every record in that prefix has its CRC and offset
// checked again here, and its payload is fed to DecodeChange and to ParseSynced.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "event/change_codec.h"
#include "stream/internal.h"

namespace si = cdc::stream::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)si::ParseSynced(bytes, "fuzz/synced");
  (void)cdc::DecodeChange(bytes);
  // The first record's offset is the segment's first offset, as in a real file name; when the
  // input is too short for a header, 0.
  uint64_t first = size >= si::kHeaderBytes ? si::DecodeHeader(bytes.data()).offset : 0;
  auto scan = si::ScanSegment(bytes, "fuzz/segment.log", first);
  if (!scan.ok()) return 0;
  if (scan->valid_bytes > size) std::abort();
  size_t pos = 0;
  uint64_t expected = first;
  while (pos < scan->valid_bytes) {
    if (scan->valid_bytes - pos < si::kHeaderBytes) std::abort();
    si::RecordHeader h = si::DecodeHeader(bytes.data() + pos);
    if (h.length > scan->valid_bytes - pos - si::kHeaderBytes) std::abort();
    if (!si::CrcMatches(bytes.data() + pos, h) || h.offset != expected) std::abort();
    (void)cdc::DecodeChange(bytes.substr(pos + si::kHeaderBytes, h.length));
    pos += si::kHeaderBytes + h.length;
    ++expected;
  }
  if (pos != scan->valid_bytes || expected != scan->next_offset) std::abort();
  return 0;
}
