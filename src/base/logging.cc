#include "base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "base/scrub.h"

namespace cdc::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

std::atomic<bool> g_json{false};

spdlog::logger& Logger() {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("cdc-pipeline");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

// The JSON format: the message arrives as a JSON string literal (JsonString).
spdlog::logger& JsonLogger() {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("cdc-pipeline-json");
    l->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%v})",
                   spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\u%04x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
void SetFormat(Format format) { g_json.store(format == Format::kJson); }

bool ParseFormat(std::string_view text, Format& out) {
  if (text == "text") {
    out = Format::kText;
  } else if (text == "json") {
    out = Format::kJson;
  } else {
    return false;
  }
  return true;
}
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Write(Level level, std::string_view raw) {
  // Every line goes through the one scrubber: a DSN's password never reaches the log.
  std::string message = ScrubSecrets(raw);
  bool json = g_json.load();
  if (json) message = JsonString(message);
  spdlog::logger& logger = json ? JsonLogger() : Logger();
  switch (level) {
    case Level::kDebug:
      logger.debug(message);
      break;
    case Level::kInfo:
      logger.info(message);
      break;
    case Level::kWarn:
      logger.warn(message);
      break;
    case Level::kError:
      logger.error(message);
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
