// A gate in front of kinesalite or dynalite that checks requests' SigV4 signatures as AWS does
// (the emulators check none): a request signed with a key it does not know, or with the wrong
// secret, is answered with AWS's error (400 UnrecognizedClientException,
// InvalidSignatureException); a good one is forwarded. So wrong credentials can be tested
// against the emulators. The verifier is the bus API's (src/aws/sigv4.h), which the API tests
// check against the AWS CLI's signatures.
#pragma once

#include <atomic>
#include <ctime>
#include <map>
#include <string>

#include "aws/sigv4.h"
#include "event/json_writer.h"
#include "support/http_client.h"
#include "support/http_server.h"

namespace cdc::testing {

class SigningGate {
 public:
  // `secrets`: access key id -> secret access key.
  SigningGate(std::string upstream, std::map<std::string, std::string> secrets)
      : upstream_(std::move(upstream)),
        secrets_(std::move(secrets)),
        server_([this](size_t, const HttpRequest& r) { return Handle(r); }) {}
  std::string url() const { return server_.url("/"); }
  int refused() const { return refused_; }
  int forwarded() const { return forwarded_; }

 private:
  TestHttpServer::Answer Handle(const HttpRequest& r) {
    aws::SignedRequest signed_request;
    signed_request.method = r.method;
    signed_request.path = r.path;
    signed_request.header = [&r](std::string_view name) {
      std::string out;
      for (const auto& [n, v] : r.headers) {
        if (n == name) out += (out.empty() ? "" : ",") + v;
      }
      return out;
    };
    signed_request.body = r.body;
    aws::SigV4Failure failure =
        aws::VerifySigV4(signed_request, secrets_, static_cast<int64_t>(std::time(nullptr)));
    if (!failure.type.empty()) {
      ++refused_;
      std::string body;
      JsonWriter w(body);
      w.BeginObject()
          .Key("__type")
          .String(failure.type)
          .Key("message")
          .String(failure.message)
          .EndObject();
      return TestHttpServer::Answer{failure.http, body, "application/x-amz-json-1.1"};
    }
    ++forwarded_;
    return Forward(r);
  }

  TestHttpServer::Answer Forward(const HttpRequest& r) {
    std::vector<std::string> headers;
    for (const auto& [n, v] : r.headers) {
      if (n != "host" && n != "content-length" && n != "expect") headers.push_back(n + ": " + v);
    }
    HttpAnswer got = HttpPost(upstream_, headers, r.body);
    TestHttpServer::Answer a;
    a.status = got.status == 0 ? 502 : static_cast<int>(got.status);
    a.body = std::move(got.body);
    a.content_type = "application/x-amz-json-1.1";
    return a;
  }

  std::string upstream_;
  std::map<std::string, std::string> secrets_;
  std::atomic<int> refused_{0};
  std::atomic<int> forwarded_{0};
  TestHttpServer server_;  // last: stopped first
};

}  // namespace cdc::testing
