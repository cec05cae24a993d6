// SigV4 verification (the bus API's api.access_key_id): AWS's published get-vanilla vector, and
// every way a request can fail the check. Signed requests of real clients (the AWS CLI, the JS
// SDK, libcurl) are checked end to end in tests/e2e/api/bus_api_test.cc.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <map>

namespace cdc::aws {
namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kAt = 1440938160;  // 2015-08-30T12:36:00Z
constexpr char kVanilla[] = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

// AWS's get-vanilla request: GET / with Host and X-Amz-Date, signed by AKIDEXAMPLE.
struct Vanilla {
  std::map<std::string, std::string> headers = {
      {"host", "example.amazonaws.com"},
      {"x-amz-date", "20150830T123600Z"},
      {"authorization",
       std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                   "aws4_request, SignedHeaders=host;x-amz-date, Signature=") +
           kVanilla}};
  std::string body;

  SignedRequest Request() const {
    SignedRequest r;
    r.method = "GET";
    r.path = "/";
    r.header = [this](std::string_view name) {
      auto it = headers.find(std::string(name));
      return it == headers.end() ? std::string() : it->second;
    };
    r.body = body;
    return r;
  }
};

const std::map<std::string, std::string> kKeys = {{"AKIDEXAMPLE", kSecret}};

TEST(SigV4, ComputesTheGetVanillaSignature) {
  std::string canonical =
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  EXPECT_EQ(
      SigV4Signature(kSecret, "20150830", "us-east-1", "service", "20150830T123600Z", canonical),
      kVanilla);
}

TEST(SigV4, AcceptsTheGetVanillaRequest) {
  Vanilla v;
  SigV4Failure f = VerifySigV4(v.Request(), kKeys, kAt);
  EXPECT_EQ(f.type, "") << f.message;
  // Within 15 minutes either way of the server's clock.
  EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt + 14 * 60).type, "");
  EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt - 14 * 60).type, "");
}

TEST(SigV4, RefusesEachWayARequestCanBeWrong) {
  {
    Vanilla v;
    v.headers.erase("authorization");
    SigV4Failure f = VerifySigV4(v.Request(), kKeys, kAt);
    EXPECT_EQ(f.type, "MissingAuthenticationTokenException");
    EXPECT_EQ(f.http, 403);
  }
  {
    Vanilla v;  // another secret
    SigV4Failure f = VerifySigV4(v.Request(), {{"AKIDEXAMPLE", "another-secret"}}, kAt);
    EXPECT_EQ(f.type, "InvalidSignatureException");
    EXPECT_EQ(f.message.find("another-secret"), std::string::npos);
  }
  {
    Vanilla v;  // an unknown key id
    SigV4Failure f = VerifySigV4(v.Request(), {{"AKIDOTHER", kSecret}}, kAt);
    EXPECT_EQ(f.type, "UnrecognizedClientException");
  }
  {
    Vanilla v;  // a body the signature was not made over
    v.body = "{}";
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "InvalidSignatureException");
  }
  {
    Vanilla v;  // a signed header changed on the way
    v.headers["host"] = "elsewhere.example.com";
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "InvalidSignatureException");
  }
  {
    Vanilla v;  // replayed later than 15 minutes
    SigV4Failure f = VerifySigV4(v.Request(), kKeys, kAt + 16 * 60);
    EXPECT_EQ(f.type, "InvalidSignatureException");
    EXPECT_NE(f.message.find("expired"), std::string::npos) << f.message;
  }
  {
    Vanilla v;  // not the algorithm, or parts missing
    v.headers["authorization"] = "Basic dXNlcjpwYXNz";
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "IncompleteSignatureException");
    v.headers["authorization"] =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "IncompleteSignatureException");
  }
  {
    Vanilla v;  // no X-Amz-Date
    v.headers.erase("x-amz-date");
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "IncompleteSignatureException");
  }
  {
    Vanilla v;  // a payload hash that is not the body's
    v.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    EXPECT_EQ(VerifySigV4(v.Request(), kKeys, kAt).type, "InvalidSignatureException");
  }
}

}  // namespace
}  // namespace cdc::aws
