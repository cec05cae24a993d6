// The admin HTTP server of `cdc-pipeline run` (admin.listen, default 127.0.0.1:9400):
//   /metrics     Prometheus text format (one rendering shared by the scrapes of 100 ms): the
//                running pipeline's live registry, then the figures of
//                its PipelineStatus (runtime/status.h) that the registry does not have;
//   /healthz     200 while the process is alive;
//   /readyz      200 when the source is connected, no target is failing and the source lag is
//                within admin.ready_max_lag_seconds; otherwise 503 with the reasons as JSON;
//   /api/status  the `status --json` document with the live counts.
// The HTTP library (cpp-httplib) stays inside admin_server.cc.
//
// Thread-safety: Start and Stop on the thread that runs the pipeline; requests are served on the
// server's own threads, which read only what any thread may read: the metrics registry (atomics
// and its lock), Source::Connected, Pipeline::FailingTargets and the state store (opened
// read-only for each status read, at most once a second).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"

namespace cdc {

class Pipeline;
class Source;
class ShardUnitsView;

namespace admin {

class AdminServer {
 public:
  // Binds config->admin.listen and serves until Stop. Writes the address bound (port 0: the port
  // the system chose) to <data_dir>/admin.addr. `pipeline` and `source` must outlive the server.
  static Result<std::unique_ptr<AdminServer>> Start(std::shared_ptr<const Config> config,
                                                    Pipeline& pipeline, Source& source);
  ~AdminServer();  // Stop
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Stops serving (requests in flight finish first) and removes <data_dir>/admin.addr.
  void Stop();
  // "127.0.0.1:9400", "[::1]:9400": the address bound.
  const std::string& address() const;

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The admin server of `run --role process` (admin.listen), for the shards' units it runs:
//   /metrics     every delivering unit's live metrics, each series labelled with its `shard`,
//                then cdc_process_units{state} and cdc_process_assigned_age_seconds;
//   /healthz     200 while the process is alive;
//   /readyz      200 when the shard assigner answered within the last 10 s and no unit's target
//                is failing; otherwise 503 with the reasons;
//   /api/status  {"role":"process","pipeline":..,"assigner":..,"assigned_age_seconds":..,
//                "units":[{"shard":0,"state":"delivering","failing_targets":[]},..]}.
// Processes sharing a data dir (shared storage) would share <data_dir>/admin.addr, so it writes
// none: give each process its own admin.listen (CDC_ADMIN_LISTEN) when several run on one host.
class ProcessAdminServer {
 public:
  // `units` must outlive the server.
  static Result<std::unique_ptr<ProcessAdminServer>> Start(std::shared_ptr<const Config> config,
                                                           const ShardUnitsView& units);
  ~ProcessAdminServer();  // Stop
  ProcessAdminServer(const ProcessAdminServer&) = delete;
  ProcessAdminServer& operator=(const ProcessAdminServer&) = delete;
  void Stop();
  const std::string& address() const;

 private:
  struct Impl;
  explicit ProcessAdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The path of the file that holds the bound address while `run` serves.
std::string AdminAddressPath(const Config& config);

// The running pipeline's readiness as its /readyz answers it.
struct Readiness {
  std::string address;  // "127.0.0.1:9400"
  bool ready = false;
  std::vector<std::string> reasons;  // why not ready
};

// For `health-check` while `run` serves: asks the admin server whose address
// <data_dir>/admin.addr holds for /readyz. nullopt when no `run` serves one (no such file, or
// nothing listens there any more: a killed run leaves the file); Unavailable when it does not
// answer in time or answers something else than /readyz does.
Result<std::optional<Readiness>> ProbeRunningPipeline(const Config& config);

}  // namespace admin
}  // namespace cdc
