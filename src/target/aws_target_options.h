// What every AWS target kind reads besides its own fields (region, endpoint, timeout), how it
// becomes a client of its service (src/aws), and how AWS's answers become delivery results: one
// place for the kinesis, dynamodb and eventbridge targets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_options.h"
#include "aws/client.h"
#include "base/status.h"
#include "config/registry.h"
#include "target/target.h"

namespace cdc {

// Region, endpoint and timeout (src/aws/aws_options.h), shared with the DynamoDB state store.
struct AwsTargetOptions : AwsOptions {};

// Reads `region`, `endpoint` and `timeout_ms` (ReadAwsOptions).
inline void ReadAwsTargetOptions(OptionsReader& r, AwsTargetOptions& options) {
  ReadAwsOptions(r, options);
}

// A client of `service` for the target named `target`.
Result<std::unique_ptr<aws::JsonClient>> ConnectAwsTarget(const aws::Service& service,
                                                          const AwsTargetOptions& options,
                                                          const std::string& target);

// What a failed call means for its events: retryable (throttling, 5xx, network) -> kRetry;
// refused credentials or a missing stream, table or bus -> kFatal (nothing can be delivered until
// the config or the account is fixed, and dead-lettering every event would hide it); the rest
// (the request was refused) -> kFailed.
Delivery DeliveryFor(const Status& s);

// Sets the results of the events `sent` (indexes into `out`) of one batch call (PutRecords,
// PutEvents) from its answer: a failed call gives them all DeliveryFor(status with `what` as
// context); an answer without the array `list` ("Records", "Entries") of one element per event
// retries them all; an element with an ErrorCode fails its event as `entry_error(code)` says
// (Unavailable for kRetry, InvalidArgument otherwise, the reason "<what>: <code> (<message>)"),
// the others are delivered. `call` names the call in messages ("kinesis PutRecords at <origin>").
void ReadBatchAnswer(const aws::Response& answer, std::string_view list, const std::string& what,
                     const std::string& call, const std::vector<size_t>& sent,
                     const std::function<Delivery(std::string_view code)>& entry_error,
                     std::span<DeliveryOutcome> out);

}  // namespace cdc
