#include "source/postgres/backfill.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>

#include "base/hash.h"
#include "base/logging.h"
#include "base/scrub.h"
#include "base/time.h"
#include "event/change_codec.h"

namespace cdc::pg {

namespace {

constexpr std::string_view kLedgerMagic = "cdc-pipeline backfill ledger 1\n";

int64_t NowMicros() { return SystemClock::Instance().Now().micros; }

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

// The text of a column of a signal row; nullopt when it is missing or NULL.
std::optional<std::string> TextOf(const Row& row, std::string_view column) {
  const Value* v = row.Find(column);
  if (v == nullptr || v->is_null() || !IsStringKind(v->kind())) return std::nullopt;
  return std::string(v->as_string());
}

std::string Names(const std::vector<PgTableRef>& tables) {
  std::string out;
  for (const auto& t : tables) out += (out.empty() ? "" : ", ") + t.ToString();
  return out.empty() ? "none" : out;
}

}  // namespace

Result<BackfillRequest> ParseBackfillData(std::string_view json) {
  static const char kExpected[] =
      R"(expected a JSON object like {"table": "public.users", "where": "id > 100"}, where "where" is optional)";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (json.empty() || parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument(std::string("data is not JSON; ") + kExpected);
  }
  simdjson::dom::object object;
  if (doc.get(object) != simdjson::SUCCESS) {
    return InvalidArgument(std::string("data is not a JSON object; ") + kExpected);
  }
  BackfillRequest request;
  bool has_table = false;
  for (auto field : object) {
    std::string_view text;
    if (field.key == "table") {
      if (field.value.get(text) != simdjson::SUCCESS) {
        return InvalidArgument(std::string("\"table\" is not a string; ") + kExpected);
      }
      request.table = std::string(text);
      has_table = true;
    } else if (field.key == "where") {
      if (field.value.is_null()) continue;
      if (field.value.get(text) != simdjson::SUCCESS) {
        return InvalidArgument(std::string("\"where\" is not a string; ") + kExpected);
      }
      request.where = std::string(text);
    } else {
      return InvalidArgument("unknown key \"" + std::string(field.key) +
                             "\" in data (known: \"table\", \"where\"); " + kExpected);
    }
  }
  auto blank = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
  };
  if (!has_table || blank(request.table)) {
    return InvalidArgument(std::string("data has no \"table\"; ") + kExpected);
  }
  if (blank(request.where)) request.where.clear();
  return request;
}

PgTableRef ParseTableName(std::string_view name) {
  PgTableRef ref;
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) {
    ref.name = std::string(name);
  } else {
    ref.schema = std::string(name.substr(0, dot));
    ref.name = std::string(name.substr(dot + 1));
  }
  return ref;
}

Result<PgTableRef> ResolveCapturedTable(std::string_view name,
                                        const std::vector<PgTableRef>& configured) {
  std::vector<PgTableRef> found;
  if (name.find('.') != std::string_view::npos) {
    PgTableRef ref = ParseTableName(name);
    if (std::find(configured.begin(), configured.end(), ref) != configured.end()) return ref;
  } else {
    for (const auto& t : configured) {
      if (t.name == name) found.push_back(t);
    }
    if (found.size() == 1) return found.front();
    if (found.size() > 1) {
      return InvalidArgument("table \"" + std::string(name) +
                             "\" is ambiguous: the pipeline captures " + Names(found) +
                             "; name it with its schema");
    }
  }
  return NotFound("table \"" + std::string(name) +
                  "\" is not captured by this pipeline (the tables section of the config has " +
                  Names(configured) + "); only a captured table can be backfilled");
}

Result<std::optional<BackfillLedger>> ReadBackfillLedger(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return std::optional<BackfillLedger>();
    return ErrnoError("opening the backfill ledger '" + path + "'", errno);
  }
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return IoError("cannot read the backfill ledger '" + path + "'");
  auto corrupt = [&](std::string_view what) {
    return Corruption("the backfill ledger '" + path + "' is damaged (" + std::string(what) +
                      "): restore it from a backup of the data dir, or delete it (the queued and "
                      "running backfills are forgotten: ask for them again)");
  };
  auto unsealed = UnsealWithSha1(data, kLedgerMagic, "not a backfill ledger");
  if (!unsealed.ok()) return corrupt(unsealed.status().message());
  std::string_view body = *unsealed;
  BackfillLedger ledger;
  uint64_t lsn, xid, seq, count;
  if (!GetU64(body, lsn) || !GetU64(body, xid) || !GetVarint(body, seq) ||
      !GetVarint(body, count)) {
    return corrupt("truncated");
  }
  ledger.last_signal =
      PgPosition{Lsn(lsn), TxId(static_cast<uint32_t>(xid)), static_cast<uint32_t>(seq)};
  for (uint64_t i = 0; i < count; ++i) {
    BackfillState b;
    uint64_t requested, finished;
    if (!GetString(body, b.id) || !GetString(body, b.table) || !GetString(body, b.where) ||
        !GetString(body, b.state) || !GetString(body, b.error) || !GetVarint(body, b.chunks) ||
        !GetVarint(body, b.rows) || !GetU64(body, requested) || !GetU64(body, finished)) {
      return corrupt("truncated");
    }
    b.requested_micros = static_cast<int64_t>(requested);
    b.finished_micros = static_cast<int64_t>(finished);
    ledger.backfills.push_back(std::move(b));
  }
  uint64_t running;
  if (!GetVarint(body, running)) return corrupt("truncated");
  if (running != 0) {
    std::string progress;
    if (!GetString(body, progress)) return corrupt("truncated");
    auto p = DecodeSnapshotProgress(progress);
    if (!p.ok()) return corrupt(p.status().message());
    ledger.running = std::move(p).value();
  }
  if (!body.empty()) return corrupt("trailing bytes");
  return std::optional<BackfillLedger>(std::move(ledger));
}

Status WriteBackfillLedger(const std::string& path, const BackfillLedger& ledger) {
  std::string body;
  PutU64(body, ledger.last_signal.commit_lsn.value());
  PutU64(body, ledger.last_signal.xid.value());
  PutVarint(body, ledger.last_signal.seq);
  PutVarint(body, ledger.backfills.size());
  for (const BackfillState& b : ledger.backfills) {
    PutString(body, b.id);
    PutString(body, b.table);
    PutString(body, b.where);
    PutString(body, b.state);
    PutString(body, b.error);
    PutVarint(body, b.chunks);
    PutVarint(body, b.rows);
    PutU64(body, static_cast<uint64_t>(b.requested_micros));
    PutU64(body, static_cast<uint64_t>(b.finished_micros));
  }
  PutVarint(body, ledger.running ? 1 : 0);
  if (ledger.running) PutString(body, EncodeSnapshotProgress(*ledger.running));
  return ReplaceFileDurably(path, SealWithSha1(kLedgerMagic, body));
}

Backfiller::Backfiller(BackfillOptions options) : options_(std::move(options)) {}

Backfiller::~Backfiller() = default;

Result<std::unique_ptr<Backfiller>> Backfiller::Open(BackfillOptions options) {
  std::unique_ptr<Backfiller> b(new Backfiller(std::move(options)));
  CDC_ASSIGN_OR_RETURN(auto ledger, ReadBackfillLedger(b->options_.path));
  if (ledger) b->ledger_ = std::move(*ledger);
  if (b->Running() != nullptr) {
    // Made now, so that the stream replaying the high watermark of its last completed chunk
    // passes those rows on again.
    CDC_RETURN_IF_ERROR(b->Start());
  }
  return b;
}

BackfillState* Backfiller::Running() {
  for (auto& b : ledger_.backfills) {
    if (b.state == "running") return &b;
  }
  return nullptr;
}

Status Backfiller::Save() { return WriteBackfillLedger(options_.path, ledger_); }

void Backfiller::TrimFinished() {
  size_t finished = 0;
  for (const auto& b : ledger_.backfills) finished += b.state == "done" || b.state == "failed";
  for (auto it = ledger_.backfills.begin();
       finished > kKeptFinished && it != ledger_.backfills.end();) {
    if (it->state == "done" || it->state == "failed") {
      it = ledger_.backfills.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

Status Backfiller::OnSignal(const ChangeEvent& change) {
  const std::string signal_table = options_.signal_table.ToString();
  if (change.op != Op::kInsert || !change.after) return Status::Ok();  // only new rows signal
  auto position = PgPositionOf(change.position);
  if (!position) return Status::Ok();
  if (*position <= ledger_.last_signal) {
    // Sent again after a restart (its transaction was not acknowledged): taken already.
    return Status::Ok();
  }
  std::optional<std::string> id = TextOf(*change.after, "id");
  std::optional<std::string> type = TextOf(*change.after, "type");
  std::optional<std::string> data = TextOf(*change.after, "data");
  if (!id || id->empty()) {
    log::Warn("a row of signal table {} has no id: ignored", signal_table);
    return Status::Ok();
  }
  if (type != std::optional<std::string>(kBackfillSignal)) {
    log::Warn("signal {} in {}: type '{}' is not one this pipeline knows (known: {}): ignored", *id,
              signal_table, type.value_or(""), kBackfillSignal);
    return Status::Ok();
  }
  auto request = ParseBackfillData(data.value_or(""));
  if (!request.ok()) {
    log::Warn("signal {} in {} (backfill): {}: ignored", *id, signal_table,
              request.status().message());
    return Status::Ok();
  }
  auto table = ResolveCapturedTable(request->table, options_.tables);
  if (!table.ok()) {
    log::Warn("signal {} in {} (backfill): {}: ignored", *id, signal_table,
              table.status().message());
    return Status::Ok();
  }
  for (const auto& b : ledger_.backfills) {
    if (b.id == *id) {
      log::Warn(
          "signal {} in {} (backfill): a backfill with this id was already asked for: "
          "ignored (give each signal a new id)",
          *id, signal_table);
      return Status::Ok();
    }
  }
  size_t ahead = 0;
  for (const auto& b : ledger_.backfills) ahead += b.state == "queued" || b.state == "running";
  BackfillState b;
  b.id = *id;
  b.table = table->ToString();
  b.where = request->where;
  b.state = "queued";
  b.requested_micros = change.commit_time.micros > 0 ? change.commit_time.micros : NowMicros();
  ledger_.backfills.push_back(std::move(b));
  ledger_.last_signal = *position;
  CDC_RETURN_IF_ERROR(Save());
  // The condition is not logged: it may quote values.
  log::Info("backfill {} of {}{} queued ({} before it)", *id, table->ToString(),
            request->where.empty() ? "" : " (rows matching a condition)", ahead);
  return Status::Ok();
}

bool Backfiller::wants_chunk() const {
  if (snapshot_) return snapshot_->wants_chunk();
  return std::any_of(ledger_.backfills.begin(), ledger_.backfills.end(),
                     [](const auto& b) { return b.state == "queued" || b.state == "running"; });
}

Status Backfiller::Start() {
  BackfillState* running = Running();
  if (running == nullptr) {
    for (auto& b : ledger_.backfills) {
      if (b.state != "queued") continue;
      running = &b;
      break;
    }
    if (running == nullptr) return Status::Ok();
    running->state = "running";
    SnapshotProgress progress = NewSnapshotProgress();
    progress.id = running->id;
    ledger_.running = std::move(progress);
    CDC_RETURN_IF_ERROR(Save());
    log::Info("backfill {} of {} started", running->id, running->table);
  } else if (!ledger_.running) {
    ledger_.running = NewSnapshotProgress();
    ledger_.running->id = running->id;
  } else if (ledger_.running->chunks > 0) {
    log::Info("resuming backfill {} of {} after chunk {}", running->id, running->table,
              ledger_.running->chunks);
  }
  ChunkedSnapshotOptions o;
  o.dsn = options_.dsn;
  o.slot = options_.slot;
  o.chunk_size = options_.chunk_size;
  o.show_progress = options_.show_progress;
  o.where = running->where;
  o.label = "backfill";
  PgTableRef table = ParseTableName(running->table);
  if (std::find(options_.tables.begin(), options_.tables.end(), table) == options_.tables.end()) {
    running->state = "failed";
    running->error = "table " + running->table + " is no longer captured (not in the config)";
    running->finished_micros = NowMicros();
    ledger_.running.reset();
    log::Warn("backfill {} failed: {}", running->id, running->error);
    TrimFinished();
    return Save();
  }
  o.tables = {table};
  std::string id = running->id;
  o.save = [this, id](const SnapshotProgress& progress) {
    BackfillState* b = Running();
    if (b == nullptr || b->id != id) return Internal("backfill " + id + " is not running");
    b->chunks = progress.chunks;
    b->rows = progress.table_rows;
    if (progress.done) {
      b->state = "done";
      b->finished_micros = NowMicros();
      ledger_.running.reset();
      TrimFinished();
    } else {
      ledger_.running = progress;
    }
    return Save();
  };
  snapshot_ = std::make_unique<ChunkedSnapshot>(std::move(o), options_.path, *ledger_.running);
  rows_estimate_ = 0;
  return Status::Ok();
}

Status Backfiller::ReadNextChunk(ChangeSink& sink) {
  if (!snapshot_) {
    CDC_RETURN_IF_ERROR(Start());
    if (!snapshot_) return Status::Ok();
  }
  bool from_database = false;
  Status s = snapshot_->ReadNextChunk(sink, &from_database);
  if (!s.ok()) {
    if (!from_database || s.code() == StatusCode::kUnavailable) return s;
    BackfillState* b = Running();
    if (b == nullptr) return s;
    b->state = "failed";
    b->error = ScrubSecrets(s.message());
    b->finished_micros = NowMicros();
    ledger_.running.reset();
    snapshot_.reset();
    log::Warn(
        "backfill {} of {} failed: {}. The pipeline goes on streaming; fix the table or "
        "the condition and ask for the backfill again",
        b->id, b->table, b->error);
    TrimFinished();
    return Save();
  }
  rows_estimate_ = snapshot_->State().table_estimate;
  if (snapshot_->done()) snapshot_.reset();  // its save marked it done
  return Status::Ok();
}

void Backfiller::OnChange(const ChangeEvent& change) {
  if (snapshot_) snapshot_->OnChange(change);
}

Status Backfiller::OnMessage(const PgBegin& begin, const PgLogicalMessage& message,
                             ChangeSink& sink) {
  if (!snapshot_) return Status::Ok();
  return snapshot_->OnMessage(begin, message, sink);
}

std::vector<BackfillState> Backfiller::State() const {
  std::vector<BackfillState> out = ledger_.backfills;
  for (auto& b : out) {
    if (b.state == "running") b.rows_estimate = rows_estimate_;
  }
  return out;
}

}  // namespace cdc::pg
