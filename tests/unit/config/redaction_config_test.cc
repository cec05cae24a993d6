// The redaction settings in the config: per-table `redact` rules (short and long form),
// `redact_at` and its default, the `redaction` section (enabled, keys, active_key), and that
// every mistake is reported at load with its file:line, while missing key material is reported
// only by the semantic checks (validate-config, health-check, run), by name and never by value.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"
#include "runtime/pipeline.h"
#include "support/config_util.h"

namespace cdc {
namespace {

using testing::ErrorLines;
using testing::LoadYaml;

LoadResult Load(const std::string& yaml, std::map<std::string, std::string> vars = {}) {
  return LoadYaml(yaml, std::move(vars));
}

std::string AllErrors(const std::vector<ConfigError>& errors) { return ErrorLines(errors); }

const char* kTail = testing::kRouteAllToStdout;

TEST(RedactionConfig, ShortAndLongFormsAndDefaults) {
  auto r = Load(std::string(R"(redaction:
  keys:
    k1: env:REDACTION_CONFIG_TEST_KEY
tables:
  users:
    event_types: [INSERT]
    pii: personal
    redact:
      email: mask:email
      phone: hash
      notes: {rule: hash, detect: [email, phone]}
      bio: {detect: [card, ssn, ip]}
  products:
    event_types: [INSERT]
    redact:
      description: {detect: [email]}
  events:
    event_types: [INSERT]
    pii: personal
    redact_at: processor
)") + kTail);
  ASSERT_TRUE(r.config) << AllErrors(r.errors);
  const Config& c = *r.config;
  EXPECT_TRUE(c.redaction.enabled);
  ASSERT_EQ(c.redaction.keys.size(), 1u);
  EXPECT_EQ(c.redaction.keys[0].id, "k1");
  EXPECT_EQ(c.redaction.keys[0].source, "env:REDACTION_CONFIG_TEST_KEY");
  EXPECT_EQ(c.redaction.active_key, "k1");  // the first key by default

  const TableConfig* users = c.FindTable("public", "users");
  ASSERT_EQ(users->redact.size(), 4u);
  EXPECT_EQ(users->redact_at, "capture");  // pii is not none
  EXPECT_EQ(users->redact[0].column, "email");
  EXPECT_EQ(users->redact[0].rule, "mask:email");
  EXPECT_EQ(users->redact[2].column, "notes");
  EXPECT_EQ(users->redact[2].rule, "hash");
  EXPECT_EQ(users->redact[2].detect, (std::vector<std::string>{"email", "phone"}));
  EXPECT_EQ(users->redact[3].rule, "");
  EXPECT_EQ(users->redact[3].where.line, 12);
  EXPECT_EQ(c.FindTable("public", "products")->redact_at, "capture");  // the default
  EXPECT_EQ(c.FindTable("public", "events")->redact_at, "processor");  // explicit
}

TEST(RedactionConfig, EnabledFollowsTheOriginalsFeatureFlag) {
  std::string yaml = std::string(R"(redaction:
  enabled: ${ENABLE_PII_REDACTION:-true}
tables:
  users: {event_types: [INSERT], redact: {email: mask:email}}
)") + kTail;
  auto on = Load(yaml);
  ASSERT_TRUE(on.config) << AllErrors(on.errors);
  EXPECT_TRUE(on.config->redaction.enabled);
  auto off = Load(yaml, {{"ENABLE_PII_REDACTION", "false"}});
  ASSERT_TRUE(off.config) << AllErrors(off.errors);
  EXPECT_FALSE(off.config->redaction.enabled);
  auto bad = Load(yaml, {{"ENABLE_PII_REDACTION", "no"}});
  EXPECT_NE(AllErrors(bad.errors).find("test.yaml:2:12: 'redaction.enabled' must be true or false"),
            std::string::npos)
      << AllErrors(bad.errors);
}

TEST(RedactionConfig, EveryBadRuleIsReportedWithItsLine) {
  auto r = Load(std::string(R"(redaction:
  keys:
    k1: env:SOME_KEY
    "bad id": env:X
    k3: the-key-itself
  active_key: k9
tables:
  users:
    event_types: [INSERT]
    redact:
      email: maskk:email
      phone: {detect: [email, passport]}
      bio: {rule: remove, detect: [email]}
      name: {colour: red}
      id: remove
      age: [1, 2]
      city: truncate:0
)") + kTail);
  ASSERT_FALSE(r.config);
  std::string all = AllErrors(r.errors);
  EXPECT_NE(all.find("test.yaml:4:5: 'redaction.keys.bad id': a key id is"), std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:5:9: 'redaction.keys.k3' must be env:VARIABLE, "
                     "file:/path/to/secret or generate:/path/to/secret"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("the-key-itself"), std::string::npos) << "a pasted key is never echoed";
  EXPECT_NE(all.find("test.yaml:6:15: 'redaction.active_key' is 'k9', which is not one of"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:11:14: tables.users.redact: column 'email': redaction rule "
                     "'maskk:email'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:12:"), std::string::npos) << all;
  EXPECT_NE(all.find("'tables.users.redact.phone.detect' has 'passport'; expected any of: email, "
                     "card, phone, ssn, ip"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:13:12: tables.users.redact: column 'bio': detectors can only be "
                     "combined with 'hash' or 'mask', not 'remove'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:14:14: unknown key 'colour' in 'tables.users.redact.name'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:15:11: tables.users.redact: column 'id' is part of the primary "
                     "key"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:16:12: 'tables.users.redact.age' must be a rule"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:17:13: tables.users.redact: column 'city':"), std::string::npos)
      << all;
  EXPECT_EQ(r.errors.size(), 10u) << all;
}

TEST(RedactionConfig, HashWithoutAnyKeyIsAnErrorAtLoad) {
  auto r = Load(std::string(R"(tables:
  users:
    event_types: [INSERT]
    redact:
      phone: hash
      notes: {rule: hash, detect: [phone]}
)") + kTail);
  ASSERT_FALSE(r.config);
  std::string all = AllErrors(r.errors);
  EXPECT_NE(all.find("test.yaml:5:14: tables.users.redact: column 'phone': 'hash' needs an HMAC "
                     "key, and 'redaction.keys' is empty"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:6:14: tables.users.redact: column 'notes': 'hash' needs"),
            std::string::npos)
      << all;
}

// The shipped config must load on a machine without secrets; the key is needed to start.
TEST(RedactionConfig, MissingKeyMaterialIsReportedByValidationNotByLoad) {
  std::string dir = ::testing::TempDir();
  std::string yaml = std::string(R"(redaction:
  keys:
    k1: env:REDACTION_CONFIG_TEST_UNSET
    k2: file:)") + dir +
                     R"(/no-such-key-file
    k3: env:REDACTION_CONFIG_TEST_SHORT
tables:
  users: {event_types: [INSERT], redact: {phone: hash}}
)" + kTail;
  ::unsetenv("REDACTION_CONFIG_TEST_UNSET");
  ::setenv("REDACTION_CONFIG_TEST_SHORT", "tiny-secret", 1);
  auto r = Load(yaml);
  ASSERT_TRUE(r.config) << AllErrors(r.errors);
  std::string all = AllErrors(ValidateSemantics(*r.config));
  EXPECT_NE(all.find("test.yaml:3:5: redaction.keys.k1: environment variable "
                     "REDACTION_CONFIG_TEST_UNSET is not set or empty; create a key with: export "
                     "REDACTION_CONFIG_TEST_UNSET=\"$(openssl rand -hex 32)\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:4:5: redaction.keys.k2: cannot open secret file '" + dir +
                     "/no-such-key-file'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("openssl rand -hex 32 > " + dir + "/no-such-key-file"), std::string::npos)
      << all;
  EXPECT_NE(all.find("test.yaml:5:5: redaction.keys.k3: key 'k3' is 11 bytes; use at least 16"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("tiny-secret"), std::string::npos) << "key material is never printed";
  auto pipeline = Pipeline::Build(r.config);
  ASSERT_FALSE(pipeline.ok());
  EXPECT_NE(pipeline.status().message().find("REDACTION_CONFIG_TEST_UNSET"), std::string::npos);

  // With redaction disabled, no key is read.
  auto off = Load(yaml + "\n", {});
  auto disabled = std::make_shared<Config>(*off.config);
  disabled->redaction.enabled = false;
  EXPECT_TRUE(ValidateSemantics(*disabled).empty()) << AllErrors(ValidateSemantics(*disabled));
  ::unsetenv("REDACTION_CONFIG_TEST_SHORT");
}

}  // namespace
}  // namespace cdc
