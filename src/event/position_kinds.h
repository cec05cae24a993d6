// The position kinds of the sources built into this binary, and their codecs: PostgreSQL's
// ("pg": commit LSN, transaction id, index of the change in its transaction) and content
// digests ("json": changes read from files). Only the sources that make these positions, and
// the event encodings that keep their existing formats (envelope metadata, stream records),
// look inside them; every other stage sees an opaque SourcePosition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/position.h"
#include "event/source_position.h"

namespace cdc {

inline constexpr std::string_view kPgPositionKind = "pg";
inline constexpr std::string_view kContentPositionKind = "json";

// Where a change came from in PostgreSQL. Unique per change and stable across re-reads of the
// WAL. Its position bytes are the three fields big-endian, so bytes order is this order.
struct PgPosition {
  Lsn commit_lsn;
  TxId xid;
  uint32_t seq = 0;
  auto operator<=>(const PgPosition&) const = default;
};

SourcePosition ToPosition(const PgPosition& p);
// nullopt when `p` is not a PostgreSQL position.
std::optional<PgPosition> PgPositionOf(const SourcePosition& p);

// Changes read from JSON files carry no database position; they are identified by the digest of
// their content (32 lower-case hex characters), so the same input event always gets the same id.
SourcePosition ContentPosition(std::string digest);
// The digest, or null when `p` is not a content position.
const std::string* ContentDigestOf(const SourcePosition& p);

}  // namespace cdc
