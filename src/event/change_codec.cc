#include "event/change_codec.h"

#include <cstring>

#include "event/position_kinds.h"

namespace cdc {
namespace {

constexpr uint8_t kVersion = 1;
constexpr int kMaxDepth = 64;

template <typename T>
void PutFixed(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

void PutValue(std::string& out, const Value& v) {
  out.push_back(static_cast<char>(v.kind()));
  switch (v.kind()) {
    case ValueKind::kNull:
    case ValueKind::kUnchangedToast:
      break;
    case ValueKind::kBool:
      out.push_back(v.as_bool() ? 1 : 0);
      break;
    case ValueKind::kInt64:
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz:
    case ValueKind::kDate:
    case ValueKind::kTime:
      PutFixed<int64_t>(out, v.as_int64());
      break;
    case ValueKind::kDouble:
      PutFixed<double>(out, v.as_double());
      break;
    case ValueKind::kArray:
      PutVarint(out, v.as_array().size());
      for (const Value& e : v.as_array()) PutValue(out, e);
      break;
    default:
      PutString(out, v.as_string());
      break;
  }
}

void PutRow(std::string& out, const Row& row) {
  PutVarint(out, row.size());
  for (const Column& c : row.columns()) {
    PutString(out, c.name);
    PutValue(out, c.value);
  }
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Fail();
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  uint8_t Byte() {
    if (pos_ >= data_.size()) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(data_[pos_++]);
  }
  template <typename T>
  T Fixed() {
    T v{};
    if (data_.size() - pos_ < sizeof(T)) {
      Fail();
      return v;
    }
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string String() { return std::string(View()); }
  // A string's bytes, pointing into the data.
  std::string_view View() {
    uint64_t n = Varint();
    if (!ok_ || data_.size() - pos_ < n) {
      Fail();
      return {};
    }
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count of items that each take at least one byte: bounded by what is left.
  uint64_t Count() {
    uint64_t n = Varint();
    if (n > data_.size() - pos_) return Fail();
    return n;
  }

 private:
  uint64_t Fail() {
    ok_ = false;
    pos_ = data_.size();
    return 0;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool ReadValue(Reader& r, Value& out, int depth) {
  if (depth > kMaxDepth) return false;
  auto kind = static_cast<ValueKind>(r.Byte());
  switch (kind) {
    case ValueKind::kNull:
      out = Value::Null();
      break;
    case ValueKind::kUnchangedToast:
      out = Value::UnchangedToast();
      break;
    case ValueKind::kBool:
      out = Value::Bool(r.Byte() != 0);
      break;
    case ValueKind::kInt64:
      out = Value::Int64(r.Fixed<int64_t>());
      break;
    case ValueKind::kTimestamp:
      out = Value::Timestamp(r.Fixed<int64_t>());
      break;
    case ValueKind::kTimestampTz:
      out = Value::TimestampTz(r.Fixed<int64_t>());
      break;
    case ValueKind::kDate:
      out = Value::Date(r.Fixed<int64_t>());
      break;
    case ValueKind::kTime:
      out = Value::Time(r.Fixed<int64_t>());
      break;
    case ValueKind::kDouble:
      out = Value::Double(r.Fixed<double>());
      break;
    case ValueKind::kArray: {
      uint64_t n = r.Count();
      std::vector<Value> elements(n);
      for (auto& e : elements) {
        if (!ReadValue(r, e, depth + 1)) return false;
      }
      out = Value::Array(std::move(elements));
      break;
    }
    case ValueKind::kDecimal:
      out = Value::Decimal(r.View());
      break;
    case ValueKind::kText:
      out = Value::Text(r.View());
      break;
    case ValueKind::kBytes:
      out = Value::Bytes(r.View());
      break;
    case ValueKind::kTimeTz:
      out = Value::TimeTz(r.View());
      break;
    case ValueKind::kInterval:
      out = Value::Interval(r.View());
      break;
    case ValueKind::kInet:
      out = Value::Inet(r.View());
      break;
    case ValueKind::kUuid:
      out = Value::Uuid(r.View());
      break;
    case ValueKind::kJson:
      out = Value::Json(r.View());
      break;
    default:
      return false;
  }
  return r.ok();
}

bool ReadRow(Reader& r, Row& row) {
  uint64_t n = r.Count();
  row.columns().reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    Column& c = row.columns().emplace_back();  // built in place
    c.name.assign(r.View());
    if (!ReadValue(r, c.value, 0)) return false;
  }
  return r.ok();
}

}  // namespace

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool GetString(std::string_view& in, std::string& out) {
  uint64_t n = 0;
  if (!GetVarint(in, n) || n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

void EncodeChange(const ChangeEvent& change, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  PutString(out, change.schema);
  PutString(out, change.table);
  out.push_back(static_cast<char>(change.op));
  PutFixed<uint32_t>(out, change.schema_version);
  PutFixed<int64_t>(out, change.commit_time.micros);
  // Positions keep the layouts of the first version (1: PostgreSQL, 2: content digest), so
  // records written before positions became opaque read back the same; other kinds are 3.
  if (change.position.empty()) {
    out.push_back(0);
  } else if (auto pg = PgPositionOf(change.position)) {
    out.push_back(1);
    PutFixed<uint64_t>(out, pg->commit_lsn.value());
    PutFixed<uint32_t>(out, pg->xid.value());
    PutFixed<uint32_t>(out, pg->seq);
  } else if (const std::string* digest = ContentDigestOf(change.position)) {
    out.push_back(2);
    PutString(out, *digest);
  } else {
    out.push_back(3);
    PutString(out, change.position.kind());
    PutString(out, change.position.bytes());
  }
  uint8_t flags = (change.before ? 1 : 0) | (change.after ? 2 : 0);
  out.push_back(static_cast<char>(flags));
  if (change.before) PutRow(out, *change.before);
  if (change.after) PutRow(out, *change.after);
  PutRow(out, change.key);
  PutVarint(out, change.unchanged_toast.size());
  for (const auto& c : change.unchanged_toast) PutString(out, c);
}

Result<ChangeEvent> DecodeChange(std::string_view data) {
  Reader r(data);
  uint8_t version = r.Byte();
  if (r.ok() && version != kVersion) {
    return Corruption("stream record has change format version " + std::to_string(version) +
                      "; this build reads version " + std::to_string(kVersion));
  }
  ChangeEvent c;
  c.schema = r.String();
  c.table = r.String();
  uint8_t op = r.Byte();
  if (op > static_cast<uint8_t>(Op::kSchemaChange))
    return Corruption("stream record has an unknown op");
  c.op = static_cast<Op>(op);
  c.schema_version = r.Fixed<uint32_t>();
  c.commit_time.micros = r.Fixed<int64_t>();
  switch (r.Byte()) {
    case 0:
      break;
    case 1: {
      PgPosition p;
      p.commit_lsn = Lsn(r.Fixed<uint64_t>());
      p.xid = TxId(r.Fixed<uint32_t>());
      p.seq = r.Fixed<uint32_t>();
      c.position = ToPosition(p);
      break;
    }
    case 2:
      c.position = ContentPosition(r.String());
      break;
    case 3: {
      std::string kind = r.String();
      std::string bytes = r.String();
      if (r.ok() && kind.empty()) return Corruption("stream record has an empty position kind");
      c.position = SourcePosition(std::move(kind), std::move(bytes));
      break;
    }
    default:
      return Corruption("stream record has an unknown position kind");
  }
  uint8_t flags = r.Byte();
  bool ok = r.ok();
  if (ok && (flags & 1)) ok = ReadRow(r, c.before.emplace());
  if (ok && (flags & 2)) ok = ReadRow(r, c.after.emplace());
  if (ok) ok = ReadRow(r, c.key);
  if (ok) {
    uint64_t n = r.Count();
    for (uint64_t i = 0; i < n && r.ok(); ++i) c.unchanged_toast.push_back(r.String());
    ok = r.ok();
  }
  if (!ok) {
    return Corruption("stream record is malformed at byte " + std::to_string(r.pos()) + " of " +
                      std::to_string(data.size()));
  }
  if (!r.at_end()) {
    return Corruption("stream record has " + std::to_string(data.size() - r.pos()) +
                      " unexpected trailing bytes");
  }
  return c;
}

}  // namespace cdc
