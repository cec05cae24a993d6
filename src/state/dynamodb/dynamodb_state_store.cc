// The DynamoDB state store. dynalite and DynamoDB Local lack nothing it uses: single-item
// conditional writes (PutItem, UpdateItem), GetItem with consistent reads, BatchWriteItem and
// Query; no transactions. The layout (docs/state-store.md, "DynamoDB"), in a table with the
// string key pk (partition) + sk (sort):
//
//   pk = <pipeline>, sk = "lease"           owner, token, acquired, renewed, expires (micros)
//   pk = <pipeline>, sk = "state"           doc (the whole durable state as one JSON string),
//                                           token (the writer's fencing token), version, owner,
//                                           updated
//   pk = <pipeline>, sk = "dedupe#<key>"    expires (micros), ttl (seconds, for DynamoDB's TTL)
//
// Atomicity without transactions: everything a commit must change together (checkpoints, marks,
// values) is in the one state item, written whole by a PutItem conditional on the writer's token.
// A new owner first takes the lease item (a conditional write on what it read), then claims the
// state item by writing its token into it; from then on a former owner's PutItem fails its
// condition (it is fenced) and writes nothing.

#include "state/dynamodb/dynamodb_state_store.h"

#include <fmt/core.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aws/client.h"
#include "aws/http.h"
#include "base/logging.h"
#include "base/time.h"
#include "config/config.h"
#include "event/json_writer.h"
#include "state/dynamodb/items.h"

namespace cdc::state {
namespace {

using ddb::Attribute;
using ddb::ConditionFailed;
using ddb::N;
using ddb::NumberAttribute;
using ddb::OwnerDeadOnThisHost;
using ddb::S;

using Clock = std::chrono::system_clock;

// DynamoDB's item size limit (400 KB, counted as KiB) and what the state item needs besides
// its document (key, token, version, owner, updated, attribute names).
constexpr size_t kMaxItemBytes = 400 * 1024;
constexpr size_t kStateItemOverhead = 512;
constexpr size_t kMaxBatchWrite = 25;
// A bound on the dedupe keys the store keeps in memory (HasKey asks DynamoDB for the others).
constexpr size_t kMaxKnownKeys = 200000;
constexpr char kLeaseSk[] = "lease";
constexpr char kStateSk[] = "state";
constexpr char kDedupePrefix[] = "dedupe#";

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string Time(int64_t micros) { return FormatRfc3339(Timestamp{micros}); }

// The parsed state document: what Commit merges into and the reads answer from.
struct Document {
  std::map<uint32_t, uint64_t> checkpoints;
  std::map<std::string, TargetMark> marks;
  std::map<std::string, std::string> values;
};

std::string Encode(const Document& doc) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("checkpoints").BeginObject();
  for (const auto& [shard, next] : doc.checkpoints) w.Key(std::to_string(shard)).Uint(next);
  w.EndObject().Key("marks").BeginObject();
  for (const auto& [target, mark] : doc.marks) {
    w.Key(target).BeginObject();
    w.Key("cursor").String(mark.cursor);
    w.Key("delivered").Uint(mark.delivered);
    w.Key("dead_lettered").Uint(mark.dead_lettered);
    w.Key("shard_next").BeginObject();
    for (const auto& [shard, next] : mark.shard_next) w.Key(std::to_string(shard)).Uint(next);
    w.EndObject().EndObject();
  }
  w.EndObject().Key("values").BeginObject();
  for (const auto& [key, value] : doc.values) w.Key(key).String(value);
  w.EndObject().EndObject();
  return out;
}

bool ParseShard(std::string_view text, uint32_t& shard) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), shard);
  return ec == std::errc() && end == text.data() + text.size();
}

bool DecodeShardMap(simdjson::dom::element e, std::map<uint32_t, uint64_t>& out) {
  simdjson::dom::object object;
  if (e.get(object) != simdjson::SUCCESS) return false;
  for (auto field : object) {
    uint32_t shard = 0;
    uint64_t next = 0;
    if (!ParseShard(field.key, shard) || field.value.get(next) != simdjson::SUCCESS) return false;
    out[shard] = next;
  }
  return true;
}

// The document, or nullopt when it is not one this store wrote.
std::optional<Document> Decode(std::string_view text) {
  Document doc;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return std::nullopt;
  }
  simdjson::dom::element e;
  if (root["checkpoints"].get(e) == simdjson::SUCCESS && !DecodeShardMap(e, doc.checkpoints)) {
    return std::nullopt;
  }
  simdjson::dom::object object;
  if (root["marks"].get(object) == simdjson::SUCCESS) {
    for (auto field : object) {
      TargetMark& mark = doc.marks[std::string(field.key)];
      std::string_view cursor;
      simdjson::dom::element shard_next;
      if (field.value["cursor"].get(cursor) != simdjson::SUCCESS ||
          field.value["delivered"].get(mark.delivered) != simdjson::SUCCESS ||
          field.value["dead_lettered"].get(mark.dead_lettered) != simdjson::SUCCESS ||
          field.value["shard_next"].get(shard_next) != simdjson::SUCCESS ||
          !DecodeShardMap(shard_next, mark.shard_next)) {
        return std::nullopt;
      }
      mark.cursor = cursor;
    }
  } else if (root["marks"].error() != simdjson::NO_SUCH_FIELD) {
    return std::nullopt;
  }
  if (root["values"].get(object) == simdjson::SUCCESS) {
    for (auto field : object) {
      std::string_view value;
      if (field.value.get(value) != simdjson::SUCCESS) return std::nullopt;
      doc.values[std::string(field.key)] = value;
    }
  } else if (root["values"].error() != simdjson::NO_SUCH_FIELD) {
    return std::nullopt;
  }
  return doc;
}

struct LeaseItem {
  LeaseInfo info;
  int64_t expires_micros = 0;
};

// The calls of one store: retried while they fail transiently, up to the retry budget.
class Table {
 public:
  Table(std::unique_ptr<aws::JsonClient> client, std::string table, std::string pipeline,
        std::chrono::milliseconds retry_budget)
      : client_(std::move(client)),
        table_(std::move(table)),
        pipeline_(std::move(pipeline)),
        retry_budget_(retry_budget) {}

  const std::string& table() const { return table_; }
  const std::string& pipeline() const { return pipeline_; }
  aws::JsonClient& client() { return *client_; }

  // "DynamoDB table t (region, origin)": what messages name.
  std::string What() const {
    return "DynamoDB table " + table_ + " (" + client_->region() + ", " + client_->origin() + ")";
  }

  // One call, retried with backoff while it is Unavailable and the budget lasts. A failed answer
  // keeps its status (with the table as context) and its error type.
  aws::Response Call(std::string_view operation, const std::string& body) {
    auto deadline = std::chrono::steady_clock::now() + retry_budget_;
    for (int attempt = 1;; ++attempt) {
      aws::Response r = client_->Call(operation, body);
      if (r.status.ok() || !r.status.retryable()) return Annotate(std::move(r));
      auto wait = backoff_.Next(attempt);
      if (std::chrono::steady_clock::now() + wait >= deadline) {
        r.status = r.status.WithContext(fmt::format("{} (gave up after {} attempts in {} ms)",
                                                    What(), attempt, retry_budget_.count()));
        return r;
      }
      log::Debug("{}: {} failed ({}); retrying", What(), operation, r.status.message());
      std::this_thread::sleep_for(wait);
    }
  }

  // The item body key {"pk":..,"sk":..}.
  void Key(JsonWriter& w, std::string_view sk) const {
    w.Key("Key").BeginObject();
    S(w, "pk", pipeline_);
    S(w, "sk", sk);
    w.EndObject();
  }

  // The item `sk`, read consistently; null when absent. `root` keeps the parsed answer.
  Result<std::optional<simdjson::dom::element>> Get(std::string_view sk) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_);
    Key(w, sk);
    w.Key("ConsistentRead").Bool(true).EndObject();
    aws::Response r = Call("GetItem", body);
    if (!r.status.ok()) return r.status;
    last_body_ = std::move(r.body);
    simdjson::dom::element root, item;
    if (parser_.parse(last_body_).get(root) != simdjson::SUCCESS) {
      return Unavailable("dynamodb GetItem at " + client_->origin() + " answered with no JSON");
    }
    if (root["Item"].get(item) != simdjson::SUCCESS) {
      return std::optional<simdjson::dom::element>();
    }
    return std::optional<simdjson::dom::element>(item);
  }

  Result<std::optional<LeaseItem>> GetLease() {
    CDC_ASSIGN_OR_RETURN(auto item, Get(kLeaseSk));
    if (!item) return std::optional<LeaseItem>();
    LeaseItem lease;
    auto owner = Attribute(*item, "owner", "S");
    auto token = NumberAttribute(*item, "token");
    auto acquired = NumberAttribute(*item, "acquired");
    auto renewed = NumberAttribute(*item, "renewed");
    auto expires = NumberAttribute(*item, "expires");
    if (!owner || !token || !acquired || !renewed || !expires) {
      return Corruption(What() + ": the lease item of pipeline " + pipeline_ +
                        " lacks owner, token, acquired, renewed or expires; it was written by "
                        "something other than cdc-pipeline. Delete it (pk " +
                        pipeline_ + ", sk lease) when no process of the pipeline runs")
          .set_data_loss();
    }
    lease.info.owner = *owner;
    lease.info.token = static_cast<uint64_t>(*token);
    lease.info.acquired_micros = *acquired;
    lease.info.renewed_micros = *renewed;
    lease.expires_micros = *expires;
    return std::optional<LeaseItem>(std::move(lease));
  }

  // Extends the lease of `token` to now + lease; ConditionalCheckFailed (in the answer's
  // error_type) when another token holds it.
  aws::Response Renew(uint64_t token, int64_t now, int64_t lease_micros) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_);
    Key(w, kLeaseSk);
    w.Key("UpdateExpression").String("SET #r = :r, #e = :e");
    w.Key("ConditionExpression").String("#t = :t");
    w.Key("ExpressionAttributeNames")
        .BeginObject()
        .Key("#r")
        .String("renewed")
        .Key("#e")
        .String("expires")
        .Key("#t")
        .String("token")
        .EndObject();
    w.Key("ExpressionAttributeValues").BeginObject();
    N(w, ":r", now);
    N(w, ":e", now + lease_micros);
    N(w, ":t", token);
    w.EndObject().EndObject();
    return Call("UpdateItem", body);
  }

  std::string_view last_body() const { return last_body_; }

 private:
  aws::Response Annotate(aws::Response r) {
    if (!r.status.ok() && r.error_type != "ConditionalCheckFailedException") {
      if (r.status.code() == StatusCode::kNotFound) {
        r.status =
            NotFound(fmt::format("the DynamoDB table {} does not exist in region {} at {}: create "
                                 "it (partition key pk, sort key sk, both strings), or set "
                                 "state.create: true ({})",
                                 table_, client_->region(), client_->origin(), r.status.message()));
      } else {
        r.status = r.status.WithContext("state store " + What());
      }
    }
    return r;
  }

  std::unique_ptr<aws::JsonClient> client_;
  std::string table_;
  std::string pipeline_;
  std::chrono::milliseconds retry_budget_;
  aws::Backoff backoff_{std::chrono::milliseconds(50), std::chrono::milliseconds(2000)};
  simdjson::dom::parser parser_;
  std::string last_body_;
};

Result<std::unique_ptr<aws::JsonClient>> Connect(const DynamoDbStateOptions& o) {
  auto client = aws::JsonClient::Create(AwsClientOptions(aws::kDynamoDb, o));
  if (!client.ok())
    return client.status().WithContext("state store (DynamoDB table " + o.table + ")");
  return client;
}

class DynamoDbStateStore final : public StateStore {
 public:
  DynamoDbStateStore(const DynamoDbStateOptions& options, std::unique_ptr<Table> table,
                     bool read_only)
      : o_(options), table_(std::move(table)), read_only_(read_only) {}
  ~DynamoDbStateStore() override;

  Status OpenWritable(const std::string& owner, int64_t now_micros);
  Status OpenReadOnly();

  const LeaseInfo& lease() const override { return lease_; }
  Status Commit(const CheckpointCommit& commit) override;
  Result<std::map<uint32_t, uint64_t>> ShardCheckpoints() override { return doc_.checkpoints; }
  Result<std::map<std::string, TargetMark>> TargetMarks() override { return doc_.marks; }
  Result<std::optional<std::string>> Value(const std::string& key) override {
    auto it = doc_.values.find(key);
    if (it == doc_.values.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<bool> HasKey(const std::string& key, int64_t now_micros) override;
  Result<uint64_t> ExpireKeys(int64_t now_micros) override;

  void SuspendRenewal() { renewal_suspended_ = true; }

 private:
  Status EnsureTable();
  Status TakeLease(const std::string& owner, int64_t now_micros);
  Status ClaimState(const std::string& owner, int64_t now_micros);
  Status ReadState(bool required);
  Status Fenced();
  void SetFenced(std::string why);
  void RenewLoop(std::unique_ptr<Table> table);
  Status CheckSize(const Document& doc, size_t encoded) const;
  Status WriteKeys(const std::vector<std::pair<std::string, int64_t>>& keys);
  // The journal of a commit's dedupe keys (see Commit): written before the state item, replayed
  // at open when the state item names it, deleted once the keys are items.
  Result<uint64_t> WriteJournal(uint64_t version,
                                const std::vector<std::pair<std::string, int64_t>>& keys);
  Status ReplayJournal();
  void DeleteJournal(uint64_t version);
  Status LoadKeys();
  // Each page of the Query of this pipeline's dedupe items (`filter`: an extra condition on
  // `expires` <= :now, or none); `item` gets pk, sk and expires.
  Status QueryKeys(std::optional<int64_t> expired_at,
                   const std::function<bool(simdjson::dom::element item)>& item);
  Status BatchWrite(std::vector<std::string> requests);
  std::string LeaseHolder(const LeaseItem& lease) const;

  const DynamoDbStateOptions o_;
  std::unique_ptr<Table> table_;
  const bool read_only_;
  LeaseInfo lease_;
  Document doc_;
  uint64_t version_ = 0;
  // From the state item at open: the commit whose dedupe keys are in the journal, and its parts.
  uint64_t journal_version_ = 0;
  uint64_t journal_parts_ = 0;
  // Dedupe keys and their expiry, as in the table. Only the owner writes them, so once the keys
  // were all read at open (`keys_complete_`), a key missing here is missing in the table too.
  std::unordered_map<std::string, int64_t> known_keys_;
  bool keys_complete_ = false;

  // Shared with the renewal thread.
  std::atomic<bool> fenced_{false};
  std::atomic<bool> renewal_suspended_{false};
  std::atomic<int64_t> last_renewed_{0};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;       // guarded by mu_
  std::string fenced_why_;  // guarded by mu_
  std::thread renewer_;
};

DynamoDbStateStore::~DynamoDbStateStore() {
  if (renewer_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    renewer_.join();
  }
  if (read_only_ || lease_.token == 0 || fenced_) return;
  // A clean close frees the lease (expires = 0), so the next start need not wait for it. Only
  // while the token is still ours; one attempt, the lease expires anyway.
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Key("TableName").String(table_->table());
  table_->Key(w, kLeaseSk);
  w.Key("UpdateExpression").String("SET #e = :zero");
  w.Key("ConditionExpression").String("#t = :t");
  w.Key("ExpressionAttributeNames").BeginObject().Key("#e").String("expires");
  w.Key("#t").String("token").EndObject();
  w.Key("ExpressionAttributeValues").BeginObject();
  N(w, ":zero", int64_t{0});
  N(w, ":t", lease_.token);
  w.EndObject().EndObject();
  aws::Response r = table_->client().Call("UpdateItem", body);
  if (!r.status.ok() && !ConditionFailed(r)) {
    log::Warn("{}: could not free the lease of pipeline {} ({}); it expires within {} ms",
              table_->What(), table_->pipeline(), r.status.message(), o_.lease_ms);
  }
}

Status DynamoDbStateStore::EnsureTable() {
  CDC_ASSIGN_OR_RETURN(
      bool created,
      ddb::EnsureTable(
          table_->client(), table_->table(), {{"pk", "HASH"}, {"sk", "RANGE"}}, o_.create,
          [&](std::string_view op, const std::string& body) { return table_->Call(op, body); },
          table_->What(), "the state store", "state.table",
          std::chrono::milliseconds(o_.retry_ms) + std::chrono::seconds(30)));
  if (created) {
    // Lets DynamoDB delete expired dedupe keys itself (ExpireKeys deletes them too). Emulators
    // without TimeToLive calls (dynalite) refuse it: then only ExpireKeys does.
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_->table());
    w.Key("TimeToLiveSpecification").BeginObject().Key("Enabled").Bool(true);
    w.Key("AttributeName").String("ttl").EndObject().EndObject();
    aws::Response t = table_->client().Call("UpdateTimeToLive", body);
    if (!t.status.ok()) {
      log::Info(
          "{}: TTL on attribute ttl not enabled ({}); expired dedupe keys are deleted by "
          "the pipeline",
          table_->What(), t.status.message());
    }
  }
  return Status::Ok();
}

std::string DynamoDbStateStore::LeaseHolder(const LeaseItem& lease) const {
  return fmt::format("{} (token {}, since {}, renewed {}, expires {})", lease.info.owner,
                     lease.info.token, Time(lease.info.acquired_micros),
                     Time(lease.info.renewed_micros), Time(lease.expires_micros));
}

// The lease is free when there is none, when it expired (its holder stopped renewing for a lease
// period), or when its holder is a process of this host that no longer exists. A lease held by
// another owner is waited for, up to one lease period and a third: a holder that died on another
// machine has let it expire by then; one that renews it meanwhile is alive, and Open is refused
// at once, naming it.
Status DynamoDbStateStore::TakeLease(const std::string& owner, int64_t now_micros) {
  const int64_t lease_micros = o_.lease_ms * 1000;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(o_.lease_ms) +
                       std::chrono::milliseconds(o_.lease_ms / 3);
  std::optional<LeaseItem> first_seen;
  bool logged = false;
  while (true) {
    CDC_ASSIGN_OR_RETURN(std::optional<LeaseItem> current, table_->GetLease());
    int64_t now = WallMicros();
    std::string why;
    if (!current) {
      why = "new";
    } else if (current->expires_micros <= now) {
      why = current->expires_micros == 0 ? "freed" : "expired";
    } else if (OwnerDeadOnThisHost(current->info.owner)) {
      why = "its process is gone";
    } else {
      bool renewed =
          first_seen && (first_seen->info.token != current->info.token ||
                         first_seen->info.renewed_micros != current->info.renewed_micros);
      if (renewed || std::chrono::steady_clock::now() >= give_up) {
        return FailedPrecondition(
                   fmt::format("the state store is in use: the lease of pipeline {} in {} is held "
                               "by {}; {}. Stop "
                               "that process, or give another pipeline.name",
                               table_->pipeline(), table_->What(), LeaseHolder(*current),
                               renewed ? "it is renewing it (alive)"
                                       : "it did not expire while this process waited"))
            .set_in_use();
      }
      if (!first_seen) first_seen = current;
      if (!logged) {
        log::Info(
            "{}: the lease of pipeline {} is held by {}; waiting up to {} ms for it to "
            "expire",
            table_->What(), table_->pipeline(), LeaseHolder(*current),
            o_.lease_ms + o_.lease_ms / 3);
        logged = true;
      }
      int64_t until_expiry_ms = (current->expires_micros - now) / 1000 + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::clamp<int64_t>(std::min(until_expiry_ms, o_.lease_ms / 6), 10, 1000)));
      continue;
    }
    // The token grows past both the lease's and the state item's, so a lease item deleted by
    // hand cannot hand out a token a former owner still writes with.
    uint64_t token = current ? current->info.token : 0;
    {
      CDC_ASSIGN_OR_RETURN(auto state, table_->Get(kStateSk));
      if (state) {
        auto state_token = NumberAttribute(*state, "token");
        if (state_token) token = std::max(token, static_cast<uint64_t>(*state_token));
      }
    }
    ++token;
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_->table());
    w.Key("Item").BeginObject();
    S(w, "pk", table_->pipeline());
    S(w, "sk", kLeaseSk);
    S(w, "owner", owner);
    N(w, "token", token);
    N(w, "acquired", now);
    N(w, "renewed", now);
    N(w, "expires", now + lease_micros);
    w.EndObject();
    // Compare and swap on what was read: a lease taken or renewed meanwhile fails it.
    if (current) {
      w.Key("ConditionExpression").String("#t = :t AND #r = :r");
      w.Key("ExpressionAttributeNames").BeginObject().Key("#t").String("token");
      w.Key("#r").String("renewed").EndObject();
      w.Key("ExpressionAttributeValues").BeginObject();
      N(w, ":t", current->info.token);
      N(w, ":r", current->info.renewed_micros);
      w.EndObject();
    } else {
      w.Key("ConditionExpression").String("attribute_not_exists(pk)");
    }
    w.EndObject();
    aws::Response r = table_->Call("PutItem", body);
    if (ConditionFailed(r)) continue;  // someone else moved first: look again
    if (!r.status.ok()) return r.status;
    lease_.token = token;
    lease_.owner = owner;
    lease_.acquired_micros = now_micros;
    lease_.renewed_micros = now_micros;
    last_renewed_ = now;
    if (current) {
      log::Info("state store {}: lease token {} for {}; took over from {} ({}, last renewed {})",
                table_->What(), token, owner, current->info.owner, why,
                Time(current->info.renewed_micros));
    } else {
      log::Info("state store {}: new, lease token {} for {}", table_->What(), token, owner);
    }
    return Status::Ok();
  }
}

// Writes this owner's token into the state item (creating it) and reads it back whole: from now
// on a former owner's conditional PutItem fails.
Status DynamoDbStateStore::ClaimState(const std::string& owner, int64_t now_micros) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Key("TableName").String(table_->table());
  table_->Key(w, kStateSk);
  w.Key("UpdateExpression")
      .String(
          "SET #t = :t, #o = :o, #u = :u, #v = if_not_exists(#v, :zero) + :one, "
          "#d = if_not_exists(#d, :empty)");
  w.Key("ConditionExpression").String("attribute_not_exists(#t) OR #t < :t");
  w.Key("ExpressionAttributeNames").BeginObject();
  w.Key("#t").String("token").Key("#o").String("owner").Key("#u").String("updated");
  w.Key("#v").String("version").Key("#d").String("doc").EndObject();
  w.Key("ExpressionAttributeValues").BeginObject();
  N(w, ":t", lease_.token);
  S(w, ":o", owner);
  N(w, ":u", now_micros);
  N(w, ":zero", int64_t{0});
  N(w, ":one", int64_t{1});
  S(w, ":empty", Encode(Document{}));
  w.EndObject();
  w.Key("ReturnValues").String("ALL_NEW").EndObject();
  aws::Response r = table_->Call("UpdateItem", body);
  if (ConditionFailed(r)) {
    return FailedPrecondition("fenced: another process took over pipeline " + table_->pipeline() +
                              " in " + table_->What() + " while this one opened it (token " +
                              std::to_string(lease_.token) + ")");
  }
  if (!r.status.ok()) return r.status;
  simdjson::dom::parser parser;
  simdjson::dom::element root, item;
  if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
      root["Attributes"].get(item) != simdjson::SUCCESS) {
    return Unavailable(table_->What() + ": UpdateItem answered without the state item");
  }
  auto doc_text = Attribute(item, "doc", "S");
  auto version = NumberAttribute(item, "version");
  std::optional<Document> doc = doc_text ? Decode(*doc_text) : std::nullopt;
  if (!doc || !version) {
    return Corruption(table_->What() + ": the state item of pipeline " + table_->pipeline() +
                      " (pk " + table_->pipeline() +
                      ", sk state) is not a state document this program wrote; restore it from a "
                      "backup (nothing was changed but its token)")
        .set_data_loss();
  }
  doc_ = std::move(*doc);
  version_ = static_cast<uint64_t>(*version);
  journal_version_ = static_cast<uint64_t>(NumberAttribute(item, "journal").value_or(0));
  journal_parts_ = static_cast<uint64_t>(NumberAttribute(item, "journal_parts").value_or(0));
  return Status::Ok();
}

Status DynamoDbStateStore::OpenWritable(const std::string& owner, int64_t now_micros) {
  CDC_RETURN_IF_ERROR(EnsureTable());
  CDC_RETURN_IF_ERROR(TakeLease(owner, now_micros));
  CDC_RETURN_IF_ERROR(ClaimState(owner, now_micros));
  CDC_RETURN_IF_ERROR(ReplayJournal());
  CDC_RETURN_IF_ERROR(LoadKeys());
  CDC_ASSIGN_OR_RETURN(auto client, Connect(o_));
  auto renew_table = std::make_unique<Table>(std::move(client), table_->table(), table_->pipeline(),
                                             std::chrono::milliseconds(o_.lease_ms / 3));
  renewer_ = std::thread([this, t = std::move(renew_table)]() mutable { RenewLoop(std::move(t)); });
  return Status::Ok();
}

Status DynamoDbStateStore::ReadState(bool required) {
  CDC_ASSIGN_OR_RETURN(auto item, table_->Get(kStateSk));
  if (!item) {
    if (!required) return Status::Ok();
    return NotFound("no state yet for pipeline " + table_->pipeline() + " in " + table_->What() +
                    ": the pipeline has not run with this state store");
  }
  auto doc_text = Attribute(*item, "doc", "S");
  std::optional<Document> doc = doc_text ? Decode(*doc_text) : std::nullopt;
  if (!doc) {
    return Corruption(table_->What() + ": the state item of pipeline " + table_->pipeline() +
                      " is not a state document this program wrote")
        .set_data_loss();
  }
  doc_ = std::move(*doc);
  version_ = static_cast<uint64_t>(NumberAttribute(*item, "version").value_or(0));
  return Status::Ok();
}

Status DynamoDbStateStore::OpenReadOnly() {
  CDC_RETURN_IF_ERROR(ReadState(/*required=*/true));
  CDC_ASSIGN_OR_RETURN(auto lease, table_->GetLease());
  if (lease) lease_ = lease->info;
  return Status::Ok();
}

void DynamoDbStateStore::SetFenced(std::string why) {
  std::lock_guard lock(mu_);
  if (!fenced_) fenced_why_ = std::move(why);
  fenced_ = true;
}

Status DynamoDbStateStore::Fenced() {
  std::lock_guard lock(mu_);
  return FailedPrecondition("fenced: " + fenced_why_ + "; this process stops");
}

void DynamoDbStateStore::RenewLoop(std::unique_ptr<Table> table) {
  const auto interval = std::chrono::milliseconds(std::max<int64_t>(o_.lease_ms / 3, 1));
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, interval, [&] { return stop_; });
    if (stop_) break;
    if (renewal_suspended_ || fenced_) continue;
    lock.unlock();
    int64_t now = WallMicros();
    aws::Response r = table->Renew(lease_.token, now, o_.lease_ms * 1000);
    if (r.status.ok()) {
      last_renewed_ = now;
    } else if (ConditionFailed(r)) {
      auto holder = table->GetLease();
      std::string who = holder.ok() && *holder ? LeaseHolder(**holder) : "unknown";
      SetFenced(
          fmt::format("another process took over pipeline {} in {}: the lease is held by {} "
                      "(this process held token {})",
                      table->pipeline(), table->What(), who, lease_.token));
      log::Error("state store {}: fenced: the lease is held by {}", table->What(), who);
    } else {
      log::Warn("state store {}: cannot renew the lease (token {}): {}", table->What(),
                lease_.token, r.status.message());
    }
    lock.lock();
  }
}

Status DynamoDbStateStore::CheckSize(const Document& doc, size_t encoded) const {
  if (encoded + kStateItemOverhead <= kMaxItemBytes) return Status::Ok();
  size_t values = 0, marks = 0, checkpoints = doc.checkpoints.size() * 24;
  std::string largest;
  size_t largest_size = 0;
  for (const auto& [k, v] : doc.values) {
    values += k.size() + v.size();
    if (k.size() + v.size() > largest_size) {
      largest_size = k.size() + v.size();
      largest = k;
    }
  }
  for (const auto& [name, mark] : doc.marks) {
    marks += name.size() + mark.cursor.size() + 48 + mark.shard_next.size() * 24;
  }
  return ResourceExhausted(fmt::format(
      "the state of pipeline {} would be {} bytes in one item of {}, over DynamoDB's item limit "
      "of {} bytes: values {} bytes ({} of them; the largest is '{}', {} bytes), target marks "
      "about {} bytes ({}), shard checkpoints about {} bytes ({}). Nothing of this checkpoint was "
      "written",
      table_->pipeline(), encoded + kStateItemOverhead, table_->What(), kMaxItemBytes, values,
      doc.values.size(), largest, largest_size, marks, doc.marks.size(), checkpoints,
      doc.checkpoints.size()));
}

// Dedupe keys become items only AFTER the state item is written, never before. A key means
// "already delivered: skip it" (runtime/durable.cc, DeliverRecord). Were key items written first
// and the state item then not (a crash, a fence), the restart would cut the file targets back to
// the old marks and read the stream again from the old checkpoints, and HasKey would skip the very
// events whose delivery was just cut: lost. So the commit's keys first go to journal items
// (`journal#<version>#<part>`, which HasKey never reads), the state item names that journal, and
// the key items follow; a crash between the state item and the key items leaves the journal,
// which the next owner replays at open (ReplayJournal): no duplicate either. A journal whose
// state item was never written (a crash before it) names a version the next owner's claim takes
// and is deleted then.
Status DynamoDbStateStore::Commit(const CheckpointCommit& commit) {
  if (read_only_) {
    return FailedPrecondition("cannot commit a checkpoint: the state store " + table_->What() +
                              " was opened read-only (without the lease)");
  }
  if (fenced_) return Fenced();
  Document next = doc_;
  for (const auto& [shard, offset] : commit.shard_checkpoints) {
    auto it = next.checkpoints.find(shard);
    if (it != next.checkpoints.end() && it->second > offset) {
      return InvalidArgument("the checkpoint of shard " + std::to_string(shard) +
                             " would move backwards from " + std::to_string(it->second) + " to " +
                             std::to_string(offset) + " in " + table_->What() +
                             "; nothing of this checkpoint was written (a bug in the caller)");
    }
    next.checkpoints[shard] = offset;
  }
  for (const auto& [target, mark] : commit.target_marks) next.marks[target] = mark;
  for (const auto& [key, value] : commit.values) next.values[key] = value;
  std::string doc_text = Encode(next);
  CDC_RETURN_IF_ERROR(CheckSize(next, doc_text.size()));

  int64_t now = WallMicros();
  CDC_ASSIGN_OR_RETURN(uint64_t parts, WriteJournal(version_ + 1, commit.dedupe_keys));
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Key("TableName").String(table_->table());
  w.Key("Item").BeginObject();
  S(w, "pk", table_->pipeline());
  S(w, "sk", kStateSk);
  S(w, "doc", doc_text);
  N(w, "token", lease_.token);
  N(w, "version", version_ + 1);
  N(w, "journal", version_ + 1);
  N(w, "journal_parts", parts);
  S(w, "owner", lease_.owner);
  N(w, "updated", now);
  w.EndObject();
  // The same body is sent again after a timeout: the write is idempotent for this token.
  w.Key("ConditionExpression").String("#t = :t");
  w.Key("ExpressionAttributeNames").BeginObject().Key("#t").String("token").EndObject();
  w.Key("ExpressionAttributeValues").BeginObject();
  N(w, ":t", lease_.token);
  w.EndObject().EndObject();
  aws::Response r = table_->Call("PutItem", body);
  if (ConditionFailed(r)) {
    auto holder = table_->GetLease();
    SetFenced(fmt::format(
        "another process took over pipeline {} in {} (the lease is held by {}; this process held "
        "token {}); nothing of this checkpoint was written",
        table_->pipeline(), table_->What(),
        holder.ok() && *holder ? LeaseHolder(**holder) : "unknown", lease_.token));
    return Fenced();
  }
  if (!r.status.ok()) return r.status.WithContext("cannot commit a checkpoint");
  doc_ = std::move(next);
  ++version_;
  CDC_RETURN_IF_ERROR(WriteKeys(commit.dedupe_keys));
  if (parts > 0) DeleteJournal(version_);
  lease_.renewed_micros = std::max(lease_.renewed_micros, commit.now_micros);
  // The renewal thread normally keeps the lease; renew here too when it fell behind.
  if (now - last_renewed_ > o_.lease_ms * 1000 / 2 && !renewal_suspended_) {
    aws::Response renewed = table_->Renew(lease_.token, now, o_.lease_ms * 1000);
    if (renewed.status.ok()) {
      last_renewed_ = now;
    } else if (ConditionFailed(renewed)) {
      SetFenced("another process took over pipeline " + table_->pipeline() + " in " +
                table_->What() + " (this process held token " + std::to_string(lease_.token) + ")");
    }
  }
  return Status::Ok();
}

Status DynamoDbStateStore::BatchWrite(std::vector<std::string> requests) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o_.retry_ms);
  aws::Backoff backoff(std::chrono::milliseconds(50), std::chrono::milliseconds(2000));
  for (size_t start = 0; start < requests.size(); start += kMaxBatchWrite) {
    std::string pending;
    {
      JsonWriter w(pending);
      w.BeginObject().Key("RequestItems").BeginObject().Key(table_->table()).BeginArray();
      for (size_t i = start; i < std::min(requests.size(), start + kMaxBatchWrite); ++i) {
        w.Raw(requests[i]);
      }
      w.EndArray().EndObject().EndObject();
    }
    for (int attempt = 1;; ++attempt) {
      aws::Response r = table_->Call("BatchWriteItem", pending);
      if (!r.status.ok()) return r.status;
      // What DynamoDB did not process (throttled) is sent again, as it answered it.
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      simdjson::dom::array left;
      if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
          root["UnprocessedItems"][table_->table()].get(left) != simdjson::SUCCESS ||
          left.size() == 0) {
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Unavailable(fmt::format("{}: BatchWriteItem left {} items unprocessed for {} ms",
                                       table_->What(), left.size(), o_.retry_ms));
      }
      pending.clear();
      JsonWriter w(pending);
      w.BeginObject()
          .Key("RequestItems")
          .BeginObject()
          .Key(table_->table())
          .Raw(simdjson::minify(left));
      w.EndObject().EndObject();
      std::this_thread::sleep_for(backoff.Next(attempt));
    }
  }
  return Status::Ok();
}

Status DynamoDbStateStore::WriteKeys(const std::vector<std::pair<std::string, int64_t>>& keys) {
  if (keys.empty()) return Status::Ok();
  // One request per key (a batch refuses the same key twice), keeping the later expiry.
  std::map<std::string, int64_t> latest;
  for (const auto& [key, expires] : keys) {
    int64_t& e = latest[key];
    e = std::max(e, expires);
    auto known = known_keys_.find(key);
    if (known != known_keys_.end()) e = std::max(e, known->second);
  }
  std::vector<std::string> requests;
  requests.reserve(latest.size());
  for (const auto& [key, expires] : latest) {
    std::string request;
    JsonWriter w(request);
    w.BeginObject().Key("PutRequest").BeginObject().Key("Item").BeginObject();
    S(w, "pk", table_->pipeline());
    S(w, "sk", kDedupePrefix + key);
    N(w, "expires", expires);
    N(w, "ttl", expires / 1000000 + 1);
    w.EndObject().EndObject().EndObject();
    requests.push_back(std::move(request));
  }
  Status s = BatchWrite(std::move(requests));
  if (!s.ok()) {
    return s.WithContext(
        "the checkpoint was committed, but its dedupe keys could not be written (events of JSON "
        "input read again later may be delivered twice)");
  }
  if (known_keys_.size() + latest.size() > kMaxKnownKeys) {
    known_keys_.clear();
    keys_complete_ = false;
  }
  for (auto& [key, expires] : latest) known_keys_[key] = expires;
  return Status::Ok();
}

namespace {
std::string JournalSk(uint64_t version, uint64_t part) {
  return "journal#" + std::to_string(version) + "#" + std::to_string(part);
}
constexpr size_t kJournalPartBytes = 300 * 1024;  // well under the 400 KB item limit
}  // namespace

Result<uint64_t> DynamoDbStateStore::WriteJournal(
    uint64_t version, const std::vector<std::pair<std::string, int64_t>>& keys) {
  if (keys.empty()) return uint64_t{0};
  std::vector<std::string> parts;
  std::string part = "[";
  for (const auto& [key, expires] : keys) {
    std::string entry;
    JsonWriter e(entry);
    e.BeginArray().String(key).Int(expires).EndArray();
    if (part.size() > 1 && part.size() + entry.size() + 2 > kJournalPartBytes) {
      parts.push_back(part + "]");
      part = "[";
    }
    if (part.size() > 1) part += ',';
    part += entry;
  }
  parts.push_back(part + "]");
  std::vector<std::string> requests;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string request;
    JsonWriter w(request);
    w.BeginObject().Key("PutRequest").BeginObject().Key("Item").BeginObject();
    S(w, "pk", table_->pipeline());
    S(w, "sk", JournalSk(version, i));
    S(w, "keys", parts[i]);
    w.EndObject().EndObject().EndObject();
    requests.push_back(std::move(request));
  }
  CDC_RETURN_IF_ERROR(BatchWrite(std::move(requests))
                          .WithContext("cannot write the dedupe keys' journal; nothing of this "
                                       "checkpoint was committed"));
  return static_cast<uint64_t>(parts.size());
}

void DynamoDbStateStore::DeleteJournal(uint64_t version) {
  for (uint64_t i = 0;; ++i) {
    auto item = table_->Get(JournalSk(version, i));
    if (!item.ok() || !*item) return;
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_->table());
    table_->Key(w, JournalSk(version, i));
    w.EndObject();
    aws::Response r = table_->Call("DeleteItem", body);
    if (!r.status.ok()) {
      log::Debug("state store {}: cannot delete {} (deleted later): {}", table_->What(),
                 JournalSk(version, i), r.status.message());
      return;
    }
  }
}

Status DynamoDbStateStore::ReplayJournal() {
  if (journal_version_ != 0 && journal_parts_ > 0) {
    std::vector<std::pair<std::string, int64_t>> keys;
    for (uint64_t i = 0; i < journal_parts_; ++i) {
      CDC_ASSIGN_OR_RETURN(auto item, table_->Get(JournalSk(journal_version_, i)));
      if (!item) continue;  // its keys were written and the part deleted
      auto text = Attribute(*item, "keys", "S");
      simdjson::dom::parser parser;
      simdjson::dom::array entries;
      if (!text || parser.parse(*text).get(entries) != simdjson::SUCCESS) {
        return Corruption(table_->What() + ": the journal item " + JournalSk(journal_version_, i) +
                          " of pipeline " + table_->pipeline() +
                          " is not a list of dedupe keys this program wrote")
            .set_data_loss();
      }
      for (simdjson::dom::element entry : entries) {
        std::string_view key;
        int64_t expires = 0;
        if (entry.at(0).get(key) != simdjson::SUCCESS ||
            entry.at(1).get(expires) != simdjson::SUCCESS) {
          return Corruption(table_->What() + ": a malformed entry in the journal item " +
                            JournalSk(journal_version_, i))
              .set_data_loss();
        }
        keys.emplace_back(std::string(key), expires);
      }
    }
    if (!keys.empty()) {
      log::Info("state store {}: the last checkpoint's {} dedupe keys written from its journal",
                table_->What(), keys.size());
    }
    CDC_RETURN_IF_ERROR(WriteKeys(keys));
    DeleteJournal(journal_version_);
  }
  // A journal of a commit that never wrote its state item carries the version this open's claim
  // took.
  DeleteJournal(version_);
  return Status::Ok();
}

Result<bool> DynamoDbStateStore::HasKey(const std::string& key, int64_t now_micros) {
  auto known = known_keys_.find(key);
  if (known != known_keys_.end()) return known->second > now_micros;
  if (keys_complete_) return false;
  CDC_ASSIGN_OR_RETURN(auto item, table_->Get(kDedupePrefix + key));
  if (!item) return false;
  auto expires = NumberAttribute(*item, "expires");
  if (!expires) {
    // Not the key itself: dedupe keys may be derived from row data.
    return Corruption(table_->What() + ": a dedupe item of pipeline " + table_->pipeline() +
                      " has no number 'expires'")
        .set_data_loss();
  }
  return *expires > now_micros;
}

Status DynamoDbStateStore::QueryKeys(std::optional<int64_t> expired_at,
                                     const std::function<bool(simdjson::dom::element item)>& each) {
  std::string start_key;
  simdjson::dom::parser parser;
  do {
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(table_->table());
    w.Key("ConsistentRead").Bool(true);
    w.Key("KeyConditionExpression").String("pk = :pk AND begins_with(sk, :prefix)");
    if (expired_at) w.Key("FilterExpression").String("#e <= :now");
    w.Key("ProjectionExpression").String("pk, sk, #e");
    w.Key("ExpressionAttributeNames").BeginObject().Key("#e").String("expires").EndObject();
    w.Key("ExpressionAttributeValues").BeginObject();
    S(w, ":pk", table_->pipeline());
    S(w, ":prefix", kDedupePrefix);
    if (expired_at) N(w, ":now", *expired_at);
    w.EndObject();
    if (!start_key.empty()) w.Key("ExclusiveStartKey").Raw(start_key);
    w.EndObject();
    aws::Response r = table_->Call("Query", body);
    if (!r.status.ok()) return r.status;
    simdjson::dom::element root;
    simdjson::dom::array items;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Items"].get(items) != simdjson::SUCCESS) {
      return Unavailable(table_->What() + ": Query answered without Items");
    }
    for (simdjson::dom::element item : items) {
      if (!each(item)) return Status::Ok();
    }
    simdjson::dom::element last;
    start_key = root["LastEvaluatedKey"].get(last) == simdjson::SUCCESS ? simdjson::minify(last)
                                                                        : std::string();
  } while (!start_key.empty());
  return Status::Ok();
}

// Reads every dedupe key of the pipeline once, so that HasKey needs no call per event (up to
// kMaxKnownKeys; beyond, HasKey asks DynamoDB for the keys it does not know).
Status DynamoDbStateStore::LoadKeys() {
  known_keys_.clear();
  bool complete = true;
  const size_t prefix = std::string_view(kDedupePrefix).size();
  CDC_RETURN_IF_ERROR(QueryKeys(std::nullopt, [&](simdjson::dom::element item) {
                        auto sk = Attribute(item, "sk", "S");
                        auto expires = NumberAttribute(item, "expires");
                        if (!sk || !expires) return true;  // HasKey reports it if it is ever asked
                        if (known_keys_.size() >= kMaxKnownKeys) {
                          complete = false;
                          return false;
                        }
                        known_keys_[std::string(sk->substr(prefix))] = *expires;
                        return true;
                      }).WithContext("cannot read the dedupe keys"));
  keys_complete_ = complete;
  return Status::Ok();
}

Result<uint64_t> DynamoDbStateStore::ExpireKeys(int64_t now_micros) {
  if (read_only_) {
    return FailedPrecondition("cannot expire dedupe keys: the state store " + table_->What() +
                              " was opened read-only");
  }
  if (fenced_) return Fenced();
  std::vector<std::string> requests;
  const size_t prefix = std::string_view(kDedupePrefix).size();
  CDC_RETURN_IF_ERROR(QueryKeys(now_micros, [&](simdjson::dom::element item) {
                        auto sk = Attribute(item, "sk", "S");
                        if (!sk) return true;
                        std::string request;
                        JsonWriter w(request);
                        w.BeginObject().Key("DeleteRequest").BeginObject().Key("Key").BeginObject();
                        S(w, "pk", table_->pipeline());
                        S(w, "sk", *sk);
                        w.EndObject().EndObject().EndObject();
                        requests.push_back(std::move(request));
                        known_keys_.erase(std::string(sk->substr(prefix)));
                        return true;
                      }).WithContext("cannot expire dedupe keys"));
  uint64_t deleted = requests.size();
  CDC_RETURN_IF_ERROR(BatchWrite(std::move(requests)).WithContext("cannot expire dedupe keys"));
  log::Debug("state store {}: expired {} dedupe keys", table_->What(), deleted);
  return deleted;
}

const DynamoDbStateOptions& OptionsOf(const StateConfig& config) {
  static const DynamoDbStateOptions kDefaults;
  const auto* o = config.OptionsAs<DynamoDbStateOptions>();
  return o != nullptr ? *o : kDefaults;
}

std::string PipelineOf(const StateConfig& config) {
  return config.pipeline_name.empty() ? std::string("coredb") : config.pipeline_name;
}

Result<std::unique_ptr<DynamoDbStateStore>> NewStore(const StateConfig& config, bool read_only) {
  DynamoDbStateOptions o = OptionsOf(config);
  o.table = DynamoDbStateTable(config);
  CDC_ASSIGN_OR_RETURN(auto client, Connect(o));
  auto table = std::make_unique<Table>(std::move(client), o.table, PipelineOf(config),
                                       std::chrono::milliseconds(o.retry_ms));
  return std::make_unique<DynamoDbStateStore>(o, std::move(table), read_only);
}

}  // namespace

std::string DynamoDbStateTable(const StateConfig& config) {
  const auto* o = config.OptionsAs<DynamoDbStateOptions>();
  if (o != nullptr && !o->table.empty()) return o->table;
  const char* env = std::getenv("STATE_TABLE_NAME");
  return env != nullptr && *env != '\0' ? env : "cdc-pipeline-state";
}

void SuspendLeaseRenewalForTest(StateStore& store) {
  auto* dynamo = dynamic_cast<DynamoDbStateStore*>(&store);
  CDC_ASSERT(dynamo != nullptr, "SuspendLeaseRenewalForTest on a store of another kind");
  dynamo->SuspendRenewal();
}

namespace internal {

Result<std::unique_ptr<StateStore>> OpenDynamoDb(const StateConfig& config,
                                                 const std::string& owner, int64_t now_micros) {
  CDC_ASSIGN_OR_RETURN(auto store, NewStore(config, /*read_only=*/false));
  CDC_RETURN_IF_ERROR(store->OpenWritable(owner, now_micros));
  return std::unique_ptr<StateStore>(std::move(store));
}

Result<std::unique_ptr<StateStore>> OpenDynamoDbReadOnly(const StateConfig& config) {
  CDC_ASSIGN_OR_RETURN(auto store, NewStore(config, /*read_only=*/true));
  CDC_RETURN_IF_ERROR(store->OpenReadOnly());
  return std::unique_ptr<StateStore>(std::move(store));
}

std::string DescribeDynamoDb(const StateConfig& config) {
  const DynamoDbStateOptions& o = OptionsOf(config);
  aws::Environment env = aws::ProcessEnvironment();
  auto region = aws::ResolveRegion(o.region, env);
  std::string region_text = region.ok() ? *region : std::string("no region");
  std::string endpoint = aws::ResolveEndpoint(aws::kDynamoDb, o.endpoint,
                                              region.ok() ? *region : std::string("?"), env);
  return "DynamoDB table " + DynamoDbStateTable(config) + " (" + region_text + ", " +
         aws::internal::Origin(endpoint) + ")";
}

}  // namespace internal
}  // namespace cdc::state
