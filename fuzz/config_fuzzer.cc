// The config loader on arbitrary YAML, with the built-in registry of kinds and no process
// environment or .env file. It must return a config or errors, never throw or crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  cdc::EnvOptions env;
  env.dotenv_path = "/nonexistent/.env";
  env.use_process_env = false;
  env.overrides = {{"PGPASSWORD", "secret"}, {"CDC_ADMIN_LISTEN", "127.0.0.1:0"}};
  cdc::LoadResult r = cdc::LoadConfigFromString(yaml, "fuzz.yaml", env);
  if ((r.config == nullptr) == r.errors.empty()) std::abort();
  return 0;
}
