// The JSON change-event parser (the json source, `invoke --event`), and the JSON helpers it
// shares with other components. A parsed event is encoded back and must parse again to the same
// table and operation (encode/parse round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "event/change_codec.h"
#include "event/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  (void)cdc::IsValidJson(json);
  (void)cdc::IsJsonNumber(json);
  auto minified = cdc::MinifyJson(json);
  if (minified.ok()) {
    auto again = cdc::MinifyJson(*minified);
    if (!again.ok() || *again != *minified) std::abort();  // minifying is idempotent
  }
  auto event = cdc::ParseChangeEventJson(json);
  if (!event.ok()) return 0;
  std::string encoded = cdc::EncodeChangeEventJson(*event);
  auto reparsed = cdc::ParseChangeEventJson(encoded);
  if (!reparsed.ok()) std::abort();
  if (reparsed->table != event->table || reparsed->schema != event->schema ||
      reparsed->op != event->op) {
    std::abort();
  }
  // The stream's binary form of the same event decodes back.
  std::string binary;
  cdc::EncodeChange(*event, binary);
  if (!cdc::DecodeChange(binary).ok()) std::abort();
  return 0;
}
