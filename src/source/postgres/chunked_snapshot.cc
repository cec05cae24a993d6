#include "source/postgres/chunked_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "base/hash.h"
#include "base/logging.h"
#include "base/time.h"
#include "event/change_codec.h"
#include "event/event_json.h"
#include "event/position_kinds.h"
#include "source/postgres/pg_connection.h"

namespace cdc::pg {

namespace {

constexpr std::string_view kProgressMagic = "cdc-pipeline snapshot progress 1\n";

// "schema.table": how the progress names tables.
std::string TableName(const PgTableRef& t) { return t.ToString(); }

// Transaction ids as pgoutput sends them (32 bits), compared modulo 2^32 like PostgreSQL does.
bool XidPrecedes(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

// A chunk's snapshot as pg_current_snapshot() prints it: "xmin:xmax:xip,xip,...".
struct XidSnapshot {
  uint32_t xmin = 0;
  uint32_t xmax = 0;
  std::set<uint32_t> xip;

  // Whether the changes of transaction `xid` are visible in this snapshot.
  bool Sees(uint32_t xid) const {
    if (XidPrecedes(xid, xmin)) return true;
    if (!XidPrecedes(xid, xmax)) return false;
    return xip.count(xid) == 0;
  }
};

std::optional<XidSnapshot> ParseXidSnapshot(std::string_view text) {
  XidSnapshot s;
  auto number = [](std::string_view part, uint32_t& out) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || end != part.data() + part.size()) return false;
    out = static_cast<uint32_t>(v);  // the 32 low bits: what pgoutput sends
    return true;
  };
  size_t a = text.find(':');
  size_t b = a == std::string_view::npos ? a : text.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  if (!number(text.substr(0, a), s.xmin) || !number(text.substr(a + 1, b - a - 1), s.xmax)) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(b + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    uint32_t xid;
    if (!number(rest.substr(0, comma), xid)) return std::nullopt;
    s.xip.insert(xid);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return s;
}

// The key of a row as one string (the JSON of each key value), so a chunk row and a change of the
// same row compare equal. nullopt when a key column is missing from `row`.
std::optional<std::string> KeyOf(const Row& row, const std::vector<std::string>& key_columns) {
  std::string key;
  for (const auto& name : key_columns) {
    const Value* v = row.Find(name);
    if (v == nullptr) return std::nullopt;
    key += ValueToJson(*v);
    key += '\x1f';
  }
  return key;
}

// A key no row has: a TRUNCATE touched every row.
const std::string kEveryKey(1, '\0');

// A progress bar on a terminal, a log line every 10% otherwise.
class ProgressBar {
 public:
  ProgressBar(std::string what, std::string label, int64_t estimate, bool enabled)
      : what_(std::move(what)),
        label_(std::move(label)),
        estimate_(std::max<int64_t>(estimate, 1)),
        enabled_(enabled),
        tty_(::isatty(2) != 0) {}

  void Update(int64_t rows, bool done = false) {
    if (!enabled_) return;
    int pct = static_cast<int>(std::min<int64_t>(100, rows * 100 / estimate_));
    if (done) pct = 100;
    if (tty_) {
      int filled = pct / 4;
      std::fprintf(stderr, "\r%s %-24s [%-25s] %3d%% %lld rows", what_.c_str(), label_.c_str(),
                   std::string(static_cast<size_t>(filled), '#').c_str(), pct,
                   static_cast<long long>(rows));
      if (done) std::fputc('\n', stderr);
    } else if (done || pct / 10 > last_decile_) {
      last_decile_ = pct / 10;
      log::Info("{} {}: {} rows ({}%)", what_, label_, rows, pct);
    }
  }

 private:
  std::string what_;
  std::string label_;
  int64_t estimate_;
  bool enabled_;
  bool tty_;
  int last_decile_ = -1;
};

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing '" + path + "'", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

bool GetU64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  in.remove_prefix(8);
  return true;
}

}  // namespace

struct ChunkedSnapshot::TableShape {
  PgTableRef table;
  std::vector<std::string> columns;
  std::vector<uint32_t> oids;
  std::vector<std::string> key_columns;  // primary key; every column when there is none
  std::vector<size_t> key_index;         // into columns
  std::vector<std::string> key_types;    // format_type of each key column
  bool chunked = true;                   // false without a primary key: one chunk
  std::unique_ptr<ProgressBar> bar;
};

struct ChunkedSnapshot::Chunk {
  uint64_t number = 0;
  Lsn low;
  Lsn high;
  bool low_seen = false;
  bool last = false;  // the table's last chunk
  XidSnapshot snapshot;
  std::vector<ChangeEvent> rows;
  std::vector<std::string> keys;      // of rows
  std::vector<std::string> last_key;  // text of the last row's key columns
  std::set<std::string> changed;      // keys changed between the watermarks
};

SnapshotProgress NewSnapshotProgress() {
  std::random_device random;
  std::string bytes;
  for (int i = 0; i < 2; ++i) {
    uint32_t r = random();
    bytes.append(reinterpret_cast<const char*>(&r), sizeof r);
  }
  SnapshotProgress p;
  p.id = HexEncode(bytes);
  return p;
}

std::string EncodeSnapshotProgress(const SnapshotProgress& p) {
  std::string body;
  PutString(body, p.id);
  PutVarint(body, p.done ? 1 : 0);
  PutVarint(body, p.completed.size());
  for (const auto& t : p.completed) PutString(body, t);
  PutString(body, p.table);
  PutVarint(body, p.last_key.size());
  for (const auto& k : p.last_key) PutString(body, k);
  PutVarint(body, p.chunks);
  PutVarint(body, p.table_rows);
  PutU64(body, p.emitted_at.value());
  PutVarint(body, p.emitted.size());
  std::string record;
  for (const auto& change : p.emitted) {
    record.clear();
    EncodeChange(change, record);
    PutString(body, record);
  }
  return body;
}

Result<SnapshotProgress> DecodeSnapshotProgress(std::string_view body) {
  auto truncated = [] { return Corruption("truncated"); };
  SnapshotProgress p;
  uint64_t done, count, lsn;
  if (!GetString(body, p.id) || !GetVarint(body, done) || !GetVarint(body, count)) {
    return truncated();
  }
  p.done = done != 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::string t;
    if (!GetString(body, t)) return truncated();
    p.completed.push_back(std::move(t));
  }
  if (!GetString(body, p.table) || !GetVarint(body, count)) return truncated();
  for (uint64_t i = 0; i < count; ++i) {
    std::string k;
    if (!GetString(body, k)) return truncated();
    p.last_key.push_back(std::move(k));
  }
  if (!GetVarint(body, p.chunks) || !GetVarint(body, p.table_rows) || !GetU64(body, lsn) ||
      !GetVarint(body, count)) {
    return truncated();
  }
  p.emitted_at = Lsn(lsn);
  for (uint64_t i = 0; i < count; ++i) {
    std::string record;
    if (!GetString(body, record)) return truncated();
    auto change = DecodeChange(record);
    if (!change.ok()) return Corruption(change.status().message());
    p.emitted.push_back(std::move(change).value());
  }
  if (!body.empty()) return Corruption("trailing bytes");
  return p;
}

Result<std::optional<SnapshotProgress>> ReadSnapshotProgress(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return std::optional<SnapshotProgress>();
    return ErrnoError("opening the snapshot progress '" + path + "'", errno);
  }
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IoError("cannot read the snapshot progress '" + path + "'");
  auto corrupt = [&](std::string_view what) {
    return Corruption("the snapshot progress '" + path + "' is damaged (" + std::string(what) +
                      "): delete it to read the initial snapshot again from its start");
  };
  auto body = UnsealWithSha1(data, kProgressMagic, "not a progress file");
  if (!body.ok()) return corrupt(body.status().message());
  auto p = DecodeSnapshotProgress(*body);
  if (!p.ok()) return corrupt(p.status().message());
  return std::optional<SnapshotProgress>(std::move(p).value());
}

Status WriteSnapshotProgress(const std::string& path, const SnapshotProgress& p) {
  return ReplaceFileDurably(path, SealWithSha1(kProgressMagic, EncodeSnapshotProgress(p)));
}

Status ReplaceFileDurably(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("creating '" + tmp + "'", errno);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoError("fsync of '" + tmp + "'", errno);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("renaming '" + tmp + "' to '" + path + "'", errno);
  }
  std::string dir =
      path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError("opening the directory of '" + path + "'", errno);
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return ErrnoError("fsync of the directory of '" + path + "'", err);
  return Status::Ok();
}

ChunkedSnapshot::ChunkedSnapshot(ChunkedSnapshotOptions options, std::string progress_path,
                                 SnapshotProgress progress)
    : options_(std::move(options)),
      path_(std::move(progress_path)),
      progress_(std::move(progress)) {}

ChunkedSnapshot::~ChunkedSnapshot() = default;

Status ChunkedSnapshot::Save() {
  return options_.save ? options_.save(progress_) : WriteSnapshotProgress(path_, progress_);
}

Status ChunkedSnapshot::StartTable(const PgTableRef& table) {
  CDC_ASSIGN_OR_RETURN(auto infos, InspectTables(*conn_, {table}));
  if (infos.empty() || !infos[0].exists) {
    return FailedPrecondition("table " + table.ToString() + " of the " + options_.label +
                              " does not exist");
  }
  const PgTableInfo& info = infos[0];
  auto shape = std::make_unique<TableShape>();
  shape->table = table;
  CDC_ASSIGN_OR_RETURN(
      PgRows columns,
      conn_->Query("SELECT attname, atttypid::int8, format_type(atttypid, atttypmod) FROM "
                   "pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped "
                   "ORDER BY attnum",
                   {std::to_string(info.oid)}));
  std::vector<std::string> types;
  for (size_t i = 0; i < columns.size(); ++i) {
    shape->columns.push_back(*columns.rows[i][0]);
    shape->oids.push_back(static_cast<uint32_t>(std::stoul(*columns.rows[i][1])));
    types.push_back(*columns.rows[i][2]);
  }
  CDC_RETURN_IF_ERROR(LoadTypes(*conn_, shape->oids, types_));
  shape->key_columns = info.primary_key;
  shape->chunked = !shape->key_columns.empty();
  if (!shape->chunked) shape->key_columns = shape->columns;
  for (const auto& k : shape->key_columns) {
    auto it = std::find(shape->columns.begin(), shape->columns.end(), k);
    if (it == shape->columns.end()) return Internal("key column " + k + " not among the columns");
    size_t i = static_cast<size_t>(it - shape->columns.begin());
    shape->key_index.push_back(i);
    shape->key_types.push_back(types[i]);
  }
  CDC_ASSIGN_OR_RETURN(
      PgRows estimate,
      conn_->Query("SELECT GREATEST(reltuples, 0)::int8 FROM pg_class WHERE oid = $1::oid",
                   {std::to_string(info.oid)}));
  int64_t expected =
      estimate.empty() || !estimate.rows[0][0] ? 0 : std::stoll(*estimate.rows[0][0]);
  if (!options_.where.empty()) {
    // The planner's estimate of the matching rows; this also refuses a condition that does not
    // parse or names unknown columns before any watermark is written.
    CDC_ASSIGN_OR_RETURN(PgRows plan, conn_->QueryOne("EXPLAIN SELECT 1 FROM " + table.Quoted() +
                                                      " WHERE (" + options_.where + ")"));
    expected = 0;
    if (!plan.empty() && plan.rows[0][0]) {
      const std::string& line = *plan.rows[0][0];
      size_t at = line.find(" rows=");
      if (at != std::string::npos) expected = std::atoll(line.c_str() + at + 6);
    }
  }
  shape->bar = std::make_unique<ProgressBar>(options_.label, table.ToString(), expected,
                                             options_.show_progress);
  table_estimate_ = static_cast<uint64_t>(std::max<int64_t>(expected, 0));
  shape_ = std::move(shape);
  changed_by_xid_.clear();
  return Status::Ok();
}

Result<Lsn> ChunkedSnapshot::EmitWatermark(uint64_t chunk, const char* which) {
  std::string content = progress_.id + ":" + std::to_string(chunk) + ":" + which;
  CDC_ASSIGN_OR_RETURN(PgRows rows,
                       conn_->Query("SELECT pg_logical_emit_message(true, $1, $2)::text",
                                    {kWatermarkPrefix, content}));
  std::optional<Lsn> lsn;
  if (!rows.empty() && rows.rows[0][0]) lsn = Lsn::Parse(*rows.rows[0][0]);
  if (!lsn) return Internal("pg_logical_emit_message returned no LSN");
  return *lsn;
}

SnapshotState ChunkedSnapshot::State() const {
  SnapshotState s;
  s.done = progress_.done;
  s.tables = options_.tables.size();
  s.tables_done = std::min<uint64_t>(progress_.completed.size(), s.tables);
  s.table = progress_.table;
  s.table_rows = progress_.table_rows;
  s.table_estimate = progress_.table.empty() ? 0 : table_estimate_;
  s.chunks = progress_.chunks;
  return s;
}

Status ChunkedSnapshot::ReadNextChunk(ChangeSink& sink, bool* database_error) {
  bool ignored = false;
  bool& from_database = database_error != nullptr ? *database_error : ignored;
  from_database = true;
  if (!conn_) {
    CDC_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(options_.dsn));
  }
  // The table to read: the one in progress, or the next one not completed.
  while (progress_.table.empty()) {
    const PgTableRef* next = nullptr;
    for (const auto& t : options_.tables) {
      if (std::find(progress_.completed.begin(), progress_.completed.end(), TableName(t)) ==
          progress_.completed.end()) {
        next = &t;
        break;
      }
    }
    if (next == nullptr) {
      from_database = false;
      CDC_RETURN_IF_ERROR(sink.MakeDurable());
      progress_.done = true;
      progress_.emitted.clear();
      CDC_RETURN_IF_ERROR(Save());
      log::Info("{} {} of slot {} complete ({} chunks)", options_.label, progress_.id,
                options_.slot, progress_.chunks);
      return Status::Ok();
    }
    progress_.table = TableName(*next);
    progress_.last_key.clear();
    progress_.table_rows = 0;
  }
  if (!shape_ || TableName(shape_->table) != progress_.table) {
    const PgTableRef* table = nullptr;
    for (const auto& t : options_.tables) {
      if (TableName(t) == progress_.table) table = &t;
    }
    if (table == nullptr) {
      // The table left the config while its snapshot was running.
      log::Warn("table {} is no longer configured; its {} is skipped", progress_.table,
                options_.label);
      progress_.completed.push_back(progress_.table);
      progress_.table.clear();
      return Status::Ok();
    }
    CDC_RETURN_IF_ERROR(StartTable(*table));
  }
  const TableShape& shape = *shape_;
  auto chunk = std::make_unique<Chunk>();
  chunk->number = progress_.chunks + 1;

  std::string select = "SELECT ";
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    select += (i ? ", " : "") + QuoteIdentifier(shape.columns[i]);
  }
  select += " FROM " + shape.table.Quoted();
  std::vector<std::string> params;
  std::string condition;
  if (!options_.where.empty()) condition = "(" + options_.where + ")";
  if (shape.chunked) {
    std::string keys, order;
    for (size_t i = 0; i < shape.key_columns.size(); ++i) {
      keys += (i ? ", " : "") + QuoteIdentifier(shape.key_columns[i]);
    }
    if (!progress_.last_key.empty()) {
      std::string values;
      for (size_t i = 0; i < shape.key_columns.size(); ++i) {
        values += (i ? ", " : "") + ("$" + std::to_string(i + 1)) + "::" + shape.key_types[i];
      }
      condition += (condition.empty() ? "(" : " AND (") + keys + ") > (" + values + ")";
      params = progress_.last_key;
      if (params.size() != shape.key_columns.size()) {
        return FailedPrecondition("the primary key of " + progress_.table +
                                  " changed during its snapshot; delete the snapshot progress "
                                  "file '" +
                                  path_ + "' to read it again from its start");
      }
    }
    if (!condition.empty()) select += " WHERE " + condition;
    select += " ORDER BY " + keys + " LIMIT " + std::to_string(options_.chunk_size);
  } else if (!condition.empty()) {
    select += " WHERE " + condition;
  }

  CDC_ASSIGN_OR_RETURN(chunk->low, EmitWatermark(chunk->number, "low"));
  CDC_RETURN_IF_ERROR(conn_->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  auto read = [&]() -> Result<PgRows> {
    CDC_ASSIGN_OR_RETURN(PgRows snap, conn_->Query("SELECT pg_current_snapshot()::text"));
    std::optional<XidSnapshot> xids;
    if (!snap.empty() && snap.rows[0][0]) xids = ParseXidSnapshot(*snap.rows[0][0]);
    if (!xids) return Internal("unreadable pg_current_snapshot()");
    chunk->snapshot = std::move(*xids);
    return conn_->QueryOne(select, params);
  };
  auto rows = read();
  Status ended = conn_->Execute(rows.ok() ? "COMMIT" : "ROLLBACK");
  if (!rows.ok()) return rows.status().WithContext(options_.label + " of " + progress_.table);
  CDC_RETURN_IF_ERROR(ended);
  chunk->last = !shape.chunked || rows->size() < options_.chunk_size;
  for (auto& values : rows->rows) {
    ChangeEvent change;
    change.schema = shape.table.schema;
    change.table = shape.table.name;
    change.op = Op::kRead;
    Row row;
    for (size_t i = 0; i < shape.columns.size(); ++i) {
      if (!values[i]) {
        row.Add(shape.columns[i], Value::Null());
        continue;
      }
      auto v = DecodeText(shape.oids[i], *values[i], types_);
      if (!v.ok()) {
        return v.status().WithContext(options_.label + " of " + progress_.table + " column " +
                                      shape.columns[i]);
      }
      row.Add(shape.columns[i], std::move(v).value());
    }
    for (const auto& k : shape.key_columns) {
      if (const Value* v = row.Find(k)) change.key.Add(k, *v);
    }
    chunk->keys.push_back(KeyOf(row, shape.key_columns).value_or(std::string()));
    change.after = std::move(row);
    chunk->rows.push_back(std::move(change));
  }
  if (!rows->rows.empty() && shape.chunked) {
    for (size_t i : shape.key_index) chunk->last_key.push_back(*rows->rows.back()[i]);
  }
  CDC_ASSIGN_OR_RETURN(chunk->high, EmitWatermark(chunk->number, "high"));
  in_flight_ = std::move(chunk);
  return Status::Ok();
}

void ChunkedSnapshot::OnChange(const ChangeEvent& change) {
  if (!shape_ || change.table != shape_->table.name || change.schema != shape_->table.schema) {
    return;
  }
  auto position = PgPositionOf(change.position);
  if (!position) return;
  uint32_t xid = static_cast<uint32_t>(position->xid.value());
  std::set<std::string>& keys = changed_by_xid_[xid];
  auto touch = [&](const std::string& key) {
    keys.insert(key);
    if (in_flight_ && in_flight_->low_seen) in_flight_->changed.insert(key);
  };
  if (change.op == Op::kTruncate) touch(kEveryKey);
  for (const auto* row :
       {change.before ? &*change.before : nullptr, change.after ? &*change.after : nullptr}) {
    if (row == nullptr) continue;
    if (auto key = KeyOf(*row, shape_->key_columns)) touch(*key);
  }
}

Status ChunkedSnapshot::OnMessage(const PgBegin& begin, const PgLogicalMessage& message,
                                  ChangeSink& sink) {
  if (message.prefix != kWatermarkPrefix || !message.transactional) return Status::Ok();
  if (in_flight_ && message.lsn == in_flight_->low) {
    in_flight_->low_seen = true;
    return Status::Ok();
  }
  if (in_flight_ && message.lsn == in_flight_->high) return Complete(begin, sink);
  if (!progress_.emitted.empty() && message.lsn == progress_.emitted_at) {
    // The stream replays the high watermark of the last chunk completed before a restart: its
    // rows again, at the same positions (the runtime skips those it already holds).
    for (const auto& row : progress_.emitted) CDC_RETURN_IF_ERROR(sink.OnChange(row, RawInput{}));
  }
  return Status::Ok();
}

Status ChunkedSnapshot::Complete(const PgBegin& begin, ChangeSink& sink) {
  Chunk& chunk = *in_flight_;
  if (!chunk.low_seen) {
    return Internal("the high watermark of snapshot chunk " + std::to_string(chunk.number) +
                    " arrived before its low watermark");
  }
  // Keys the chunk's snapshot may hold a stale or premature image of: changed between the
  // watermarks, or changed (before the high watermark) by a transaction the snapshot did not see.
  std::set<std::string> skip = chunk.changed;
  for (const auto& [xid, keys] : changed_by_xid_) {
    if (!chunk.snapshot.Sees(xid)) skip.insert(keys.begin(), keys.end());
  }
  bool every = skip.count(kEveryKey) > 0;
  std::vector<ChangeEvent> emitted;
  uint32_t seq = 0;
  for (size_t i = 0; i < chunk.rows.size(); ++i) {
    if (every || skip.count(chunk.keys[i])) continue;
    ChangeEvent& row = chunk.rows[i];
    row.commit_time = begin.commit_time;
    row.position = ToPosition(PgPosition{begin.final_lsn, begin.xid, seq++});
    emitted.push_back(std::move(row));
  }
  // Transactions every later chunk sees need no tracking any more.
  for (auto it = changed_by_xid_.begin(); it != changed_by_xid_.end();) {
    it = XidPrecedes(it->first, chunk.snapshot.xmin) ? changed_by_xid_.erase(it) : std::next(it);
  }

  // What was passed on before (earlier chunks' rows among it) must be durable before the
  // progress forgets those rows.
  CDC_RETURN_IF_ERROR(sink.MakeDurable());
  ++progress_.chunks;
  progress_.table_rows += emitted.size();
  progress_.emitted_at = chunk.high;
  progress_.emitted = emitted;
  shape_->bar->Update(static_cast<int64_t>(progress_.table_rows), chunk.last);
  if (chunk.last) {
    log::Info("{} of {} done: {} rows", options_.label, progress_.table, progress_.table_rows);
    progress_.completed.push_back(progress_.table);
    progress_.table.clear();
    progress_.last_key.clear();
  } else {
    progress_.last_key = chunk.last_key;
  }
  in_flight_.reset();
  CDC_RETURN_IF_ERROR(Save());
  for (auto& row : emitted) CDC_RETURN_IF_ERROR(sink.OnChange(std::move(row), RawInput{}));
  return Status::Ok();
}

}  // namespace cdc::pg
