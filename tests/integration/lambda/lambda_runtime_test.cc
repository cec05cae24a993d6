// `cdc-pipeline lambda` as a child process against a Runtime API server in the test that
// follows the published API (2018-06-01): it hands out queued invocations with the real headers
// from GET /runtime/invocation/next and records what comes back on /response, /error and
// /init/error. The function's rule delivers to a file target and to an http target on a second
// server that fails on demand. Every test stops the runtime with SIGTERM while it waits in next.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>

#include "base/hash.h"
#include "integration/aws/aws_test_util.h"
#include "support/aws_emulator.h"
#include "support/http_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::HttpRequest;
using testing::TempDir;
using testing::TestHttpServer;

constexpr char kPrefix[] = "/2018-06-01/runtime";

// The Runtime API: invocations from a queue, answers recorded.
class FakeRuntimeApi {
 public:
  struct Answer {
    std::string kind;  // "response" or "error"
    std::string body;
    std::string error_type;  // the Lambda-Runtime-Function-Error-Type header
  };

  FakeRuntimeApi() : server_([this](size_t, const HttpRequest& r) { return Serve(r); }) {}
  ~FakeRuntimeApi() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  // `timeout_ms`: the invocation's deadline from when it is handed out.
  void Invoke(const std::string& request_id, const std::string& event, int timeout_ms = 60000) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({request_id, event, timeout_ms});
    }
    cv_.notify_all();
  }

  // The answer to `request_id`, waiting up to `seconds`.
  std::optional<Answer> WaitForAnswer(const std::string& request_id, double seconds = 30) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                 [&] { return answers_.count(request_id) > 0; });
    auto it = answers_.find(request_id);
    if (it == answers_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<Answer> WaitForInitError(double seconds = 30) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                 [&] { return init_error_.has_value(); });
    return init_error_;
  }

  // Whether a runtime is waiting in GET next (so a SIGTERM now finds it there).
  bool WaitUntilPolling(double seconds = 30) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                        [&] { return polling_ > 0 && queue_.empty(); });
  }

  std::vector<HttpRequest> requests() const { return server_.requests(); }

 private:
  struct Queued {
    std::string id, event;
    int timeout_ms = 0;
  };

  TestHttpServer::Answer Serve(const HttpRequest& r) {
    std::unique_lock lock(mu_);
    const std::string prefix = kPrefix;
    if (r.method == "GET" && r.path == prefix + "/invocation/next") {
      ++polling_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      --polling_;
      if (closing_) return {500, R"({"errorType":"Closing"})"};
      Queued q = queue_.front();
      queue_.pop_front();
      auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch() +
                          std::chrono::milliseconds(q.timeout_ms))
                          .count();
      TestHttpServer::Answer a{200, q.event, "application/json", {}};
      a.headers = {
          {"Lambda-Runtime-Aws-Request-Id", q.id},
          {"Lambda-Runtime-Deadline-Ms", std::to_string(deadline)},
          {"Lambda-Runtime-Invoked-Function-Arn",
           "arn:aws:lambda:us-east-1:123456789012:function:processUserChanges"},
          {"Lambda-Runtime-Trace-Id",
           "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"},
      };
      return a;
    }
    std::string error_type;
    for (const auto& [name, value] : r.headers) {
      if (name == "lambda-runtime-function-error-type") error_type = value;
    }
    if (r.method == "POST" && r.path == prefix + "/init/error") {
      init_error_ = Answer{"init-error", r.body, error_type};
      cv_.notify_all();
      return {202, R"({"status":"OK"})"};
    }
    const std::string inv = prefix + "/invocation/";
    if (r.method == "POST" && r.path.rfind(inv, 0) == 0) {
      std::string rest = r.path.substr(inv.size());
      size_t slash = rest.find('/');
      std::string id = rest.substr(0, slash);
      std::string kind = slash == std::string::npos ? "" : rest.substr(slash + 1);
      if (kind == "response" || kind == "error") {
        answers_[id] = Answer{kind, r.body, error_type};
        cv_.notify_all();
        return {202, R"({"status":"OK"})"};
      }
    }
    return {404, R"({"errorType":"NotFound"})"};
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  std::map<std::string, Answer> answers_;
  std::optional<Answer> init_error_;
  int polling_ = 0;
  bool closing_ = false;
  TestHttpServer server_;  // last: stopped first, while the rest still exists
};

// A consumer endpoint that accepts the first `allowed` events and answers 503 after that.
class Endpoint {
 public:
  Endpoint()
      : server_([this](size_t, const HttpRequest&) {
          if (accepted_ < allowed_.load()) {
            ++accepted_;
            return 200;
          }
          return 503;
        }) {}
  void Allow(int n) { allowed_ = n; }
  std::string url() const { return server_.url(); }
  std::vector<std::string> delivered() const { return server_.delivered(); }
  size_t requests() const { return server_.requests().size(); }

 private:
  std::atomic<int> allowed_{1 << 30};
  std::atomic<int> accepted_{0};
  TestHttpServer server_;
};

std::string UserChange(int i, const std::string& op = "INSERT") {
  std::string row = R"({"id":"usr_)" + std::to_string(i) + R"(","email":"user)" +
                    std::to_string(i) + R"(@example.com","status":"active"})";
  std::string image = op == "DELETE" ? R"("before":)" + row : R"("after":)" + row;
  return R"({"eventType":")" + op + R"(","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)" +
         image + "}";
}

std::string KinesisRecordRaw(const std::string& seq, const std::string& data_base64) {
  return R"({"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"users|usr","sequenceNumber":")" +
         seq + R"(","data":")" + data_base64 +
         R"(","approximateArrivalTimestamp":1705314600.123},"eventSource":"aws:kinesis",)"
         R"("eventVersion":"1.0","eventID":"shardId-000000000000:)" +
         seq +
         R"(","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/cdc",)"
         R"("awsRegion":"us-east-1","eventSourceARN":"arn:aws:kinesis:us-east-1:123456789012:stream/cdc-changes-stream"})";
}

// A record of the pipeline's own stream as Lambda hands it over: its Kinesis shard and partition
// key as the AWS CLI read them.
std::string OwnStreamRecord(const testing::KinesisRecord& put) {
  std::string r = KinesisRecordRaw(put.sequence, Base64Encode(put.data));
  size_t at = r.find("shardId-000000000000");
  r.replace(at, 20, put.shard);
  at = r.find("users|usr");
  return r.replace(at, 9, put.partition_key);
}

std::string KinesisRecord(const std::string& seq, const std::string& data) {
  return KinesisRecordRaw(seq, Base64Encode(data));
}

std::string Batch(const std::vector<std::string>& records) {
  std::string out = R"({"Records":[)";
  for (size_t i = 0; i < records.size(); ++i) out += (i ? "," : "") + records[i];
  return out + "]}";
}

// The item identifiers of a batchItemFailures answer, in order.
std::vector<std::string> Failures(const std::string& body) {
  std::vector<std::string> out;
  const std::string key = R"("itemIdentifier":")";
  for (size_t at = body.find(key); at != std::string::npos; at = body.find(key, at + 1)) {
    size_t start = at + key.size();
    out.push_back(body.substr(start, body.find('"', start) - start));
  }
  return out;
}

// The users' ids ("usr_3") of the events, in order.
std::vector<std::string> UserIds(const std::vector<std::string>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    size_t at = e.find(R"("id":"usr_)");
    if (at == std::string::npos) continue;
    out.push_back(e.substr(at + 6, e.find('"', at + 6) - at - 6));
  }
  return out;
}

std::vector<std::string> Ids(std::initializer_list<int> users) {
  std::vector<std::string> out;
  for (int u : users) out.push_back("usr_" + std::to_string(u));
  return out;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class LambdaRuntime : public ::testing::Test {
 protected:
  void WriteConfig(const std::string& extra = "", int max_attempts = 3) {
    testing::WriteFile(dir_ / "config.yaml", R"(pipeline:
  name: coredb
  data_dir: ${CDC_DATA_DIR}
  log_level: debug
tables:
  users:
    function: processUserChanges
    event_types: [INSERT, UPDATE, DELETE]
    primary_key: [id]
    redact:
      email: mask:email
rules:
  everything:
    event_pattern: {source: [cdc.coredb]}
    targets: [all, hook]
targets:
  all:
    type: file
    path: ${CDC_DATA_DIR}/consumers/all.jsonl
  hook:
    type: http
    url: ${HOOK_URL}
    retry:
      max_attempts: )" + std::to_string(max_attempts) +
                                                 R"(
      initial_backoff_ms: 5
      max_backoff_ms: 20
)" + extra);
  }

  void Start(const std::string& handler = "processUserChanges") {
    process_ = std::make_unique<CliProcess>(
        std::vector<std::string>{"lambda", "--config", dir_ / "config.yaml"},
        std::map<std::string, std::string>{{"AWS_LAMBDA_RUNTIME_API", api_.address()},
                                           {"_HANDLER", handler},
                                           {"CDC_DATA_DIR", dir_ / "data"},
                                           {"HOOK_URL", endpoint_.url()}},
        dir_ / "lambda.log");
  }

  // Sends the batch and returns the runtime's answer.
  FakeRuntimeApi::Answer Invoke(const std::string& request_id, const std::string& event,
                                int timeout_ms = 60000) {
    api_.Invoke(request_id, event, timeout_ms);
    auto answer = api_.WaitForAnswer(request_id);
    EXPECT_TRUE(answer) << "no answer to " << request_id << "\n" << Log();
    return answer.value_or(FakeRuntimeApi::Answer{});
  }

  // SIGTERM while the runtime waits in next: it exits 0, promptly.
  void StopRuntime() {
    ASSERT_TRUE(api_.WaitUntilPolling()) << Log();
    auto start = std::chrono::steady_clock::now();
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(10), 0) << Log();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  }

  std::vector<std::string> FileEvents() {
    return testing::ReadLines(dir_ / "data/consumers/all.jsonl");
  }
  std::vector<std::string> DeadLetters() {
    return testing::ReadLines(dir_ / "data/dead-letter.jsonl");
  }
  std::string Log() { return testing::ReadFile(dir_ / "lambda.log"); }

  // `run --input` captures `input` (JSON lines) into the pipeline's kinesis stream `stream` on
  // kinesalite (made with `shards` shards when it does not exist; e-mails redacted at capture)
  // and returns its records as the AWS CLI reads them.
  std::vector<testing::KinesisRecord> CaptureIntoKinesis(const std::string& stream, int shards,
                                                         const std::string& input) {
    std::string missing;
    testing::AwsEmulator* kinesalite = testing::AwsEmulator::Kinesalite(&missing);
    EXPECT_NE(kinesalite, nullptr) << missing;
    if (kinesalite == nullptr) return {};
    testing::WriteFile(dir_ / "capture.yaml", R"(pipeline:
  name: coredb
  data_dir: ${CDC_DATA_DIR}
tables:
  users:
    function: processUserChanges
    event_types: [INSERT, UPDATE, DELETE]
    primary_key: [id]
    redact:
      email: mask:email
stream:
  type: kinesis
  shards: )" + std::to_string(shards) + R"(
  stream_name: )" + stream + R"(
  create: true
  endpoint: )" + kinesalite->endpoint() + "\n");
    testing::WriteFile(dir_ / "input.jsonl", input);
    std::map<std::string, std::string> env = testing::AwsTestEnv();
    env["CDC_DATA_DIR"] = dir_ / "capture";
    auto run = testing::RunCli(
        {"run", "--config", dir_ / "capture.yaml", "--input", dir_ / "input.jsonl"}, env);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return testing::ReadStreamWithAwsCli(kinesalite->endpoint(), stream);
  }

  TempDir dir_;
  FakeRuntimeApi api_;
  Endpoint endpoint_;
  std::unique_ptr<CliProcess> process_;
};

TEST_F(LambdaRuntime, AGoodBatchIsDeliveredAndAnsweredWithNoFailures) {
  WriteConfig();
  Start();
  auto answer = Invoke("req-1", Batch({KinesisRecord("101", UserChange(0)),
                                       KinesisRecord("102", UserChange(1, "UPDATE")),
                                       KinesisRecord("103", UserChange(2, "DELETE"))}));
  EXPECT_EQ(answer.kind, "response");
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  auto events = FileEvents();
  EXPECT_EQ(UserIds(events), Ids({0, 1, 2}));
  EXPECT_EQ(UserIds(endpoint_.delivered()), Ids({0, 1, 2}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(Contains(events[0], R"("detail-type":"users.INSERT")")) << events[0];
  EXPECT_TRUE(Contains(events[2], R"("detail-type":"users.DELETE")")) << events[2];
  // Redacted by the table's policy, and no e-mail address in the logs.
  for (const auto& e : events) EXPECT_FALSE(Contains(e, "user1@example.com")) << e;
  EXPECT_FALSE(Contains(Log(), "@example.com")) << Log();
  EXPECT_TRUE(DeadLetters().empty());
  StopRuntime();
}

TEST_F(LambdaRuntime, MalformedRecordsAreDeadLetteredWithTheirReasonNotRetried) {
  WriteConfig();
  Start();
  std::string other_table =
      R"({"eventType":"INSERT","tableName":"orders","timestamp":"2024-01-15T10:30:00Z","after":{"id":"o1"}})";
  auto answer = Invoke(
      "req-1",
      Batch({KinesisRecord("201", UserChange(0)), KinesisRecordRaw("202", "%%% not base64 %%%"),
             KinesisRecord("203", "hello, not JSON"), KinesisRecord("204", other_table),
             KinesisRecord("205", R"({"eventType":"INSERT"})"),
             KinesisRecord("206", UserChange(1))}));
  EXPECT_EQ(answer.kind, "response");
  EXPECT_TRUE(Failures(answer.body).empty()) << answer.body;
  EXPECT_EQ(UserIds(FileEvents()), Ids({0, 1}));
  EXPECT_EQ(UserIds(endpoint_.delivered()), Ids({0, 1}));
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 3u) << Log();
  EXPECT_TRUE(Contains(letters[0], "kinesis data is not base64")) << letters[0];
  EXPECT_TRUE(Contains(letters[0], "shardId-000000000000 seq 202")) << letters[0];
  EXPECT_TRUE(Contains(letters[1], "malformed JSON")) << letters[1];
  EXPECT_TRUE(Contains(letters[1], "seq 203")) << letters[1];
  // A change of another table is its function's (one stream carries every table): not a letter.
  EXPECT_TRUE(Contains(letters[2], "missing field 'tableName'")) << letters[2];
  StopRuntime();
}

TEST_F(LambdaRuntime, FailedDeliveriesAreReportedFromTheFirstAndRetriedOnce) {
  WriteConfig();
  Start();
  endpoint_.Allow(2);  // the endpoint takes two events, then answers 503
  std::vector<std::string> batch = {
      KinesisRecord("301", UserChange(0)), KinesisRecord("302", "not JSON"),
      KinesisRecord("303", UserChange(1)), KinesisRecord("304", UserChange(2)),
      KinesisRecord("305", UserChange(3)), KinesisRecord("306", UserChange(4))};
  auto first = Invoke("req-1", Batch(batch));
  EXPECT_EQ(first.kind, "response");
  // usr_2 (304) is the first record the endpoint refused (3 attempts); the later ones were not
  // delivered, to keep each key's order. The malformed 302 was dead-lettered, not reported.
  EXPECT_EQ(Failures(first.body), (std::vector<std::string>{"304", "305", "306"})) << first.body;
  EXPECT_EQ(UserIds(endpoint_.delivered()), Ids({0, 1}));
  EXPECT_EQ(endpoint_.requests(), 5u);               // 2 accepted, then 304 three times
  EXPECT_EQ(UserIds(FileEvents()), Ids({0, 1, 2}));  // the file target took 304 before
  EXPECT_EQ(DeadLetters().size(), 1u);

  // Lambda retries from the lowest failed sequence number; the endpoint is back.
  endpoint_.Allow(1 << 30);
  auto retry = Invoke("req-2", Batch({batch[3], batch[4], batch[5]}));
  EXPECT_TRUE(Failures(retry.body).empty()) << retry.body;
  EXPECT_EQ(UserIds(endpoint_.delivered()), Ids({0, 1, 2, 3, 4}));
  // usr_2 was already in the file: not written twice.
  EXPECT_EQ(UserIds(FileEvents()), Ids({0, 1, 2, 3, 4}));

  // The whole batch again (a retried invocation): no event is delivered twice. The malformed
  // record has no event id: it is dead-lettered again (docs/lambda.md).
  size_t requests = endpoint_.requests();
  auto again = Invoke("req-3", Batch(batch));
  EXPECT_TRUE(Failures(again.body).empty()) << again.body;
  EXPECT_EQ(endpoint_.requests(), requests);
  EXPECT_EQ(UserIds(FileEvents()), Ids({0, 1, 2, 3, 4}));
  EXPECT_EQ(DeadLetters().size(), 2u);
  StopRuntime();
}

TEST_F(LambdaRuntime, RetriesEndBeforeTheInvocationsDeadline) {
  WriteConfig("", 1000000);  // the policy alone would retry for a day
  Start();
  endpoint_.Allow(0);
  auto start = std::chrono::steady_clock::now();
  auto answer = Invoke(
      "req-1", Batch({KinesisRecord("401", UserChange(0)), KinesisRecord("402", UserChange(1))}),
      3000);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(answer.kind, "response");
  EXPECT_EQ(Failures(answer.body), (std::vector<std::string>{"401", "402"})) << answer.body;
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_GT(took, std::chrono::milliseconds(1500));
  EXPECT_GT(endpoint_.requests(), 10u);
  EXPECT_TRUE(DeadLetters().empty());  // reported, not dead-lettered
  StopRuntime();
}

TEST_F(LambdaRuntime, DynamoDbStreamsRecordsBecomeEvents) {
  WriteConfig();
  Start();
  const std::string arn =
      "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2024-01-15T10:30:00.000";
  auto record = [&](const std::string& name, const std::string& seq, const std::string& ddb) {
    return R"({"eventID":"e)" + seq + R"(","eventName":")" + name +
           R"(","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",)"
           R"("dynamodb":{"ApproximateCreationDateTime":1705314600,"SequenceNumber":")" +
           seq + R"(","SizeBytes":100,"StreamViewType":"NEW_AND_OLD_IMAGES",)" + ddb +
           R"(},"eventSourceARN":")" + arn + R"("})";
  };
  std::string keys = R"("Keys":{"id":{"S":"usr_7"}})";
  std::string image1 =
      R"({"id":{"S":"usr_7"},"email":{"S":"seven@example.com"},"age":{"N":"42"},)"
      R"("balance":{"N":"12345678901234567890.50"},"verified":{"BOOL":true},"nick":{"NULL":true},)"
      R"("tags":{"SS":["a","b"]},"prefs":{"M":{"theme":{"S":"dark"},"sizes":{"L":[{"N":"1"},{"N":"2.5"}]}}},)"
      R"("avatar":{"B":"AAEC"}})";
  std::string image2 = R"({"id":{"S":"usr_7"},"email":{"S":"seven@example.com"},"age":{"N":"43"}})";
  auto answer = Invoke(
      "req-1",
      Batch(
          {record("INSERT", "1001", keys + R"(,"NewImage":)" + image1),
           record("MODIFY", "1002", keys + R"(,"OldImage":)" + image1 + R"(,"NewImage":)" + image2),
           record("REMOVE", "1003", keys + R"(,"OldImage":)" + image2),
           record("INSERT", "1004", R"("Keys":{"id":{"Q":"x"}},"NewImage":{"id":{"Q":"x"}})")}));
  EXPECT_EQ(answer.kind, "response");
  EXPECT_TRUE(Failures(answer.body).empty()) << answer.body;
  auto events = FileEvents();
  ASSERT_EQ(events.size(), 3u) << Log();
  EXPECT_TRUE(Contains(events[0], R"("detail-type":"users.INSERT")")) << events[0];
  EXPECT_TRUE(Contains(events[0], R"("age":42)")) << events[0];
  EXPECT_TRUE(Contains(events[0], R"("balance":12345678901234567890.50)")) << events[0];
  EXPECT_TRUE(Contains(events[0], R"("verified":true,"nick":null,"tags":["a","b"])")) << events[0];
  EXPECT_TRUE(Contains(events[0], R"("prefs":{"theme":"dark","sizes":[1,2.5]})")) << events[0];
  EXPECT_TRUE(Contains(events[0], R"("avatar":"AAEC")")) << events[0];
  EXPECT_FALSE(Contains(events[0], "seven@example.com")) << events[0];
  EXPECT_TRUE(Contains(events[1], R"("detail-type":"users.UPDATE")")) << events[1];
  EXPECT_TRUE(Contains(events[1], R"("changedFields":[)")) << events[1];
  EXPECT_TRUE(Contains(events[2], R"("detail-type":"users.DELETE")")) << events[2];
  auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_TRUE(Contains(letters[0], "unknown attribute value type 'Q'")) << letters[0];
  EXPECT_TRUE(Contains(letters[0], "dynamodb stream users seq 1004")) << letters[0];

  // The same records again: the same event ids, nothing delivered twice.
  auto again =
      Invoke("req-2", Batch({record("INSERT", "1001", keys + R"(,"NewImage":)" + image1)}));
  EXPECT_TRUE(Failures(again.body).empty()) << again.body;
  EXPECT_EQ(FileEvents().size(), 3u);
  StopRuntime();
}

// With the state in DynamoDB, sandboxes of one function serve different shards at once: each
// shard has its own lease and state item, so a second sandbox is not held up by the first one's
// lease (60 s here: waiting for it would outlast the answer's wait).
TEST_F(LambdaRuntime, SandboxesOfOneFunctionServeTwoShardsAtOnceWithTheStateInDynamoDb) {
  std::string missing;
  testing::AwsEmulator* dynalite = testing::AwsEmulator::Dynalite(&missing);
  ASSERT_NE(dynalite, nullptr) << missing;
  WriteConfig("state:\n  type: dynamodb\n  table: lambda-state\n  create: true\n  endpoint: " +
              dynalite->endpoint() + "\n  lease_ms: 60000\n");
  std::map<std::string, std::string> env = testing::AwsTestEnv();
  env["_HANDLER"] = "processUserChanges";
  env["CDC_DATA_DIR"] = dir_ / "data";
  env["HOOK_URL"] = endpoint_.url();
  env["AWS_LAMBDA_RUNTIME_API"] = api_.address();
  process_ = std::make_unique<CliProcess>(
      std::vector<std::string>{"lambda", "--config", dir_ / "config.yaml"}, env,
      dir_ / "lambda.log");
  FakeRuntimeApi second_api;
  env["AWS_LAMBDA_RUNTIME_API"] = second_api.address();
  env["CDC_DATA_DIR"] = dir_ / "data2";
  CliProcess second({"lambda", "--config", dir_ / "config.yaml"}, env, dir_ / "lambda2.log");
  auto on_shard = [](const std::string& seq, int user, const std::string& shard) {
    std::string r = KinesisRecord(seq, UserChange(user));
    size_t at = r.find("shardId-000000000000");
    return r.replace(at, 20, shard);
  };
  auto first = Invoke("req-1", Batch({on_shard("201", 1, "shardId-000000000000")}));
  EXPECT_EQ(first.body, R"({"batchItemFailures":[]})");
  // The first sandbox lives on with its lease on shard 0; the second serves shard 1.
  second_api.Invoke("req-2", Batch({on_shard("301", 2, "shardId-000000000001")}));
  auto answer = second_api.WaitForAnswer("req-2", 20);
  ASSERT_TRUE(answer) << testing::ReadFile(dir_ / "lambda2.log");
  EXPECT_EQ(answer->body, R"({"batchItemFailures":[]})");
  EXPECT_EQ(UserIds(testing::ReadLines(dir_ / "data2/consumers/all.jsonl")), Ids({2}));
  // Each shard's state is an item of its own in the table (pk = pipeline/lambda/function/shard).
  auto scan = testing::RunAwsCli(dynalite->endpoint(), "dynamodb scan --table-name lambda-state");
  if (scan.exit_code != -1) {
    ASSERT_EQ(scan.exit_code, 0) << scan.err;
    EXPECT_TRUE(Contains(scan.out, "coredb/lambda/processUserChanges/shardId-000000000000"));
    EXPECT_TRUE(Contains(scan.out, "coredb/lambda/processUserChanges/shardId-000000000001"));
  }
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(10), 0);
  StopRuntime();
}

// `run` captures into the pipeline's own kinesis stream (kinesalite); the Lambda gets those
// records as Kinesis batches (read back with the AWS CLI): it decodes the frames, takes the
// capture as `run` made it (redacted at capture: the e-mail never reaches the stream), and
// follows the shard's chain: a copy of a record and a record put ahead of an earlier one are
// skipped, so each change is delivered once and in order.
TEST_F(LambdaRuntime, RecordsOfThePipelinesOwnKinesisStreamAreDeliveredOnceInOrder) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  WriteConfig();
  std::string input;
  for (int i = 0; i < 4; ++i) input += UserChange(i, i == 3 ? "UPDATE" : "INSERT") + "\n";
  auto put = CaptureIntoKinesis("lambda-own", 1, input);
  ASSERT_EQ(put.size(), 4u);
  for (const auto& r : put) EXPECT_FALSE(Contains(r.data, "user1@example.com"));
  auto record = [&](size_t i) { return OwnStreamRecord(put[i]); };
  Start();
  // Offsets 0, 2 (ahead of 1: put again later), 1, 2, then 1 again (a copy).
  auto answer = Invoke("req-1", Batch({record(0), record(2), record(1), record(2), record(1)}));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  EXPECT_EQ(UserIds(FileEvents()), Ids({0, 1, 2}));
  // The next batch goes on from the chain's place kept in the state store: offset 1 again is a
  // copy, offset 3 is next.
  answer = Invoke("req-2", Batch({record(1), record(3)}));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  auto events = FileEvents();
  EXPECT_EQ(UserIds(events), Ids({0, 1, 2, 3}));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(Contains(events[3], R"("detail-type":"users.UPDATE")")) << events[3];
  EXPECT_TRUE(Contains(events[1], R"("redacted":["email"])")) << events[1];
  EXPECT_TRUE(DeadLetters().empty()) << Log();
  StopRuntime();
}

// One Kinesis shard holding two pipeline shards' records, as after a merge (here: a stream of one
// Kinesis shard under `stream.shards: 2`): each pipeline shard's chain is followed on its own
// (by the record's partitionKey), so offset 0 of the second shard is not taken for a copy of
// the first's.
TEST_F(LambdaRuntime, AKinesisShardHoldingTwoPipelineShardsDeliversBothChains) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  std::string missing;
  testing::AwsEmulator* kinesalite = testing::AwsEmulator::Kinesalite(&missing);
  ASSERT_NE(kinesalite, nullptr) << missing;
  auto created = testing::RunAwsCli(kinesalite->endpoint(),
                                    "kinesis create-stream --stream-name lambda-merged "
                                    "--shard-count 1");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  WriteConfig();
  std::string input;
  for (int i = 0; i < 8; ++i) input += UserChange(i) + "\n";
  auto put = CaptureIntoKinesis("lambda-merged", 2, input);
  ASSERT_EQ(put.size(), 8u);
  std::set<std::string> keys;
  std::vector<std::string> batch;
  for (const auto& r : put) {
    keys.insert(r.partition_key);
    batch.push_back(OwnStreamRecord(r));
  }
  ASSERT_EQ(keys, (std::set<std::string>{"shard-0", "shard-1"})) << "both shards in one";
  Start();
  auto answer = Invoke("req-1", Batch(batch));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  auto ids = UserIds(FileEvents());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, Ids({0, 1, 2, 3, 4, 5, 6, 7})) << Log();
  // Again: every record is a copy now.
  answer = Invoke("req-2", Batch(batch));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  EXPECT_EQ(FileEvents().size(), 8u);
  StopRuntime();
}

// A change over 1 MB, which the pipeline's kinesis stream puts in fragments: a batch holding
// them all delivers it once, whole; a batch that ends before its last fragment reports it from
// its first fragment (Lambda retries from there) and delivers nothing of it.
TEST_F(LambdaRuntime, ARecordPutInFragmentsIsJoinedOrRetriedFromItsFirstFragment) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  WriteConfig();
  std::string bio(2'300'000, 'b');
  for (size_t i = 0; i < bio.size(); i += 1001) bio[i] = static_cast<char>('a' + i % 26);
  std::string big =
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
      R"("after":{"id":"usr_1","email":"u@example.com","status":"active","bio":")" +
      bio + R"("}})";
  auto put = CaptureIntoKinesis("lambda-fragments", 1,
                                UserChange(0) + "\n" + big + "\n" + UserChange(2) + "\n");
  ASSERT_EQ(put.size(), 5u) << "user 0, user 1 in 3 fragments, user 2";
  Start();
  // Up to the second fragment: user 0 delivered, user 1 reported from its first fragment.
  auto answer = Invoke(
      "req-1", Batch({OwnStreamRecord(put[0]), OwnStreamRecord(put[1]), OwnStreamRecord(put[2])}));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[{"itemIdentifier":")" + put[1].sequence +
                             R"("},{"itemIdentifier":")" + put[2].sequence + R"("}]})");
  EXPECT_EQ(UserIds(FileEvents()), Ids({0}));
  // Lambda retries from there with the rest: user 1 whole, then user 2.
  answer = Invoke("req-2", Batch({OwnStreamRecord(put[1]), OwnStreamRecord(put[2]),
                                  OwnStreamRecord(put[3]), OwnStreamRecord(put[4])}));
  EXPECT_EQ(answer.body, R"({"batchItemFailures":[]})");
  auto events = FileEvents();
  EXPECT_EQ(UserIds(events), Ids({0, 1, 2}));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(Contains(events[1], bio)) << "user 1's bio came through whole";
  EXPECT_TRUE(DeadLetters().empty()) << Log();
  StopRuntime();
}

TEST_F(LambdaRuntime, AnEventThatIsNoBatchFailsTheInvocation) {
  WriteConfig();
  Start();
  auto answer = Invoke("req-1", R"({"hello":"world"})");
  EXPECT_EQ(answer.kind, "error");
  EXPECT_EQ(answer.error_type, "Runtime.InvalidEvent");
  EXPECT_TRUE(Contains(answer.body, R"("errorType":"Runtime.InvalidEvent")")) << answer.body;
  EXPECT_TRUE(Contains(answer.body, "no Records array")) << answer.body;
  StopRuntime();
}

TEST_F(LambdaRuntime, AConfigErrorIsAnInitErrorAndExitsNonZero) {
  WriteConfig("no_such_section: 1\n");
  Start();
  auto init = api_.WaitForInitError();
  ASSERT_TRUE(init) << Log();
  EXPECT_EQ(init->error_type, "Runtime.ConfigError");
  EXPECT_TRUE(Contains(init->body, "no_such_section")) << init->body;
  EXPECT_EQ(process_->Wait(10), 1) << Log();
}

TEST_F(LambdaRuntime, AHandlerThatNamesNoTableIsAnInitError) {
  WriteConfig();
  Start("processNothingChanges");
  auto init = api_.WaitForInitError();
  ASSERT_TRUE(init) << Log();
  EXPECT_EQ(init->error_type, "Runtime.UnknownFunction");
  EXPECT_TRUE(Contains(init->body, "processNothingChanges")) << init->body;
  EXPECT_TRUE(Contains(init->body, "processUserChanges")) << init->body;
  EXPECT_EQ(process_->Wait(10), 1) << Log();
}

TEST_F(LambdaRuntime, WithoutTheRuntimeApiItSaysWhatItIs) {
  WriteConfig();
  auto r = testing::RunCli({"lambda", "--config", dir_ / "config.yaml"},
                           {{"CDC_DATA_DIR", dir_ / "data"}, {"HOOK_URL", endpoint_.url()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "AWS_LAMBDA_RUNTIME_API is not set")) << r.err;
}

}  // namespace
}  // namespace cdc
