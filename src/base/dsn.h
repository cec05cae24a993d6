// The database of commands that take `--dsn`: the option, else COREDB_DSN.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace cdc {

// `arg` when given, else $COREDB_DSN; nullopt (with a message on stderr) when neither is set.
inline std::optional<std::string> DsnFromArgOrEnv(const std::string& arg) {
  if (!arg.empty()) return arg;
  const char* env = std::getenv("COREDB_DSN");
  if (env == nullptr || *env == '\0') {
    std::fprintf(stderr, "no database: pass --dsn or set COREDB_DSN\n");
    return std::nullopt;
  }
  return std::string(env);
}

}  // namespace cdc
