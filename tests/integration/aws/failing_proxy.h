// A proxy in front of kinesalite that fails some records of PutRecords calls the way Kinesis does
// (per record, ProvisionedThroughputExceededException), for the kinesis target and stream tests.
#pragma once

#include <curl/curl.h>
#include <simdjson.h>

#include <atomic>
#include <string>
#include <vector>

#include "event/json_writer.h"
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
    CURL* c = curl_easy_init();
    curl_slist* h = nullptr;
    h = curl_slist_append(h, ("X-Amz-Target: " + target).c_str());
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
    // kinesalite wants a signature-shaped header; it does not check it.
    h = curl_slist_append(h,
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/"
                          "kinesis/aws4_request, SignedHeaders=host, Signature=00");
    h = curl_slist_append(h, "X-Amz-Date: 20261206T000000Z");
    TestHttpServer::Answer a;
    curl_easy_setopt(c, CURLOPT_URL, upstream_.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* o) {
          static_cast<std::string*>(o)->append(d, s * n);
          return s * n;
        });
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
    if (curl_easy_perform(c) == CURLE_OK) {
      long code = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
      a.status = static_cast<int>(code);
    } else {
      a.status = 502;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    a.content_type = "application/x-amz-json-1.1";
    return a;
  }

  std::string upstream_;
  std::atomic<int> calls_{0};
  std::atomic<int> failed_{0};
  TestHttpServer server_;  // last: stopped first
};

}  // namespace cdc::testing
