// The records the pipeline keeps in its stream (any kind: the embedded log, Kinesis, Kafka), as
// `run` writes them and as `run` and `cdc-pipeline lambda` read them.
//
// A change record (type kRecordChange): the capture result (model verdict, redaction), the
// input location, then the change (src/event/change_codec.h):
//   u8 flags (1 redacted, 2 compatible model change) | varint schema_version
//   | u8 model status code | str model status message | varint n, n x str redacted column
//   | str location | change
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "process/processor.h"

namespace cdc {

inline constexpr uint8_t kRecordChange = 1;
inline constexpr uint8_t kRecordDeadLetter = 2;
// An event published over the bus's API (Pipeline::PublishEvents): its EventBridge JSON.
inline constexpr uint8_t kRecordBusEvent = 3;

// Reads the part of a change record before the change; on success `payload` is left at the
// change. False when the bytes are not that layout.
bool ReadCaptureHeader(std::string_view& payload, CaptureResult& captured, std::string& location);

}  // namespace cdc
