// `deploy render` and `rollback` (issue 19): the rendered template is checked against the part
// of CloudFormation's resource specification kept in tests/data/cfn-spec-subset.json (every
// resource type and property exists, required properties are set, nested types' too where the
// subset lists them, Fn::GetAtt reads a published attribute), every Ref / Fn::GetAtt / Fn::Sub
// reference resolves, every table's function and every rule of the config is there, and IAM grants
// only the actions each resource needs on that resource. The checker is shown to fail on broken
// templates. The prod template is a golden file: regenerate it with CDC_UPDATE_GOLDEN=1 (or
// `build/bin/cdc-pipeline deploy render --env prod > tests/data/deploy/template-prod.json`).
// `rollback` runs against a fake Lambda API.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "config/config.h"
#include "deploy/template.h"
#include "support/http_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using testing::RunCli;
using testing::TempDir;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const std::set<std::string> kPseudo = {"AWS::AccountId", "AWS::Region",          "AWS::Partition",
                                       "AWS::StackName", "AWS::StackId",         "AWS::URLSuffix",
                                       "AWS::NoValue",   "AWS::NotificationARNs"};

// What each resource type's ARN may be granted (the least the functions need).
const std::map<std::string, std::set<std::string>> kAllowedActions = {
    {"AWS::Kinesis::Stream",
     {"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
      "kinesis:GetShardIterator", "kinesis:ListShards"}},
    {"AWS::DynamoDB::Table",
     {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
      "dynamodb:Query"}},
    {"AWS::Events::EventBus", {"events:PutEvents"}},
    {"AWS::SQS::Queue", {"sqs:SendMessage"}},
    {"AWS::Logs::LogGroup", {"logs:CreateLogStream", "logs:PutLogEvents"}},
};

std::string Str(element e) {
  std::string_view s;
  return e.get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
}

// A member's string, "" when it is missing or not a string (never throws, as the conversion of a
// failed lookup to an element would).
std::string Str(simdjson::simdjson_result<element> e) {
  element v;
  if (std::move(e).get(v) != simdjson::SUCCESS) return "";
  return Str(v);
}

// Checks a rendered template; every problem found, as text.
class TemplateChecker {
 public:
  TemplateChecker() {
    std::string text = testing::ReadFile(testing::SourcePath("tests/data/cfn-spec-subset.json"));
    EXPECT_EQ(spec_parser_.parse(text).get(spec_), simdjson::SUCCESS);
  }

  std::vector<std::string> Check(const std::string& json) {
    errors_.clear();
    if (parser_.parse(json).get(doc_) != simdjson::SUCCESS) return {"not JSON"};
    if (doc_["Resources"].get(resources_) != simdjson::SUCCESS) return {"no Resources"};
    if (doc_["Parameters"].get(parameters_) != simdjson::SUCCESS) return {"no Parameters"};
    for (auto [id, resource] : resources_) CheckResource(std::string(id), resource);
    WalkReferences(doc_, "");
    CheckIam();
    return errors_;
  }

  std::string TypeOf(const std::string& id) {
    element r;
    if (resources_[id].get(r) != simdjson::SUCCESS) return "";
    return Str(r["Type"]);
  }

 private:
  void Error(const std::string& e) { errors_.push_back(e); }

  static bool IsIntrinsic(element e) {
    simdjson::dom::object o;
    if (e.get(o) != simdjson::SUCCESS || o.size() != 1) return false;
    std::string_view key = (*o.begin()).key;
    return key == "Ref" || key.starts_with("Fn::");
  }

  void CheckResource(const std::string& id, element resource) {
    std::string type = Str(resource["Type"]);
    element spec;
    if (spec_["ResourceTypes"][type].get(spec) != simdjson::SUCCESS) {
      Error(id + ": resource type '" + type + "' is not in the specification");
      return;
    }
    simdjson::dom::object props;
    if (resource["Properties"].get(props) != simdjson::SUCCESS) {
      Error(id + ": no Properties");
      return;
    }
    for (auto required : spec["required"].get_array()) {
      element v;
      if (props[Str(required)].get(v) != simdjson::SUCCESS) {
        Error(id + ": required property " + Str(required) + " missing");
      }
    }
    for (auto [name, value] : props) {
      element type_spec;
      if (spec["properties"][name].get(type_spec) != simdjson::SUCCESS) {
        Error(id + ": " + type + " has no property " + std::string(name));
        continue;
      }
      CheckValue(id + "." + std::string(name), type_spec, value, spec);
    }
  }

  // `value` against `type_spec`; `entry` is the resource type's entry of the specification (its
  // definitions, definitionsRequired, definitionsOneOf).
  void CheckValue(const std::string& where, element type_spec, element value, element entry) {
    if (IsIntrinsic(value)) return;
    if (type_spec.is_array()) {
      if (!value.is_array()) {
        Error(where + ": expected a list");
        return;
      }
      size_t i = 0;
      for (auto item : value.get_array()) {
        CheckValue(where + "[" + std::to_string(i++) + "]", type_spec.at(0), item, entry);
      }
      return;
    }
    std::string t = Str(type_spec);
    if (t == "json") return;
    if (t == "string" && !value.is_string()) Error(where + ": expected a string");
    if (t == "integer" && !value.is_int64()) Error(where + ": expected an integer");
    if (t == "number" && !value.is_number()) Error(where + ": expected a number");
    if (t == "boolean" && !value.is_bool()) Error(where + ": expected a boolean");
    if (t == "map") {
      if (!value.is_object()) {
        Error(where + ": expected an object");
        return;
      }
      for (auto [k, v] : value.get_object()) {
        if (!v.is_string() && !IsIntrinsic(v))
          Error(where + "." + std::string(k) + ": not a string");
      }
    }
    if (t.starts_with("#")) {
      const std::string name = t.substr(1);
      element def;
      if (entry["definitions"][name].get(def) != simdjson::SUCCESS) {
        Error(where + ": the specification subset lacks " + t);
        return;
      }
      if (!value.is_object()) {
        Error(where + ": expected an object");
        return;
      }
      simdjson::dom::object members = value.get_object();
      for (auto [k, v] : members) {
        element sub;
        if (def[k].get(sub) != simdjson::SUCCESS) {
          Error(where + ": " + name + " has no property " + std::string(k));
          continue;
        }
        CheckValue(where + "." + std::string(k), sub, v, entry);
      }
      simdjson::dom::array required;
      if (entry["definitionsRequired"][name].get(required) == simdjson::SUCCESS) {
        for (auto r : required) {
          element v;
          if (members[Str(r)].get(v) != simdjson::SUCCESS) {
            Error(where + ": " + name + " requires " + Str(r));
          }
        }
      }
      simdjson::dom::array one_of;
      if (entry["definitionsOneOf"][name].get(one_of) == simdjson::SUCCESS) {
        size_t present = 0;
        for (auto r : one_of) {
          element v;
          if (members[Str(r)].get(v) == simdjson::SUCCESS) ++present;
        }
        if (present != 1) {
          Error(where + ": " + name + " holds " + std::to_string(present) +
                " of the properties of which it needs exactly one");
        }
      }
    }
  }

  bool Known(const std::string& name) {
    element e;
    return kPseudo.count(name) || resources_[name].get(e) == simdjson::SUCCESS ||
           parameters_[name].get(e) == simdjson::SUCCESS;
  }

  void CheckGetAtt(const std::string& where, const std::string& resource, const std::string& att) {
    std::string type = TypeOf(resource);
    if (type.empty()) {
      Error(where + ": Fn::GetAtt of unknown resource " + resource);
      return;
    }
    simdjson::dom::array attributes;
    if (spec_["ResourceTypes"][type]["attributes"].get(attributes) != simdjson::SUCCESS) {
      Error(where + ": Fn::GetAtt of " + resource + ", whose type " + type + " is unknown");
      return;
    }
    bool found = false;
    for (auto a : attributes) found |= Str(a) == att;
    if (!found) Error(where + ": " + type + " has no attribute " + att);
  }

  void WalkReferences(element e, const std::string& where) {
    if (e.is_array()) {
      for (auto item : e.get_array()) WalkReferences(item, where);
      return;
    }
    if (!e.is_object()) return;
    for (auto [key, value] : e.get_object()) {
      std::string k(key);
      std::string here = where.empty() ? k : where + "." + k;
      if (k == "Ref") {
        if (!Known(Str(value))) Error(where + ": Ref to unknown " + Str(value));
      } else if (k == "Fn::GetAtt") {
        CheckGetAtt(where, Str(value.at(0)), Str(value.at(1)));
      } else if (k == "Fn::Sub") {
        std::string text = Str(value);
        for (size_t p = text.find("${"); p != std::string::npos; p = text.find("${", p + 2)) {
          size_t end = text.find('}', p);
          std::string name = text.substr(p + 2, end - p - 2);
          if (name.starts_with("!")) continue;
          if (size_t dot = name.find('.'); dot != std::string::npos && !kPseudo.count(name)) {
            CheckGetAtt(where, name.substr(0, dot), name.substr(dot + 1));
          } else if (!Known(name)) {
            Error(where + ": Fn::Sub names unknown " + name);
          }
        }
      } else if (k == "DependsOn") {
        for (auto d : value.get_array()) {
          if (TypeOf(Str(d)).empty()) Error(where + ": DependsOn unknown " + Str(d));
        }
      }
      WalkReferences(value, here);
    }
  }

  // The resource a statement's Resource names: GetAtt [R, Arn] -> R; "" otherwise.
  std::string ArnOf(element resource) {
    element att;
    if (resource["Fn::GetAtt"].get(att) != simdjson::SUCCESS) return "";
    if (Str(att.at(1)) != "Arn") return "";
    return Str(att.at(0));
  }

  // The actions a rule target's role may have on the target's Arn, by what the Arn names: an API
  // destination (Fn::GetAtt), a Kinesis stream or another event bus (an ARN, or Fn::Sub of one).
  std::set<std::string> TargetActions(element arn) {
    if (TypeOf(ArnOf(arn)) == "AWS::Events::ApiDestination") return {"events:InvokeApiDestination"};
    std::string text = arn.is_string() ? Str(arn) : Str(arn["Fn::Sub"]);
    if (Contains(text, ":kinesis:") && Contains(text, ":stream/")) {
      return {"kinesis:PutRecord", "kinesis:PutRecords"};
    }
    if (Contains(text, ":events:") && Contains(text, ":event-bus/")) return {"events:PutEvents"};
    return {};
  }

  // A function's role: the allow-list per resource type, its own log group and DLQ only.
  void CheckFunctionRole(const std::string& id, element resource) {
    std::string function_id = id.substr(0, id.size() - 4);  // <F>Role
    for (auto policy : resource["Properties"]["Policies"].get_array()) {
      for (auto st : policy["PolicyDocument"]["Statement"].get_array()) {
        element r = st["Resource"];
        if (r.is_string()) {
          Error(id + ": a statement on \"" + Str(r) + "\" instead of a resource's ARN");
          continue;
        }
        std::string target = ArnOf(r);
        std::string target_type = TypeOf(target);
        auto allowed = kAllowedActions.find(target_type);
        if (allowed == kAllowedActions.end()) {
          Error(id + ": a statement on " + (target.empty() ? "a computed ARN" : target) +
                ", which no role needs");
          continue;
        }
        if ((target_type == "AWS::SQS::Queue" || target_type == "AWS::Logs::LogGroup") &&
            !target.starts_with(function_id)) {
          Error(id + ": grants on " + target + ", which belongs to another function");
        }
        for (auto a : st["Action"].get_array()) {
          if (!allowed->second.count(Str(a))) {
            Error(id + ": action " + Str(a) + " on " + target + " is not needed");
          }
        }
      }
    }
  }

  // A rule target's role: assumable by EventBridge from the rules only, every statement on the
  // Arn of the targets that name it (all one resource), with the actions that target needs.
  void CheckTargetRole(const std::string& id, element resource, const std::vector<element>& arns) {
    element condition;
    if (resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            .at(0)["Condition"]["ArnEquals"]["aws:SourceArn"]
            .get(condition) != simdjson::SUCCESS) {
      Error(id + ": EventBridge may assume it without an aws:SourceArn condition");
    }
    if (arns.empty()) {
      Error(id + ": a role for EventBridge that no rule target uses");
      return;
    }
    const std::string arn = simdjson::minify(arns[0]);
    for (const auto& other : arns) {
      if (simdjson::minify(other) != arn) Error(id + ": used by targets on different resources");
    }
    std::set<std::string> allowed = TargetActions(arns[0]);
    if (allowed.empty()) Error(id + ": no action is needed on " + arn);
    for (auto policy : resource["Properties"]["Policies"].get_array()) {
      for (auto st : policy["PolicyDocument"]["Statement"].get_array()) {
        if (simdjson::minify(st["Resource"]) != arn) {
          Error(id + ": a statement on " + simdjson::minify(st["Resource"]) +
                " instead of its target's " + arn);
        }
        for (auto a : st["Action"].get_array()) {
          if (!allowed.count(Str(a))) Error(id + ": action " + Str(a) + " is not needed");
        }
      }
    }
  }

  // A secret is a Ref to a NoEcho parameter or a dynamic reference, never a literal.
  void CheckSecret(const std::string& where, element value) {
    if (Contains(Str(value), "{{resolve:secretsmanager:")) return;
    std::string ref = Str(value["Ref"]);
    element noecho;
    if (ref.empty() || parameters_[ref]["NoEcho"].get(noecho) != simdjson::SUCCESS ||
        !noecho.is_bool() || !bool(noecho.get_bool())) {
      Error(where + ": a secret that is not a NoEcho parameter");
    }
  }

  void CheckConnection(const std::string& id, element resource) {
    element auth = resource["Properties"]["AuthParameters"];
    element e;
    // The one value that is not a secret: the caller's name, for an endpoint without credentials.
    if (auth["ApiKeyAuthParameters"].get(e) == simdjson::SUCCESS &&
        Str(e["ApiKeyName"]) != "X-Cdc-Pipeline") {
      CheckSecret(id + ".ApiKeyValue", e["ApiKeyValue"]);
    }
    if (auth["BasicAuthParameters"].get(e) == simdjson::SUCCESS) {
      CheckSecret(id + ".Username", e["Username"]);
      CheckSecret(id + ".Password", e["Password"]);
    }
    for (const char* list : {"HeaderParameters", "QueryStringParameters", "BodyParameters"}) {
      simdjson::dom::array items;
      if (auth["InvocationHttpParameters"][list].get(items) != simdjson::SUCCESS) continue;
      for (auto p : items) {
        bool secret = true;  // the schema's default
        if (p["IsValueSecret"].get(secret) != simdjson::SUCCESS) secret = true;
        if (secret) CheckSecret(id + "." + list + "." + Str(p["Key"]), p["Value"]);
      }
    }
  }

  void CheckIam() {
    // Which role each rule target runs as; a target without one must be an SQS queue (a queue
    // policy lets EventBridge send).
    std::map<std::string, std::vector<element>> arns_of_role;
    for (auto [id_view, resource] : resources_) {
      if (Str(resource["Type"]) != "AWS::Events::Rule") continue;
      simdjson::dom::array targets;
      if (resource["Properties"]["Targets"].get(targets) != simdjson::SUCCESS) continue;
      for (auto t : targets) {
        std::string where = std::string(id_view) + " target " + Str(t["Id"]);
        element role;
        if (t["RoleArn"].get(role) != simdjson::SUCCESS) {
          if (TypeOf(ArnOf(t["Arn"])) != "AWS::SQS::Queue") {
            Error(where + ": no RoleArn, and not an SQS queue");
          }
          continue;
        }
        std::string role_id = ArnOf(role);
        if (TypeOf(role_id) != "AWS::IAM::Role") {
          Error(where + ": its RoleArn is not a role's ARN");
          continue;
        }
        arns_of_role[role_id].push_back(t["Arn"]);
      }
    }
    for (auto [id_view, resource] : resources_) {
      std::string id(id_view);
      std::string type = Str(resource["Type"]);
      if (type == "AWS::IAM::Role") {
        std::string principal =
            Str(resource["Properties"]["AssumeRolePolicyDocument"]["Statement"].at(
                0)["Principal"]["Service"]);
        if (principal == "lambda.amazonaws.com") {
          CheckFunctionRole(id, resource);
        } else if (principal == "events.amazonaws.com") {
          CheckTargetRole(id, resource, arns_of_role[id]);
        } else {
          Error(id + ": a role for " + principal);
        }
      }
      if (type == "AWS::Events::Connection") CheckConnection(id, resource);
      if (type == "AWS::SQS::QueuePolicy") {
        for (auto st : resource["Properties"]["PolicyDocument"]["Statement"].get_array()) {
          if (Str(st["Principal"]["Service"]) != "events.amazonaws.com") {
            Error(id + ": a queue policy for another principal than EventBridge");
          }
          for (auto a : st["Action"].get_array()) {
            if (Str(a) != "sqs:SendMessage") Error(id + ": queue policy allows " + Str(a));
          }
          if (TypeOf(ArnOf(st["Resource"])) != "AWS::SQS::Queue") {
            Error(id + ": queue policy on something else than a queue's ARN");
          }
          element condition;
          if (st["Condition"]["ArnEquals"]["aws:SourceArn"].get(condition) != simdjson::SUCCESS) {
            Error(id + ": queue policy without an aws:SourceArn condition");
          }
        }
      }
    }
  }

  simdjson::dom::parser spec_parser_, parser_;
  element spec_, doc_;
  simdjson::dom::object resources_, parameters_;
  std::vector<std::string> errors_;
};

std::string Render(const std::string& env, const std::string& extra = "") {
  std::vector<std::string> args = {"deploy", "render", "--env", env};
  if (!extra.empty()) args.push_back(extra);
  auto r = RunCli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::shared_ptr<const Config> ShippedConfig() {
  auto loaded = LoadConfig(testing::SourcePath("config/cdc-pipeline.yaml"));
  EXPECT_TRUE(loaded.config) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  return loaded.config;
}

std::string Minified(std::string_view json) {
  simdjson::dom::parser p;
  element e;
  EXPECT_EQ(p.parse(json.data(), json.size()).get(e), simdjson::SUCCESS) << json;
  return simdjson::minify(e);
}

TEST(DeployRender, EveryEnvironmentPassesTheChecks) {
  TemplateChecker checker;
  for (const std::string env : {"dev", "staging", "prod"}) {
    std::string t = Render(env);
    auto errors = checker.Check(t);
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    EXPECT_TRUE(errors.empty()) << env << ":\n" << all;
  }
}

TEST(DeployRender, EveryFunctionAndRuleOfTheConfigIsThere) {
  auto config = ShippedConfig();
  ASSERT_TRUE(config);
  std::string t = Render("prod");
  simdjson::dom::parser parser;
  element doc;
  ASSERT_EQ(parser.parse(t).get(doc), simdjson::SUCCESS);
  std::map<std::string, std::string> functions;  // FunctionName -> logical id
  std::map<std::string, element> rules;          // Name -> properties
  size_t mappings = 0, aliases = 0, versions = 0, iterator_alarms = 0;
  for (auto [id, r] : doc["Resources"].get_object()) {
    std::string type = Str(r["Type"]);
    if (type == "AWS::Lambda::Function") {
      functions[Str(r["Properties"]["FunctionName"])] = std::string(id);
      EXPECT_EQ(Str(r["Properties"]["Runtime"]), "provided.al2023");
      EXPECT_EQ(Str(r["Properties"]["Handler"]), Str(r["Properties"]["FunctionName"]));
    }
    if (type == "AWS::Events::Rule") rules[Str(r["Properties"]["Name"])] = r["Properties"];
    if (type == "AWS::Lambda::EventSourceMapping") {
      ++mappings;
      element p = r["Properties"];
      EXPECT_EQ(Str(p["BatchSize"]["Ref"]), "BatchSize");
      EXPECT_TRUE(bool(p["BisectBatchOnFunctionError"].get_bool()));
      EXPECT_EQ(int64_t(p["MaximumRetryAttempts"].get_int64()), deploy::kMaximumRetryAttempts);
      EXPECT_EQ(Str(p["FunctionResponseTypes"].at(0)), "ReportBatchItemFailures");
      EXPECT_EQ(Str(p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"].at(0)),
                std::string(id).replace(std::string(id).find("EventSourceMapping"), 18,
                                        "DeadLetterQueue"));
      EXPECT_TRUE(Str(p["FunctionName"]["Ref"]).ends_with("Alias")) << id;
    }
    if (type == "AWS::Lambda::Alias") {
      ++aliases;
      EXPECT_EQ(Str(r["Properties"]["Name"]["Ref"]), "Environment");
    }
    if (type == "AWS::Lambda::Version") ++versions;
    if (type == "AWS::CloudWatch::Alarm" && Str(r["Properties"]["MetricName"]) == "IteratorAge") {
      ++iterator_alarms;
    }
  }
  ASSERT_EQ(config->tables.size(), 12u);
  EXPECT_EQ(functions.size(), config->tables.size());
  for (const auto& table : config->tables) {
    EXPECT_TRUE(functions.count(table.function)) << table.function;
  }
  EXPECT_TRUE(functions.count("processUserChanges"));
  EXPECT_EQ(mappings, functions.size());
  EXPECT_EQ(aliases, functions.size());
  EXPECT_EQ(versions, functions.size());
  EXPECT_EQ(iterator_alarms, functions.size());
  ASSERT_EQ(config->rules.size(), 16u);
  EXPECT_EQ(rules.size(), config->rules.size());
  for (const auto& rule : config->rules) {
    auto it = rules.find(rule.name);
    ASSERT_NE(it, rules.end()) << rule.name;
    EXPECT_EQ(simdjson::minify(it->second["EventPattern"]), Minified(rule.event_pattern))
        << rule.name;
    std::vector<std::string> ids;
    for (auto target : it->second["Targets"].get_array()) ids.push_back(Str(target["Id"]));
    EXPECT_EQ(ids, rule.targets) << rule.name;
  }
  EXPECT_EQ(Str(doc["Resources"]["ChangesStream"]["Properties"]["Name"]), "cdc-changes-stream");
  EXPECT_EQ(Str(doc["Parameters"]["ShardCount"]["Default"]), std::to_string(config->stream.shards));
  EXPECT_EQ(Str(doc["Resources"]["StateTable"]["Properties"]["TableName"]), "cdc-pipeline-state");
  EXPECT_EQ(Str(doc["Resources"]["LeaseTable"]["Properties"]["KeySchema"].at(0)["AttributeName"]),
            "leaseKey");
}

// The checker is not a rubber stamp: each kind of mistake is caught.
TEST(DeployRender, TheCheckerRejectsBrokenTemplates) {
  TemplateChecker checker;
  const std::string good = Render("prod");
  ASSERT_TRUE(checker.Check(good).empty());
  auto broken = [&](const std::string& from, const std::string& to, const std::string& expect) {
    std::string t = good;
    size_t p = t.find(from);
    ASSERT_NE(p, std::string::npos) << from;
    t.replace(p, from.size(), to);
    auto errors = checker.Check(t);
    std::string all;
    for (const auto& e : errors) all += e + "\n";
    EXPECT_TRUE(Contains(all, expect)) << "after replacing " << from << ":\n" << all;
  };
  broken(R"("Ref": "ShardCount")", R"("Ref": "ShardCounts")", "Ref to unknown ShardCounts");
  broken(R"("SqsManagedSseEnabled")", R"("SqsManagedSSEEnabled")", "has no property");
  broken(R"("Type": "AWS::Logs::LogGroup")", R"("Type": "AWS::Logs::LogGroups")",
         "not in the specification");
  broken(R"("BisectBatchOnFunctionError": true)", R"("BisectBatchOnFunctionError": "yes")",
         "expected a boolean");
  broken(R"("kinesis:ListShards")", R"("kinesis:DeleteStream")", "kinesis:DeleteStream");
  // A nested type's required property (a rule target's Id).
  broken(R"("Id": "wallboards")", R"("Name": "wallboards")", "Target requires Id");
  {
    // The stream's first Fn::GetAtt reads an attribute the type does not publish.
    std::string t = good;
    size_t at = t.find("\"Arn\"", t.find("\"Fn::GetAtt\": [", t.find("kinesis:ListShards")));
    t.replace(at, 5, "\"ShardIds\"");
    std::string all;
    for (const auto& e : checker.Check(t)) all += e + "\n";
    EXPECT_TRUE(Contains(all, "has no attribute ShardIds")) << all;
  }
  broken(R"("Fn::Sub": "processUserChanges-iterator-age-${Environment}")",
         R"("Fn::Sub": "processUserChanges-iterator-age-${Env}")", "Fn::Sub names unknown Env");
  // A grant on every resource instead of the table's ARN.
  std::string star = good;
  size_t q = star.find("\"dynamodb:Query\"");
  size_t r = star.find("\"Resource\": ", q);
  size_t end = star.find('}', r);
  star.replace(r, end + 1 - r, "\"Resource\": \"*\"");
  std::string all;
  for (const auto& e : checker.Check(star)) all += e + "\n";
  EXPECT_TRUE(Contains(all, "a statement on \"*\"")) << all;
}

TEST(DeployRender, GoldenProdTemplate) {
  std::string golden_path = testing::SourcePath("tests/data/deploy/template-prod.json");
  std::string rendered = Render("prod");
  if (std::getenv("CDC_UPDATE_GOLDEN") != nullptr) testing::WriteFile(golden_path, rendered);
  EXPECT_EQ(rendered, testing::ReadFile(golden_path))
      << "regenerate with CDC_UPDATE_GOLDEN=1 if the change is intended";
  EXPECT_EQ(Render("prod"), rendered) << "rendering is deterministic";
}

// tests/data/deploy/native-targets.yaml: a rule target of each kind EventBridge delivers to
// natively (another account's bus, a Kinesis stream, two API destinations) and a file consumer.
// Its credentials come from the environment, with these values, none of which may reach the
// template, a parameter file or a message.
const char* const kNativeConfig = "tests/data/deploy/native-targets.yaml";
const std::map<std::string, std::string> kNativeSecrets = {
    {"FULFILMENT_TOKEN", "fulfilment-token-5b1e0c"},
    {"FULFILMENT_TENANT_SECRET", "tenant-secret-93d7aa"},
    {"LEGACY_USER", "legacy-user-2f64"},
    {"LEGACY_PASSWORD", "legacy-password-c81d"},
    {"LEGACY_TOKEN", "legacy-query-token-7e02"},
};

testing::CommandResult RenderConfig(const std::string& config, const std::string& env,
                                    const std::string& extra = "") {
  std::vector<std::string> args = {"deploy", "render", "--env", env, "--config", config};
  if (!extra.empty()) args.push_back(extra);
  std::map<std::string, std::string> vars = kNativeSecrets;
  vars["AWS_REGION"] = "eu-west-1";  // the AWS target kinds need one to load
  return RunCli(args, vars);
}

std::string RenderNative(const std::string& env, const std::string& extra = "") {
  auto r = RenderConfig(kNativeConfig, env, extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [var, value] : kNativeSecrets) {
    EXPECT_FALSE(Contains(r.out, value)) << var << " is in the output";
    EXPECT_FALSE(Contains(r.err, value)) << var << " is in a message";
  }
  return r.out;
}

std::string Errors(const std::vector<std::string>& errors) {
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  return all;
}

TEST(DeployRenderNative, EveryEnvironmentPassesTheChecks) {
  TemplateChecker checker;
  for (const std::string env : {"dev", "staging", "prod"}) {
    auto errors = checker.Check(RenderNative(env));
    EXPECT_TRUE(errors.empty()) << env << ":\n" << Errors(errors);
    RenderNative(env, "--params");  // checked for secrets
  }
}

TEST(DeployRenderNative, RuleTargetsAreWhatEventBridgeDeliversTo) {
  std::string t = RenderNative("prod");
  simdjson::dom::parser parser;
  element doc;
  ASSERT_EQ(parser.parse(t).get(doc), simdjson::SUCCESS);
  element resources = doc["Resources"];
  auto type_of = [&](const std::string& id) { return Str(resources[id]["Type"]); };
  std::map<std::string, element> targets;      // Id -> rule target
  std::map<std::string, std::string> rule_of;  // Id -> rule name
  for (auto [id, r] : resources.get_object()) {
    if (Str(r["Type"]) != "AWS::Events::Rule") continue;
    for (auto target : r["Properties"]["Targets"].get_array()) {
      targets[Str(target["Id"])] = target;
      rule_of[Str(target["Id"])] = Str(r["Properties"]["Name"]);
    }
  }
  ASSERT_EQ(targets.size(), 5u);
  for (const auto& [id, target] : targets) {
    EXPECT_EQ(Str(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"].at(0)), "BusDeadLetterQueue")
        << id;
  }
  // The one statement of a native target's role, after checking that only EventBridge may assume
  // it, from the target's rule only, and that it is the target's RoleArn.
  auto statement_of = [&](const std::string& id) -> element {
    std::string role = Str(targets[id]["RoleArn"]["Fn::GetAtt"].at(0));
    EXPECT_EQ(type_of(role), "AWS::IAM::Role") << id;
    EXPECT_EQ(Str(targets[id]["RoleArn"]["Fn::GetAtt"].at(1)), "Arn");
    element trust = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    EXPECT_EQ(trust.get_array().size(), 1u);
    EXPECT_EQ(Str(trust.at(0)["Principal"]["Service"]), "events.amazonaws.com");
    element sources = trust.at(0)["Condition"]["ArnEquals"]["aws:SourceArn"];
    EXPECT_EQ(sources.get_array().size(), 1u);
    EXPECT_EQ(Str(sources.at(0)["Fn::Sub"]),
              "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${EventBus}/" +
                  rule_of[id]);
    element policies = resources[role]["Properties"]["Policies"];
    EXPECT_EQ(policies.get_array().size(), 1u);
    element statements = policies.at(0)["PolicyDocument"]["Statement"];
    EXPECT_EQ(statements.get_array().size(), 1u);
    element st = statements.at(0);
    EXPECT_EQ(Str(st["Effect"]), "Allow");
    EXPECT_EQ(simdjson::minify(st["Resource"]), simdjson::minify(targets[id]["Arn"]))
        << id << ": the role's only resource is the target";
    return st;
  };
  auto actions = [](element st) {
    std::vector<std::string> out;
    for (auto a : st["Action"].get_array()) out.push_back(Str(a));
    return out;
  };
  using Actions = std::vector<std::string>;

  // Another account's bus: its ARN as the config has it, PutEvents on it only.
  EXPECT_EQ(Str(targets["partner-bus"]["Arn"]),
            "arn:aws:events:eu-west-1:210987654321:event-bus/partner-orders");
  EXPECT_EQ(actions(statement_of("partner-bus")), Actions{"events:PutEvents"});
  EXPECT_EQ(int64_t(targets["partner-bus"]["RetryPolicy"]["MaximumRetryAttempts"]), 9);
  EXPECT_EQ(int64_t(targets["partner-bus"]["RetryPolicy"]["MaximumEventAgeInSeconds"]), 3600);

  // The Kinesis stream: its ARN in the stack's account and region, PutRecord(s) on it only, the
  // change's deterministic id as the partition key.
  EXPECT_EQ(Str(targets["order-stream"]["Arn"]["Fn::Sub"]),
            "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/order-changes");
  EXPECT_EQ(actions(statement_of("order-stream")),
            (Actions{"kinesis:PutRecord", "kinesis:PutRecords"}));
  EXPECT_EQ(Str(targets["order-stream"]["KinesisParameters"]["PartitionKeyPath"]),
            "$.detail.metadata.eventId");

  // The http targets: an API destination each, with its connection, InvokeApiDestination on it
  // only, every credential a NoEcho parameter.
  auto destination_of = [&](const std::string& id) -> element {
    std::string destination = Str(targets[id]["Arn"]["Fn::GetAtt"].at(0));
    EXPECT_EQ(type_of(destination), "AWS::Events::ApiDestination") << id;
    EXPECT_EQ(actions(statement_of(id)), Actions{"events:InvokeApiDestination"});
    return resources[destination]["Properties"];
  };
  auto connection_of = [&](element destination) -> element {
    std::string connection = Str(destination["ConnectionArn"]["Fn::GetAtt"].at(0));
    EXPECT_EQ(type_of(connection), "AWS::Events::Connection");
    return resources[connection]["Properties"];
  };
  auto no_echo = [&](element value) {
    std::string ref = Str(value["Ref"]);
    element p;
    if (doc["Parameters"][ref].get(p) != simdjson::SUCCESS) return false;
    bool b = false;
    return p["NoEcho"].get(b) == simdjson::SUCCESS && b;
  };
  element api = destination_of("fulfilment-api");
  EXPECT_EQ(Str(api["InvocationEndpoint"]), "https://api.fulfilment.example/v2/events");
  EXPECT_EQ(Str(api["HttpMethod"]), "POST");
  EXPECT_EQ(int64_t(api["InvocationRateLimitPerSecond"]), 300);
  element c = connection_of(api);
  EXPECT_EQ(Str(c["AuthorizationType"]), "API_KEY");
  EXPECT_EQ(Str(c["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"]), "Authorization");
  EXPECT_TRUE(no_echo(c["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"]));
  element headers = c["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"];
  ASSERT_EQ(headers.get_array().size(), 2u);
  EXPECT_EQ(Str(headers.at(0)["Key"]), "X-Tenant-Secret");
  EXPECT_TRUE(no_echo(headers.at(0)["Value"]));
  EXPECT_TRUE(bool(headers.at(0)["IsValueSecret"]));
  EXPECT_EQ(Str(headers.at(1)["Key"]), "Content-Type");
  EXPECT_EQ(Str(headers.at(1)["Value"]), "application/json");
  EXPECT_EQ(int64_t(targets["fulfilment-api"]["RetryPolicy"]["MaximumRetryAttempts"]), 2);

  element legacy = destination_of("legacy-webhook");
  EXPECT_EQ(Str(legacy["InvocationEndpoint"]), "https://legacy.example/hooks/orders")
      << "neither the userinfo nor the query of the url";
  EXPECT_EQ(Str(legacy["HttpMethod"]), "PUT");
  c = connection_of(legacy);
  EXPECT_EQ(Str(c["AuthorizationType"]), "BASIC");
  EXPECT_TRUE(no_echo(c["AuthParameters"]["BasicAuthParameters"]["Username"]));
  EXPECT_TRUE(no_echo(c["AuthParameters"]["BasicAuthParameters"]["Password"]));
  element query = c["AuthParameters"]["InvocationHttpParameters"]["QueryStringParameters"];
  ASSERT_EQ(query.get_array().size(), 1u);
  EXPECT_EQ(Str(query.at(0)["Key"]), "token");
  EXPECT_TRUE(no_echo(query.at(0)["Value"]));

  // The file consumer is still an SQS queue, opened to its rule by the queue policy.
  EXPECT_EQ(Str(targets["archive"]["Arn"]["Fn::GetAtt"].at(0)), "ConsumerArchiveQueue");
  EXPECT_EQ(type_of("ConsumerArchiveQueue"), "AWS::SQS::Queue");
  element no_role;
  EXPECT_NE(targets["archive"]["RoleArn"].get(no_role), simdjson::SUCCESS);
  EXPECT_EQ(Str(resources["ConsumerArchiveQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
                    .at(0)["Condition"]["ArnEquals"]["aws:SourceArn"]
                    .at(0)["Fn::GetAtt"]
                    .at(0)),
            "RuleOrdersToStream");
  // The bus's dead-letter queue takes the failed deliveries of the rules, and only theirs.
  std::set<std::string> dlq_sources;
  for (auto source :
       resources["BusDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
           .at(0)["Condition"]["ArnEquals"]["aws:SourceArn"]
           .get_array()) {
    dlq_sources.insert(Str(source["Fn::GetAtt"].at(0)));
  }
  EXPECT_EQ(dlq_sources, (std::set<std::string>{"RuleOrdersToPartner", "RuleOrdersToStream",
                                                "RuleOrdersToWebhooks"}));
  // No queue for a native target.
  for (const char* queue : {"ConsumerPartnerBusQueue", "ConsumerOrderStreamQueue",
                            "ConsumerFulfilmentApiQueue", "ConsumerLegacyWebhookQueue"}) {
    EXPECT_EQ(type_of(queue), "") << queue;
  }
  // The five credentials, each a NoEcho parameter.
  size_t secrets = 0;
  for (auto [k, p] : doc["Parameters"].get_object()) {
    bool b = false;
    if (p["NoEcho"].get(b) == simdjson::SUCCESS && b) ++secrets;
  }
  EXPECT_EQ(secrets, kNativeSecrets.size());
}

TEST(DeployRenderNative, ParameterFilesLeaveTheSecretsOut) {
  simdjson::dom::parser parser;
  element t;
  std::string rendered = RenderNative("prod");
  ASSERT_EQ(parser.parse(rendered).get(t), simdjson::SUCCESS);
  std::set<std::string> expected;
  for (auto [k, p] : t["Parameters"].get_object()) {
    bool no_echo = false;
    if (p["NoEcho"].get(no_echo) != simdjson::SUCCESS || !no_echo) expected.insert(std::string(k));
  }
  simdjson::dom::parser params_parser;
  element params;
  std::string text = RenderNative("prod", "--params");
  ASSERT_EQ(params_parser.parse(text).get(params), simdjson::SUCCESS);
  std::set<std::string> given;
  for (auto p : params.get_array()) given.insert(Str(p["ParameterKey"]));
  EXPECT_EQ(given, expected) << "every parameter but the secrets";
}

TEST(DeployRenderNative, GoldenTemplate) {
  std::string golden_path = testing::SourcePath("tests/data/deploy/template-native-targets.json");
  std::string rendered = RenderNative("prod");
  if (std::getenv("CDC_UPDATE_GOLDEN") != nullptr) testing::WriteFile(golden_path, rendered);
  EXPECT_EQ(rendered, testing::ReadFile(golden_path))
      << "regenerate with CDC_UPDATE_GOLDEN=1 if the change is intended";
}

// The checker catches mistakes in native targets too.
TEST(DeployRenderNative, TheCheckerRejectsBrokenTemplates) {
  TemplateChecker checker;
  const std::string good = RenderNative("prod");
  ASSERT_TRUE(checker.Check(good).empty());
  auto broken = [&](const std::string& after, const std::string& from, const std::string& to,
                    const std::string& expect) {
    std::string t = good;
    size_t p = t.find(from, t.find(after));
    ASSERT_NE(p, std::string::npos) << from;
    t.replace(p, from.size(), to);
    std::string all = Errors(checker.Check(t));
    EXPECT_TRUE(Contains(all, expect)) << "after replacing " << from << ":\n" << all;
  };
  broken("", R"("kinesis:PutRecords")", R"("kinesis:DeleteStream")",
         "action kinesis:DeleteStream is not needed");
  broken("", R"("events:InvokeApiDestination")", R"("events:PutEvents")",
         "action events:PutEvents is not needed");
  broken(R"("events:PutEvents")",
         R"("Resource": "arn:aws:events:eu-west-1:210987654321:event-bus/partner-orders")",
         R"("Resource": "*")", "a statement on \"*\" instead of its target's");
  broken(R"("Lets EventBridge)", R"("aws:SourceArn")", R"("aws:SourceAccount")",
         "without an aws:SourceArn condition");
  broken(R"("Id": "order-stream")", R"("RoleArn")", R"("RoleArm")",
         "no RoleArn, and not an SQS queue");
  broken("", R"("NoEcho": true)", R"("NoEcho": false)", "a secret that is not a NoEcho parameter");
  broken("", R"("BasicAuthParameters")", R"("BasicAuthParameter")",
         "AuthParameters holds 0 of the properties of which it needs exactly one");
  broken("", R"("PartitionKeyPath")", R"("PartitionKey")",
         "KinesisParameters requires PartitionKeyPath");
  broken("", R"("ConnectionArn")", R"("Connection")", "required property ConnectionArn missing");
}

// What the template refuses to render, and an endpoint without credentials.
TEST(DeployRenderNative, RefusalsAndAnEndpointWithoutCredentials) {
  TempDir dir;
  auto config = [&](const std::string& targets) {
    std::string path = dir / "config.yaml";
    testing::WriteFile(path,
                       "pipeline: {name: shop, data_dir: " + dir.path() +
                           "}\n"
                           "bus: {name: shop-events, source: shop.db}\n"
                           "tables: {orders: {event_types: [INSERT], primary_key: [id]}}\n"
                           "rules: {all: {event_pattern: {source: [shop.db]}, targets: [t]}}\n"
                           "targets:\n  t: " +
                           targets + "\n");
    return path;
  };
  auto plain =
      RenderConfig(config("{type: http, url: \"http://hooks.example/x?token=plain-7a\"}"), "prod");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_TRUE(Contains(plain.err, "target 't'") && Contains(plain.err, "https://")) << plain.err;
  EXPECT_FALSE(Contains(plain.err, "plain-7a")) << "the url is never quoted";

  auto loop = RenderConfig(config("{type: eventbridge, bus_name: shop-events}"), "prod");
  EXPECT_EQ(loop.exit_code, 1);
  EXPECT_TRUE(Contains(loop.err, "the one its rules are on")) << loop.err;

  auto open = RenderConfig(config("{type: http, url: \"https://hooks.example/open\"}"), "prod");
  ASSERT_EQ(open.exit_code, 0) << open.err;
  TemplateChecker checker;
  auto errors = checker.Check(open.out);
  EXPECT_TRUE(errors.empty()) << Errors(errors);
  simdjson::dom::parser parser;
  element doc;
  ASSERT_EQ(parser.parse(open.out).get(doc), simdjson::SUCCESS);
  element c = doc["Resources"]["ConsumerTConnection"]["Properties"];
  EXPECT_EQ(Str(c["AuthorizationType"]), "API_KEY");
  EXPECT_EQ(Str(c["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"]), "X-Cdc-Pipeline");
  EXPECT_EQ(Str(c["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"]), "shop");
}

TEST(DeployRender, OutWritesTemplateAndParameters) {
  TempDir dir;
  std::map<std::string, std::map<std::string, std::string>> params;
  for (const std::string env : {"dev", "staging", "prod"}) {
    auto r = RunCli({"deploy", "render", "--env", env, "--out", dir.path()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(testing::ReadFile(dir / "template.json"), Render(env));
    std::string text = testing::ReadFile(dir / ("params-" + env + ".json"));
    EXPECT_EQ(text, Render(env, "--params"));
    simdjson::dom::parser parser;
    element doc;
    ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
    for (auto p : doc.get_array()) {
      params[env][Str(p["ParameterKey"])] = Str(p["ParameterValue"]);
    }
  }
  // Every parameter of the template is given, and only those.
  simdjson::dom::parser parser;
  element t;
  std::string prod_template = Render("prod");
  ASSERT_EQ(parser.parse(prod_template).get(t), simdjson::SUCCESS);
  std::set<std::string> declared;
  for (auto [k, v] : t["Parameters"].get_object()) declared.insert(std::string(k));
  for (const auto& [env, values] : params) {
    std::set<std::string> given;
    for (const auto& [k, v] : values) given.insert(k);
    EXPECT_EQ(given, declared) << env;
    EXPECT_EQ(values.at("Environment"), env);
    EXPECT_EQ(values.at("CodeS3Bucket"), "cdc-pipeline-artifacts-" + env);
  }
  EXPECT_EQ(params["dev"]["ShardCount"], "1");
  EXPECT_EQ(params["prod"]["ShardCount"], "4");
  EXPECT_NE(params["dev"]["MemorySize"], params["prod"]["MemorySize"]);
  EXPECT_NE(params["staging"]["IteratorAgeAlarmMs"], params["prod"]["IteratorAgeAlarmMs"]);
  EXPECT_EQ(params["dev"]["BatchSize"], std::to_string(deploy::kDefaultBatchSize));
}

TEST(DeployCli, HelpAndUsageErrors) {
  for (const std::vector<std::string>& help : {std::vector<std::string>{"deploy", "--help"},
                                               {"deploy", "render", "--help"},
                                               {"rollback", "--help"}}) {
    auto r = RunCli(help);
    EXPECT_EQ(r.exit_code, 0) << help[0];
    EXPECT_TRUE(Contains(r.out, "--env") || help.size() == 2) << r.out;
  }
  auto bad = RunCli({"deploy", "render", "--env", "production"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(Contains(bad.err, "--env")) << bad.err;
  EXPECT_TRUE(Contains(bad.err, "production")) << bad.err;
  EXPECT_TRUE(Contains(bad.err, "dev")) << bad.err;
  for (const std::vector<std::string>& usage :
       {std::vector<std::string>{"deploy"},
        {"deploy", "render"},
        {"rollback", "--env", "prod"},
        {"rollback", "--env", "qa", "--version", "previous"}}) {
    auto r = RunCli(usage);
    EXPECT_EQ(r.exit_code, 2) << usage.back() << "\n" << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

// A fake Lambda API: two functions, alias prod at version 3 (release v1.3.0), versions 1-3.
class FakeLambda {
 public:
  FakeLambda() : server_([this](size_t, const testing::HttpRequest& req) { return Answer(req); }) {}

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<testing::HttpRequest> requests() const { return server_.requests(); }
  std::vector<testing::HttpRequest> puts() const {
    std::vector<testing::HttpRequest> out;
    for (auto& r : requests()) {
      if (r.method == "PUT") out.push_back(r);
    }
    return out;
  }

 private:
  static testing::TestHttpServer::Answer Answer(const testing::HttpRequest& req) {
    const std::string base = "/2015-03-31/functions/";
    if (!req.path.starts_with(base)) return {404, R"({"Type":"User","Message":"no route"})"};
    std::string rest = req.path.substr(base.size());
    std::string fn = rest.substr(0, rest.find('/'));
    if (fn != "processUserChanges" && fn != "processOrderChanges") {
      return {404, R"({"Type":"User","Message":"Function not found: )" + fn + "\"}"};
    }
    if (req.method == "GET" && Contains(rest, "/aliases/prod")) {
      return {200, R"({"Name":"prod","FunctionVersion":"3","RevisionId":"rev-)" + fn + "\"}"};
    }
    if (req.method == "GET" && Contains(rest, "/versions")) {
      if (!Contains(rest, "Marker=")) {
        return {200, R"({"NextMarker":"page2","Versions":[{"Version":"$LATEST","Description":""},
                       {"Version":"1","Description":"v1.1.0"}]})"};
      }
      return {200, R"({"Versions":[{"Version":"2","Description":"v1.2.3"},
                                   {"Version":"3","Description":"v1.3.0"}]})"};
    }
    if (req.method == "PUT" && Contains(rest, "/aliases/prod")) {
      return {200, R"({"Name":"prod"})"};
    }
    return {404, R"({"Type":"User","Message":"Alias not found"})"};
  }

  testing::TestHttpServer server_;
};

std::map<std::string, std::string> LambdaEnv(const FakeLambda& lambda) {
  return {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
          {"AWS_SECRET_ACCESS_KEY", "secret"},
          {"AWS_REGION", "us-east-1"},
          {"AWS_ENDPOINT_URL_LAMBDA", lambda.url()}};
}

std::string Header(const testing::HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Rollback, PreviousMovesEveryAliasOneVersionBack) {
  FakeLambda lambda;
  auto r = RunCli({"rollback", "--env", "prod", "--version", "previous", "--function",
                   "processUserChanges", "--function", "processOrderChanges"},
                  LambdaEnv(lambda));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "processUserChanges: alias prod 3 -> 2 (v1.2.3)")) << r.err;
  auto puts = lambda.puts();
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].path, "/2015-03-31/functions/processUserChanges/aliases/prod");
  EXPECT_EQ(puts[0].body, R"({"FunctionVersion":"2","RevisionId":"rev-processUserChanges"})");
  EXPECT_EQ(puts[1].path, "/2015-03-31/functions/processOrderChanges/aliases/prod");
  for (const auto& req : lambda.requests()) {
    std::string auth = Header(req, "authorization");
    EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
    EXPECT_TRUE(Contains(auth, "/us-east-1/lambda/aws4_request")) << auth;
    EXPECT_EQ(Header(req, "x-amz-target"), "") << "Lambda is REST, not AWS JSON";
  }
}

TEST(Rollback, ReleaseVersionAndDryRun) {
  FakeLambda lambda;
  auto dry = RunCli({"rollback", "--env", "prod", "--version", "v1.1.0", "--dry-run", "--function",
                     "processUserChanges"},
                    LambdaEnv(lambda));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "aws lambda update-alias --function-name processUserChanges --name prod "
            "--function-version 1 --revision-id rev-processUserChanges\n");
  EXPECT_TRUE(lambda.puts().empty()) << "a dry run moves nothing";

  auto missing = RunCli(
      {"rollback", "--env", "prod", "--version", "v9.9.9", "--function", "processUserChanges"},
      LambdaEnv(lambda));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, "no version of release v9.9.9")) << missing.err;
  EXPECT_TRUE(Contains(missing.err, "v1.2.3")) << missing.err;
  EXPECT_TRUE(lambda.puts().empty());
}

TEST(Rollback, NothingMovesWhenOneFunctionCannotBeResolved) {
  FakeLambda lambda;
  // The shipped config's 12 functions: the fake knows two, so planning fails and nothing moves.
  auto r = RunCli({"rollback", "--env", "prod", "--version", "previous"}, LambdaEnv(lambda));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "nothing moved")) << r.err;
  EXPECT_TRUE(Contains(r.err, "not found")) << r.err;
  EXPECT_TRUE(lambda.puts().empty());
  auto unknown =
      RunCli({"rollback", "--env", "prod", "--version", "previous", "--function", "processNothing"},
             LambdaEnv(lambda));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(Contains(unknown.err, "processUserChanges")) << unknown.err;
}

}  // namespace
}  // namespace cdc
