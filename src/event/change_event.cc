#include "event/change_event.h"

#include <algorithm>
#include <charconv>

namespace cdc {

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kInsert:
      return "INSERT";
    case Op::kUpdate:
      return "UPDATE";
    case Op::kDelete:
      return "DELETE";
    case Op::kTruncate:
      return "TRUNCATE";
    case Op::kRead:
      return "READ";
  }
  return "UNKNOWN";
}

std::optional<Op> ParseOp(std::string_view name) {
  if (name == "INSERT") return Op::kInsert;
  if (name == "UPDATE") return Op::kUpdate;
  if (name == "DELETE") return Op::kDelete;
  if (name == "TRUNCATE") return Op::kTruncate;
  if (name == "READ") return Op::kRead;
  return std::nullopt;
}

void AppendPositionKey(const SourcePosition& position, std::string& out) {
  if (const auto* pg = std::get_if<PgPosition>(&position)) {
    // Computed for every event's id: appended by hand rather than formatted.
    char buf[24];
    auto hex = [&](uint32_t v) {  // upper case, as Lsn::ToString
      char* end = std::to_chars(buf, buf + sizeof(buf), v, 16).ptr;
      for (char* c = buf; c < end; ++c) {
        if (*c >= 'a' && *c <= 'f') *c = static_cast<char>(*c - 'a' + 'A');
      }
      out.append(buf, end);
    };
    auto decimal = [&](uint32_t v) {
      out.append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
    };
    out += "pg/";
    hex(static_cast<uint32_t>(pg->commit_lsn.value() >> 32));
    out += '/';
    hex(static_cast<uint32_t>(pg->commit_lsn.value()));
    out += '/';
    decimal(pg->xid.value());
    out += '/';
    decimal(pg->seq);
    return;
  }
  if (const auto* c = std::get_if<ContentPosition>(&position)) {
    out += "json/";
    out += c->digest;
    return;
  }
  out += "none";
}

std::string PositionKey(const SourcePosition& position) {
  std::string out;
  AppendPositionKey(position, out);
  return out;
}

std::string ChangeEvent::QualifiedName() const {
  if (schema.empty() || schema == "public") return table;
  return schema + "." + table;
}

std::string PgPositionText(const PgPosition& p) {
  return std::to_string(p.commit_lsn.value()) + "/" + std::to_string(p.xid.value()) + "/" +
         std::to_string(p.seq);
}

std::optional<PgPosition> ParsePgPositionText(std::string_view text) {
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

}  // namespace cdc
