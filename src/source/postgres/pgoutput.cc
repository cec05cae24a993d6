#include "source/postgres/pgoutput.h"

#include <algorithm>
#include <utility>

#include "base/hash.h"
#include "event/change_codec.h"
#include "event/position_kinds.h"

namespace cdc::pg {
namespace {

// Big-endian reader over one message; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool U8(uint8_t& v) {
    if (pos_ + 1 > data_.size()) return false;
    v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U16(uint16_t& v) {
    uint64_t x;
    if (!Be(2, x)) return false;
    v = static_cast<uint16_t>(x);
    return true;
  }
  bool U32(uint32_t& v) {
    uint64_t x;
    if (!Be(4, x)) return false;
    v = static_cast<uint32_t>(x);
    return true;
  }
  bool I32(int32_t& v) {
    uint32_t x;
    if (!U32(x)) return false;
    v = static_cast<int32_t>(x);
    return true;
  }
  bool U64(uint64_t& v) { return Be(8, v); }
  bool I64(int64_t& v) {
    uint64_t x;
    if (!Be(8, x)) return false;
    v = static_cast<int64_t>(x);
    return true;
  }
  // A NUL-terminated string.
  bool CString(std::string_view& s) {
    size_t end = data_.find('\0', pos_);
    if (end == std::string_view::npos) return false;
    s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool Bytes(size_t n, std::string_view& s) {
    if (n > data_.size() - pos_) return false;
    s = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view Rest() const { return data_.substr(pos_); }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  bool Be(size_t n, uint64_t& v) {
    if (n > data_.size() - pos_) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += n;
    return true;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

void PutBe64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

Status Truncated(std::string_view what) {
  return Corruption("pgoutput: truncated or malformed " + std::string(what) + " message");
}

Timestamp FromPg(int64_t pg_micros) { return Timestamp{PgMicrosToUnixMicros(pg_micros)}; }

// One column of a TupleData: 'n' null, 'u' unchanged TOAST, 't' text.
struct RawField {
  char kind = 'n';
  std::string_view text;
};

Status ReadTuple(Reader& r, const PgRelation& rel, std::vector<RawField>& fields) {
  uint16_t n;
  if (!r.U16(n)) return Truncated("TupleData");
  if (n != rel.columns.size()) {
    return Corruption("pgoutput: tuple of " + std::to_string(n) + " columns for " + rel.schema +
                      "." + rel.table + ", whose Relation message has " +
                      std::to_string(rel.columns.size()));
  }
  fields.assign(n, RawField{});
  for (uint16_t i = 0; i < n; ++i) {
    uint8_t kind;
    if (!r.U8(kind)) return Truncated("TupleData");
    fields[i].kind = static_cast<char>(kind);
    switch (kind) {
      case 'n':
      case 'u':
        break;
      case 't': {
        uint32_t len;
        if (!r.U32(len) || !r.Bytes(len, fields[i].text)) return Truncated("TupleData");
        break;
      }
      case 'b':
        return Unimplemented("pgoutput: binary tuple data was not requested and is not supported");
      default:
        return Corruption("pgoutput: unknown tuple column kind " + std::to_string(kind));
    }
  }
  return Status::Ok();
}

// Builds a row from a tuple; with `identity_only`, only replica-identity columns (the rest of a
// 'K' tuple are nulls that stand for "not sent"). Unchanged-TOAST columns become
// Value::UnchangedToast() for the caller to resolve.
Status BuildRow(const PgRelation& rel, const std::vector<RawField>& fields, bool identity_only,
                const PgTypeRegistry& types, Row& row) {
  row.columns().reserve(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const PgRelation::Column& col = rel.columns[i];
    if (identity_only && !col.replica_identity) continue;
    switch (fields[i].kind) {
      case 'n':
        row.Add(col.name, Value::Null());
        break;
      case 'u':
        row.Add(col.name, Value::UnchangedToast());
        break;
      default: {
        auto v = DecodeText(col.type_oid, fields[i].text, types);
        if (!v.ok()) {
          return v.status().WithContext("column " + rel.schema + "." + rel.table + "." + col.name);
        }
        row.Add(col.name, std::move(v).value());
      }
    }
  }
  return Status::Ok();
}

// Drops unchanged-TOAST markers from `row`, listing their names in `names` when given.
void DropUnchangedToast(Row& row, std::vector<std::string>* names) {
  auto& cols = row.columns();
  size_t out = 0;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].value.kind() == ValueKind::kUnchangedToast) {
      if (names != nullptr) names->push_back(cols[i].name);
      continue;
    }
    if (out != i) cols[out] = std::move(cols[i]);
    ++out;
  }
  cols.resize(out);
}

bool SameColumns(const PgRelation& a, const PgRelation& b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (a.columns[i].name != b.columns[i].name || a.columns[i].type_oid != b.columns[i].type_oid ||
        a.columns[i].type_modifier != b.columns[i].type_modifier) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<CopyFrame> ParseCopyFrame(std::string_view data) {
  Reader r(data);
  uint8_t type;
  if (!r.U8(type)) return Corruption("replication stream: empty CopyData message");
  if (type == 'w') {
    XLogDataFrame f;
    uint64_t start, end;
    int64_t send;
    if (!r.U64(start) || !r.U64(end) || !r.I64(send)) {
      return Corruption("replication stream: truncated XLogData header");
    }
    f.wal_start = Lsn(start);
    f.wal_end = Lsn(end);
    f.send_time = FromPg(send);
    f.payload = r.Rest();
    return CopyFrame(f);
  }
  if (type == 'k') {
    KeepaliveFrame f;
    uint64_t end;
    int64_t send;
    uint8_t reply;
    if (!r.U64(end) || !r.I64(send) || !r.U8(reply)) {
      return Corruption("replication stream: truncated keepalive message");
    }
    f.wal_end = Lsn(end);
    f.send_time = FromPg(send);
    f.reply_requested = reply != 0;
    return CopyFrame(f);
  }
  return Corruption("replication stream: unknown CopyData message type " + std::to_string(type));
}

std::string EncodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, Timestamp now,
                                bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  PutBe64(out, write.value());
  PutBe64(out, flush.value());
  PutBe64(out, apply.value());
  PutBe64(out, static_cast<uint64_t>(UnixMicrosToPgMicros(now.micros)));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

PgOutputDecoder::PgOutputDecoder(PgTypeRegistry& types, PgCatalogReader* catalog)
    : types_(types), catalog_(catalog) {}

const PgRelation* PgOutputDecoder::FindRelation(uint32_t id) const {
  auto it = relations_.find(id);
  return it == relations_.end() ? nullptr : &it->second;
}

Status PgOutputDecoder::Decode(std::string_view message, std::vector<PgMessage>& out) {
  if (message.empty()) return Corruption("pgoutput: empty message");
  if (replay_ != nullptr) {
    return Internal("pgoutput: a message decoded while a streamed transaction is replayed");
  }
  char type = message[0];
  std::string_view body = message.substr(1);
  if (in_stream_) {
    // Inside a stream block every message names its (sub)transaction first. The message is kept
    // as it came (without the id) and decoded when the transaction commits, exactly as protocol
    // 1 would have sent it then: Relation messages included, so each change is decoded with the
    // table as the transaction saw it.
    switch (type) {
      case 'R':
      case 'Y':
      case 'I':
      case 'U':
      case 'D':
      case 'T':
      case 'M': {
        Reader r(body);
        if (!r.U32(stream_subxid_)) return Truncated("streamed");
        body = body.substr(4);
        if (type == 'Y') return Status::Ok();
        if (type == 'M' && (body.empty() || (static_cast<uint8_t>(body[0]) & 1) == 0)) {
          return DecodeMessage(body, out);  // not transactional: at its place, now
        }
        return streamed_.at(stream_xid_).spill->Append(stream_subxid_, type, body);
      }
      case 'E':
        in_stream_ = false;
        return Status::Ok();
      default:
        return Corruption("pgoutput: message type " + std::to_string(static_cast<uint8_t>(type)) +
                          " inside a stream block");
    }
  }
  switch (type) {
    case 'B':
      return DecodeBegin(body, out);
    case 'C':
      return DecodeCommit(body, out);
    case 'R':
      return DecodeRelation(body, out);
    case 'I':
    case 'U':
    case 'D':
      return DecodeChange(type, body, out);
    case 'T':
      return DecodeTruncate(body, out);
    case 'Y':  // Type: name of a user type; LoadTypes gets the full definition from pg_type.
    case 'O':  // Origin: the transaction was replicated from elsewhere; no effect on its changes.
      return Status::Ok();
    case 'M':
      return DecodeMessage(body, out);
    case 'S':
      return DecodeStreamStart(body);
    case 'E':
      return Corruption("pgoutput: Stream Stop without Stream Start");
    case 'c':
      return DecodeStreamCommit(body, out);
    case 'A':
      return DecodeStreamAbort(body);
    default:
      return Corruption("pgoutput: unknown message type " +
                        std::to_string(static_cast<uint8_t>(type)));
  }
}

Status PgOutputDecoder::DecodeBegin(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  uint64_t final_lsn;
  int64_t ts;
  uint32_t xid;
  if (!r.U64(final_lsn) || !r.I64(ts) || !r.U32(xid)) return Truncated("Begin");
  // A Begin inside a transaction happens only when a broken connection's stream is resumed; the
  // unfinished transaction is sent again from its start.
  begin_ = PgBegin{Lsn(final_lsn), FromPg(ts), TxId(xid)};
  in_transaction_ = true;
  seq_ = 0;
  out.emplace_back(begin_);
  return Status::Ok();
}

Status PgOutputDecoder::DecodeCommit(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  uint8_t flags;
  uint64_t commit_lsn, end_lsn;
  int64_t ts;
  if (!r.U8(flags) || !r.U64(commit_lsn) || !r.U64(end_lsn) || !r.I64(ts)) {
    return Truncated("Commit");
  }
  if (!in_transaction_) return Corruption("pgoutput: Commit without Begin");
  if (Lsn(commit_lsn) != begin_.final_lsn) {
    return Corruption("pgoutput: Commit LSN " + Lsn(commit_lsn).ToString() +
                      " differs from the final LSN " + begin_.final_lsn.ToString() +
                      " announced by Begin");
  }
  in_transaction_ = false;
  out.emplace_back(PgCommit{Lsn(commit_lsn), Lsn(end_lsn), FromPg(ts), begin_.xid, seq_});
  return Status::Ok();
}

Status PgOutputDecoder::DecodeRelation(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  PgRelation rel;
  std::string_view ns, name;
  uint8_t ident;
  uint16_t ncols;
  if (!r.U32(rel.id) || !r.CString(ns) || !r.CString(name) || !r.U8(ident) || !r.U16(ncols)) {
    return Truncated("Relation");
  }
  rel.schema = ns.empty() ? "pg_catalog" : std::string(ns);
  rel.table = std::string(name);
  rel.replica_identity = static_cast<char>(ident);
  std::vector<uint32_t> unknown_types;
  for (uint16_t i = 0; i < ncols; ++i) {
    PgRelation::Column col;
    uint8_t flags;
    std::string_view col_name;
    if (!r.U8(flags) || !r.CString(col_name) || !r.U32(col.type_oid) || !r.I32(col.type_modifier)) {
      return Truncated("Relation");
    }
    col.name = std::string(col_name);
    col.replica_identity = (flags & 1) != 0;
    if (!types_.Contains(col.type_oid)) unknown_types.push_back(col.type_oid);
    rel.columns.push_back(std::move(col));
  }
  if (catalog_ != nullptr && !unknown_types.empty()) {
    CDC_RETURN_IF_ERROR(
        catalog_->LoadTypes(unknown_types, types_)
            .WithContext("loading the column types of " + rel.schema + "." + rel.table));
  }
  // Under REPLICA IDENTITY FULL every column is flagged, so the key comes from the catalog.
  bool use_catalog_key =
      catalog_ != nullptr && (rel.replica_identity == 'f' || rel.replica_identity == 'n');
  if (use_catalog_key) {
    auto pk = catalog_->PrimaryKeyColumns(rel.id);
    if (!pk.ok()) {
      return pk.status().WithContext("reading the primary key of " + rel.schema + "." + rel.table);
    }
    for (const std::string& key : *pk) {
      for (size_t i = 0; i < rel.columns.size(); ++i) {
        if (rel.columns[i].name == key) rel.key_columns.push_back(i);
      }
    }
  }
  if (rel.key_columns.empty()) {
    for (size_t i = 0; i < rel.columns.size(); ++i) {
      if (rel.columns[i].replica_identity) rel.key_columns.push_back(i);
    }
  }
  ++relations_described_;
  const PgRelation* old = Lookup(rel.id);
  if (old == nullptr) {
    auto seeded = seeded_.find(rel.id);
    if (seeded != seeded_.end()) old = &seeded->second;
  }
  if (old == nullptr) {
    ++shapes_version_;
  } else if (!SameColumns(*old, rel)) {
    rel.schema_version = old->schema_version + 1;
    ++shapes_version_;
    // Where it is noticed: in the transaction whose change needs the new shape.
    if (in_transaction_) {
      ChangeEvent e = NewEvent(rel, Op::kSchemaChange);
      e.before = ColumnsRow(*old);
      e.after = ColumnsRow(rel);
      CDC_RETURN_IF_ERROR(Emit(std::move(e), out));
    }
  } else {
    rel.schema_version = old->schema_version;
  }
  uint32_t id = rel.id;
  relations_.insert_or_assign(id, std::move(rel));
  return Status::Ok();
}

std::string PgOutputDecoder::TypeText(uint32_t oid, int32_t type_modifier) {
  auto key = std::make_pair(oid, type_modifier);
  auto it = type_texts_.find(key);
  if (it != type_texts_.end()) return it->second;
  std::string text;
  if (catalog_ != nullptr) {
    auto formatted = catalog_->FormatType(oid, type_modifier);
    if (formatted.ok()) text = std::move(formatted).value();
  }
  if (text.empty()) {
    const PgTypeInfo* info = types_.Find(oid);
    text = info != nullptr && !info->name.empty() ? info->name : "oid " + std::to_string(oid);
  }
  type_texts_.emplace(key, text);
  return text;
}

Row PgOutputDecoder::ColumnsRow(const PgRelation& rel) {
  Row row;
  for (const auto& col : rel.columns) {
    row.Add(col.name, Value::Text(TypeText(col.type_oid, col.type_modifier)));
  }
  return row;
}

void PgOutputDecoder::SeedRelations(std::vector<PgRelation> relations) {
  for (auto& rel : relations) {
    uint32_t id = rel.id;
    seeded_.insert_or_assign(id, std::move(rel));
  }
}

std::vector<const PgRelation*> PgOutputDecoder::KnownRelations() const {
  std::vector<const PgRelation*> out;
  for (const auto& [id, rel] : relations_) out.push_back(&rel);
  for (const auto& [id, rel] : seeded_) {
    if (!relations_.contains(id)) out.push_back(&rel);
  }
  std::sort(out.begin(), out.end(),
            [](const PgRelation* a, const PgRelation* b) { return a->id < b->id; });
  return out;
}

namespace {
constexpr std::string_view kShapesMagic = "cdc-pipeline relation shapes 1\n";
}  // namespace

std::string EncodeRelationShapes(const std::vector<const PgRelation*>& relations) {
  std::string body;
  PutVarint(body, relations.size());
  for (const PgRelation* rel : relations) {
    PutVarint(body, rel->id);
    PutVarint(body, rel->schema_version);
    PutString(body, rel->schema);
    PutString(body, rel->table);
    PutVarint(body, rel->columns.size());
    for (const auto& col : rel->columns) {
      PutString(body, col.name);
      PutVarint(body, col.type_oid);
      PutVarint(body, static_cast<uint32_t>(col.type_modifier));
    }
  }
  return SealWithSha1(kShapesMagic, body);
}

Result<std::vector<PgRelation>> DecodeRelationShapes(std::string_view data) {
  CDC_ASSIGN_OR_RETURN(std::string_view body,
                       UnsealWithSha1(data, kShapesMagic, "not a relation shapes file"));
  std::vector<PgRelation> out;
  uint64_t count;
  if (!GetVarint(body, count)) return Corruption("truncated");
  for (uint64_t i = 0; i < count; ++i) {
    PgRelation rel;
    uint64_t id, version, ncols;
    if (!GetVarint(body, id) || !GetVarint(body, version) || !GetString(body, rel.schema) ||
        !GetString(body, rel.table) || !GetVarint(body, ncols) || id > UINT32_MAX ||
        version > UINT32_MAX || ncols > 1600) {
      return Corruption("truncated or malformed");
    }
    rel.id = static_cast<uint32_t>(id);
    rel.schema_version = static_cast<uint32_t>(version);
    for (uint64_t c = 0; c < ncols; ++c) {
      PgRelation::Column col;
      uint64_t oid, typmod;
      if (!GetString(body, col.name) || !GetVarint(body, oid) || !GetVarint(body, typmod) ||
          oid > UINT32_MAX || typmod > UINT32_MAX) {
        return Corruption("truncated or malformed");
      }
      col.type_oid = static_cast<uint32_t>(oid);
      col.type_modifier = static_cast<int32_t>(static_cast<uint32_t>(typmod));
      rel.columns.push_back(std::move(col));
    }
    out.push_back(std::move(rel));
  }
  if (!body.empty()) return Corruption("trailing bytes");
  return out;
}

const PgRelation* PgOutputDecoder::Lookup(uint32_t relid) const {
  auto it = relations_.find(relid);
  return it == relations_.end() ? nullptr : &it->second;
}

Status PgOutputDecoder::Emit(ChangeEvent e, std::vector<PgMessage>& out) {
  out.emplace_back(std::move(e));
  return Status::Ok();
}

ChangeEvent PgOutputDecoder::NewEvent(const PgRelation& rel, Op op) {
  ChangeEvent e;
  e.schema = rel.schema;
  e.table = rel.table;
  e.op = op;
  e.commit_time = begin_.commit_time;
  e.position = ToPosition(PgPosition{begin_.final_lsn, begin_.xid, seq_++});
  e.schema_version = rel.schema_version;
  return e;
}

Status PgOutputDecoder::DecodeChange(char type, std::string_view body,
                                     std::vector<PgMessage>& out) {
  const char* what = type == 'I' ? "Insert" : type == 'U' ? "Update" : "Delete";
  Reader r(body);
  uint32_t relid;
  if (!r.U32(relid)) return Truncated(what);
  if (!in_transaction_)
    return Corruption(std::string("pgoutput: ") + what + " outside a transaction");
  const PgRelation* found = Lookup(relid);
  if (found == nullptr) {
    return Corruption("pgoutput: change for relation " + std::to_string(relid) +
                      " before its Relation message");
  }
  const PgRelation& rel = *found;
  ChangeEvent e = NewEvent(rel, type == 'I'   ? Op::kInsert
                                : type == 'U' ? Op::kUpdate
                                              : Op::kDelete);

  std::vector<RawField> fields;
  uint8_t marker;
  if (!r.U8(marker)) return Truncated(what);
  char old_kind = 0;
  if (type != 'I' && (marker == 'K' || marker == 'O')) {
    old_kind = static_cast<char>(marker);
    CDC_RETURN_IF_ERROR(ReadTuple(r, rel, fields));
    Row before;
    CDC_RETURN_IF_ERROR(BuildRow(rel, fields, old_kind == 'K', types_, before));
    // A full old tuple is sent detoasted; should a marker appear anyway, never invent a value.
    DropUnchangedToast(before, nullptr);
    e.before = std::move(before);
    if (type == 'U' && !r.U8(marker)) return Truncated(what);
  } else if (type == 'D') {
    return Corruption("pgoutput: Delete without an old tuple");
  }
  if (type != 'D') {
    if (marker != 'N') return Truncated(what);
    CDC_RETURN_IF_ERROR(ReadTuple(r, rel, fields));
    Row after;
    CDC_RETURN_IF_ERROR(BuildRow(rel, fields, false, types_, after));
    // An unchanged TOASTed value equals the old one: take it from the old tuple when it was sent.
    for (Column& col : after.columns()) {
      if (col.value.kind() != ValueKind::kUnchangedToast || !e.before) continue;
      if (const Value* old = e.before->Find(col.name); old != nullptr) col.value = *old;
    }
    DropUnchangedToast(after, &e.unchanged_toast);
    e.after = std::move(after);
  }
  if (!r.AtEnd()) return Truncated(what);

  for (size_t idx : rel.key_columns) {
    const std::string& name = rel.columns[idx].name;
    const Value* v = e.after ? e.after->Find(name) : nullptr;
    if (v == nullptr && e.before) v = e.before->Find(name);
    if (v != nullptr) e.key.Add(name, *v);
  }
  return Emit(std::move(e), out);
}

Status PgOutputDecoder::DecodeTruncate(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  uint32_t nrels;
  uint8_t options;
  if (!r.U32(nrels) || !r.U8(options)) return Truncated("Truncate");
  if (!in_transaction_) return Corruption("pgoutput: Truncate outside a transaction");
  for (uint32_t i = 0; i < nrels; ++i) {
    uint32_t relid;
    if (!r.U32(relid)) return Truncated("Truncate");
    const PgRelation* rel = Lookup(relid);
    if (rel == nullptr) {
      return Corruption("pgoutput: Truncate of relation " + std::to_string(relid) +
                        " before its Relation message");
    }
    CDC_RETURN_IF_ERROR(Emit(NewEvent(*rel, Op::kTruncate), out));
  }
  return Status::Ok();
}

Status PgOutputDecoder::DecodeMessage(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  uint8_t flags;
  uint64_t lsn;
  std::string_view prefix, content;
  uint32_t length;
  if (!r.U8(flags) || !r.U64(lsn) || !r.CString(prefix) || !r.U32(length) ||
      !r.Bytes(length, content) || !r.AtEnd()) {
    return Truncated("Message");
  }
  bool transactional = (flags & 1) != 0;
  if (transactional && !in_transaction_) {
    return Corruption("pgoutput: transactional Message outside a transaction");
  }
  out.emplace_back(
      PgLogicalMessage{Lsn(lsn), transactional, std::string(prefix), std::string(content)});
  return Status::Ok();
}

Status PgOutputDecoder::DecodeStreamStart(std::string_view body) {
  Reader r(body);
  uint32_t xid;
  uint8_t first;
  if (!r.U32(xid) || !r.U8(first)) return Truncated("Stream Start");
  if (spill_dir_.empty()) {
    return Corruption(
        "pgoutput: Stream Start, but streaming of in-progress transactions was not "
        "requested");
  }
  if (in_transaction_) return Corruption("pgoutput: Stream Start inside a transaction");
  auto it = streamed_.find(xid);
  if (first != 0) {
    // A first segment of a transaction seen before happens only when a broken connection's
    // stream is resumed: it is sent again from its start.
    CDC_ASSIGN_OR_RETURN(auto spill, TxnSpill::Open(spill_dir_));
    streamed_.insert_or_assign(xid, StreamedTxn{std::move(spill)});
  } else if (it == streamed_.end()) {
    return Corruption("pgoutput: a later stream segment of transaction " + std::to_string(xid) +
                      " whose first segment never came");
  }
  in_stream_ = true;
  stream_xid_ = xid;
  stream_subxid_ = xid;
  return Status::Ok();
}

Status PgOutputDecoder::DecodeStreamCommit(std::string_view body, std::vector<PgMessage>& out) {
  Reader r(body);
  uint32_t xid;
  uint8_t flags;
  uint64_t commit_lsn, end_lsn;
  int64_t ts;
  if (!r.U32(xid) || !r.U8(flags) || !r.U64(commit_lsn) || !r.U64(end_lsn) || !r.I64(ts)) {
    return Truncated("Stream Commit");
  }
  if (in_transaction_) return Corruption("pgoutput: Stream Commit inside a transaction");
  begin_ = PgBegin{Lsn(commit_lsn), FromPg(ts), TxId(xid)};
  seq_ = 0;
  in_transaction_ = true;
  replay_commit_ = PgCommit{Lsn(commit_lsn), Lsn(end_lsn), FromPg(ts), TxId(xid), 0};
  auto it = streamed_.find(xid);
  if (it == streamed_.end()) {
    // Nothing of it was streamed to us: an empty transaction.
    in_transaction_ = false;
    out.emplace_back(begin_);
    out.emplace_back(replay_commit_);
    return Status::Ok();
  }
  replay_ = std::make_unique<StreamedTxn>(std::move(it->second));
  streamed_.erase(it);
  ++streamed_committed_;
  out.emplace_back(begin_);
  return replay_->spill->Rewind();
}

Status PgOutputDecoder::DrainReplay(std::vector<PgMessage>& out, size_t max) {
  size_t limit = out.size() + max;
  while (replay_ != nullptr && out.size() < limit) {
    CDC_ASSIGN_OR_RETURN(bool more, replay_->spill->Next(record_));
    if (!more) {
      replay_commit_.changes = seq_;
      out.emplace_back(replay_commit_);
      replay_.reset();
      in_transaction_ = false;
      break;
    }
    // Decoded now, inside the transaction Stream Commit began: as protocol 1 sends it.
    std::string_view body = record_.payload;
    switch (record_.tag) {
      case 'R':
        CDC_RETURN_IF_ERROR(DecodeRelation(body, out));
        break;
      case 'I':
      case 'U':
      case 'D':
        CDC_RETURN_IF_ERROR(DecodeChange(record_.tag, body, out));
        break;
      case 'T':
        CDC_RETURN_IF_ERROR(DecodeTruncate(body, out));
        break;
      case 'M':
        CDC_RETURN_IF_ERROR(DecodeMessage(body, out));
        break;
      default:
        return Corruption("transaction spill file: unknown record tag");
    }
  }
  return Status::Ok();
}

Status PgOutputDecoder::DecodeStreamAbort(std::string_view body) {
  Reader r(body);
  uint32_t xid, subxid;
  if (!r.U32(xid) || !r.U32(subxid)) return Truncated("Stream Abort");
  if (in_transaction_) return Corruption("pgoutput: Stream Abort inside a transaction");
  auto it = streamed_.find(xid);
  if (it == streamed_.end()) return Status::Ok();  // nothing of it was streamed to us
  if (subxid == xid) {
    streamed_.erase(it);
    ++streamed_aborted_;
  } else {
    it->second.spill->Discard(subxid);  // ROLLBACK TO SAVEPOINT
  }
  return Status::Ok();
}

}  // namespace cdc::pg
