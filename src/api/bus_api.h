// The bus's EventBridge API without its HTTP server: BusApi takes one request (method, path,
// query, headers, body; AWS JSON 1.1 with `X-Amz-Target: AWSEvents.<Operation>`) and gives the
// answer (status, JSON body, AWS error type), checking the SigV4 signature first when
// api.access_key_id is set. It reaches the pipeline only through a BusApiBackend: the running
// pipeline in `run` (api_server.cc), an in-memory one in the fuzz target. The operations and
// their answers are described in api_server.h.
//
// Thread-safety: Handle may be called from several threads at once (the rules are guarded by
// one mutex; rule changes are applied one at a time).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "bus/router.h"
#include "config/config.h"

namespace cdc::api {

// What the API needs of the pipeline.
class BusApiBackend {
 public:
  virtual ~BusApiBackend() = default;
  // Appends the events durably: OK means every matching target will receive them.
  virtual Status PublishEvents(const std::vector<BusEvent>& events) = 0;
  // Routes by `rules` from the next event on and keeps `stored` (their serialized form) to be
  // handed back to Load after a restart. InvalidArgument when a rule cannot be compiled.
  virtual Status ReplaceApiRules(std::vector<RouterRule> rules, const std::string& stored) = 0;
};

struct ApiRequest {
  std::string method;                                      // "POST"
  std::string path;                                        // "/"
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  // A header's value by its lower-case name (values of a repeated header joined with ','),
  // empty when absent.
  std::function<std::string(std::string_view lower_name)> header;
  std::string_view body;
};

struct ApiResponse {
  int status = 200;
  std::string body;        // JSON (application/x-amz-json-1.1)
  std::string error_type;  // for x-amzn-ErrorType; empty on success
  std::string request_id;  // for x-amzn-RequestId
};

class BusApi {
 public:
  BusApi(std::shared_ptr<const Config> config, BusApiBackend& backend);
  ~BusApi();
  BusApi(const BusApi&) = delete;
  BusApi& operator=(const BusApi&) = delete;

  // The rules made over the API, from what ReplaceApiRules was given to keep (nullopt: none
  // yet), as the router takes them. Corruption when `stored` is not ours.
  Result<std::vector<RouterRule>> Load(const std::optional<std::string>& stored);
  ApiResponse Handle(const ApiRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The configured target an API target's Arn names: the part after its last '/' or ':' (so
// "arn:aws:events:local:000000000000:target/Wallboards", "arn:aws:sqs:us-east-1:1:Wallboards"
// and "Wallboards" all name the target `Wallboards`); empty when no configured target has that
// name.
std::string TargetForArn(const Config& config, std::string_view arn);

}  // namespace cdc::api
