#include "source/postgres/postgres_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "base/logging.h"
#include "event/position_kinds.h"
#include "source/postgres/backfill.h"
#include "source/postgres/chunked_snapshot.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/replication_connection.h"

namespace cdc::pg {

PostgresSourceOptions OptionsFromConfig(const Config& config) {
  static const PostgresSourceConfig kDefaults;
  const PostgresSourceConfig* configured = config.source.OptionsAs<PostgresSourceConfig>();
  const PostgresSourceConfig& s = configured != nullptr ? *configured : kDefaults;
  PostgresSourceOptions o;
  o.dsn = s.dsn;
  o.slot = s.slot;
  o.publication = s.publication;
  o.initial_snapshot = s.snapshot == "initial";
  o.snapshot_batch_size = static_cast<size_t>(std::max<int64_t>(1, s.snapshot_batch_size));
  o.flush_interval = std::chrono::milliseconds(std::max<int64_t>(1, s.flush_interval_ms));
  o.status_interval = std::chrono::milliseconds(std::max<int64_t>(100, s.status_interval_ms));
  o.heartbeat_interval = std::chrono::milliseconds(s.heartbeat_interval_ms);
  o.reconnect_max_backoff =
      std::chrono::milliseconds(std::max<int64_t>(100, s.reconnect_max_backoff_ms));
  o.state_dir = config.pipeline.data_dir;
  o.resnapshot_on_gap = s.on_position_gap == "resnapshot";
  o.stream_in_progress = s.stream_in_progress;
  o.signal_table = s.signal_table;
  for (const auto& t : config.tables) {
    PgTableRequirement req;
    req.table.schema = t.schema;
    req.table.name = t.name;
    req.replica_identity_full = t.replica_identity == "full";
    o.tables.push_back(std::move(req));
  }
  return o;
}

PostgresSource::PostgresSource(PostgresSourceOptions options) : options_(std::move(options)) {}

Result<SourceLag> PostgresSource::Lag() {
  auto conn_or = PgConnection::Connect(options_.dsn);
  if (!conn_or.ok()) return conn_or.status().WithContext("database not reachable");
  auto conn = std::move(conn_or).value();
  CDC_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(
          "SELECT pg_current_wal_lsn()::text AS current, confirmed_flush_lsn::text AS confirmed, "
          "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag, "
          "active FROM pg_replication_slots WHERE slot_name = $1",
          {options_.slot}));
  if (rows.empty()) {
    return NotFound("slot " + options_.slot + " does not exist (the pipeline has not run)");
  }
  SourceLag lag;
  lag.holder = "slot " + options_.slot;
  lag.current = rows.Get(0, "current").value_or("");
  lag.confirmed = rows.Get(0, "confirmed").value_or("");
  std::string bytes = rows.Get(0, "lag").value_or("0");
  std::from_chars(bytes.data(), bytes.data() + bytes.size(), lag.bytes);  // negative: 0
  lag.active = rows.Get(0, "active") == std::optional<std::string>("t");
  return lag;
}

std::string PostgresSource::MarkerPath() const {
  return options_.state_dir + "/postgres-snapshot-" + options_.slot + ".pending";
}

namespace {
std::optional<Lsn> ReadAcknowledged(const std::string& path);
}  // namespace

Status PostgresSource::CheckHealth() {
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.dsn));
  CDC_RETURN_IF_ERROR(CheckServer(*conn));
  CDC_RETURN_IF_ERROR(CheckTables(*conn, options_.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(*conn, options_.slot));
  if (slot && slot->active) {
    // Held by this pipeline's own `run` (the walsender it recorded in the data dir): healthy.
    std::ifstream in(WalsenderPath());
    int pid = 0;
    if (in >> pid && pid == slot->active_pid) return Status::Ok();
  }
  if (slot) CDC_RETURN_IF_ERROR(CheckSlotOwner(*slot, /*write=*/false));
  CDC_RETURN_IF_ERROR(CheckPositionGap(slot));
  if (std::optional<Lsn> ours = ReadAcknowledged(PositionPath())) {
    CDC_ASSIGN_OR_RETURN(auto problems, FindTableProblemsAtStart(*conn));
    if (!problems.empty()) return TableGap(problems, *ours, false);
  }
  if (slot) CDC_RETURN_IF_ERROR(CheckSlotUsable(*slot, conn->database()));
  return Status::Ok();
}

namespace {

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The watermarks of a chunked snapshot travel as logical decoding messages, which pgoutput
// sends only from PostgreSQL 14 on.
Status CheckWatermarksSupported(PgConnection& conn) {
  CDC_ASSIGN_OR_RETURN(PgRows rows, conn.Query("SELECT current_setting('server_version_num')"));
  int version = rows.empty() || !rows.rows[0][0] ? 0 : std::atoi(rows.rows[0][0]->c_str());
  if (version >= 140000) return Status::Ok();
  return FailedPrecondition(
      "snapshot: initial needs PostgreSQL 14 or later (the snapshot is read in chunks while the "
      "slot streams, with watermarks that pgoutput passes on only from version 14); this server "
      "is version " +
      std::to_string(version) +
      ": upgrade it, or set snapshot: never in the source section and load the existing rows "
      "another way");
}

// Replaces `path` with `text`, synced (file and directory), so it survives a crash.
Status WriteSynced(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot write '" + tmp + "'");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError("cannot write or sync '" + path + "'");
  }
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ok = ::fsync(dfd) == 0;
    ::close(dfd);
    if (!ok) return IoError("cannot sync the directory of '" + path + "'");
  }
  return Status::Ok();
}

// TablesPath()'s lines; `exists` says whether the file was there. An unreadable line counts as
// a gap, never as "nothing happened".
std::map<std::string, std::pair<uint32_t, bool>> ReadCapturedTables(const std::string& path,
                                                                    bool& exists) {
  std::map<std::string, std::pair<uint32_t, bool>> out;
  std::ifstream in(path);
  exists = static_cast<bool>(in);
  std::string line;
  while (std::getline(in, line)) {
    size_t tab1 = line.find('\t');
    size_t tab2 = tab1 == std::string::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string::npos) continue;
    uint32_t oid = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + tab1, oid);
    if (ec != std::errc() || p != line.data() + tab1) oid = 0;
    bool captured = oid != 0 && line.compare(tab1 + 1, tab2 - tab1 - 1, "captured") == 0;
    out[line.substr(tab2 + 1)] = {oid, !captured};
  }
  return out;
}

Status WriteCapturedTables(const std::string& path,
                           const std::map<std::string, std::pair<uint32_t, bool>>& tables);

// The LSN in a file SaveAcknowledged wrote; nullopt when there is none.
std::optional<Lsn> ReadAcknowledged(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  return Lsn::Parse(text);
}

Status WriteCapturedTables(const std::string& path,
                           const std::map<std::string, std::pair<uint32_t, bool>>& tables) {
  std::string text;
  for (const auto& [table, state] : tables) {
    text +=
        std::to_string(state.first) + (state.second ? "\tgap\t" : "\tcaptured\t") + table + "\n";
  }
  return WriteSynced(path, text);
}

}  // namespace

std::string PostgresSource::ProgressPath() const {
  return options_.state_dir + "/postgres-snapshot-" + options_.slot + ".progress";
}

std::string PostgresSource::BackfillPath() const {
  return options_.state_dir + "/postgres-backfill-" + options_.slot + ".progress";
}

void PostgresSource::PrepareSignals(PgConnection& conn) {
  signals_ = false;
  if (options_.signal_table.empty()) return;
  signal_table_ = ParseTableName(options_.signal_table);
  const std::string name = signal_table_.ToString();
  auto off = [&](const std::string& why) {
    log::Warn(
        "signal table {}: {}; signals (and so backfills) are off until this is fixed and `run` "
        "starts again",
        name, why);
  };
  if (options_.state_dir.empty()) return;  // no ledger without a data dir
  if (Status s = CheckWatermarksSupported(conn); !s.ok()) {
    off("backfills need PostgreSQL 14 or later (their watermarks are logical decoding "
        "messages)");
    return;
  }
  auto exists = conn.Query("SELECT to_regclass($1) IS NOT NULL", {signal_table_.Quoted()});
  if (!exists.ok()) {
    off(exists.status().message());
    return;
  }
  if (exists->empty() || exists->rows[0][0] != std::optional<std::string>("t")) {
    Status created = conn.Execute("CREATE TABLE IF NOT EXISTS " + signal_table_.Quoted() +
                                  " (id text PRIMARY KEY, type text NOT NULL, data jsonb)");
    if (!created.ok()) {
      off("it does not exist and could not be created (" + created.message() +
          "); create it as a role that may: CREATE TABLE " + signal_table_.Quoted() +
          " (id text PRIMARY KEY, type text NOT NULL, data jsonb), or set source.signal_table: "
          "\"\" to run without signals");
      return;
    }
    log::Info("created signal table {}", name);
  }
  auto columns = conn.Query(
      "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND "
      "NOT attisdropped AND attname IN ('id', 'type', 'data')",
      {signal_table_.Quoted()});
  if (!columns.ok() || columns->empty() || columns->rows[0][0] != std::optional<std::string>("3")) {
    off("it lacks the columns id, type and data (expected: id text PRIMARY KEY, type text NOT "
        "NULL, data jsonb)");
    return;
  }
  if (Status s = EnsurePublication(conn, options_.publication, {signal_table_}); !s.ok()) {
    off("it could not be added to publication " + options_.publication + " (" + s.message() + ")");
    return;
  }
  signals_ = true;
}

Status PostgresSource::Prepare(ChangeSink& sink) {
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.dsn));
  if (reset_) {
    CDC_RETURN_IF_ERROR(ResetSlot(*conn, sink));
    reset_ = false;
  }
  // Before anything is changed: a slot of another data dir is refused.
  CDC_ASSIGN_OR_RETURN(auto existing, InspectSlot(*conn, options_.slot));
  if (existing) CDC_RETURN_IF_ERROR(CheckSlotOwner(*existing, /*write=*/true));
  // Before PrepareCapture, which adds missing tables to the publication.
  CDC_RETURN_IF_ERROR(CheckTablesAtStart(*conn, sink));
  CDC_RETURN_IF_ERROR(PrepareCapture(*conn, options_.publication, options_.tables));
  PrepareSignals(*conn);
  {
    std::vector<PgTableRef> refs;
    for (const auto& t : options_.tables) refs.push_back(t.table);
    CDC_ASSIGN_OR_RETURN(auto captured, InspectCapturedTables(*conn, options_.publication, refs));
    captured_.clear();
    for (const PgCapturedTable& t : captured.value_or(std::vector<PgCapturedTable>())) {
      captured_[t.table.ToString()] = CapturedTable{t.oid, false};
    }
    std::map<std::string, std::pair<uint32_t, bool>> record;
    for (const auto& [name, t] : captured_) record[name] = {t.oid, false};
    CDC_RETURN_IF_ERROR(WriteCapturedTables(TablesPath(), record));
  }
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(*conn, options_.slot));
  // An invalidated slot is a position gap: Run reports it (or accepts it).
  if (slot && slot->wal_status != "lost") {
    CDC_RETURN_IF_ERROR(CheckSlotUsable(*slot, conn->database()));
  }
  if (!options_.initial_snapshot) return Status::Ok();
  CDC_ASSIGN_OR_RETURN(auto progress, ReadSnapshotProgress(ProgressPath()));
  if (FileExists(MarkerPath())) {
    // An older version's snapshot into this slot did not finish (it would have dropped the
    // slot): read it again, in chunks, keeping the slot.
    if (slot && !progress) {
      log::Warn(
          "the initial snapshot into slot {} did not finish; reading it again in chunks while "
          "the slot streams",
          options_.slot);
      progress = NewSnapshotProgress();
      CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), *progress));
    }
    ::unlink(MarkerPath().c_str());
  }
  if (!slot || (progress && !progress->done)) {
    CDC_RETURN_IF_ERROR(CheckWatermarksSupported(*conn));
  }
  return Status::Ok();
}

std::string PostgresSource::PositionPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".position";
}

std::string PostgresSource::OwnerPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".owner";
}

namespace {
struct SlotOwner {
  std::string pipeline_id;
  std::string state;  // pending | created | adopted
};
// The owner record, or nullopt when there is none; an unreadable one is an error.
Result<std::optional<SlotOwner>> ReadOwner(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::optional<SlotOwner>();
  SlotOwner owner;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("pipeline_id ", 0) == 0) owner.pipeline_id = line.substr(12);
    if (line.rfind("state ", 0) == 0) owner.state = line.substr(6);
  }
  if (owner.state != "pending" && owner.state != "created" && owner.state != "adopted") {
    return Corruption("'" + path +
                      "' is not a slot owner record (expected the lines 'pipeline_id ID' and "
                      "'state pending|created|adopted'); restore it, or remove it and start "
                      "`run --adopt-slot` if the slot is this pipeline's");
  }
  return std::optional<SlotOwner>(std::move(owner));
}
}  // namespace

std::vector<DataDirFinding> VerifySlotRecord(const PostgresSourceOptions& options,
                                             const std::string& pipeline_id) {
  const std::string base = options.state_dir + "/postgres-slot-" + options.slot;
  const std::string path = base + ".owner";
  const std::string name = QuoteIdentifier(options.slot);
  std::vector<DataDirFinding> out;
  auto owner = ReadOwner(path);
  if (!owner.ok()) {
    out.push_back({true, std::string(owner.status().message()),
                   "restore the file from a backup of this data dir, or remove it and start `run "
                   "--adopt-slot` if the slot is this pipeline's"});
  } else if (!*owner) {
    out.push_back({false,
                   FileExists(base + ".position")
                       ? "replication slot " + name +
                             ": streamed before owner records existed (the next start records it)"
                       : "replication slot " + name + ": not created by this data dir yet",
                   ""});
  } else if ((*owner)->state == "pending") {
    out.push_back({true,
                   path + ": the record of creating replication slot " + name +
                       " is unfinished (the process died while creating it, or another process "
                       "created a slot of that name then); `run` refuses the slot",
                   "if no other pipeline uses the slot, `cdc-pipeline run --adopt-slot`"});
  } else if (!pipeline_id.empty() && !(*owner)->pipeline_id.empty() &&
             (*owner)->pipeline_id != pipeline_id) {
    out.push_back({true,
                   path + ": replication slot " + name + " was created for pipeline " +
                       (*owner)->pipeline_id + ", but the state store is pipeline " + pipeline_id +
                       "; `run` refuses the slot",
                   "restore the state store that belongs to this slot; or move the state store "
                   "away and start over with `cdc-pipeline run --reset-state`; or, if the slot's "
                   "changes are meant for this pipeline, `cdc-pipeline run --adopt-slot`"});
  } else {
    out.push_back(
        {false,
         "replication slot " + name + ": " + (*owner)->state + " by this data dir" +
             ((*owner)->pipeline_id.empty() ? std::string()
                                            : " (pipeline " + (*owner)->pipeline_id + ")"),
         ""});
  }
  return out;
}

Status PostgresSource::WriteOwner(const std::string& state) {
  return WriteSynced(OwnerPath(), "pipeline_id " + pipeline_id_ + "\nstate " + state + "\n");
}

Status PostgresSource::CheckSlotOwner(const PgSlotInfo& slot, bool write) {
  CDC_ASSIGN_OR_RETURN(auto owner, ReadOwner(OwnerPath()));
  const std::string name = QuoteIdentifier(options_.slot);
  std::string problem;
  if (!owner) {
    if (ReadAcknowledged(PositionPath())) {
      // Streamed from it before owner records existed: it is this data dir's.
      return write ? WriteOwner("created") : Status::Ok();
    }
    problem = "replication slot " + name +
              " exists, but this data dir did not create it (it has no record of the slot in " +
              OwnerPath() +
              "): another pipeline's data dir uses it, a client made it, or this data dir was "
              "replaced";
  } else if (owner->state == "pending") {
    problem = "replication slot " + name + " exists, but this data dir's record of creating it (" +
              OwnerPath() +
              ") is unfinished: it died while creating the slot, or another process created a "
              "slot of the same name at that moment";
  } else if (!pipeline_id_.empty() && !owner->pipeline_id.empty() &&
             owner->pipeline_id != pipeline_id_) {
    problem = "replication slot " + name + " was created for pipeline " + owner->pipeline_id +
              " (" + OwnerPath() + "), but this data dir is pipeline " + pipeline_id_ +
              " (its state store was replaced or started over)";
  } else {
    if (write && owner->pipeline_id != pipeline_id_ && !pipeline_id_.empty()) {
      return WriteOwner(owner->state);  // recorded before the data dir had an id
    }
    return Status::Ok();
  }
  if (adopt_slot_ && write) {
    log::Warn("{}; taking it over as asked (run --adopt-slot): streaming on from its position {}",
              problem, slot.confirmed_flush.ToString());
    CDC_RETURN_IF_ERROR(WriteOwner("adopted"));
    // Its position is the one this data dir goes on from (a later move is a position gap).
    return SaveAcknowledged(slot.confirmed_flush);
  }
  return FailedPrecondition(
             problem + ". Streaming from it would start at its position " +
             slot.confirmed_flush.ToString() +
             " without a snapshot, and two pipelines sharing a slot each miss what the other "
             "consumed. Nothing was changed (`cdc-pipeline verify-data` compares the data dir's "
             "records). Ways on: give this pipeline its own slot "
             "(source.slot) and start again (it snapshots); or, if this pipeline moved to this "
             "data dir on purpose and the slot's changes are meant for it, run `cdc-pipeline "
             "run --adopt-slot` to take the slot over")
      .set_data_loss();
}

Status PostgresSource::ResetSlot(PgConnection& conn, ChangeSink& sink) {
  CDC_RETURN_IF_ERROR(CheckServer(conn));
  CDC_RETURN_IF_ERROR(CheckTables(conn, options_.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(conn, options_.slot));
  Status why = FailedPrecondition(
      "the state store started over (run --reset-state): what the consumers received before is "
      "unknown, so every table is snapshotted again");
  CDC_RETURN_IF_ERROR(AcceptPositionGap(conn, slot, why, sink));
  ::unlink(OwnerPath().c_str());
  ::unlink(TablesPath().c_str());
  return Status::Ok();
}

std::string PostgresSource::WalsenderPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".walsender";
}

std::string PostgresSource::TablesPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".tables";
}

std::string PostgresSource::ShapesPath() const {
  return options_.state_dir + "/postgres-slot-" + options_.slot + ".relations";
}

Result<std::vector<PgRelation>> PostgresSource::LoadShapes() const {
  if (options_.state_dir.empty()) return std::vector<PgRelation>();
  std::ifstream in(ShapesPath(), std::ios::binary);
  if (!in) return std::vector<PgRelation>();
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto shapes = DecodeRelationShapes(data);
  if (!shapes.ok()) {
    return FailedPrecondition(
        "the relation shapes file '" + ShapesPath() + "' is damaged (" + shapes.status().message() +
        "): delete it and start again; a change of a captured table's columns made while the "
        "pipeline was stopped is then not announced as a SCHEMA_CHANGE event");
  }
  return shapes;
}

Status PostgresSource::SaveShapes(const PgOutputDecoder& decoder, uint64_t& saved_version) {
  if (options_.state_dir.empty() || decoder.shapes_version() == saved_version) {
    return Status::Ok();
  }
  CDC_RETURN_IF_ERROR(WriteSynced(ShapesPath(), EncodeRelationShapes(decoder.KnownRelations())));
  saved_version = decoder.shapes_version();
  return Status::Ok();
}

Result<PostgresSource::TableProblems> PostgresSource::FindTableProblems(
    PgConnection& conn, const CapturedTables& expected) {
  std::vector<PgTableRef> refs;
  for (const auto& t : options_.tables) refs.push_back(t.table);
  CDC_ASSIGN_OR_RETURN(auto now, InspectCapturedTables(conn, options_.publication, refs));
  const std::string pub = QuoteIdentifier(options_.publication);
  TableProblems problems;
  if (!now) {
    for (const PgTableRef& t : refs) {
      problems.emplace_back(t.ToString(), "table " + t.ToString() + " left the publication: " +
                                              "publication " + pub + " no longer exists");
    }
    return problems;
  }
  for (const PgCapturedTable& t : *now) {
    const std::string name = t.table.ToString();
    auto it = expected.find(name);
    std::optional<uint32_t> was;
    bool gap = false;
    if (it != expected.end()) {
      if (it->second.oid != 0) was = it->second.oid;
      gap = it->second.gap;
    }
    std::string what;
    if (t.oid == 0) {
      what = "was dropped" +
             (was ? " (OID " + std::to_string(*was) + " no longer exists)" : std::string());
    } else if (was && *was != t.oid) {
      what = "was re-created with a new OID " + std::to_string(t.oid) + " (was " +
             std::to_string(*was) + ")" +
             (t.published ? std::string() : ", and the new table is not in publication " + pub);
    } else if (!t.published) {
      what = "was removed from publication " + pub + " (ALTER PUBLICATION ... DROP TABLE)";
    } else if (gap) {
      what =
          "left the publication earlier (found while `run` streamed or at an earlier start) "
          "and that gap was not accepted yet; adding the table to the publication by hand "
          "does not close it";
    } else {
      continue;
    }
    problems.emplace_back(name, "table " + name + " " + what);
  }
  return problems;
}

Result<PostgresSource::TableProblems> PostgresSource::FindTableProblemsAtStart(PgConnection& conn) {
  bool recorded_exists = false;
  auto recorded = ReadCapturedTables(TablesPath(), recorded_exists);
  CapturedTables expected;
  for (const auto& t : options_.tables) {
    auto it = recorded.find(t.table.ToString());
    if (it == recorded.end()) continue;
    expected[it->first] = CapturedTable{it->second.first, it->second.second};
  }
  CDC_ASSIGN_OR_RETURN(auto problems, FindTableProblems(conn, expected));
  // A table configured since the last start is not a gap: it was never captured (without a
  // record, from an older version, every configured table was).
  if (recorded_exists) {
    std::erase_if(problems, [&](const auto& p) { return recorded.count(p.first) == 0; });
  }
  return problems;
}

Status PostgresSource::MarkTableGaps(const TableProblems& problems) {
  bool exists = false;
  auto recorded = ReadCapturedTables(TablesPath(), exists);
  for (const auto& [table, what] : problems) recorded[table].second = true;
  return WriteCapturedTables(TablesPath(), recorded);
}

Status PostgresSource::TableGap(const TableProblems& problems, Lsn delivered,
                                bool streaming) const {
  std::string what;
  std::string names;
  for (const auto& [table, description] : problems) {
    what += (what.empty() ? "" : "; ") + description;
    names += (names.empty() ? "" : ", ") + table;
  }
  const std::string pub = QuoteIdentifier(options_.publication);
  return FailedPrecondition(
             "table gap: " + what + ". " +
             (streaming ? std::string("`run` stopped: every change of ")
                        : std::string("Every change of ")) +
             names + " committed up to " + delivered.ToString() +
             " was delivered (the last position acknowledged to replication slot " +
             QuoteIdentifier(options_.slot) + "); changes to it after that (rows of a new " +
             "table, or written while it was not published) are not captured and would reach " +
             "no consumer as events. Ways on: to capture it again, run `cdc-pipeline run " +
             "--resnapshot` (or set source.on_position_gap: resnapshot): it adds the configured " +
             "tables to publication " + pub +
             " again, publishes a PositionGap event and snapshots every table again as READ " +
             "events; if the table is no longer to be captured, remove it from the tables " +
             "section of the config and start `run` again")
      .set_data_loss();
}

Status PostgresSource::CheckTablesAtStart(PgConnection& conn, ChangeSink& sink) {
  std::optional<Lsn> ours = ReadAcknowledged(PositionPath());
  if (!ours) return Status::Ok();  // never streamed, or a gap was accepted: nothing to compare
  CDC_ASSIGN_OR_RETURN(auto problems, FindTableProblemsAtStart(conn));
  if (problems.empty()) return Status::Ok();
  CDC_RETURN_IF_ERROR(MarkTableGaps(problems));
  Status gap = TableGap(problems, *ours, false);
  if (!options_.resnapshot_on_gap) return gap;
  // Accept only what can then be captured (the slot is dropped on accepting).
  CDC_RETURN_IF_ERROR(CheckServer(conn));
  CDC_RETURN_IF_ERROR(CheckTables(conn, options_.tables));
  CDC_ASSIGN_OR_RETURN(auto slot, InspectSlot(conn, options_.slot));
  return AcceptPositionGap(conn, slot, gap, sink);
}

Result<PostgresSource::TableProblems> PostgresSource::CheckTablesWhileStreaming() {
  if (!check_conn_) {
    CDC_ASSIGN_OR_RETURN(check_conn_, PgConnection::Connect(options_.dsn));
  }
  auto problems = FindTableProblems(*check_conn_, captured_);
  if (!problems.ok()) check_conn_.reset();
  return problems;
}

Status PostgresSource::SaveAcknowledged(Lsn lsn) {
  if (lsn <= saved_) return Status::Ok();
  CDC_RETURN_IF_ERROR(WriteSynced(PositionPath(), lsn.ToString() + "\n"));
  saved_ = lsn;
  return Status::Ok();
}

Status PostgresSource::CheckPositionGap(const std::optional<PgSlotInfo>& slot) {
  const std::string name = QuoteIdentifier(options_.slot);
  std::optional<Lsn> ours = ReadAcknowledged(PositionPath());
  std::string what;
  std::string lost;
  if (slot && slot->wal_status == "lost") {
    what = "replication slot " + name +
           " was invalidated (wal_status = lost): PostgreSQL removed WAL it still needed "
           "(max_slot_wal_keep_size)";
    lost = "changes committed after " + (ours ? *ours : slot->confirmed_flush).ToString() +
           " are lost";
  } else if (!ours) {
    return Status::Ok();  // a first start: the slot is created (or was made for us)
  } else if (!slot) {
    what = "replication slot " + name +
           " no longer exists (dropped, or lost in a failover) although this pipeline streamed "
           "from it";
    lost = "every change committed after " + ours->ToString() +
           " is lost (a new slot starts at the server's current position)";
  } else if (slot->confirmed_flush > *ours) {
    what = "replication slot " + name + " is at " + slot->confirmed_flush.ToString() +
           ", ahead of what this pipeline acknowledged (advanced by hand, or shared with another "
           "client)";
    lost = "changes committed between " + ours->ToString() + " and " +
           slot->confirmed_flush.ToString() + " are lost";
  } else {
    return Status::Ok();
  }
  return FailedPrecondition(
             "position gap: " + what + "; this pipeline's last acknowledged position is " +
             (ours ? ours->ToString() : std::string("unknown (no record in the data dir)")) +
             ", so " + lost +
             " and would reach no consumer as events. Two ways on: run `cdc-pipeline run "
             "--resnapshot` (or set source.on_position_gap: resnapshot) to accept the gap: it "
             "publishes a PositionGap event and snapshots every table again as READ events; or "
             "restore the slot at or before " +
             (ours ? ours->ToString() : std::string("the last position")) +
             " (e.g. from a backup or the old primary) and start `run` again")
      .set_data_loss();
}

Status PostgresSource::AcceptPositionGap(PgConnection& conn, const std::optional<PgSlotInfo>& slot,
                                         const Status& gap, ChangeSink& sink) {
  log::Warn("accepting a position gap (on_position_gap: resnapshot): {}", gap.message());
  // The snapshot is owed before the marker is published and before the slot and the position
  // go: a crash after any of these steps still snapshots (CreateSlot and Stream resume an
  // unfinished progress).
  CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), NewSnapshotProgress()));
  CDC_ASSIGN_OR_RETURN(PgRows now, conn.Query("SELECT pg_current_wal_lsn()::text AS lsn"));
  Lsn current = Lsn::Parse(now.Get(0, "lsn").value_or("0/0")).value_or(Lsn());
  ChangeEvent marker;
  marker.schema.clear();
  marker.table.clear();
  marker.op = Op::kPositionGap;
  marker.commit_time = SystemClock::Instance().Now();
  marker.position = ToPosition(PgPosition{current, TxId(0), 0});
  Row detail;
  detail.Add("slot", Value::Text(options_.slot));
  std::optional<Lsn> ours = ReadAcknowledged(PositionPath());
  detail.Add("lastPosition", ours ? Value::Text(ours->ToString()) : Value::Null());
  detail.Add("slotPosition", slot ? Value::Text(slot->confirmed_flush.ToString()) : Value::Null());
  detail.Add("reason", Value::Text(gap.message()));
  marker.after = std::move(detail);
  CDC_RETURN_IF_ERROR(sink.OnChange(std::move(marker), RawInput{}));
  CDC_RETURN_IF_ERROR(sink.MakeDurable());
  ++gaps_;
  if (slot) {
    CDC_RETURN_IF_ERROR(
        conn.Execute("SELECT pg_drop_replication_slot(" + QuoteLiteral(options_.slot) + ")")
            .WithContext("dropping the replication slot to snapshot again"));
  }
  if (::unlink(PositionPath().c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove '" + PositionPath() + "'");
  }
  saved_ = Lsn();
  return Status::Ok();
}

Status PostgresSource::CreateSlot(PgConnection& conn, Lsn& start) {
  // A new slot snapshots with snapshot: initial, and after an accepted position gap (also when
  // the process died between accepting it and creating the slot: its progress is unfinished).
  bool snapshot = options_.initial_snapshot || gaps_ > 0;
  if (!snapshot) {
    CDC_ASSIGN_OR_RETURN(auto owed, ReadSnapshotProgress(ProgressPath()));
    snapshot = owed && !owed->done;
  }
  if (snapshot) {
    CDC_RETURN_IF_ERROR(CheckWatermarksSupported(conn));
    CDC_RETURN_IF_ERROR(WriteSnapshotProgress(ProgressPath(), NewSnapshotProgress()));
  } else {
    ::unlink(ProgressPath().c_str());
  }
  CDC_ASSIGN_OR_RETURN(auto repl, PgReplicationConnection::Connect(options_.dsn));
  CDC_RETURN_IF_ERROR(WriteOwner("pending"));
  CDC_ASSIGN_OR_RETURN(auto created, repl->CreateSlot(options_.slot, PgCreateSlotOptions{}));
  CDC_RETURN_IF_ERROR(WriteOwner("created"));
  log::Info("created replication slot {} at {}", created.name, created.consistent_point.ToString());
  start = created.consistent_point;
  return Status::Ok();
}

Status PostgresSource::Heartbeat() {
  if (options_.heartbeat_interval.count() <= 0) return Status::Ok();
  auto now = std::chrono::steady_clock::now();
  if (now - last_heartbeat_ < options_.heartbeat_interval) return Status::Ok();
  last_heartbeat_ = now;
  if (!heartbeat_conn_) {
    auto conn = PgConnection::Connect(options_.dsn);
    if (!conn.ok()) return conn.status();
    heartbeat_conn_ = std::move(conn).value();
  }
  Status s = heartbeat_conn_->Execute(
      "SELECT pg_logical_emit_message(false, 'cdc-pipeline-heartbeat', '')");
  if (!s.ok()) heartbeat_conn_.reset();
  return s;
}

Status PostgresSource::Stream(ChangeSink& sink, Lsn start) {
  // An unfinished snapshot (initial, or after an accepted position gap) is read while streaming,
  // from where its progress says. A progress file exists only when a snapshot was begun into
  // this slot (CreateSlot removes it otherwise).
  std::unique_ptr<ChunkedSnapshot> snapshot;
  {
    CDC_ASSIGN_OR_RETURN(auto progress, ReadSnapshotProgress(ProgressPath()));
    if (progress && !progress->done) {
      ChunkedSnapshotOptions o;
      o.dsn = options_.dsn;
      o.slot = options_.slot;
      for (const auto& t : options_.tables) o.tables.push_back(t.table);
      o.chunk_size = options_.snapshot_batch_size;
      o.show_progress = options_.progress;
      if (progress->chunks > 0) {
        log::Info("resuming the initial snapshot {} of slot {} after chunk {} ({})", progress->id,
                  options_.slot, progress->chunks,
                  progress->table.empty() ? "next table" : "table " + progress->table);
      }
      snapshot = std::make_unique<ChunkedSnapshot>(std::move(o), ProgressPath(),
                                                   std::move(progress).value());
    }
  }
  auto set_snapshot_state = [&] {
    std::lock_guard lock(snapshot_mu_);
    snapshot_state_ = snapshot->State();
  };
  if (snapshot) set_snapshot_state();
  // Backfills asked for through the signal table, read after the initial snapshot.
  std::unique_ptr<Backfiller> backfiller;
  if (signals_) {
    BackfillOptions o;
    o.dsn = options_.dsn;
    o.slot = options_.slot;
    o.path = BackfillPath();
    for (const auto& t : options_.tables) o.tables.push_back(t.table);
    o.signal_table = signal_table_;
    o.chunk_size = options_.snapshot_batch_size;
    o.show_progress = options_.progress;
    CDC_ASSIGN_OR_RETURN(backfiller, Backfiller::Open(std::move(o)));
  }
  auto set_backfill_state = [&] {
    std::lock_guard lock(snapshot_mu_);
    backfill_state_ = backfiller->State();
  };
  if (backfiller) set_backfill_state();
  CDC_ASSIGN_OR_RETURN(auto shapes, LoadShapes());
  {
    // A captured table the shapes do not know yet (a new slot, a table new to the config) starts
    // from its current columns, so that a change of them before its first row is noticed too.
    std::vector<uint32_t> unknown;
    for (const auto& entry : captured_) {
      uint32_t oid = entry.second.oid;
      bool known = std::any_of(shapes.begin(), shapes.end(),
                               [oid](const PgRelation& r) { return r.id == oid; });
      if (oid != 0 && !known) unknown.push_back(oid);
    }
    if (!unknown.empty() && !options_.state_dir.empty()) {
      CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options_.dsn));
      CDC_ASSIGN_OR_RETURN(auto fresh, ReadRelationShapes(*conn, unknown));
      for (auto& rel : fresh) shapes.push_back(std::move(rel));
      std::vector<const PgRelation*> all;
      for (const auto& rel : shapes) all.push_back(&rel);
      CDC_RETURN_IF_ERROR(WriteSynced(ShapesPath(), EncodeRelationShapes(all)));
    }
  }
  CDC_ASSIGN_OR_RETURN(auto repl, PgReplicationConnection::Connect(options_.dsn));
  repl->SeedRelations(std::move(shapes));
  uint64_t saved_shapes = 0;
  PgStartOptions start_options;
  start_options.slot = options_.slot;
  start_options.publications = {options_.publication};
  start_options.start_lsn = start;
  start_options.status_interval = options_.status_interval;
  start_options.messages = snapshot != nullptr || backfiller != nullptr;  // the watermarks
  start_options.stream_in_progress = options_.stream_in_progress;
  if (!options_.state_dir.empty()) start_options.spill_dir = options_.state_dir + "/spill";
  CDC_RETURN_IF_ERROR(repl->StartReplication(start_options));
  streamed_ = true;
  connected_ = true;
  {
    // Not needed for correctness (health-check only): not synced.
    std::ofstream out(WalsenderPath(), std::ios::trunc);
    out << repl->backend_pid() << "\n";
  }
  log::Info("streaming from slot {} (publication {}, pgoutput protocol {})", options_.slot,
            options_.publication, repl->protocol_version());
  PgBegin transaction;  // the last Begin: where a watermark's chunk rows are positioned

  bool in_transaction = false;
  bool dirty = false;     // delivered but not yet made durable
  Lsn durable_candidate;  // end of the last delivered transaction
  Lsn idle_candidate;     // a keepalive position safe to acknowledge once durable
  Lsn acked(acked_.load());
  auto last_flush = std::chrono::steady_clock::now();
  // Tables that leave the publication: compared at once, at each Relation message and every
  // table_check_interval. Once a problem is found, everything committed before it is
  // delivered and acknowledged (up to `drain_to`, a WAL position written after the problem was
  // seen), then the stream stops with the table gap.
  auto next_table_check = last_flush;
  uint64_t relations_described = repl->decoder().relations_described();
  TableProblems table_problems;
  Lsn drain_to;
  std::chrono::steady_clock::time_point drain_deadline;
  // Wake up at least this often while waiting, so what was received becomes durable (and is
  // delivered) within the sink's latency budget even when no more changes arrive.
  auto timeout = std::min({options_.flush_interval, std::chrono::milliseconds(100),
                           std::max(sink.MaxIdleWait(), std::chrono::milliseconds(1))});
  while (!stop_) {
    if (snapshot && snapshot->wants_chunk()) {
      CDC_RETURN_IF_ERROR(snapshot->ReadNextChunk(sink));
      set_snapshot_state();
      if (snapshot->done()) snapshot.reset();
    } else if (!snapshot && backfiller && backfiller->wants_chunk()) {
      CDC_RETURN_IF_ERROR(backfiller->ReadNextChunk(sink));
      set_backfill_state();
    }
    CDC_ASSIGN_OR_RETURN(auto message, repl->Next(timeout));
    bool reply = false;
    bool idle = !message.has_value();
    if (message) {
      if (auto* begin = std::get_if<PgBegin>(&*message)) {
        transaction = *begin;
        in_transaction = true;
      } else if (auto* change = std::get_if<ChangeEvent>(&*message);
                 change != nullptr && signals_ && change->table == signal_table_.name &&
                 change->schema == signal_table_.schema) {
        // A command, never published.
        if (backfiller) {
          CDC_RETURN_IF_ERROR(backfiller->OnSignal(*change));
          set_backfill_state();
        }
      } else if (change != nullptr) {
        if (snapshot) snapshot->OnChange(*change);
        if (backfiller) backfiller->OnChange(*change);
        CDC_RETURN_IF_ERROR(sink.OnChange(std::move(*change), RawInput{}));
        dirty = true;
      } else if (auto* logical = std::get_if<PgLogicalMessage>(&*message)) {
        if (snapshot && logical->transactional) {
          CDC_RETURN_IF_ERROR(snapshot->OnMessage(transaction, *logical, sink));
          set_snapshot_state();
          dirty = true;
        }
        if (backfiller && logical->transactional) {
          CDC_RETURN_IF_ERROR(backfiller->OnMessage(transaction, *logical, sink));
          set_backfill_state();
          dirty = true;
        }
      } else if (auto* commit = std::get_if<PgCommit>(&*message)) {
        in_transaction = false;
        durable_candidate = std::max(durable_candidate, commit->end_lsn);
        dirty = true;
      } else if (auto* keepalive = std::get_if<PgKeepalive>(&*message)) {
        // Everything before a keepalive that arrives outside a transaction has been received;
        // once it is durable, the keepalive's position can be acknowledged.
        if (!in_transaction) idle_candidate = std::max(idle_candidate, keepalive->wal_end);
        reply = keepalive->reply_requested;
      }
    }
    // Acknowledge only between transactions; the clock is read only then (it is per message).
    auto now = in_transaction ? last_flush : std::chrono::steady_clock::now();
    if (!in_transaction && (idle || reply || now - last_flush >= options_.flush_interval)) {
      if (dirty) {
        CDC_RETURN_IF_ERROR(sink.MakeDurable());
        dirty = false;
      }
      last_flush = now;
      Lsn target = std::max(durable_candidate, idle_candidate);
      if (target > acked || reply) {
        acked = std::max(acked, target);
        CDC_RETURN_IF_ERROR(SaveShapes(repl->decoder(), saved_shapes));
        CDC_RETURN_IF_ERROR(SaveAcknowledged(acked));
        CDC_RETURN_IF_ERROR(repl->SendStatus(acked, acked, acked, false));
        acked_.store(acked.value());
      }
    }
    if (!in_transaction && table_problems.empty() &&
        (now >= next_table_check || repl->decoder().relations_described() != relations_described)) {
      relations_described = repl->decoder().relations_described();
      next_table_check = now + options_.table_check_interval;
      auto problems = CheckTablesWhileStreaming();
      if (!problems.ok()) {
        log::Warn(
            "could not compare publication {} with the configured tables (tried again in {} "
            "ms): {}",
            options_.publication, options_.table_check_interval.count(),
            problems.status().message());
      } else if (!problems->empty()) {
        table_problems = std::move(problems).value();
        // A crash from here on still finds the gap at the next start.
        CDC_RETURN_IF_ERROR(MarkTableGaps(table_problems));
        auto mark = check_conn_->Query(
            "SELECT pg_logical_emit_message(false, 'cdc-pipeline-table-check', '')::text AS lsn");
        drain_to = mark.ok() ? Lsn::Parse(mark->Get(0, "lsn").value_or("")).value_or(Lsn()) : Lsn();
        drain_deadline = now + std::chrono::seconds(60);
        log::Warn("{}; delivering what was committed before it (up to {}), then stopping",
                  table_problems.front().second, drain_to.ToString());
      }
    }
    if (!in_transaction && !table_problems.empty() &&
        (std::max(durable_candidate, idle_candidate) >= drain_to || now >= drain_deadline)) {
      if (dirty) CDC_RETURN_IF_ERROR(sink.MakeDurable());
      Lsn target = std::max(durable_candidate, idle_candidate);
      if (target > acked) {
        acked = target;
        CDC_RETURN_IF_ERROR(SaveShapes(repl->decoder(), saved_shapes));
        CDC_RETURN_IF_ERROR(SaveAcknowledged(acked));
        (void)repl->SendStatus(acked, acked, acked, false);
        acked_.store(acked.value());
      }
      (void)repl->StopReplication();
      return TableGap(table_problems, acked, true);
    }
    if (idle) {
      Status h = Heartbeat();
      if (!h.ok()) log::Warn("heartbeat failed: {}", h.message());
    }
  }
  // Stopping: make what was delivered durable and acknowledge it, then end the stream.
  if (dirty && !in_transaction) {
    CDC_RETURN_IF_ERROR(sink.MakeDurable());
    if (durable_candidate > acked) {
      acked = durable_candidate;
      CDC_RETURN_IF_ERROR(SaveShapes(repl->decoder(), saved_shapes));
      CDC_RETURN_IF_ERROR(SaveAcknowledged(acked));
      (void)repl->SendStatus(acked, acked, acked, false);
      acked_.store(acked.value());
    }
  } else if (dirty) {
    CDC_RETURN_IF_ERROR(sink.MakeDurable());  // a partial transaction is redelivered on restart
  }
  (void)repl->StopReplication();
  if (snapshot) {
    log::Warn(
        "stopped during the initial snapshot of slot {}: the next start resumes it after its "
        "last completed chunk ({} so far)",
        options_.slot, snapshot->progress().chunks);
  }
  for (const BackfillState& b : backfiller ? backfiller->State() : std::vector<BackfillState>()) {
    if (b.state != "running") continue;
    log::Warn(
        "stopped during backfill {} of {}: the next start resumes it after its last "
        "completed chunk ({} so far)",
        b.id, b.table, b.chunks);
  }
  return Status::Ok();
}

std::optional<SnapshotState> PostgresSource::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_state_;
}

std::vector<BackfillState> PostgresSource::Backfills() const {
  {
    std::lock_guard lock(snapshot_mu_);
    if (backfill_state_) return *backfill_state_;
  }
  if (options_.state_dir.empty()) return {};
  auto ledger = ReadBackfillLedger(BackfillPath());
  if (!ledger.ok() || !*ledger) return {};
  return (*ledger)->backfills;
}

Status PostgresSource::Run(ChangeSink& sink) {
  auto backoff = options_.reconnect_initial_backoff;
  bool prepared = false;
  while (!stop_) {
    Status s;
    if (!prepared) {
      s = Prepare(sink);
      if (s.ok()) prepared = true;
    }
    if (s.ok()) {
      Lsn start;
      // A missing slot is created; the initial snapshot, if any, is read while streaming.
      auto conn = PgConnection::Connect(options_.dsn);
      if (!conn.ok()) {
        s = conn.status();
      } else {
        auto slot = InspectSlot(**conn, options_.slot);
        if (!slot.ok()) {
          s = slot.status();
        } else if (Status gap = CheckPositionGap(*slot); !gap.ok()) {
          // Never a silent new slot: a gap found after streaming started stops the pipeline
          // whatever the policy (the next start applies it).
          if (!options_.resnapshot_on_gap || streamed_) return gap;
          s = AcceptPositionGap(**conn, *slot, gap, sink);
          if (s.ok()) slot->reset();
        }
        if (s.ok() && !slot->has_value()) {
          s = CreateSlot(**conn, start);
          // From here on the slot is this pipeline's: losing it is a position gap.
          if (s.ok()) s = SaveAcknowledged(start);
        }
      }
      if (s.ok()) {
        backoff = options_.reconnect_initial_backoff;
        s = Stream(sink, start);
        connected_ = false;
        if (s.ok()) return Status::Ok();  // stopped
        // The stream may have ended because the slot was invalidated (PostgreSQL terminates
        // its walsender): say so rather than what the connection saw.
        if (auto check = PgConnection::Connect(options_.dsn); check.ok() && !stop_) {
          auto slot = InspectSlot(**check, options_.slot);
          if (slot.ok()) {
            if (Status gap = CheckPositionGap(*slot); !gap.ok()) return gap;
          }
        }
      }
    }
    if (stop_) break;
    if (s.code() != StatusCode::kUnavailable) return s;
    log::Warn("PostgreSQL connection lost or unavailable: {}; reconnecting in {} ms", s.message(),
              backoff.count());
    ++reconnects_;
    auto deadline = std::chrono::steady_clock::now() + backoff;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min(backoff * 2, options_.reconnect_max_backoff);
  }
  return Status::Ok();
}

}  // namespace cdc::pg
