// The Redactor on whole rows: every rule on realistic columns, detectors in text, JSON and
// arrays, the redacted-column list for detail.redacted, change events, policy errors, and that
// nothing it says or leaves behind contains the values it redacts.
#include "process/redact/redactor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/time.h"
#include "event/event_json.h"
#include "event/json_writer.h"

namespace cdc::redact {
namespace {

const std::string kKey1 = "k1-secret-0123456789abcdef";
const std::string kKey2 = "k2-secret-fedcba9876543210";

std::shared_ptr<const KeyRing> Keys(std::string_view active = "k1") {
  auto r = KeyRing::FromSecrets({{"k1", kKey1}, {"k2", kKey2}}, active);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::make_shared<const KeyRing>(std::move(r).value());
}

ColumnRule Col(std::string column, std::string_view rule, std::vector<std::string> detect = {}) {
  ColumnRule c;
  c.column = std::move(column);
  auto r = ParseRule(rule);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (r.ok()) c.rule = *r;
  auto d = ParseDetectors(detect);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (d.ok()) c.detect = *d;
  return c;
}

Redactor Build(std::vector<ColumnRule> columns, std::shared_ptr<const KeyRing> keys = Keys()) {
  TablePolicy p{"users", std::move(columns)};
  auto r = Redactor::Build(p, std::move(keys));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::string Token(std::string_view text, std::string_view key_id = "k1") {
  return *Keys()->Token(key_id, text);
}

Row UsersRow() {
  Row row;
  row.Add("id", Value::Int64(42));
  row.Add("email", Value::Text("jane.doe@example.com"));
  row.Add("name", Value::Text("Jane Doe"));
  row.Add("phone", Value::Text("+1 415 555 2671"));
  row.Add("ssn", Value::Text("078-05-1120"));
  row.Add("birth_date", Value::Date(DaysFromCivil(1990, 5, 17)));
  row.Add("salary", Value::Decimal("83250.00"));
  row.Add("bio", Value::Text("Zoë Ångström, Stockholm"));
  row.Add("password_hash", Value::Text("$2b$12$abcdefghijk"));
  row.Add("status", Value::Text("active"));
  return row;
}

TEST(Redactor, AppliesEveryRuleToItsColumn) {
  Redactor r =
      Build({Col("email", "mask:email"), Col("phone", "hash"), Col("ssn", "mask:last4"),
             Col("birth_date", "generalize:year"), Col("salary", "generalize:range:10000"),
             Col("bio", "truncate:3"), Col("password_hash", "remove"), Col("name", "null")});
  Row row = UsersRow();
  std::vector<std::string> redacted;
  r.Apply(row, redacted);

  Row expected;
  expected.Add("id", Value::Int64(42));
  expected.Add("email", Value::Text("j***@example.com"));
  expected.Add("name", Value::Null());
  expected.Add("phone", Value::Text(Token("+1 415 555 2671")));
  expected.Add("ssn", Value::Text("*******1120"));
  expected.Add("birth_date", Value::Text("1990"));
  expected.Add("salary", Value::Text("80000-89999"));
  expected.Add("bio", Value::Text("Zoë"));
  expected.Add("status", Value::Text("active"));
  EXPECT_EQ(row, expected);
  EXPECT_EQ(redacted, (std::vector<std::string>{"bio", "birth_date", "email", "name",
                                                "password_hash", "phone", "salary", "ssn"}));
}

TEST(Redactor, NonTextValuesAreRedactedThroughTheirCanonicalText) {
  Redactor r =
      Build({Col("id", "hash"), Col("salary", "mask:first2"), Col("birth_date", "truncate:7")});
  Row row = UsersRow();
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  // Hashing 42 gives the token of the text "42": the same as a text column holding "42", so a
  // numeric user_id and a text copy of it still join.
  EXPECT_EQ(*row.Find("id"), Value::Text(Token("42")));
  EXPECT_EQ(*row.Find("salary"), Value::Text("83******"));
  EXPECT_EQ(*row.Find("birth_date"), Value::Text("1990-05"));
}

TEST(Redactor, HashIsDeterministicAcrossRowsAndRedactors) {
  Redactor a = Build({Col("email", "hash")});
  Redactor b = Build({Col("email", "hash")});
  Row r1 = UsersRow();
  Row r2 = UsersRow();
  std::vector<std::string> ignored;
  a.Apply(r1, ignored);
  b.Apply(r2, ignored);
  EXPECT_EQ(*r1.Find("email"), *r2.Find("email"));
  EXPECT_TRUE(r1.Find("email")->as_string().starts_with("hmac:k1:"));
}

TEST(Redactor, NewTokensUseTheActiveKeyAndOldOnesStayVerifiable) {
  Row before_rotation = UsersRow();
  Row after_rotation = UsersRow();
  std::vector<std::string> ignored;
  Build({Col("email", "hash")}, Keys("k1")).Apply(before_rotation, ignored);
  auto rotated = Keys("k2");
  Build({Col("email", "hash")}, rotated).Apply(after_rotation, ignored);
  std::string_view old_token = before_rotation.Find("email")->as_string();
  std::string_view new_token = after_rotation.Find("email")->as_string();
  EXPECT_TRUE(old_token.starts_with("hmac:k1:"));
  EXPECT_TRUE(new_token.starts_with("hmac:k2:"));
  EXPECT_TRUE(rotated->Verify(old_token, "jane.doe@example.com"));
  EXPECT_TRUE(rotated->Verify(new_token, "jane.doe@example.com"));
  EXPECT_EQ(*rotated->Token("k1", "jane.doe@example.com"), old_token);
}

TEST(Redactor, RedactedListIsSortedAndUniqueAcrossImages) {
  Redactor r = Build({Col("ssn", "null"), Col("email", "mask:email"), Col("missing", "remove")});
  std::vector<std::string> redacted;
  Row before = UsersRow();
  Row after = UsersRow();
  r.Apply(before, redacted);
  r.Apply(after, redacted);
  EXPECT_EQ(redacted, (std::vector<std::string>{"email", "ssn"}));
}

TEST(Redactor, NullsStayNullAndUnchangedToastIsLeftAlone) {
  Redactor r = Build({Col("email", "hash"), Col("bio", "mask"), Col("notes", "keep", {"email"})});
  Row row;
  row.Add("email", Value::Null());
  row.Add("bio", Value::UnchangedToast());
  row.Add("notes", Value::UnchangedToast());
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_TRUE(row.Find("email")->is_null());
  EXPECT_EQ(row.Find("bio")->kind(), ValueKind::kUnchangedToast);
  EXPECT_EQ(redacted, (std::vector<std::string>{"email"}));
}

TEST(Redactor, DetectorsReplaceOnlyThePiiInText) {
  Redactor r = Build({Col("notes", "keep", {"email", "card", "phone", "ssn", "ip"})});
  Row row;
  row.Add("notes", Value::Text("Jane (jane@example.com, +1 415 555 2671) paid 4111 1111 1111 "
                               "1111 from 203.0.113.7, SSN 078-05-1120. Order #1234567812345670."));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_EQ(row.Find("notes")->as_string(),
            "Jane ([REDACTED:email], [REDACTED:phone]) paid [REDACTED:card] from [REDACTED:ip], "
            "SSN [REDACTED:ssn]. Order #1234567812345670.");
  EXPECT_EQ(redacted, (std::vector<std::string>{"notes"}));
}

TEST(Redactor, DetectorColumnsAreListedOnlyWhenSomethingWasFound) {
  Redactor r = Build({Col("notes", "keep", {"email", "card"})});
  Row row;
  row.Add("notes", Value::Text("order 4111111111111112 shipped"));  // fails Luhn
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_EQ(row.Find("notes")->as_string(), "order 4111111111111112 shipped");
  EXPECT_TRUE(redacted.empty());
}

TEST(Redactor, DetectorsWithHashGiveJoinableTokens) {
  Redactor r = Build({Col("notes", "hash", {"email", "card"})});
  Row row;
  row.Add("notes", Value::Text("jane@example.com paid with 4111-1111-1111-1111"));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  // Card numbers hash as their digits, so the token is the same as for a card column.
  EXPECT_EQ(row.Find("notes")->as_string(),
            Token("jane@example.com") + " paid with " + Token("4111111111111111"));
}

TEST(Redactor, DetectorsWithMaskMaskThePiece) {
  Redactor r = Build({Col("notes", "mask:email", {"email"}), Col("memo", "mask:last4", {"card"})});
  Row row;
  row.Add("notes", Value::Text("write to jane.doe@example.com please"));
  row.Add("memo", Value::Text("card 4111111111111111 on file"));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_EQ(row.Find("notes")->as_string(), "write to j***@example.com please");
  EXPECT_EQ(row.Find("memo")->as_string(), "card ************1111 on file");
}

TEST(Redactor, DetectorsInJsonTouchOnlyStringValuesAndKeepItValid) {
  Redactor r = Build({Col("profile", "keep", {"email", "phone", "ip"})});
  Row row;
  std::string json =
      R"({"contact":"mail jane@example.com","jane@example.com":"key stays","n":4155552671,)"
      R"("hidden":"jane\u0040example.com","quoted":"say \"call +1 415 555 2671\"\n",)"
      R"("nested":{"ips":["10.0.0.1",null,true,"no pii"]},"empty":""})";
  ASSERT_TRUE(IsValidJson(json));
  row.Add("profile", Value::Json(json));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  const Value& v = *row.Find("profile");
  ASSERT_EQ(v.kind(), ValueKind::kJson);
  EXPECT_TRUE(IsValidJson(v.as_string())) << v.as_string();
  EXPECT_EQ(v.as_string(),
            R"({"contact":"mail [REDACTED:email]","jane@example.com":"key stays","n":4155552671,)"
            R"("hidden":"[REDACTED:email]","quoted":"say \"call [REDACTED:phone]\"\n",)"
            R"("nested":{"ips":["[REDACTED:ip]",null,true,"no pii"]},"empty":""})");
  EXPECT_EQ(redacted, (std::vector<std::string>{"profile"}));
}

TEST(Redactor, JsonWithoutPiiIsLeftAsItWas) {
  Redactor r = Build({Col("profile", "keep", {"email"})});
  Row row;
  std::string json = R"({"a":"b\u00e9","c":[1,2,"x"]})";
  row.Add("profile", Value::Json(json));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_EQ(row.Find("profile")->as_string(), json);
  EXPECT_TRUE(redacted.empty());
}

TEST(Redactor, DetectorsScanArraysOfTextAndJson) {
  Redactor r = Build({Col("emails", "keep", {"email"})});
  Row row;
  row.Add("emails", Value::Array({Value::Text("a@example.com"), Value::Null(),
                                  Value::Array({Value::Text("x b@example.org")}),
                                  Value::Json(R"({"e":"c@example.net"})"), Value::Int64(7)}));
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  EXPECT_EQ(*row.Find("emails"),
            Value::Array({Value::Text("[REDACTED:email]"), Value::Null(),
                          Value::Array({Value::Text("x [REDACTED:email]")}),
                          Value::Json(R"({"e":"[REDACTED:email]"})"), Value::Int64(7)}));
}

TEST(Redactor, ChangeEventBeforeAfterAndKey) {
  Redactor r = Build({Col("email", "hash"), Col("password_hash", "remove")});
  ChangeEvent change;
  change.table = "users";
  change.op = Op::kUpdate;
  change.before = UsersRow();
  change.after = UsersRow();
  change.after->columns()[1].value = Value::Text("jane@new.example.com");
  change.key.Add("email", Value::Text("jane.doe@example.com"));
  change.unchanged_toast = {"password_hash", "bio"};
  std::vector<std::string> redacted;
  r.Apply(change, redacted);
  EXPECT_EQ(*change.before->Find("email"), Value::Text(Token("jane.doe@example.com")));
  EXPECT_EQ(*change.after->Find("email"), Value::Text(Token("jane@new.example.com")));
  EXPECT_EQ(*change.key.Find("email"), Value::Text(Token("jane.doe@example.com")));
  EXPECT_EQ(change.before->Find("password_hash"), nullptr);
  EXPECT_EQ(change.after->Find("password_hash"), nullptr);
  EXPECT_EQ(change.unchanged_toast, (std::vector<std::string>{"bio"}));
  EXPECT_EQ(redacted, (std::vector<std::string>{"email", "password_hash"}));
}

// An UPDATE's unchanged policy columns are redacted once and copied to `after`: the result must
// be exactly that of redacting each image on its own, whatever the column order, removed columns
// in between, nulls, TOAST markers, detectors that find nothing, and columns only one image has.
TEST(Redactor, UpdateImagesAreRedactedAsIfEachOnItsOwn) {
  Redactor r = Build({Col("email", "mask:email"), Col("phone", "hash"),
                      Col("password_hash", "remove"), Col("bio", "keep", {"email"}),
                      Col("salary", "generalize:range:1000"), Col("ssn", "null")});
  const std::vector<Value> choices = {
      Value::Null(),
      Value::UnchangedToast(),
      Value::Text("jane.doe@example.com"),
      Value::Text("write to jane.doe@example.com"),
      Value::Text("+1 415 555 2671"),
      Value::Decimal("83250.00"),
      Value::Text("a long value that does not fit in the value itself, so it is on the heap"),
  };
  const std::vector<std::string> names = {"id",  "email",  "phone", "password_hash",
                                          "bio", "salary", "ssn",   "note"};
  uint32_t seed = 12345;
  auto next = [&](uint32_t n) {
    seed = seed * 1103515245 + 12345;
    return (seed >> 16) % n;
  };
  auto random_row = [&](const Row* like) {
    Row row;
    std::vector<std::string> order = names;
    if (like == nullptr || next(3) == 0) {
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[next(i)]);
    }
    for (const auto& name : order) {
      if (next(8) == 0) continue;  // a column only the other image has
      const Value* old = like ? like->Find(name) : nullptr;
      row.Add(name, old && next(2) == 0 ? *old : choices[next(choices.size())]);
    }
    return row;
  };
  for (int round = 0; round < 500; ++round) {
    ChangeEvent change;
    change.table = "users";
    change.op = Op::kUpdate;
    change.before = random_row(nullptr);
    change.after = random_row(&*change.before);
    change.key.Add("phone", Value::Text("+1 415 555 2671"));
    ChangeEvent separate = change;
    std::vector<std::string> joint_list, separate_list;
    r.Apply(change, joint_list);
    r.Apply(*separate.before, separate_list);
    r.Apply(*separate.after, separate_list);
    r.Apply(separate.key, separate_list);
    ASSERT_EQ(*change.before, *separate.before) << "round " << round;
    ASSERT_EQ(*change.after, *separate.after) << "round " << round;
    ASSERT_EQ(change.key, separate.key) << "round " << round;
    ASSERT_EQ(joint_list, separate_list) << "round " << round;
  }
}

std::string BuildError(std::vector<ColumnRule> columns, std::shared_ptr<const KeyRing> keys) {
  auto r = Redactor::Build(TablePolicy{"users", std::move(columns)}, std::move(keys));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(Redactor, BuildErrorsNameTableColumnAndFix) {
  EXPECT_EQ(BuildError({Col("email", "hash")}, nullptr),
            "table 'users': column 'email': uses 'hash' but no HMAC keys are configured; add the "
            "redaction keys (key id -> env:VARIABLE or file:/path) and an active key id");
  EXPECT_EQ(BuildError({Col("email", "hash"), Col("email", "null")}, Keys()),
            "table 'users': column 'email': has more than one redaction rule; combine them into "
            "one");
  EXPECT_EQ(BuildError({Col("notes", "truncate:8", {"email"})}, Keys()),
            "table 'users': column 'notes': detectors can only be combined with 'hash' or "
            "'mask', not 'truncate:8'");
  EXPECT_EQ(BuildError({Col("notes", "keep")}, Keys()),
            "table 'users': column 'notes': has neither a rule nor detectors");
  EXPECT_EQ(BuildError({Col("", "null")}, Keys()),
            "table 'users': a redaction rule has no column name");
  ColumnRule bad;
  bad.column = "n";
  bad.rule.action = Action::kGeneralize;
  bad.rule.generalization = Generalization::kRange;
  EXPECT_EQ(BuildError({bad}, Keys()),
            "table 'users': column 'n': a range needs a bucket width >= 1");
  // Nothing hashes: no keys needed.
  EXPECT_TRUE(Redactor::Build(TablePolicy{"users", {Col("email", "mask:email")}}, nullptr).ok());
}

TEST(ParseColumnRule, FromConfigurationStrings) {
  auto c = ParseColumnRule("notes", "hash", {"email", "card"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->column, "notes");
  EXPECT_EQ(c->rule.action, Action::kHash);
  EXPECT_TRUE(c->detect.Has(Detector::kCard));
  auto detect_only = ParseColumnRule("bio", "", {"phone"});
  ASSERT_TRUE(detect_only.ok());
  EXPECT_EQ(detect_only->rule.action, Action::kKeep);
  auto bad = ParseColumnRule("email", "hsah");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(
      bad.status().message().starts_with("column 'email': redaction rule 'hsah': unknown "
                                         "rule (accepted: "))
      << bad.status().message();
  auto bad_detector = ParseColumnRule("bio", "", {"passport"});
  ASSERT_FALSE(bad_detector.ok());
  EXPECT_EQ(bad_detector.status().message(),
            "column 'bio': unknown detector 'passport' (accepted: email, card, phone, ssn, ip)");
}

TEST(Redactor, NoRedactedValueSurvivesAnywhere) {
  const std::string secret_email = "jane.doe.secret@example.com";
  const std::string secret_card = "4111111111111111";
  Redactor r = Build({Col("email", "hash"), Col("card", "mask:last4"),
                      Col("notes", "keep", {"email", "card"}), Col("doc", "keep", {"email"}),
                      Col("dob", "generalize:year")});
  Row row;
  row.Add("email", Value::Text(secret_email));
  row.Add("card", Value::Text(secret_card));
  row.Add("notes", Value::Text("from " + secret_email + " card " + secret_card));
  // Not valid JSON (a value the walker cannot follow): all of it is replaced, nothing kept.
  row.Add("doc", Value::Json("{\"a\":\"" + secret_email));
  row.Add("dob", Value::Text("born " + secret_email));  // cannot be generalized: null
  std::vector<std::string> redacted;
  r.Apply(row, redacted);
  std::string out;
  JsonWriter w(out);
  WriteRow(w, row);
  EXPECT_EQ(out.find(secret_email), std::string::npos) << out;
  EXPECT_EQ(out.find(secret_card), std::string::npos) << out;
  EXPECT_EQ(out.find("jane.doe"), std::string::npos) << out;
  EXPECT_TRUE(IsValidJson(out)) << out;
  EXPECT_EQ(*row.Find("doc"), Value::Json("\"[REDACTED:json]\""));
  EXPECT_TRUE(row.Find("dob")->is_null());
}

TEST(Redactor, ApplyIsThreadSafe) {
  Redactor r = Build({Col("email", "mask:email"), Col("phone", "hash"),
                      Col("bio", "keep", {"email", "phone", "card"})});
  Row expected = UsersRow();
  std::vector<std::string> expected_redacted;
  r.Apply(expected, expected_redacted);
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        Row row = UsersRow();
        std::vector<std::string> redacted;
        r.Apply(row, redacted);
        if (!(row == expected) || redacted != expected_redacted) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace cdc::redact
