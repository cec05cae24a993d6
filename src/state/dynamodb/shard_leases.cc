// The shard lease table. Every tick (a quarter of the lease period) a worker:
//   1. renews each lease it holds: leaseCounter + 1, conditional on leaseOwner = itself and the
//      counter it last wrote (and writes the shard's last checkpoint with it); a failed
//      condition means another worker took the lease: the shard is let go;
//   2. reads the whole table (a consistent Scan) and notes, per lease, when it last saw its
//      owner or counter change, on its own steady clock (no clock comparison between hosts, as
//      in the KCL): a lease whose counter has not moved for a lease period, that has no owner
//      (released) or whose owner is a process of this host that is gone, is available;
//   3. takes available leases up to its share, ceil(leases / live workers), with a write
//      conditional on the counter it saw; with none available and a worker holding two or more
//      leases more than itself, it takes one of that worker's (balancing, one per tick).
#include "state/dynamodb/shard_leases.h"

#include <fmt/core.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "aws/client.h"
#include "base/logging.h"
#include "config/config.h"
#include "event/json_writer.h"
#include "state/dynamodb/dynamodb_state_store.h"
#include "state/dynamodb/items.h"

namespace cdc::state {
namespace {

using SteadyClock = std::chrono::steady_clock;
using ddb::ConditionFailed;
using ddb::N;
using ddb::S;

// What the last scan saw of one lease.
struct Seen {
  std::string owner;  // empty: none (new, or released)
  int64_t counter = 0;
  SteadyClock::time_point changed;  // when this worker first saw this owner and counter
};

class ShardLeases final : public stream::ShardAssigner {
 public:
  ShardLeases(const DynamoDbStateOptions& options, std::unique_ptr<aws::JsonClient> client,
              std::string table, uint32_t shards, std::string worker)
      : o_(options),
        client_(std::move(client)),
        table_(std::move(table)),
        shards_(shards),
        worker_(std::move(worker)),
        lease_(std::chrono::milliseconds(options.lease_ms)),
        tick_(std::max<std::chrono::milliseconds>(lease_ / 4, std::chrono::milliseconds(25))),
        rng_(std::random_device{}()) {}

  Status Open();

  Result<std::vector<uint32_t>> Poll(std::chrono::milliseconds wait) override;
  void Checkpointed(uint32_t shard, uint64_t next_offset) override {
    if (held_.count(shard) != 0) checkpoints_[shard] = next_offset;
  }
  void Released(uint32_t shard) override;
  Status Close() override;
  std::string Describe() const override {
    return "shard leases in " + What() + " as worker '" + worker_ + "'";
  }

 private:
  std::string What() const {
    return "DynamoDB table " + table_ + " (" + client_->region() + ", " + client_->origin() + ")";
  }
  // One call; a failure keeps AWS's error type (ConditionalCheckFailed is expected).
  aws::Response Call(std::string_view operation, const std::string& body) {
    aws::Response r = client_->Call(operation, body);
    if (!r.status.ok() && !ConditionFailed(r)) r.status = r.status.WithContext(What());
    return r;
  }
  // Up to the state's retry budget while it fails transiently (opening).
  aws::Response CallRetrying(std::string_view operation, const std::string& body);
  // The start of an UpdateItem of `shard`'s lease.
  void Begin(JsonWriter& w, uint32_t shard) const {
    w.BeginObject().Key("TableName").String(table_);
    w.Key("Key").BeginObject();
    S(w, "leaseKey", ShardLeaseKey(shard));
    w.EndObject();
  }
  Status Tick();
  void Renew();
  Result<std::map<uint32_t, Seen>> Scan();
  bool Take(uint32_t shard, const Seen& seen, const std::string& why);
  // Writes `shard`'s lease back with no owner (a clean release).
  void Evict(uint32_t shard);
  // Renews (or, with `release`, releases) held lease `shard` whose counter is `counter`: the
  // counter + 1, conditional on this worker and that counter, with the shard's last checkpoint
  // when it is new (`*written` then names it).
  aws::Response UpdateHeld(uint32_t shard, int64_t counter, bool release,
                           std::optional<uint64_t>* written);

  struct Held {
    int64_t counter = 0;
    SteadyClock::time_point renewed;
  };

  const DynamoDbStateOptions o_;
  std::unique_ptr<aws::JsonClient> client_;
  const std::string table_;
  const uint32_t shards_;
  const std::string worker_;
  const std::chrono::milliseconds lease_;
  const std::chrono::milliseconds tick_;
  std::map<uint32_t, Held> held_;
  std::map<uint32_t, Seen> seen_;
  std::map<uint32_t, uint64_t> checkpoints_;  // to write with the next renewal
  std::map<uint32_t, uint64_t> written_;      // the checkpoint each lease holds
  SteadyClock::time_point next_tick_{};
  SteadyClock::time_point scan_failing_since_{};
  std::mt19937 rng_;
};

aws::Response ShardLeases::CallRetrying(std::string_view operation, const std::string& body) {
  aws::Backoff backoff(std::chrono::milliseconds(50), std::chrono::seconds(2));
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(o_.retry_ms);
  for (int attempt = 1;; ++attempt) {
    aws::Response r = Call(operation, body);
    if (r.status.ok() || !r.status.retryable()) return r;
    auto wait = backoff.Next(attempt);
    if (SteadyClock::now() + wait >= deadline) return r;
    std::this_thread::sleep_for(wait);
  }
}

Status ShardLeases::Open() {
  CDC_RETURN_IF_ERROR(
      ddb::EnsureTable(
          *client_, table_, {{"leaseKey", "HASH"}}, o_.create,
          [&](std::string_view op, const std::string& body) { return CallRetrying(op, body); },
          What(), "the shard leases", "state.lease_table",
          std::chrono::milliseconds(o_.retry_ms) + std::chrono::seconds(30))
          .status());
  // A lease for each shard that has none: no owner, at the start of the shard (KCL's
  // TRIM_HORIZON), no switches yet.
  for (uint32_t shard = 0; shard < shards_; ++shard) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_).Key("Item").BeginObject();
    S(w, "leaseKey", ShardLeaseKey(shard));
    N(w, "leaseCounter", int64_t{0});
    S(w, "checkpoint", "TRIM_HORIZON");
    N(w, "ownerSwitchesSinceCheckpoint", int64_t{0});
    N(w, "shard", static_cast<int64_t>(shard));
    w.EndObject().Key("ConditionExpression").String("attribute_not_exists(leaseKey)");
    w.EndObject();
    aws::Response r = CallRetrying("PutItem", body);
    if (!r.status.ok() && !ConditionFailed(r)) {
      return r.status.WithContext("cannot add the lease of stream shard " + std::to_string(shard));
    }
  }
  return Status::Ok();
}

Result<std::map<uint32_t, Seen>> ShardLeases::Scan() {
  std::map<std::string, uint32_t> shard_of;
  for (uint32_t i = 0; i < shards_; ++i) shard_of[ShardLeaseKey(i)] = i;
  std::map<uint32_t, Seen> leases;
  std::string start_key;
  simdjson::dom::parser parser;
  do {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_).Key("ConsistentRead").Bool(true);
    if (!start_key.empty()) w.Key("ExclusiveStartKey").Raw(start_key);
    w.EndObject();
    aws::Response r = Call("Scan", body);
    if (!r.status.ok()) return r.status;
    simdjson::dom::element root, last;
    simdjson::dom::array items;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Items"].get(items) != simdjson::SUCCESS) {
      return Unavailable(What() + ": Scan answered without Items");
    }
    for (simdjson::dom::element item : items) {
      auto key = ddb::Attribute(item, "leaseKey", "S");
      auto counter = ddb::NumberAttribute(item, "leaseCounter");
      if (!key) continue;
      auto it = shard_of.find(std::string(*key));
      if (it == shard_of.end()) continue;  // another stream's shard, or one past shard_count
      if (!counter) {
        return Corruption(What() + ": the lease " + std::string(*key) +
                          " has no numeric leaseCounter; it was written by something other "
                          "than cdc-pipeline. Delete the item when no processor runs");
      }
      Seen& seen = leases[it->second];
      seen.owner = std::string(ddb::Attribute(item, "leaseOwner", "S").value_or(""));
      seen.counter = *counter;
    }
    start_key = root["LastEvaluatedKey"].get(last) == simdjson::SUCCESS ? simdjson::minify(last)
                                                                        : std::string();
  } while (!start_key.empty());
  return leases;
}

void ShardLeases::Renew() {
  auto now = SteadyClock::now();
  for (auto it = held_.begin(); it != held_.end();) {
    const uint32_t shard = it->first;
    Held& held = it->second;
    std::optional<uint64_t> checkpoint;
    aws::Response r = UpdateHeld(shard, held.counter, false, &checkpoint);
    if (r.status.ok()) {
      held.counter += 1;
      held.renewed = now;
      if (checkpoint) written_[shard] = *checkpoint;
      ++it;
      continue;
    }
    if (ConditionFailed(r)) {
      log::Info("shard {}: another worker took its lease ({}); letting it go", shard,
                ShardLeaseKey(shard));
    } else if (now - held.renewed >= lease_) {
      log::Warn(
          "shard {}: its lease ({}) could not be renewed for a lease period ({}); letting the "
          "shard go, another worker may take it",
          shard, ShardLeaseKey(shard), r.status.message());
    } else {
      log::Debug("shard {}: renewing its lease failed ({}); trying again", shard,
                 r.status.message());
      ++it;
      continue;
    }
    checkpoints_.erase(shard);
    it = held_.erase(it);
  }
}

bool ShardLeases::Take(uint32_t shard, const Seen& seen, const std::string& why) {
  std::string body;
  JsonWriter w(body);
  Begin(w, shard);
  w.Key("UpdateExpression")
      .String(
          "SET leaseOwner = :me, leaseCounter = leaseCounter + :one, "
          "ownerSwitchesSinceCheckpoint = ownerSwitchesSinceCheckpoint + :one");
  w.Key("ConditionExpression").String("leaseCounter = :c");
  w.Key("ExpressionAttributeValues").BeginObject();
  N(w, ":one", int64_t{1});
  S(w, ":me", worker_);
  N(w, ":c", seen.counter);
  w.EndObject().Key("ReturnValues").String("ALL_NEW").EndObject();
  aws::Response r = Call("UpdateItem", body);
  if (!r.status.ok()) {
    if (!ConditionFailed(r)) {
      log::Debug("shard {}: taking its lease failed ({})", shard, r.status.message());
    }
    return false;
  }
  std::string checkpoint;
  simdjson::dom::parser parser;
  simdjson::dom::element root, item;
  if (parser.parse(r.body).get(root) == simdjson::SUCCESS &&
      root["Attributes"].get(item) == simdjson::SUCCESS) {
    checkpoint = std::string(ddb::Attribute(item, "checkpoint", "S").value_or(""));
  }
  held_[shard] = Held{seen.counter + 1, SteadyClock::now()};
  log::Info("shard {}: took its lease ({}{}{}{}; checkpoint {})", shard, ShardLeaseKey(shard),
            seen.owner.empty() ? "" : " from ", seen.owner, why.empty() ? "" : ": " + why,
            checkpoint.empty() ? "none" : checkpoint);
  return true;
}

Status ShardLeases::Tick() {
  Renew();
  auto scanned = Scan();
  auto now = SteadyClock::now();
  if (!scanned.ok()) {
    if (!scanned.status().retryable()) return scanned.status();
    if (scan_failing_since_ == SteadyClock::time_point{}) scan_failing_since_ = now;
    if (now - scan_failing_since_ >= lease_) {
      log::Warn("cannot read the shard leases ({}); retrying", scanned.status().message());
      scan_failing_since_ = now;
    }
    return Status::Ok();
  }
  scan_failing_since_ = {};
  for (auto& [shard, lease] : *scanned) {
    auto old = seen_.find(shard);
    bool same = old != seen_.end() && old->second.owner == lease.owner &&
                old->second.counter == lease.counter;
    lease.changed = same ? old->second.changed : now;
  }
  seen_ = std::move(*scanned);
  // A lease this worker holds that names another owner was taken (the renewal notices too).
  for (auto it = held_.begin(); it != held_.end();) {
    auto s = seen_.find(it->first);
    if (s != seen_.end() && s->second.owner != worker_) {
      log::Info("shard {}: its lease went to {}; letting it go", it->first, s->second.owner);
      checkpoints_.erase(it->first);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  // The live workers and their leases; the leases anyone may take, and why.
  std::map<std::string, std::vector<uint32_t>> live;
  std::vector<std::pair<uint32_t, std::string>> available;
  for (const auto& [shard, lease] : seen_) {
    if (held_.count(shard) != 0) continue;
    if (lease.owner.empty()) {
      available.emplace_back(shard, "free");
    } else if (lease.owner == worker_) {
      available.emplace_back(shard, "this worker's, not renewed");
    } else if (ddb::OwnerDeadOnThisHost(lease.owner)) {
      available.emplace_back(shard, "its process is gone");
    } else if (now - lease.changed >= lease_) {
      available.emplace_back(
          shard,
          fmt::format(
              "expired: not renewed for {} ms",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - lease.changed).count()));
    } else {
      live[lease.owner].push_back(shard);
    }
  }
  const size_t workers = live.size() + 1;
  const size_t target = (seen_.size() + workers - 1) / workers;
  if (held_.size() >= target) return Status::Ok();
  // Several workers taking at once start at different leases.
  std::shuffle(available.begin(), available.end(), rng_);
  for (const auto& [shard, why] : available) {
    if (held_.size() >= target) break;
    Take(shard, seen_[shard], why);
  }
  if (!available.empty()) return Status::Ok();
  // Balance: one lease a tick from the most loaded worker while it has two more than this one.
  const std::vector<uint32_t>* most = nullptr;
  const std::string* most_owner = nullptr;
  for (const auto& [owner, shards] : live) {
    if (most == nullptr || shards.size() > most->size()) {
      most = &shards;
      most_owner = &owner;
    }
  }
  if (most != nullptr && most->size() >= held_.size() + 2) {
    uint32_t shard = (*most)[std::uniform_int_distribution<size_t>(0, most->size() - 1)(rng_)];
    Take(shard, seen_[shard],
         fmt::format("to balance: {} held {}, this worker {}", *most_owner, most->size(),
                     held_.size()));
  }
  return Status::Ok();
}

Result<std::vector<uint32_t>> ShardLeases::Poll(std::chrono::milliseconds wait) {
  auto now = SteadyClock::now();
  std::vector<uint32_t> before;
  for (const auto& [shard, held] : held_) before.push_back(shard);
  if (now >= next_tick_) {
    CDC_RETURN_IF_ERROR(Tick());
    next_tick_ = now + tick_;
  }
  std::vector<uint32_t> shards;
  for (const auto& [shard, held] : held_) shards.push_back(shard);
  if (shards == before) std::this_thread::sleep_until(std::min(now + wait, next_tick_));
  return shards;
}

aws::Response ShardLeases::UpdateHeld(uint32_t shard, int64_t counter, bool release,
                                      std::optional<uint64_t>* written) {
  written->reset();
  if (auto c = checkpoints_.find(shard); c != checkpoints_.end() && written_[shard] != c->second) {
    *written = c->second;
  }
  std::string update = release ? "REMOVE leaseOwner SET leaseCounter = leaseCounter + :one"
                               : "SET leaseCounter = leaseCounter + :one";
  if (*written) update += ", checkpoint = :cp, ownerSwitchesSinceCheckpoint = :zero";
  std::string body;
  JsonWriter w(body);
  Begin(w, shard);
  w.Key("UpdateExpression").String(update);
  w.Key("ConditionExpression").String("leaseOwner = :me AND leaseCounter = :c");
  w.Key("ExpressionAttributeValues").BeginObject();
  N(w, ":one", int64_t{1});
  S(w, ":me", worker_);
  N(w, ":c", counter);
  if (*written) {
    S(w, ":cp", std::to_string(**written));
    N(w, ":zero", int64_t{0});
  }
  w.EndObject().EndObject();
  return Call("UpdateItem", body);
}

void ShardLeases::Evict(uint32_t shard) {
  auto it = held_.find(shard);
  if (it == held_.end()) return;
  std::optional<uint64_t> checkpoint;
  aws::Response r = UpdateHeld(shard, it->second.counter, true, &checkpoint);
  if (!r.status.ok() && !ConditionFailed(r)) {
    log::Warn("shard {}: could not release its lease ({}); it expires within {} ms", shard,
              r.status.message(), lease_.count());
  }
  checkpoints_.erase(shard);
  held_.erase(it);
}

void ShardLeases::Released(uint32_t shard) { Evict(shard); }

Status ShardLeases::Close() {
  while (!held_.empty()) Evict(held_.begin()->first);
  return Status::Ok();
}

}  // namespace

std::string ShardLeaseTable(const StateConfig& config) {
  const auto* o = config.OptionsAs<DynamoDbStateOptions>();
  if (o != nullptr && !o->lease_table.empty()) return o->lease_table;
  return DynamoDbStateTable(config) + "-leases";
}

std::string ShardLeaseKey(uint32_t shard) { return fmt::format("shardId-{:012}", shard); }

Result<std::unique_ptr<stream::ShardAssigner>> OpenShardLeases(const StateConfig& config,
                                                               uint32_t shard_count,
                                                               std::string worker) {
  const auto* o = config.OptionsAs<DynamoDbStateOptions>();
  if (o == nullptr) {
    return InvalidArgument("shard leases need a dynamodb state (state.type: dynamodb)");
  }
  auto client = aws::JsonClient::Create(AwsClientOptions(aws::kDynamoDb, *o));
  if (!client.ok()) return client.status().WithContext("shard leases");
  auto leases = std::make_unique<ShardLeases>(
      *o, std::move(client).value(), ShardLeaseTable(config), shard_count, std::move(worker));
  CDC_RETURN_IF_ERROR(leases->Open());
  return std::unique_ptr<stream::ShardAssigner>(std::move(leases));
}

}  // namespace cdc::state
