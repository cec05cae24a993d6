#include "target/aws_target_options.h"

namespace cdc {

void ReadAwsTargetOptions(OptionsReader& r, AwsTargetOptions& options) {
  r.String("region", options.region);
  r.String("endpoint", options.endpoint);
  r.Int("timeout_ms", options.timeout_ms);
  if (!options.endpoint.empty() && !options.endpoint.starts_with("http://") &&
      !options.endpoint.starts_with("https://")) {
    r.Error("endpoint", "'" + r.path() + ".endpoint' must start with http:// or https://");
  }
}

Result<std::unique_ptr<aws::JsonClient>> ConnectAwsTarget(const aws::Service& service,
                                                          const AwsTargetOptions& options,
                                                          const std::string& target) {
  aws::ClientOptions client_options;
  client_options.service = service;
  client_options.region = options.region;
  client_options.endpoint = options.endpoint;
  client_options.timeout_ms = options.timeout_ms;
  auto client = aws::JsonClient::Create(std::move(client_options));
  if (!client.ok()) return client.status().WithContext("target '" + target + "'");
  return client;
}

}  // namespace cdc
