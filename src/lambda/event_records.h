// The records of a Lambda invocation's event, as changes: a Kinesis batch (`Records[].kinesis`,
// `data` base64 of one change-event JSON object each) or a DynamoDB Streams batch
// (`Records[].dynamodb`, the row images in DynamoDB's AttributeValue JSON). Each record becomes
// a ChangeEvent or the reason it cannot be one (the record is dead-lettered); the mapping is in
// docs/lambda.md.
//
// Thread-safety: functions of their arguments only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "event/change_event.h"
#include "process/processor.h"

namespace cdc::lambda {

enum class RecordSource { kKinesis, kDynamoDbStream };

// One record of a batch, in batch order.
struct InputRecord {
  RecordSource source = RecordSource::kKinesis;
  // What `batchItemFailures` names: the Kinesis `sequenceNumber`, the DynamoDB Streams
  // `dynamodb.SequenceNumber`. Empty when the record has none (it cannot be retried alone).
  std::string item_identifier;
  // The shard: the part of a Kinesis `eventID` before ':' ("shardId-000000000001"), or the
  // DynamoDB stream's ARN. Empty when unknown.
  std::string shard;
  // For logs and dead letters, without values: "kinesis shardId-000000000001 seq 4959...".
  std::string location;
  std::optional<ChangeEvent> change;  // the change, or nullopt and `error`
  std::string error;                  // why the record is not a change (names no values)
  // The record's content for a dead letter: Kinesis data as text (base64 when it is not
  // UTF-8 JSON), the DynamoDB Streams record's JSON.
  std::string raw;

  // Records of the pipeline's own stream (the `kinesis` stream kind's frames, as `run --config`
  // with `stream.type: kinesis` puts them; docs/kinesis.md):
  // - the frame's offset in its shard: the handler follows the shard's chain with it (a copy of
  //   a record, or a record put again after an earlier one failed, is skipped);
  std::optional<uint64_t> offset;
  // - the chain it is in: the pipeline's shard, its `partitionKey` ("shard-2"). Not the Kinesis
  //   shard: after a merge one Kinesis shard holds two pipeline shards' chains, and a pipeline
  //   shard's chain goes on in a child shard after a split or merge.
  std::string chain;
  // - a change record's capture result, made when it was captured (redaction at capture
  //   already applied): the handler uses it instead of capturing again;
  std::optional<CaptureResult> captured;
  // - a dead letter made at capture, written as it is by the function of its table;
  struct CaptureDeadLetter {
    std::string stage, reason, location, table, input;
  };
  std::optional<CaptureDeadLetter> dead_letter;
  // - a record for no function (an event published over the bus's API), or a fragment joined
  //   into the record of its first fragment: done, not delivered.
  bool skip = false;
  // - a record put in fragments (over 1 MB) whose fragments this batch does not all hold: not
  //   done; it is reported as failed, so Lambda retries from it with the fragments after it.
  bool incomplete = false;
  // - while parsing: a fragment's place and data (fragments > 1).
  struct Fragment {
    uint32_t index = 0, count = 1;
    uint8_t type = 0;
    int64_t append_micros = 0;
    std::string data;
  };
  std::optional<Fragment> fragment;
};

// Parses an invocation's event. InvalidArgument when it is not an object with a `Records`
// array (then the invocation itself fails); a record that is not a change is returned with its
// `error`. `now` is the commit time of a DynamoDB Streams record without
// ApproximateCreationDateTime.
Result<std::vector<InputRecord>> ParseEvent(std::string_view json, Timestamp now);

// One DynamoDB AttributeValue as JSON text (`{"S":"a"}`) to a Value: S text, N int64 when it is
// an integer in range else an exact decimal, BOOL, NULL, B bytes, SS/NS/BS arrays, M and L json
// (the attribute types unwrapped). InvalidArgument naming the attribute type, never the value.
Result<Value> AttributeValueToValue(std::string_view attribute_json);

// "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>" -> "<name>"; nullopt when
// the ARN is not a DynamoDB stream's.
std::optional<std::string> TableOfStreamArn(std::string_view arn);

}  // namespace cdc::lambda
