// SourcePosition and the codecs of the built-in position kinds (source_position.h,
// position_kinds.h). A kind's codec gives the text forms of its positions; the generic
// functions look the kind up and fall back to "<kind>/<hex bytes>" for kinds they do not know.
#include "event/source_position.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "event/position_kinds.h"

namespace cdc {
namespace {

constexpr size_t kPgBytes = 16;

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void AppendHex(std::string_view bytes, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
}

std::optional<std::string> ParseHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + i + 2, v, 16);
    if (ec != std::errc() || p != text.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::optional<PgPosition> DecodePg(std::string_view bytes) {
  if (bytes.size() != kPgBytes) return std::nullopt;
  return PgPosition{Lsn(GetBigEndian(bytes.data(), 8)),
                    TxId(static_cast<uint32_t>(GetBigEndian(bytes.data() + 8, 4))),
                    static_cast<uint32_t>(GetBigEndian(bytes.data() + 12, 4))};
}

// Computed for every event's id: appended by hand rather than formatted.
void AppendPgKey(const PgPosition& pg, std::string& out) {
  char buf[24];
  auto hex = [&](uint32_t v) {  // upper case, as Lsn::ToString
    char* end = std::to_chars(buf, buf + sizeof(buf), v, 16).ptr;
    for (char* c = buf; c < end; ++c) {
      if (*c >= 'a' && *c <= 'f') *c = static_cast<char>(*c - 'a' + 'A');
    }
    out.append(buf, end);
  };
  auto decimal = [&](uint32_t v) { out.append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr); };
  out += "pg/";
  hex(static_cast<uint32_t>(pg.commit_lsn.value() >> 32));
  out += '/';
  hex(static_cast<uint32_t>(pg.commit_lsn.value()));
  out += '/';
  decimal(pg.xid.value());
  out += '/';
  decimal(pg.seq);
}

// "commitLsn/xid/seq", decimal: the state store's text since the first version.
std::optional<PgPosition> ParsePgStateText(std::string_view text) {
  uint64_t parts[3];
  for (int i = 0; i < 3; ++i) {
    size_t slash = i < 2 ? text.find('/') : text.size();
    if (slash == std::string_view::npos) return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + slash, parts[i]);
    if (ec != std::errc() || p != text.data() + slash) return std::nullopt;
    text.remove_prefix(std::min(text.size(), slash + 1));
  }
  return PgPosition{Lsn(parts[0]), TxId(static_cast<uint32_t>(parts[1])),
                    static_cast<uint32_t>(parts[2])};
}

bool IsPg(const SourcePosition& p) {
  return p.kind() == kPgPositionKind && p.bytes().size() == kPgBytes;
}

}  // namespace

SourcePosition ToPosition(const PgPosition& p) {
  std::string bytes;
  bytes.reserve(kPgBytes);
  PutBigEndian(bytes, p.commit_lsn.value(), 8);
  PutBigEndian(bytes, p.xid.value(), 4);
  PutBigEndian(bytes, p.seq, 4);
  return SourcePosition(std::string(kPgPositionKind), std::move(bytes));
}

std::optional<PgPosition> PgPositionOf(const SourcePosition& p) {
  if (p.kind() != kPgPositionKind) return std::nullopt;
  return DecodePg(p.bytes());
}

SourcePosition ContentPosition(std::string digest) {
  return SourcePosition(std::string(kContentPositionKind), std::move(digest));
}

const std::string* ContentDigestOf(const SourcePosition& p) {
  return p.kind() == kContentPositionKind ? &p.bytes() : nullptr;
}

bool IsOrdered(const SourcePosition& position) { return IsPg(position); }

bool HasCompleteRows(const SourcePosition& position) { return IsPg(position); }

std::optional<std::strong_ordering> ComparePositions(const SourcePosition& a,
                                                     const SourcePosition& b) {
  if (!IsOrdered(a) || a.kind() != b.kind()) return std::nullopt;
  const std::string& x = a.bytes();
  const std::string& y = b.bytes();
  int c = std::memcmp(x.data(), y.data(), std::min(x.size(), y.size()));
  if (c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  return x.size() <=> y.size();
}

void AppendPositionKey(const SourcePosition& position, std::string& out) {
  if (position.empty()) {
    out += "none";
  } else if (auto pg = PgPositionOf(position)) {
    AppendPgKey(*pg, out);
  } else if (const std::string* digest = ContentDigestOf(position)) {
    out += "json/";
    out += *digest;
  } else {
    out += position.kind();
    out += '/';
    AppendHex(position.bytes(), out);
  }
}

std::string PositionKey(const SourcePosition& position) {
  std::string out;
  AppendPositionKey(position, out);
  return out;
}

std::string PositionStateText(const SourcePosition& position) {
  if (auto pg = PgPositionOf(position)) {
    return std::to_string(pg->commit_lsn.value()) + "/" + std::to_string(pg->xid.value()) + "/" +
           std::to_string(pg->seq);
  }
  std::string out = position.kind() + ":";
  AppendHex(position.bytes(), out);
  return out;
}

std::optional<SourcePosition> ParsePositionStateText(std::string_view text) {
  if (size_t colon = text.find(':'); colon != std::string_view::npos && colon > 0) {
    auto bytes = ParseHex(text.substr(colon + 1));
    if (!bytes) return std::nullopt;
    return SourcePosition(std::string(text.substr(0, colon)), std::move(*bytes));
  }
  if (auto pg = ParsePgStateText(text)) return ToPosition(*pg);
  return std::nullopt;
}

std::string DescribePosition(const SourcePosition& position) {
  if (auto pg = PgPositionOf(position)) {
    return pg->commit_lsn.ToString() + " (txId " + std::to_string(pg->xid.value()) + ", seq " +
           std::to_string(pg->seq) + ")";
  }
  return PositionKey(position);
}

}  // namespace cdc
