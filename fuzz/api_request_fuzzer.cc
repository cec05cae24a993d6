// The bus's EventBridge API (api/bus_api.h) on arbitrary request bodies, for every operation,
// with an in-memory backend in place of the pipeline: PutEvents, PutRule, PutTargets, ... with
// their JSON from the client. It must answer (never crash), always with a JSON object; every
// event it publishes must be a JSON object with the envelope's fields; the rules it asks the
// backend to route by must compile (the backend builds a Router from them, as the pipeline
// does), and what it hands the backend to keep must load back.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "api/bus_api.h"
#include "base/logging.h"
#include "bus/router.h"
#include "config/config.h"

namespace {

constexpr const char* kOperations[] = {
    "PutEvents",        "PutRule",          "DeleteRule",     "DescribeRule",  "ListRules",
    "EnableRule",       "DisableRule",      "PutTargets",     "RemoveTargets", "ListTargetsByRule",
    "TestEventPattern", "DescribeEventBus", "ListEventBuses", "Unknown"};

std::shared_ptr<const cdc::Config> LoadFuzzConfig() {
  cdc::log::SetLevel(cdc::log::Level::kOff);
  cdc::EnvOptions env;
  env.dotenv_path = "/nonexistent/.env";
  env.use_process_env = false;
  cdc::LoadResult r = cdc::LoadConfigFromString(R"(
api: {listen: "127.0.0.1:0"}
tables:
  users: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all:
    event_pattern: {source: [cdc.coredb]}
    targets: [audit]
targets:
  audit: {type: stdout}
  crm: {type: stdout}
)",
                                                "fuzz.yaml", env);
  if (r.config == nullptr) std::abort();
  return r.config;
}

class MemoryBackend final : public cdc::api::BusApiBackend {
 public:
  explicit MemoryBackend(const cdc::Config& config) : config_(config) {}

  cdc::Status PublishEvents(const std::vector<cdc::BusEvent>& events) override {
    for (const cdc::BusEvent& e : events) {
      simdjson::dom::element root;
      if (parser_.parse(e.json).get(root) != simdjson::SUCCESS || !root.is_object()) std::abort();
      for (const char* field : {"version", "id", "detail-type", "source", "account", "time",
                                "region", "resources", "detail"}) {
        if (root[field].error() != simdjson::SUCCESS) std::abort();
      }
      if (!root["detail"].is_object()) std::abort();
    }
    return cdc::Status::Ok();
  }

  cdc::Status ReplaceApiRules(std::vector<cdc::RouterRule> rules,
                              const std::string& stored) override {
    auto router = cdc::Router::Build(std::move(rules), {},
                                     {config_.bus.region, config_.bus.account, config_.bus.name},
                                     [this](std::string_view name) {
                                       for (size_t i = 0; i < config_.targets.size(); ++i) {
                                         if (config_.targets[i].name == name)
                                           return static_cast<int>(i);
                                       }
                                       return -1;
                                     });
    if (!router.ok()) return router.status();
    stored_ = stored;
    return cdc::Status::Ok();
  }

  const std::string& stored() const { return stored_; }

 private:
  const cdc::Config& config_;
  simdjson::dom::parser parser_;
  std::string stored_;
};

}  // namespace

// Input: requests separated by NUL bytes, each one byte choosing the operation, then its body;
// they go to one BusApi in order (PutRule, then PutTargets on that rule, ...).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::shared_ptr<const cdc::Config> config = LoadFuzzConfig();
  MemoryBackend backend(*config);
  cdc::api::BusApi api(config, backend);
  if (!api.Load(std::nullopt).ok()) std::abort();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  simdjson::dom::parser parser;
  for (int n = 0; !in.empty() && n < 16; ++n) {
    size_t nul = in.find('\0');
    std::string_view piece = in.substr(0, nul);
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    if (piece.empty()) continue;
    const char* op = kOperations[static_cast<uint8_t>(piece[0]) %
                                 (sizeof(kOperations) / sizeof(kOperations[0]))];
    std::string body(piece.substr(1));
    std::string target = std::string("AWSEvents.") + op;
    cdc::api::ApiRequest request;
    request.method = "POST";
    request.path = "/";
    request.header = [&target](std::string_view name) {
      return name == "x-amz-target" ? target : std::string();
    };
    request.body = body;
    cdc::api::ApiResponse response = api.Handle(request);
    simdjson::dom::element root;
    if (parser.parse(response.body).get(root) != simdjson::SUCCESS || !root.is_object()) {
      std::fprintf(stderr, "%s answered with something that is not a JSON object: %s\n", op,
                   response.body.c_str());
      std::abort();
    }
    if ((response.status == 200) != response.error_type.empty()) std::abort();
  }
  // What the API asked the backend to keep must load back (a restart reads it).
  if (!backend.stored().empty() && !api.Load(backend.stored()).ok()) std::abort();
  return 0;
}
