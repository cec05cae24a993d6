// A small HTTP client for tests (libcurl): GETs of admin endpoints, and the proxies in front of
// the AWS emulators passing requests on.
#pragma once

#include <string>
#include <vector>

namespace cdc::testing {

struct HttpAnswer {
  long status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
};

HttpAnswer HttpGet(const std::string& url, long timeout_seconds = 60);
// POSTs `body` with `headers` ("Name: value").
HttpAnswer HttpPost(const std::string& url, const std::vector<std::string>& headers,
                    const std::string& body, long timeout_seconds = 60);

}  // namespace cdc::testing
