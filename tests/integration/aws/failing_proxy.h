// A proxy in front of kinesalite that fails some records of PutRecords calls the way Kinesis does
// (per record, ProvisionedThroughputExceededException), for the kinesis target and stream tests.
#pragma once

#include <simdjson.h>

#include <atomic>
#include <string>
#include <vector>

#include "event/json_writer.h"
#include "support/http_client.h"
#include "support/http_server.h"

namespace cdc::testing {

// A proxy that forwards PutRecords to kinesalite without every third record of the first calls
// and answers those as ProvisionedThroughputExceededException, as Kinesis does per record.
class FailingProxy {
 public:
  explicit FailingProxy(std::string upstream)
      : upstream_(std::move(upstream)),
        server_([this](size_t, const HttpRequest& r) { return Forward(r); }) {}
  std::string url() const { return server_.url("/"); }
  int failed() const { return failed_; }

 private:
  TestHttpServer::Answer Forward(const HttpRequest& r) {
    std::string target;
    for (const auto& [n, v] : r.headers) {
      if (n == "x-amz-target") target = v;
    }
    std::string body = r.body;
    std::vector<bool> drop;
    if (target.ends_with(".PutRecords") && calls_++ < 20) {
      simdjson::dom::parser parser;
      simdjson::dom::element root = parser.parse(r.body);
      std::string out;
      JsonWriter w(out);
      w.BeginObject().Key("StreamName").String(std::string_view(root["StreamName"]));
      w.Key("Records").BeginArray();
      size_t i = 0;
      simdjson::dom::array in;
      if (root["Records"].get(in) != simdjson::SUCCESS) return TestHttpServer::Answer{400, "{}"};
      for (simdjson::dom::element rec : in) {
        bool fail = i++ % 3 == 1;
        drop.push_back(fail);
        if (!fail) w.Raw(simdjson::minify(rec));
      }
      w.EndArray().EndObject();
      body = out;
    }
    TestHttpServer::Answer a = Post(target, body);
    if (drop.empty() || a.status != 200) return a;
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(a.body);
    simdjson::dom::array results;
    if (root["Records"].get(results) != simdjson::SUCCESS) return a;
    std::string out;
    JsonWriter w(out);
    int64_t failed = int64_t(root["FailedRecordCount"]);
    w.BeginObject();
    w.Key("Records").BeginArray();
    auto it = results.begin();
    for (bool d : drop) {
      if (d) {
        ++failed;
        ++failed_;
        w.BeginObject()
            .Key("ErrorCode")
            .String("ProvisionedThroughputExceededException")
            .Key("ErrorMessage")
            .String("Rate exceeded for shard shardId-000000000000 in stream s under account 0.")
            .EndObject();
      } else {
        w.Raw(simdjson::minify(*it));
        ++it;
      }
    }
    w.EndArray().Key("FailedRecordCount").Int(failed).EndObject();
    a.body = out;
    return a;
  }

  TestHttpServer::Answer Post(const std::string& target, const std::string& body) {
    // kinesalite wants a signature-shaped header; it does not check it.
    HttpAnswer got =
        HttpPost(upstream_,
                 {"X-Amz-Target: " + target, "Content-Type: application/x-amz-json-1.1",
                  "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/"
                  "kinesis/aws4_request, SignedHeaders=host, Signature=00",
                  "X-Amz-Date: 20261206T000000Z"},
                 body);
    TestHttpServer::Answer a;
    a.status = got.status == 0 ? 502 : static_cast<int>(got.status);
    a.body = std::move(got.body);
    a.content_type = "application/x-amz-json-1.1";
    return a;
  }

  std::string upstream_;
  std::atomic<int> calls_{0};
  std::atomic<int> failed_{0};
  TestHttpServer server_;  // last: stopped first
};

}  // namespace cdc::testing
