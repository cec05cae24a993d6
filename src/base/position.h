// Strongly typed positions (after redpanda's named_type): a PostgreSQL LSN, a stream offset and a
// shard id are different types, so a shard offset can never be acknowledged to PostgreSQL.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cdc {

template <typename T, typename Tag>
class NamedType {
 public:
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;

 private:
  T value_{};
};

// A PostgreSQL write-ahead-log position, printed as "X/Y" like pg_lsn.
class Lsn : public NamedType<uint64_t, struct LsnTag> {
 public:
  using NamedType::NamedType;
  std::string ToString() const;
  static std::optional<Lsn> Parse(std::string_view text);
};

// The offset (sequence number) of a record inside one shard of the stream.
using StreamOffset = NamedType<uint64_t, struct StreamOffsetTag>;
// The index of a shard of the stream.
using ShardId = NamedType<uint32_t, struct ShardIdTag>;
// A PostgreSQL transaction id.
using TxId = NamedType<uint32_t, struct TxIdTag>;

}  // namespace cdc
