#include "lambda/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "base/logging.h"
#include "base/scrub.h"
#include "lambda/event_records.h"
#include "lambda/handler.h"
#include "lambda/runtime_api.h"

namespace cdc::lambda {
namespace {

// The table whose function one of the names is, or null.
const TableConfig* FindFunction(const Config& config, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (name.empty()) continue;
    if (const TableConfig* t = config.FindTableByFunction(name)) return t;
    size_t dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    if (const TableConfig* t = config.FindTableByFunction(name.substr(dot + 1))) return t;
  }
  return nullptr;
}

// Reports an init error to the API (and stderr); the exit code.
int InitError(RuntimeApiClient& api, const std::string& type, const std::string& message) {
  std::string text = ScrubSecrets(message);
  log::Error("cannot start the Lambda runtime ({}): {}", type, text);
  Status s = api.PostInitError(type, text);
  if (!s.ok()) log::Error("reporting the init error failed: {}", s.message());
  return 1;
}

// Where delivery gives up: the invocation's deadline less a margin for the flush, the state
// commit and the answer (a tenth of the time left, 200 ms to 2 s).
std::chrono::steady_clock::time_point DeliveryDeadline(int64_t deadline_ms) {
  auto now = std::chrono::steady_clock::now();
  if (deadline_ms <= 0) return now + std::chrono::minutes(15);
  int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  int64_t left = deadline_ms - wall_ms;
  int64_t margin = std::clamp<int64_t>(left / 10, 200, 2000);
  return now + std::chrono::milliseconds(left - margin);
}

}  // namespace

int RunRuntime(const LoadResult& loaded, const RuntimeOptions& options) {
  RuntimeApiClient api(options.api_address, options.stop);
  if (!loaded.config) {
    std::string message = std::to_string(loaded.errors.size()) + " error(s) in the configuration";
    for (const auto& e : loaded.errors) message += "\n" + e.ToString();
    return InitError(api, "Runtime.ConfigError", message);
  }
  const Config& config = *loaded.config;
  const TableConfig* table = FindFunction(config, options.function_names);
  if (table == nullptr) {
    std::string names, known;
    for (const auto& n : options.function_names) {
      if (!n.empty()) names += (names.empty() ? "'" : ", '") + n + "'";
    }
    for (const auto& t : config.tables) known += (known.empty() ? "" : ", ") + t.function;
    return InitError(api, "Runtime.UnknownFunction",
                     "no table's function is named " + (names.empty() ? "(none given)" : names) +
                         ": set _HANDLER (or AWS_LAMBDA_FUNCTION_NAME) to one of " + known);
  }
  auto handler = BatchHandler::Build(loaded.config, *table, SystemClock::Instance());
  if (!handler.ok()) {
    return InitError(api, "Runtime.InitError",
                     table->function + " cannot start: " + handler.status().message());
  }
  log::Info("Lambda runtime for {} (table {}) waiting for invocations", table->function,
            table->name);
  while (options.stop == nullptr || !options.stop->load()) {
    auto next = api.Next();
    if (!next.ok()) {
      if (next.status().code() == StatusCode::kAborted) break;
      log::Error("{}", next.status().message());
      return 1;
    }
    const Invocation& inv = *next;
    if (!inv.trace_id.empty()) ::setenv("_X_AMZN_TRACE_ID", inv.trace_id.c_str(), 1);
    auto records = ParseEvent(inv.body, SystemClock::Instance().Now());
    Status posted;
    if (!records.ok()) {
      log::Error("invocation {}: {}", inv.request_id, records.status().message());
      posted = api.PostError(inv.request_id, "Runtime.InvalidEvent", records.status().message());
    } else {
      auto deadline = DeliveryDeadline(inv.deadline_ms);
      log::Debug("invocation {}: {} record(s), delivery ends in {} ms", inv.request_id,
                 records->size(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     deadline - std::chrono::steady_clock::now())
                     .count());
      auto result = (*handler)->Handle(*records, deadline, options.stop);
      if (!result.ok()) {
        std::string message = ScrubSecrets(result.status().message());
        log::Error("invocation {}: {}", inv.request_id, message);
        posted = api.PostError(inv.request_id, "Runtime.HandlerError", message);
      } else {
        const BatchResult& r = *result;
        log::Info(
            "invocation {}: {} record(s), {} published, {} delivery(ies), {} dead-lettered, {} "
            "duplicate(s) skipped, {} filtered, {} unmatched, {} to retry",
            inv.request_id, records->size(), r.published, r.deliveries, r.dead_lettered,
            r.duplicates, r.filtered, r.unmatched, r.failures.size());
        posted = api.PostResponse(inv.request_id, r.ResponseJson());
      }
    }
    if (!posted.ok()) {
      log::Error("invocation {}: answering the Runtime API failed: {}", inv.request_id,
                 posted.message());
      return 1;
    }
  }
  log::Info("Lambda runtime for {} stopped", table->function);
  return 0;
}

}  // namespace cdc::lambda
