// The local bus served as an EventBridge-compatible API (AWS JSON 1.1: POST /,
// `X-Amz-Target: AWSEvents.<Operation>`), started by `cdc-pipeline run` when api.listen is set:
// PutEvents publishes into the pipeline's bus (durably, through its stream; its rules route the
// events as they route the pipeline's own), and PutRule, DeleteRule, DescribeRule, ListRules,
// EnableRule, DisableRule, PutTargets, RemoveTargets and ListTargetsByRule manage rules that
// route to the configured targets and are kept in the state store. TestEventPattern,
// DescribeEventBus and ListEventBuses answer as AWS does. Errors have AWS's shape
// ({"__type": "ValidationException", "message": ...}, HTTP 400). With api.access_key_id set,
// requests must carry a SigV4 signature of that key. The requests themselves are handled by
// BusApi (bus_api.h); this file serves them over HTTP (cpp-httplib stays inside api_server.cc).
//
// Thread-safety: Start and Stop on the thread that runs the pipeline; requests are served on the
// server's own threads and reach the pipeline only through its thread-safe PublishEvents and
// ReplaceApiRules. The rules are guarded by one mutex; rule changes are applied one at a time.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "config/config.h"

namespace cdc {

class Pipeline;

namespace api {

class ApiServer {
 public:
  // Binds config->api.listen, serves until Stop, and makes the pipeline load the API's rules
  // from its state store when it runs (call it before Pipeline::Run). Writes the address bound
  // to <data_dir>/api.addr. `pipeline` must outlive the server.
  static Result<std::unique_ptr<ApiServer>> Start(std::shared_ptr<const Config> config,
                                                  Pipeline& pipeline);
  ~ApiServer();  // Stop
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Stops serving (requests in flight finish first) and removes <data_dir>/api.addr.
  void Stop();
  // "127.0.0.1:4010", "[::1]:4010": the address bound.
  const std::string& address() const;

 private:
  struct Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The path of the file that holds the bound address while `run` serves.
std::string ApiAddressPath(const Config& config);

}  // namespace api
}  // namespace cdc
