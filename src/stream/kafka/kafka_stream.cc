// The kafka stream. Threads: the appender thread owns the producer (Append, Sync, SetIdentity,
// ApplyRetention; librdkafka calls the delivery report callback from rd_kafka_flush on it too);
// each reader has its own consumer handle (the simple per-partition consumer API: no consumer
// group, nothing committed to Kafka, the checkpoints live in the state store); the shards' first,
// next and durable ends are atomics, so stats() is cheap from any thread.
//
// A reader-only stream (`StreamConfig::only_shards` set: a unit of `run --role process`) has no
// producer: another process appends. It reads only its partitions, and learns their durable end
// from the brokers: a consumer is only ever handed records below the high watermark, which with
// acks=all are the records every in-sync replica has (those a sync of the writer waits for).
//
// Property values may hold credentials (SASL passwords, key passphrases): they are never logged.

#include "stream/kafka/kafka_stream.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "base/logging.h"
#include "config/config.h"
#include "stream/kafka/kafka_client.h"
#include "stream/kafka/kafka_group_assigner.h"

namespace cdc::stream {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kIdentityKey[] = "pipeline.id";
// A reader's wait for a fetch, between looks at the clock.
constexpr int kReaderPollMs = 100;
// ApplyRetention re-reads a partition's low watermark (what Kafka's retention left) this often.
constexpr auto kFirstRefresh = std::chrono::seconds(30);

using kafka_internal::MakeConf;
using kafka_internal::RdKafka;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
using RdTopic = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

void LogFromLibrary(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // syslog levels: 0-3 errors, 4 warnings; the rest is librdkafka's debug chatter.
  if (level <= 4) log::Warn("kafka stream: {}: {}", facility, message);
}

const std::set<std::string>& OurProperties() {
  static const std::set<std::string> kOurs = {"bootstrap.servers",
                                              "enable.idempotence",
                                              "acks",
                                              "transactional.id",
                                              "isolation.level",
                                              "enable.auto.commit",
                                              "auto.offset.reset",
                                              "group.id",
                                              "allow.auto.create.topics",
                                              "enable.partition.eof",
                                              "partition.assignment.strategy",
                                              "session.timeout.ms"};
  return kOurs;
}

}  // namespace

Result<rd_kafka_conf_t*> kafka_internal::MakeConf(
    const KafkaStreamOptions& o, const std::vector<std::pair<std::string, std::string>>& ours) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v, bool secret) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument("stream: kafka property '" + k + "'" +
                             (secret ? " is not accepted" : std::string(": ") + err) +
                             "; see librdkafka's CONFIGURATION.md");
    }
    return Status::Ok();
  };
  CDC_RETURN_IF_ERROR(set("bootstrap.servers", o.bootstrap_servers, false));
  CDC_RETURN_IF_ERROR(set("log_level", "4", false));
  for (const auto& [k, v] : ours) CDC_RETURN_IF_ERROR(set(k, v, false));
  for (const auto& [k, v] : o.properties) CDC_RETURN_IF_ERROR(set(k, v, true));
  rd_kafka_conf_set_log_cb(conf, LogFromLibrary);
  return conf;
}

namespace {

Result<RdKafka> NewConsumer(const KafkaStreamOptions& o) {
  CDC_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(o, {{"enable.auto.commit", "false"},
                                                            {"enable.auto.offset.store", "false"},
                                                            {"enable.partition.eof", "false"},
                                                            {"isolation.level", "read_committed"},
                                                            {"auto.offset.reset", "error"},
                                                            {"fetch.wait.max.ms", "50"}}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return InvalidArgument(std::string("stream: cannot create a kafka consumer: ") + err);
  }
  return RdKafka(rk);
}

// The value of header `name` of `m` as a number, or nullopt when it is missing or not one.
template <typename T>
std::optional<T> NumberHeader(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return std::nullopt;
  }
  const char* text = static_cast<const char*>(value);
  T out{};
  auto [end, ec] = std::from_chars(text, text + size, out);
  if (ec != std::errc() || end != text + size) return std::nullopt;
  return out;
}

class KafkaStream;

// Reads one partition from an offset with a consumer of its own.
class KafkaShardReader final : public ShardReader {
 public:
  KafkaShardReader(const KafkaStream& stream, ShardId shard, uint64_t from, RdKafka consumer,
                   RdTopic topic)
      : stream_(stream),
        shard_(shard),
        next_(from),
        consumer_(std::move(consumer)),
        topic_(std::move(topic)) {}

  ~KafkaShardReader() override {
    if (current_ != nullptr) rd_kafka_message_destroy(current_);
    rd_kafka_consume_stop(topic_.get(), static_cast<int32_t>(shard_.value()));
    topic_.reset();
    consumer_.reset();
  }

  Result<std::optional<Record>> Next() override;

 private:
  const KafkaStream& stream_;
  ShardId shard_;
  uint64_t next_;
  RdKafka consumer_;
  RdTopic topic_;
  rd_kafka_message_t* current_ = nullptr;  // the record Next returned last (its payload)
};

class KafkaStream final : public Stream {
 public:
  KafkaStream(const KafkaStreamOptions& options, std::string topic, uint32_t shards,
              const std::vector<uint32_t>& only_shards)
      : options_(options),
        topic_(std::move(topic)),
        meta_topic_(topic_ + ".meta"),
        name_("kafka topic " + topic_),
        reader_only_(!only_shards.empty()),
        mine_(shards, only_shards.empty()),
        first_(shards),
        next_(shards),
        durable_end_(shards),
        first_refreshed_(shards, Clock::now()) {
    for (uint32_t i : only_shards) {
      if (i < shards) mine_[i] = true;
    }
  }

  ~KafkaStream() override {
    if (producer_ != nullptr) {
      // Records not synced are dropped (the Stream contract); no callback runs after this.
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      producer_.reset();
    }
  }

  Status Open() {
    if (reader_only_) {
      // No producer: a consumer handle (no group) answers the metadata and offset queries.
      CDC_ASSIGN_OR_RETURN(reader_client_, NewConsumer(options_));
      return OpenTopics();
    }
    CDC_ASSIGN_OR_RETURN(
        rd_kafka_conf_t * conf,
        MakeConf(options_, {{"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"linger.ms", "2"},
                            {"allow.auto.create.topics", "false"},
                            {"message.timeout.ms", std::to_string(options_.timeout_ms)}}));
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaStream::OnDelivery);
    rd_kafka_conf_set_opaque(conf, this);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument(std::string("stream: cannot create a kafka producer: ") + err);
    }
    producer_.reset(rk);
    return OpenTopics();
  }

  // Checks the topics (creating them when the stream writes and may), reads the watermarks of
  // the partitions this process uses and the pipeline id.
  Status OpenTopics() {
    uint32_t shards = shard_count();
    CDC_ASSIGN_OR_RETURN(int partitions, PartitionCount(topic_));
    if (partitions < 0 && reader_only_) {
      return FailedPrecondition("stream: kafka topic '" + topic_ + "' does not exist (brokers " +
                                options_.bootstrap_servers +
                                "): start the capture process (`run --role capture`) first, "
                                "which creates it (stream.create_topic), then the processors");
    }
    if (partitions < 0 && options_.create_topic) {
      CreateTopic(topic_, static_cast<int>(shards), false);
      CDC_ASSIGN_OR_RETURN(partitions, PartitionCount(topic_));
    }
    if (partitions < 0) {
      return FailedPrecondition(
          "stream: kafka topic '" + topic_ + "' does not exist (brokers " +
          options_.bootstrap_servers + "): create it with " + std::to_string(shards) +
          " partitions (stream.shards) and '" + meta_topic_ +
          "' with 1 partition and cleanup.policy=compact, or set stream.create_topic: true");
    }
    if (static_cast<uint32_t>(partitions) != shards) {
      return FailedPrecondition(
          "stream: kafka topic '" + topic_ + "' has " + std::to_string(partitions) +
          " partitions but stream.shards is " + std::to_string(shards) +
          ": partition i is shard i, so the count is fixed once the topic exists. Set "
          "stream.shards: " +
          std::to_string(partitions) + ", or use a new stream.topic");
    }
    for (uint32_t i = 0; i < shards; ++i) {
      // The others' stay 0: nothing of them is read here (the embedded log's shards of
      // another process, as it were).
      if (!mine_[i]) continue;
      int64_t low = 0, high = 0;
      CDC_RETURN_IF_ERROR(Watermarks(topic_, static_cast<int32_t>(i), low, high));
      first_[i] = static_cast<uint64_t>(low);
      next_[i] = static_cast<uint64_t>(high);
      durable_end_[i] = static_cast<uint64_t>(high);
    }

    CDC_ASSIGN_OR_RETURN(int meta_partitions, PartitionCount(meta_topic_));
    if (meta_partitions < 0 && options_.create_topic && !reader_only_) {
      CreateTopic(meta_topic_, 1, true);
      CDC_ASSIGN_OR_RETURN(meta_partitions, PartitionCount(meta_topic_));
    }
    if (meta_partitions < 0) {
      return FailedPrecondition("stream: kafka topic '" + meta_topic_ +
                                "' (the stream's pipeline id) does not exist: create it with 1 "
                                "partition and cleanup.policy=compact, or set "
                                "stream.create_topic: true");
    }
    return ReadIdentity();
  }

  uint32_t shard_count() const override { return static_cast<uint32_t>(next_.size()); }
  const std::string& name() const override { return name_; }
  std::string ShardLocation(ShardId shard) const override {
    return name_ + " partition " + std::to_string(shard.value());
  }
  const std::string& identity() const override { return identity_; }

  Status SetIdentity(const std::string& id) override {
    if (reader_only_) {
      return FailedPrecondition(
          name_ + " holds no pipeline id (" + meta_topic_ +
          " is empty or was replaced) but the state store has one: a processor records no id, "
          "the capture process does (`run --role capture`). If the topics were deleted and "
          "created again, the processors' state stores belong to the old ones: move them away");
    }
    CDC_RETURN_IF_ERROR(broken_);
    CDC_RETURN_IF_ERROR(Produce(meta_topic_, 0, kIdentityKey, 0, id, 0, /*expected=*/0));
    CDC_RETURN_IF_ERROR(Flush("recording the pipeline id in '" + meta_topic_ + "'"));
    identity_ = id;
    return Status::Ok();
  }

  Result<StreamOffset> Append(ShardId shard, uint8_t type, std::string_view payload,
                              int64_t append_micros) override {
    return AppendTo(shard, std::string_view(), type, payload, append_micros);
  }

  Result<std::pair<ShardId, StreamOffset>> Append(std::string_view partition_key, uint8_t type,
                                                  std::string_view payload,
                                                  int64_t append_micros) override {
    ShardId shard = ShardForKey(partition_key, shard_count());
    CDC_ASSIGN_OR_RETURN(StreamOffset offset,
                         AppendTo(shard, partition_key, type, payload, append_micros));
    return std::make_pair(shard, offset);
  }

  Status Sync() override {
    CDC_RETURN_IF_ERROR(broken_);
    if (unsynced_ == 0) return Status::Ok();
    CDC_RETURN_IF_ERROR(Flush("sync"));
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < next_.size(); ++i) durable_end_[i] = next_[i].load();
    }
    cv_.notify_all();
    unsynced_ = 0;
    unsynced_bytes_ = 0;
    return Status::Ok();
  }

  bool SyncDue() const override {
    if (unsynced_ == 0) return false;
    return unsynced_bytes_ >= static_cast<uint64_t>(options_.sync_bytes) ||
           Clock::now() - first_unsynced_ >= sync_interval();
  }

  std::chrono::milliseconds sync_interval() const override {
    return std::chrono::milliseconds(options_.sync_interval_ms);
  }

  Result<std::unique_ptr<ShardReader>> OpenReader(ShardId shard, StreamOffset from) const override {
    if (shard.value() >= shard_count()) {
      return InvalidArgument("stream: no shard " + std::to_string(shard.value()) + " in " + name_);
    }
    uint32_t i = shard.value();
    if (!mine_[i]) {
      return InvalidArgument(ShardLocation(shard) +
                             ": this process reads other partitions of the topic only");
    }
    if (from.value() < first_[i].load()) {
      return NotFound(ShardLocation(shard) + ": offset " + std::to_string(from.value()) +
                      " was deleted by the topic's retention (the partition starts at " +
                      std::to_string(first_[i].load()) +
                      "); set the topic's retention.ms longer than the targets' worst lag");
    }
    if (from.value() > next_[i].load()) {
      return InvalidArgument(ShardLocation(shard) + ": offset " + std::to_string(from.value()) +
                             " is past the end (" + std::to_string(next_[i].load()) + ")");
    }
    CDC_ASSIGN_OR_RETURN(RdKafka consumer, NewConsumer(options_));
    RdTopic topic(rd_kafka_topic_new(consumer.get(), topic_.c_str(), nullptr));
    if (topic == nullptr) {
      return InvalidArgument("stream: kafka topic '" + topic_ +
                             "': " + rd_kafka_err2str(rd_kafka_last_error()));
    }
    if (rd_kafka_consume_start(topic.get(), static_cast<int32_t>(i),
                               static_cast<int64_t>(from.value())) != 0) {
      return Unavailable(ShardLocation(shard) + ": cannot start reading at offset " +
                         std::to_string(from.value()) + ": " +
                         rd_kafka_err2str(rd_kafka_last_error()));
    }
    return std::unique_ptr<ShardReader>(std::make_unique<KafkaShardReader>(
        *this, shard, from.value(), std::move(consumer), std::move(topic)));
  }

  void WaitForData(const std::vector<StreamOffset>& seen,
                   std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(mu_);
    uint64_t wakes = wakes_;
    cv_.wait_for(lock, timeout, [&] {
      if (wakes_ != wakes) return true;
      for (size_t i = 0; i < seen.size() && i < durable_end_.size(); ++i) {
        if (durable_end_[i].load() > seen[i].value()) return true;
      }
      return false;
    });
  }

  void Wake() const override {
    {
      std::lock_guard lock(mu_);
      ++wakes_;
    }
    cv_.notify_all();
  }

  // Kafka's own retention (the topic's retention.ms / retention.bytes) deletes records; this
  // only follows the partition's start now and then, for stats() and OpenReader.
  Status ApplyRetention(ShardId shard, StreamOffset, int64_t) override {
    uint32_t i = shard.value();
    if (i >= shard_count() || Clock::now() - first_refreshed_[i] < kFirstRefresh) {
      return Status::Ok();
    }
    first_refreshed_[i] = Clock::now();
    int64_t low = 0, high = 0;
    if (Watermarks(topic_, static_cast<int32_t>(i), low, high).ok()) {
      first_[i] = static_cast<uint64_t>(low);
      if (reader_only_) Learned(i, static_cast<uint64_t>(high));
    }
    return Status::Ok();
  }

  ShardStats stats(ShardId shard) const override {
    uint32_t i = shard.value();
    ShardStats s;
    s.first = StreamOffset(first_[i].load());
    s.next = StreamOffset(next_[i].load());
    s.durable_end = StreamOffset(durable_end_[i].load());
    return s;
  }

  Status TruncateTo(ShardId shard, StreamOffset offset) override {
    uint32_t i = shard.value();
    if (i < shard_count() && offset.value() == next_[i].load()) return Status::Ok();
    return FailedPrecondition(
        ShardLocation(shard) + " holds records up to offset " + std::to_string(next_[i].load()) +
        ", and a kafka stream cannot drop records from its end (Kafka topics are append-only). "
        "To start over (`run --reset-state`), delete the topics '" +
        topic_ + "' and '" + meta_topic_ + "' first, or configure a new stream.topic");
  }

  uint64_t durable_end(uint32_t shard) const { return durable_end_[shard].load(); }
  bool reader_only() const { return reader_only_; }
  // A reader-only stream learned that partition `shard` holds records below `end` in every
  // in-sync replica (its high watermark, or a record the broker handed out): they are durable.
  void Learned(uint32_t shard, uint64_t end) const {
    if (end <= durable_end_[shard].load()) return;
    {
      std::lock_guard lock(mu_);
      for (auto* v : {&durable_end_[shard], &next_[shard]}) {
        uint64_t old = v->load();
        while (old < end && !v->compare_exchange_weak(old, end)) {
        }
      }
    }
    cv_.notify_all();
  }
  int64_t timeout_ms() const { return options_.timeout_ms; }
  const std::string& topic() const { return topic_; }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<KafkaStream*>(opaque)->Delivered(*m);
  }

  // A delivery report (appender thread, inside rd_kafka_flush).
  void Delivered(const rd_kafka_message_t& m) {
    if (pending_ > 0) --pending_;
    if (!failure_.ok()) return;
    auto expected = reinterpret_cast<uintptr_t>(m._private);  // offset + 1; 0: a meta record
    std::string where =
        std::string(rd_kafka_topic_name(m.rkt)) + "' partition " + std::to_string(m.partition);
    if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure_ = Unavailable("kafka did not take a record of topic '" + where + ": " +
                             rd_kafka_err2str(m.err));
    } else if (expected != 0 && m.offset != static_cast<int64_t>(expected - 1)) {
      failure_ = FailedPrecondition(
          "another producer writes to kafka topic '" + where + ": the record appended as offset " +
          std::to_string(expected - 1) + " was stored at offset " + std::to_string(m.offset) +
          ". The stream's topic must have one writer, this pipeline: stop the other writer "
          "(a second cdc-pipeline run with this config?), then restart");
    }
  }

  Result<StreamOffset> AppendTo(ShardId shard, std::string_view key, uint8_t type,
                                std::string_view payload, int64_t append_micros) {
    if (reader_only_) {
      return FailedPrecondition(name_ +
                                ": this process reads some of its partitions only and "
                                "appends nothing (run --role process)");
    }
    CDC_RETURN_IF_ERROR(broken_);
    uint32_t i = shard.value();
    if (i >= shard_count()) {
      return InvalidArgument("stream: no shard " + std::to_string(i) + " in " + name_);
    }
    uint64_t offset = next_[i].load();
    Status s =
        Produce(topic_, static_cast<int32_t>(i), key, type, payload, append_micros, offset + 1);
    if (!s.ok()) {
      broken_ = s;
      return s;
    }
    next_[i] = offset + 1;
    if (unsynced_++ == 0) first_unsynced_ = Clock::now();
    unsynced_bytes_ += payload.size();
    return StreamOffset(offset);
  }

  // Hands one record to librdkafka; `expected` is the offset it must get + 1 (0: not checked).
  Status Produce(const std::string& topic, int32_t partition, std::string_view key, uint8_t type,
                 std::string_view value, int64_t append_micros, uintptr_t expected) {
    std::string type_text = std::to_string(type);
    std::string micros_text = std::to_string(append_micros);
    auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    while (true) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(2);
      rd_kafka_header_add(headers, kKafkaTypeHeader, -1, type_text.data(),
                          static_cast<ssize_t>(type_text.size()));
      rd_kafka_header_add(headers, kKafkaMicrosHeader, -1, micros_text.data(),
                          static_cast<ssize_t>(micros_text.size()));
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_TIMESTAMP(append_micros / 1000),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(expected)), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++pending_;
        return Status::Ok();
      }
      rd_kafka_headers_destroy(headers);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() > deadline) {
        return Unavailable("stream: kafka produce to '" + topic + "' partition " +
                           std::to_string(partition) + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_poll(producer_.get(), 50);
    }
  }

  // Waits until every record handed to librdkafka is acknowledged; any failure breaks the
  // stream for good (its predicted offsets are no longer known): the pipeline stops and a
  // restart goes on from the topic's high watermarks.
  Status Flush(const std::string& what) {
    // message.timeout.ms = timeout_ms: by then every record has its final answer.
    rd_kafka_resp_err_t err =
        rd_kafka_flush(producer_.get(), static_cast<int>(options_.timeout_ms) + 5000);
    Status s = failure_;
    char fatal[512];
    if (s.ok() &&
        rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      s = FailedPrecondition(std::string("the kafka producer failed: ") + fatal);
    }
    if (s.ok() && (err != RD_KAFKA_RESP_ERR_NO_ERROR || pending_ > 0)) {
      s = Unavailable("kafka did not acknowledge " + std::to_string(pending_) +
                      " records within stream.timeout_ms");
    }
    if (s.ok()) return s;
    broken_ = s.WithContext("stream " + name_ + ", " + what);
    log::Warn("{}; the pipeline must restart (it goes on from the last checkpoint)",
              broken_.message());
    return broken_;
  }

  // The handle that answers metadata and offset queries.
  rd_kafka_t* client() const { return producer_ ? producer_.get() : reader_client_.get(); }

  // The partition count of `topic`, or -1 when it does not exist.
  Result<int> PartitionCount(const std::string& topic) {
    auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    while (true) {
      RdTopic rkt(rd_kafka_topic_new(client(), topic.c_str(), nullptr));
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_resp_err_t err =
          rd_kafka_metadata(client(), 0, rkt.get(), &md, static_cast<int>(options_.timeout_ms));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Unavailable("stream: cannot read the metadata of kafka topic '" + topic + "' from " +
                           options_.bootstrap_servers + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_resp_err_t topic_err =
          md->topic_cnt == 0 ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : md->topics[0].err;
      int count = md->topic_cnt == 0 ? 0 : md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
      if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && count > 0) return count;
      if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return -1;
      // A topic being created has no leaders yet for a moment.
      if (topic_err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || Clock::now() > deadline) {
        return Unavailable("stream: kafka topic '" + topic + "': " + rd_kafka_err2str(topic_err));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Status Watermarks(const std::string& topic, int32_t partition, int64_t& low, int64_t& high) {
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        client(), topic.c_str(), partition, &low, &high, static_cast<int>(options_.timeout_ms));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("stream: cannot read the offsets of kafka topic '" + topic +
                         "' partition " + std::to_string(partition) + ": " + rd_kafka_err2str(err));
    }
    return Status::Ok();
  }

  // Admin CreateTopics; a failure (no ACL, no controller) is a warning: the metadata check that
  // follows says whether the topic exists.
  void CreateTopic(const std::string& topic, int partitions, bool compacted) {
    char err[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(
        topic.c_str(), partitions,
        options_.replication == 0 ? -1 : static_cast<int>(options_.replication), err, sizeof err);
    if (nt == nullptr) {
      log::Warn("stream: cannot create kafka topic '{}': {}", topic, err);
      return;
    }
    if (compacted) {
      rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    } else {
      std::string retention =
          options_.retention_hours == 0 ? "-1" : std::to_string(options_.retention_hours * 3600000);
      rd_kafka_NewTopic_set_config(nt, "retention.ms", retention.c_str());
    }
    rd_kafka_queue_t* q = rd_kafka_queue_new(producer_.get());
    rd_kafka_CreateTopics(producer_.get(), &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(options_.timeout_ms) + 1000);
    std::string problem;
    if (ev == nullptr) {
      problem = "timed out";
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = rd_kafka_event_error_string(ev);
    } else if (const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev)) {
      size_t n = 0;
      const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          problem = rd_kafka_err2str(e);
        }
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    if (problem.empty()) {
      log::Info("stream: created kafka topic '{}' ({} partitions)", topic, partitions);
    } else {
      log::Warn("stream: creating kafka topic '{}' failed: {}", topic, problem);
    }
  }

  // The last pipeline id recorded in partition 0 of the meta topic.
  Status ReadIdentity() {
    int64_t low = 0, high = 0;
    CDC_RETURN_IF_ERROR(Watermarks(meta_topic_, 0, low, high));
    if (high <= low) return Status::Ok();
    CDC_ASSIGN_OR_RETURN(RdKafka consumer, NewConsumer(options_));
    RdTopic topic(rd_kafka_topic_new(consumer.get(), meta_topic_.c_str(), nullptr));
    if (topic == nullptr || rd_kafka_consume_start(topic.get(), 0, low) != 0) {
      return Unavailable("stream: cannot read kafka topic '" + meta_topic_ +
                         "': " + rd_kafka_err2str(rd_kafka_last_error()));
    }
    Status result = Status::Ok();
    auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    int64_t next = low;
    while (next < high && result.ok()) {
      if (Clock::now() > deadline) {
        result = Unavailable("stream: reading kafka topic '" + meta_topic_ +
                             "' did not reach its end within stream.timeout_ms");
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consume(topic.get(), 0, 200);
      if (m == nullptr) continue;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          result = Unavailable("stream: reading kafka topic '" + meta_topic_ +
                               "': " + rd_kafka_message_errstr(m));
        }
      } else {
        next = m->offset + 1;
        std::string_view key(static_cast<const char*>(m->key), m->key == nullptr ? 0 : m->key_len);
        if (key == kIdentityKey) {
          identity_.assign(static_cast<const char*>(m->payload), m->len);
        }
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consume_stop(topic.get(), 0);
    return result;
  }

  const KafkaStreamOptions options_;
  const std::string topic_;
  const std::string meta_topic_;
  const std::string name_;
  std::string identity_;
  const bool reader_only_;
  std::vector<bool> mine_;  // the partitions this process reads (all unless reader-only)
  RdKafka producer_;        // null in a reader-only stream
  RdKafka reader_client_;   // a reader-only stream's handle for metadata and offsets
  std::vector<std::atomic<uint64_t>> first_;
  // Written by the appender thread, or (reader-only) raised by readers with Learned.
  mutable std::vector<std::atomic<uint64_t>> next_;
  mutable std::vector<std::atomic<uint64_t>> durable_end_;
  std::vector<Clock::time_point> first_refreshed_;
  // Appender thread only.
  size_t pending_ = 0;  // records handed to librdkafka without a delivery report yet
  Status failure_;      // the first failed delivery report
  Status broken_;       // set when a sync failed: every later call fails with it
  uint64_t unsynced_ = 0, unsynced_bytes_ = 0;
  Clock::time_point first_unsynced_;
  // WaitForData / Wake.
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable uint64_t wakes_ = 0;
};

Result<std::optional<Record>> KafkaShardReader::Next() {
  if (current_ != nullptr) {
    rd_kafka_message_destroy(current_);
    current_ = nullptr;
  }
  const std::string where = stream_.ShardLocation(shard_);
  const int32_t partition = static_cast<int32_t>(shard_.value());
  auto deadline = Clock::now() + std::chrono::milliseconds(stream_.timeout_ms());
  while (true) {
    // A durable record is there to be fetched (below the durable end): wait for it, or the
    // caller would take the wait for the end of the shard (FindLast relies on it).
    bool below = next_ < stream_.durable_end(shard_.value());
    if (!below) {
      if (!stream_.reader_only()) return std::optional<Record>();
      // Another process appends: the high watermark of the last fetch answer says how far
      // the partition is durable now.
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), stream_.topic().c_str(), partition, &low,
                                         &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high > static_cast<int64_t>(next_)) {
        stream_.Learned(shard_.value(), static_cast<uint64_t>(high));
        continue;
      }
    } else if (Clock::now() > deadline) {
      return Unavailable(where + ": offset " + std::to_string(next_) +
                         " was not fetched within stream.timeout_ms");
    }
    // At the durable end of a reader-only stream: a record already fetched is taken at once.
    rd_kafka_message_t* m = rd_kafka_consume(topic_.get(), partition, below ? kReaderPollMs : 0);
    if (m == nullptr) {
      if (below) continue;  // not fetched yet
      return std::optional<Record>();
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_resp_err_t err = m->err;
      std::string text = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
          err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        return NotFound(where + ": offset " + std::to_string(next_) +
                        " was deleted by the topic's retention (" + text +
                        "); set the topic's retention.ms longer than the targets' worst lag");
      }
      if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR__FATAL) {
        return Unavailable(where + ": " + text);
      }
      // The end of the partition, connection trouble and the like: librdkafka reconnects and
      // fetches again.
      if (err != RD_KAFKA_RESP_ERR__PARTITION_EOF) log::Debug("{}: {}", where, text);
      if (below) continue;
      return std::optional<Record>();
    }
    if (m->offset < static_cast<int64_t>(next_)) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->offset != static_cast<int64_t>(next_)) {
      int64_t got = m->offset;
      rd_kafka_message_destroy(m);
      return Corruption(where + ": offset " + std::to_string(next_) +
                        " is missing (the next record has offset " + std::to_string(got) +
                        "): the topic must not be compacted, nor written by another producer");
    }
    auto type = NumberHeader<unsigned>(m, kKafkaTypeHeader);
    auto micros = NumberHeader<int64_t>(m, kKafkaMicrosHeader);
    if (!type || *type > 255 || !micros) {
      rd_kafka_message_destroy(m);
      return Corruption(where + " offset " + std::to_string(next_) +
                        ": not a cdc-pipeline stream record (headers " + kKafkaTypeHeader +
                        " and " + kKafkaMicrosHeader + " missing or malformed)");
    }
    // The broker hands consumers records below the high watermark only: durable.
    if (!below) stream_.Learned(shard_.value(), next_ + 1);
    current_ = m;
    Record r;
    r.offset = StreamOffset(next_++);
    r.type = static_cast<uint8_t>(*type);
    r.append_micros = *micros;
    r.payload = std::string_view(static_cast<const char*>(m->payload), m->len);
    return std::optional<Record>(r);
  }
}

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<KafkaStreamOptions>();
  r.String("bootstrap_servers", o->bootstrap_servers);
  if (o->bootstrap_servers.empty()) {
    r.Error("bootstrap_servers", "'" + r.path() + ".bootstrap_servers' must not be empty");
  }
  r.String("topic", o->topic);
  r.Bool("create_topic", o->create_topic);
  r.Int("replication", o->replication);
  r.Int("retention_hours", o->retention_hours);
  r.StringMap(
      "properties", o->properties,
      [](const std::string& name, const std::string&) -> std::optional<OptionsReader::EntryError> {
        if (OurProperties().count(name)) {
          return OptionsReader::EntryError{
              "is set by the stream (its producer is idempotent with acks=all, its readers "
              "read_committed without a consumer group; the processors' consumer group has "
              "group_id, cooperative-sticky and group_session_timeout_ms)"};
        }
        return std::nullopt;
      });
  r.Int("timeout_ms", o->timeout_ms);
  r.Int("sync_interval_ms", o->sync_interval_ms);
  r.Int("sync_bytes", o->sync_bytes);
  r.String("group_id", o->group_id);
  r.Int("group_session_timeout_ms", o->group_session_timeout_ms);
  return o;
}

std::string Describe(const StreamConfig& config, const std::string&) {
  const auto* o = config.OptionsAs<KafkaStreamOptions>();
  return "kafka topic " + KafkaStreamTopic(config) + " on " +
         (o != nullptr ? o->bootstrap_servers : std::string("?")) + " (" +
         std::to_string(config.shards) + " partitions)";
}

}  // namespace

std::string KafkaStreamTopic(const StreamConfig& config) {
  const auto* o = config.OptionsAs<KafkaStreamOptions>();
  if (o != nullptr && !o->topic.empty()) return o->topic;
  return (config.pipeline.empty() ? std::string("cdc-pipeline") : config.pipeline) + "-changes";
}

Result<std::unique_ptr<Stream>> OpenKafkaStream(const StreamConfig& config, const std::string&) {
  const auto* o = config.OptionsAs<KafkaStreamOptions>();
  if (o == nullptr || o->bootstrap_servers.empty()) {
    return InvalidArgument("stream of type kafka needs bootstrap_servers");
  }
  auto stream = std::make_unique<KafkaStream>(
      *o, KafkaStreamTopic(config), static_cast<uint32_t>(config.shards), config.only_shards);
  CDC_RETURN_IF_ERROR(stream->Open());
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace cdc::stream

namespace cdc {

void RegisterKafkaStream(Registry& registry) {
  using config::FieldType;
  StreamKind kind;
  kind.spec.name = "kafka";
  kind.spec.description =
      "The stream in one Kafka topic (librdkafka): partition i is shard i, the record value "
      "the payload, headers `cdc.type` and `cdc.micros`. This pipeline must be the topic's only "
      "writer: offsets are predicted at append (from the high watermarks at start) and checked "
      "against every acknowledgement. A sync waits until the brokers acknowledged every record "
      "(idempotent producer, acks=all). Kafka's own retention (the topic's `retention.ms`) "
      "deletes records: keep it longer than the targets' worst lag. `run --role process` "
      "processes share the partitions as a Kafka consumer group (`group_id`). See docs/kafka.md.";
  kind.spec.fields = {
      {"bootstrap_servers",
       FieldType::kString,
       "",
       "Bootstrap servers, `host:port[,host:port...]`.",
       {},
       true},
      {"topic", FieldType::kString, "<pipeline.name>-changes",
       "The stream's topic, with `stream.shards` partitions; the pipeline id is kept in "
       "`<topic>.meta` (one partition, compacted)."},
      {"create_topic", FieldType::kBool, "true",
       "Create missing topics with the admin API (the stream's with `stream.shards` partitions, "
       "`replication` and `retention_hours`; the meta topic compacted). An existing topic must "
       "have `stream.shards` partitions."},
      {"replication", FieldType::kInt, "0",
       "Replication factor of topics the stream creates (0: the brokers' default)."},
      {"retention_hours", FieldType::kInt, "168",
       "`retention.ms` of the topic the stream creates (0: unlimited). Keep it longer than the "
       "targets' worst lag: what Kafka deletes before it was delivered is lost."},
      {"properties", FieldType::kStringMap, "",
       "librdkafka properties passed through to the producer, the readers and the processors' "
       "group consumer (e.g. "
       "`security.protocol: SASL_SSL`, `sasl.mechanism`, `sasl.username`, `sasl.password: "
       "${KAFKA_PASSWORD}`, `ssl.ca.location`). Values are never logged."},
      {"timeout_ms",
       FieldType::kInt,
       "30000",
       "How long a sync may wait for the brokers' acknowledgements (and opening for metadata) "
       "before the pipeline stops with an error.",
       {},
       false,
       100},
      {"sync_interval_ms",
       FieldType::kInt,
       "10",
       "Group sync: appended changes are flushed to Kafka and acknowledged at least this often.",
       {},
       false,
       1},
      {"sync_bytes",
       FieldType::kInt,
       "1048576",
       "Group sync: also once this many bytes are waiting.",
       {},
       false,
       1},
      {"group_id", FieldType::kString, "cdc-pipeline.<pipeline.name>",
       "The Kafka consumer group through which `run --role process` processes share the "
       "partitions (cooperative-sticky assignment; each member delivers the partitions the group "
       "gives it). A member that stops commits its partitions' checkpoints as the group's "
       "offsets, for lag tools; the state store's checkpoints are what counts."},
      {"group_session_timeout_ms",
       FieldType::kInt,
       "10000",
       "`session.timeout.ms` of the processors' group members: a processor that stopped "
       "heartbeating (killed, cut off) loses its partitions to the others after this long. "
       "Brokers accept 6000 to 1800000 by default.",
       {},
       false,
       1000},
  };
  kind.spec.parse = stream::ParseOptions;
  kind.open = stream::OpenKafkaStream;
  kind.open_assigner = stream::OpenKafkaGroupAssigner;
  kind.describe = stream::Describe;
  registry.AddStream(std::move(kind));
}

}  // namespace cdc
