// Process-wide logging to stderr (spdlog behind a narrow interface, so that spdlog's headers stay
// out of the rest of the build). Never log PII or secrets: log tables, key hashes and positions,
// not row values. As a last line of defence every line passes through ScrubSecrets (scrub.h), which
// removes DSN passwords.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace cdc::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// kText: "2026-01-02T03:04:05.678Z info message"; kJson: one JSON object per line,
// {"time":"2026-01-02T03:04:05.678Z","level":"info","message":"..."} (log collectors).
enum class Format { kText, kJson };

void SetLevel(Level level);
void SetFormat(Format format);
// Parses "text", "json".
bool ParseFormat(std::string_view text, Format& out);
bool Enabled(Level level);
void Write(Level level, std::string_view message);
// Parses "debug", "info", "warn", "error", "off".
bool ParseLevel(std::string_view text, Level& out);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace cdc::log
