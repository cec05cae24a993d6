// The kinesis target: PutRecords (≤500 records, ≤5 MiB a call). Partial failures are answered
// per record: FailedRecordCount > 0 marks the failed entries (ProvisionedThroughputExceeded,
// InternalFailure) kRetry, and the delivery runner sends only those again. Per-key order: a
// record is sent only after every earlier record with its partition key was acknowledged
// (batch_rounds.h). A record over 1 MiB can never be put: it is dead-lettered with the reason.
//
// Credentials never reach a message or the log (src/aws).

#include "target/kinesis/kinesis_target.h"

#include <simdjson.h>

#include "aws/client.h"
#include "base/hash.h"
#include "base/logging.h"
#include "event/json_writer.h"
#include "target/kinesis/batch_rounds.h"
#include "target/target.h"

namespace cdc {
namespace {

constexpr size_t kMaxRecords = 500;
constexpr size_t kMaxRequestBytes = 5 * 1024 * 1024;
constexpr size_t kMaxRecordBytes = 1024 * 1024;  // data + partition key
constexpr size_t kMaxPartitionKey = 256;

// Table + primary key as Kinesis wants it (1 to 256 characters): the delivery runner's order key
// with its separators made printable; a longer one becomes the table and a hash of the key.
std::string PartitionKey(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (c == '\x1f') c = '|';
  }
  if (out.size() <= kMaxPartitionKey) return out;
  auto digest = Sha256(key);
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), 32));
  std::string table(key.substr(0, key.find('\x1f')));
  return table.substr(0, kMaxPartitionKey - hex.size() - 1) + "|" + hex;
}

class KinesisTarget final : public Target {
 public:
  KinesisTarget(const TargetConfig& config, const KinesisTargetOptions& options,
                std::unique_ptr<aws::JsonClient> client)
      : name_(config.name),
        stream_(options.stream_name),
        format_(config.format == "cloudevents" ? EventFormat::kCloudEvents
                                               : EventFormat::kEventBridge),
        client_(std::move(client)) {}

  const std::string& name() const override { return name_; }
  EventFormat format() const override { return format_; }
  bool queued() const override { return true; }
  size_t max_batch() const override { return kMaxRecords; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    DeliveryOutcome result;
    DeliverBatch(std::span<const Outgoing>(&event, 1), std::span<DeliveryOutcome>(&result, 1));
    return result;
  }

  void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) override {
    keys_.resize(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      keys_[i] = PartitionKey(events[i].key.empty() ? events[i].id : events[i].key);
    }
    size_t round_bytes = 0;
    internal::DeliverInKeyRounds(
        events, results,
        [&](size_t i, size_t n) {
          if (n == 0) round_bytes = 0;
          size_t bytes = events[i].body.size() + keys_[i].size();
          if (n >= kMaxRecords || (n > 0 && round_bytes + bytes > kMaxRequestBytes)) return false;
          round_bytes += bytes;
          return true;
        },
        [&](const std::vector<size_t>& round, std::span<DeliveryOutcome> out) {
          Send(events, round, out);
        });
  }

  Status Flush() override { return Status::Ok(); }

  Status CheckHealth() override {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("StreamName").String(stream_).EndObject();
    aws::Response r = client_->Call("DescribeStreamSummary", body);
    if (!r.status.ok()) return r.status.WithContext("kinesis stream '" + stream_ + "'");
    return Status::Ok();
  }

 private:
  void Send(std::span<const Outgoing> events, const std::vector<size_t>& round,
            std::span<DeliveryOutcome> out) {
    std::vector<size_t> sent;
    body_.clear();
    JsonWriter w(body_);
    w.BeginObject().Key("StreamName").String(stream_).Key("Records").BeginArray();
    for (size_t i : round) {
      const Outgoing& e = events[i];
      if (e.body.size() + keys_[i].size() > kMaxRecordBytes) {
        out[i] = {Delivery::kFailed,
                  InvalidArgument("the record is " + std::to_string(e.body.size()) +
                                  " bytes; Kinesis takes at most 1 MiB (data and partition key)")};
        continue;
      }
      w.BeginObject()
          .Key("Data")
          .String(Base64Encode(e.body))
          .Key("PartitionKey")
          .String(keys_[i])
          .EndObject();
      sent.push_back(i);
    }
    w.EndArray().EndObject();
    if (sent.empty()) return;
    // ProvisionedThroughputExceededException and InternalFailure are the documented per-record
    // errors; both are worth another try.
    ReadBatchAnswer(
        client_->Call("PutRecords", body_), "Records", "kinesis stream '" + stream_ + "'",
        "kinesis PutRecords at " + client_->origin(), sent,
        [](std::string_view) { return Delivery::kRetry; }, out);
  }

  std::string name_;
  std::string stream_;
  EventFormat format_;
  std::unique_ptr<aws::JsonClient> client_;
  std::vector<std::string> keys_;
  std::string body_;
};

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<KinesisTargetOptions>();
  r.String("stream_name", o->stream_name);
  ReadAwsTargetOptions(r, *o);
  return o;
}

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  const auto* o = config.OptionsAs<KinesisTargetOptions>();
  if (o == nullptr || o->stream_name.empty()) {
    return InvalidArgument("target '" + config.name + "' needs a stream_name");
  }
  CDC_ASSIGN_OR_RETURN(auto client, ConnectAwsTarget(aws::kKinesis, *o, config.name));
  return std::unique_ptr<Target>(std::make_unique<KinesisTarget>(config, *o, std::move(client)));
}

std::string Describe(const TargetConfig& config) {
  const auto* o = config.OptionsAs<KinesisTargetOptions>();
  return "kinesis stream " + (o != nullptr ? o->stream_name : std::string());
}

}  // namespace

void RegisterKinesisTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"kinesis",
       "Puts each event as one record into a Kinesis data stream (PutRecords, up to 500 records "
       "or 5 MiB a call), partition key = table + primary key, at least once with the same ids. "
       "Records of one key keep their order across partial failures: only the failed records "
       "are sent again, and a record is not sent while an earlier one with its key is "
       "unacknowledged. Throttling (ProvisionedThroughputExceeded), 5xx and network errors are "
       "retried by `retry`; a record over 1 MiB is dead-lettered; refused credentials or a "
       "missing stream stop the pipeline with what to fix. Credentials come from the standard "
       "AWS chain (see AWS access in the README).",
       {
           {"stream_name", FieldType::kString, "", "The Kinesis data stream.", {}, true},
           {"region", FieldType::kString, "",
            "AWS region; empty: `AWS_REGION`, else `AWS_DEFAULT_REGION`."},
           {"endpoint", FieldType::kString, "",
            "Endpoint URL (kinesalite, a VPC endpoint); empty: `AWS_ENDPOINT_URL_KINESIS`, else "
            "`AWS_ENDPOINT_URL`, else AWS's endpoint for the region."},
           {"timeout_ms",
            FieldType::kInt,
            "10000",
            "How long one PutRecords call may take before it counts as failed and is retried.",
            {},
            false,
            1},
           kQueueSizeField,
           kFormatField,
           kRetryField,
       },
       ParseOptions},
      {.exactly_once = false, .queued = true, .dead_letter_sink = false},
      Build,
      Describe});
}

}  // namespace cdc
