// The `kinesis` stream kind: the pipeline's stream kept in an AWS Kinesis data stream (or
// kinesalite). Stream shard i is a hash key (where Kinesis shard i of an evenly split stream of
// stream.shards shards starts): its records are in the Kinesis shards holding that key, parents
// before children when the stream was resharded. Registered by RegisterKinesisStream.
//
// Offsets are the pipeline's own: the capture process numbers the records of each shard and
// writes the number into each Kinesis record (the frame below). Kinesis keeps no order across a
// partial PutRecords failure and may hold a record twice (a call that timed out after it was
// written), so readers follow the *chain*: starting from a known record, they take the next
// offset (fragment) in sequence-number order and skip every other record (a copy, or a record put
// after an earlier one failed, which is put again in order). The writer keeps the chain whole: a
// shard's records go out in offset order, and when one fails (or comes back with a sequence
// number below its predecessor's) it and every later record of its shard are put again. Format
// and protocol: docs/kinesis.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aws/aws_options.h"
#include "config/registry.h"
#include "stream/stream.h"

namespace cdc::stream {

// Region, endpoint and timeout as every AWS kind reads them (aws/aws_options.h).
struct KinesisStreamOptions : AwsOptions {
  std::string stream_name;          // empty: KINESIS_STREAM_NAME, else cdc-changes-stream
  bool create = false;              // create the stream (stream.shards shards) when it is missing
  int64_t flush_interval_ms = 50;   // appended records are put at least this often ...
  int64_t flush_bytes = 1ll << 20;  // ... or once this many bytes wait
  int64_t poll_interval_ms = 250;   // a reader at the end of its shard asks again after this
  int64_t read_limit = 1000;        // records per GetRecords call
  int64_t retry_seconds = 300;      // throttling and outages are retried this long, then an error
};

// The stream name `options` resolve to (the field, else KINESIS_STREAM_NAME, else the default).
std::string KinesisStreamName(const KinesisStreamOptions& options);

// One Kinesis record's data: a 26-byte header, then (a fragment of) the pipeline record's
// payload. Little-endian: u8 magic 0xC7, u8 record type, u64 offset, u32 fragment index,
// u32 fragment count, i64 append micros. A payload over kMaxFragmentBytes is split into
// fragments of one offset.
struct KinesisFrame {
  uint64_t offset = 0;
  uint32_t fragment = 0;
  uint32_t fragments = 1;
  uint8_t type = 0;
  int64_t append_micros = 0;
  std::string_view data;
};
inline constexpr size_t kKinesisFrameHeader = 26;
inline constexpr size_t kMaxFragmentBytes = 1000000;  // Kinesis takes 1 MiB with the key
std::string EncodeKinesisFrame(const KinesisFrame& frame);
// False when `bytes` is not a frame (too short, wrong magic, fragment out of range).
bool DecodeKinesisFrame(std::string_view bytes, KinesisFrame& frame);

// Opens the Kinesis stream `config` describes (creating it with stream.shards shards when
// asked), lists its shards (closed ones too) and reads each stream shard along its hash key's
// lineage to find where its chain ends.
Result<std::unique_ptr<Stream>> OpenKinesisStream(const StreamConfig& config,
                                                  const std::string& data_dir);

}  // namespace cdc::stream

namespace cdc {
void RegisterKinesisStream(Registry& registry);
}  // namespace cdc
