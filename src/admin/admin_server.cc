#include "admin/admin_server.h"

#include <httplib.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "admin/http_listen.h"
#include "admin/web_assets.h"
#include "base/logging.h"
#include "event/json_writer.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"
#include "runtime/pipeline.h"
#include "runtime/shard_units.h"
#include "runtime/status.h"
#include "source/source.h"

namespace cdc::admin {
namespace {

// A status read opens the state store and asks the source for its lag (for PostgreSQL, a
// connection): scrapes and probes within this age share one.
constexpr auto kStatusMaxAge = std::chrono::seconds(1);
// Scrapes this close together share one rendering of /metrics: a crowd of scrapers (many
// Prometheus servers, a load test) costs the pipeline a rendering per interval, not per scrape.
constexpr auto kMetricsMaxAge = std::chrono::milliseconds(100);
constexpr size_t kServerThreads = 4;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The resident set size from /proc/self/statm (pages), or 0 when it cannot be read.
uint64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Binds admin.listen, or says what to change; warns when it is not loopback.
Result<std::string> Listen(httplib::Server& server, const AdminConfig& admin) {
  auto bound = BindServer(server, admin.host, admin.port, kServerThreads);
  if (!bound.ok()) {
    return Unavailable("the admin server cannot listen on " + admin.listen + " (" +
                       admin.where.ToString() +
                       "): the address is in use (another `cdc-pipeline run`?) or not an address "
                       "of this host. Set admin.listen to a free port (e.g. "
                       "CDC_ADMIN_LISTEN=127.0.0.1:9401), or admin.enabled: false");
  }
  if (!IsLoopback(admin.host)) {
    log::Warn(
        "the admin server listens on {}, not on loopback: /metrics, /readyz and /api/status "
        "have no authentication; keep the port on a private network",
        *bound);
  }
  return bound;
}

std::string JsonObject(bool ready, const std::vector<std::string>& reasons) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("ready").Bool(ready);
  if (!reasons.empty()) {
    w.Key("reasons").BeginArray();
    for (const auto& r : reasons) w.String(r);
    w.EndArray();
  }
  w.EndObject();
  return out;
}

// The four endpoints both admin servers have.
void AddEndpoints(httplib::Server& server, std::function<std::string()> render_metrics,
                  std::function<std::vector<std::string>()> not_ready,
                  std::function<std::string()> status) {
  server.Get("/metrics", [render_metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(), std::string(metrics::kPrometheusContentType).c_str());
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [not_ready](const httplib::Request&, httplib::Response& res) {
    auto reasons = not_ready();
    res.status = reasons.empty() ? 200 : 503;
    res.set_content(JsonObject(reasons.empty(), reasons) + "\n", "application/json");
  });
  server.Get("/api/status", [status](const httplib::Request&, httplib::Response& res) {
    res.set_content(status() + "\n", "application/json");
  });
}

}  // namespace

std::string AdminAddressPath(const Config& config) {
  return config.pipeline.data_dir + "/admin.addr";
}

struct AdminServer::Impl {
  std::shared_ptr<const Config> config;
  Pipeline* pipeline = nullptr;
  Source* source = nullptr;
  httplib::Server server;
  ServingThread serving;
  std::string address;
  bool stopped = false;

  std::mutex status_mu;
  std::chrono::steady_clock::time_point status_at;
  std::optional<PipelineStatus> status;  // guarded by status_mu

  // The status as `status` would read it (at most kStatusMaxAge old), with the live counts.
  PipelineStatus ReadStatus() {
    PipelineStatus s;
    {
      std::lock_guard lock(status_mu);
      auto now = std::chrono::steady_clock::now();
      if (!status || now - status_at >= kStatusMaxAge) {
        auto read = ReadPipelineStatus(*config, NowMicros());
        if (read.ok()) {
          status = std::move(*read);
        } else {
          // Before the first checkpoint (or without the stream) the state store may have
          // nothing to say; the live figures still do.
          log::Debug("admin: status not read from the state store: {}", read.status().message());
          status.emplace();
          status->pipeline = config->pipeline.name;
          status->source.type = config->source.type;
          status->dead_letter_path = config->dead_letter.path;
        }
        status_at = now;
      }
      s = *status;
    }
    s.running = true;  // this process runs it
    s.now_micros = NowMicros();
    ApplyLiveMetrics(pipeline->metrics(), s);
    s.snapshot = source->Snapshot();
    s.backfills = source->Backfills();
    s.recent_dead_letters = pipeline->RecentDeadLetters();
    return s;
  }

  std::mutex metrics_mu;
  std::chrono::steady_clock::time_point metrics_at;
  std::string metrics_text;  // guarded by metrics_mu: the last rendering

  // /metrics, rendered at most once per kMetricsMaxAge.
  std::string Metrics() {
    std::lock_guard lock(metrics_mu);
    auto now = std::chrono::steady_clock::now();
    if (metrics_text.empty() || now - metrics_at >= kMetricsMaxAge) {
      metrics_text = RenderMetrics();
      metrics_at = now;
    }
    return metrics_text;
  }

  std::string RenderMetrics() {
    PipelineStatus s = ReadStatus();
    metrics::Registry figures;
    ExportStatus(s, figures);
    figures.GetGauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        .Set(static_cast<double>(ResidentBytes()));
    return metrics::RenderPrometheus({&pipeline->metrics(), &figures});
  }

  // Empty when ready; otherwise why not.
  std::vector<std::string> NotReady() {
    std::vector<std::string> reasons;
    if (!source->Connected()) {
      reasons.push_back("source " + config->source.type + " is not connected");
    }
    for (const auto& t : pipeline->FailingTargets()) {
      reasons.push_back("target '" + t + "' is failing (its last delivery attempt failed)");
    }
    int64_t bound = config->admin.ready_max_lag_seconds;
    if (bound > 0) {
      PipelineStatus s = ReadStatus();
      if (s.source.lag_known && s.source.lag_seconds > static_cast<double>(bound)) {
        char text[160];
        std::snprintf(text, sizeof(text),
                      "source lag %.1f s is above admin.ready_max_lag_seconds (%lld s)",
                      s.source.lag_seconds, static_cast<long long>(bound));
        reasons.push_back(text);
      } else if (!s.source.lag_known && !s.source.lag_note.empty()) {
        reasons.push_back("source lag unknown: " + s.source.lag_note);
      }
    }
    return reasons;
  }

  void Routes() {
    AddEndpoints(
        server, [this] { return Metrics(); }, [this] { return NotReady(); },
        [this] { return StatusJson(ReadStatus()); });
    // The wallboard: its files are compiled in (web_assets.h); "/" is its page.
    for (const WebAsset& asset : WebAssets()) {
      auto serve = [&asset](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_header("Content-Security-Policy", "default-src 'self'");
        res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
      };
      server.Get(std::string(asset.path), serve);
      if (asset.path == "/index.html") server.Get("/", serve);
    }
    // Browsers ask for it; the wallboard has none (a 404 would show as a console error).
    server.Get("/favicon.ico",
               [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  }
};

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { Stop(); }

const std::string& AdminServer::address() const { return impl_->address; }

Result<std::unique_ptr<AdminServer>> AdminServer::Start(std::shared_ptr<const Config> config,
                                                        Pipeline& pipeline, Source& source) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->pipeline = &pipeline;
  impl->source = &source;
  impl->Routes();
  CDC_ASSIGN_OR_RETURN(impl->address, Listen(impl->server, config->admin));
  Impl* raw = impl.get();
  raw->serving.Start(raw->server);
  // For tests and tools (port 0).
  WriteAddressFile(AdminAddressPath(*config), impl->address);
  log::Info("admin server on http://{} (wallboard /, /metrics, /healthz, /readyz, /api/status)",
            impl->address);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

struct ProcessAdminServer::Impl {
  std::shared_ptr<const Config> config;
  const ShardUnitsView* units = nullptr;
  httplib::Server server;
  ServingThread serving;
  std::string address;
  bool stopped = false;
  std::mutex metrics_mu;
  std::chrono::steady_clock::time_point metrics_at;
  std::string metrics_text;  // guarded by metrics_mu

  double AssignedAge() const {
    return std::chrono::duration<double>(units->since_assigned()).count();
  }

  std::string Metrics() {
    std::lock_guard lock(metrics_mu);
    auto now = std::chrono::steady_clock::now();
    if (!metrics_text.empty() && now - metrics_at < kMetricsMaxAge) return metrics_text;
    metrics::Registry figures;
    std::map<std::string, int> by_state = {{"delivering", 0}, {"waiting", 0}, {"stopping", 0}};
    for (const auto& u : units->Units()) ++by_state[u.state];
    for (const auto& [state, n] : by_state) {
      figures
          .GetGauge("cdc_process_units",
                    "The shards' units this process runs (run --role process), by state: "
                    "delivering, waiting for the shard's previous process to let it go, "
                    "stopping.",
                    {"state"}, {state})
          .Set(n);
    }
    figures
        .GetGauge("cdc_process_assigned_age_seconds",
                  "Seconds since the shard assigner (leases, consumer group) last answered.")
        .Set(AssignedAge());
    figures.GetGauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        .Set(static_cast<double>(ResidentBytes()));
    metrics_text = units->RenderMetrics() + metrics::RenderPrometheus(figures);
    metrics_at = now;
    return metrics_text;
  }

  std::vector<std::string> NotReady() const {
    std::vector<std::string> reasons;
    double age = AssignedAge();
    if (age > 10) {
      char text[160];
      std::snprintf(text, sizeof(text), "the shard assigner has not answered for %.0f s", age);
      reasons.push_back(text);
    }
    for (const auto& u : units->Units()) {
      for (const auto& t : u.failing_targets) {
        reasons.push_back("shard " + std::to_string(u.shard) + ": target '" + t +
                          "' is failing (its last delivery attempt failed)");
      }
    }
    return reasons;
  }

  std::string Status() const {
    std::string out;
    JsonWriter w(out);
    w.BeginObject()
        .Key("role")
        .String("process")
        .Key("pipeline")
        .String(config->pipeline.name)
        .Key("assigner")
        .String(units->assigner())
        .Key("assigned_age_seconds")
        .Double(AssignedAge())
        .Key("units")
        .BeginArray();
    for (const auto& u : units->Units()) {
      w.BeginObject().Key("shard").Uint(u.shard).Key("state").String(u.state);
      w.Key("failing_targets").BeginArray();
      for (const auto& t : u.failing_targets) w.String(t);
      w.EndArray().EndObject();
    }
    w.EndArray().EndObject();
    return out;
  }

  void Routes() {
    AddEndpoints(
        server, [this] { return Metrics(); }, [this] { return NotReady(); },
        [this] { return Status(); });
  }
};

ProcessAdminServer::ProcessAdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessAdminServer::~ProcessAdminServer() { Stop(); }

const std::string& ProcessAdminServer::address() const { return impl_->address; }

Result<std::unique_ptr<ProcessAdminServer>> ProcessAdminServer::Start(
    std::shared_ptr<const Config> config, const ShardUnitsView& units) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->units = &units;
  impl->Routes();
  CDC_ASSIGN_OR_RETURN(impl->address, Listen(impl->server, impl->config->admin));
  impl->serving.Start(impl->server);
  log::Info("admin server of the processor on http://{} (/metrics, /healthz, /readyz, /api/status)",
            impl->address);
  return std::unique_ptr<ProcessAdminServer>(new ProcessAdminServer(std::move(impl)));
}

void ProcessAdminServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->serving.Stop(impl_->server);
}

Result<std::optional<Readiness>> ProbeRunningPipeline(const Config& config) {
  std::ifstream in(AdminAddressPath(config));
  std::string address;
  if (!in || !std::getline(in, address) || address.empty()) return std::optional<Readiness>();
  httplib::Client client("http://" + address);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(30));
  auto res = client.Get("/readyz");
  if (!res) {
    if (res.error() == httplib::Error::Connection) return std::optional<Readiness>();
    return Unavailable("the admin server of the running pipeline (http://" + address +
                       ") did not answer /readyz: " + httplib::to_string(res.error()));
  }
  Readiness r;
  r.address = address;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool ready = false;
  if (parser.parse(res->body).get(doc) != simdjson::SUCCESS || doc["ready"].get(ready) ||
      (res->status != 200 && res->status != 503)) {
    return Unavailable("http://" + address + "/readyz answered HTTP " +
                       std::to_string(res->status) +
                       " without a readiness document: is another program listening there?");
  }
  r.ready = ready && res->status == 200;
  simdjson::dom::array reasons;
  if (doc["reasons"].get(reasons) == simdjson::SUCCESS) {
    for (auto reason : reasons) {
      std::string_view text;
      if (reason.get(text) == simdjson::SUCCESS) r.reasons.emplace_back(text);
    }
  }
  return std::optional<Readiness>(std::move(r));
}

void AdminServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->serving.Stop(impl_->server);
  std::error_code ec;
  std::filesystem::remove(AdminAddressPath(*impl_->config), ec);
}

}  // namespace cdc::admin
