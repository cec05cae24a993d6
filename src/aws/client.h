// An AWS JSON protocol client (Kinesis and EventBridge: JSON 1.1, DynamoDB: JSON 1.0): POST / with
// `X-Amz-Target: <prefix>.<Operation>` and `Content-Type: application/x-amz-json-1.x`, signed by
// libcurl's own SigV4 (CURLOPT_AWS_SIGV4 "aws:amz:<region>:<service>"; no crypto of ours), the
// session token as `X-Amz-Security-Token`. Answers are classified into Status codes:
//   Unavailable        throttling (ProvisionedThroughputExceeded, Throttling...), 5xx, network:
//                      retry the call, with Backoff() (full jitter)
//   FailedPrecondition credentials refused (UnrecognizedClient, InvalidSignature, AccessDenied):
//                      retrying will not help; the message says what to fix
//   NotFound           ResourceNotFoundException (a missing stream or table)
//   InvalidArgument    the request itself was refused (ValidationException, ...)
// Messages name the service, the operation, the endpoint's origin and AWS's error type and
// message; never credentials, signatures or request bodies.
//
// Thread-safety: a JsonClient is used by one thread at a time (it keeps its connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "base/status.h"

namespace cdc::aws {

// A service the client knows: its SigV4 name, its X-Amz-Target prefix, its endpoint variable
// suffix (AWS_ENDPOINT_URL_<env_name>) and its protocol's content type.
struct Service {
  std::string_view signing_name;   // "kinesis", "dynamodb", "events"
  std::string_view target_prefix;  // "Kinesis_20131202", "DynamoDB_20120810"
  std::string_view env_name;       // "KINESIS", "DYNAMODB"
  std::string_view content_type;   // "application/x-amz-json-1.1" (Kinesis), "-1.0" (DynamoDB)
};
inline constexpr Service kKinesis{"kinesis", "Kinesis_20131202", "KINESIS",
                                  "application/x-amz-json-1.1"};
inline constexpr Service kDynamoDb{"dynamodb", "DynamoDB_20120810", "DYNAMODB",
                                   "application/x-amz-json-1.0"};
inline constexpr Service kEventBridge{"events", "AWSEvents", "EVENTBRIDGE",
                                      "application/x-amz-json-1.1"};
// Lambda speaks REST-JSON (a method and a path per operation, no X-Amz-Target): use Rest().
inline constexpr Service kLambda{"lambda", "", "LAMBDA", "application/json"};

// Region: `configured`, else AWS_REGION, else AWS_DEFAULT_REGION; InvalidArgument otherwise.
Result<std::string> ResolveRegion(const std::string& configured, const Environment& env);
// Endpoint: `configured`, else AWS_ENDPOINT_URL_<SERVICE>, else (DynamoDB) DYNAMODB_ENDPOINT,
// else AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com.
std::string ResolveEndpoint(const Service& service, const std::string& configured,
                            const std::string& region, const Environment& env);

struct ClientOptions {
  Service service = kKinesis;
  std::string region;    // empty: from the environment
  std::string endpoint;  // empty: from the environment, else AWS's
  int64_t timeout_ms = 10000;
  CredentialOptions credentials;
};

// One answer. `status` is OK for 2xx; otherwise classified (see above), and `error_type` is
// AWS's `__type` without its namespace ("ConditionalCheckFailedException").
struct Response {
  Status status;
  long http_status = 0;
  std::string error_type;
  std::string body;
};

// Classifies an AWS error answer (exposed for tests).
Status ClassifyError(const Service& service, std::string_view operation, const std::string& origin,
                     long http_status, const std::string& type, const std::string& message);
// Splits an error body into (type without namespace, message).
std::pair<std::string, std::string> ParseErrorBody(std::string_view body);

class JsonClient {
 public:
  // Resolves region and endpoint (InvalidArgument when there is no region); credentials are
  // resolved at the first call.
  static Result<std::unique_ptr<JsonClient>> Create(ClientOptions options);
  ~JsonClient();
  JsonClient(const JsonClient&) = delete;
  JsonClient& operator=(const JsonClient&) = delete;

  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }
  // The endpoint without credentials or path, for messages.
  const std::string& origin() const { return origin_; }

  // One call: `body` is the request's JSON.
  Response Call(std::string_view operation, std::string_view body);
  // Several calls of one operation at once, up to `parallel` on the wire; one answer per body,
  // in order.
  std::vector<Response> CallMany(std::string_view operation, std::span<const std::string> bodies,
                                 size_t parallel);
  // One call of a REST-JSON service (Lambda): `method` on the endpoint + `path` (which must be
  // escaped already), with `body` unless it is empty. `operation` only names the call in
  // messages. Signed and classified like Call.
  Response Rest(std::string_view operation, std::string_view method, std::string_view path,
                std::string_view body);

 private:
  struct Handle;
  explicit JsonClient(ClientOptions options, std::string region, std::string endpoint);
  Status Prepare(Handle& h, std::string_view operation, std::string_view body,
                 std::string_view method = "POST", std::string_view path = "");
  Response Finish(Handle& h, std::string_view operation, int curl_code);

  ClientOptions options_;
  std::string region_;
  std::string endpoint_;
  std::string origin_;
  std::string sigv4_;
  CredentialProvider credentials_;
  std::vector<std::unique_ptr<Handle>> handles_;
  void* multi_ = nullptr;  // CURLM*
};

// Full-jitter exponential backoff for callers that retry a call themselves: a uniformly random
// wait up to min(cap, base * 2^(attempt-1)).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
      : base_(base), cap_(cap), rng_(std::random_device{}()) {}
  std::chrono::milliseconds Next(int attempt);

 private:
  std::chrono::milliseconds base_, cap_;
  std::mt19937_64 rng_;
};

}  // namespace cdc::aws
