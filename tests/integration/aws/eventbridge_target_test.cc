// The eventbridge target on its own: the PutEvents entries it makes from the envelope, and how
// it treats EventBridge's answers, against an endpoint scripted per test (partial failures,
// refusals, a missing bus). End to end against the pipeline's own bus API in a second process:
// tests/e2e/api/eventbridge_target_test.cc.
#include "target/eventbridge/eventbridge_target.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "integration/aws/aws_test_util.h"
#include "support/http_server.h"

namespace cdc {
namespace {

using testing::TestHttpServer;
using Answer = TestHttpServer::Answer;

constexpr char kEnvelope[] =
    R"({"version":"0","id":"c9217c0a-18eb-5cdb-8134-894eaf61a5bb","detail-type":"users.INSERT",)"
    R"("source":"cdc.coredb","account":"000000000000","time":"2024-01-15T09:12:00Z",)"
    R"("region":"local","resources":["arn:x"],"detail":{"eventType":"INSERT",)"
    R"("after":{"id":"u1"},"metadata":{"pipeline":"coredb","schemaVersion":1}}})";

TEST(PutEventsEntry, MapsTheEnvelopeAndCarriesTheEventIdInDetail) {
  auto entry = MakePutEventsEntry(kEnvelope, "c9217c0a-18eb-5cdb-8134-894eaf61a5bb", "bus-a");
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(entry->json);
  EXPECT_EQ(std::string_view(e["Source"].get_string()), "cdc.coredb");
  EXPECT_EQ(std::string_view(e["DetailType"].get_string()), "users.INSERT");
  EXPECT_EQ(std::string_view(e["EventBusName"].get_string()), "bus-a");
  EXPECT_EQ(int64_t(e["Time"].get_int64()), 1705309920);  // 2024-01-15T09:12:00Z
  EXPECT_EQ(std::string_view(e["Resources"].at(0).get_string()), "arn:x");
  std::string detail(std::string_view(e["Detail"].get_string()));
  EXPECT_EQ(detail, R"({"eventType":"INSERT","after":{"id":"u1"},"metadata":{"pipeline":"coredb",)"
                    R"("schemaVersion":1,"eventId":"c9217c0a-18eb-5cdb-8134-894eaf61a5bb"}})");
  // Source + DetailType + Detail + Resources + 14 for Time, as EventBridge counts an entry.
  EXPECT_EQ(entry->size, 10 + 12 + detail.size() + 5 + 14);

  // A detail without metadata gets one; an existing eventId is replaced, not doubled.
  auto bare = MakePutEventsEntry(
      R"({"source":"s","detail-type":"t","detail":{"a":1,"metadata":{"eventId":"old"}}})", "new",
      "b");
  ASSERT_TRUE(bare.ok());
  simdjson::dom::element b = parser.parse(bare->json);
  EXPECT_EQ(std::string_view(b["Detail"].get_string()), R"({"a":1,"metadata":{"eventId":"new"}})");
  EXPECT_FALSE(b["Time"].error() == simdjson::SUCCESS);
  EXPECT_FALSE(b["Resources"].error() == simdjson::SUCCESS);
  auto none = MakePutEventsEntry(R"({"source":"s","detail-type":"t","detail":{"a":1}})", "i", "b");
  ASSERT_TRUE(none.ok());
  simdjson::dom::element n = parser.parse(none->json);
  EXPECT_EQ(std::string_view(n["Detail"].get_string()), R"({"a":1,"metadata":{"eventId":"i"}})");

  // Not an envelope (what an input transformer makes): refused with what to fix.
  auto other = MakePutEventsEntry(R"({"orderId":"o1"})", "i", "b");
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("input transformer"), std::string::npos);
}

// An EventBridge endpoint: per request, `answer(n, entries)` gives each entry's ErrorCode
// (empty: accepted). Records what it accepted, by the events' ids, in order.
class ScriptedBus {
 public:
  using Script = std::function<std::vector<std::string>(size_t n, size_t entries)>;
  explicit ScriptedBus(Script script)
      : script_(std::move(script)),
        server_([this](size_t n, const testing::HttpRequest& r) { return Answer_(n, r); }) {}

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<size_t> batch_sizes() const {
    std::lock_guard lock(mu_);
    return sizes_;
  }
  std::vector<testing::HttpRequest> requests() const { return server_.requests(); }

 private:
  Answer Answer_(size_t n, const testing::HttpRequest& r) {
    simdjson::dom::parser parser;
    simdjson::dom::element req;
    if (parser.parse(r.body).get(req) != simdjson::SUCCESS) return {400, "{}"};
    simdjson::dom::array entries = req["Entries"].get_array();
    std::vector<std::string> codes = script_(n, entries.size());
    std::string out = R"({"FailedEntryCount":)";
    size_t failed = 0;
    for (const auto& c : codes) failed += c.empty() ? 0 : 1;
    out += std::to_string(failed) + R"(,"Entries":[)";
    std::lock_guard lock(mu_);
    sizes_.push_back(entries.size());
    size_t i = 0;
    for (simdjson::dom::element e : entries) {
      if (i > 0) out += ",";
      if (codes[i].empty()) {
        simdjson::dom::parser dp;
        simdjson::dom::element d =
            dp.parse(std::string(std::string_view(e["Detail"].get_string())));
        accepted_.push_back(std::string(std::string_view(d["metadata"]["eventId"].get_string())));
        out += R"({"EventId":"e)" + std::to_string(n) + "-" + std::to_string(i) + R"("})";
      } else {
        out += R"({"ErrorCode":")" + codes[i] + R"(","ErrorMessage":"scripted"})";
      }
      ++i;
    }
    return {200, out + "]}", "application/x-amz-json-1.1"};
  }

  Script script_;
  mutable std::mutex mu_;
  std::vector<std::string> accepted_;
  std::vector<size_t> sizes_;
  TestHttpServer server_;
};

class EventBridgeTargetDirect : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
  }

  std::unique_ptr<Target> Build(const std::string& endpoint) {
    auto options = std::make_shared<EventBridgeTargetOptions>();
    options->bus_name = "cdc-events";
    options->endpoint = endpoint;
    auto target = testing::BuildKindTarget("eventbridge", options);
    EXPECT_TRUE(target.ok()) << target.status().message();
    return target.ok() ? std::move(*target) : nullptr;
  }

  // Events for keys k0..k(keys-1), `per_key` each, interleaved: ids "k<key>-<n>".
  void MakeEvents(size_t keys, size_t per_key) {
    for (size_t n = 0; n < per_key; ++n) {
      for (size_t k = 0; k < keys; ++k) {
        ids_.push_back("k" + std::to_string(k) + "-" + std::to_string(n));
        keys_.push_back("users\x1fk" + std::to_string(k));
        bodies_.push_back(R"({"source":"cdc.coredb","detail-type":"users.UPDATE",)"
                          R"("time":"2024-01-15T09:12:00Z","detail":{"n":)" +
                          std::to_string(n) + "}}");
      }
    }
    for (size_t i = 0; i < ids_.size(); ++i) {
      events_.push_back({bodies_[i], ids_[i], 0, {}, keys_[i]});
    }
  }

  std::vector<std::string> ids_, keys_, bodies_;
  std::vector<Outgoing> events_;
};

TEST_F(EventBridgeTargetDirect, SignsPutEventsAndSendsAtMostTenEntriesACall) {
  ScriptedBus bus([](size_t, size_t entries) { return std::vector<std::string>(entries); });
  auto target = Build(bus.endpoint());
  ASSERT_NE(target, nullptr);
  // 10 entries a call, `concurrency` (default 8) calls at once.
  EXPECT_EQ(target->max_batch(), 80u);
  MakeEvents(25, 1);
  std::vector<DeliveryOutcome> results(events_.size());
  target->DeliverBatch(events_, results);
  for (const auto& r : results) EXPECT_EQ(r.result, Delivery::kDelivered) << r.error.message();
  std::vector<testing::HttpRequest> requests = bus.requests();
  ASSERT_EQ(requests.size(), 3u);
  std::vector<size_t> sizes = bus.batch_sizes();
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 10, 10}));
  for (const testing::HttpRequest& req : requests) {
    std::map<std::string, std::string> headers(req.headers.begin(), req.headers.end());
    EXPECT_EQ(headers["x-amz-target"], "AWSEvents.PutEvents");
    EXPECT_EQ(headers["content-type"], "application/x-amz-json-1.1");
    EXPECT_NE(headers["authorization"].find("/events/aws4_request"), std::string::npos)
        << headers["authorization"];
  }
  std::vector<std::string> accepted = bus.accepted();
  EXPECT_EQ(std::set<std::string>(accepted.begin(), accepted.end()),
            std::set<std::string>(ids_.begin(), ids_.end()));
  EXPECT_EQ(accepted.size(), ids_.size());
}

TEST_F(EventBridgeTargetDirect, RetriesOnlyFailedEntriesAndKeepsEachRowsOrder) {
  // Every call fails a third of its entries, a different third each time (throttled, an
  // internal failure).
  ScriptedBus bus([](size_t n, size_t entries) {
    std::vector<std::string> codes(entries);
    for (size_t i = 0; i < entries; ++i) {
      if ((n + i) % 3 == 0) codes[i] = i % 2 == 0 ? "ThrottlingException" : "InternalFailure";
    }
    return codes;
  });
  auto target = Build(bus.endpoint());
  ASSERT_NE(target, nullptr);
  MakeEvents(4, 6);  // 24 events, 6 per row
  // What the delivery runner does: send the batch, then again only what was answered kRetry.
  std::vector<size_t> pending(events_.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  for (int attempt = 0; attempt < 100 && !pending.empty(); ++attempt) {
    std::vector<Outgoing> batch;
    for (size_t i : pending) batch.push_back(events_[i]);
    std::vector<DeliveryOutcome> results(batch.size());
    target->DeliverBatch(batch, results);
    std::vector<size_t> next;
    for (size_t j = 0; j < batch.size(); ++j) {
      ASSERT_NE(results[j].result, Delivery::kFailed) << results[j].error.message();
      if (results[j].result == Delivery::kRetry) next.push_back(pending[j]);
    }
    pending = std::move(next);
  }
  ASSERT_TRUE(pending.empty());
  std::vector<std::string> accepted = bus.accepted();
  // Each event once, and per row in order.
  EXPECT_EQ(std::set<std::string>(accepted.begin(), accepted.end()),
            std::set<std::string>(ids_.begin(), ids_.end()));
  EXPECT_EQ(accepted.size(), ids_.size());
  std::map<std::string, int> last;
  for (const auto& id : accepted) {
    std::string key = id.substr(0, id.find('-'));
    int n = std::stoi(id.substr(id.find('-') + 1));
    EXPECT_EQ(n, last.count(key) ? last[key] + 1 : 0) << "row " << key << " out of order";
    last[key] = n;
  }
  for (size_t s : bus.batch_sizes()) EXPECT_LE(s, 10u);
}

TEST_F(EventBridgeTargetDirect, RefusedAndOversizedEntriesAreDeadLetteredAndAMissingBusStops) {
  ScriptedBus bus([](size_t n, size_t entries) {
    std::vector<std::string> codes(entries);
    if (n == 0) codes[0] = "MalformedDetail";
    if (n == 1) codes.assign(entries, "NotFoundException");
    return codes;
  });
  auto target = Build(bus.endpoint());
  ASSERT_NE(target, nullptr);
  std::string big = R"({"source":"s","detail-type":"t","detail":{"x":")" +
                    std::string(256 * 1024, 'x') + R"("}})";
  std::vector<Outgoing> events = {{R"({"source":"s","detail-type":"t","detail":{}})",
                                   "a",
                                   0,
                                   {},
                                   "t\x1f"
                                   "1"},
                                  {big,
                                   "b",
                                   0,
                                   {},
                                   "t\x1f"
                                   "2"},
                                  {R"({"not":"an envelope"})",
                                   "c",
                                   0,
                                   {},
                                   "t\x1f"
                                   "3"},
                                  {R"({"source":"s","detail-type":"t","detail":{}})",
                                   "d",
                                   0,
                                   {},
                                   "t\x1f"
                                   "4"}};
  std::vector<DeliveryOutcome> results(events.size());
  target->DeliverBatch(events, results);
  EXPECT_EQ(results[0].result, Delivery::kFailed);
  EXPECT_NE(results[0].error.message().find("MalformedDetail"), std::string::npos);
  EXPECT_EQ(results[1].result, Delivery::kFailed);
  EXPECT_NE(results[1].error.message().find("256 KB"), std::string::npos);
  EXPECT_EQ(results[2].result, Delivery::kFailed);
  EXPECT_EQ(results[3].result, Delivery::kDelivered) << results[3].error.message();
  EXPECT_EQ(bus.accepted(), std::vector<std::string>{"d"});

  std::vector<DeliveryOutcome> again(1);
  target->DeliverBatch(std::span(events).first(1), again);
  EXPECT_EQ(again[0].result, Delivery::kFatal);
  EXPECT_NE(again[0].error.message().find("NotFoundException"), std::string::npos);
}

}  // namespace
}  // namespace cdc
