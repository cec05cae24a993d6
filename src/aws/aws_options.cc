#include "aws/aws_options.h"

namespace cdc {

void ReadAwsOptions(OptionsReader& r, AwsOptions& options) {
  r.String("region", options.region);
  r.String("endpoint", options.endpoint);
  r.Int("timeout_ms", options.timeout_ms);
  if (!options.endpoint.empty() && !options.endpoint.starts_with("http://") &&
      !options.endpoint.starts_with("https://")) {
    r.Error("endpoint", "'" + r.path() + ".endpoint' must start with http:// or https://");
  }
}

aws::ClientOptions AwsClientOptions(const aws::Service& service, const AwsOptions& options) {
  aws::ClientOptions client_options;
  client_options.service = service;
  client_options.region = options.region;
  client_options.endpoint = options.endpoint;
  client_options.timeout_ms = options.timeout_ms;
  return client_options;
}

}  // namespace cdc
