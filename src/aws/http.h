// One small blocking HTTP request with libcurl, for the metadata services (credentials.cc).
// Internal to src/aws.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cdc::aws::internal {

void InitCurlOnce();

struct SimpleResponse {
  long status = 0;
  std::string body;
};

// Unavailable on connection errors and timeouts (the message names `what`, never the headers).
Result<SimpleResponse> SimpleRequest(const std::string& method, const std::string& url,
                                     const std::vector<std::string>& headers, int64_t timeout_ms,
                                     const std::string& what);

// "https://user:pw@host:8443/path?q" -> "https://host:8443": what messages may name of a URL.
std::string Origin(const std::string& url);

}  // namespace cdc::aws::internal
