// The leak test: known PII seeded into events of all 12 CoreDB tables, run through the shipped
// config by the real binary (including changes that are rejected and malformed input, which go
// to the dead-letter file), must not appear in any output file, log line or dead letter. Also
// the issue's "done means": `invoke` on a users UPDATE prints no e-mail address or phone number
// in any form, names them in detail.redacted, is deterministic, and ENABLE_PII_REDACTION=false
// lets them through.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "support/test_util.h"

namespace cdc {
namespace {

using testing::RunCli;
using testing::TempDir;

constexpr const char* kKey = "leak-test-hmac-key-5f0c2a9e81d34b67";

// Every value below is PII or a secret of some table; each must vanish in every form listed.
const std::vector<std::string>& Secrets() {
  static const std::vector<std::string> s = {
      // e-mail addresses (also checked lower- and upper-cased)
      "jane.leak@example.com", "jane.leak", "cust.leak@example.net", "cust.leak",
      "seller.leak@example.org", "seller.leak", "ops.leak@example.com", "ops.leak",
      // phone numbers, as written and as digits
      "+1 415 555 2671", "415 555 2671", "4155552671", "+44 20 7946 0958", "442079460958",
      "7946 0958",
      // card numbers and expiry
      "4111 1111 1111 1111", "4111111111111111", "5555-5555-5555-4444", "5555555555554444", "12/29",
      // auth tokens
      "tok_live_LEAKTEST_a1b2c3", "rt_LEAKTEST_d4e5f6",
      // account numbers
      "ACC-LEAK-99887766", "99887766", "DE89370400440532013000", "DE89 3704",
      // names, addresses, dates of birth, SSNs, IP addresses
      "Jane Leakworth", "Leakworth", "Custer Leakfield", "Leakfield", "Billy Leakbill", "Leakbill",
      "12 Secretive Lane", "Secretive", "1987-06-05", "123-45-6789", "203.0.113.77",
      "198.51.100.23",
      // the key itself
      kKey};
  return s;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Fails the test for each secret found in `text`, naming where.
void ExpectNoSecrets(const std::string& text, const std::string& where) {
  std::string lower = Lower(text);
  for (const auto& s : Secrets()) {
    size_t at = lower.find(Lower(s));
    if (at != std::string::npos) {
      size_t from = at < 120 ? 0 : at - 120;
      ADD_FAILURE() << "'" << s << "' leaked into " << where << ": ..."
                    << text.substr(from, 240 + s.size()) << "...";
    }
  }
}

std::string Event(const std::string& type, const std::string& table, const std::string& images) {
  return R"({"eventType":")" + type + R"(","tableName":")" + table +
         R"(","timestamp":"2024-01-15T10:30:00Z",)" + images + "}\n";
}

// Published changes of all 12 tables, each carrying the PII its table holds.
std::string PublishedEvents() {
  std::string in;
  in += Event(
      "INSERT", "users",
      R"("after":{"id":"usr_1","email":"jane.leak@example.com","phone":"+1 415 555 2671","full_name":"Jane Leakworth","status":"active"})");
  in += Event(
      "UPDATE", "users",
      R"("before":{"id":"usr_1","email":"jane.leak@example.com","phone":"+1 415 555 2671","full_name":"Jane Leakworth"},)"
      R"("after":{"id":"usr_1","email":"JANE.LEAK@example.com","phone":"+44 20 7946 0958","full_name":"Jane Leakworth"})");
  in += Event("DELETE", "users",
              R"("before":{"id":"usr_1","email":"jane.leak@example.com","phone":"4155552671"})");
  in += Event(
      "INSERT", "customers",
      R"("after":{"id":"cus_1","full_name":"Custer Leakfield","email":"cust.leak@example.net","phone":"+44 20 7946 0958",)"
      R"("address":{"line1":"12 Secretive Lane","city":"Leeds","postcode":"LS1 4AP"},"date_of_birth":"1987-06-05"})");
  in += Event(
      "INSERT", "orders",
      R"("after":{"id":"ord_1","user_id":"usr_1","card_number":"4111 1111 1111 1111","card_last4":"1111","card_expiry":"12/29",)"
      R"("billing_name":"Billy Leakbill","billing_address":{"line1":"12 Secretive Lane"},"total":"19.99"})");
  in += Event("UPDATE", "orders",
              R"("before":{"id":"ord_1","card_number":"5555-5555-5555-4444","status":"placed"},)"
              R"("after":{"id":"ord_1","card_number":"5555555555554444","status":"paid"})");
  in += Event(
      "INSERT", "transactions",
      R"("after":{"id":"txn_1","account_number":"ACC-LEAK-99887766","iban":"DE89370400440532013000","amount":"19.9900"})");
  in += Event(
      "INSERT", "sessions",
      R"("after":{"id":"ses_1","user_id":"usr_1","auth_token":"tok_live_LEAKTEST_a1b2c3","refresh_token":"rt_LEAKTEST_d4e5f6","ip":"203.0.113.77"})");
  in += Event(
      "DELETE", "sessions",
      R"("before":{"id":"ses_1","auth_token":"tok_live_LEAKTEST_a1b2c3","refresh_token":"rt_LEAKTEST_d4e5f6","ip":"203.0.113.77"})");
  in += Event(
      "INSERT", "products",
      R"("after":{"id":301,"sku":"SKU-1","description":"Ask seller.leak@example.org or call +1 415 555 2671","price":"9.99"})");
  in += Event("UPDATE", "inventory",
              R"("before":{"id":77,"quantity":5},"after":{"id":77,"quantity":4})");
  in += Event(
      "INSERT", "notifications",
      R"("after":{"id":5,"user_id":"usr_1","channel":"sms","payload":{"to":"+44 20 7946 0958","cc":["jane.leak@example.com"]}})");
  in += Event(
      "INSERT", "audit_logs",
      R"("after":{"id":880,"actor":"ops.leak@example.com","action":"order.pay",)"
      R"("details":{"card":"4111 1111 1111 1111","note":"ssn 123-45-6789 from 198.51.100.23"},"source_ip":"203.0.113.77"})");
  in += Event(
      "INSERT", "metrics",
      R"("after":{"id":12,"name":"login","value":1,"tags":{"user":"ops.leak@example.com","client":"198.51.100.23"}})");
  in += Event("UPDATE", "configurations",
              R"("before":{"id":"feature.x","value":true,"updated_by":"ops.leak@example.com"},)"
              R"("after":{"id":"feature.x","value":false,"updated_by":"jane.leak@example.com"})");
  in += Event(
      "INSERT", "events",
      R"("after":{"id":"evt_1","type":"signup","payload":{"email":"cust.leak@example.net","ssn":"123-45-6789","phone":"+1 415 555 2671"}})");
  return in;
}

// Changes the pipeline rejects, and input it cannot read: all dead-lettered.
std::string RejectedInput() {
  std::string in;
  // event types the tables do not publish
  in += Event(
      "DELETE", "orders",
      R"("before":{"id":"ord_2","card_number":"4111111111111111","card_expiry":"12/29","billing_name":"Billy Leakbill"})");
  in += Event(
      "UPDATE", "sessions",
      R"("before":{"id":"ses_2"},"after":{"id":"ses_2","auth_token":"tok_live_LEAKTEST_a1b2c3","refresh_token":"rt_LEAKTEST_d4e5f6","ip":"203.0.113.77"})");
  in += Event(
      "UPDATE", "transactions",
      R"("before":{"id":"txn_2"},"after":{"id":"txn_2","account_number":"ACC-LEAK-99887766","iban":"DE89370400440532013000"})");
  in += Event(
      "DELETE", "notifications",
      R"("before":{"id":6,"payload":{"to":"jane.leak@example.com","sms":"+1 415 555 2671"}})");
  in += Event("DELETE", "audit_logs",
              R"("before":{"id":881,"actor":"ops.leak@example.com","source_ip":"203.0.113.77"})");
  // primary key missing
  in += Event(
      "INSERT", "users",
      R"("after":{"email":"jane.leak@example.com","phone":"+1 415 555 2671","full_name":"Jane Leakworth"})");
  in += Event(
      "INSERT", "customers",
      R"("after":{"email":"cust.leak@example.net","date_of_birth":"1987-06-05","address":{"line1":"12 Secretive Lane"}})");
  // model violations: a column no model has (it could hold anything) and a type the model
  // rejects; the dead letter keeps neither value
  in += Event(
      "INSERT", "users",
      R"("after":{"id":"usr_7","email":"jane.leak@example.com","status":"active","recovery_token":"tok_live_LEAKTEST_a1b2c3"})");
  in += Event(
      "INSERT", "customers",
      R"("after":{"id":"cus_7","full_name":"Custer Leakfield","date_of_birth":19870605,"email":"cust.leak@example.net"})");
  // a table that is not configured (only what the detectors recognise can be removed there)
  in += Event(
      "INSERT", "payroll",
      R"("after":{"id":1,"email":"jane.leak@example.com","phone":"+44 20 7946 0958","card":"4111 1111 1111 1111"})");
  // malformed JSON, and a field the decoder quotes in its reason
  in +=
      R"({"eventType":"UPDATE","tableName":"inventory","after":{"counted_by":"ops.leak@example.com","phone":"+1 415 555 2671","card":"4111 1111 1111 1111")"
      "\n";
  in +=
      R"({"eventType":"INSERT","tableName":"users","after":{"id":"usr_9","email":"jane.leak@example.com" "phone":"+44 20 7946 0958"}})"
      "\n";
  in +=
      R"({"eventType":"jane.leak@example.com","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":"usr_9"}})"
      "\n";
  return in;
}

constexpr size_t kRejected = 13;

TEST(LeakTest, NoSeededPiiReachesAnyOutputLogOrDeadLetter) {
  TempDir dir;
  std::string input = PublishedEvents() + RejectedInput();
  auto r = RunCli({"--log-level", "debug", "run", "--input", "-"},
                  {{"CDC_DATA_DIR", dir.path()}, {"CDC_HMAC_KEY", kKey}}, CDC_SOURCE_DIR, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("dead-lettered " + std::to_string(kRejected)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("published 16"), std::string::npos) << r.err;
  ExpectNoSecrets(r.err, "the log (stderr)");
  ExpectNoSecrets(r.out, "stdout");

  auto files = testing::ListFiles(dir.path());
  ASSERT_GE(files.size(), 17u);  // 16 consumers and the dead letters
  for (const auto& f : files) ExpectNoSecrets(testing::ReadFile(dir / f), f);

  // The values were replaced, not lost: the policies show in the events.
  std::string analytics = testing::ReadFile(dir / "consumers/analytics.jsonl");
  EXPECT_NE(analytics.find(R"("redacted":["email","full_name","phone"])"), std::string::npos);
  EXPECT_NE(analytics.find(R"("email":"j***@example.com")"), std::string::npos);
  std::string accounting = testing::ReadFile(dir / "consumers/accounting.jsonl");
  EXPECT_NE(accounting.find(R"("account_number":"hmac:k1:)"), std::string::npos) << accounting;
  EXPECT_NE(accounting.find(R"("iban":"******************3000")"), std::string::npos);
  auto letters = testing::ReadLines(dir / "dead-letter.jsonl");
  EXPECT_EQ(letters.size(), kRejected);
}

TEST(LeakTest, WithoutTheKeyNothingRunsAndTheErrorSaysHowToCreateOne) {
  TempDir dir;
  for (const auto& command : {"run", "validate-config", "health-check"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> args = {command};
    if (std::string(command) == "run") args = {"run", "--input", "-"};
    auto r = RunCli(args, {{"CDC_DATA_DIR", dir.path()}, {"CDC_HMAC_KEY", ""}}, CDC_SOURCE_DIR,
                    PublishedEvents());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    std::string all = r.out + r.err;
    EXPECT_NE(all.find("redaction.keys.k1: environment variable CDC_HMAC_KEY is not set or empty"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("openssl rand -hex 32"), std::string::npos) << all;
    ExpectNoSecrets(all, std::string(command) + " output");
  }
  EXPECT_FALSE(testing::FileExists(dir / "consumers/analytics.jsonl"));
}

const char* kUserUpdate =
    R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
    R"("before":{"id":"usr_123","email":"jane.leak@example.com","phone":"+1 415 555 2671","status":"active"},)"
    R"("after":{"id":"usr_123","email":"jane.leak@example.com","phone":"+44 20 7946 0958","status":"inactive"}})";

TEST(LeakTest, InvokeOnAUsersUpdatePrintsNoEmailOrPhoneAndIsDeterministic) {
  TempDir dir;
  testing::WriteFile(dir / "update.json", kUserUpdate);
  std::vector<std::string> args = {"invoke", "--function", "processUserChanges", "--event",
                                   dir / "update.json"};
  auto first = RunCli(args, {{"CDC_HMAC_KEY", kKey}});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ExpectNoSecrets(first.out, "invoke output");
  ExpectNoSecrets(first.err, "invoke log");
  EXPECT_NE(first.out.find(R"("redacted":["email","phone"])"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("matched rule: wallboards"), std::string::npos);
  auto second = RunCli(args, {{"CDC_HMAC_KEY", kKey}});
  EXPECT_EQ(first.out, second.out);

  auto off = RunCli(args, {{"CDC_HMAC_KEY", kKey}, {"ENABLE_PII_REDACTION", "false"}});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("jane.leak@example.com"), std::string::npos) << off.out;
  EXPECT_NE(off.out.find("+44 20 7946 0958"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("\"redacted\""), std::string::npos);
  EXPECT_NE(off.err.find("PII REDACTION IS DISABLED"), std::string::npos) << off.err;
  // Switched off, the pipeline needs no key.
  auto no_key = RunCli(args, {{"CDC_HMAC_KEY", ""}, {"ENABLE_PII_REDACTION", "false"}});
  EXPECT_EQ(no_key.exit_code, 0) << no_key.err;
}

}  // namespace
}  // namespace cdc
