#include "config/env.h"

#include <cstdlib>

namespace cdc::config_internal {

std::map<std::string, std::string> ParseDotEnv(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line.remove_prefix(7);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string key(line.substr(0, eq));
    while (!key.empty() && key.back() == ' ') key.pop_back();
    std::string_view value = line.substr(eq + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (size_t hash = value.find(" #"); hash != std::string_view::npos) {
      value = value.substr(0, hash);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    }
    out[key] = std::string(value);
  }
  return out;
}

EnvLookup::EnvLookup(std::map<std::string, std::string> overrides,
                     std::map<std::string, std::string> dotenv, bool use_process_env)
    : overrides_(std::move(overrides)),
      dotenv_(std::move(dotenv)),
      use_process_env_(use_process_env) {}

std::optional<std::string> EnvLookup::Get(const std::string& name) const {
  if (auto it = overrides_.find(name); it != overrides_.end()) return it->second;
  if (use_process_env_) {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
  }
  if (auto it = dotenv_.find(name); it != dotenv_.end()) return it->second;
  return std::nullopt;
}

namespace {
bool IsVarChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (!first && c >= '0' && c <= '9');
}
}  // namespace

Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out.push_back(c);
      continue;
    }
    size_t close = i + 2;
    for (int depth = 1; close < text.size(); ++close) {
      if (text[close] == '{') ++depth;
      if (text[close] == '}' && --depth == 0) break;
    }
    if (close >= text.size()) {
      return InvalidArgument("unterminated '${' (write '$$' for a literal '$')");
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    bool valid = !name.empty();
    for (size_t k = 0; k < name.size() && valid; ++k) valid = IsVarChar(name[k], k == 0);
    if (!valid) {
      return InvalidArgument("'${" + std::string(inner) +
                             "}' is not a variable reference: use ${NAME} or ${NAME:-default}");
    }
    auto value = env.Get(std::string(name));
    if (value && (!value->empty() || !fallback)) {
      out += *value;
    } else if (fallback) {
      CDC_ASSIGN_OR_RETURN(std::string expanded, ExpandEnv(*fallback, env));
      out += expanded;
    } else {
      return InvalidArgument("environment variable " + std::string(name) +
                             " is not set (set it, add it to .env, or write ${" +
                             std::string(name) + ":-default})");
    }
    i = close;
  }
  return out;
}

}  // namespace cdc::config_internal
