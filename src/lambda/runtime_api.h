// A client of the AWS Lambda Runtime API (version 2018-06-01), what a custom runtime's bootstrap
// talks to at AWS_LAMBDA_RUNTIME_API: plain HTTP on the sandbox's loopback, no signing.
//
//   GET  /2018-06-01/runtime/invocation/next            blocks until an invocation comes
//   POST /2018-06-01/runtime/invocation/{id}/response   the function's answer
//   POST /2018-06-01/runtime/invocation/{id}/error      the invocation failed
//   POST /2018-06-01/runtime/init/error                 the runtime cannot start
//
// Thread-safety: one thread uses a client; `stop` may be set from a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cdc::lambda {

struct Invocation {
  std::string request_id;    // Lambda-Runtime-Aws-Request-Id
  int64_t deadline_ms = 0;   // Lambda-Runtime-Deadline-Ms: Unix epoch milliseconds; 0 = none
  std::string trace_id;      // Lambda-Runtime-Trace-Id (the runtime sets _X_AMZN_TRACE_ID)
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string body;          // the event
};

class RuntimeApiClient {
 public:
  // `address` is AWS_LAMBDA_RUNTIME_API ("127.0.0.1:9001"). `stop` (may be null) must outlive
  // the client: Next returns Aborted soon after it becomes true (within about a second).
  RuntimeApiClient(std::string address, const std::atomic<bool>* stop);
  ~RuntimeApiClient();
  RuntimeApiClient(const RuntimeApiClient&) = delete;
  RuntimeApiClient& operator=(const RuntimeApiClient&) = delete;

  // Waits for the next invocation. Aborted when stopped; Unavailable when the API cannot be
  // reached or answers otherwise than 200 with a request id.
  Result<Invocation> Next();
  // The function's answer (the API answers 202).
  Status PostResponse(const std::string& request_id, std::string_view body);
  // `type` is the errorType ("Runtime.InvalidEvent"), sent as Lambda-Runtime-Function-Error-Type
  // too; `message` must hold no secrets and no row values.
  Status PostError(const std::string& request_id, std::string_view type, std::string_view message);
  Status PostInitError(std::string_view type, std::string_view message);

 private:
  Status Post(const std::string& path, std::string_view body, std::string_view error_type);

  std::string base_;  // "http://<address>/2018-06-01/runtime"
  const std::atomic<bool>* stop_;
  void* curl_ = nullptr;  // CURL*, reused between requests (keep-alive)
};

// The Runtime API's error document: {"errorMessage":...,"errorType":...,"stackTrace":[]}.
std::string ErrorDocument(std::string_view type, std::string_view message);

}  // namespace cdc::lambda
