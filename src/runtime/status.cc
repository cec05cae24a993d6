#include "runtime/status.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <sstream>

#include "base/scrub.h"
#include "base/time.h"
#include "event/json_writer.h"
#include "event/source_position.h"
#include "metrics/metrics.h"
#include "source/source.h"
#include "state/state_store.h"

namespace cdc {
namespace {

uint64_t ToU64(const std::optional<std::string>& text) {
  uint64_t v = 0;
  if (text) std::from_chars(text->data(), text->data() + text->size(), v);
  return v;
}

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

constexpr size_t kMaxReason = 300;

std::string Time(int64_t micros) {
  return micros > 0 ? FormatRfc3339(Timestamp{micros}) : std::string("-");
}

}  // namespace

Result<PipelineStatus> ReadPipelineStatus(const Config& config, int64_t now_micros,
                                          bool with_source_lag) {
  CDC_ASSIGN_OR_RETURN(auto store, state::OpenStateStoreReadOnly(config.state));
  auto& st = *store;
  auto value = [&](const std::string& key) -> std::optional<std::string> {
    auto v = st.Value(key);
    return v.ok() ? *v : std::nullopt;
  };
  CDC_ASSIGN_OR_RETURN(auto checkpoints, st.ShardCheckpoints());
  CDC_ASSIGN_OR_RETURN(auto marks, st.TargetMarks());

  PipelineStatus s;
  s.pipeline = config.pipeline.name;
  s.now_micros = now_micros;
  s.owner = st.lease().owner;
  s.lease_token = st.lease().token;
  s.running =
      value("pipeline.running") == std::optional<std::string>("true") && OwnerAlive(s.owner);
  s.last_checkpoint_micros = static_cast<int64_t>(ToU64(value("time.checkpoint")));
  int64_t caught_up = static_cast<int64_t>(ToU64(value("time.caught_up")));
  uint64_t shards = ToU64(value("stream.shards"));
  for (uint64_t i = 0; i < shards; ++i) {
    ShardStatus& sh = s.shards.emplace_back();
    sh.shard = static_cast<uint32_t>(i);
    std::istringstream in(value("stream.shard." + std::to_string(i)).value_or(""));
    in >> sh.first >> sh.end >> sh.durable_end >> sh.bytes >> sh.segments;
    auto it = checkpoints.find(sh.shard);
    sh.checkpoint = it != checkpoints.end() ? it->second : 0;
    if (auto p = value("source.position." + std::to_string(i))) {
      sh.delivered_position = PositionForHumans(*p);
    }
  }

  SourceStatus& src = s.source;
  src.type = config.source.type;
  if (auto p = value("source.position")) src.delivered_position = PositionForHumans(*p);
  src.last_commit_micros = static_cast<int64_t>(ToU64(value("time.last_commit")));
  auto source = config.source.kind != nullptr
                    ? config.source.kind->build(config)
                    : Result<std::unique_ptr<Source>>(Unimplemented("no source kind"));
  if (source.ok()) s.backfills = (*source)->Backfills();
  if (with_source_lag && config.source.kind != nullptr) {
    auto upstream = source.ok() ? (*source)->Lag() : Result<SourceLag>(source.status());
    if (upstream.ok()) {
      src.lag_known = true;
      src.holder = upstream->holder;
      src.current = upstream->current;
      src.confirmed = upstream->confirmed;
      src.lag_bytes = upstream->bytes;
      src.active = upstream->active;
      // Seconds behind: with changes still to read, how long ago the pipeline last had nothing
      // left to do (an upper bound of the age of the oldest change not yet delivered).
      int64_t since = caught_up > 0 ? caught_up : s.last_checkpoint_micros;
      src.lag_seconds =
          src.lag_bytes > 0 && since > 0 ? static_cast<double>(now_micros - since) / 1e6 : 0.0;
    } else if (upstream.status().code() != StatusCode::kUnimplemented) {
      src.lag_note = ScrubSecrets(upstream.status().message());  // libpq may quote the DSN
    }
  }

  for (const auto& [name, mark] : marks) {
    if (name.front() == '@') continue;
    TargetStatus& t = s.targets.emplace_back();
    t.name = name;
    t.delivered = mark.delivered;
    t.failed = mark.dead_lettered;
    for (const ShardStatus& sh : s.shards) {
      auto it = mark.shard_next.find(sh.shard);
      uint64_t from = it != mark.shard_next.end() ? it->second : sh.first;
      t.retrying += sh.durable_end > from ? sh.durable_end - from : 0;
    }
  }
  s.dead_letter_path = config.dead_letter.path;
  s.dead_lettered = ToU64(value("count.dead_lettered"));
  s.published = ToU64(value("count.published"));
  s.unmatched = ToU64(value("count.unmatched"));
  s.position_gaps = ToU64(value("count.position_gaps"));
  s.max_rss_bytes = ToU64(value("memory.max_rss_bytes"));
  return s;
}

void ExportStatus(const PipelineStatus& s, metrics::Registry& r) {
  if (s.snapshot) {
    const SnapshotState& snap = *s.snapshot;
    r.GetGauge("cdc_snapshot_running", "1 while the initial snapshot is being read.")
        .Set(snap.done ? 0 : 1);
    r.GetGauge("cdc_snapshot_progress_ratio",
               "The initial snapshot's progress, 0 to 1: tables done plus the part of the "
               "current one read (by the database's row estimate).")
        .Set(snap.fraction());
    r.GetGauge("cdc_snapshot_tables", "Tables the initial snapshot reads.")
        .Set(static_cast<double>(snap.tables));
    r.GetGauge("cdc_snapshot_tables_done", "Tables the initial snapshot has read to their end.")
        .Set(static_cast<double>(snap.tables_done));
    r.GetCounter("cdc_snapshot_chunks_total", "Snapshot chunks completed, all tables.")
        .AdvanceTo(snap.chunks);
  }
  if (!s.backfills.empty()) {
    for (const char* state : {"queued", "running", "done", "failed"}) {
      double n = static_cast<double>(
          std::count_if(s.backfills.begin(), s.backfills.end(),
                        [&](const BackfillState& b) { return b.state == state; }));
      r.GetGauge("cdc_backfills",
                 "Backfills by state (done and failed: the most recent ones the source keeps).",
                 {"state"}, metrics::Labels{state})
          .Set(n);
    }
  }
  r.GetGauge("cdc_pipeline_running", "1 while the pipeline runs and holds its lease.")
      .Set(s.running ? 1 : 0);
  r.GetGauge("cdc_last_checkpoint_timestamp_seconds", "When the last checkpoint was committed.")
      .Set(static_cast<double>(s.last_checkpoint_micros) / 1e6);
  for (const ShardStatus& sh : s.shards) {
    metrics::Labels shard{std::to_string(sh.shard)};
    r.GetGauge("cdc_shard_end_offset", "Offset the next record of the shard gets.", {"shard"},
               shard)
        .Set(static_cast<double>(sh.end));
    r.GetGauge("cdc_shard_checkpoint_offset",
               "The shard's checkpoint: every target has the records below it.", {"shard"}, shard)
        .Set(static_cast<double>(sh.checkpoint));
    r.GetGauge("cdc_shard_lag_records", "Durable records of the shard not yet checkpointed.",
               {"shard"}, shard)
        .Set(static_cast<double>(sh.lag()));
    r.GetGauge("cdc_shard_bytes", "Bytes the shard stores.", {"shard"}, shard)
        .Set(static_cast<double>(sh.bytes));
  }
  for (const TargetStatus& t : s.targets) {
    metrics::Labels target{t.name};
    r.GetCounter("cdc_target_delivered_total", "Events the target accepted.", {"target"}, target)
        .AdvanceTo(t.delivered);
    r.GetCounter("cdc_target_dead_lettered_total",
                 "Events the target did not accept, dead-lettered.", {"target"}, target)
        .AdvanceTo(t.failed);
    r.GetGauge("cdc_target_pending_records",
               "Durable stream records past the target's checkpoint mark.", {"target"}, target)
        .Set(static_cast<double>(t.retrying));
  }
  r.GetCounter("cdc_events_published_total", "Changes that became output events.")
      .AdvanceTo(s.published);
  r.GetCounter("cdc_events_unmatched_total", "Published events no rule matched.")
      .AdvanceTo(s.unmatched);
  r.GetCounter("cdc_source_position_gaps_total",
               "Position gaps the source accepted (each published as a PositionGap event).")
      .AdvanceTo(s.position_gaps);
  r.GetCounter("cdc_dead_lettered_total", "Inputs and deliveries written to the dead-letter file.")
      .AdvanceTo(s.dead_lettered);
  if (s.source.lag_known) {
    r.GetGauge("cdc_source_lag_bytes", "How far the acknowledged source position is behind.")
        .Set(static_cast<double>(s.source.lag_bytes));
    r.GetGauge("cdc_source_lag_seconds", "Upper bound of the age of the oldest undelivered change.")
        .Set(s.source.lag_seconds);
  }
  r.GetGauge("cdc_process_max_rss_bytes", "The process's memory high-water mark.")
      .Set(static_cast<double>(s.max_rss_bytes));
}

std::string StatusJson(const PipelineStatus& s) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("pipeline").String(s.pipeline);
  w.Key("running").Bool(s.running);
  w.Key("owner").String(s.owner);
  w.Key("leaseToken").Int(static_cast<int64_t>(s.lease_token));
  w.Key("lastCheckpoint").String(Time(s.last_checkpoint_micros));
  w.Key("source").BeginObject();
  w.Key("type").String(s.source.type);
  if (!s.source.delivered_position.empty()) {
    w.Key("deliveredPosition").String(s.source.delivered_position);
  }
  w.Key("lastCommitTime").String(Time(s.source.last_commit_micros));
  w.Key("positionGaps").Int(static_cast<int64_t>(s.position_gaps));
  if (s.source.lag_known) {
    w.Key("confirmedLsn").String(s.source.confirmed);
    w.Key("serverLsn").String(s.source.current);
    w.Key("lagBytes").Int(static_cast<int64_t>(s.source.lag_bytes));
    w.Key("lagSeconds").Double(s.source.lag_seconds);
  } else if (!s.source.lag_note.empty()) {
    w.Key("lagUnknown").String(s.source.lag_note);
  }
  w.EndObject();
  w.Key("shards").BeginArray();
  for (const ShardStatus& sh : s.shards) {
    w.BeginObject();
    w.Key("shard").Int(sh.shard);
    w.Key("length").Int(static_cast<int64_t>(sh.end));
    w.Key("firstOffset").Int(static_cast<int64_t>(sh.first));
    w.Key("checkpoint").Int(static_cast<int64_t>(sh.checkpoint));
    w.Key("lag").Int(static_cast<int64_t>(sh.lag()));
    w.Key("bytes").Int(static_cast<int64_t>(sh.bytes));
    w.Key("segments").Int(static_cast<int64_t>(sh.segments));
    if (!sh.delivered_position.empty()) {
      w.Key("deliveredPosition").String(sh.delivered_position);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("targets").BeginObject();
  for (const TargetStatus& t : s.targets) {
    w.Key(t.name).BeginObject();
    w.Key("pending").Int(static_cast<int64_t>(t.retrying));
    w.Key("delivered").Int(static_cast<int64_t>(t.delivered));
    w.Key("deadLettered").Int(static_cast<int64_t>(t.failed));
    w.EndObject();
  }
  w.EndObject();
  w.Key("deadLettered").Int(static_cast<int64_t>(s.dead_lettered));
  w.Key("published").Int(static_cast<int64_t>(s.published));
  w.Key("unmatched").Int(static_cast<int64_t>(s.unmatched));
  w.Key("maxRssBytes").Int(static_cast<int64_t>(s.max_rss_bytes));
  if (!s.tables.empty()) {
    w.Key("tables").BeginObject();
    for (const TableStatus& t : s.tables) {
      w.Key(t.name).BeginObject();
      w.Key("published").Int(static_cast<int64_t>(t.published));
      w.Key("operations").BeginObject();
      for (const auto& [op, n] : t.operations) w.Key(op).Int(static_cast<int64_t>(n));
      w.EndObject();
      w.EndObject();
    }
    w.EndObject();
  }
  if (s.snapshot) {
    const SnapshotState& sn = *s.snapshot;
    w.Key("snapshot").BeginObject();
    w.Key("done").Bool(sn.done);
    w.Key("fraction").Double(sn.fraction());
    w.Key("tables").Int(static_cast<int64_t>(sn.tables));
    w.Key("tablesDone").Int(static_cast<int64_t>(sn.tables_done));
    if (!sn.table.empty()) w.Key("table").String(sn.table);
    w.Key("tableRows").Int(static_cast<int64_t>(sn.table_rows));
    w.Key("tableRowsEstimate").Int(static_cast<int64_t>(sn.table_estimate));
    w.Key("chunks").Int(static_cast<int64_t>(sn.chunks));
    w.EndObject();
  }
  if (!s.backfills.empty()) {
    w.Key("backfills").BeginArray();
    for (const BackfillState& b : s.backfills) {
      w.BeginObject();
      w.Key("id").String(b.id);
      w.Key("table").String(b.table);
      if (!b.where.empty()) w.Key("where").String(b.where);
      w.Key("state").String(b.state);
      w.Key("chunks").Int(static_cast<int64_t>(b.chunks));
      w.Key("rows").Int(static_cast<int64_t>(b.rows));
      if (b.state == "running") w.Key("rowsEstimate").Int(static_cast<int64_t>(b.rows_estimate));
      if (!b.error.empty()) w.Key("error").String(ScrubSecrets(b.error));
      w.Key("requested").String(Time(b.requested_micros));
      if (b.finished_micros > 0) w.Key("finished").String(Time(b.finished_micros));
      w.EndObject();
    }
    w.EndArray();
  }
  if (!s.recent_dead_letters.empty()) {
    // Reasons name tables, columns and positions, never values; a target's error text might
    // quote a URL with credentials, so it is scrubbed, and long texts are cut.
    w.Key("recentDeadLetters").BeginArray();
    for (const RecentDeadLetter& d : s.recent_dead_letters) {
      w.BeginObject();
      w.Key("time").String(Time(d.time_micros));
      w.Key("stage").String(d.stage);
      if (!d.table.empty()) w.Key("table").String(d.table);
      if (!d.rule.empty()) w.Key("rule").String(d.rule);
      if (!d.target.empty()) w.Key("target").String(d.target);
      std::string reason = ScrubSecrets(d.reason);
      if (reason.size() > kMaxReason) reason = reason.substr(0, kMaxReason) + "...";
      w.Key("reason").String(reason);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return out;
}

void ApplyLiveMetrics(metrics::Registry& live, PipelineStatus& s) {
  auto raise = [](uint64_t& to, double v) { to = std::max(to, static_cast<uint64_t>(v)); };
  for (const auto& f : live.Collect()) {
    for (const auto& series : f.series) {
      const metrics::Labels& labels = *series.labels;
      if (f.name == "cdc_events_published_total") {
        raise(s.published, series.value);
      } else if (f.name == "cdc_events_unmatched_total") {
        raise(s.unmatched, series.value);
      } else if (f.name == "cdc_dead_lettered_total") {
        raise(s.dead_lettered, series.value);
      } else if ((f.name == "cdc_target_delivered_total" ||
                  f.name == "cdc_target_dead_lettered_total") &&
                 labels.size() == 1) {
        auto it = std::find_if(s.targets.begin(), s.targets.end(),
                               [&](const TargetStatus& t) { return t.name == labels[0]; });
        if (it == s.targets.end()) {
          it = s.targets.insert(std::lower_bound(s.targets.begin(), s.targets.end(), labels[0],
                                                 [](const TargetStatus& t, const std::string& n) {
                                                   return t.name < n;
                                                 }),
                                TargetStatus{labels[0]});
        }
        raise(f.name == "cdc_target_delivered_total" ? it->delivered : it->failed, series.value);
      } else if (f.name == "cdc_table_events_published_total" && labels.size() == 2) {
        auto it = std::find_if(s.tables.begin(), s.tables.end(),
                               [&](const TableStatus& t) { return t.name == labels[0]; });
        if (it == s.tables.end()) it = s.tables.insert(s.tables.end(), TableStatus{labels[0]});
        auto n = static_cast<uint64_t>(series.value);
        it->published += n;
        it->operations.emplace_back(labels[1], n);
      } else if (f.name == "cdc_shard_end_offset" && labels.size() == 1) {
        for (ShardStatus& sh : s.shards) {
          if (std::to_string(sh.shard) != labels[0]) continue;
          raise(sh.end, series.value);
          raise(sh.durable_end, series.value);
        }
      }
    }
  }
  // The counters are read one after another while the shard workers count: an event may already
  // be in its table's count and not yet in the total (read earlier). The total is raised to the
  // tables' sum, as if it had been read a moment later, so a reader never sees the tables add up
  // to more than the total.
  uint64_t tables = 0;
  for (const TableStatus& t : s.tables) tables += t.published;
  s.published = std::max(s.published, tables);
}

}  // namespace cdc
