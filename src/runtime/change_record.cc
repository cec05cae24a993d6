#include "runtime/change_record.h"

#include "event/change_codec.h"

namespace cdc {

bool ReadCaptureHeader(std::string_view& payload, CaptureResult& captured, std::string& location) {
  if (payload.size() < 1) return false;
  auto flags = static_cast<uint8_t>(payload.front());
  payload.remove_prefix(1);
  captured.redacted = (flags & 1) != 0;
  captured.model.compatible_change = (flags & 2) != 0;
  uint64_t version = 0;
  if (!GetVarint(payload, version) || payload.empty()) return false;
  captured.model.schema_version = static_cast<uint32_t>(version);
  auto code = static_cast<StatusCode>(static_cast<uint8_t>(payload.front()));
  payload.remove_prefix(1);
  std::string message;
  if (!GetString(payload, message)) return false;
  captured.model.status = code == StatusCode::kOk ? Status::Ok() : Status(code, message);
  uint64_t n = 0;
  if (!GetVarint(payload, n) || n > payload.size()) return false;
  captured.redacted_columns.resize(n);
  for (auto& c : captured.redacted_columns) {
    if (!GetString(payload, c)) return false;
  }
  return GetString(payload, location);
}

}  // namespace cdc
