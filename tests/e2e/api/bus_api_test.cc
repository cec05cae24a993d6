// The bus as an EventBridge-compatible API (issue 15), driven by two clients nobody here wrote:
// the AWS CLI (`aws events ... --endpoint-url`) and the AWS SDK for JavaScript v3
// (tests/e2e/api/eventbridge_sdk.js). The real binary runs the shipped config against a real
// PostgreSQL with CDC_API_LISTEN on port 0; rules made over the API route the events put over the
// API to the configured file targets, their answers are checked, and the rules survive a restart.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::CommandResult;
using testing::PgServer;
using testing::TempDir;

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

class BusApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PgServer::StartCoreDb();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    env_ = {{"COREDB_DSN", server_->Dsn("coredb")},
            {"CDC_DATA_DIR", data_.path()},
            {"CDC_ADMIN_LISTEN", "127.0.0.1:0"},
            {"CDC_API_LISTEN", "127.0.0.1:0"},
            {"CDC_LOG_LEVEL", "info"}};
  }

  bool WaitFor(const std::function<bool()>& done, double seconds = 120) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return done();
  }

  // Starts `run` and waits for the API's address; the endpoint URL.
  std::string Start(std::unique_ptr<CliProcess>& run, const std::string& log) {
    std::filesystem::remove(data_ / "api.addr");
    run = std::make_unique<CliProcess>(std::vector<std::string>{"run"}, env_, log);
    std::string address;
    bool up = WaitFor([&] {
      address = testing::ReadFile(data_ / "api.addr");
      return !address.empty() && address.back() == '\n';
    });
    EXPECT_TRUE(up) << testing::ReadFile(log);
    if (!up) return "";
    address.pop_back();
    EXPECT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
    // The pipeline accepts events once its stream is open: until then PutEvents answers
    // InternalFailure per entry, so wait for the log line that says it runs.
    EXPECT_TRUE(WaitFor([&] {
      return testing::ReadFile(log).find("records to deliver") != std::string::npos;
    })) << testing::ReadFile(log);
    return "http://" + address;
  }

  // Runs a shell command with the environment of an AWS client (dummy credentials, no profile).
  CommandResult Shell(const std::string& command) {
    std::string err_path = tmp_ / "stderr";
    std::string line = "env HOME=" + tmp_.path() +
                       " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
                       "AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= AWS_CONFIG_FILE=/dev/null "
                       "AWS_SHARED_CREDENTIALS_FILE=/dev/null " +
                       command + " 2>" + err_path;
    CommandResult r;
    FILE* p = ::popen(line.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
    int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = testing::ReadFile(err_path);
    return r;
  }

  // `aws events <args>` against the endpoint.
  CommandResult Aws(const std::string& endpoint, const std::string& args) {
    return Shell("aws events --endpoint-url " + endpoint + " --region us-east-1 --output json " +
                 args);
  }

  // The lines of a consumer file whose event has this source.
  std::vector<std::string> EventsFrom(const std::string& target, const std::string& source) {
    std::vector<std::string> out;
    for (const std::string& line : testing::ReadLines(data_ / ("consumers/" + target + ".jsonl"))) {
      if (line.find("\"source\":\"" + source + "\"") != std::string::npos) out.push_back(line);
    }
    return out;
  }

  std::unique_ptr<PgServer> server_;
  TempDir data_;
  TempDir tmp_;
  std::map<std::string, std::string> env_;
  simdjson::dom::parser parser_;
};

TEST_F(BusApiTest, AwsCliAndSdkPublishIntoTheBusAndRulesSurviveARestart) {
  std::string log = data_ / "run.log";
  std::unique_ptr<CliProcess> run;
  std::string endpoint = Start(run, log);
  ASSERT_FALSE(endpoint.empty());
  simdjson::dom::element doc;

  // --- AWS CLI: a rule to the configured target `audit`, named by an ARN.
  CommandResult r = Aws(endpoint,
                        "put-rule --name cli-orders --event-pattern "
                        "'{\"source\":[\"orders.app\"],\"detail\":{\"total\":[{\"numeric\":[\">\","
                        "100]}]}}' --description 'big orders'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["RuleArn"].get_string().value()),
            "arn:aws:events:local:000000000000:rule/cdc-events/cli-orders");

  r = Aws(endpoint,
          "put-targets --rule cli-orders --targets "
          "Id=audit,Arn=arn:aws:events:local:000000000000:target/audit "
          "Id=nowhere,Arn=arn:aws:sqs:us-east-1:000000000000:no-such-target");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(int64_t(doc["FailedEntryCount"]), 1) << r.out;
  EXPECT_EQ(std::string_view(doc["FailedEntries"].at(0)["TargetId"]), "nowhere") << r.out;

  // Bad pattern, unknown rule: AWS's errors, non-zero exit.
  r = Aws(endpoint, "put-rule --name bad --event-pattern '{\"source\":\"orders.app\"}'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("InvalidEventPatternException"), std::string::npos) << r.err;
  r = Aws(endpoint, "describe-rule --name no-such-rule");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ResourceNotFoundException"), std::string::npos) << r.err;
  r = Aws(endpoint, "put-targets --rule no-such-rule --targets Id=a,Arn=audit");
  EXPECT_NE(r.err.find("ResourceNotFoundException"), std::string::npos) << r.err;

  // PutEvents: two that match, one that does not (total too small), one with a malformed Detail.
  std::string entries =
      R"([{"Source":"orders.app","DetailType":"OrderPlaced","Detail":"{\"orderId\":\"cli-1\",\"total\":250}"},)"
      R"({"Source":"orders.app","DetailType":"OrderPlaced","Detail":"{\"orderId\":\"cli-2\",\"total\":50}"},)"
      R"({"Source":"orders.app","DetailType":"OrderPlaced","Detail":"not json"},)"
      R"({"Source":"orders.app","DetailType":"OrderPlaced","Detail":"{\"orderId\":\"cli-3\",\"total\":101}"}])";
  r = Aws(endpoint, "put-events --entries " + Quote(entries));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(int64_t(doc["FailedEntryCount"]), 1) << r.out;
  simdjson::dom::array answered = doc["Entries"];
  ASSERT_EQ(answered.size(), 4u) << r.out;
  std::vector<std::string> ids;
  for (size_t i : {0, 1, 3}) {
    std::string_view id;
    ASSERT_EQ(answered.at(i)["EventId"].get(id), simdjson::SUCCESS) << r.out;
    ids.emplace_back(id);
  }
  EXPECT_EQ(std::string_view(answered.at(2)["ErrorCode"]), "MalformedDetail") << r.out;

  // The matching events reach the rule's target, as EventBridge events with the ids answered.
  std::vector<std::string> audit;
  ASSERT_TRUE(WaitFor([&] {
    audit = EventsFrom("audit", "orders.app");
    return audit.size() >= 2;
  })) << testing::ReadFile(log);
  ASSERT_EQ(audit.size(), 2u);
  ASSERT_EQ(parser_.parse(audit[0]).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["id"]), ids[0]);
  EXPECT_EQ(std::string_view(doc["detail-type"]), "OrderPlaced");
  EXPECT_EQ(std::string_view(doc["detail"]["orderId"]), "cli-1");
  EXPECT_EQ(std::string_view(doc["account"]), "000000000000");
  ASSERT_EQ(parser_.parse(audit[1]).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["id"]), ids[2]);

  // test-event-pattern and list-rules.
  std::string event =
      R"({"id":"1","account":"1","source":"orders.app","time":"2026-01-01T00:00:00Z","region":"us-east-1","detail-type":"x","resources":[],"detail":{"total":150}})";
  r = Aws(endpoint, "test-event-pattern --event-pattern '{\"source\":[\"orders.app\"]}' --event " +
                        Quote(event));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_TRUE(bool(doc["Result"]));
  r = Aws(endpoint,
          "test-event-pattern --event-pattern '{\"source\":[\"other\"]}' --event " + Quote(event));
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_FALSE(bool(doc["Result"]));
  r = Aws(endpoint, "test-event-pattern --event-pattern '{\"source\":[{\"nope\":1}]}' --event " +
                        Quote(event));
  EXPECT_NE(r.err.find("InvalidEventPatternException"), std::string::npos) << r.err;

  r = Aws(endpoint, "list-rules --name-prefix cli-");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  ASSERT_EQ(simdjson::dom::array(doc["Rules"]).size(), 1u) << r.out;
  EXPECT_EQ(std::string_view(doc["Rules"].at(0)["Name"]), "cli-orders");
  EXPECT_EQ(std::string_view(doc["Rules"].at(0)["State"]), "ENABLED");

  // --- The AWS SDK for JavaScript.
  CommandResult sdk =
      Shell("node " + testing::SourcePath("tests/e2e/api/eventbridge_sdk.js") + " " + endpoint);
  ASSERT_EQ(sdk.exit_code, 0) << sdk.err << sdk.out;
  ASSERT_EQ(parser_.parse(sdk.out).get(doc), simdjson::SUCCESS) << sdk.out;
  EXPECT_EQ(int64_t(doc["putTargets"]["FailedEntryCount"]), 0) << sdk.out;
  EXPECT_EQ(int64_t(doc["putEvents"]["FailedEntryCount"]), 1) << sdk.out;
  std::string_view sdk_id1 = doc["putEvents"]["Entries"].at(0)["EventId"];
  std::string_view sdk_id2 = doc["putEvents"]["Entries"].at(2)["EventId"];
  std::string sdk_ids[] = {std::string(sdk_id1), std::string(sdk_id2)};
  EXPECT_EQ(std::string_view(doc["putEvents"]["Entries"].at(1)["ErrorCode"]), "MalformedDetail");
  EXPECT_EQ(simdjson::dom::array(doc["listRules"]["Rules"]).size(), 1u) << sdk.out;
  EXPECT_EQ(std::string_view(doc["describeRule"]["Description"]), "made by the AWS SDK");
  EXPECT_TRUE(bool(doc["testEventPattern"]["Result"])) << sdk.out;
  EXPECT_EQ(std::string_view(doc["describeEventBus"]["Name"]), "cdc-events");
  EXPECT_EQ(std::string_view(doc["badPattern"]), "InvalidEventPatternException");
  EXPECT_EQ(std::string_view(doc["unknownRule"]), "ResourceNotFoundException");
  EXPECT_EQ(std::string_view(doc["tooManyEntries"]), "ValidationException");
  std::vector<std::string> analytics;
  ASSERT_TRUE(WaitFor([&] {
    analytics = EventsFrom("analytics", "sdk.app");
    return analytics.size() >= 2;
  })) << testing::ReadFile(log);
  ASSERT_EQ(analytics.size(), 2u);
  ASSERT_EQ(parser_.parse(analytics[1]).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["id"]), sdk_ids[1]);
  EXPECT_EQ(std::string_view(doc["time"]), "2026-01-02T03:04:05Z");
  EXPECT_EQ(std::string_view(doc["resources"].at(0)), "arn:aws:example:1");

  // --- A restart: the rules made over the API are still there and still route.
  run->Signal(SIGTERM);
  ASSERT_EQ(run->Wait(120), 0) << testing::ReadFile(log);
  endpoint = Start(run, log);
  ASSERT_FALSE(endpoint.empty());
  r = Aws(endpoint, "describe-rule --name cli-orders");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["Description"]), "big orders");
  r = Aws(endpoint, "list-targets-by-rule --rule cli-orders");
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  ASSERT_EQ(simdjson::dom::array(doc["Targets"]).size(), 1u) << r.out;
  EXPECT_EQ(std::string_view(doc["Targets"].at(0)["Id"]), "audit");
  r = Aws(
      endpoint,
      "put-events --entries " +
          Quote(
              R"([{"Source":"orders.app","DetailType":"OrderPlaced","Detail":"{\"orderId\":\"cli-4\",\"total\":999}"}])"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return EventsFrom("audit", "orders.app").size() >= 3; }))
      << testing::ReadFile(log);
  EXPECT_EQ(EventsFrom("audit", "orders.app").size(), 3u);

  // Disable, and delete: a rule with targets is deleted only after they are removed.
  r = Aws(endpoint, "disable-rule --name cli-orders");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Aws(endpoint, "describe-rule --name cli-orders");
  ASSERT_EQ(parser_.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(doc["State"]), "DISABLED");
  r = Aws(endpoint, "delete-rule --name cli-orders");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ValidationException"), std::string::npos) << r.err;
  r = Aws(endpoint, "remove-targets --rule cli-orders --ids audit");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Aws(endpoint, "delete-rule --name cli-orders");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Aws(endpoint, "describe-rule --name cli-orders");
  EXPECT_NE(r.err.find("ResourceNotFoundException"), std::string::npos) << r.err;

  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(120), 0) << testing::ReadFile(log);
}

// api.access_key_id set (the shipped config reads CDC_API_ACCESS_KEY_ID): the AWS CLI's SigV4
// signature with that key is accepted, and its rule routes the event it puts; another secret,
// another key id and an unsigned request are refused with AWS's error types.
TEST_F(BusApiTest, WithAnAccessKeyOnlyRequestsSignedWithItAreServed) {
  env_["CDC_API_ACCESS_KEY_ID"] = "AKIDBUSAPI";
  env_["CDC_API_SECRET_ACCESS_KEY"] = "bus-api-secret-value";
  std::string log = data_ / "run.log";
  std::unique_ptr<CliProcess> run;
  std::string endpoint = Start(run, log);
  ASSERT_FALSE(endpoint.empty());
  // `aws events` signing with this key (the inner env overrides Shell's dummy credentials).
  auto as = [&](const std::string& key, const std::string& secret, const std::string& args) {
    return Shell("env AWS_ACCESS_KEY_ID=" + key + " AWS_SECRET_ACCESS_KEY=" + secret +
                 " aws events --endpoint-url " + endpoint + " --region us-east-1 --output json " +
                 args);
  };
  CommandResult r = as("AKIDBUSAPI", "bus-api-secret-value",
                       "put-rule --name signed --event-pattern '{\"source\":[\"signed.app\"]}'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = as("AKIDBUSAPI", "bus-api-secret-value",
         "put-targets --rule signed --targets Id=audit,Arn=audit");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = as("AKIDBUSAPI", "bus-api-secret-value",
         "put-events --entries " +
             Quote(R"([{"Source":"signed.app","DetailType":"T","Detail":"{\"n\":1}"}])"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"FailedEntryCount\": 0"), std::string::npos) << r.out;
  ASSERT_TRUE(WaitFor([&] { return EventsFrom("audit", "signed.app").size() == 1; }))
      << testing::ReadFile(log);

  r = as("AKIDBUSAPI", "another-secret", "list-rules");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("InvalidSignatureException"), std::string::npos) << r.err;
  r = as("AKIDSOMEONEELSE", "bus-api-secret-value", "list-rules");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("UnrecognizedClientException"), std::string::npos) << r.err;
  r = as("AKIDBUSAPI", "another-secret",
         "put-events --entries " +
             Quote(R"([{"Source":"signed.app","DetailType":"T","Detail":"{\"n\":2}"}])"));
  EXPECT_NE(r.exit_code, 0);
  // Unsigned: 403 MissingAuthenticationTokenException.
  r = Shell(
      "curl -s -w '\\n%{http_code}' -X POST -H 'X-Amz-Target: AWSEvents.ListRules' "
      "-H 'Content-Type: application/x-amz-json-1.1' -d '{}' " +
      endpoint + "/");
  EXPECT_NE(r.out.find("MissingAuthenticationTokenException"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n403"), std::string::npos) << r.out;

  run->Signal(SIGTERM);
  EXPECT_EQ(run->Wait(120), 0) << testing::ReadFile(log);
  // Only the signed event arrived, and the secret is in no log.
  EXPECT_EQ(EventsFrom("audit", "signed.app").size(), 1u);
  EXPECT_EQ(testing::ReadFile(log).find("bus-api-secret-value"), std::string::npos);
}

}  // namespace
}  // namespace cdc
