// What every AWS target kind reads besides its own fields (region, endpoint, timeout) and how it
// becomes a client of its service (src/aws): one place for the kinesis and dynamodb targets.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aws/client.h"
#include "base/status.h"
#include "config/registry.h"

namespace cdc {

struct AwsTargetOptions : KindOptions {
  std::string region;    // empty: AWS_REGION / AWS_DEFAULT_REGION
  std::string endpoint;  // empty: AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL / AWS's
  int64_t timeout_ms = 10000;
};

// Reads `region`, `endpoint` and `timeout_ms`; an endpoint that is not an http(s) URL is an
// error at its line.
void ReadAwsTargetOptions(OptionsReader& r, AwsTargetOptions& options);

// A client of `service` for the target named `target`.
Result<std::unique_ptr<aws::JsonClient>> ConnectAwsTarget(const aws::Service& service,
                                                          const AwsTargetOptions& options,
                                                          const std::string& target);

}  // namespace cdc
