// Where a change came from, opaque to every stage but the source that made it: a kind ("pg",
// "json") and bytes. Within one kind the bytes order changes as their source does (memcmp
// order), so the runtime can tell a change it already holds without knowing the source. The
// text forms (the event-id key, the state store's text, the text for people) come from the
// kind's codec; the built-in kinds and their codecs are in position_kinds.h.
//
// Thread-safety: a value type; the functions only read.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cdc {

class SourcePosition {
 public:
  SourcePosition() = default;  // none: a change that did not come from a source
  SourcePosition(std::string kind, std::string bytes)
      : kind_(std::move(kind)), bytes_(std::move(bytes)) {}

  bool empty() const { return kind_.empty(); }
  const std::string& kind() const { return kind_; }
  const std::string& bytes() const { return bytes_; }
  bool operator==(const SourcePosition&) const = default;

 private:
  std::string kind_;
  std::string bytes_;
};

// Whether the positions of this kind are ordered (a database log: a later change has larger
// bytes) rather than only identifying (content digests, deduplicated by key instead).
bool IsOrdered(const SourcePosition& position);
// Whether changes of this kind carry the whole row after the change (a database row image), so
// a missing column is a violation rather than a partial input.
bool HasCompleteRows(const SourcePosition& position);
// The order of two positions of one ordered kind; nullopt when either is unordered or their
// kinds differ (then neither is known to come first).
std::optional<std::strong_ordering> ComparePositions(const SourcePosition& a,
                                                     const SourcePosition& b);

// A stable text form of the position, used to derive the event id: "pg/0/1540978/729/0",
// "json/<digest>", "none".
std::string PositionKey(const SourcePosition& position);
void AppendPositionKey(const SourcePosition& position, std::string& out);

// The text the state store keeps for a position ("source.position") and back; nullopt when
// `text` is not one. A PostgreSQL position is "commitLsn/xid/seq" in decimal, as every version
// wrote it; other kinds are "<kind>:<hex bytes>".
std::string PositionStateText(const SourcePosition& position);
std::optional<SourcePosition> ParsePositionStateText(std::string_view text);

// For people (`status`): "0/1A749A8 (txId 2005, seq 2)".
std::string DescribePosition(const SourcePosition& position);

}  // namespace cdc
