#include "deploy/template.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>

#include "base/version.h"
#include "deploy/json_value.h"
#include "stream/kinesis/kinesis_stream.h"
#include "target/eventbridge/eventbridge_target.h"
#include "target/http/http_target.h"
#include "target/kinesis/kinesis_target.h"

namespace cdc::deploy {
namespace {

using J = JsonValue;

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// One statement of an IAM policy: Allow `actions` on `resources`.
J Allow(const std::vector<std::string>& actions, J resource) {
  return J::Object()
      .Set("Effect", "Allow")
      .Set("Action", J::Strings(actions))
      .Set("Resource", std::move(resource));
}

J Tags(std::string_view component) {
  return J::Array()
      .Push(J::Object().Set("Key", "cdc:pipeline").Set("Value", "cdc-pipeline"))
      .Push(J::Object().Set("Key", "cdc:component").Set("Value", component))
      .Push(J::Object().Set("Key", "cdc:environment").Set("Value", Ref("Environment")));
}

J Resource(std::string_view type, J properties) {
  return J::Object().Set("Type", type).Set("Properties", std::move(properties));
}

J Parameter(std::string_view type, std::string_view description) {
  return J::Object().Set("Type", type).Set("Description", description);
}

// The per-environment values of the parameter files (docs/deploy.md "Environments").
struct EnvValues {
  int64_t shards;
  int memory;
  int64_t iterator_age_ms;
  int log_days;
};

EnvValues ValuesFor(const Config& config, Environment env) {
  switch (env) {
    case Environment::kDev:
      return {1, 256, 3600000, 7};
    case Environment::kStaging:
      return {config.stream.shards, 512, 900000, 30};
    case Environment::kProd:
      break;
  }
  return {config.stream.shards, 1024, 300000, 90};
}

// A queue with server-side encryption and the longest retention SQS has (14 days).
J Queue(const std::string& name, std::string_view component) {
  return Resource("AWS::SQS::Queue", J::Object()
                                         .Set("QueueName", name)
                                         .Set("MessageRetentionPeriod", 1209600)
                                         .Set("SqsManagedSseEnabled", true)
                                         .Set("Tags", Tags(component)));
}

// An alarm when a queue holds any message (a dead letter is an incident).
J QueueDepthAlarm(const std::string& queue_name, std::string_view what) {
  return Resource(
      "AWS::CloudWatch::Alarm",
      J::Object()
          .Set("AlarmName", Sub(queue_name + "-depth-${Environment}"))
          .Set("AlarmDescription", std::string(what) + " holds messages that could not be "
                                                       "delivered; see docs/deploy.md")
          .Set("Namespace", "AWS/SQS")
          .Set("MetricName", "ApproximateNumberOfMessagesVisible")
          .Set("Dimensions",
               J::Array().Push(J::Object().Set("Name", "QueueName").Set("Value", queue_name)))
          .Set("Statistic", "Maximum")
          .Set("Period", 60)
          .Set("EvaluationPeriods", 1)
          .Set("Threshold", 0)
          .Set("ComparisonOperator", "GreaterThanThreshold")
          .Set("TreatMissingData", "notBreaching"));
}

// Lets EventBridge send to `queue` from the rules `rule_ids` only.
J QueuePolicy(const std::string& queue_id, const std::vector<std::string>& rule_ids) {
  J sources = J::Array();
  for (const auto& r : rule_ids) sources.Push(GetAtt(r, "Arn"));
  J statement =
      J::Object()
          .Set("Effect", "Allow")
          .Set("Principal", J::Object().Set("Service", "events.amazonaws.com"))
          .Set("Action", J::Strings({"sqs:SendMessage"}))
          .Set("Resource", GetAtt(queue_id, "Arn"))
          .Set("Condition",
               J::Object().Set("ArnEquals", J::Object().Set("aws:SourceArn", std::move(sources))));
  return Resource(
      "AWS::SQS::QueuePolicy",
      J::Object()
          .Set("Queues", J::Array().Push(Ref(queue_id)))
          .Set("PolicyDocument", J::Object()
                                     .Set("Version", "2012-10-17")
                                     .Set("Statement", J::Array().Push(std::move(statement)))));
}

// The rule target's input, as EventBridge's Input / InputPath / InputTransformer.
void SetInput(J& target, const InputSpec& spec) {
  if (spec.input) target.Set("Input", *spec.input);
  if (spec.input_path) target.Set("InputPath", *spec.input_path);
  if (spec.input_template) {
    J transformer = J::Object();
    if (!spec.input_paths_map.empty()) {
      J paths = J::Object();
      for (const auto& [name, path] : spec.input_paths_map) paths.Set(name, path);
      transformer.Set("InputPathsMap", std::move(paths));
    }
    transformer.Set("InputTemplate", *spec.input_template);
    target.Set("InputTransformer", std::move(transformer));
  }
}

// The partition key of the records EventBridge puts into a `kinesis` target's stream: the
// change's deterministic id, which the `eventbridge` target kind writes into every event it puts
// on the bus (docs/deploy.md "Rule targets").
constexpr std::string_view kPartitionKeyPath = "$.detail.metadata.eventId";
// EventBridge's default rate of an API destination, written out so the template says it.
constexpr int kInvocationRateLimitPerSecond = 300;
// Connections and API destinations take names of at most 64 characters.
constexpr size_t kMaxEventsNameLength = 64;

// An ARN in the stack's account: "arn:${AWS::Partition}:<service>:<region>:${AWS::AccountId}:
// <resource>", the stack's region unless `region` names another.
J AccountArn(std::string_view service, const std::string& region, const std::string& resource) {
  return Sub("arn:${AWS::Partition}:" + std::string(service) + ":" +
             (region.empty() ? std::string("${AWS::Region}") : region) +
             ":${AWS::AccountId}:" + resource);
}

// A rule's ARN, built from its name rather than read from the rule (Fn::GetAtt): the rule names
// the role that this ARN goes into, so a reference back would be a circular dependency.
J RuleArn(const std::string& rule_name) {
  return Sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${EventBus}/" +
             rule_name);
}

// The role a rule target's deliveries run as: assumable by EventBridge for the rules `rule_names`
// only (aws:SourceArn, AWS's confused-deputy advice), allowed `actions` on `arn` only.
J TargetRole(const std::string& policy_name, const std::string& description, J arn,
             const std::vector<std::string>& actions, const std::vector<std::string>& rule_names) {
  J sources = J::Array();
  for (const auto& r : rule_names) sources.Push(RuleArn(r));
  J assume =
      J::Object()
          .Set("Version", "2012-10-17")
          .Set("Statement",
               J::Array().Push(
                   J::Object()
                       .Set("Effect", "Allow")
                       .Set("Principal", J::Object().Set("Service", "events.amazonaws.com"))
                       .Set("Action", J::Strings({"sts:AssumeRole"}))
                       .Set("Condition",
                            J::Object().Set("ArnEquals", J::Object().Set("aws:SourceArn",
                                                                         std::move(sources))))));
  return Resource(
      "AWS::IAM::Role",
      J::Object()
          .Set("Description", description)
          .Set("AssumeRolePolicyDocument", std::move(assume))
          .Set("Policies",
               J::Array().Push(J::Object()
                                   .Set("PolicyName", policy_name)
                                   .Set("PolicyDocument",
                                        J::Object()
                                            .Set("Version", "2012-10-17")
                                            .Set("Statement",
                                                 J::Array().Push(Allow(actions, std::move(arn)))))))
          .Set("Tags", Tags("consumer")));
}

// "%41b" -> "Ab": the URL's userinfo and query are percent-encoded, the parameters EventBridge
// takes are not (it encodes them itself).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// An http target's URL, split into what may be in the template (the endpoint: scheme, host,
// port, path) and what may not (the userinfo and the query, which hold credentials as often as
// not; only their names are kept).
struct UrlParts {
  std::string endpoint;
  bool has_userinfo = false;
  std::vector<std::string> query_keys;  // percent-decoded
};

UrlParts SplitUrl(const std::string& url) {
  UrlParts out;
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t authority_end = std::min(url.find_first_of("/?#", start), url.size());
  std::string authority = url.substr(start, authority_end - start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) {
    out.has_userinfo = true;
    authority.erase(0, at + 1);
  }
  size_t path_end = std::min(url.find_first_of("?#", authority_end), url.size());
  out.endpoint =
      url.substr(0, start) + authority + url.substr(authority_end, path_end - authority_end);
  if (path_end < url.size() && url[path_end] == '?') {
    size_t query_end = std::min(url.find('#', path_end), url.size());
    std::string_view query(url.data() + path_end + 1, query_end - path_end - 1);
    while (!query.empty()) {
      std::string_view pair = query.substr(0, query.find('&'));
      query.remove_prefix(std::min(query.size(), pair.size() + 1));
      if (!pair.empty()) out.query_keys.push_back(PercentDecode(pair.substr(0, pair.find('='))));
    }
  }
  return out;
}

// What a rule target becomes: its Arn (and RoleArn's role, unless it is an SQS queue, which a
// queue policy opens instead), the resources that go with it, and the template parameters of its
// secrets.
struct TargetPlan {
  J arn;
  std::string role_id;
  std::optional<std::string> partition_key_path;
  std::vector<std::pair<std::string, J>> resources;
  std::vector<std::pair<std::string, J>> parameters;
};

// A NoEcho parameter for a secret of target `target`: CloudFormation shows it as ****, and the
// parameter files never hold it (docs/deploy.md "Secrets").
J SecretParameter(const std::string& target, const std::string& what) {
  return Parameter("String", "The " + what + " of the http target " + target +
                                 " (a secret: give it at deploy time, as the config has it)")
      .Set("NoEcho", true);
}

// An `http` target as an API destination: a connection with its credentials (from NoEcho
// parameters), the destination (endpoint, method, rate), and a role that may invoke it only.
Result<TargetPlan> PlanHttpTarget(const std::string& pipeline, const TargetConfig& tc,
                                  const std::vector<std::string>& rule_names) {
  const auto* o = tc.OptionsAs<HttpTargetOptions>();
  if (o == nullptr) return InvalidArgument("target '" + tc.name + "' has no options");
  const std::string name = pipeline + "-" + tc.name;
  if (name.size() > kMaxEventsNameLength) {
    return InvalidArgument("target '" + tc.name + "': its API destination's name '" + name +
                           "' is longer than EventBridge's 64 characters");
  }
  // Only the scheme is quoted: the URL may hold credentials.
  if (!o->url.starts_with("https://")) {
    return InvalidArgument("target '" + tc.name +
                           "': EventBridge API destinations call https:// URLs only, and its "
                           "url is not one");
  }
  const std::string id = "Consumer" + LogicalId(tc.name);
  TargetPlan plan;
  UrlParts url = SplitUrl(o->url);
  bool clash = false;  // two secrets with one parameter name ("X-Key" and "XKey", a key twice)
  auto secret = [&](const std::string& suffix, const std::string& what) {
    for (const auto& [existing, p] : plan.parameters) clash |= existing == id + suffix;
    plan.parameters.emplace_back(id + suffix, SecretParameter(tc.name, what));
    return Ref(id + suffix);
  };

  // EventBridge wants one authorization per connection. The Authorization header (any scheme)
  // as an API key, else the URL's userinfo as basic auth, else the first other header as an API
  // key; the headers left over are the connection's invocation headers.
  std::string auth_header;
  for (const auto& [header, value] : o->headers) {
    if (strcasecmp(header.c_str(), "authorization") == 0) auth_header = header;
  }
  if (auth_header.empty() && !url.has_userinfo) {
    for (const auto& [header, value] : o->headers) {
      if (strcasecmp(header.c_str(), "content-type") != 0) {
        auth_header = header;
        break;
      }
    }
  }
  J auth = J::Object();
  std::string type;
  if (!auth_header.empty()) {
    type = "API_KEY";
    auth.Set("ApiKeyAuthParameters",
             J::Object()
                 .Set("ApiKeyName", auth_header)
                 .Set("ApiKeyValue", secret("ApiKey", "header " + auth_header)));
  } else if (url.has_userinfo) {
    type = "BASIC";
    auth.Set("BasicAuthParameters",
             J::Object()
                 .Set("Username", secret("Username", "user name (in its url)"))
                 .Set("Password", secret("Password", "password (in its url)")));
  } else {
    // A connection cannot go without an authorization: a header that says who calls, no secret.
    type = "API_KEY";
    auth.Set("ApiKeyAuthParameters",
             J::Object().Set("ApiKeyName", "X-Cdc-Pipeline").Set("ApiKeyValue", pipeline));
  }
  J headers = J::Array();
  for (const auto& [header, value] : o->headers) {
    if (header == auth_header) continue;
    J p = J::Object().Set("Key", header);
    if (strcasecmp(header.c_str(), "content-type") == 0) {
      p.Set("Value", value).Set("IsValueSecret", false);  // a media type, not a credential
    } else {
      p.Set("Value", secret("Header" + LogicalId(header), "header " + header))
          .Set("IsValueSecret", true);
    }
    headers.Push(std::move(p));
  }
  J query = J::Array();
  for (const auto& key : url.query_keys) {
    query.Push(J::Object()
                   .Set("Key", key)
                   .Set("Value", secret("Query" + LogicalId(key), "query parameter " + key))
                   .Set("IsValueSecret", true));
  }
  if (!headers.items().empty() || !query.items().empty()) {
    J invocation = J::Object();
    if (!headers.items().empty()) invocation.Set("HeaderParameters", std::move(headers));
    if (!query.items().empty()) invocation.Set("QueryStringParameters", std::move(query));
    auth.Set("InvocationHttpParameters", std::move(invocation));
  }
  if (clash) {
    return InvalidArgument("target '" + tc.name +
                           "': two of its headers or query parameters make the same template "
                           "parameter name; rename one");
  }
  plan.resources.emplace_back(
      id + "Connection",
      Resource("AWS::Events::Connection",
               J::Object()
                   .Set("Name", name)
                   .Set("Description", "The credentials of the http target " + tc.name)
                   .Set("AuthorizationType", type)
                   .Set("AuthParameters", std::move(auth))));
  plan.resources.emplace_back(
      id + "ApiDestination",
      Resource("AWS::Events::ApiDestination",
               J::Object()
                   .Set("Name", name)
                   .Set("Description", "The http target " + tc.name)
                   .Set("ConnectionArn", GetAtt(id + "Connection", "Arn"))
                   .Set("InvocationEndpoint", url.endpoint)
                   .Set("HttpMethod", o->method)
                   .Set("InvocationRateLimitPerSecond", kInvocationRateLimitPerSecond)));
  plan.resources.emplace_back(
      id + "Role", TargetRole(name, "Lets EventBridge call the API destination of " + tc.name,
                              GetAtt(id + "ApiDestination", "Arn"), {"events:InvokeApiDestination"},
                              rule_names));
  plan.arn = GetAtt(id + "ApiDestination", "Arn");
  plan.role_id = id + "Role";
  return plan;
}

// What the rules that name `target` deliver to, by the target's kind: another event bus, a
// Kinesis stream, an API destination, else (file, stdout, dynamodb, kafka: nothing EventBridge
// can deliver to) an SQS queue the consumer reads.
Result<TargetPlan> PlanTarget(const Config& config, const DeployNames& names,
                              const std::string& target, const std::vector<std::string>& rule_names,
                              const std::vector<std::string>& rule_ids) {
  const std::string pipeline = config.pipeline.name;
  const std::string id = "Consumer" + LogicalId(target);
  const TargetConfig* tc = config.FindTarget(target);
  TargetPlan plan;
  if (tc != nullptr && tc->type == "eventbridge") {
    const auto* o = tc->OptionsAs<EventBridgeTargetOptions>();
    if (o == nullptr) return InvalidArgument("target '" + target + "' has no options");
    const std::string bus = EventBridgeBusName(*o);
    if (bus == names.bus && o->region.empty()) {
      return InvalidArgument("target '" + target + "' puts into the bus '" + bus +
                             "', the one its rules are on: the events would come back to them; "
                             "set its bus_name");
    }
    plan.arn =
        bus.starts_with("arn:") ? J(bus) : AccountArn("events", o->region, "event-bus/" + bus);
    plan.resources.emplace_back(
        id + "Role", TargetRole(pipeline + "-" + target,
                                "Lets EventBridge put the rules' events into the bus of " + target,
                                plan.arn, {"events:PutEvents"}, rule_names));
    plan.role_id = id + "Role";
    return plan;
  }
  if (tc != nullptr && tc->type == "kinesis") {
    const auto* o = tc->OptionsAs<KinesisTargetOptions>();
    if (o == nullptr || o->stream_name.empty()) {
      return InvalidArgument("target '" + target + "' needs a stream_name");
    }
    plan.arn = o->stream_name.starts_with("arn:")
                   ? J(o->stream_name)
                   : AccountArn("kinesis", o->region, "stream/" + o->stream_name);
    plan.resources.emplace_back(
        id + "Role",
        TargetRole(pipeline + "-" + target,
                   "Lets EventBridge put the rules' events into the stream of " + target, plan.arn,
                   {"kinesis:PutRecord", "kinesis:PutRecords"}, rule_names));
    plan.role_id = id + "Role";
    plan.partition_key_path = std::string(kPartitionKeyPath);
    return plan;
  }
  if (tc != nullptr && tc->type == "http") return PlanHttpTarget(pipeline, *tc, rule_names);
  plan.arn = GetAtt(id + "Queue", "Arn");
  plan.resources.emplace_back(id + "Queue", Queue(pipeline + "-" + target, "consumer"));
  plan.resources.emplace_back(id + "QueuePolicy", QueuePolicy(id + "Queue", rule_ids));
  return plan;
}

}  // namespace

Result<Environment> ParseEnvironment(std::string_view name) {
  if (name == "dev") return Environment::kDev;
  if (name == "staging") return Environment::kStaging;
  if (name == "prod") return Environment::kProd;
  return InvalidArgument("unknown environment '" + std::string(name) +
                         "': use dev, staging or prod");
}

std::string_view EnvironmentName(Environment env) {
  switch (env) {
    case Environment::kDev:
      return "dev";
    case Environment::kStaging:
      return "staging";
    case Environment::kProd:
      break;
  }
  return "prod";
}

DeployNames ResolveNames(const Config& config) {
  DeployNames names;
  const auto* kinesis = config.stream.OptionsAs<stream::KinesisStreamOptions>();
  names.stream = kinesis != nullptr ? stream::KinesisStreamName(*kinesis)
                                    : EnvOr("KINESIS_STREAM_NAME", "cdc-changes-stream");
  names.state_table = EnvOr("STATE_TABLE_NAME", "cdc-pipeline-state");
  names.lease_table = names.state_table + "-leases";
  names.bus = config.bus.name;
  return names;
}

std::vector<std::string> FunctionNames(const Config& config) {
  std::vector<std::string> out;
  for (const auto& t : config.tables) {
    out.push_back(t.function.empty() ? DefaultFunctionName(t.name) : t.function);
  }
  return out;
}

std::string LogicalId(std::string_view name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

Result<std::string> RenderTemplate(const Config& config, Environment env) {
  const DeployNames names = ResolveNames(config);
  const std::string pipeline = config.pipeline.name;

  J params = J::Object();
  params.Set("Environment",
             Parameter("String", "The environment: names the functions' alias and tags")
                 .Set("AllowedValues", J::Strings({"dev", "staging", "prod"}))
                 .Set("Default", EnvironmentName(env)));
  params.Set("CodeS3Bucket",
             Parameter("String", "The S3 bucket holding the Lambda zip (scripts/package-lambda)"));
  params.Set("CodeS3Key", Parameter("String", "The S3 key of the Lambda zip")
                              .Set("Default", "cdc-pipeline-lambda.zip"));
  params.Set("ReleaseVersion",
             Parameter("String",
                       "The release (e.g. v1.2.3): each new value publishes a new version of "
                       "every function, the one `rollback --version` names"));
  params.Set("ShardCount",
             Parameter("Number", "Shards of the Kinesis stream (the config's stream.shards)")
                 .Set("Default", std::to_string(config.stream.shards))
                 .Set("MinValue", "1"));
  params.Set("BatchSize", Parameter("Number",
                                    "Records per Lambda invocation (the original's "
                                    "BATCH_SIZE)")
                              .Set("Default", std::to_string(kDefaultBatchSize))
                              .Set("MinValue", "1")
                              .Set("MaxValue", "10000"));
  params.Set("MemorySize", Parameter("Number", "Memory of each function, in MB")
                               .Set("Default", "512")
                               .Set("MinValue", "128")
                               .Set("MaxValue", "10240"));
  params.Set("IteratorAgeAlarmMs",
             Parameter("Number",
                       "Alarm when a function's oldest unprocessed record is older "
                       "than this (milliseconds)")
                 .Set("Default", "300000"));
  params.Set("LogRetentionDays",
             Parameter("Number", "Days the functions' logs are kept")
                 .Set("Default", "30")
                 .Set("AllowedValues", J::Strings({"1", "3", "5", "7", "14", "30", "60", "90",
                                                   "120", "150", "180", "365"})));

  J resources = J::Object();
  resources.Set(
      "ChangesStream",
      Resource("AWS::Kinesis::Stream",
               J::Object()
                   .Set("Name", names.stream)
                   .Set("ShardCount", Ref("ShardCount"))
                   .Set("RetentionPeriodHours", 24)
                   .Set("StreamModeDetails", J::Object().Set("StreamMode", "PROVISIONED"))
                   .Set("StreamEncryption",
                        J::Object().Set("EncryptionType", "KMS").Set("KeyId", "alias/aws/kinesis"))
                   .Set("Tags", Tags("stream"))));
  auto table = [](const std::string& name, std::vector<std::pair<std::string, std::string>> keys,
                  bool ttl, std::string_view component) {
    J attributes = J::Array();
    J schema = J::Array();
    for (size_t i = 0; i < keys.size(); ++i) {
      attributes.Push(J::Object().Set("AttributeName", keys[i].first).Set("AttributeType", "S"));
      schema.Push(J::Object()
                      .Set("AttributeName", keys[i].first)
                      .Set("KeyType", i == 0 ? "HASH" : "RANGE"));
    }
    J p = J::Object()
              .Set("TableName", name)
              .Set("BillingMode", "PAY_PER_REQUEST")
              .Set("AttributeDefinitions", std::move(attributes))
              .Set("KeySchema", std::move(schema));
    if (ttl) {
      p.Set("TimeToLiveSpecification",
            J::Object().Set("AttributeName", "expires_at").Set("Enabled", true));
    }
    p.Set("PointInTimeRecoverySpecification", J::Object().Set("PointInTimeRecoveryEnabled", true));
    p.Set("SSESpecification", J::Object().Set("SSEEnabled", true));
    p.Set("Tags", Tags(component));
    J r = Resource("AWS::DynamoDB::Table", std::move(p));
    r.Set("DeletionPolicy", "Retain").Set("UpdateReplacePolicy", "Retain");
    return r;
  };
  resources.Set("StateTable", table(names.state_table, {{"pk", ""}, {"sk", ""}}, true, "state"));
  resources.Set("LeaseTable", table(names.lease_table, {{"leaseKey", ""}}, false, "leases"));
  resources.Set("EventBus", Resource("AWS::Events::EventBus",
                                     J::Object().Set("Name", names.bus).Set("Tags", Tags("bus"))));

  // Per function: log group, role, DLQ, function, version, alias, event source mapping, alarms.
  std::vector<std::string> functions = FunctionNames(config);
  for (size_t i = 0; i < functions.size(); ++i) {
    const std::string& fn = functions[i];
    const TableConfig& t = config.tables[i];
    const std::string id = LogicalId(fn);
    const std::string dlq = fn + "-dlq";
    resources.Set(id + "LogGroup", Resource("AWS::Logs::LogGroup",
                                            J::Object()
                                                .Set("LogGroupName", "/aws/lambda/" + fn)
                                                .Set("RetentionInDays", Ref("LogRetentionDays"))
                                                .Set("Tags", Tags("logs"))));
    J statements =
        J::Array()
            .Push(Allow({"logs:CreateLogStream", "logs:PutLogEvents"},
                        GetAtt(id + "LogGroup", "Arn")))
            .Push(Allow({"kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
                         "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"},
                        GetAtt("ChangesStream", "Arn")))
            .Push(Allow({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                         "dynamodb:DeleteItem", "dynamodb:Query"},
                        GetAtt("StateTable", "Arn")))
            .Push(Allow({"events:PutEvents"}, GetAtt("EventBus", "Arn")))
            .Push(Allow({"sqs:SendMessage"}, GetAtt(id + "DeadLetterQueue", "Arn")));
    J assume = J::Object()
                   .Set("Version", "2012-10-17")
                   .Set("Statement",
                        J::Array().Push(J::Object()
                                            .Set("Effect", "Allow")
                                            .Set("Principal",
                                                 J::Object().Set("Service", "lambda.amazonaws.com"))
                                            .Set("Action", J::Strings({"sts:AssumeRole"}))));
    resources.Set(
        id + "Role",
        Resource("AWS::IAM::Role",
                 J::Object()
                     .Set("Description", "Runs " + fn +
                                             ": reads the stream, keeps state, "
                                             "publishes to the bus")
                     .Set("AssumeRolePolicyDocument", std::move(assume))
                     .Set("Policies",
                          J::Array().Push(J::Object()
                                              .Set("PolicyName", fn)
                                              .Set("PolicyDocument",
                                                   J::Object()
                                                       .Set("Version", "2012-10-17")
                                                       .Set("Statement", std::move(statements)))))
                     .Set("Tags", Tags("function"))));
    resources.Set(id + "DeadLetterQueue", Queue(dlq, "function-dlq"));
    J variables = J::Object()
                      .Set("CDC_ENV", Ref("Environment"))
                      .Set("CDC_FUNCTION", fn)
                      .Set("CDC_TABLE", t.schema == "public" ? t.name : t.schema + "." + t.name)
                      .Set("KINESIS_STREAM_NAME", Ref("ChangesStream"))
                      .Set("STATE_TABLE_NAME", Ref("StateTable"))
                      .Set("EVENT_BUS_NAME", Ref("EventBus"));
    J function = Resource(
        "AWS::Lambda::Function",
        J::Object()
            .Set("FunctionName", fn)
            .Set("Description", t.description.empty()
                                    ? "Processes changes of " + t.name
                                    : "Processes changes of " + t.name + ": " + t.description)
            .Set("Runtime", "provided.al2023")
            .Set("Architectures", J::Strings({"x86_64"}))
            .Set("Handler", fn)
            .Set("Code",
                 J::Object().Set("S3Bucket", Ref("CodeS3Bucket")).Set("S3Key", Ref("CodeS3Key")))
            .Set("Role", GetAtt(id + "Role", "Arn"))
            .Set("MemorySize", Ref("MemorySize"))
            .Set("Timeout", 60)
            .Set("Environment", J::Object().Set("Variables", std::move(variables)))
            .Set("Tags", Tags("function")));
    function.Set("DependsOn", J::Strings({id + "LogGroup"}));
    resources.Set(id + "Function", std::move(function));
    J version = Resource("AWS::Lambda::Version", J::Object()
                                                     .Set("FunctionName", Ref(id + "Function"))
                                                     .Set("Description", Ref("ReleaseVersion")));
    // A new ReleaseVersion replaces the resource; the old version must stay for rollback.
    version.Set("DeletionPolicy", "Retain").Set("UpdateReplacePolicy", "Retain");
    resources.Set(id + "Version", std::move(version));
    resources.Set(id + "Alias",
                  Resource("AWS::Lambda::Alias",
                           J::Object()
                               .Set("FunctionName", Ref(id + "Function"))
                               .Set("FunctionVersion", GetAtt(id + "Version", "Version"))
                               .Set("Name", Ref("Environment"))));
    resources.Set(
        id + "EventSourceMapping",
        Resource("AWS::Lambda::EventSourceMapping",
                 J::Object()
                     .Set("FunctionName", Ref(id + "Alias"))
                     .Set("EventSourceArn", GetAtt("ChangesStream", "Arn"))
                     .Set("StartingPosition", "TRIM_HORIZON")
                     .Set("BatchSize", Ref("BatchSize"))
                     .Set("BisectBatchOnFunctionError", true)
                     .Set("MaximumRetryAttempts", kMaximumRetryAttempts)
                     .Set("FunctionResponseTypes", J::Strings({"ReportBatchItemFailures"}))
                     .Set("DestinationConfig",
                          J::Object().Set("OnFailure",
                                          J::Object().Set("Destination",
                                                          GetAtt(id + "DeadLetterQueue", "Arn"))))
                     .Set("Enabled", true)));
    resources.Set(
        id + "IteratorAgeAlarm",
        Resource("AWS::CloudWatch::Alarm",
                 J::Object()
                     .Set("AlarmName", Sub(fn + "-iterator-age-${Environment}"))
                     .Set("AlarmDescription", fn + " falls behind the stream")
                     .Set("Namespace", "AWS/Lambda")
                     .Set("MetricName", "IteratorAge")
                     .Set("Dimensions", J::Array().Push(J::Object()
                                                            .Set("Name", "FunctionName")
                                                            .Set("Value", Ref(id + "Function"))))
                     .Set("Statistic", "Maximum")
                     .Set("Period", 60)
                     .Set("EvaluationPeriods", 5)
                     .Set("Threshold", Ref("IteratorAgeAlarmMs"))
                     .Set("ComparisonOperator", "GreaterThanThreshold")
                     .Set("TreatMissingData", "notBreaching")));
    resources.Set(id + "DeadLetterAlarm", QueueDepthAlarm(dlq, "The dead-letter queue of " + fn));
  }

  // The bus: one rule per config rule, one rule target per config target (natively as
  // EventBridge delivers to its kind, else an SQS queue the consumer reads: PlanTarget), failed
  // deliveries to the bus's dead-letter queue.
  const std::string bus_dlq = pipeline + "-bus-dlq";
  resources.Set("BusDeadLetterQueue", Queue(bus_dlq, "bus-dlq"));
  resources.Set("BusDeadLetterAlarm", QueueDepthAlarm(bus_dlq, "The bus's dead-letter queue"));
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>>
      rules_of_target;  // target -> (rule names, rule ids)
  std::vector<std::string> all_rules;
  for (const RuleConfig& rule : config.rules) {
    all_rules.push_back("Rule" + LogicalId(rule.name));
    for (const std::string& target : rule.targets) {
      rules_of_target[target].first.push_back(rule.name);
      rules_of_target[target].second.push_back(all_rules.back());
    }
  }
  std::map<std::string, TargetPlan> plans;
  for (const auto& [target, rules] : rules_of_target) {
    auto plan = PlanTarget(config, names, target, rules.first, rules.second);
    if (!plan.ok()) return plan.status();
    for (auto& [id, parameter] : plan->parameters) params.Set(id, std::move(parameter));
    plans.emplace(target, std::move(plan).value());
  }
  for (const RuleConfig& rule : config.rules) {
    const std::string rule_id = "Rule" + LogicalId(rule.name);
    auto pattern = J::Parse(rule.event_pattern);
    if (!pattern.ok()) {
      return InvalidArgument("rule '" + rule.name + "': " + pattern.status().message());
    }
    J targets = J::Array();
    for (size_t k = 0; k < rule.targets.size(); ++k) {
      const std::string& target = rule.targets[k];
      const TargetConfig* tc = config.FindTarget(target);
      const TargetPlan& plan = plans.at(target);
      J t = J::Object().Set("Id", target).Set("Arn", plan.arn);
      if (!plan.role_id.empty()) t.Set("RoleArn", GetAtt(plan.role_id, "Arn"));
      if (plan.partition_key_path) {
        t.Set("KinesisParameters", J::Object().Set("PartitionKeyPath", *plan.partition_key_path));
      }
      if (k < rule.target_inputs.size()) SetInput(t, rule.target_inputs[k]);
      if (tc != nullptr) {
        t.Set("RetryPolicy",
              J::Object()
                  .Set("MaximumRetryAttempts",
                       std::clamp<int64_t>(tc->retry.max_attempts - 1, 0, 185))
                  .Set("MaximumEventAgeInSeconds",
                       std::clamp<int64_t>(tc->retry.max_event_age_seconds, 60, 86400)));
      }
      t.Set("DeadLetterConfig", J::Object().Set("Arn", GetAtt("BusDeadLetterQueue", "Arn")));
      targets.Push(std::move(t));
    }
    J p = J::Object()
              .Set("Name", rule.name)
              .Set("EventBusName", Ref("EventBus"))
              .Set("EventPattern", std::move(pattern).value())
              .Set("State", rule.enabled ? "ENABLED" : "DISABLED");
    if (!rule.description.empty()) p.Set("Description", rule.description);
    if (!rule.targets.empty()) p.Set("Targets", std::move(targets));
    resources.Set(rule_id, Resource("AWS::Events::Rule", std::move(p)));
  }
  for (auto& [target, plan] : plans) {
    for (auto& [id, resource] : plan.resources) resources.Set(id, std::move(resource));
  }
  resources.Set("BusDeadLetterQueuePolicy", QueuePolicy("BusDeadLetterQueue", all_rules));

  J outputs = J::Object();
  outputs.Set("StreamName", J::Object().Set("Value", Ref("ChangesStream")));
  outputs.Set("StreamArn", J::Object().Set("Value", GetAtt("ChangesStream", "Arn")));
  outputs.Set("StateTableName", J::Object().Set("Value", Ref("StateTable")));
  outputs.Set("LeaseTableName", J::Object().Set("Value", Ref("LeaseTable")));
  outputs.Set("EventBusArn", J::Object().Set("Value", GetAtt("EventBus", "Arn")));

  J doc = J::Object()
              .Set("AWSTemplateFormatVersion", "2010-09-09")
              .Set("Description", "cdc-pipeline '" + pipeline +
                                      "': stream, state, one function per table, bus and rules "
                                      "(rendered by `cdc-pipeline deploy render`)")
              .Set("Parameters", std::move(params))
              .Set("Resources", std::move(resources))
              .Set("Outputs", std::move(outputs));
  return doc.Pretty();
}

std::string RenderParameters(const Config& config, Environment env) {
  const EnvValues v = ValuesFor(config, env);
  std::vector<std::pair<std::string, std::string>> values = {
      {"Environment", std::string(EnvironmentName(env))},
      {"CodeS3Bucket", "cdc-pipeline-artifacts-" + std::string(EnvironmentName(env))},
      {"CodeS3Key", "cdc-pipeline-lambda.zip"},
      {"ReleaseVersion", std::string("v") + CDC_VERSION},
      {"ShardCount", std::to_string(v.shards)},
      {"BatchSize", std::to_string(kDefaultBatchSize)},
      {"MemorySize", std::to_string(v.memory)},
      {"IteratorAgeAlarmMs", std::to_string(v.iterator_age_ms)},
      {"LogRetentionDays", std::to_string(v.log_days)},
  };
  J out = J::Array();
  for (auto& [key, value] : values) {
    out.Push(J::Object().Set("ParameterKey", key).Set("ParameterValue", value));
  }
  return out.Pretty();
}

}  // namespace cdc::deploy
