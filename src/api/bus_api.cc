#include "api/bus_api.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <variant>
#include <vector>

#include "aws/sigv4.h"
#include "base/logging.h"
#include "base/time.h"
#include "bus/input_transformer.h"
#include "bus/matcher.h"
#include "event/json_writer.h"

namespace cdc::api {
namespace {

constexpr size_t kMaxEntries = 10;
constexpr size_t kMaxRequestEntriesBytes = 256 * 1024;
constexpr size_t kMaxTargetsPerRule = 5;
constexpr int64_t kMaxListLimit = 100;
constexpr char kTargetPrefix[] = "AWSEvents.";

// An AWS error: its type (`__type`), message and HTTP status.
struct ApiError {
  std::string type;
  std::string message;
  int http = 400;
};

ApiError Validation(std::string m) { return {"ValidationException", std::move(m), 400}; }
ApiError NoSuchResource(std::string m) { return {"ResourceNotFoundException", std::move(m), 400}; }

std::string NewEventId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// One target of an API rule, as PutTargets gave it.
struct ApiTarget {
  std::string id;
  std::string arn;
  std::string target;  // the configured target the Arn names
  InputSpec input;
  std::string json;  // the target as given (minified): what ListTargetsByRule answers
};

struct ApiRule {
  std::string name;
  std::string pattern;
  std::string description;
  bool enabled = true;
  std::vector<ApiTarget> targets;
  bool managed = false;  // a rule of the config file: read-only here
};

std::string_view Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return {};
  return v;
}

bool Has(simdjson::dom::element e, const char* key) {
  simdjson::dom::element v;
  return e[key].get(v) == simdjson::SUCCESS && !v.is_null();
}

bool ValidRuleName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

// Reads one PutTargets entry; an error message when it is not acceptable.
std::optional<std::string> ReadTarget(const Config& config, simdjson::dom::element t,
                                      ApiTarget& out) {
  out.id = std::string(Str(t, "Id"));
  out.arn = std::string(Str(t, "Arn"));
  if (out.id.empty() || out.id.size() > 64) return "Parameter Id is not valid.";
  if (out.arn.empty()) return "Parameter Arn is not valid.";
  out.target = TargetForArn(config, out.arn);
  if (out.target.empty()) {
    return "Arn '" + out.arn +
           "' names no configured target: the part after its last '/' or ':' must be the name of "
           "a target in the config file's `targets`";
  }
  if (Has(t, "Input")) out.input.input = std::string(Str(t, "Input"));
  if (Has(t, "InputPath")) out.input.input_path = std::string(Str(t, "InputPath"));
  simdjson::dom::element transformer;
  if (t["InputTransformer"].get(transformer) == simdjson::SUCCESS && !transformer.is_null()) {
    out.input.input_template = std::string(Str(transformer, "InputTemplate"));
    simdjson::dom::object paths;
    if (transformer["InputPathsMap"].get(paths) == simdjson::SUCCESS) {
      for (auto [key, value] : paths) {
        std::string_view path;
        if (value.get(path) != simdjson::SUCCESS) return "InputPathsMap values must be strings.";
        out.input.input_paths_map.emplace_back(std::string(key), std::string(path));
      }
    }
  }
  int forms = (out.input.input ? 1 : 0) + (out.input.input_path ? 1 : 0) +
              (out.input.input_template ? 1 : 0);
  if (forms > 1) return "Only one of Input, InputPath, or InputTransformer must be provided.";
  for (const InputSpecError& e : ValidateInputSpec(out.input)) {
    return "Target " + out.id + ": " + e.field + ": " + e.message;
  }
  out.json = std::string(simdjson::minify(t));
  return std::nullopt;
}

}  // namespace

std::string TargetForArn(const Config& config, std::string_view arn) {
  size_t cut = arn.find_last_of("/:");
  std::string_view name = cut == std::string_view::npos ? arn : arn.substr(cut + 1);
  for (const auto& t : config.targets) {
    if (t.name == name) return t.name;
  }
  return {};
}

struct BusApi::Impl {
  std::shared_ptr<const Config> config;
  BusApiBackend* backend = nullptr;

  std::mutex mu;
  std::map<std::string, ApiRule> rules;  // guarded by mu: the API's rules, by name
  // api.access_key_id -> api.secret_access_key; empty: signatures are not verified.
  std::map<std::string, std::string> secrets;

  // Whether this entry is to be answered ThrottlingException (api.inject_throttling_percent).
  bool InjectThrottling() const {
    if (config->api.inject_throttling_percent <= 0) return false;
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return static_cast<int64_t>(rng() % 100) < config->api.inject_throttling_percent;
  }

  // ---- names and ARNs -------------------------------------------------------------------

  std::string BusArn() const {
    return "arn:aws:events:" + config->bus.region + ":" + config->bus.account + ":event-bus/" +
           config->bus.name;
  }
  std::string RuleArnOf(const std::string& rule) const {
    return RuleArn(config->bus.region, config->bus.account, config->bus.name, rule);
  }
  std::string TargetArnOf(const std::string& target) const {
    return "arn:aws:events:" + config->bus.region + ":" + config->bus.account + ":target/" + target;
  }
  // Whether `name` (absent, "default", the bus's name or its ARN) is this bus.
  bool IsBus(std::string_view name) const {
    return name.empty() || name == "default" || name == config->bus.name || name == BusArn();
  }
  ApiError NoBus(std::string_view name) const {
    return NoSuchResource("Event bus " + std::string(name) + " does not exist.");
  }
  ApiError NoRule(std::string_view name) const {
    return NoSuchResource("Rule " + std::string(name) + " does not exist on EventBus " +
                          config->bus.name + ".");
  }

  // The config's rules as the API shows them (read-only).
  std::map<std::string, ApiRule> ManagedRules() const {
    std::map<std::string, ApiRule> out;
    for (const RuleConfig& r : config->rules) {
      ApiRule& rule = out[r.name];
      rule.name = r.name;
      rule.pattern = r.event_pattern;
      rule.description = r.description;
      rule.enabled = r.enabled;
      rule.managed = true;
      for (const std::string& t : r.targets) {
        ApiTarget& target = rule.targets.emplace_back();
        target.id = t;
        target.arn = TargetArnOf(t);
        target.target = t;
        std::string json;
        JsonWriter w(json);
        w.BeginObject().Key("Id").String(t).Key("Arn").String(target.arn).EndObject();
        target.json = std::move(json);
      }
    }
    return out;
  }
  // The rule of that name (the API's, then the config's), with mu held.
  std::optional<ApiRule> FindRule(const std::string& name) const {
    auto it = rules.find(name);
    if (it != rules.end()) return it->second;
    for (const RuleConfig& r : config->rules) {
      if (r.name == name) return ManagedRules()[name];
    }
    return std::nullopt;
  }
  bool IsManaged(const std::string& name) const {
    for (const RuleConfig& r : config->rules) {
      if (r.name == name) return true;
    }
    return false;
  }

  // ---- the rules in the state store -----------------------------------------------------

  static std::string Serialize(const std::map<std::string, ApiRule>& book) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("version").Int(1).Key("rules").BeginArray();
    for (const auto& [name, r] : book) {
      w.BeginObject();
      w.Key("Name").String(r.name);
      w.Key("EventPattern").String(r.pattern);
      w.Key("Description").String(r.description);
      w.Key("State").String(r.enabled ? "ENABLED" : "DISABLED");
      w.Key("Targets").BeginArray();
      for (const ApiTarget& t : r.targets) w.Raw(t.json);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
  }

  static std::vector<RouterRule> ToRouter(const std::map<std::string, ApiRule>& book) {
    std::vector<RouterRule> out;
    for (const auto& [name, r] : book) {
      if (!r.enabled || r.targets.empty()) continue;
      RouterRule& rule = out.emplace_back();
      rule.name = r.name;
      rule.event_pattern = r.pattern;
      for (const ApiTarget& t : r.targets) rule.targets.push_back({t.target, "", t.input});
    }
    return out;
  }

  // The pipeline's loader: the rules kept in the state store.
  Result<std::vector<RouterRule>> Load(const std::optional<std::string>& stored) {
    std::map<std::string, ApiRule> book;
    if (stored) {
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      simdjson::dom::array list;
      if (parser.parse(*stored).get(root) != simdjson::SUCCESS ||
          root["rules"].get(list) != simdjson::SUCCESS) {
        return Corruption(
            "the rules made over the API are not readable JSON; the state store was changed by "
            "something other than cdc-pipeline (restore it from a backup)");
      }
      for (simdjson::dom::element e : list) {
        ApiRule r;
        r.name = std::string(Str(e, "Name"));
        r.pattern = std::string(Str(e, "EventPattern"));
        r.description = std::string(Str(e, "Description"));
        r.enabled = Str(e, "State") != "DISABLED";
        simdjson::dom::array targets;
        if (e["Targets"].get(targets) == simdjson::SUCCESS) {
          for (simdjson::dom::element t : targets) {
            ApiTarget target;
            if (auto error = ReadTarget(*config, t, target)) {
              return FailedPrecondition("rule '" + r.name + "' (made over the API): " + *error);
            }
            r.targets.push_back(std::move(target));
          }
        }
        std::string name = r.name;
        book[name] = std::move(r);
      }
    }
    std::lock_guard lock(mu);
    rules = book;
    log::Info("api: {} rules made over the API", rules.size());
    return ToRouter(rules);
  }

  // Applies a changed rule book (mu held): the pipeline routes by it and keeps it first.
  std::optional<ApiError> Commit(std::map<std::string, ApiRule> book) {
    Status s = backend->ReplaceApiRules(ToRouter(book), Serialize(book));
    if (!s.ok()) {
      if (s.code() == StatusCode::kInvalidArgument) return Validation(s.message());
      return ApiError{"InternalException", s.message(), 500};
    }
    rules = std::move(book);
    return std::nullopt;
  }

  // ---- operations -----------------------------------------------------------------------

  using Answer = std::variant<std::string, ApiError>;

  Answer PutEvents(simdjson::dom::element req) {
    simdjson::dom::array entries;
    if (req["Entries"].get(entries) != simdjson::SUCCESS) {
      return Validation(
          "1 validation error detected: Value null at 'entries' failed to satisfy "
          "constraint: Member must not be null");
    }
    size_t n = entries.size();
    if (n < 1 || n > kMaxEntries) {
      return Validation(
          "1 validation error detected: Value at 'entries' failed to satisfy "
          "constraint: Member must have length between 1 and 10");
    }
    struct EntryResult {
      std::string id, code, message;
    };
    std::vector<EntryResult> results(n);
    std::vector<BusEvent> events;
    const std::string request_key = NewEventId();
    std::vector<size_t> event_entry;
    size_t total = 0;
    int64_t now_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    size_t i = 0;
    for (simdjson::dom::element e : entries) {
      EntryResult& r = results[i];
      std::string_view source = Str(e, "Source"), type = Str(e, "DetailType"),
                       detail_text = Str(e, "Detail");
      total += source.size() + type.size() + detail_text.size();
      simdjson::dom::array resources;
      bool has_resources = e["Resources"].get(resources) == simdjson::SUCCESS;
      if (has_resources) {
        for (simdjson::dom::element res : resources) {
          std::string_view text;
          if (res.get(text) == simdjson::SUCCESS) total += text.size();
        }
      }
      if (Has(e, "Time")) total += 14;
      simdjson::dom::parser detail_parser;
      simdjson::dom::element detail;
      int64_t time_micros = now_micros;
      if (Has(e, "Time")) {
        double seconds = 0;
        std::string_view text;
        if (e["Time"].get(seconds) == simdjson::SUCCESS) {
          time_micros = static_cast<int64_t>(seconds * 1e6);
        } else if (e["Time"].get(text) == simdjson::SUCCESS && ParseRfc3339(text)) {
          time_micros = ParseRfc3339(text)->micros;
        }
      }
      if (!IsBus(Str(e, "EventBusName"))) {
        r.code = "NotFoundException";
        r.message = "Event bus " + std::string(Str(e, "EventBusName")) + " does not exist.";
      } else if (source.empty()) {
        r.code = "InvalidArgument";
        r.message = "Parameter Source is not valid. Reason: Source is a required argument.";
      } else if (type.empty()) {
        r.code = "InvalidArgument";
        r.message = "Parameter DetailType is not valid. Reason: DetailType is a required argument.";
      } else if (detail_text.empty()) {
        r.code = "InvalidArgument";
        r.message = "Parameter Detail is not valid. Reason: Detail is a required argument.";
      } else if (detail_parser.parse(detail_text).get(detail) != simdjson::SUCCESS ||
                 !detail.is_object()) {
        r.code = "MalformedDetail";
        r.message = "Detail is malformed.";
      } else if (InjectThrottling()) {
        r.code = "ThrottlingException";
        r.message = "Rate exceeded (injected: api.inject_throttling_percent).";
      } else {
        r.id = NewEventId();
        std::string json;
        JsonWriter w(json);
        w.BeginObject();
        w.Key("version").String("0");
        w.Key("id").String(r.id);
        w.Key("detail-type").String(type);
        w.Key("source").String(source);
        w.Key("account").String(config->bus.account);
        w.Key("time").String(FormatRfc3339(Timestamp{time_micros / 1000000 * 1000000}));
        w.Key("region").String(config->bus.region);
        w.Key("resources").BeginArray();
        if (has_resources) {
          for (simdjson::dom::element res : resources) {
            std::string_view text;
            if (res.get(text) == simdjson::SUCCESS) w.String(text);
          }
        }
        w.EndArray();
        w.Key("detail").Raw(simdjson::minify(detail));
        w.EndObject();
        // One shard for the whole call, so its entries reach each target in their order.
        events.push_back({request_key, std::move(json)});
        event_entry.push_back(i);
      }
      ++i;
    }
    if (total > kMaxRequestEntriesBytes) {
      return Validation("Total size of the entries in the request is over the limit.");
    }
    if (!events.empty()) {
      Status s = backend->PublishEvents(events);
      if (!s.ok()) {
        log::Warn("api: PutEvents not accepted: {}", s.message());
        for (size_t k : event_entry) {
          results[k].id.clear();
          results[k].code = s.code() == StatusCode::kResourceExhausted ? "ThrottlingException"
                                                                       : "InternalFailure";
          results[k].message = s.message();
        }
      }
    }
    std::string out;
    JsonWriter w(out);
    size_t failed = 0;
    for (const EntryResult& r : results) failed += r.id.empty() ? 1 : 0;
    w.BeginObject().Key("FailedEntryCount").Uint(failed).Key("Entries").BeginArray();
    for (const EntryResult& r : results) {
      w.BeginObject();
      if (r.id.empty()) {
        w.Key("ErrorCode").String(r.code).Key("ErrorMessage").String(r.message);
      } else {
        w.Key("EventId").String(r.id);
      }
      w.EndObject();
    }
    w.EndArray().EndObject();
    return out;
  }

  Answer PutRule(simdjson::dom::element req) {
    std::string name(Str(req, "Name"));
    if (!ValidRuleName(name)) {
      return Validation("1 validation error detected: Value '" + name +
                        "' at 'name' failed to satisfy constraint: Member must satisfy regular "
                        "expression pattern: [\\.\\-_A-Za-z0-9]+ (1 to 64 characters)");
    }
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    if (Has(req, "ScheduleExpression")) {
      return Validation("ScheduleExpression is not supported by this bus: give an EventPattern");
    }
    std::string pattern(Str(req, "EventPattern"));
    if (pattern.empty()) {
      return Validation("Parameter(s) EventPattern must be specified.");
    }
    if (Status s = ValidatePattern(pattern); !s.ok()) {
      return ApiError{"InvalidEventPatternException", s.message(), 400};
    }
    std::string_view state = Str(req, "State");
    if (!state.empty() && state != "ENABLED" && state != "DISABLED") {
      return Validation("1 validation error detected: Value '" + std::string(state) +
                        "' at 'state' failed to satisfy constraint: Member must satisfy enum "
                        "value set: [ENABLED, DISABLED]");
    }
    std::lock_guard lock(mu);
    if (IsManaged(name)) {
      return Validation("Rule " + name +
                        " is defined in the config file; change it there (rules made over the "
                        "API need other names)");
    }
    auto book = rules;
    ApiRule& rule = book[name];
    rule.name = name;
    rule.pattern = pattern;
    if (Has(req, "Description")) rule.description = std::string(Str(req, "Description"));
    if (!state.empty()) rule.enabled = state == "ENABLED";
    if (auto error = Commit(std::move(book))) return *error;
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("RuleArn").String(RuleArnOf(name)).EndObject();
    return out;
  }

  Answer DeleteRule(simdjson::dom::element req) {
    std::string name(Str(req, "Name"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    bool force = false;
    if (req["Force"].get(force) != simdjson::SUCCESS) force = false;
    std::lock_guard lock(mu);
    if (IsManaged(name)) {
      return Validation("Rule " + name + " is defined in the config file; remove it there");
    }
    auto it = rules.find(name);
    if (it == rules.end()) return std::string("{}");  // AWS: deleting nothing succeeds
    if (!it->second.targets.empty() && !force) {
      return Validation("Rule can't be deleted since it has targets.");
    }
    auto book = rules;
    book.erase(name);
    if (auto error = Commit(std::move(book))) return *error;
    return std::string("{}");
  }

  void WriteRule(JsonWriter& w, const ApiRule& r) const {
    w.BeginObject();
    w.Key("Name").String(r.name);
    w.Key("Arn").String(RuleArnOf(r.name));
    w.Key("EventPattern").String(r.pattern);
    w.Key("State").String(r.enabled ? "ENABLED" : "DISABLED");
    if (!r.description.empty()) w.Key("Description").String(r.description);
    w.Key("EventBusName").String(config->bus.name);
    if (r.managed) w.Key("ManagedBy").String("cdc-pipeline config");
    w.EndObject();
  }

  Answer DescribeRule(simdjson::dom::element req) {
    std::string name(Str(req, "Name"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    std::lock_guard lock(mu);
    auto rule = FindRule(name);
    if (!rule) return NoRule(name);
    std::string out;
    JsonWriter w(out);
    WriteRule(w, *rule);
    return out;
  }

  Answer ListRules(simdjson::dom::element req) {
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    std::string_view prefix = Str(req, "NamePrefix");
    std::string_view token = Str(req, "NextToken");
    int64_t limit = kMaxListLimit;
    if (Has(req, "Limit")) {
      if (req["Limit"].get(limit) != simdjson::SUCCESS || limit < 1 || limit > kMaxListLimit) {
        return Validation(
            "1 validation error detected: Value at 'limit' failed to satisfy "
            "constraint: Member must have value between 1 and 100");
      }
    }
    std::lock_guard lock(mu);
    std::map<std::string, ApiRule> all = ManagedRules();
    for (const auto& [name, r] : rules) all[name] = r;
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("Rules").BeginArray();
    int64_t written = 0;
    std::string next;
    for (auto it = token.empty() ? all.begin() : all.lower_bound(std::string(token));
         it != all.end(); ++it) {
      if (it->first.rfind(prefix, 0) != 0) continue;
      if (written == limit) {
        next = it->first;
        break;
      }
      WriteRule(w, it->second);
      ++written;
    }
    w.EndArray();
    if (!next.empty()) w.Key("NextToken").String(next);
    w.EndObject();
    return out;
  }

  Answer SetState(simdjson::dom::element req, bool enabled) {
    std::string name(Str(req, "Name"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    std::lock_guard lock(mu);
    if (IsManaged(name)) {
      return Validation("Rule " + name + " is defined in the config file; set `enabled` there");
    }
    auto it = rules.find(name);
    if (it == rules.end()) return NoRule(name);
    auto book = rules;
    book[name].enabled = enabled;
    if (auto error = Commit(std::move(book))) return *error;
    return std::string("{}");
  }

  Answer PutTargets(simdjson::dom::element req) {
    std::string name(Str(req, "Rule"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    simdjson::dom::array targets;
    if (req["Targets"].get(targets) != simdjson::SUCCESS || targets.size() == 0) {
      return Validation(
          "1 validation error detected: Value null at 'targets' failed to "
          "satisfy constraint: Member must not be null");
    }
    std::lock_guard lock(mu);
    if (IsManaged(name)) {
      return Validation("Rule " + name +
                        " is defined in the config file; change its targets there");
    }
    if (rules.find(name) == rules.end()) return NoRule(name);
    auto book = rules;
    ApiRule& rule = book[name];
    struct Failed {
      std::string id, code, message;
    };
    std::vector<Failed> failed;
    for (simdjson::dom::element t : targets) {
      ApiTarget target;
      if (auto error = ReadTarget(*config, t, target)) {
        failed.push_back({std::string(Str(t, "Id")), "ValidationException", *error});
        continue;
      }
      auto same = std::find_if(rule.targets.begin(), rule.targets.end(),
                               [&](const ApiTarget& x) { return x.id == target.id; });
      if (same != rule.targets.end()) {
        *same = std::move(target);
      } else if (rule.targets.size() >= kMaxTargetsPerRule) {
        failed.push_back({target.id, "LimitExceededException",
                          "The requested resource exceeds the maximum number allowed (5 targets "
                          "per rule)."});
      } else {
        rule.targets.push_back(std::move(target));
      }
    }
    if (failed.size() < targets.size()) {
      if (auto error = Commit(std::move(book))) return *error;
    }
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("FailedEntryCount").Uint(failed.size()).Key("FailedEntries").BeginArray();
    for (const Failed& f : failed) {
      w.BeginObject()
          .Key("TargetId")
          .String(f.id)
          .Key("ErrorCode")
          .String(f.code)
          .Key("ErrorMessage")
          .String(f.message)
          .EndObject();
    }
    w.EndArray().EndObject();
    return out;
  }

  Answer RemoveTargets(simdjson::dom::element req) {
    std::string name(Str(req, "Rule"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    simdjson::dom::array ids;
    if (req["Ids"].get(ids) != simdjson::SUCCESS || ids.size() == 0) {
      return Validation(
          "1 validation error detected: Value null at 'ids' failed to satisfy "
          "constraint: Member must not be null");
    }
    std::lock_guard lock(mu);
    if (IsManaged(name)) {
      return Validation("Rule " + name +
                        " is defined in the config file; change its targets there");
    }
    if (rules.find(name) == rules.end()) return NoRule(name);
    auto book = rules;
    ApiRule& rule = book[name];
    for (simdjson::dom::element e : ids) {
      std::string_view id;
      if (e.get(id) != simdjson::SUCCESS) continue;
      std::erase_if(rule.targets, [&](const ApiTarget& t) { return t.id == id; });
    }
    if (auto error = Commit(std::move(book))) return *error;
    return std::string(R"({"FailedEntryCount":0,"FailedEntries":[]})");
  }

  Answer ListTargetsByRule(simdjson::dom::element req) {
    std::string name(Str(req, "Rule"));
    if (!IsBus(Str(req, "EventBusName"))) return NoBus(Str(req, "EventBusName"));
    std::lock_guard lock(mu);
    auto rule = FindRule(name);
    if (!rule) return NoRule(name);
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("Targets").BeginArray();
    for (const ApiTarget& t : rule->targets) w.Raw(t.json);
    w.EndArray().EndObject();
    return out;
  }

  Answer TestEventPattern(simdjson::dom::element req) {
    std::string pattern(Str(req, "EventPattern"));
    std::string event(Str(req, "Event"));
    if (Status s = ValidatePattern(pattern); !s.ok()) {
      return ApiError{"InvalidEventPatternException", s.message(), 400};
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(event).get(root) != simdjson::SUCCESS || !root.is_object()) {
      return Validation("Parameter Event is not valid.");
    }
    for (const char* field : {"id", "account", "source", "time", "region", "detail-type"}) {
      if (!Has(root, field)) {
        return Validation("Parameter Event is not valid: the event has no '" + std::string(field) +
                          "' field.");
      }
    }
    auto matcher = CompileMatcher({{"test", pattern}});
    if (!matcher.ok()) return ApiError{"InvalidEventPatternException", matcher.status().message()};
    std::vector<uint32_t> matched;
    if (Status s = (*matcher)->Match(event, matched); !s.ok()) {
      return Validation("Parameter Event is not valid: " + s.message());
    }
    return std::string(matched.empty() ? R"({"Result":false})" : R"({"Result":true})");
  }

  Answer DescribeEventBus(simdjson::dom::element req) {
    std::string_view name = Str(req, "Name");
    if (!IsBus(name)) return NoBus(name);
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("Name").String(config->bus.name).Key("Arn").String(BusArn()).EndObject();
    return out;
  }

  Answer ListEventBuses(simdjson::dom::element req) {
    std::string_view prefix = Str(req, "NamePrefix");
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("EventBuses").BeginArray();
    if (config->bus.name.rfind(prefix, 0) == 0) {
      w.BeginObject().Key("Name").String(config->bus.name).Key("Arn").String(BusArn()).EndObject();
    }
    w.EndArray().EndObject();
    return out;
  }

  Answer Dispatch(std::string_view op, simdjson::dom::element req) {
    if (op == "PutEvents") return PutEvents(req);
    if (op == "PutRule") return PutRule(req);
    if (op == "DeleteRule") return DeleteRule(req);
    if (op == "DescribeRule") return DescribeRule(req);
    if (op == "ListRules") return ListRules(req);
    if (op == "EnableRule") return SetState(req, true);
    if (op == "DisableRule") return SetState(req, false);
    if (op == "PutTargets") return PutTargets(req);
    if (op == "RemoveTargets") return RemoveTargets(req);
    if (op == "ListTargetsByRule") return ListTargetsByRule(req);
    if (op == "TestEventPattern") return TestEventPattern(req);
    if (op == "DescribeEventBus") return DescribeEventBus(req);
    if (op == "ListEventBuses") return ListEventBuses(req);
    return ApiError{"UnknownOperationException",
                    "Operation " + std::string(op) + " is not supported by this bus."};
  }
  // With api.access_key_id set: the request's SigV4 signature checked; the refusal, if any.
  std::optional<ApiError> Authenticate(const ApiRequest& request) const {
    if (secrets.empty()) return std::nullopt;
    aws::SignedRequest signed_request;
    signed_request.method = request.method;
    signed_request.path = request.path;
    signed_request.query = request.query;
    signed_request.header = request.header;
    signed_request.body = request.body;
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    aws::SigV4Failure failure = aws::VerifySigV4(signed_request, secrets, now);
    if (failure.type.empty()) return std::nullopt;
    return ApiError{failure.type, failure.message, failure.http};
  }

  ApiResponse Handle(const ApiRequest& request) {
    std::string target = request.header("x-amz-target");
    Answer answer;
    simdjson::dom::parser parser;
    simdjson::dom::element req;
    if (auto refused = Authenticate(request)) {
      answer = std::move(*refused);
    } else if (target.rfind(kTargetPrefix, 0) != 0) {
      answer = ApiError{"UnknownOperationException",
                        "X-Amz-Target must be AWSEvents.<Operation> (AWS JSON 1.1 protocol)"};
    } else if (parser.parse(request.body.empty() ? std::string_view("{}") : request.body)
                       .get(req) != simdjson::SUCCESS ||
               !req.is_object()) {
      answer = ApiError{"SerializationException", "The request body is not a JSON object."};
    } else {
      answer = Dispatch(std::string_view(target).substr(sizeof(kTargetPrefix) - 1), req);
    }
    ApiResponse response;
    response.request_id = NewEventId();
    if (auto* error = std::get_if<ApiError>(&answer)) {
      JsonWriter w(response.body);
      w.BeginObject()
          .Key("__type")
          .String(error->type)
          .Key("message")
          .String(error->message)
          .EndObject();
      response.status = error->http;
      response.error_type = error->type;
      return response;
    }
    response.body = std::move(std::get<std::string>(answer));
    return response;
  }
};

BusApi::BusApi(std::shared_ptr<const Config> config, BusApiBackend& backend)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->backend = &backend;
  if (impl_->config->api.verifies_signatures()) {
    impl_->secrets[impl_->config->api.access_key_id] = impl_->config->api.secret_access_key;
  }
}

BusApi::~BusApi() = default;

Result<std::vector<RouterRule>> BusApi::Load(const std::optional<std::string>& stored) {
  return impl_->Load(stored);
}

ApiResponse BusApi::Handle(const ApiRequest& request) { return impl_->Handle(request); }

}  // namespace cdc::api
