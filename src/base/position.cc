#include "base/position.h"

#include <charconv>

namespace cdc {

std::string Lsn::ToString() const {
  // Upper-case hex without leading zeros, as pg_lsn prints it; on the hot path, so no printf.
  char buf[24];
  auto [hi_end, e1] = std::to_chars(buf, buf + 8, static_cast<uint32_t>(value() >> 32), 16);
  *hi_end = '/';
  auto [end, e2] = std::to_chars(hi_end + 1, buf + sizeof(buf), static_cast<uint32_t>(value()), 16);
  for (char* p = buf; p < end; ++p) {
    if (*p >= 'a' && *p <= 'f') *p = static_cast<char>(*p - 'a' + 'A');
  }
  return std::string(buf, end);
}

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size())
    return std::nullopt;
  uint32_t hi = 0, lo = 0;
  auto parse = [](std::string_view s, uint32_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (!parse(text.substr(0, slash), hi) || !parse(text.substr(slash + 1), lo)) return std::nullopt;
  return Lsn((static_cast<uint64_t>(hi) << 32) | lo);
}

}  // namespace cdc
