// Model files and their use in the config: what a model file holds, every load error with the
// model file's name and line, a table's `model` (relative to the config file), the primary key
// from the model, PII fields that need a redaction rule, and the partition key.
#include <gtest/gtest.h>

#include "config/config.h"
#include "support/config_util.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::ErrorLines;
using testing::IsolatedEnv;
using testing::TempDir;

constexpr const char* kUsersModel = R"yaml(# a comment
table: users
schema: public
version: 2
description: Application users.
primary_key: [id]
fields:
  id:        {type: text, nullable: false}
  email:     {type: text, nullable: false, pii: email}
  logins:    int
  total:     {type: "numeric(12,2)", nullable: false}
  roles:     {type: "text[]", description: granted roles}
)yaml";

ModelLoadResult LoadModelText(const TempDir& dir, const std::string& text) {
  testing::WriteFile(dir / "m.yaml", text);
  return LoadModelFile(dir / "m.yaml", IsolatedEnv());
}

TEST(ModelFile, FieldsTypesAndDefaults) {
  TempDir dir;
  auto r = LoadModelText(dir, kUsersModel);
  ASSERT_TRUE(r.model) << ErrorLines(r.errors);
  const model::Model& m = *r.model;
  EXPECT_EQ(m.table, "users");
  EXPECT_EQ(m.version, 2u);
  EXPECT_EQ(m.description, "Application users.");
  EXPECT_EQ(m.primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(m.fields.size(), 5u);
  EXPECT_EQ(m.fields[1].name, "email");
  EXPECT_FALSE(m.fields[1].nullable);
  EXPECT_EQ(m.fields[1].pii, model::Pii::kEmail);
  EXPECT_EQ(model::FormatFieldType(m.fields[2].type), "integer");
  EXPECT_TRUE(m.fields[2].nullable);  // the default
  EXPECT_EQ(m.fields[2].pii, model::Pii::kNone);
  EXPECT_EQ(model::FormatFieldType(m.fields[3].type), "numeric(12,2)");
  EXPECT_EQ(m.fields[4].description, "granted roles");
  EXPECT_EQ(m.Label(), "users v2");
}

TEST(ModelFile, EveryErrorHasTheFileAndLine) {
  TempDir dir;
  auto r = LoadModelText(dir, R"yaml(table: users
version: 0
colour: blue
primary_key: [id, tenant]
fields:
  id: {type: txt, nullable: false}
  email: {type: text, pii: personal}
  phone: {type: text, nullable: maybe}
  note: {type: text, size: 3}
  nothing:
  tags: [a, b]
  age: "integer(4)"
)yaml");
  ASSERT_FALSE(r.model);
  std::string file = dir / "m.yaml";
  EXPECT_EQ(
      ErrorLines(r.errors),
      file +
          ":3:1: unknown key 'colour' in 'model' (allowed: table, schema, version, "
          "description, primary_key, fields)\n" +
          file + ":2:10: 'model.version' must be a whole number from 1 to 4294967294\n" + file +
          ":6:14: fields.id: type 'txt': unknown type; accepted: smallint, integer, bigint, "
          "numeric, real, double precision, boolean, text, character varying, character, name, "
          "citext, xml, uuid, json, jsonb, bytea, date, time without time zone, time with time "
          "zone, timestamp without time zone, timestamp with time zone, interval, inet, cidr; "
          "arrays as type[]\n" +
          file +
          ":7:28: 'fields.email.pii' is 'personal'; expected one of: none, email, phone, name, "
          "address, birth_date, ssn, card, bank_account, secret, ip, free_text\n" +
          file + ":8:33: 'fields.phone.nullable' must be true or false\n" + file +
          ":9:22: unknown key 'size' in 'fields.note' (allowed: type, nullable, pii, "
          "description)\n" +
          file +
          ":10:3: 'fields.nothing' must be a type (e.g. 'text') or a mapping with 'type', "
          "'nullable', 'pii'\n" +
          file +
          ":11:9: 'fields.tags' must be a type (e.g. 'text') or a mapping with 'type', "
          "'nullable', 'pii'\n" +
          file + ":12:8: fields.age: type 'integer(4)': integer takes no modifier\n" + file +
          ":4:14: 'model.primary_key' names 'tenant', which is not in 'model.fields'\n");
}

TEST(ModelFile, MissingPartsAndBadYaml) {
  TempDir dir;
  std::string file = dir / "m.yaml";
  EXPECT_EQ(ErrorLines(LoadModelText(dir, "table: users\n").errors),
            file + ":1:1: missing required key 'version' in 'model'\n" + file +
                ":1:1: missing required key 'fields' in 'model'\n");
  EXPECT_EQ(ErrorLines(LoadModelText(dir, "").errors), file + ":1:1: the model file is empty\n");
  EXPECT_EQ(ErrorLines(
                LoadModelText(dir, "table: users\nversion: 1\nfields: {a: text, a: int}\n").errors),
            file + ":3:19: duplicate field 'a' in 'model.fields'\n");
  auto bad = LoadModelText(dir, "table: [users\n");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_TRUE(bad.errors[0].ToString().starts_with(file + ":")) << bad.errors[0].ToString();
  EXPECT_NE(bad.errors[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(ErrorLines(LoadModelFile(dir / "none.yaml", IsolatedEnv()).errors),
            dir / "none.yaml" + ": cannot open the model file\n");
}

// A config in `dir` with one table `users` whose settings are `table_yaml`.
LoadResult LoadWithModel(const TempDir& dir, const std::string& table_yaml,
                         const std::string& model = kUsersModel) {
  testing::WriteFile(dir / "models/users.yaml", model);
  testing::WriteFile(dir / "config.yaml", "tables:\n  users:\n    event_types: [INSERT]\n" +
                                              table_yaml + testing::kRouteAllToStdout);
  return LoadConfig(dir / "config.yaml", IsolatedEnv());
}

TEST(TableModel, IsRelativeToTheConfigFileAndGivesThePrimaryKey) {
  TempDir dir;
  auto r = LoadWithModel(dir, R"(    model: models/users.yaml
    redact:
      email: mask:email
)");
  ASSERT_TRUE(r.config) << ErrorLines(r.errors);
  const TableConfig& t = r.config->tables[0];
  ASSERT_TRUE(t.model);
  EXPECT_EQ(t.model->version, 2u);
  EXPECT_EQ(t.model->file, dir / "models/users.yaml");
  EXPECT_EQ(t.model_path, "models/users.yaml");
  EXPECT_EQ(t.primary_key, std::vector<std::string>{"id"});

  auto tenant = LoadWithModel(dir, R"(    model: models/users.yaml
    redact: {email: mask:email}
)",
                              std::string(kUsersModel) + "  tenant: text\n");
  ASSERT_TRUE(tenant.config) << ErrorLines(tenant.errors);
}

TEST(TableModel, ErrorsNameTheTableAndTheModelFile) {
  TempDir dir;
  auto r = LoadWithModel(dir, R"(    model: models/users.yaml
    primary_key: [id, email]
)");
  std::string config = dir / "config.yaml";
  EXPECT_EQ(ErrorLines(r.errors),
            config +
                ":5:18: tables.users.primary_key differs from the model's primary_key in "
                "'models/users.yaml'\n" +
                config +
                ":4:12: tables.users: field 'email' is classified as PII (email) in "
                "'models/users.yaml', but 'tables.users.redact' has no rule for it; add one "
                "(e.g. 'email: hash', or detectors for free text), or classify it 'pii: none'\n");

  auto other = LoadWithModel(dir, "    model: models/users.yaml\n",
                             "table: orders\nversion: 1\nfields: {id: text}\n");
  EXPECT_EQ(ErrorLines(other.errors),
            config +
                ":4:12: tables.users.model: 'models/users.yaml' is the model of table "
                "'orders', not of 'users'\n");

  auto broken = LoadWithModel(dir, "    model: models/users.yaml\n",
                              "table: users\nversion: x\nfields: {}\n");
  EXPECT_EQ(ErrorLines(broken.errors),
            dir / "models/users.yaml" + ":2:10: 'model.version' must be a whole number >= 0\n" +
                dir / "models/users.yaml" + ":3:9: 'model.fields' must name at least one field\n" +
                config +
                ":4:12: tables.users.model: the model file 'models/users.yaml' has errors (listed "
                "with its name)\n");

  auto missing = LoadWithModel(dir, "    model: models/nope.yaml\n");
  EXPECT_EQ(ErrorLines(missing.errors),
            dir / "models/nope.yaml" + ": cannot open the model file\n" + config +
                ":4:12: tables.users.model: the model file 'models/nope.yaml' has errors (listed "
                "with its name)\n");
}

TEST(PartitionKey, NamesModelColumnsThatCarryAValue) {
  TempDir dir;
  auto ok = LoadWithModel(dir, R"(    model: models/users.yaml
    redact: {email: mask:email}
    partition_key: [email, id]
)");
  ASSERT_TRUE(ok.config) << ErrorLines(ok.errors);
  EXPECT_EQ(ok.config->tables[0].partition_key, (std::vector<std::string>{"email", "id"}));

  auto bad = LoadWithModel(dir, R"(    model: models/users.yaml
    redact: {email: remove}
    partition_key: [email, tenant, id, id]
)");
  std::string config = dir / "config.yaml";
  EXPECT_EQ(ErrorLines(bad.errors),
            config +
                ":6:20: tables.users.partition_key: column 'email' is redacted with 'remove', so "
                "it carries no value to partition by; use 'hash' to keep it stable without "
                "revealing it\n" +
                config +
                ":6:20: tables.users.partition_key: column 'tenant' is not in the model "
                "'models/users.yaml'\n" +
                config + ":6:20: tables.users.partition_key: column 'id' is named twice\n");

  auto empty = testing::LoadYaml(std::string(R"(tables:
  users:
    event_types: [INSERT]
    partition_key: []
)") + testing::kRouteAllToStdout);
  EXPECT_EQ(ErrorLines(empty.errors),
            "test.yaml:4:20: 'tables.users.partition_key' must name at least one column\n");
}

}  // namespace
}  // namespace cdc
