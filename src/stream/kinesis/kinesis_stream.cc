#include "stream/kinesis/kinesis_stream.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "aws/client.h"
#include "base/hash.h"
#include "base/logging.h"
#include "config/config.h"
#include "event/json_writer.h"
#include "stream/internal.h"

namespace cdc::stream {

constexpr uint8_t kFrameMagic = 0xC7;

std::string EncodeKinesisFrame(const KinesisFrame& frame) {
  std::string out(kKinesisFrameHeader, '\0');
  auto put = [&](size_t at, uint64_t v, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  out[0] = static_cast<char>(kFrameMagic);
  out[1] = static_cast<char>(frame.type);
  put(2, frame.offset, 8);
  put(10, frame.fragment, 4);
  put(14, frame.fragments, 4);
  put(18, static_cast<uint64_t>(frame.append_micros), 8);
  out.append(frame.data);
  return out;
}

bool DecodeKinesisFrame(std::string_view bytes, KinesisFrame& frame) {
  if (bytes.size() < kKinesisFrameHeader || static_cast<uint8_t>(bytes[0]) != kFrameMagic) {
    return false;
  }
  auto get = [&](size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(bytes[at + i])} << (8 * i);
    return v;
  };
  frame.type = static_cast<uint8_t>(bytes[1]);
  frame.offset = get(2, 8);
  frame.fragment = static_cast<uint32_t>(get(10, 4));
  frame.fragments = static_cast<uint32_t>(get(14, 4));
  frame.append_micros = static_cast<int64_t>(get(18, 8));
  frame.data = bytes.substr(kKinesisFrameHeader);
  return frame.fragments >= 1 && frame.fragment < frame.fragments;
}

std::string KinesisStreamName(const KinesisStreamOptions& options) {
  if (!options.stream_name.empty()) return options.stream_name;
  const char* env = std::getenv("KINESIS_STREAM_NAME");
  return env != nullptr && *env != '\0' ? env : "cdc-changes-stream";
}

namespace {

using internal::Uint128;
using Clock = std::chrono::steady_clock;

std::string Decimal(Uint128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out += static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// Sequence numbers are decimal strings of up to 128 bits.
bool SeqLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// Follows a shard's chain (see the header): fed the records in sequence-number order, it takes
// the fragments of its next offset in order and skips every other record. A first fragment of
// the offset it waits for starts that offset again (the writer puts a half-put record again
// from its first fragment).
class Chain {
 public:
  enum class Step { kSkip, kPart, kComplete };
  explicit Chain(uint64_t next) : next_(next) {}

  Step Take(const KinesisFrame& f, bool keep_data) {
    if (f.offset != next_) return Step::kSkip;
    if (f.fragment == 0) {
      fragment_ = 0;
      fragments_ = f.fragments;
      type_ = f.type;
      micros_ = f.append_micros;
      if (keep_data) data_.assign(f.data);
    } else if (fragment_ > 0 && f.fragment == fragment_ && f.fragments == fragments_) {
      if (keep_data) data_.append(f.data);
    } else {
      return Step::kSkip;
    }
    if (++fragment_ < fragments_) return Step::kPart;
    fragment_ = 0;
    ++next_;
    return Step::kComplete;
  }
  uint64_t next() const { return next_; }  // the offset it waits for
  void set_next(uint64_t next) {
    next_ = next;
    fragment_ = 0;
  }
  uint8_t type() const { return type_; }
  int64_t micros() const { return micros_; }
  std::string& data() { return data_; }

 private:
  uint64_t next_;
  uint32_t fragment_ = 0;  // the fragment it waits for (0: a new offset)
  uint32_t fragments_ = 0;
  uint8_t type_ = 0;
  int64_t micros_ = 0;
  std::string data_;
};

// One GetRecords answer, decoded.
struct Fetched {
  std::string seq;
  std::string key;    // its partition key: "shard-<i>", the stream shard it belongs to
  std::string bytes;  // the record's data
};
struct Batch {
  std::vector<Fetched> records;
  std::string next_iterator;  // empty: the shard is closed
  int64_t behind_ms = 0;
};

Status ParseBatch(simdjson::dom::parser& parser, const std::string& body, const std::string& where,
                  Batch& out) {
  out.records.clear();
  out.next_iterator.clear();
  out.behind_ms = 0;
  simdjson::dom::element root;
  simdjson::dom::array records;
  if (parser.parse(body).get(root) != simdjson::SUCCESS ||
      root["Records"].get(records) != simdjson::SUCCESS) {
    return Unavailable(where + ": GetRecords answered without a Records array");
  }
  for (simdjson::dom::element r : records) {
    std::string_view seq, data;
    if (r["SequenceNumber"].get(seq) != simdjson::SUCCESS ||
        r["Data"].get(data) != simdjson::SUCCESS) {
      return Unavailable(where + ": GetRecords answered a record without SequenceNumber or Data");
    }
    Fetched f;
    f.seq.assign(seq);
    std::string_view key;
    if (r["PartitionKey"].get(key) == simdjson::SUCCESS) f.key.assign(key);
    if (!Base64Decode(data, f.bytes)) {
      return Corruption(where + ": record " + f.seq + " holds data that is not base64");
    }
    out.records.push_back(std::move(f));
  }
  std::string_view it;
  if (root["NextShardIterator"].get(it) == simdjson::SUCCESS) out.next_iterator.assign(it);
  int64_t behind = 0;
  if (root["MillisBehindLatest"].get(behind) == simdjson::SUCCESS) out.behind_ms = behind;
  return Status::Ok();
}

// A Kinesis shard as ListShards describes it.
struct KShard {
  std::string id, start_key, end_key, parent, adjacent;
  bool open = true;  // no EndingSequenceNumber
};

bool Covers(const KShard& k, std::string_view point) {
  return !SeqLess(point, k.start_key) && !SeqLess(k.end_key, point);
}

// Every shard of the stream, closed ones included (they stay listed for the retention period).
// `call` makes one call (retrying as its caller sees fit).
template <typename Call>
Status ListKShards(Call&& call, simdjson::dom::parser& parser, const std::string& stream_name,
                   const std::string& where, std::vector<KShard>& out) {
  out.clear();
  std::string next_token;
  do {
    std::string list;
    JsonWriter w(list);
    w.BeginObject();
    if (next_token.empty()) {
      w.Key("StreamName").String(stream_name);
    } else {
      w.Key("NextToken").String(next_token);
    }
    w.EndObject();
    aws::Response r = call("ListShards", list);
    if (!r.status.ok()) return r.status.WithContext(where + ": listing its shards");
    simdjson::dom::element root;
    simdjson::dom::array shards;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Shards"].get(shards) != simdjson::SUCCESS) {
      return Unavailable(where + ": ListShards answered without Shards");
    }
    for (simdjson::dom::element e : shards) {
      KShard k;
      std::string_view id, start, end, ending, parent, adjacent;
      if (e["ShardId"].get(id) != simdjson::SUCCESS ||
          e["HashKeyRange"]["StartingHashKey"].get(start) != simdjson::SUCCESS ||
          e["HashKeyRange"]["EndingHashKey"].get(end) != simdjson::SUCCESS) {
        return Unavailable(where + ": ListShards answered a shard without id or hash keys");
      }
      k.id.assign(id);
      k.start_key.assign(start);
      k.end_key.assign(end);
      if (e["ParentShardId"].get(parent) == simdjson::SUCCESS) k.parent.assign(parent);
      if (e["AdjacentParentShardId"].get(adjacent) == simdjson::SUCCESS) {
        k.adjacent.assign(adjacent);
      }
      k.open = e["SequenceNumberRange"]["EndingSequenceNumber"].get(ending) != simdjson::SUCCESS;
      out.push_back(std::move(k));
    }
    std::string_view token;
    next_token.clear();
    if (root["NextToken"].get(token) == simdjson::SUCCESS) next_token.assign(token);
  } while (!next_token.empty());
  return Status::Ok();
}

// The shards whose hash-key range holds `point`, parents first: the records put with
// ExplicitHashKey `point`, in the order they were put, are in these shards one after the other
// (a split or merge closes a shard; what follows goes to its child holding the point).
std::vector<const KShard*> Lineage(const std::vector<KShard>& all, std::string_view point) {
  std::vector<const KShard*> covering;
  for (const KShard& k : all) {
    if (Covers(k, point)) covering.push_back(&k);
  }
  auto find = [&](const std::string& id) -> const KShard* {
    if (id.empty()) return nullptr;
    for (const KShard* k : covering) {
      if (k->id == id) return k;
    }
    return nullptr;
  };
  // The root: its parents do not hold the point, or are no longer listed (trimmed).
  const KShard* at = nullptr;
  for (const KShard* k : covering) {
    if (find(k->parent) == nullptr && find(k->adjacent) == nullptr) {
      at = k;
      break;
    }
  }
  std::vector<const KShard*> out;
  while (at != nullptr && out.size() < covering.size()) {
    out.push_back(at);
    const KShard* child = nullptr;
    for (const KShard* k : covering) {
      if (k->parent == at->id || k->adjacent == at->id) child = k;
    }
    at = child;
  }
  return out;
}

// The child of closed shard `id` that holds `point`, or null (not listed).
const KShard* ChildHolding(const std::vector<KShard>& all, const std::string& id,
                           std::string_view point) {
  for (const KShard& k : all) {
    if ((k.parent == id || k.adjacent == id) && Covers(k, point)) return &k;
  }
  return nullptr;
}

std::string PartitionKey(uint32_t shard) { return "shard-" + std::to_string(shard); }

// An iterator of Kinesis shard `kshard`: after sequence number `after`, or at its trim horizon
// when `after` is empty.
template <typename Call>
Result<std::string> ShardIterator(Call&& call, simdjson::dom::parser& parser,
                                  const std::string& stream_name, const std::string& kshard,
                                  const std::string& after, const std::string& where) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject().Key("StreamName").String(stream_name).Key("ShardId").String(kshard);
  if (after.empty()) {
    w.Key("ShardIteratorType").String("TRIM_HORIZON");
  } else {
    w.Key("ShardIteratorType")
        .String("AFTER_SEQUENCE_NUMBER")
        .Key("StartingSequenceNumber")
        .String(after);
  }
  w.EndObject();
  aws::Response r = call("GetShardIterator", body);
  if (!r.status.ok()) return r.status.WithContext(where);
  simdjson::dom::element root;
  std::string_view it;
  if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
      root["ShardIterator"].get(it) != simdjson::SUCCESS) {
    return Unavailable(where + ": GetShardIterator answered without an iterator");
  }
  return std::string(it);
}

// The lowest offset whose first fragment `batch` holds among the records of partition key
// `key` (where the chain of a trimmed shard starts), or UINT64_MAX.
uint64_t LowestFirstFragment(const Batch& batch, const std::string& key) {
  uint64_t lowest = UINT64_MAX;
  KinesisFrame frame;
  for (const auto& f : batch.records) {
    if ((f.key.empty() || f.key == key) && DecodeKinesisFrame(f.bytes, frame) &&
        frame.fragment == 0) {
      lowest = std::min(lowest, frame.offset);
    }
  }
  return lowest;
}

class KinesisStream;

class KinesisReader final : public ShardReader {
 public:
  KinesisReader(const KinesisStream& stream, ShardId shard, uint64_t from, std::string kshard,
                std::string after_seq, uint64_t chain_start,
                std::unique_ptr<aws::JsonClient> client);
  Result<std::optional<Record>> Next() override;

 private:
  Status Fetch();
  // At the end of closed Kinesis shard kshard_: goes on in its child holding the shard's hash key.
  Status NextKShard(const std::string& where);

  const KinesisStream& stream_;
  ShardId shard_;
  std::string key_;  // the partition key of the shard's records
  uint64_t from_;
  std::string kshard_;       // the Kinesis shard it reads
  std::string start_after_;  // the sequence number it starts after ("": the trim horizon)
  std::string last_seq_;     // the last record taken from Kinesis
  Chain chain_;
  bool first_batch_ = true;
  std::unique_ptr<aws::JsonClient> client_;
  simdjson::dom::parser parser_;
  std::string iterator_;
  Batch batch_;
  size_t at_ = 0;  // next record of batch_
  bool at_end_ = false;
  Clock::time_point next_poll_{};
  int failures_ = 0;
  Clock::time_point failing_since_{};
  std::optional<Record> held_;  // complete but not yet durable for this process
  std::string current_;
};

class KinesisStream final : public Stream {
 public:
  KinesisStream(const StreamConfig& config, const KinesisStreamOptions& options,
                aws::ClientOptions client_options, std::unique_ptr<aws::JsonClient> client)
      : options_(options),
        client_options_(std::move(client_options)),
        client_(std::move(client)),
        stream_name_(KinesisStreamName(options)),
        total_(static_cast<uint32_t>(config.shards)),
        shards_(total_) {
    name_ = "kinesis stream '" + stream_name_ + "' (" + client_->region() + ", " +
            client_->origin() + ")";
    // A process that delivers some shards (`run --role process`) appends nothing: another one
    // puts the records, and what its readers find in the chain is durable. It reads only its
    // shards (the others are not scanned at open).
    reader_only_ = !config.only_shards.empty();
    for (uint32_t i : config.only_shards) {
      if (i < shards_.size()) shards_[i].assigned = true;
    }
    if (!reader_only_) {
      for (ShardState& st : shards_) st.assigned = true;
    }
  }

  Status Open();

  uint32_t shard_count() const override { return static_cast<uint32_t>(shards_.size()); }
  const std::string& name() const override { return name_; }
  std::string ShardLocation(ShardId shard) const override {
    return name_ + " " + shards_[shard.value()].shard_id;
  }
  const std::string& identity() const override { return identity_; }
  Status SetIdentity(const std::string& id) override;

  Result<StreamOffset> Append(ShardId shard, uint8_t type, std::string_view payload,
                              int64_t append_micros) override;
  Result<std::pair<ShardId, StreamOffset>> Append(std::string_view partition_key, uint8_t type,
                                                  std::string_view payload,
                                                  int64_t append_micros) override {
    if (reader_only_) {
      return FailedPrecondition(name_ +
                                ": this process reads some of its shards only and "
                                "appends nothing (run --role process)");
    }
    ShardId shard = ShardForKey(partition_key, shard_count());
    CDC_ASSIGN_OR_RETURN(StreamOffset offset, Append(shard, type, payload, append_micros));
    return std::make_pair(shard, offset);
  }
  Status Sync() override;
  bool SyncDue() const override {
    if (pending_bytes_ == 0) return false;
    return pending_bytes_ >= static_cast<uint64_t>(options_.flush_bytes) ||
           Clock::now() - oldest_pending_ >= sync_interval();
  }
  std::chrono::milliseconds sync_interval() const override {
    return std::chrono::milliseconds(std::max<int64_t>(1, options_.flush_interval_ms));
  }

  Result<std::unique_ptr<ShardReader>> OpenReader(ShardId shard, StreamOffset from) const override;
  void WaitForData(const std::vector<StreamOffset>& seen,
                   std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(mu_);
    uint64_t generation = wake_generation_;
    cv_.wait_for(lock, timeout, [&] {
      if (wake_generation_ != generation) return true;
      for (size_t i = 0; i < shards_.size() && i < seen.size(); ++i) {
        if (shards_[i].durable > seen[i].value()) return true;
      }
      return false;
    });
  }
  void Wake() const override {
    {
      std::lock_guard lock(mu_);
      ++wake_generation_;
    }
    cv_.notify_all();
  }
  Status ApplyRetention(ShardId shard, StreamOffset checkpoint, int64_t) override {
    // Kinesis trims by its retention period; the index keeps one anchor below the checkpoint.
    std::lock_guard lock(mu_);
    auto& index = shards_[shard.value()].index;
    auto it = index.lower_bound(checkpoint.value());
    if (it != index.begin()) index.erase(index.begin(), std::prev(it));
    return Status::Ok();
  }
  ShardStats stats(ShardId shard) const override {
    std::lock_guard lock(mu_);
    const ShardState& s = shards_[shard.value()];
    ShardStats out;
    out.first = StreamOffset(s.first);
    out.next = StreamOffset(s.next);
    out.durable_end = StreamOffset(s.durable);
    return out;
  }
  Status TruncateTo(ShardId shard, StreamOffset offset) override {
    ShardState& s = shards_[shard.value()];
    if (offset.value() == s.next) return Status::Ok();
    if (offset.value() >= s.durable && offset.value() <= s.next) {
      // Only records not yet put: drop them.
      std::lock_guard lock(mu_);
      while (!s.pending.empty() && s.pending.back().offset >= offset.value()) {
        pending_bytes_ -= s.pending.back().bytes.size();
        s.pending.pop_back();
      }
      s.next = offset.value();
      return Status::Ok();
    }
    return FailedPrecondition(
        ShardLocation(shard) + " holds records up to offset " + std::to_string(s.durable) +
        " that cannot be taken back from Kinesis (asked to go back to " +
        std::to_string(offset.value()) +
        "). To start over, delete and re-create the stream or set stream.stream_name to a new "
        "stream");
  }

  // For readers: where to start for `from`, under the lock.
  struct Start {
    std::string kshard;     // the Kinesis shard
    std::string after_seq;  // "" : its trim horizon
    uint64_t chain_next = 0;
  };
  Result<Start> StartFor(ShardId shard, uint64_t from) const;
  uint64_t Durable(ShardId shard) const {
    std::lock_guard lock(mu_);
    return shards_[shard.value()].durable;
  }
  // A reader found the record at `offset` whole in the chain, `seq` after it. In a process that
  // appends nothing, that is how the shard's durable end moves (another process put it).
  void SawInChain(ShardId shard, uint64_t offset, const std::string& kshard,
                  const std::string& seq) const {
    if (!reader_only_) return;
    {
      std::lock_guard lock(mu_);
      // The shard's offsets and index are guarded by mu_, also for a reader.
      auto& s = const_cast<ShardState&>(shards_[shard.value()]);
      if (offset < s.durable) return;
      s.durable = s.next = offset + 1;
      const_cast<KinesisStream*>(this)->Remember(s, offset, kshard, seq);
    }
    cv_.notify_all();
  }
  // The ExplicitHashKey of the shard's records (decimal): the Kinesis shards holding it, one
  // after the other, hold the shard.
  const std::string& hash_key(ShardId shard) const { return shards_[shard.value()].hash_key; }
  const std::string& stream_name() const { return stream_name_; }
  const KinesisStreamOptions& options() const { return options_; }
  Result<std::unique_ptr<aws::JsonClient>> NewClient() const {
    return aws::JsonClient::Create(client_options_);
  }

 private:
  struct Unit {
    uint64_t offset = 0;
    bool last = false;  // the last fragment of its offset
    std::string bytes;  // the frame
  };
  // Where the chain goes on after an offset: after sequence number `seq` of Kinesis shard
  // `kshard`.
  struct Anchor {
    std::string kshard;
    std::string seq;
  };
  struct ShardState {
    bool assigned = false;     // read by this process (all, unless it delivers some shards only)
    std::string shard_id;      // the open Kinesis shard its records go to
    std::string first_kshard;  // the oldest Kinesis shard holding its records (resharding)
    std::string hash_key;      // StartingHashKey, decimal: the ExplicitHashKey of its records
    uint64_t first = 0;        // the chain's first offset still in Kinesis
    uint64_t next = 0;         // the next offset Append gives
    uint64_t durable = 0;      // offsets below are in Kinesis
    std::string last_seq;      // sequence number of the last accepted record ...
    std::string last_kshard;   // ... in this Kinesis shard
    // offset -> where the chain goes on at offset + 1: every 64th offset, and the last one.
    std::map<uint64_t, Anchor> index;
    std::deque<Unit> pending;  // appended, not yet accepted, in order
  };

  // One call, retried while it fails with a retryable error (until retry_seconds).
  aws::Response CallRetrying(std::string_view operation, const std::string& body);
  Status ScanShard(uint32_t i, bool maybe_trimmed);
  void Remember(ShardState& s, uint64_t offset, const std::string& kshard, const std::string& seq) {
    if (!s.index.empty()) {
      auto last = std::prev(s.index.end());
      if (last->first % 64 != 63) s.index.erase(last);
    }
    s.index[offset] = Anchor{kshard, seq};
  }

  KinesisStreamOptions options_;
  aws::ClientOptions client_options_;
  std::unique_ptr<aws::JsonClient> client_;
  std::string stream_name_;
  std::string name_;
  std::string identity_;
  mutable std::mutex mu_;  // the shards' offsets and indexes, for readers and stats
  mutable std::condition_variable cv_;
  mutable uint64_t wake_generation_ = 0;
  uint32_t total_;  // the Kinesis stream's shards (stream.shards)
  bool reader_only_ = false;
  std::vector<ShardState> shards_;
  uint64_t pending_bytes_ = 0;
  Clock::time_point oldest_pending_{};
  std::string body_;
  simdjson::dom::parser parser_;
  std::vector<KShard> listed_;  // ListShards at Open
};

constexpr char kIdentityTag[] = "cdc-pipeline-id";

aws::Response KinesisStream::CallRetrying(std::string_view operation, const std::string& body) {
  aws::Backoff backoff(std::chrono::milliseconds(50), std::chrono::milliseconds(5000));
  auto deadline = Clock::now() + std::chrono::seconds(options_.retry_seconds);
  for (int attempt = 1;; ++attempt) {
    aws::Response r = client_->Call(operation, body);
    if (r.status.ok() || !r.status.retryable() || Clock::now() >= deadline) return r;
    if (attempt == 1 || attempt % 20 == 0) {
      log::Warn("{}: {} failed ({}); retrying", name_, operation, r.status.message());
    }
    std::this_thread::sleep_for(backoff.Next(attempt));
  }
}

Status KinesisStream::Open() {
  const uint32_t want = total_;
  std::string body;
  {
    JsonWriter w(body);
    w.BeginObject().Key("StreamName").String(stream_name_).EndObject();
  }
  // The stream: there, ACTIVE; created when asked.
  auto deadline =
      Clock::now() + std::chrono::seconds(std::max<int64_t>(60, options_.retry_seconds));
  double created_seconds = 0;
  int64_t retention_hours = 24;
  bool create_sent = false;
  while (true) {
    aws::Response r = CallRetrying("DescribeStreamSummary", body);
    if (r.status.code() == StatusCode::kNotFound) {
      if (!options_.create) {
        return NotFound(name_ + " does not exist: create it (aws kinesis create-stream " +
                        "--stream-name " + stream_name_ + " --shard-count " + std::to_string(want) +
                        "), set stream.create: true, or fix stream.stream_name and the region");
      }
      if (!create_sent) {
        std::string create;
        JsonWriter w(create);
        w.BeginObject()
            .Key("StreamName")
            .String(stream_name_)
            .Key("ShardCount")
            .Uint(want)
            .EndObject();
        aws::Response c = CallRetrying("CreateStream", create);
        if (!c.status.ok() && c.error_type != "ResourceInUseException") {
          return c.status.WithContext("creating " + name_ + " with " + std::to_string(want) +
                                      " shards");
        }
        create_sent = true;
        log::Info("{}: created with {} shards", name_, want);
      }
    } else if (!r.status.ok()) {
      return r.status.WithContext(name_);
    } else {
      simdjson::dom::element root;
      std::string_view status;
      if (parser_.parse(r.body).get(root) != simdjson::SUCCESS ||
          root["StreamDescriptionSummary"]["StreamStatus"].get(status) != simdjson::SUCCESS) {
        return Unavailable(name_ + ": DescribeStreamSummary answered without a StreamStatus");
      }
      if (root["StreamDescriptionSummary"]["StreamCreationTimestamp"].get(created_seconds) !=
          simdjson::SUCCESS) {
        int64_t whole = 0;
        if (root["StreamDescriptionSummary"]["StreamCreationTimestamp"].get(whole) ==
            simdjson::SUCCESS) {
          created_seconds = static_cast<double>(whole);
        }
      }
      int64_t hours = 0;
      if (root["StreamDescriptionSummary"]["RetentionPeriodHours"].get(hours) ==
          simdjson::SUCCESS) {
        retention_hours = hours;
      }
      if (status == "ACTIVE" || status == "UPDATING") break;
      if (status == "DELETING") {
        return FailedPrecondition(name_ + " is being deleted; wait, then create it again");
      }
    }
    if (Clock::now() >= deadline) {
      return Unavailable(name_ + " did not become ACTIVE within " +
                         std::to_string(options_.retry_seconds) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // Shard i's records are put with ExplicitHashKey = the starting hash key of range i of an
  // evenly split stream of stream.shards shards, so they go to whichever open shard holds that
  // key: the stream may have any number of shards and be resharded at any time (a split or
  // merge closes shards; readers go on in the child holding the key once a parent is read).
  CDC_RETURN_IF_ERROR(
      ListKShards([this](std::string_view op, const std::string& b) { return CallRetrying(op, b); },
                  parser_, stream_name_, name_, listed_));
  size_t open = 0;
  for (const KShard& k : listed_) open += k.open ? 1 : 0;
  for (uint32_t i = 0; i < want; ++i) {
    ShardState& st = shards_[i];
    st.hash_key = Decimal(internal::StartingHashKey(i, want));
    std::vector<const KShard*> lineage = Lineage(listed_, st.hash_key);
    if (lineage.empty() || !lineage.back()->open) {
      return Unavailable(name_ + ": no open shard holds hash key " + st.hash_key + " (shard " +
                         std::to_string(i) + "); ListShards listed " +
                         std::to_string(listed_.size()) + " shards");
    }
    st.first_kshard = lineage.front()->id;
    st.shard_id = lineage.back()->id;
    if (lineage.size() > 1) {
      std::string path;
      for (const KShard* k : lineage) path += (path.empty() ? "" : " -> ") + k->id;
      log::Info("{}: shard {} is in {} (resharded)", name_, i, path);
    }
  }
  if (open != want) {
    log::Info("{}: {} open Kinesis shards hold the pipeline's {} shards (stream.shards)", name_,
              open, want);
  }

  // The pipeline id, kept as a tag of the stream.
  aws::Response tags = CallRetrying("ListTagsForStream", body);
  if (!tags.status.ok()) return tags.status.WithContext(name_ + ": reading its tags");
  {
    simdjson::dom::element root;
    simdjson::dom::array list;
    if (parser_.parse(tags.body).get(root) == simdjson::SUCCESS &&
        root["Tags"].get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element t : list) {
        std::string_view key, value;
        if (t["Key"].get(key) == simdjson::SUCCESS && key == kIdentityTag &&
            t["Value"].get(value) == simdjson::SUCCESS) {
          identity_.assign(value);
        }
      }
    }
  }

  // Records may have been trimmed only when the stream is older than its retention period.
  double now_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double age_hours = (now_seconds - created_seconds) / 3600.0;
  bool maybe_trimmed = created_seconds <= 0 || age_hours >= static_cast<double>(retention_hours);
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].assigned) CDC_RETURN_IF_ERROR(ScanShard(i, maybe_trimmed));
  }
  return Status::Ok();
}

// Reads shard i from its trim horizon to its end, following the chain, to learn where it starts
// and ends.
Status KinesisStream::ScanShard(uint32_t i, bool maybe_trimmed) {
  ShardState& s = shards_[i];
  const std::string key = PartitionKey(i);
  std::string kshard = s.first_kshard;
  std::string where = name_ + " " + kshard;
  auto call = [this](std::string_view op, const std::string& b) { return CallRetrying(op, b); };
  auto iterate = [&](std::string& iterator) -> Status {
    CDC_ASSIGN_OR_RETURN(iterator, ShardIterator(call, parser_, stream_name_, kshard, "", where));
    return Status::Ok();
  };
  std::string iterator;
  CDC_RETURN_IF_ERROR(iterate(iterator));
  Chain chain(0);
  bool started = !maybe_trimmed;
  Batch batch;
  uint64_t records = 0;
  while (!iterator.empty()) {
    std::string get;
    JsonWriter w(get);
    w.BeginObject()
        .Key("ShardIterator")
        .String(iterator)
        .Key("Limit")
        .Int(std::clamp<int64_t>(options_.read_limit, 1, 10000))
        .EndObject();
    aws::Response g = CallRetrying("GetRecords", get);
    if (!g.status.ok()) return g.status.WithContext(where + ": reading it to find its end");
    CDC_RETURN_IF_ERROR(ParseBatch(parser_, g.body, where, batch));
    KinesisFrame frame;
    if (!started && !batch.records.empty()) {
      // Trimmed: the chain starts at the smallest first fragment of the first records.
      uint64_t lowest = LowestFirstFragment(batch, key);
      if (lowest != UINT64_MAX) {
        chain.set_next(lowest);
        s.first = lowest;
        started = true;
      }
    }
    for (const auto& f : batch.records) {
      ++records;
      // A Kinesis shard holding several shards' hash keys (after a merge, or a stream of fewer
      // shards) holds their records too.
      if (!f.key.empty() && f.key != key) continue;
      if (!DecodeKinesisFrame(f.bytes, frame)) {
        return Corruption(where + ": record " + f.seq +
                          " is not a cdc-pipeline record (was something else written to the "
                          "stream? it must be the pipeline's alone)");
      }
      if (chain.Take(frame, false) == Chain::Step::kComplete) {
        Remember(s, chain.next() - 1, kshard, f.seq);
        s.last_seq = f.seq;
        s.last_kshard = kshard;
      }
    }
    iterator = batch.next_iterator;
    if (iterator.empty()) {
      // A closed shard read to its end: the chain goes on in its child holding the hash key.
      const KShard* child = ChildHolding(listed_, kshard, s.hash_key);
      if (child == nullptr) {
        return Unavailable(where + " is closed but no child shard holds hash key " + s.hash_key);
      }
      kshard = child->id;
      where = name_ + " " + kshard;
      started = true;
      CDC_RETURN_IF_ERROR(iterate(iterator));
      continue;
    }
    // The end of an open shard; a closed one ends where Kinesis gives no next iterator.
    bool closed = false;
    for (const KShard& k : listed_) closed |= k.id == kshard && !k.open;
    if (batch.records.empty() && batch.behind_ms == 0 && !closed) break;
  }
  s.next = s.durable = chain.next();
  log::Debug("{}: {} records read, chain {}..{}", where, records, s.first, s.next);
  return Status::Ok();
}

Status KinesisStream::SetIdentity(const std::string& id) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject()
      .Key("StreamName")
      .String(stream_name_)
      .Key("Tags")
      .BeginObject()
      .Key(kIdentityTag)
      .String(id)
      .EndObject()
      .EndObject();
  aws::Response r = CallRetrying("AddTagsToStream", body);
  if (!r.status.ok()) return r.status.WithContext(name_ + ": recording the pipeline id as a tag");
  identity_ = id;
  return Status::Ok();
}

Result<StreamOffset> KinesisStream::Append(ShardId shard, uint8_t type, std::string_view payload,
                                           int64_t append_micros) {
  if (shard.value() >= shards_.size()) {
    return InvalidArgument("shard " + std::to_string(shard.value()) + " is out of range");
  }
  if (reader_only_) {
    return FailedPrecondition(name_ +
                              ": this process reads some of its shards only and "
                              "appends nothing (run --role process)");
  }
  ShardState& s = shards_[shard.value()];
  uint64_t offset = s.next;
  uint32_t fragments = static_cast<uint32_t>(
      std::max<size_t>(1, (payload.size() + kMaxFragmentBytes - 1) / kMaxFragmentBytes));
  if (pending_bytes_ == 0) oldest_pending_ = Clock::now();
  for (uint32_t f = 0; f < fragments; ++f) {
    KinesisFrame frame;
    frame.offset = offset;
    frame.fragment = f;
    frame.fragments = fragments;
    frame.type = type;
    frame.append_micros = append_micros;
    frame.data = payload.substr(f * kMaxFragmentBytes, kMaxFragmentBytes);
    Unit unit{offset, f + 1 == fragments, EncodeKinesisFrame(frame)};
    pending_bytes_ += unit.bytes.size();
    s.pending.push_back(std::move(unit));
  }
  std::lock_guard lock(mu_);
  s.next = offset + 1;
  return StreamOffset(offset);
}

Status KinesisStream::Sync() {
  constexpr size_t kMaxRecords = 500;
  constexpr size_t kMaxBytes = 5 * 1024 * 1024;
  aws::Backoff backoff(std::chrono::milliseconds(50), std::chrono::milliseconds(5000));
  auto deadline = Clock::now() + std::chrono::seconds(options_.retry_seconds);
  int failures = 0;  // calls in a row without progress
  int retries = 0;
  Status last_error;
  std::vector<std::pair<uint32_t, size_t>> sent;  // (shard, index in its pending queue)
  uint32_t rotate = 0;
  while (pending_bytes_ > 0) {
    // One request: from the front of each shard's queue, in order, starting at a rotating shard
    // so that no shard waits behind a busy one.
    sent.clear();
    body_.clear();
    JsonWriter w(body_);
    w.BeginObject().Key("StreamName").String(stream_name_).Key("Records").BeginArray();
    size_t bytes = 0;
    const uint32_t n = shard_count();
    for (uint32_t k = 0; k < n && sent.size() < kMaxRecords; ++k) {
      uint32_t i = (rotate + k) % n;
      ShardState& s = shards_[i];
      std::string key = PartitionKey(i);
      for (size_t j = 0; j < s.pending.size() && sent.size() < kMaxRecords; ++j) {
        size_t size = s.pending[j].bytes.size() + key.size();
        if (!sent.empty() && bytes + size > kMaxBytes) break;
        bytes += size;
        w.BeginObject()
            .Key("Data")
            .String(Base64Encode(s.pending[j].bytes))
            .Key("PartitionKey")
            .String(key)
            .Key("ExplicitHashKey")
            .String(s.hash_key)
            .EndObject();
        sent.emplace_back(i, j);
      }
      if (bytes >= kMaxBytes) break;
    }
    w.EndArray().EndObject();
    rotate = (rotate + 1) % n;

    aws::Response r = client_->Call("PutRecords", body_);
    bool progress = false;
    size_t failed = 0;
    if (!r.status.ok()) {
      if (!r.status.retryable()) return r.status.WithContext(name_ + ": PutRecords");
      last_error = r.status;
      failed = sent.size();
    } else {
      simdjson::dom::element root;
      simdjson::dom::array results;
      if (parser_.parse(r.body).get(root) != simdjson::SUCCESS ||
          root["Records"].get(results) != simdjson::SUCCESS || results.size() != sent.size()) {
        last_error = Unavailable(name_ + ": PutRecords answered without one result per record");
        failed = sent.size();
      } else {
        // Per shard, accept its records in order up to the first one that failed or came back
        // below its predecessor; that one and the rest of its shard go again.
        std::vector<bool> blocked(n, false);
        std::vector<size_t> accepted(n, 0);
        size_t k = 0;
        std::lock_guard lock(mu_);
        for (simdjson::dom::element result : results) {
          auto [i, j] = sent[k++];
          if (blocked[i]) {
            ++failed;
            continue;
          }
          ShardState& s = shards_[i];
          std::string_view code, seq, kshard;
          if (result["ErrorCode"].get(code) == simdjson::SUCCESS && !code.empty()) {
            std::string_view message;
            if (result["ErrorMessage"].get(message) != simdjson::SUCCESS) message = "";
            last_error = Unavailable(name_ + ": PutRecords: " + std::string(code) + " (" +
                                     std::string(message) + ")");
            blocked[i] = true;
            ++failed;
            continue;
          }
          if (result["ShardId"].get(kshard) != simdjson::SUCCESS) kshard = s.shard_id;
          if (kshard != s.last_kshard && !s.last_kshard.empty()) {
            // The stream was resharded: the shard's records go to a child of the Kinesis shard
            // they went to, whose sequence numbers are its own. Readers read the parent to its
            // end first, so the chain goes on in order.
            log::Info("{}: shard {} now goes to {} (was {}: resharded)", name_, i, kshard,
                      s.last_kshard);
            s.last_seq.clear();
          }
          if (result["SequenceNumber"].get(seq) != simdjson::SUCCESS ||
              (!s.last_seq.empty() && !SeqLess(s.last_seq, seq))) {
            last_error = Unavailable(name_ + ": PutRecords put a record of " + s.shard_id +
                                     " before an earlier one; putting it again");
            blocked[i] = true;
            ++failed;
            continue;
          }
          (void)j;
          Unit& unit = s.pending[accepted[i]++];
          s.last_seq.assign(seq);
          s.last_kshard.assign(kshard);
          s.shard_id.assign(kshard);
          if (unit.last) {
            s.durable = unit.offset + 1;
            Remember(s, unit.offset, s.last_kshard, s.last_seq);
          }
          progress = true;
        }
        for (uint32_t i = 0; i < n; ++i) {
          ShardState& s = shards_[i];
          for (size_t a = 0; a < accepted[i]; ++a) {
            pending_bytes_ -= s.pending.front().bytes.size();
            s.pending.pop_front();
          }
        }
      }
    }
    if (progress) {
      cv_.notify_all();
      // Retried for retry_seconds without progress, not in all.
      deadline = Clock::now() + std::chrono::seconds(options_.retry_seconds);
      failures = 0;
    }
    if (failed == 0) continue;
    if (Clock::now() >= deadline) {
      return Unavailable(name_ + ": records could not be put for " +
                         std::to_string(options_.retry_seconds) +
                         " s (stream.retry_seconds); last error: " + last_error.message());
    }
    ++failures;
    ++retries;
    if (retries == 1 || retries % 50 == 0) {
      log::Warn("{}: {} of {} records not put ({}); retrying", name_, failed, sent.size(),
                last_error.message());
    }
    std::this_thread::sleep_for(backoff.Next(failures));
  }
  {
    std::lock_guard lock(mu_);
    ++wake_generation_;
  }
  cv_.notify_all();
  return Status::Ok();
}

Result<KinesisStream::Start> KinesisStream::StartFor(ShardId shard, uint64_t from) const {
  std::lock_guard lock(mu_);
  const ShardState& s = shards_[shard.value()];
  if (from < s.first) {
    return NotFound(ShardLocation(shard) + ": offset " + std::to_string(from) +
                    " is no longer in the stream (it starts at " + std::to_string(s.first) +
                    "; Kinesis' retention period trimmed it)");
  }
  Start start;
  start.kshard = s.first_kshard;
  start.chain_next = s.first;
  auto it = s.index.lower_bound(from);
  if (it != s.index.begin()) {
    --it;
    start.kshard = it->second.kshard;
    start.after_seq = it->second.seq;
    start.chain_next = it->first + 1;
  }
  return start;
}

Result<std::unique_ptr<ShardReader>> KinesisStream::OpenReader(ShardId shard,
                                                               StreamOffset from) const {
  if (shard.value() >= shards_.size()) {
    return InvalidArgument("shard " + std::to_string(shard.value()) + " is out of range");
  }
  CDC_ASSIGN_OR_RETURN(Start start, StartFor(shard, from.value()));
  auto client = NewClient();
  if (!client.ok()) return client.status().WithContext(name_);
  return std::unique_ptr<ShardReader>(std::make_unique<KinesisReader>(
      *this, shard, from.value(), std::move(start.kshard), std::move(start.after_seq),
      start.chain_next, std::move(*client)));
}

KinesisReader::KinesisReader(const KinesisStream& stream, ShardId shard, uint64_t from,
                             std::string kshard, std::string after_seq, uint64_t chain_start,
                             std::unique_ptr<aws::JsonClient> client)
    : stream_(stream),
      shard_(shard),
      key_(PartitionKey(shard.value())),
      from_(from),
      kshard_(std::move(kshard)),
      start_after_(std::move(after_seq)),
      chain_(chain_start),
      first_batch_(start_after_.empty() && chain_start > 0),
      client_(std::move(client)) {}

Status KinesisReader::NextKShard(const std::string& where) {
  std::vector<KShard> listed;
  CDC_RETURN_IF_ERROR(ListKShards(
      [this](std::string_view op, const std::string& b) { return client_->Call(op, b); }, parser_,
      stream_.stream_name(), where, listed));
  const KShard* child = ChildHolding(listed, kshard_, stream_.hash_key(shard_));
  if (child == nullptr) {
    return Unavailable(where +
                       " is closed and read to its end, but ListShards names no child "
                       "holding hash key " +
                       stream_.hash_key(shard_));
  }
  log::Info("{}: {} read to its end (resharded); going on in {}", stream_.name(), kshard_,
            child->id);
  kshard_ = child->id;
  start_after_.clear();
  last_seq_.clear();
  iterator_.clear();
  return Status::Ok();
}

Status KinesisReader::Fetch() {
  const std::string where = stream_.name() + " " + kshard_;
  if (iterator_.empty()) {
    CDC_ASSIGN_OR_RETURN(
        iterator_, ShardIterator([this](std::string_view op,
                                        const std::string& b) { return client_->Call(op, b); },
                                 parser_, stream_.stream_name(), kshard_,
                                 last_seq_.empty() ? start_after_ : last_seq_, where));
  }
  std::string body;
  JsonWriter w(body);
  w.BeginObject()
      .Key("ShardIterator")
      .String(iterator_)
      .Key("Limit")
      .Int(std::clamp<int64_t>(stream_.options().read_limit, 1, 10000))
      .EndObject();
  aws::Response r = client_->Call("GetRecords", body);
  if (r.error_type == "ExpiredIteratorException") {
    iterator_.clear();  // again after the last record taken
    return Unavailable(where + ": the shard iterator expired");
  }
  if (!r.status.ok()) return r.status.WithContext(where);
  CDC_RETURN_IF_ERROR(ParseBatch(parser_, r.body, where, batch_));
  at_ = 0;
  iterator_ = batch_.next_iterator;
  if (iterator_.empty() && batch_.records.empty()) {
    // Closed (split or merged) and read to its end: on in the child, at once.
    CDC_RETURN_IF_ERROR(NextKShard(where));
    return Fetch();
  }
  at_end_ = batch_.records.empty() && batch_.behind_ms == 0;
  if (first_batch_ && !batch_.records.empty()) {
    // From the trim horizon of a trimmed shard: its chain starts at its first records.
    first_batch_ = false;
    uint64_t lowest = LowestFirstFragment(batch_, key_);
    if (lowest != UINT64_MAX && lowest > chain_.next()) {
      if (lowest > from_) {
        return NotFound(where + ": offsets " + std::to_string(from_) + " to " +
                        std::to_string(lowest - 1) +
                        " are no longer in the stream (Kinesis' retention period trimmed them)");
      }
      chain_.set_next(lowest);
    }
  }
  return Status::Ok();
}

Result<std::optional<Record>> KinesisReader::Next() {
  if (held_) {
    if (held_->offset.value() >= stream_.Durable(shard_)) return std::optional<Record>();
    std::optional<Record> out = std::move(held_);
    held_.reset();
    return out;
  }
  while (true) {
    if (at_ >= batch_.records.size()) {
      // Ask again at once while this process knows of records not read yet, else after the
      // poll interval.
      bool known = chain_.next() < stream_.Durable(shard_);
      if (!known && Clock::now() < next_poll_) return std::optional<Record>();
      Status fetched = Fetch();
      if (!fetched.ok()) {
        if (!fetched.retryable()) return fetched;
        ++failures_;
        if (failures_ == 1 || failures_ % 20 == 0) {
          log::Warn("{}; reading again shortly", fetched.message());
        }
        auto wait = std::chrono::milliseconds(std::min(5000, 100 * failures_));
        if (known) {
          // Nothing here means the end of the durable records (FindLast relies on it): while
          // records below the durable end are unread, wait and read again, up to retry_seconds.
          if (failing_since_ == Clock::time_point{}) failing_since_ = Clock::now();
          if (Clock::now() - failing_since_ >=
              std::chrono::seconds(stream_.options().retry_seconds)) {
            return fetched.WithContext("reading records below the durable end for " +
                                       std::to_string(stream_.options().retry_seconds) + " s");
          }
          std::this_thread::sleep_for(wait);
          continue;
        }
        next_poll_ = Clock::now() + wait;
        return std::optional<Record>();
      }
      failures_ = 0;
      failing_since_ = {};
      if (batch_.records.empty()) {
        if ((at_end_ && !known) || iterator_.empty()) {
          next_poll_ = Clock::now() + std::chrono::milliseconds(stream_.options().poll_interval_ms);
          return std::optional<Record>();
        }
        // Behind, but this answer was empty: ask again (Kinesis answers empty now and then
        // while records follow); at its end while records of this process are unread (they
        // are in Kinesis: they were accepted), after a pause.
        if (at_end_) {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(stream_.options().poll_interval_ms));
        }
        continue;
      }
    }
    Fetched& f = batch_.records[at_++];
    last_seq_ = f.seq;
    // Another shard's record in a Kinesis shard holding several shards' hash keys.
    if (!f.key.empty() && f.key != key_) continue;
    KinesisFrame frame;
    if (!DecodeKinesisFrame(f.bytes, frame)) {
      return Corruption(stream_.name() + " " + kshard_ + ": record " + f.seq +
                        " is not a cdc-pipeline record (the stream must be the pipeline's alone)");
    }
    if (chain_.Take(frame, true) != Chain::Step::kComplete) continue;
    uint64_t offset = chain_.next() - 1;
    stream_.SawInChain(shard_, offset, kshard_, f.seq);
    if (offset < from_) continue;
    current_.swap(chain_.data());
    Record record;
    record.offset = StreamOffset(offset);
    record.type = chain_.type();
    record.append_micros = chain_.micros();
    record.payload = current_;
    if (offset >= stream_.Durable(shard_)) {
      held_ = record;
      return std::optional<Record>();
    }
    return std::optional<Record>(record);
  }
}

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<KinesisStreamOptions>();
  r.String("stream_name", o->stream_name);
  r.Bool("create", o->create);
  ReadAwsOptions(r, *o);
  r.Int("flush_interval_ms", o->flush_interval_ms);
  r.Int("flush_bytes", o->flush_bytes);
  r.Int("poll_interval_ms", o->poll_interval_ms);
  r.Int("read_limit", o->read_limit);
  r.Int("retry_seconds", o->retry_seconds);
  return o;
}

std::string Describe(const StreamConfig& config, const std::string&) {
  static const KinesisStreamOptions kDefaults;
  const auto* o = config.OptionsAs<KinesisStreamOptions>();
  if (o == nullptr) o = &kDefaults;
  return "kinesis stream '" + KinesisStreamName(*o) + "' (" + std::to_string(config.shards) +
         " shards)";
}

}  // namespace

Result<std::unique_ptr<Stream>> OpenKinesisStream(const StreamConfig& config, const std::string&) {
  static const KinesisStreamOptions kDefaults;
  const auto* o = config.OptionsAs<KinesisStreamOptions>();
  if (o == nullptr) o = &kDefaults;
  aws::ClientOptions client_options = AwsClientOptions(aws::kKinesis, *o);
  auto client = aws::JsonClient::Create(client_options);
  if (!client.ok()) {
    return client.status().WithContext("stream: kinesis stream '" + KinesisStreamName(*o) + "'");
  }
  auto stream =
      std::make_unique<KinesisStream>(config, *o, std::move(client_options), std::move(*client));
  CDC_RETURN_IF_ERROR(stream->Open());
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace cdc::stream

namespace cdc {

void RegisterKinesisStream(Registry& registry) {
  using config::FieldType;
  StreamKind kind;
  kind.spec.name = "kinesis";
  kind.spec.description =
      "An AWS Kinesis data stream (or kinesalite): the capture process puts each of the "
      "`stream.shards` shards' records in order (PutRecords, ExplicitHashKey = the shard's "
      "starting hash key in an evenly split stream), numbered with the pipeline's own offsets; "
      "processors read with GetShardIterator/GetRecords, following a resharded stream (children "
      "after their parents). The source is acknowledged only after Kinesis accepted the records. "
      "Format and protocol: docs/kinesis.md.";
  kind.spec.fields = {
      {"stream_name", FieldType::kString, "${KINESIS_STREAM_NAME:-cdc-changes-stream}",
       "The Kinesis data stream; empty: the `KINESIS_STREAM_NAME` variable, else "
       "`cdc-changes-stream`. It holds the pipeline's records alone."},
      {"create", FieldType::kBool, "false",
       "Create the stream with `stream.shards` shards when it is missing."},
      {"region", FieldType::kString, "",
       "AWS region; empty: `AWS_REGION`, else `AWS_DEFAULT_REGION`."},
      {"endpoint", FieldType::kString, "",
       "Endpoint URL (kinesalite, a VPC endpoint); empty: `AWS_ENDPOINT_URL_KINESIS`, else "
       "`AWS_ENDPOINT_URL`, else AWS's endpoint for the region."},
      {"timeout_ms", FieldType::kInt, "10000", "How long one Kinesis call may take.", {}, false, 1},
      {"flush_interval_ms",
       FieldType::kInt,
       "50",
       "Appended records are put (PutRecords) at least this often...",
       {},
       false,
       1},
      {"flush_bytes",
       FieldType::kInt,
       "1048576",
       "...or as soon as this many bytes wait. Bounds the append buffer.",
       {},
       false,
       1},
      {"poll_interval_ms",
       FieldType::kInt,
       "250",
       "A reader at the end of its shard calls GetRecords again after this (AWS allows 5 calls "
       "a second per shard).",
       {},
       false,
       1},
      {"read_limit",
       FieldType::kInt,
       "1000",
       "Records per GetRecords call (at most 10000).",
       {},
       false,
       1},
      {"retry_seconds",
       FieldType::kInt,
       "300",
       "Throttling, 5xx answers and outages are retried with jittered backoff this long before "
       "the pipeline stops with the error (nothing is acknowledged upstream meanwhile).",
       {},
       false,
       1},
  };
  kind.spec.parse = stream::ParseOptions;
  kind.open = stream::OpenKinesisStream;
  kind.describe = stream::Describe;
  registry.AddStream(std::move(kind));
}

}  // namespace cdc
