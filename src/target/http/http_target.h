// The `http` target kind: each event as the body of one request (an EventBridge API
// destination), with the event id as its Idempotency-Key; at least once.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/registry.h"

namespace cdc {

struct HttpTargetOptions : KindOptions {
  std::string url;  // a secret: never logged
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;  // values are secrets
  int64_t timeout_ms = 5000;
};

void RegisterHttpTarget(Registry& registry);

}  // namespace cdc
