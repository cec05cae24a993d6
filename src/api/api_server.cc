#include "api/api_server.h"

#include <httplib.h>

#include <filesystem>

#include "admin/http_listen.h"
#include "api/bus_api.h"
#include "base/logging.h"
#include "runtime/pipeline.h"

namespace cdc::api {
namespace {

constexpr size_t kServerThreads = 4;
constexpr char kContentType[] = "application/x-amz-json-1.1";

// The bus API's way into the running pipeline.
class PipelineBackend final : public BusApiBackend {
 public:
  explicit PipelineBackend(Pipeline& pipeline) : pipeline_(pipeline) {}
  Status PublishEvents(const std::vector<BusEvent>& events) override {
    return pipeline_.PublishEvents(events);
  }
  Status ReplaceApiRules(std::vector<RouterRule> rules, const std::string& stored) override {
    return pipeline_.ReplaceApiRules(std::move(rules), stored);
  }

 private:
  Pipeline& pipeline_;
};

}  // namespace

std::string ApiAddressPath(const Config& config) { return config.pipeline.data_dir + "/api.addr"; }

struct ApiServer::Impl {
  std::shared_ptr<const Config> config;
  std::unique_ptr<PipelineBackend> backend;
  std::unique_ptr<BusApi> api;
  httplib::Server server;
  admin::ServingThread serving;
  std::string address;
  bool stopped = false;

  void Handle(const httplib::Request& http, httplib::Response& res) {
    ApiRequest request;
    request.method = http.method;
    request.path = http.path;
    for (const auto& [k, v] : http.params) request.query.emplace_back(k, v);
    request.header = [&http](std::string_view name) {
      std::string joined;
      auto [begin, end] = http.headers.equal_range(std::string(name));
      for (auto it = begin; it != end; ++it) {
        if (!joined.empty()) joined += ",";
        joined += it->second;
      }
      return joined;
    };
    request.body = http.body;
    ApiResponse response = api->Handle(request);
    res.set_header("x-amzn-RequestId", response.request_id);
    res.status = response.status;
    if (!response.error_type.empty()) res.set_header("x-amzn-ErrorType", response.error_type);
    res.set_content(response.body, kContentType);
  }
};

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { Stop(); }

const std::string& ApiServer::address() const { return impl_->address; }

Result<std::unique_ptr<ApiServer>> ApiServer::Start(std::shared_ptr<const Config> config,
                                                    Pipeline& pipeline) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->backend = std::make_unique<PipelineBackend>(pipeline);
  impl->api = std::make_unique<BusApi>(config, *impl->backend);
  Impl* raw = impl.get();
  pipeline.SetApiRuleLoader(
      [raw](const std::optional<std::string>& stored) { return raw->api->Load(stored); });
  const ApiConfig& api = config->api;
  impl->server.set_payload_max_length(4 << 20);
  impl->server.Post(
      "/", [raw](const httplib::Request& req, httplib::Response& res) { raw->Handle(req, res); });
  auto bound = admin::BindServer(impl->server, api.host, api.port, kServerThreads);
  if (!bound.ok()) {
    return Unavailable("the bus API cannot listen on " + api.listen + " (" + api.where.ToString() +
                       "): the address is in use (another `cdc-pipeline run`?) or not an address "
                       "of this host. Set api.listen to a free port (e.g. "
                       "CDC_API_LISTEN=127.0.0.1:4011), or leave it empty for no API");
  }
  impl->address = std::move(*bound);
  if (!admin::IsLoopback(api.host) && !api.verifies_signatures()) {
    log::Warn(
        "the bus API listens on {}, not on loopback: it has no authentication (anyone who "
        "reaches the port can publish events and change rules); keep it on a private network",
        impl->address);
  }
  raw->serving.Start(raw->server);
  admin::WriteAddressFile(ApiAddressPath(*config), impl->address);
  log::Info("bus API (EventBridge, AWS JSON 1.1) on http://{}", impl->address);
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

void ApiServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->serving.Stop(impl_->server);
  std::error_code ec;
  std::filesystem::remove(ApiAddressPath(*impl_->config), ec);
}

}  // namespace cdc::api
