#include "base/position.h"

#include <charconv>
#include <cstdio>

namespace cdc {

std::string Lsn::ToString() const {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<unsigned>(value() >> 32),
                        static_cast<unsigned>(value() & 0xffffffffu));
  return std::string(buf, static_cast<size_t>(n));
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
