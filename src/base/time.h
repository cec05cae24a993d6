// Time values and the clock. Timestamps are microseconds since the Unix epoch (UTC), the same
// resolution PostgreSQL uses. The Clock interface lets tests run with a fixed time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cdc {

// Microseconds since 1970-01-01T00:00:00Z.
struct Timestamp {
  int64_t micros = 0;
  auto operator<=>(const Timestamp&) const = default;
};

// Parses RFC 3339 ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123+02:00"; a space instead of
// "T" is accepted). Returns nullopt when the text is not a valid date-time with an offset.
std::optional<Timestamp> ParseRfc3339(std::string_view text);

// Formats as RFC 3339 UTC with a "Z" suffix; fractional seconds only when non-zero, trimmed of
// trailing zeros (e.g. "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.5Z").
std::string FormatRfc3339(Timestamp t);
// The same into `buf` (no allocation, for the hot path); returns the length.
constexpr size_t kRfc3339Capacity = 40;
size_t FormatRfc3339(Timestamp t, char (&buf)[kRfc3339Capacity]);

// Days since the epoch for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  static const SystemClock& Instance();
};

// A clock that always returns the time it was given; for hermetic tests.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(Timestamp t) : t_(t) {}
  Timestamp Now() const override { return t_; }

 private:
  Timestamp t_;
};

}  // namespace cdc
