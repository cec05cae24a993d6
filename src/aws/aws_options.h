// What every AWS kind reads besides its own fields (region, endpoint, timeout) and how those
// become a client of its service: shared by the AWS targets (src/target/aws_target_options.h)
// and the DynamoDB state store (src/state/dynamodb).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aws/client.h"
#include "base/status.h"
#include "config/registry.h"

namespace cdc {

struct AwsOptions : KindOptions {
  std::string region;    // empty: AWS_REGION / AWS_DEFAULT_REGION
  std::string endpoint;  // empty: AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL / AWS's
  int64_t timeout_ms = 10000;
};

// Reads `region`, `endpoint` and `timeout_ms`; an endpoint that is not an http(s) URL is an
// error at its line.
void ReadAwsOptions(OptionsReader& r, AwsOptions& options);

// The client options of `service` for `options` (credentials from the standard chain).
aws::ClientOptions AwsClientOptions(const aws::Service& service, const AwsOptions& options);

}  // namespace cdc
