// The consumer group assigner. librdkafka serves the group (join, sync, heartbeats) on its own
// threads; the rebalance and commit callbacks run inside rd_kafka_consumer_poll and
// rd_kafka_consumer_close, i.e. on the thread that calls Poll and Close, so the assigned set
// needs no lock.
#include "stream/kafka/kafka_group_assigner.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "base/logging.h"
#include "config/config.h"
#include "stream/kafka/kafka_client.h"
#include "stream/kafka/kafka_stream.h"

namespace cdc::stream {
namespace {

using Clock = std::chrono::steady_clock;
using kafka_internal::RdKafka;

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

std::string Join(const std::set<uint32_t>& shards) {
  std::string out;
  for (uint32_t s : shards) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out.empty() ? "none" : out;
}

class KafkaGroupAssigner final : public ShardAssigner {
 public:
  KafkaGroupAssigner(const KafkaStreamOptions& options, std::string topic, std::string group,
                     uint32_t shards, std::string member)
      : options_(options),
        topic_(std::move(topic)),
        group_(std::move(group)),
        shards_(shards),
        member_(std::move(member)) {}

  ~KafkaGroupAssigner() override {
    if (consumer_ != nullptr) (void)Close();
  }

  Status Open() {
    const int64_t session = options_.group_session_timeout_ms;
    // Heartbeats well inside the session (Kafka's advice: at most a third of it; its clients'
    // defaults are a fifteenth).
    const int64_t heartbeat = std::clamp<int64_t>(session / 10, 100, 3000);
    CDC_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                         kafka_internal::MakeConf(
                             options_, {{"group.id", group_},
                                        {"client.id", "cdc-pipeline " + member_},
                                        {"partition.assignment.strategy", "cooperative-sticky"},
                                        {"session.timeout.ms", std::to_string(session)},
                                        {"heartbeat.interval.ms", std::to_string(heartbeat)},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"enable.partition.eof", "false"},
                                        // Nothing is fetched (every partition is paused); no error
                                        // either when the group has no offset for a partition yet.
                                        {"auto.offset.reset", "latest"},
                                        {"queued.max.messages.kbytes", "64"}}));
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaGroupAssigner::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, &KafkaGroupAssigner::OnCommit);
    rd_kafka_conf_set_opaque(conf, this);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return InvalidArgument("stream: cannot create the kafka consumer of group '" + group_ +
                             "': " + err);
    }
    consumer_.reset(rk);
    // Commit results and errors come out of rd_kafka_consumer_poll too.
    rd_kafka_poll_set_consumer(rk);
    PartitionList topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("stream: kafka consumer group '" + group_ + "' cannot subscribe to '" +
                         topic_ + "': " + rd_kafka_err2str(e));
    }
    log::Info("kafka consumer group '{}': joining as '{}' (topic '{}', cooperative-sticky)", group_,
              member_, topic_);
    return Status::Ok();
  }

  Result<std::vector<uint32_t>> Poll(std::chrono::milliseconds wait) override {
    if (consumer_ == nullptr) return FailedPrecondition(Describe() + ": closed");
    const std::set<uint32_t> before = assigned_;
    const auto deadline = Clock::now() + wait;
    do {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      int timeout = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 100));
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), timeout);
      if (m != nullptr) {
        Status s = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? Status::Ok() : OnError(*m);
        // A record fetched before its partition was paused: dropped, never committed.
        rd_kafka_message_destroy(m);
        if (!s.ok()) return s;
      }
      if (!failure_.ok()) return failure_;
      if (assigned_ != before) break;
    } while (Clock::now() < deadline);
    return std::vector<uint32_t>(assigned_.begin(), assigned_.end());
  }

  void Checkpointed(uint32_t shard, uint64_t next_offset) override {
    if (assigned_.count(shard) != 0) checkpoints_[shard] = next_offset;
  }

  // Nothing to do: the group moved the partition already (a revoke does not wait for the unit;
  // the unit's state store makes its next owner wait).
  void Released(uint32_t) override {}

  Status Close() override {
    if (consumer_ == nullptr) return Status::Ok();
    CommitCheckpoints();
    // Leaves the group (the revoke callback runs inside): the others rebalance at once.
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(consumer_.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Warn(
          "kafka consumer group '{}': leaving it failed ({}); the others take this "
          "member's partitions after group_session_timeout_ms",
          group_, rd_kafka_err2str(e));
    }
    consumer_.reset();
    assigned_.clear();
    log::Info("kafka consumer group '{}': left", group_);
    return Status::Ok();
  }

  std::string Describe() const override {
    return "Kafka consumer group '" + group_ + "' on topic '" + topic_ + "' as member '" + member_ +
           "'";
  }

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaGroupAssigner*>(opaque)->Rebalance(rk, err, partitions);
  }

  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*,
                       void* opaque) {
    // A commit that fails (the group rebalancing as this member leaves) leaves the offsets the
    // group had: informational only.
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      log::Debug("kafka consumer group '{}': committing offsets failed: {}",
                 static_cast<KafkaGroupAssigner*>(opaque)->group_, rd_kafka_err2str(err));
    }
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    std::set<uint32_t> changed;
    for (int i = 0; i < partitions->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = partitions->elems[i];
      if (topic_ == p.topic && p.partition >= 0 && static_cast<uint32_t>(p.partition) < shards_) {
        changed.insert(static_cast<uint32_t>(p.partition));
      }
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        Check(rd_kafka_incremental_assign(rk, partitions), "taking the partitions it was given");
      } else {
        Check(rd_kafka_assign(rk, partitions), "taking the partitions it was given");
        assigned_.clear();
      }
      // Membership only: the units read the partitions with consumers of their own.
      rd_kafka_pause_partitions(rk, partitions);
      assigned_.insert(changed.begin(), changed.end());
      if (!changed.empty() || !cooperative) {
        log::Info("kafka consumer group '{}': given partitions {}; this member has {}", group_,
                  Join(changed), Join(assigned_));
      }
      return;
    }
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && cooperative) {
      Check(rd_kafka_incremental_unassign(rk, partitions), "giving partitions back");
      for (uint32_t s : changed) {
        assigned_.erase(s);
        checkpoints_.erase(s);
      }
    } else {
      if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        log::Warn("kafka consumer group '{}': rebalance failed ({}); giving every partition back",
                  group_, rd_kafka_err2str(err));
      }
      Check(rd_kafka_assign(rk, nullptr), "giving partitions back");
      assigned_.clear();
      checkpoints_.clear();
    }
    log::Info("kafka consumer group '{}': {} partitions {}; this member has {}", group_,
              lost ? "lost (the group went on without this member: no heartbeat within "
                     "group_session_timeout_ms)"
                   : "gave back",
              Join(changed), Join(assigned_));
  }

  void Check(rd_kafka_error_t* error, const char* what) {
    if (error == nullptr) return;
    if (failure_.ok()) {
      failure_ = Unavailable(Describe() + ": " + what + ": " + rd_kafka_error_string(error));
    }
    rd_kafka_error_destroy(error);
  }
  void Check(rd_kafka_resp_err_t err, const char* what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && failure_.ok()) {
      failure_ = Unavailable(Describe() + ": " + what + ": " + rd_kafka_err2str(err));
    }
  }

  // An error the consumer reported: those retrying cannot fix stop the process.
  Status OnError(const rd_kafka_message_t& m) {
    const std::string text = rd_kafka_message_errstr(&m);
    switch (m.err) {
      case RD_KAFKA_RESP_ERR__FATAL: {
        char reason[512];
        rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason);
        return Unavailable(Describe() + ": " + reason);
      }
      case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
        return FailedPrecondition(Describe() + ": " + text);
      case RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT:
        return FailedPrecondition(Describe() + ": " + text +
                                  ": the brokers refuse stream.group_session_timeout_ms (" +
                                  std::to_string(options_.group_session_timeout_ms) +
                                  "); they take group.min.session.timeout.ms to "
                                  "group.max.session.timeout.ms (6000 to 1800000 by default)");
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        // Retried by librdkafka; said once, not at every poll.
        if (warned_.insert(m.err).second) {
          log::Warn("kafka consumer group '{}': {} (retrying)", group_, text);
        }
        return Status::Ok();
      default:
        log::Debug("kafka consumer group '{}': {}", group_, text);
        return Status::Ok();
    }
  }

  // The units' last checkpoints of the partitions this member has, as the group's offsets,
  // waiting for the answer. Only when the member leaves: a commit sent while the group
  // rebalances (with the generation the rebalance is replacing) is answered ILLEGAL_GENERATION,
  // and librdkafka before 2.10 (its issue #4059) then drops the member's whole assignment,
  // stopping every unit of the process at each rebalance; leaving, that costs nothing.
  void CommitCheckpoints() {
    if (checkpoints_.empty()) return;
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(checkpoints_.size())));
    for (const auto& [shard, next] : checkpoints_) {
      if (assigned_.count(shard) == 0) continue;
      rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), static_cast<int32_t>(shard))
          ->offset = static_cast<int64_t>(next);
    }
    checkpoints_.clear();
    if (offsets->cnt == 0) return;
    rd_kafka_resp_err_t e = rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Debug("kafka consumer group '{}': committing offsets failed: {}", group_,
                 rd_kafka_err2str(e));
    }
  }

  const KafkaStreamOptions options_;
  const std::string topic_;
  const std::string group_;
  const uint32_t shards_;
  const std::string member_;
  RdKafka consumer_;
  std::set<uint32_t> assigned_;
  std::map<uint32_t, uint64_t> checkpoints_;  // the units' last, committed when leaving
  Status failure_;  // set in the rebalance callback: the next Poll returns it
  std::set<rd_kafka_resp_err_t> warned_;
};

}  // namespace

std::string KafkaGroupId(const StreamConfig& config, const std::string& pipeline_name) {
  const auto* o = config.OptionsAs<KafkaStreamOptions>();
  if (o != nullptr && !o->group_id.empty()) return o->group_id;
  return "cdc-pipeline." + (pipeline_name.empty() ? std::string("cdc-pipeline") : pipeline_name);
}

Result<std::unique_ptr<ShardAssigner>> OpenKafkaGroupAssigner(const StreamConfig& config,
                                                              const std::string& pipeline_name,
                                                              std::string member) {
  const auto* o = config.OptionsAs<KafkaStreamOptions>();
  if (o == nullptr || o->bootstrap_servers.empty()) {
    return InvalidArgument("a kafka consumer group needs a kafka stream with bootstrap_servers");
  }
  auto assigner = std::make_unique<KafkaGroupAssigner>(
      *o, KafkaStreamTopic(config), KafkaGroupId(config, pipeline_name),
      static_cast<uint32_t>(config.shards), std::move(member));
  CDC_RETURN_IF_ERROR(assigner->Open());
  return std::unique_ptr<ShardAssigner>(std::move(assigner));
}

}  // namespace cdc::stream
