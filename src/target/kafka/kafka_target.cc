// The kafka target: a queued, batching target on librdkafka's producer. The delivery runner owns
// the retries; this file maps librdkafka's answers to Delivered / Retry / Fatal.
//
// Transactional mode, per batch: begin a transaction, produce the events, wait until the broker
// has acknowledged them, produce one record per stream shard of the batch to `offsets_topic`
// (key "<transactional.id>/<shard>", value the first stream offset not yet held), commit. On
// start, Held() reads `offsets_topic` back (read_committed) and the runner skips what the topic
// already holds. The offsets are produced only after the events are acknowledged, so even a
// broker that does not make the transaction atomic never holds an offset ahead of its events.
//
// Property values may hold credentials (SASL passwords, key passphrases): they are never logged.

#include "target/kafka/kafka_target.h"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "base/logging.h"
#include "target/target.h"

namespace cdc {

std::string KafkaTopicFor(const std::string& pattern, std::string_view table) {
  if (table.starts_with("public.")) table.remove_prefix(7);
  std::string out = pattern;
  for (size_t at = out.find("{table}"); at != std::string::npos;
       at = out.find("{table}", at + table.size())) {
    out.replace(at, 7, table);
  }
  return out;
}

std::string KafkaRecordKey(std::string_view order_key) {
  size_t sep = order_key.find('\x1f');
  std::string_view table = order_key.substr(0, sep);
  if (table.starts_with("public.")) table.remove_prefix(7);
  std::string out(table);
  out.push_back('[');
  bool first = true;
  while (sep != std::string_view::npos) {
    size_t next = order_key.find('\x1f', sep + 1);
    if (!first) out.push_back(',');
    first = false;
    out.append(order_key.substr(sep + 1, next == std::string_view::npos ? next : next - sep - 1));
    sep = next;
  }
  out.push_back(']');
  return out;
}

namespace {

// A CloudEvent in binary mode: the attributes (`ce_<name>` headers, `content-type`) and the data.
struct BinaryEvent {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string data;
};

// Splits a structured-mode CloudEvent; false when `json` is not one (a rule's input transformer
// made something else of the event: it is sent as it is).
bool SplitCloudEvent(simdjson::dom::parser& parser, std::string_view json, BinaryEvent& out) {
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS || !object["specversion"].is_string()) {
    return false;
  }
  out.headers.clear();
  out.data.clear();
  for (auto [key, value] : object) {
    if (key == "data") {
      out.data = simdjson::minify(value);
    } else if (key == "datacontenttype" && value.is_string()) {
      out.headers.emplace_back("content-type", std::string(std::string_view(value.get_string())));
    } else {
      out.headers.emplace_back("ce_" + std::string(key),
                               value.is_string() ? std::string(std::string_view(value.get_string()))
                                                 : simdjson::minify(value));
    }
  }
  return true;
}

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using TxnError = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

void LogFromLibrary(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // syslog levels: 0-3 errors, 4 warnings; the rest is librdkafka's debug chatter.
  if (level <= 4) log::Warn("kafka: {}: {}", facility, message);
}

// Per-message delivery results, written by the delivery report callback (called from
// rd_kafka_poll/flush on the delivery thread).
struct Reports {
  std::vector<rd_kafka_resp_err_t> errors;
  size_t pending = 0;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* reports = static_cast<Reports*>(opaque);
  auto index = reinterpret_cast<uintptr_t>(m->_private);
  if (index == 0 || index > reports->errors.size()) return;  // an offsets record
  reports->errors[index - 1] = m->err;
  if (reports->pending > 0) --reports->pending;
}

// Builds a librdkafka configuration: ours first, then the user's properties (which win).
Result<rd_kafka_conf_t*> MakeConf(const std::string& target, const KafkaTargetOptions& o,
                                  const std::vector<std::pair<std::string, std::string>>& ours) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v, bool secret) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument("target '" + target + "': kafka property '" + k + "'" +
                             (secret ? " is not accepted" : std::string(": ") + err) +
                             "; see librdkafka's CONFIGURATION.md");
    }
    return Status::Ok();
  };
  CDC_RETURN_IF_ERROR(set("bootstrap.servers", o.brokers, false));
  for (const auto& [k, v] : ours) CDC_RETURN_IF_ERROR(set(k, v, false));
  for (const auto& [k, v] : o.properties) CDC_RETURN_IF_ERROR(set(k, v, true));
  rd_kafka_conf_set_log_cb(conf, LogFromLibrary);
  return conf;
}

class KafkaTarget final : public Target {
 public:
  KafkaTarget(const TargetConfig& config, const KafkaTargetOptions& options)
      : name_(config.name),
        options_(options),
        format_(config.format == "cloudevents" ? EventFormat::kCloudEvents
                                               : EventFormat::kEventBridge) {
    txn_id_ = options.transactional_id.empty()
                  ? "cdc-pipeline." + config.pipeline + "." + config.name
                  : options.transactional_id;
    if (!config.unit.empty()) txn_id_ += "." + config.unit;
  }

  const std::string& name() const override { return name_; }
  EventFormat format() const override { return format_; }
  bool queued() const override { return true; }
  size_t max_batch() const override { return static_cast<size_t>(options_.max_batch); }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    DeliveryOutcome result;
    DeliverBatch(std::span<const Outgoing>(&event, 1), std::span<DeliveryOutcome>(&result, 1));
    return result;
  }

  void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) override {
    auto all = [&](Delivery d, const Status& why) {
      for (auto& r : results) r = {d, why};
    };
    if (Status s = Open(); !s.ok()) return all(Delivery::kRetry, s);
    if (options_.transactional) {
      if (Status s = InitTransactions(); !s.ok()) {
        return all(
            s.code() == StatusCode::kFailedPrecondition ? Delivery::kFatal : Delivery::kRetry, s);
      }
      if (TxnError e{rd_kafka_begin_transaction(producer_.get())}) {
        Status s = TxnStatus("cannot begin a transaction", e.get());
        return all(
            s.code() == StatusCode::kFailedPrecondition ? Delivery::kFatal : Delivery::kRetry, s);
      }
    }
    if (Status s = Produce(events); !s.ok()) {
      if (options_.transactional) Abort();
      return all(Delivery::kRetry, s);
    }
    if (!options_.transactional) return Settle(events, results);
    for (size_t i = 0; i < events.size(); ++i) {
      if (reports_.errors[i] != RD_KAFKA_RESP_ERR_NO_ERROR) {
        Status s = Unavailable("kafka: " + std::string(rd_kafka_err2str(reports_.errors[i])));
        Abort();
        return all(Delivery::kRetry, s);
      }
    }
    if (Status s = ProduceOffsets(events); !s.ok()) {
      Abort();
      return all(Delivery::kRetry, s);
    }
    if (TxnError e{
            rd_kafka_commit_transaction(producer_.get(), static_cast<int>(options_.timeout_ms))}) {
      Status s = TxnStatus("cannot commit the transaction", e.get());
      if (rd_kafka_error_is_fatal(e.get())) return all(Delivery::kFatal, s);
      Abort();
      return all(Delivery::kRetry, s);
    }
    all(Delivery::kDelivered, Status::Ok());
  }

  Status Flush() override {
    if (producer_ == nullptr || options_.transactional) return Status::Ok();
    rd_kafka_resp_err_t err =
        rd_kafka_flush(producer_.get(), static_cast<int>(options_.timeout_ms));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("target '" + name_ + "': kafka flush: " + rd_kafka_err2str(err));
    }
    return Status::Ok();
  }

  Result<std::map<uint32_t, uint64_t>> Held() override {
    std::map<uint32_t, uint64_t> held;
    if (!options_.transactional) return held;
    CDC_RETURN_IF_ERROR(Open());
    // Taking over the transactional id first fences an earlier producer (a killed run) and
    // settles its open transaction, so what is read next is final.
    CDC_RETURN_IF_ERROR(InitTransactions());
    CDC_RETURN_IF_ERROR(ReadOffsets(held));
    if (!held.empty()) {
      std::string text;
      for (auto [shard, next] : held) text += fmt::format(" {}:{}", shard, next);
      log::Info("target '{}': kafka holds stream offsets up to (shard:next){}", name_, text);
    }
    return held;
  }

  Status CheckHealth() override {
    CDC_RETURN_IF_ERROR(Open());
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer_.get(), 0, nullptr, &md, static_cast<int>(options_.timeout_ms));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("target '" + name_ + "': cannot reach the kafka brokers " +
                         options_.brokers + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_metadata_destroy(md);
    return Status::Ok();
  }

 private:
  Status Open() {
    if (producer_ != nullptr) return Status::Ok();
    std::vector<std::pair<std::string, std::string>> ours = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"message.timeout.ms", std::to_string(std::max<int64_t>(options_.timeout_ms, 1000))},
    };
    if (options_.transactional) {
      ours.push_back({"transactional.id", txn_id_});
      ours.push_back({"transaction.timeout.ms",
                      std::to_string(std::max<int64_t>(options_.timeout_ms * 6, 60000))});
    }
    CDC_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(name_, options_, ours));
    rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
    rd_kafka_conf_set_opaque(conf, &reports_);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument("target '" + name_ + "': cannot create a kafka producer: " + err);
    }
    producer_.reset(rk);
    if (options_.create_topics && options_.transactional) {
      CDC_RETURN_IF_ERROR(CreateTopic(options_.offsets_topic, /*compacted=*/true));
    }
    return Status::Ok();
  }

  Status InitTransactions() {
    if (initialized_) return Status::Ok();
    if (TxnError e{
            rd_kafka_init_transactions(producer_.get(), static_cast<int>(options_.timeout_ms))}) {
      Status s = TxnStatus("cannot start the transactional producer '" + txn_id_ + "'", e.get());
      if (rd_kafka_error_is_fatal(e.get())) return FailedPrecondition(s.message());
      return s;
    }
    initialized_ = true;
    return Status::Ok();
  }

  Status TxnStatus(const std::string& what, rd_kafka_error_t* e) const {
    std::string text = "target '" + name_ + "': " + what + ": " + rd_kafka_error_string(e);
    if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__FENCED ||
        rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
        rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
      text += " (another producer took over transactional.id '" + txn_id_ +
              "': is a second cdc-pipeline running with this pipeline name? Stop it, then "
              "restart this one)";
      return FailedPrecondition(text);
    }
    if (rd_kafka_error_is_fatal(e)) {
      return FailedPrecondition(text + " (fatal: restart the pipeline after fixing the cause)");
    }
    return Unavailable(text);
  }

  void Abort() {
    if (!options_.transactional) return;
    if (TxnError e{
            rd_kafka_abort_transaction(producer_.get(), static_cast<int>(options_.timeout_ms))}) {
      log::Warn("target '{}': kafka abort failed: {}", name_, rd_kafka_error_string(e.get()));
      if (rd_kafka_error_is_fatal(e.get())) initialized_ = false;
    }
  }

  // Creates `topic` when asked to (create_topics); an existing topic is fine.
  Status CreateTopic(const std::string& topic, bool compacted) {
    if (!options_.create_topics || created_.count(topic)) return Status::Ok();
    char err[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), compacted ? 1 : static_cast<int>(options_.partitions),
                              static_cast<int>(options_.replication), err, sizeof err);
    if (nt == nullptr) {
      return InvalidArgument("target '" + name_ + "': topic '" + topic + "': " + err);
    }
    if (compacted) rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t* q = rd_kafka_queue_new(producer_.get());
    rd_kafka_CreateTopics(producer_.get(), &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(options_.timeout_ms) + 1000);
    Status result = Status::Ok();
    if (ev == nullptr) {
      result = Unavailable("target '" + name_ + "': creating topic '" + topic + "' timed out");
    } else {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      size_t n = 0;
      const rd_kafka_topic_result_t** topics =
          res != nullptr ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
      if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = Unavailable("target '" + name_ + "': creating topic '" + topic +
                             "': " + rd_kafka_event_error_string(ev));
      }
      for (size_t i = 0; result.ok() && i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          result = Unavailable("target '" + name_ + "': creating topic '" + topic +
                               "': " + rd_kafka_err2str(e));
        }
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    // Tried once per topic: a broker that does not let us create topics (no ACL for it, no
    // controller) may still have the topic, or create it on first use; the produce tells.
    created_.insert(topic);
    if (!result.ok()) log::Warn("{}; producing to it anyway", result.message());
    return Status::Ok();
  }

  // Produces every event and waits (bounded) for the broker's answers in reports_.
  Status Produce(std::span<const Outgoing> events) {
    reports_.errors.assign(events.size(), RD_KAFKA_RESP_ERR__TIMED_OUT);
    reports_.pending = events.size();
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    for (size_t i = 0; i < events.size(); ++i) {
      const Outgoing& e = events[i];
      std::string_view table = e.key.substr(0, e.key.find('\x1f'));
      std::string topic = KafkaTopicFor(options_.topic, table);
      CDC_RETURN_IF_ERROR(CreateTopic(topic, false));
      std::string key = KafkaRecordKey(e.key);
      std::string_view value = e.body;
      bool binary = options_.cloudevents_binary && format_ == EventFormat::kCloudEvents &&
                    SplitCloudEvent(parser_, e.body, binary_);
      if (binary) value = binary_.data;
      while (true) {
        // The headers go to the record (librdkafka owns them from here on).
        rd_kafka_headers_t* headers = rd_kafka_headers_new(binary ? binary_.headers.size() : 1);
        if (binary) {
          for (const auto& [name, text] : binary_.headers) {
            rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()),
                                text.data(), static_cast<ssize_t>(text.size()));
          }
        } else {
          rd_kafka_header_add(headers, "ce_id", 5, e.id.data(), static_cast<ssize_t>(e.id.size()));
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
            RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(i + 1))),
            RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() > deadline) {
          return Unavailable("target '" + name_ + "': kafka produce to '" + topic +
                             "': " + rd_kafka_err2str(err));
        }
        rd_kafka_poll(producer_.get(), 10);
      }
    }
    while (reports_.pending > 0 && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_flush(producer_.get(), 100);
    }
    if (reports_.pending > 0) {
      return Unavailable("target '" + name_ + "': kafka did not acknowledge " +
                         std::to_string(reports_.pending) + " records within timeout_ms");
    }
    return Status::Ok();
  }

  // At-least-once answers: a failed record is retried, and so is every later record of the
  // batch with its key (the per-key order).
  void Settle(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) {
    std::set<std::string_view> failed;
    for (size_t i = 0; i < events.size(); ++i) {
      rd_kafka_resp_err_t err = reports_.errors[i];
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !failed.count(events[i].key)) {
        results[i] = {};
        continue;
      }
      failed.insert(events[i].key);
      Status why = err == RD_KAFKA_RESP_ERR_NO_ERROR
                       ? Unavailable("an earlier event with the same key is retried")
                       : Unavailable("kafka: " + std::string(rd_kafka_err2str(err)));
      char fatal[256];
      if (rd_kafka_fatal_error(producer_.get(), fatal, sizeof fatal) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        results[i] = {Delivery::kFatal, FailedPrecondition("target '" + name_ +
                                                           "': kafka producer failed: " + fatal)};
        continue;
      }
      results[i] = {Delivery::kRetry, why};
    }
  }

  Status ProduceOffsets(std::span<const Outgoing> events) {
    std::map<uint32_t, uint64_t> next;
    for (const Outgoing& e : events) {
      uint64_t& n = next[e.position.shard];
      n = std::max(n, e.position.offset + 1);
    }
    for (auto [shard, offset] : next) {
      std::string key = txn_id_ + "/" + std::to_string(shard);
      std::string value = std::to_string(offset);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(options_.offsets_topic.c_str()),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Unavailable("target '" + name_ + "': kafka produce to '" + options_.offsets_topic +
                           "': " + rd_kafka_err2str(err));
      }
    }
    return Status::Ok();
  }

  // Reads the last committed offset record of each of our shards from offsets_topic.
  Status ReadOffsets(std::map<uint32_t, uint64_t>& held) {
    std::vector<std::pair<std::string, std::string>> ours = {
        {"group.id", txn_id_ + ".offsets-reader"}, {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},          {"isolation.level", "read_committed"},
        {"auto.offset.reset", "earliest"},
    };
    CDC_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(name_, options_, ours));
    char err[512];
    rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (raw == nullptr) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument(std::string("cannot create a kafka consumer: ") + err);
    }
    RdKafka consumer(raw);
    int timeout = static_cast<int>(options_.timeout_ms);
    rd_kafka_topic_t* rkt =
        rd_kafka_topic_new(consumer.get(), options_.offsets_topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(consumer.get(), 0, rkt, &md, timeout);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("cannot read the metadata of kafka topic '" + options_.offsets_topic +
                         "': " + rd_kafka_err2str(e));
    }
    std::vector<int32_t> partitions;
    bool missing = md->topic_cnt == 0 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!missing) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
        partitions.push_back(md->topics[0].partitions[i].id);
      }
    }
    rd_kafka_metadata_destroy(md);
    if (partitions.empty()) return Status::Ok();  // nothing committed yet

    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    size_t open = 0;
    for (int32_t p : partitions) {
      int64_t low = 0, high = 0;
      e = rd_kafka_query_watermark_offsets(consumer.get(), options_.offsets_topic.c_str(), p, &low,
                                           &high, timeout);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return Unavailable("cannot read the offsets of kafka topic '" + options_.offsets_topic +
                           "': " + rd_kafka_err2str(e));
      }
      if (high <= low) continue;
      rd_kafka_topic_partition_list_add(list, options_.offsets_topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      ++open;
    }
    if (open == 0) {
      rd_kafka_topic_partition_list_destroy(list);
      return Status::Ok();
    }
    e = rd_kafka_assign(consumer.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable(std::string("cannot read kafka topic '") + options_.offsets_topic +
                         "': " + rd_kafka_err2str(e));
    }
    std::string prefix = txn_id_ + "/";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout * 3);
    while (open > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable("reading kafka topic '" + options_.offsets_topic +
                           "' did not reach its end within 3 x timeout_ms");
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        --open;
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string what = rd_kafka_message_errstr(m);
        rd_kafka_message_destroy(m);
        return Unavailable("reading kafka topic '" + options_.offsets_topic + "': " + what);
      } else if (m->key != nullptr) {
        std::string_view key(static_cast<const char*>(m->key), m->key_len);
        std::string_view value(static_cast<const char*>(m->payload), m->len);
        if (key.starts_with(prefix)) {
          try {
            uint32_t shard =
                static_cast<uint32_t>(std::stoul(std::string(key.substr(prefix.size()))));
            held[shard] = std::stoull(std::string(value));
          } catch (const std::exception&) {
            rd_kafka_message_destroy(m);
            return Corruption("kafka topic '" + options_.offsets_topic +
                              "' holds an offset record that is not ours: key '" +
                              std::string(key) + "'");
          }
        }
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer.get());
    return Status::Ok();
  }

  std::string name_;
  KafkaTargetOptions options_;
  EventFormat format_;
  std::string txn_id_;
  Reports reports_;  // before producer_: the producer's callbacks point at it
  RdKafka producer_;
  bool initialized_ = false;
  std::set<std::string> created_;
  simdjson::dom::parser parser_;
  BinaryEvent binary_;
};

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<KafkaTargetOptions>();
  r.String("brokers", o->brokers);
  r.String("topic", o->topic);
  if (o->topic.empty()) r.Error("topic", "'" + r.path() + ".topic' must not be empty");
  r.Bool("transactional", o->transactional);
  r.String("transactional_id", o->transactional_id);
  r.String("offsets_topic", o->offsets_topic);
  r.StringMap(
      "properties", o->properties,
      [](const std::string& name, const std::string&) -> std::optional<OptionsReader::EntryError> {
        static const std::set<std::string> kOurs = {"bootstrap.servers", "transactional.id",
                                                    "enable.idempotence", "isolation.level"};
        if (kOurs.count(name)) {
          return OptionsReader::EntryError{
              "is set by the target (use brokers, transactional_id, transactional)"};
        }
        return std::nullopt;
      });
  r.Bool("create_topics", o->create_topics);
  r.Int("partitions", o->partitions);
  r.Int("replication", o->replication);
  r.Int("timeout_ms", o->timeout_ms);
  r.Int("max_batch", o->max_batch);
  std::string mode = "structured";
  r.String("cloudevents_mode", mode);
  o->cloudevents_binary = mode == "binary";
  return o;
}

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  const auto* o = config.OptionsAs<KafkaTargetOptions>();
  if (o == nullptr || o->brokers.empty()) {
    return InvalidArgument("target '" + config.name + "' needs brokers");
  }
  return std::unique_ptr<Target>(std::make_unique<KafkaTarget>(config, *o));
}

std::string Describe(const TargetConfig& config) {
  const auto* o = config.OptionsAs<KafkaTargetOptions>();
  if (o == nullptr) return "kafka";
  return "kafka " + o->brokers + " topic " + o->topic +
         (o->transactional ? " (transactional)" : " (idempotent)");
}

}  // namespace

void RegisterKafkaTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"kafka",
       "Produces each event as one record to a Kafka topic per table (librdkafka), keyed by table "
       "and primary key (`users[42]`), so one key's changes stay in one partition in commit "
       "order; the value is the event in `format` (the header `ce_id` its id, or CloudEvents in "
       "binary mode with `cloudevents_mode`). The producer is "
       "idempotent. With `transactional` each batch is one Kafka transaction that also writes "
       "the stream positions it covers to `offsets_topic`; on start the target reads them back "
       "(read_committed) and skips what Kafka already holds. Broker errors are retried by "
       "`retry`; a fenced producer (another process took over the transactional id) stops the "
       "pipeline with a clear error.",
       {
           {"brokers",
            FieldType::kString,
            "",
            "Bootstrap servers, `host:port[,host:port...]`.",
            {},
            true},
           {"topic", FieldType::kString, "cdc.{table}",
            "Topic name; `{table}` becomes the table (`users`, or `schema.table` outside "
            "`public`)."},
           {"transactional", FieldType::kBool, "true",
            "Produce in transactions with the stream positions (see docs/kafka.md); `false`: "
            "idempotent producer, at-least-once with the same ids after a crash."},
           {"transactional_id", FieldType::kString, "",
            "The producer's `transactional.id`; empty: `cdc-pipeline.<pipeline.name>.<target>`. "
            "One running pipeline per id: a second one fences the first. Under "
            "`run --role process` each shard's unit adds `.shard-<i>`."},
           {"offsets_topic", FieldType::kString, "cdc-pipeline.offsets",
            "Where the transactional producer stores the stream positions (a compacted topic, "
            "key `<transactional_id>/<shard>`)."},
           {"properties", FieldType::kStringMap, "",
            "librdkafka properties passed through (e.g. `security.protocol: SASL_SSL`, "
            "`sasl.mechanism: SCRAM-SHA-512`, `sasl.username`, `sasl.password: ${KAFKA_PASSWORD}`, "
            "`ssl.ca.location`). Values are never logged."},
           {"create_topics", FieldType::kBool, "false",
            "Create missing topics with the admin API (`partitions`, `replication`; the offsets "
            "topic compacted, one partition) before producing to them."},
           {"partitions",
            FieldType::kInt,
            "1",
            "Partitions of topics the target creates.",
            {},
            false,
            1},
           {"replication",
            FieldType::kInt,
            "1",
            "Replication factor of topics the target creates.",
            {},
            false,
            1},
           {"timeout_ms",
            FieldType::kInt,
            "10000",
            "How long one batch (produce, acknowledgements, commit) may take before it is "
            "retried.",
            {},
            false,
            100},
           {"max_batch",
            FieldType::kInt,
            "500",
            "Events per produce batch (and transaction).",
            {},
            false,
            1},
           {"cloudevents_mode",
            FieldType::kEnum,
            "structured",
            "With `format: cloudevents`: `structured` (the whole CloudEvent as the value) or "
            "`binary` (the attributes as `ce_` headers and `content-type`, `data` as the value).",
            {"structured", "binary"}},
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
