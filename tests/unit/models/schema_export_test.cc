// `models export --format jsonschema`: the schema of a table's event detail is well-formed JSON
// with the draft 2020-12 structure, describes the model's fields in their JSON forms, and
// follows the redaction policy and the transforms, so it describes what consumers receive.
#include "process/schema_export.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "event/event_json.h"
#include "support/config_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::ErrorLines;

// A parsed schema document; `At("/properties/x")` is the minified JSON at a JSON pointer, or ""
// when there is nothing there.
class Doc {
 public:
  explicit Doc(const std::string& json) : json_(json) {
    EXPECT_EQ(parser_.parse(json_).get(root_), simdjson::SUCCESS) << json;
  }
  std::string At(std::string_view pointer) {
    simdjson::dom::element e;
    if (root_.at_pointer(pointer).get(e) != simdjson::SUCCESS) return "";
    return simdjson::minify(e);
  }

 private:
  std::string json_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

std::shared_ptr<const Config> LoadIn(const testing::TempDir& dir, const std::string& tables) {
  testing::WriteFile(dir / "users.yaml", R"yaml(table: users
version: 3
description: People.
primary_key: [id]
fields:
  id: {type: bigint, nullable: false}
  email: {type: text, nullable: false, pii: email}
  phone: {type: text, pii: phone}
  card: {type: text, pii: card}
  born: {type: date, pii: birth_date}
  balance: {type: "numeric(12,2)", nullable: false}
  code: {type: "character(3)"}
  profile: jsonb
  tags: {type: "text[]", nullable: false}
  ref: uuid
  seen_at: timestamptz
)yaml");
  testing::WriteFile(dir / "config.yaml", "redaction: {keys: {k1: env:K}}\ntables:\n" + tables +
                                              testing::kRouteAllToStdout);
  auto r = LoadConfig(dir / "config.yaml", testing::IsolatedEnv());
  EXPECT_TRUE(r.config) << ErrorLines(r.errors);
  return r.config;
}

constexpr const char* kUsers = R"(  users:
    event_types: [INSERT, DELETE]
    model: users.yaml
    redact:
      email: mask:email
      phone: hash
      card: remove
      born: generalize:year
)";

TEST(SchemaExport, IsADraft202012SchemaOfTheDetail) {
  testing::TempDir dir;
  auto config = LoadIn(dir, kUsers);
  ASSERT_TRUE(config);
  auto schema = DetailJsonSchema(*config, config->tables[0]);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_TRUE(IsValidJson(*schema));
  EXPECT_EQ(SchemaFileName(config->tables[0]), "users.schema.json");
  Doc d(*schema);
  EXPECT_EQ(d.At("/$schema"), R"("https://json-schema.org/draft/2020-12/schema")");
  EXPECT_EQ(d.At("/$id"), R"("urn:cdc-pipeline:coredb:users:detail")");
  EXPECT_EQ(d.At("/type"), R"("object")");
  EXPECT_EQ(d.At("/required"), R"(["eventType","tableName","timestamp","metadata"])");
  EXPECT_EQ(d.At("/additionalProperties"), "false");
  EXPECT_EQ(d.At("/properties/eventType"),
            R"({"enum":["INSERT","DELETE","READ","SCHEMA_CHANGE"]})");
  EXPECT_EQ(d.At("/properties/columns/$ref"), R"("#/$defs/columns")");
  EXPECT_EQ(d.At("/properties/changes/required"), R"(["added","dropped","renamed","retyped"])");
  EXPECT_EQ(d.At("/allOf/2/then/required"), R"(["columns","previousColumns","changes"])");
  EXPECT_EQ(d.At("/properties/tableName"), R"({"const":"users"})");
  EXPECT_EQ(d.At("/properties/before"), R"({"$ref":"#/$defs/row"})");
  EXPECT_EQ(d.At("/properties/after"), R"({"$ref":"#/$defs/row"})");
  EXPECT_EQ(d.At("/properties/changedFields/items"), R"({"type":"string"})");
  EXPECT_EQ(d.At("/properties/redacted/items"), R"({"enum":["born","card","email","phone"]})");
  EXPECT_EQ(d.At("/properties/metadata/properties/schemaVersion/enum"), "[3,4]");
  EXPECT_EQ(d.At("/properties/metadata/properties/pipeline"), R"({"const":"coredb"})");
  EXPECT_EQ(d.At("/properties/metadata/required"), R"(["pipeline","schemaVersion"])");
  EXPECT_EQ(d.At("/allOf/0/then/required"), R"(["after"])");
  EXPECT_EQ(d.At("/allOf/1/if/properties/eventType"), R"({"const":"DELETE"})");
  EXPECT_EQ(d.At("/allOf/1/then/required"), R"(["before"])");
  EXPECT_NE(d.At("/description").find("model users v3 (users.yaml), redacted. People."),
            std::string::npos);
}

TEST(SchemaExport, FieldsInTheirJsonFormsAfterRedaction) {
  testing::TempDir dir;
  auto config = LoadIn(dir, kUsers);
  ASSERT_TRUE(config);
  Doc d(*DetailJsonSchema(*config, config->tables[0]));
  std::string row = "/$defs/row";
  EXPECT_EQ(d.At(row + "/required"), R"(["id"])");
  EXPECT_EQ(d.At(row + "/additionalProperties"), "true");  // added nullable columns
  EXPECT_EQ(d.At(row + "/properties/id"),
            R"({"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807,)"
            R"("x-postgresql-type":"bigint"})");
  EXPECT_EQ(d.At(row + "/properties/email"), R"({"type":"string"})");  // masked
  EXPECT_EQ(d.At(row + "/properties/phone"),
            R"({"type":["string","null"],"pattern":"^hmac:[A-Za-z0-9_.-]+:[0-9a-f]{64}$"})");
  EXPECT_EQ(d.At(row + "/properties/card"), "");  // removed
  EXPECT_EQ(d.At(row + "/properties/born"), R"({"type":["string","null"]})");
  EXPECT_EQ(d.At(row + "/properties/balance"),
            R"({"anyOf":[{"type":"number"},{"type":"string","pattern":)"
            R"x("^(-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?|NaN|-?Infinity)$"}],)x"
            R"x("x-postgresql-type":"numeric(12,2)"})x");
  EXPECT_EQ(d.At(row + "/properties/code"),
            R"x({"type":["string","null"],"maxLength":3,"x-postgresql-type":"character(3)"})x");
  EXPECT_EQ(d.At(row + "/properties/profile"),
            R"({"description":"any JSON value","x-postgresql-type":"jsonb"})");
  EXPECT_EQ(d.At(row + "/properties/tags"),
            R"({"type":"array","items":{"type":["string","null"],"x-postgresql-type":"text"},)"
            R"("x-postgresql-type":"text[]"})");
  EXPECT_EQ(d.At(row + "/properties/ref"),
            R"({"type":["string","null"],"format":"uuid","x-postgresql-type":"uuid"})");
  EXPECT_EQ(d.At(row + "/properties/seen_at"),
            R"({"type":["string","null"],"format":"date-time",)"
            R"("x-postgresql-type":"timestamp with time zone"})");
}

TEST(SchemaExport, FollowsTheTransforms) {
  testing::TempDir dir;
  auto config = LoadIn(dir, std::string(kUsers) + R"(    transforms:
      - rename: {email: contact, id: user_id}
      - cast: {balance: double}
      - drop: [tags]
      - flatten: profile
      - set: {column: source, value: coredb}
      - set: {column: contact_copy, from: contact}
)");
  ASSERT_TRUE(config);
  Doc d(*DetailJsonSchema(*config, config->tables[0]));
  std::string row = "/$defs/row";
  EXPECT_EQ(d.At(row + "/required"), R"(["user_id"])");
  EXPECT_EQ(d.At(row + "/properties/id"), "");
  EXPECT_EQ(d.At(row + "/properties/contact"), R"({"type":"string"})");
  EXPECT_EQ(d.At(row + "/properties/contact_copy"), R"({"type":"string"})");
  EXPECT_EQ(d.At(row + "/properties/balance"),
            R"({"anyOf":[{"type":"number"},{"enum":["NaN","Infinity","-Infinity"]}]})");
  EXPECT_EQ(d.At(row + "/properties/tags"), "");
  EXPECT_EQ(d.At(row + "/properties/profile"), "");
  EXPECT_EQ(d.At(row + "/patternProperties"), R"({"^profile\\.":{}})");
  EXPECT_EQ(d.At(row + "/properties/source"), R"({"const":"coredb"})");
  EXPECT_EQ(d.At("/properties/redacted/items"),
            R"({"enum":["born","card","contact","contact_copy","phone"]})");
  EXPECT_NE(d.At("/description").find("redacted, transformed."), std::string::npos);
}

TEST(SchemaExport, WithoutAModelOrRedactionTheRowsAreOpen) {
  testing::TempDir dir;
  auto config = LoadIn(dir, R"(  notes:
    event_types: [INSERT]
    schema: crm
)");
  ASSERT_TRUE(config);
  Doc d(*DetailJsonSchema(*config, config->tables[0]));
  EXPECT_EQ(SchemaFileName(config->tables[0]), "crm.notes.schema.json");
  EXPECT_EQ(d.At("/properties/tableName"), R"({"const":"crm.notes"})");
  EXPECT_EQ(d.At("/$defs/row"), R"({"type":"object","additionalProperties":true})");
  EXPECT_EQ(d.At("/properties/redacted"), "");
  EXPECT_EQ(d.At("/properties/metadata/properties/schemaVersion"),
            R"({"type":"integer","minimum":1})");
}

TEST(SchemaExport, PrettyJsonKeepsTheValue) {
  std::string pretty = PrettyJson(R"({"a":[1,{"b":"x,y:{z}\"q"}],"c":{},"d":[]})");
  EXPECT_EQ(pretty,
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,y:{z}\\\"q\"\n    }\n  ],\n"
            "  \"c\": {},\n  \"d\": []\n}\n");
  EXPECT_EQ(*MinifyJson(pretty), R"({"a":[1,{"b":"x,y:{z}\"q"}],"c":{},"d":[]})");
}

}  // namespace
}  // namespace cdc
