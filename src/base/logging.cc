#include "base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "base/scrub.h"

namespace cdc::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

spdlog::logger& Logger() {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("cdc-pipeline");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Write(Level level, std::string_view raw) {
  // Every line goes through the one scrubber: a DSN's password never reaches the log.
  std::string message = ScrubSecrets(raw);
  switch (level) {
    case Level::kDebug:
      Logger().debug(message);
      break;
    case Level::kInfo:
      Logger().info(message);
      break;
    case Level::kWarn:
      Logger().warn(message);
      break;
    case Level::kError:
      Logger().error(message);
      break;
    case Level::kOff:
      break;
  }
}

bool ParseLevel(std::string_view text, Level& out) {
  if (text == "debug")
    out = Level::kDebug;
  else if (text == "info")
    out = Level::kInfo;
  else if (text == "warn")
    out = Level::kWarn;
  else if (text == "error")
    out = Level::kError;
  else if (text == "off")
    out = Level::kOff;
  else
    return false;
  return true;
}

}  // namespace cdc::log
