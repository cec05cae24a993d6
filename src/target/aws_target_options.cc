#include "target/aws_target_options.h"

#include <simdjson.h>

namespace cdc {

Result<std::unique_ptr<aws::JsonClient>> ConnectAwsTarget(const aws::Service& service,
                                                          const AwsTargetOptions& options,
                                                          const std::string& target) {
  auto client = aws::JsonClient::Create(AwsClientOptions(service, options));
  if (!client.ok()) return client.status().WithContext("target '" + target + "'");
  return client;
}

Delivery DeliveryFor(const Status& s) {
  if (s.retryable()) return Delivery::kRetry;
  if (s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kNotFound) {
    return Delivery::kFatal;
  }
  return Delivery::kFailed;
}

void ReadBatchAnswer(const aws::Response& answer, std::string_view list, const std::string& what,
                     const std::string& call, const std::vector<size_t>& sent,
                     const std::function<Delivery(std::string_view code)>& entry_error,
                     std::span<DeliveryOutcome> out) {
  if (!answer.status.ok()) {
    Status s = answer.status.WithContext(what);
    for (size_t i : sent) out[i] = {DeliveryFor(s), s};
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array results;
  if (parser.parse(answer.body).get(root) != simdjson::SUCCESS ||
      root[list].get(results) != simdjson::SUCCESS || results.size() != sent.size()) {
    Status s = Unavailable(call + " answered without one result per event");
    for (size_t i : sent) out[i] = {Delivery::kRetry, s};
    return;
  }
  size_t n = 0;
  for (simdjson::dom::element result : results) {
    size_t i = sent[n++];
    std::string_view code;
    if (result["ErrorCode"].get(code) != simdjson::SUCCESS || code.empty()) {
      out[i] = {};
      continue;
    }
    std::string_view message;
    if (result["ErrorMessage"].get(message) != simdjson::SUCCESS) message = "";
    Delivery d = entry_error(code);
    std::string reason = what + ": " + std::string(code) +
                         (message.empty() ? "" : " (" + std::string(message) + ")");
    out[i] = {d, d == Delivery::kRetry ? Unavailable(reason) : InvalidArgument(reason)};
  }
}

}  // namespace cdc
