// `cdc-pipeline lambda`: the binary as an AWS Lambda custom runtime (what the deployment zip's
// `bootstrap` runs). It picks the function (a table's processor) by name, builds its processor,
// targets and state store once, then loops on the Runtime API (runtime_api.h): each invocation's
// Kinesis or DynamoDB Streams batch goes through the BatchHandler (handler.h) and is answered
// with `batchItemFailures`. A configuration that does not load, or a name that is no function,
// is reported to /runtime/init/error and the runtime exits non-zero.
//
// Thread-safety: RunRuntime runs on one thread; `stop` may be set by a signal handler.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "config/config.h"

namespace cdc::lambda {

struct RuntimeOptions {
  std::string api_address;  // AWS_LAMBDA_RUNTIME_API ("127.0.0.1:9001")
  // The names to try, in order (_HANDLER, AWS_LAMBDA_FUNCTION_NAME): a table's `function`
  // ("processUserChanges"); of a handler "file.name" the part after the last dot counts too.
  std::vector<std::string> function_names;
  const std::atomic<bool>* stop = nullptr;  // SIGTERM: return after the current invocation
};

// Runs the loop until `stop`. `loaded` is the configuration as LoadAndValidate returned it (its
// errors are reported as the init error). Returns the process exit code: 0 after a stop, 1 when
// the runtime cannot start or the Runtime API fails.
int RunRuntime(const LoadResult& loaded, const RuntimeOptions& options);

}  // namespace cdc::lambda
