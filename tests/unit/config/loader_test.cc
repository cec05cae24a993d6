#include <gtest/gtest.h>

#include "config/config.h"
#include "runtime/pipeline.h"
#include "support/config_util.h"
#include "target/file/file_target.h"
#include "target/http/http_target.h"

namespace cdc {
namespace {

LoadResult Load(const std::string& yaml, std::map<std::string, std::string> vars = {}) {
  return testing::LoadYaml(yaml, std::move(vars));
}

std::string AllErrors(const LoadResult& r) { return testing::ErrorLines(r.errors); }

const std::string kMinimal = std::string(R"(
tables:
  users:
    event_types: [INSERT, UPDATE, DELETE])") +
                             testing::kRouteAllToStdout;

TEST(LoadConfig, MinimalConfigGetsDefaults) {
  auto r = Load(kMinimal);
  ASSERT_TRUE(r.config) << AllErrors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.pipeline.name, "coredb");
  EXPECT_EQ(c.pipeline.data_dir, "./data");
  EXPECT_EQ(c.dead_letter.path, "./data/dead-letter.jsonl");
  EXPECT_EQ(c.bus.source, "cdc.coredb");
  ASSERT_EQ(c.tables.size(), 1u);
  EXPECT_EQ(c.tables[0].function, "processUserChanges");
  EXPECT_EQ(c.tables[0].primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(c.tables[0].event_types, (std::vector<Op>{Op::kInsert, Op::kUpdate, Op::kDelete}));
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].event_pattern, R"({"source":["cdc.coredb"]})");
  EXPECT_EQ(c.targets[0].type, "stdout");
}

TEST(LoadConfig, AdminServerListensOnLoopbackByDefault) {
  auto r = Load(kMinimal);
  ASSERT_TRUE(r.config) << AllErrors(r);
  const AdminConfig& a = r.config->admin;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.listen, "127.0.0.1:9400");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9400);
  EXPECT_EQ(a.ready_max_lag_seconds, 0);
}

TEST(LoadConfig, AdminListenTakesHostPortIpv6AndPortZeroFromTheEnvironment) {
  auto r =
      Load("admin:\n  listen: ${LISTEN:-127.0.0.1:9400}\n  ready_max_lag_seconds: 30\n" + kMinimal,
           {{"LISTEN", "[::1]:0"}});
  ASSERT_TRUE(r.config) << AllErrors(r);
  EXPECT_EQ(r.config->admin.host, "::1");
  EXPECT_EQ(r.config->admin.port, 0);
  EXPECT_EQ(r.config->admin.ready_max_lag_seconds, 30);
  auto off = Load("admin: {enabled: false, listen: \"0.0.0.0:9500\"}\n" + kMinimal);
  ASSERT_TRUE(off.config) << AllErrors(off);
  EXPECT_FALSE(off.config->admin.enabled);
  EXPECT_EQ(off.config->admin.host, "0.0.0.0");
  EXPECT_EQ(off.config->admin.port, 9500);
}

TEST(LoadConfig, AdminListenMustBeHostAndPort) {
  for (const char* bad : {"9400", "127.0.0.1:", ":9400", "127.0.0.1:65536", "::1:9400",
                          "127.0.0.1:94x", "[::1]9400"}) {
    auto r = Load(std::string("admin: {listen: \"") + bad + "\"}\n" + kMinimal);
    ASSERT_FALSE(r.config) << bad;
    ASSERT_EQ(r.errors.size(), 1u) << AllErrors(r);
    EXPECT_EQ(r.errors[0].ToString(),
              std::string("test.yaml:1:17: 'admin.listen' is '") + bad +
                  "'; expected host:port (e.g. 127.0.0.1:9400, [::1]:9400; port 0 takes any free "
                  "port)");
  }
}

TEST(LoadConfig, BusApiIsOffUnlessListenIsSet) {
  auto off = Load("api:\n  listen: \"${API:-}\"\n" + kMinimal);
  ASSERT_TRUE(off.config) << AllErrors(off);
  EXPECT_FALSE(off.config->api.enabled());
  auto on = Load("api:\n  listen: \"${API:-}\"\n" + kMinimal, {{"API", "127.0.0.1:0"}});
  ASSERT_TRUE(on.config) << AllErrors(on);
  EXPECT_TRUE(on.config->api.enabled());
  EXPECT_EQ(on.config->api.host, "127.0.0.1");
  EXPECT_EQ(on.config->api.port, 0);
  auto bad = Load("api: {listen: \"4010\"}\n" + kMinimal);
  ASSERT_FALSE(bad.config);
  ASSERT_EQ(bad.errors.size(), 1u) << AllErrors(bad);
  EXPECT_NE(bad.errors[0].ToString().find("'api.listen' is '4010'; expected host:port"),
            std::string::npos)
      << AllErrors(bad);
  auto no_stream = Load("api: {listen: \"127.0.0.1:0\"}\nstream: {enabled: false}\n" + kMinimal);
  ASSERT_FALSE(no_stream.config);
  EXPECT_NE(AllErrors(no_stream).find("the stream is off"), std::string::npos)
      << AllErrors(no_stream);
}

TEST(LoadConfig, BusApiKeysGoTogetherAndTheThrottlingShareIsAPercentage) {
  auto keyed =
      Load("api: {listen: \"127.0.0.1:0\", access_key_id: AKID, secret_access_key: \"${S}\"}\n" +
               kMinimal,
           {{"S", "s3cret"}});
  ASSERT_TRUE(keyed.config) << AllErrors(keyed);
  EXPECT_TRUE(keyed.config->api.verifies_signatures());
  EXPECT_EQ(keyed.config->api.secret_access_key, "s3cret");
  auto open = Load(
      "api: {listen: \"127.0.0.1:0\", access_key_id: \"\", secret_access_key: \"\"}\n" + kMinimal);
  ASSERT_TRUE(open.config) << AllErrors(open);
  EXPECT_FALSE(open.config->api.verifies_signatures());
  auto half = Load("api:\n  listen: \"127.0.0.1:0\"\n  access_key_id: AKID\n" + kMinimal);
  ASSERT_FALSE(half.config);
  EXPECT_NE(AllErrors(half).find("test.yaml:3:"), std::string::npos) << AllErrors(half);
  EXPECT_NE(AllErrors(half).find("go together"), std::string::npos) << AllErrors(half);
  auto percent =
      Load("api: {listen: \"127.0.0.1:0\", inject_throttling_percent: 101}\n" + kMinimal);
  ASSERT_FALSE(percent.config);
  EXPECT_NE(AllErrors(percent).find("0 to 100"), std::string::npos) << AllErrors(percent);
}

TEST(LoadConfig, UnknownKeyAndMissingTargetAreBothReportedWithLines) {
  auto r = Load(R"(pipeline:
  name: x
  colour: blue
tables:
  users:
    event_types: [INSERT]
rules:
  r1:
    event_pattern: {source: [a]}
    targets: [nowhere]
targets:
  out: {type: stdout}
)");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 2u) << AllErrors(r);
  EXPECT_EQ(r.errors[0].ToString(),
            "test.yaml:3:3: unknown key 'colour' in 'pipeline' (allowed: name, data_dir, "
            "log_level, log_format, shutdown_timeout_ms)");
  EXPECT_EQ(
      r.errors[1].ToString(),
      "test.yaml:10:15: rules.r1: target 'nowhere' is not defined in 'targets' (defined: out)");
}

TEST(LoadConfig, TypeAndEnumErrors) {
  auto r = Load(R"(
pipeline: [a, b]
tables:
  users:
    event_types: [INSERT, UPSERT]
    pii: maybe
    primary_key: {a: b}
rules:
  r:
    event_pattern: {source: [a]}
    enabled: perhaps
    targets: [t]
targets:
  t: {type: pulsar}
)");
  std::string all = AllErrors(r);
  EXPECT_NE(all.find("test.yaml:2:11: 'pipeline' must be a mapping"), std::string::npos) << all;
  EXPECT_NE(all.find("test.yaml:5:27: 'tables.users.event_types' has 'UPSERT'; expected any of: "
                     "INSERT, UPDATE, DELETE, TRUNCATE, READ"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("'tables.users.pii' is 'maybe'; expected one of: none, personal"),
            std::string::npos);
  EXPECT_NE(all.find("'tables.users.primary_key' must be a list of strings"), std::string::npos);
  EXPECT_NE(all.find("'rules.r.enabled' must be true or false"), std::string::npos);
  EXPECT_NE(all.find("'targets.t.type' is 'pulsar'; expected one of: file, stdout"),
            std::string::npos);
}

TEST(LoadConfig, MissingRequiredKeys) {
  auto r = Load(R"(
tables:
  users: {}
rules:
  r: {targets: [t]}
targets:
  t: {type: file}
)");
  std::string all = AllErrors(r);
  EXPECT_NE(all.find("missing required key 'event_types' in 'tables.users'"), std::string::npos)
      << all;
  EXPECT_NE(all.find("missing required key 'event_pattern' in 'rules.r'"), std::string::npos)
      << all;
  EXPECT_NE(all.find("missing required key 'path' in 'targets.t'"), std::string::npos) << all;
  auto none = Load("pipeline: {name: x}\n");
  EXPECT_NE(AllErrors(none).find("missing required key 'tables' in '(top level)'"),
            std::string::npos);
}

TEST(LoadConfig, YamlSyntaxErrorHasALine) {
  auto r = Load("tables:\n  users:\n    event_types: [INSERT\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.line, 4) << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(LoadConfig, DuplicateNames) {
  auto r = Load(kMinimal + "  out:\n    type: stdout\n");
  EXPECT_NE(AllErrors(r).find("duplicate name 'out' in 'targets'"), std::string::npos)
      << AllErrors(r);
}

TEST(LoadConfig, EnvironmentExpansion) {
  auto r = Load(R"(
pipeline:
  name: ${NAME}
  data_dir: ${DATA:-/var/lib/cdc}/x
tables:
  users: {event_types: [INSERT]}
rules:
  r: {event_pattern: {source: ["${SRC}"], detail: {n: [5, "5", true, null]}}, targets: [t]}
targets:
  t: {type: file, path: "${DATA:-/var/lib/cdc}/t.jsonl"}
)",
                {{"NAME", "p1"}, {"SRC", "cdc.x"}});
  ASSERT_TRUE(r.config) << AllErrors(r);
  EXPECT_EQ(r.config->pipeline.name, "p1");
  EXPECT_EQ(r.config->pipeline.data_dir, "/var/lib/cdc/x");
  ASSERT_NE(r.config->targets[0].OptionsAs<FileTargetOptions>(), nullptr);
  EXPECT_EQ(r.config->targets[0].OptionsAs<FileTargetOptions>()->path, "/var/lib/cdc/t.jsonl");
  EXPECT_EQ(r.config->rules[0].event_pattern,
            R"({"source":["cdc.x"],"detail":{"n":[5,"5",true,null]}})");
}

TEST(LoadConfig, UnsetVariableIsAnErrorNamingIt) {
  auto r = Load(R"(
pipeline: {name: "${PIPELINE_NAME}"}
tables:
  users: {event_types: [INSERT]}
)");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.line, 2);
  EXPECT_NE(r.errors[0].message.find("environment variable PIPELINE_NAME is not set"),
            std::string::npos);
}

TEST(LoadConfig, PatternAsJsonString) {
  auto r = Load(R"(
tables:
  users: {event_types: [INSERT]}
rules:
  r:
    event_pattern: '{"detail-type": ["users.INSERT"]}'
    targets: [t]
targets:
  t: {type: stdout}
)");
  ASSERT_TRUE(r.config) << AllErrors(r);
  EXPECT_EQ(r.config->rules[0].event_pattern, R"({"detail-type": ["users.INSERT"]})");
}

TEST(ValidateSemantics, InvalidPatternIsReportedAtItsLine) {
  auto r = Load(R"(
tables:
  users: {event_types: [INSERT]}
rules:
  r:
    event_pattern: {source: cdc.coredb}
    targets: [t]
targets:
  t: {type: stdout}
)");
  ASSERT_TRUE(r.config) << AllErrors(r);
  auto errors = ValidateSemantics(*r.config);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(),
            "test.yaml:6:20: rules.r.event_pattern: Event pattern is not valid. Reason: \"source\" "
            "must be an object or an array");
}

TEST(LoadConfig, DuplicateFunctionNames) {
  auto r = Load(R"(
tables:
  users: {event_types: [INSERT], function: f}
  orders: {event_types: [INSERT], function: f}
)");
  EXPECT_NE(AllErrors(r).find("function 'f' is already used by another table"), std::string::npos);
}

TEST(DefaultFunctionName, FollowsTheOriginalNaming) {
  EXPECT_EQ(DefaultFunctionName("users"), "processUserChanges");
  EXPECT_EQ(DefaultFunctionName("audit_logs"), "processAuditLogChanges");
  EXPECT_EQ(DefaultFunctionName("inventory"), "processInventoryChanges");
  EXPECT_EQ(DefaultFunctionName("categories"), "processCategoryChanges");
  EXPECT_EQ(DefaultFunctionName("addresses"), "processAddressChanges");
  EXPECT_EQ(DefaultFunctionName("status"), "processStatusChanges");
}

TEST(LoadConfig, RuleTargetsMixNamesAndInputTransformers) {
  auto r = Load(R"(
tables:
  users:
    event_types: [UPDATE]
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets:
      - out
      - target: out
        input: {hello: world, n: 1}
      - target: out
        input_path: $.detail.after
      - target: out
        input_transformer:
          input_paths_map:
            id: $.detail.after.id
          input_template: '{"id": <id>, "rule": "<aws.events.rule-name>"}'
targets:
  out: {type: stdout}
)");
  ASSERT_TRUE(r.config) << AllErrors(r);
  const RuleConfig& rule = r.config->rules[0];
  ASSERT_EQ(rule.targets, (std::vector<std::string>{"out", "out", "out", "out"}));
  ASSERT_EQ(rule.target_inputs.size(), 4u);
  EXPECT_TRUE(rule.target_inputs[0].empty());
  EXPECT_EQ(rule.target_inputs[1].input, R"({"hello":"world","n":1})");
  EXPECT_EQ(rule.target_inputs[2].input_path, "$.detail.after");
  ASSERT_EQ(rule.target_inputs[3].input_paths_map.size(), 1u);
  EXPECT_EQ(rule.target_inputs[3].input_paths_map[0].second, "$.detail.after.id");
  EXPECT_EQ(rule.target_inputs[3].input_template,
            R"({"id": <id>, "rule": "<aws.events.rule-name>"})");
}

TEST(LoadConfig, InputTransformerErrorsHaveLines) {
  auto r = Load(R"(
tables:
  users:
    event_types: [UPDATE]
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets:
      - target: out
        input: '{"a": 1}'
        input_path: $.detail
      - target: out
        input_path: detail.after
      - target: out
        input_transformer:
          input_paths_map:
            id: $.detail[x]
            aws.mine: $.id
          input_template: '{"id": <id>, "x": <nope>}'
      - target: nowhere
        colour: blue
targets:
  out: {type: stdout}
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(AllErrors(r),
            "test.yaml:11:21: rules.r1.targets[0].input_path: 'input' and 'input_path' cannot "
            "both be set\n"
            "test.yaml:13:21: rules.r1.targets[1].input_path: 'detail.after' is not a valid "
            "JSONPath: it must start with '$'\n"
            "test.yaml:17:17: rules.r1.targets[2].input_transformer.input_paths_map.id: "
            "'$.detail[x]' is not a valid JSONPath: an index, '*' or a quoted name is expected "
            "at position 9\n"
            "test.yaml:18:23: rules.r1.targets[2].input_transformer.input_paths_map.aws.mine: "
            "names starting with 'aws.' are reserved\n"
            "test.yaml:19:27: rules.r1.targets[2].input_transformer.input_template: unknown "
            "placeholder <nope>: it is neither in input_paths_map nor predefined "
            "(aws.events.event, aws.events.event.json, aws.events.rule-name, "
            "aws.events.rule-arn, aws.events.event.ingestion-time)\n"
            "test.yaml:21:9: unknown key 'colour' in 'rules.r1.targets[3]' (allowed: target, "
            "input, input_path, input_transformer, dead_letter)\n"
            "test.yaml:20:17: rules.r1: target 'nowhere' is not defined in 'targets' (defined: "
            "out)\n");
}

}  // namespace
}  // namespace cdc

namespace cdc {
namespace {

TEST(LoadConfig, HttpTargetsRetryPoliciesAndDeadLetters) {
  auto r = Load(R"(
tables:
  users:
    event_types: [UPDATE]
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets:
      - target: hook
        dead_letter: dlq
targets:
  dlq: {type: file, path: /tmp/dlq.jsonl}
  hook:
    type: http
    url: https://user:pw@example.com/in
    method: PUT
    headers: {Authorization: Bearer abc, X-Team: cdc}
    timeout_ms: 250
    queue_size: 7
    retry: {max_attempts: 4, max_event_age_seconds: 60, initial_backoff_ms: 10, max_backoff_ms: 80}
)");
  ASSERT_TRUE(r.config) << AllErrors(r);
  const TargetConfig* hook = r.config->FindTarget("hook");
  ASSERT_NE(hook, nullptr);
  const auto* http = hook->OptionsAs<HttpTargetOptions>();
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->url, "https://user:pw@example.com/in");
  EXPECT_EQ(http->method, "PUT");
  ASSERT_EQ(http->headers.size(), 2u);
  EXPECT_EQ(http->headers[0], (std::pair<std::string, std::string>{"Authorization", "Bearer abc"}));
  EXPECT_EQ(http->timeout_ms, 250);
  EXPECT_EQ(hook->queue_size, 7);
  EXPECT_EQ(hook->retry.max_attempts, 4);
  EXPECT_EQ(hook->retry.max_event_age_seconds, 60);
  EXPECT_EQ(hook->retry.initial_backoff_ms, 10);
  EXPECT_EQ(hook->retry.max_backoff_ms, 80);
  EXPECT_EQ(r.config->rules[0].target_dead_letters, std::vector<std::string>{"dlq"});
  // Defaults: EventBridge's retry policy.
  const TargetConfig* dlq = r.config->FindTarget("dlq");
  EXPECT_EQ(dlq->retry.max_attempts, 185);
  EXPECT_EQ(dlq->retry.max_event_age_seconds, 86400);
}

TEST(LoadConfig, HttpAndDeadLetterMistakesHaveLinesAndNoSecrets) {
  auto r = Load(R"(
tables:
  users:
    event_types: [UPDATE]
rules:
  r1:
    event_pattern: {source: [cdc.coredb]}
    targets:
      - {target: hook, dead_letter: out}
      - {target: hook, dead_letter: nowhere}
      - {target: out, dead_letter: out2}
      - {target: out2, dead_letter: out2}
targets:
  out: {type: stdout}
  out2: {type: file, path: /tmp/x.jsonl}
  hook:
    type: http
    url: ftp://user:hunter2@example.com
    headers: {"bad name": x}
    queue_size: 0
    retry: {max_attempts: 0}
)");
  ASSERT_FALSE(r.config);
  std::string all = AllErrors(r);
  EXPECT_NE(all.find("test.yaml:18:10: 'targets.hook.url' must start with http:// or https://"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
  EXPECT_NE(all.find("'targets.hook.headers.bad name': a header name is letters, digits"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("'targets.hook.queue_size' must be at least 1"), std::string::npos) << all;
  EXPECT_NE(all.find("'targets.hook.retry.max_attempts' must be at least 1"), std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:9:37: rules.r1.targets[0].dead_letter: target 'out' is a stdout "
                     "target; a dead letter must go to a file target"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("rules.r1.targets[1].dead_letter: target 'nowhere' is not defined"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("rules.r1.targets[3].dead_letter: the failed deliveries of target 'out2' "
                     "cannot be dead-lettered to the same target"),
            std::string::npos)
      << all;
}

}  // namespace
}  // namespace cdc
