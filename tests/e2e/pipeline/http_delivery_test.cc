// The http target through the binary, against a real HTTP server on 127.0.0.1: retries of a
// flaky endpoint, rejected events dead-lettered to their rule target's dead-letter target, a
// stalled endpoint that does not hold up the file targets, and kill -9 with events still queued
// for the endpoint (delivered after the restart; the file targets still get each event once).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <set>
#include <thread>

#include "support/http_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::TempDir;
using testing::TestHttpServer;

std::string SampleInput() {
  return testing::ReadFile(testing::SourcePath("tests/events/coredb-sample.jsonl"));
}

// The shipped config plus a rule `webhook` (every event) to the http target `hook` at
// ${HOOK_URL} (with `hook_entry` as its entry) and to the file target `all`, and `target_extra`
// settings for `hook`.
void WriteConfig(const TempDir& dir, const std::string& hook_entry = "hook",
                 const std::string& target_extra = "") {
  std::string config = testing::ReadFile(testing::SourcePath("config/cdc-pipeline.yaml"));
  std::string rule =
      "  webhook:\n"
      "    event_pattern:\n"
      "      source: [cdc.coredb]\n"
      "    targets:\n"
      "      - " +
      hook_entry +
      "\n"
      "      - all\n";
  size_t at = config.find("\ntargets:\n");
  EXPECT_NE(at, std::string::npos);
  config.insert(at + 1, rule);
  config +=
      "  all:\n"
      "    type: file\n"
      "    path: ${CDC_DATA_DIR}/consumers/all.jsonl\n"
      "  hook-dlq:\n"
      "    type: file\n"
      "    path: ${CDC_DATA_DIR}/hook-dlq.jsonl\n"
      "  hook:\n"
      "    type: http\n"
      "    url: ${HOOK_URL}\n"
      "    headers:\n"
      "      Authorization: Bearer ${HOOK_TOKEN:-secret-token}\n"
      "    retry:\n"
      "      initial_backoff_ms: 5\n"
      "      max_backoff_ms: 20\n" +
      target_extra;
  testing::WriteFile(dir / "config.yaml", config);
  testing::CopyShippedModels(dir.path());
}

std::string IdOf(const std::string& event) {
  size_t at = event.find(R"("id":")");
  if (at == std::string::npos) return "";
  return event.substr(at + 6, 36);
}

TEST(HttpTarget, AFlakyEndpointGetsEveryEventOnceInOrder) {
  TempDir dir;
  WriteConfig(dir);
  TestHttpServer server([](size_t n, const auto&) { return n < 3 ? 503 : 200; });
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", server.url()}},
                           CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = testing::ReadLines(dir / "consumers/all.jsonl");
  ASSERT_GT(all.size(), 10u);
  // The same events, in the same order per row (shards are delivered in parallel).
  EXPECT_EQ(testing::ByKey(server.delivered()), testing::ByKey(all));
  EXPECT_GT(testing::ByKey(all).size(), 10u);
  EXPECT_EQ(server.delivered().size(), all.size());
  auto requests = server.requests();
  EXPECT_EQ(requests.size(), all.size() + 3);
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/events");
  auto has = [&](const std::string& name, const std::string& value) {
    for (const auto& [n, v] : requests[0].headers) {
      if (n == name && v == value) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("authorization", "Bearer secret-token"));
  EXPECT_TRUE(has("content-type", "application/json; charset=utf-8"));
  // Every request carries its event's id as the Idempotency-Key (the three retried requests of
  // the first event too), so the endpoint can drop a redelivery.
  for (const auto& request : requests) {
    std::string key;
    for (const auto& [n, v] : request.headers) {
      if (n == "idempotency-key") key = v;
    }
    EXPECT_EQ(key, IdOf(request.body)) << request.body;
  }
  // The three refused requests were retried: each of their events was delivered later.
  std::set<std::string> delivered_ids;
  for (const auto& e : server.delivered()) delivered_ids.insert(IdOf(e));
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(delivered_ids.contains(IdOf(requests[i].body)));
  // The retries were logged without the URL's path or the token.
  EXPECT_NE(r.err.find("answered HTTP 503"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret-token"), std::string::npos);
  EXPECT_EQ(r.err.find("/events"), std::string::npos);
  for (const auto& line : testing::ReadLines(dir / "dead-letter.jsonl")) {
    EXPECT_EQ(line.find(R"("stage":"delivery")"), std::string::npos) << line;
  }
}

TEST(HttpTarget, RejectedEventsGoToTheRuleTargetsDeadLetterTarget) {
  TempDir dir;
  WriteConfig(dir, "{target: hook, dead_letter: hook-dlq}");
  TestHttpServer server([](size_t, const testing::HttpRequest& req) {
    return req.body.find(R"("detail-type":"orders.)") != std::string::npos ? 400 : 200;
  });
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", server.url()}},
                           CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = testing::ReadLines(dir / "consumers/all.jsonl");
  std::vector<std::string> orders, others;
  for (const auto& e : all) {
    (e.find(R"("detail-type":"orders.)") != std::string::npos ? orders : others).push_back(e);
  }
  ASSERT_FALSE(orders.empty());
  EXPECT_EQ(testing::ByKey(server.delivered()), testing::ByKey(others));
  EXPECT_EQ(server.delivered().size(), others.size());
  auto letters = testing::ReadLines(dir / "hook-dlq.jsonl");
  ASSERT_EQ(letters.size(), orders.size());
  std::set<std::string> order_ids;
  for (const auto& e : orders) order_ids.insert(IdOf(e));
  for (const std::string& l : letters) {
    EXPECT_NE(l.find(R"("stage":"delivery")"), std::string::npos) << l;
    EXPECT_NE(l.find(R"("rule":"webhook","target":"hook","attempts":1)"), std::string::npos) << l;
    EXPECT_NE(l.find("answered HTTP 400"), std::string::npos) << l;
    size_t at = l.find(R"("event":{"version":"0","id":")");
    ASSERT_NE(at, std::string::npos) << l;
    EXPECT_EQ(order_ids.erase(l.substr(at + 29, 36)), 1u) << l;
  }
  for (const auto& line : testing::ReadLines(dir / "dead-letter.jsonl")) {
    EXPECT_EQ(line.find(R"("stage":"delivery")"), std::string::npos) << line;
  }
}

TEST(HttpTarget, ADownEndpointDeadLettersAfterMaxAttempts) {
  TempDir dir;
  WriteConfig(dir, "hook", "      max_attempts: 3\n");
  TestHttpServer server([](size_t, const auto&) { return 503; });
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", "-"},
                           {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", server.url()}},
                           CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto all = testing::ReadLines(dir / "consumers/all.jsonl");
  EXPECT_EQ(server.requests().size(), 3 * all.size());
  size_t letters = 0;
  for (const auto& line : testing::ReadLines(dir / "dead-letter.jsonl")) {
    if (line.find(R"("stage":"delivery")") == std::string::npos) continue;
    ++letters;
    EXPECT_NE(line.find(R"("attempts":3)"), std::string::npos) << line;
  }
  EXPECT_EQ(letters, all.size());
}

TEST(HttpTarget, AStalledEndpointDoesNotHoldUpTheFileTargets) {
  TempDir dir;
  WriteConfig(dir);
  testing::WriteFile(dir / "input.jsonl", SampleInput());
  TestHttpServer server([](size_t, const auto&) { return 200; });
  server.Hold(true);
  CliProcess run({"run", "--config", dir / "config.yaml", "--input", dir / "input.jsonl"},
                 {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", server.url()}}, dir / "run.log");
  // Every file target gets everything while the endpoint answers nothing.
  TempDir reference;
  WriteConfig(reference);
  TestHttpServer healthy([](size_t, const auto&) { return 200; });
  auto ref = testing::RunCli({"run", "--config", reference / "config.yaml", "--input", "-"},
                             {{"CDC_DATA_DIR", reference.path()}, {"HOOK_URL", healthy.url()}},
                             CDC_SOURCE_DIR, SampleInput());
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  size_t want = testing::ReadLines(reference / "consumers/all.jsonl").size();
  for (int i = 0; i < 300 && testing::ReadLines(dir / "consumers/all.jsonl").size() < want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(testing::ReadLines(dir / "consumers/all.jsonl").size(), want);
  EXPECT_TRUE(server.delivered().empty());
  EXPECT_TRUE(run.running());  // it waits for the endpoint before it exits
  server.Hold(false);
  EXPECT_EQ(run.Wait(30), 0) << testing::ReadFile(dir / "run.log");
  EXPECT_EQ(testing::ByKey(server.delivered()),
            testing::ByKey(testing::ReadLines(dir / "consumers/all.jsonl")));
}

TEST(HttpTarget, Kill9WithEventsQueuedForTheEndpointDeliversThemAfterTheRestart) {
  TempDir dir;
  WriteConfig(dir, "hook", "      max_attempts: 1000000\n");
  testing::WriteFile(dir / "input.jsonl", SampleInput());
  std::set<std::string> want;
  {
    TestHttpServer down([](size_t, const auto&) { return 503; });
    CliProcess run({"run", "--config", dir / "config.yaml", "--input", dir / "input.jsonl"},
                   {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", down.url()}}, dir / "run.log");
    // Let the file targets get everything and a checkpoint pass, then crash.
    for (int i = 0; i < 300 && testing::ReadLines(dir / "consumers/all.jsonl").size() < 10; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    ASSERT_TRUE(run.running()) << testing::ReadFile(dir / "run.log");
    run.Signal(SIGKILL);
    EXPECT_EQ(run.Wait(10), 128 + SIGKILL);
    for (const auto& e : testing::ReadLines(dir / "consumers/all.jsonl")) want.insert(IdOf(e));
    ASSERT_GT(want.size(), 10u);
  }
  auto before = testing::ReadLines(dir / "consumers/all.jsonl");
  TestHttpServer up([](size_t, const auto&) { return 200; });
  testing::WriteFile(dir / "empty.jsonl", "");
  auto r = testing::RunCli({"run", "--config", dir / "config.yaml", "--input", dir / "empty.jsonl"},
                           {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", up.url()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> got;
  for (const auto& e : up.delivered()) got.insert(IdOf(e));
  EXPECT_EQ(got, want);  // every event reached the endpoint after the restart
  // The file targets were not written again.
  EXPECT_EQ(testing::ReadLines(dir / "consumers/all.jsonl"), before);
  auto status = testing::RunCli({"status", "--config", dir / "config.yaml"},
                                {{"CDC_DATA_DIR", dir.path()}, {"HOOK_URL", up.url()}});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("hook"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace cdc
