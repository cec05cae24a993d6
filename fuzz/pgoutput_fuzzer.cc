// The replication stream as the walsender sends it: CopyData frames ('w' XLogData, 'k'
// keepalive) and the pgoutput messages inside XLogData, decoded by one PgOutputDecoder so that
// Relation messages from earlier frames shape how later Insert/Update/Delete are decoded.
// Input: a sequence of frames, each a 2-byte little-endian length and that many bytes (the
// corpus is in this form); a frame that is not a CopyFrame is decoded as a bare pgoutput message.
// Streaming (protocol 2) is on, its spill files in the temp dir; a committed streamed transaction
// is drained in batches as the replication connection does.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "source/postgres/pgoutput.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cdc::pg::PgTypeRegistry types;
  cdc::pg::PgOutputDecoder decoder(types, nullptr);
  static const std::string spill_dir = std::filesystem::temp_directory_path().string();
  decoder.EnableStreaming(spill_dir);
  std::vector<cdc::pg::PgMessage> out;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (in.size() >= 2) {
    size_t length =
        static_cast<uint8_t>(in[0]) | (static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8);
    in.remove_prefix(2);
    std::string_view frame = in.substr(0, length);
    in.remove_prefix(frame.size());
    std::string_view message = frame;
    auto parsed = cdc::pg::ParseCopyFrame(frame);
    if (parsed.ok()) {
      if (auto* x = std::get_if<cdc::pg::XLogDataFrame>(&*parsed)) {
        message = x->payload;
      } else {
        continue;
      }
    }
    out.clear();
    // A decode error ends the stream, as it ends the source's connection.
    if (!decoder.Decode(message, out).ok()) break;
    bool failed = false;
    while (decoder.replaying() && !failed) failed = !decoder.DrainReplay(out, 64).ok();
    if (failed) break;
    for (const auto& m : out) {
      if (const auto* change = std::get_if<cdc::ChangeEvent>(&m)) {
        if (change->table.empty() && change->schema.empty()) continue;
        (void)change->QualifiedName();
      }
    }
  }
  return 0;
}
