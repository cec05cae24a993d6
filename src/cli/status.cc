#include "cli/status.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "base/position.h"
#include "base/time.h"
#include "event/json_writer.h"
#include "event/source_position.h"
#include "source/source.h"
#include "state/state_store.h"

namespace cdc {
namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t ToU64(const std::optional<std::string>& text) {
  uint64_t v = 0;
  if (text) std::from_chars(text->data(), text->data() + text->size(), v);
  return v;
}

std::string Time(int64_t micros) {
  return micros > 0 ? FormatRfc3339(Timestamp{micros}) : std::string("-");
}

std::string Bytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else if (n < (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  } else if (n < (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(n) / (1 << 30));
  }
  return buf;
}

struct ShardStatus {
  uint64_t first = 0, next = 0, durable = 0, bytes = 0, segments = 0, checkpoint = 0;
};

struct LagView {
  bool known = false;
  std::string note;    // why it is unknown
  std::string holder;  // "slot cdc_pipeline"
  std::string confirmed, current;
  uint64_t bytes = 0;
  double seconds = 0;
  bool active = false;
};

// The owner recorded in the lease ("pid N on host H") is alive when it is on this host and
// the pid exists.
bool OwnerAlive(const std::string& owner) {
  unsigned long pid = 0;
  if (std::sscanf(owner.c_str(), "pid %lu", &pid) != 1 || pid == 0) return false;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  if (owner.find(" on host " + std::string(host)) == std::string::npos) return true;  // unknown
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// A position as the state store keeps it -> the text its source gives it for people, e.g.
// "0/1A749A8 (txId 2005, seq 2)"; text that is not a position is shown as it is.
std::string PositionForHumans(const std::string& stored) {
  auto p = ParsePositionStateText(stored);
  return p ? DescribePosition(*p) : stored;
}

}  // namespace

int StatusCommand(const Config& config, bool json) {
  auto store = state::OpenStateStoreReadOnly(config.state);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    return 1;
  }
  auto& st = **store;
  auto value = [&](const std::string& key) -> std::optional<std::string> {
    auto v = st.Value(key);
    return v.ok() ? *v : std::nullopt;
  };
  auto checkpoints = st.ShardCheckpoints();
  auto marks = st.TargetMarks();
  if (!checkpoints.ok() || !marks.ok()) {
    std::fprintf(stderr, "%s\n",
                 (!checkpoints.ok() ? checkpoints.status() : marks.status()).message().c_str());
    return 1;
  }
  int64_t now = NowMicros();
  std::string owner = st.lease().owner;
  bool running =
      value("pipeline.running") == std::optional<std::string>("true") && OwnerAlive(owner);
  int64_t checkpoint_at = static_cast<int64_t>(ToU64(value("time.checkpoint")));
  int64_t last_commit = static_cast<int64_t>(ToU64(value("time.last_commit")));
  int64_t caught_up = static_cast<int64_t>(ToU64(value("time.caught_up")));
  uint64_t shards = ToU64(value("stream.shards"));
  std::vector<ShardStatus> shard_status(shards);
  for (uint64_t i = 0; i < shards; ++i) {
    std::istringstream in(value("stream.shard." + std::to_string(i)).value_or(""));
    ShardStatus& s = shard_status[i];
    in >> s.first >> s.next >> s.durable >> s.bytes >> s.segments;
    auto it = checkpoints->find(static_cast<uint32_t>(i));
    s.checkpoint = it != checkpoints->end() ? it->second : 0;
  }

  LagView lag;
  if (config.source.kind != nullptr) {
    auto source = config.source.kind->build(config);
    auto upstream = source.ok() ? (*source)->Lag() : Result<SourceLag>(source.status());
    if (upstream.ok()) {
      lag.known = true;
      lag.holder = upstream->holder;
      lag.current = upstream->current;
      lag.confirmed = upstream->confirmed;
      lag.bytes = upstream->bytes;
      lag.active = upstream->active;
      // Seconds behind: with changes still to read, how long ago the pipeline last had nothing
      // left to do (an upper bound of the age of the oldest change not yet delivered).
      int64_t since = caught_up > 0 ? caught_up : checkpoint_at;
      lag.seconds = lag.bytes > 0 && since > 0 ? static_cast<double>(now - since) / 1e6 : 0.0;
    } else if (upstream.status().code() != StatusCode::kUnimplemented) {
      lag.note = upstream.status().message();
    }
  }

  uint64_t dead_lettered = ToU64(value("count.dead_lettered"));
  uint64_t max_rss = ToU64(value("memory.max_rss_bytes"));
  auto pending_of = [&](const state::TargetMark& mark) {
    uint64_t pending = 0;
    for (uint64_t i = 0; i < shards; ++i) {
      auto it = mark.shard_next.find(static_cast<uint32_t>(i));
      uint64_t from = it != mark.shard_next.end() ? it->second : shard_status[i].first;
      pending += shard_status[i].durable > from ? shard_status[i].durable - from : 0;
    }
    return pending;
  };

  if (json) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("pipeline").String(config.pipeline.name);
    w.Key("running").Bool(running);
    w.Key("owner").String(owner);
    w.Key("leaseToken").Int(static_cast<int64_t>(st.lease().token));
    w.Key("lastCheckpoint").String(Time(checkpoint_at));
    w.Key("source").BeginObject();
    w.Key("type").String(config.source.type);
    if (auto p = value("source.position")) {
      w.Key("deliveredPosition").String(PositionForHumans(*p));
    }
    w.Key("lastCommitTime").String(Time(last_commit));
    w.Key("positionGaps").Int(static_cast<int64_t>(ToU64(value("count.position_gaps"))));
    if (lag.known) {
      w.Key("confirmedLsn").String(lag.confirmed);
      w.Key("serverLsn").String(lag.current);
      w.Key("lagBytes").Int(static_cast<int64_t>(lag.bytes));
      w.Key("lagSeconds").Double(lag.seconds);
    } else if (!lag.note.empty()) {
      w.Key("lagUnknown").String(lag.note);
    }
    w.EndObject();
    w.Key("shards").BeginArray();
    for (uint64_t i = 0; i < shards; ++i) {
      const ShardStatus& s = shard_status[i];
      w.BeginObject();
      w.Key("shard").Int(static_cast<int64_t>(i));
      w.Key("length").Int(static_cast<int64_t>(s.next));
      w.Key("firstOffset").Int(static_cast<int64_t>(s.first));
      w.Key("checkpoint").Int(static_cast<int64_t>(s.checkpoint));
      w.Key("bytes").Int(static_cast<int64_t>(s.bytes));
      w.Key("segments").Int(static_cast<int64_t>(s.segments));
      w.EndObject();
    }
    w.EndArray();
    w.Key("targets").BeginObject();
    for (const auto& [name, mark] : *marks) {
      if (name.front() == '@') continue;
      w.Key(name).BeginObject();
      w.Key("pending").Int(static_cast<int64_t>(pending_of(mark)));
      w.Key("delivered").Int(static_cast<int64_t>(mark.delivered));
      w.Key("deadLettered").Int(static_cast<int64_t>(mark.dead_lettered));
      w.EndObject();
    }
    w.EndObject();
    w.Key("deadLettered").Int(static_cast<int64_t>(dead_lettered));
    w.Key("published").Int(static_cast<int64_t>(ToU64(value("count.published"))));
    w.Key("maxRssBytes").Int(static_cast<int64_t>(max_rss));
    w.EndObject();
    std::printf("%s\n", out.c_str());
    return 0;
  }

  std::printf("pipeline %s: %s (%s, lease token %llu)\n", config.pipeline.name.c_str(),
              running ? "running" : "stopped", owner.c_str(),
              static_cast<unsigned long long>(st.lease().token));
  std::printf("last checkpoint: %s (%.1f s ago)\n", Time(checkpoint_at).c_str(),
              checkpoint_at > 0 ? static_cast<double>(now - checkpoint_at) / 1e6 : 0.0);
  std::printf("source %s:\n", config.source.type.c_str());
  if (auto p = value("source.position")) {
    std::printf("  last delivered change: commit LSN %s, committed %s\n",
                PositionForHumans(*p).c_str(), Time(last_commit).c_str());
  }
  if (uint64_t gaps = ToU64(value("count.position_gaps")); gaps > 0) {
    std::printf(
        "  position gaps accepted: %llu (changes were lost upstream; see the PositionGap "
        "events)\n",
        static_cast<unsigned long long>(gaps));
  }
  if (lag.known) {
    std::printf("  %s: confirmed %s, server at %s: %s behind, %.1f s%s\n", lag.holder.c_str(),
                lag.confirmed.c_str(), lag.current.c_str(), Bytes(lag.bytes).c_str(), lag.seconds,
                lag.active ? "" : " (slot not in use)");
  } else if (!lag.note.empty()) {
    std::printf("  lag unknown: %s\n", lag.note.c_str());
  }
  std::printf("stream: %llu shards\n", static_cast<unsigned long long>(shards));
  for (uint64_t i = 0; i < shards; ++i) {
    const ShardStatus& s = shard_status[i];
    std::printf(
        "  shard %llu: length %llu (offsets %llu.. on disk, %llu segment(s), %s), "
        "checkpoint %llu\n",
        static_cast<unsigned long long>(i), static_cast<unsigned long long>(s.next),
        static_cast<unsigned long long>(s.first), static_cast<unsigned long long>(s.segments),
        Bytes(s.bytes).c_str(), static_cast<unsigned long long>(s.checkpoint));
  }
  std::printf("targets:\n");
  for (const auto& [name, mark] : *marks) {
    if (name.front() == '@') continue;
    std::printf("  %-24s pending %-8llu delivered %-10llu dead-lettered %llu\n", name.c_str(),
                static_cast<unsigned long long>(pending_of(mark)),
                static_cast<unsigned long long>(mark.delivered),
                static_cast<unsigned long long>(mark.dead_lettered));
  }
  std::printf("dead-letter file %s: %llu\n", config.dead_letter.path.c_str(),
              static_cast<unsigned long long>(dead_lettered));
  std::printf("memory high-water mark: %s\n", Bytes(max_rss).c_str());
  return 0;
}

}  // namespace cdc
