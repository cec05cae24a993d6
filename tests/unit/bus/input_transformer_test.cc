#include "bus/input_transformer.h"

#include <gtest/gtest.h>

#include <string>

namespace cdc {
namespace {

constexpr std::string_view kEvent =
    R"({"version":"0","id":"e1","detail-type":"users.UPDATE","source":"cdc.coredb",)"
    R"("account":"000000000000","time":"2024-01-15T10:30:00Z","region":"local","resources":[],)"
    R"("detail":{"eventType":"UPDATE","tableName":"users","after":{"id":42,"status":"active",)"
    R"("name":"Ann \"A\" Lee","score":1.5,"vip":true,"notes":null,"tags":["a","b"],)"
    R"("address":{"city":"Oslo","zip":"0150"}},"changedFields":["status"]}})";

const InputTransformer::Rule kRule{
    "user-updates", "arn:aws:events:local:000000000000:rule/cdc-events/user-updates"};

std::string Apply(const InputSpec& spec, std::string_view event = kEvent) {
  auto t = InputTransformer::Compile(spec, kRule);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return "<compile error>";
  EventDocument doc;
  Status s = doc.Parse(event);
  EXPECT_TRUE(s.ok()) << s.message();
  std::string out;
  (*t)->Apply(doc, out);
  return out;
}

InputSpec Template(std::vector<std::pair<std::string, std::string>> paths, std::string tmpl) {
  InputSpec spec;
  spec.input_paths_map = std::move(paths);
  spec.input_template = std::move(tmpl);
  return spec;
}

std::string FirstError(const InputSpec& spec) {
  auto errors = ValidateInputSpec(spec);
  return errors.empty() ? "" : errors[0].field + ": " + errors[0].message;
}

TEST(InputTransformer, ConstantInputIsSentMinified) {
  InputSpec spec;
  spec.input = "{\n  \"hello\": \"world\",\n  \"n\": [1, 2]\n}";
  EXPECT_EQ(Apply(spec), R"({"hello":"world","n":[1,2]})");
}

TEST(InputTransformer, InputPathSelectsPartOfTheEvent) {
  InputSpec spec;
  spec.input_path = "$.detail.after.address";
  EXPECT_EQ(Apply(spec), R"({"city":"Oslo","zip":"0150"})");
  spec.input_path = "$.detail.after.status";
  EXPECT_EQ(Apply(spec), R"("active")");
  spec.input_path = "$";
  EXPECT_EQ(Apply(spec), std::string(kEvent));
  spec.input_path = "$.detail.missing";
  EXPECT_EQ(Apply(spec), "null");
}

TEST(InputTransformer, PlaceholderOutsideQuotesInsertsTheJsonValue) {
  auto spec = Template({{"id", "$.detail.after.id"},
                        {"status", "$.detail.after.status"},
                        {"vip", "$.detail.after.vip"},
                        {"notes", "$.detail.after.notes"},
                        {"tags", "$.detail.after.tags"},
                        {"address", "$.detail.after.address"}},
                       R"({"id": <id>, "status": <status>, "vip": <vip>, "notes": <notes>,
                           "tags": <tags>, "address": <address>})");
  EXPECT_EQ(Apply(spec), R"({"id":42,"status":"active","vip":true,"notes":null,"tags":["a","b"],)"
                         R"("address":{"city":"Oslo","zip":"0150"}})");
}

TEST(InputTransformer, PlaceholderInsideQuotesInsertsStringText) {
  auto spec = Template({{"id", "$.detail.after.id"},
                        {"status", "$.detail.after.status"},
                        {"name", "$.detail.after.name"},
                        {"address", "$.detail.after.address"},
                        {"tags", "$.detail.after.tags"}},
                       R"({"msg": "user <id> is <status>", "name": "<name>",)"
                       R"( "where": "<address>", "tags": "<tags>"})");
  // Strings go in as they are inside the event's quotes (still escaped); objects and arrays
  // lose their quotes, as in EventBridge.
  EXPECT_EQ(Apply(spec), R"({"msg":"user 42 is active","name":"Ann \"A\" Lee",)"
                         R"("where":"{city:Oslo,zip:0150}","tags":"[a,b]"})");
}

TEST(InputTransformer, MissingPathsAreNullOrEmpty) {
  auto spec = Template({{"gone", "$.detail.after.nope"}, {"deep", "$.detail.x.y.z"}},
                       R"({"a": <gone>, "b": "[<deep>]"})");
  EXPECT_EQ(Apply(spec), R"({"a":null,"b":"[]"})");
}

TEST(InputTransformer, NestedPathsArrayIndexesAndWildcards) {
  auto spec = Template({{"city", "$.detail.after.address.city"},
                        {"first", "$.detail.after.tags[0]"},
                        {"second", "$['detail']['after']['tags'][1]"},
                        {"out", "$.detail.after.tags[5]"},
                        {"all", "$.detail.after.tags[*]"},
                        {"values", "$.detail.after.address.*"},
                        {"dashed", "$.detail-type"}},
                       R"({"c": <city>, "f": <first>, "s": <second>, "o": <out>, "a": <all>,)"
                       R"( "v": <values>, "t": "<dashed>"})");
  EXPECT_EQ(Apply(spec),
            R"({"c":"Oslo","f":"a","s":"b","o":null,"a":["a","b"],"v":["Oslo","0150"],)"
            R"("t":"users.UPDATE"})");
}

TEST(InputTransformer, PredefinedVariables) {
  auto spec = Template({}, R"({"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>",)"
                           R"( "at": "<aws.events.event.ingestion-time>",)"
                           R"( "event": <aws.events.event.json>})");
  EXPECT_EQ(Apply(spec), R"({"rule":"user-updates","arn":")" + kRule.arn +
                             R"(","at":"2024-01-15T10:30:00Z","event":)" + std::string(kEvent) +
                             "}");
  auto no_detail = Template({}, R"({"e": <aws.events.event>})");
  EXPECT_EQ(Apply(no_detail),
            R"({"e":{"version":"0","id":"e1","detail-type":"users.UPDATE","source":"cdc.coredb",)"
            R"("account":"000000000000","time":"2024-01-15T10:30:00Z","region":"local",)"
            R"("resources":[]}})");
}

TEST(InputTransformer, PlainTextTemplate) {
  auto spec = Template({{"id", "$.detail.after.id"},
                        {"status", "$.detail.after.status"},
                        {"address", "$.detail.after.address"}},
                       R"(user <id> is in state "<status>" at <address> (<aws.events.rule-name>))");
  EXPECT_EQ(Apply(spec),
            R"(user 42 is in state "active" at {"city":"Oslo","zip":"0150"} (user-updates))");
}

TEST(InputTransformer, JsonStringTemplate) {
  auto spec = Template({{"id", "$.detail.after.id"}}, R"("user <id> changed")");
  EXPECT_EQ(Apply(spec), R"("user 42 changed")");
}

TEST(InputTransformer, SameEventSameOutput) {
  auto spec = Template({{"id", "$.detail.after.id"}},
                       R"({"id": <id>, "at": "<aws.events.event.ingestion-time>"})");
  EXPECT_EQ(Apply(spec), Apply(spec));
}

TEST(InputTransformer, ValidationErrors) {
  InputSpec both;
  both.input = "{}";
  both.input_path = "$.detail";
  EXPECT_EQ(FirstError(both), "input_path: 'input' and 'input_path' cannot both be set");

  InputSpec bad_input;
  bad_input.input = "{nope";
  EXPECT_TRUE(FirstError(bad_input).starts_with("input: not valid JSON")) << FirstError(bad_input);

  InputSpec bad_path;
  bad_path.input_path = "detail.x";
  EXPECT_EQ(FirstError(bad_path),
            "input_path: 'detail.x' is not a valid JSONPath: it must start with '$'");
  bad_path.input_path = "$.detail[x]";
  EXPECT_TRUE(FirstError(bad_path).starts_with("input_path: '$.detail[x]' is not a valid"));

  EXPECT_EQ(FirstError(Template({{"id", "$.a"}}, "<id> <other>")),
            "input_template: unknown placeholder <other>: it is neither in input_paths_map nor "
            "predefined (aws.events.event, aws.events.event.json, aws.events.rule-name, "
            "aws.events.rule-arn, aws.events.event.ingestion-time)");
  EXPECT_EQ(FirstError(Template({{"aws.x", "$.a"}}, "<aws.x>")),
            "input_paths_map.aws.x: names starting with 'aws.' are reserved");
  EXPECT_EQ(FirstError(Template({{"a b", "$.a"}}, "x")),
            "input_paths_map.a b: 'a b' is not a valid name (letters, digits, '_' and '-' only)");
  EXPECT_EQ(FirstError(Template({{"id", "$.a"}}, R"({"<id>": 1})")),
            "input_template: a placeholder cannot be used as an object key");
  EXPECT_EQ(FirstError(Template({}, R"({"e": "x <aws.events.event.json>"})")),
            "input_template: <aws.events.event.json> can only be the value of a JSON field, not "
            "part of a string");
  EXPECT_TRUE(FirstError(Template({{"id", "$.a"}}, R"({"id": <id>,})"))
                  .starts_with("input_template: a template starting with '{', '[' or '\"' must "
                               "be JSON"));
  InputSpec no_template;
  no_template.input_paths_map = {{"id", "$.a"}};
  EXPECT_EQ(FirstError(no_template), "input_template: 'input_paths_map' needs an 'input_template'");

  InputSpec mixed = Template({}, "x");
  mixed.input = "{}";
  EXPECT_EQ(FirstError(mixed),
            "input_transformer: 'input_transformer' cannot be combined with "
            "'input'");

  InputSpec many;
  for (int i = 0; i <= 100; ++i) many.input_paths_map.push_back({"v" + std::to_string(i), "$.a"});
  many.input_template = "x";
  EXPECT_EQ(FirstError(many), "input_paths_map: at most 100 paths are allowed; there are 101");

  auto compiled = InputTransformer::Compile(bad_path, kRule);
  EXPECT_FALSE(compiled.ok());
}

TEST(InputTransformer, PredefinedStringsAreEscaped) {
  auto t = InputTransformer::Compile(
      Template({}, R"({"a": <aws.events.rule-name>, "b": "x <aws.events.rule-name>"})"),
      {"odd \"rule\"", "arn"});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EventDocument doc;
  ASSERT_TRUE(doc.Parse(kEvent).ok());
  std::string out;
  (*t)->Apply(doc, out);
  EXPECT_EQ(out, R"({"a":"odd \"rule\"","b":"x odd \"rule\""})");
}

TEST(InputTransformer, RuleArn) {
  EXPECT_EQ(RuleArn("local", "000000000000", "cdc-events", "r1"),
            "arn:aws:events:local:000000000000:rule/cdc-events/r1");
}

}  // namespace
}  // namespace cdc
