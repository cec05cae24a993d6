// The AWS JSON client (src/aws) against our own HTTP server on 127.0.0.1: libcurl's SigV4
// headers, the credential chain in order (environment, profile file, container and IMDSv2
// metadata served by the test server, never the real metadata address), region and endpoint
// precedence, the classification of AWS error answers, and no secret in any message.
#include <gtest/gtest.h>

#include <map>

#include "aws/client.h"
#include "aws/credentials.h"
#include "support/http_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::TempDir;
using testing::TestHttpServer;
using Answer = TestHttpServer::Answer;

constexpr const char* kKeyId = "AKIDEXAMPLESECRETID";
constexpr const char* kSecret = "wJalrXUtnFEMI-secret-key-value";
constexpr const char* kToken = "session-token-value-secret";

aws::Environment EnvOf(std::map<std::string, std::string> vars) {
  // Never the machine's metadata service: tests that want one point at their own server.
  vars.emplace("AWS_EC2_METADATA_DISABLED", "true");
  vars.emplace("HOME", "/nonexistent-home");
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string Header(const testing::HttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

std::unique_ptr<aws::JsonClient> Client(const std::string& endpoint,
                                        std::map<std::string, std::string> env,
                                        aws::Service service = aws::kKinesis) {
  aws::ClientOptions o;
  o.service = service;
  o.region = "eu-west-1";
  o.endpoint = endpoint;
  o.timeout_ms = 5000;
  o.credentials.env = EnvOf(std::move(env));
  auto c = aws::JsonClient::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : nullptr;
}

void ExpectNoSecret(const std::string& text) {
  EXPECT_EQ(text.find(kKeyId), std::string::npos) << text;
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  EXPECT_EQ(text.find(kToken), std::string::npos) << text;
  EXPECT_EQ(text.find("Signature="), std::string::npos) << text;
}

TEST(AwsClient, SignsWithSigV4AndSendsTheJson11Headers) {
  TestHttpServer server([](size_t, const auto&) { return Answer{200, R"({"StreamNames":[]})"}; });
  auto client = Client(server.url("/"), {{"AWS_ACCESS_KEY_ID", kKeyId},
                                         {"AWS_SECRET_ACCESS_KEY", kSecret},
                                         {"AWS_SESSION_TOKEN", kToken}});
  ASSERT_NE(client, nullptr);
  aws::Response r = client->Call("ListStreams", "{}");
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.body, R"({"StreamNames":[]})");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.body, "{}");
  EXPECT_EQ(Header(req, "x-amz-target"), "Kinesis_20131202.ListStreams");
  EXPECT_EQ(Header(req, "content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(Header(req, "x-amz-security-token"), kToken);
  EXPECT_FALSE(Header(req, "x-amz-date").empty());
  std::string auth = Header(req, "authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=" + std::string(kKeyId) + "/")) << auth;
  EXPECT_NE(auth.find("/eu-west-1/kinesis/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("SignedHeaders="), std::string::npos) << auth;
  EXPECT_NE(auth.find("Signature="), std::string::npos) << auth;
  // The secret itself never travels.
  for (const auto& [n, v] : req.headers) EXPECT_EQ(v.find(kSecret), std::string::npos) << n;
}

// HTTPS clients take their certificate authorities from CURL_CA_BUNDLE when it is set (the
// Lambda zip's bootstrap points it at the bundle the zip ships): a missing file is libcurl's
// "problem with the CA cert" error, where the default bundle gets as far as the TLS handshake
// (with a server that speaks plain HTTP).
TEST(AwsClient, CertificateAuthoritiesComeFromCurlCaBundle) {
  TestHttpServer server([](size_t, const testing::HttpRequest&) {
    return TestHttpServer::Answer{200, "{}"};
  });
  std::string https = "https://127.0.0.1:" + std::to_string(server.port());
  ::unsetenv("CURL_CA_BUNDLE");
  auto client = Client(https, {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kSecret}});
  ASSERT_NE(client, nullptr);
  aws::Response plain = client->Call("ListStreams", "{}");
  EXPECT_EQ(plain.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(plain.status.message().find("CA cert"), std::string::npos) << plain.status.message();
  ::setenv("CURL_CA_BUNDLE", "/nonexistent/ca-bundle.crt", 1);
  auto bundled = Client(https, {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kSecret}});
  ASSERT_NE(bundled, nullptr);
  aws::Response r = bundled->Call("ListStreams", "{}");
  ::unsetenv("CURL_CA_BUNDLE");
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("CA cert"), std::string::npos) << r.status.message();
}

TEST(AwsClient, DynamoDbRequestsCarryItsTargetPrefixAndSigningName) {
  TestHttpServer server([](size_t, const auto&) { return Answer{200, "{}"}; });
  auto client =
      Client(server.url("/"), {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kSecret}},
             aws::kDynamoDb);
  ASSERT_NE(client, nullptr);
  std::vector<std::string> bodies = {"{}", "{}", "{}"};
  auto answers = client->CallMany("GetItem", bodies, 3);
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) EXPECT_TRUE(a.status.ok()) << a.status.message();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& req : requests) {
    EXPECT_EQ(Header(req, "x-amz-target"), "DynamoDB_20120810.GetItem");
    EXPECT_EQ(Header(req, "content-type"), "application/x-amz-json-1.0");
    EXPECT_NE(Header(req, "authorization").find("/eu-west-1/dynamodb/aws4_request"),
              std::string::npos);
    EXPECT_EQ(Header(req, "x-amz-security-token"), "");
  }
}

TEST(AwsCredentials, TheEnvironmentComesBeforeTheProfileFile) {
  TempDir dir;
  testing::WriteFile(dir / "credentials",
                     "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n"
                     "[other]\naws_access_key_id=OTHERKEY\naws_secret_access_key=othersecret\n"
                     "aws_session_token=othertoken\n");
  aws::CredentialOptions o;
  o.env = EnvOf({{"AWS_ACCESS_KEY_ID", "ENVKEY"},
                 {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                 {"AWS_SHARED_CREDENTIALS_FILE", dir / "credentials"}});
  auto c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "ENVKEY");
  EXPECT_EQ(c->source, "environment");

  o.env = EnvOf({{"AWS_SHARED_CREDENTIALS_FILE", dir / "credentials"}});
  c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "FILEKEY");
  EXPECT_EQ(c->secret_access_key, "filesecret");

  o.env = EnvOf({{"AWS_SHARED_CREDENTIALS_FILE", dir / "credentials"}, {"AWS_PROFILE", "other"}});
  c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "OTHERKEY");
  EXPECT_EQ(c->session_token, "othertoken");

  // ~/.aws/credentials when no file is named.
  testing::WriteFile(dir / ".aws/credentials",
                     "[default]\naws_access_key_id=HOMEKEY\naws_secret_access_key=homesecret\n");
  o.env = EnvOf({{"HOME", dir.path()}});
  c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "HOMEKEY");
}

TEST(AwsCredentials, AMissingNamedProfileOrHalfAKeyPairSaysWhatToFix) {
  TempDir dir;
  testing::WriteFile(dir / "credentials",
                     "[default]\naws_access_key_id=K\naws_secret_access_key=S\n");
  aws::CredentialOptions o;
  o.env = EnvOf({{"AWS_SHARED_CREDENTIALS_FILE", dir / "credentials"}, {"AWS_PROFILE", "prod"}});
  auto c = aws::ResolveCredentials(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("profile 'prod'"), std::string::npos) << c.status().message();

  o.env = EnvOf({{"AWS_ACCESS_KEY_ID", kKeyId}});
  c = aws::ResolveCredentials(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  ExpectNoSecret(c.status().message());

  o.env = EnvOf({});
  c = aws::ResolveCredentials(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(AwsCredentials, ContainerCredentialsWithTheirAuthorizationToken) {
  TestHttpServer server([](size_t, const testing::HttpRequest& r) {
    if (r.path != "/creds" || Header(r, "authorization") != "container-auth") {
      return Answer{403, "{}"};
    }
    return Answer{200, R"({"AccessKeyId":"CONTAINERKEY","SecretAccessKey":"containersecret",)"
                       R"("Token":"containertoken","Expiration":"2099-01-01T00:00:00Z"})"};
  });
  aws::CredentialOptions o;
  o.env = EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth"}});
  auto c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "CONTAINERKEY");
  EXPECT_EQ(c->session_token, "containertoken");
  EXPECT_GT(c->expires_at_ms, 4000000000000);
  EXPECT_EQ(c->source, "container credentials");
}

TEST(AwsCredentials, InstanceMetadataV2AsksForASessionTokenFirst) {
  TestHttpServer server([](size_t, const testing::HttpRequest& r) {
    if (r.method == "PUT" && r.path == "/latest/api/token") {
      if (Header(r, "x-aws-ec2-metadata-token-ttl-seconds").empty()) return Answer{400, ""};
      return Answer{200, "imds-session", "text/plain"};
    }
    if (Header(r, "x-aws-ec2-metadata-token") != "imds-session") return Answer{401, ""};
    if (r.path == "/latest/meta-data/iam/security-credentials/") {
      return Answer{200, "my-role", "text/plain"};
    }
    if (r.path == "/latest/meta-data/iam/security-credentials/my-role") {
      return Answer{200, R"({"Code":"Success","AccessKeyId":"IMDSKEY",)"
                         R"("SecretAccessKey":"imdssecret","Token":"imdstoken",)"
                         R"("Expiration":"2099-01-01T00:00:00Z"})"};
    }
    return Answer{404, ""};
  });
  aws::CredentialOptions o;
  std::map<std::string, std::string> vars = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url("")},
                                             {"AWS_EC2_METADATA_DISABLED", ""}};
  o.env = EnvOf(vars);
  auto c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->access_key_id, "IMDSKEY");
  EXPECT_EQ(c->session_token, "imdstoken");
  EXPECT_EQ(c->source, "instance metadata");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");

  // A profile file comes before the metadata services.
  TempDir dir;
  testing::WriteFile(dir / "credentials",
                     "[default]\naws_access_key_id=F\naws_secret_access_key=S\n");
  vars["AWS_SHARED_CREDENTIALS_FILE"] = dir / "credentials";
  o.env = EnvOf(vars);
  c = aws::ResolveCredentials(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "F");
  EXPECT_EQ(server.requests().size(), 3u);

  // Disabled: not asked at all.
  o.env = EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url("")},
                 {"AWS_EC2_METADATA_DISABLED", "true"}});
  c = aws::ResolveCredentials(o);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(AwsCredentials, ADeadMetadataServiceFailsFast) {
  // A port nobody listens on: refused at once, well within the short timeouts.
  int port;
  {
    TestHttpServer gone([](size_t, const auto&) { return Answer{}; });
    port = gone.port();
  }
  aws::CredentialOptions o;
  o.metadata_timeout_ms = 500;
  o.env = EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(port)},
                 {"AWS_EC2_METADATA_DISABLED", "false"}});
  auto c = aws::ResolveCredentials(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("instance metadata"), std::string::npos);
}

TEST(AwsEndpoints, RegionAndEndpointPrecedence) {
  auto env = EnvOf({{"AWS_REGION", "r1"}, {"AWS_DEFAULT_REGION", "r2"}});
  EXPECT_EQ(*aws::ResolveRegion("cfg", env), "cfg");
  EXPECT_EQ(*aws::ResolveRegion("", env), "r1");
  EXPECT_EQ(*aws::ResolveRegion("", EnvOf({{"AWS_DEFAULT_REGION", "r2"}})), "r2");
  auto none = aws::ResolveRegion("", EnvOf({}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("AWS_REGION"), std::string::npos);

  std::map<std::string, std::string> all = {{"AWS_ENDPOINT_URL_KINESIS", "http://k"},
                                            {"AWS_ENDPOINT_URL_DYNAMODB", "http://d"},
                                            {"DYNAMODB_ENDPOINT", "http://orig"},
                                            {"AWS_ENDPOINT_URL", "http://all"}};
  auto resolve = [](const aws::Service& s, const std::string& cfg,
                    const std::map<std::string, std::string>& vars) {
    return aws::ResolveEndpoint(s, cfg, "eu-central-1", EnvOf(vars));
  };
  EXPECT_EQ(resolve(aws::kKinesis, "http://cfg", all), "http://cfg");
  EXPECT_EQ(resolve(aws::kKinesis, "", all), "http://k");
  EXPECT_EQ(resolve(aws::kDynamoDb, "", all), "http://d");
  all.erase("AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_EQ(resolve(aws::kDynamoDb, "", all), "http://orig");
  EXPECT_EQ(resolve(aws::kKinesis, "", all), "http://k");
  all.erase("DYNAMODB_ENDPOINT");
  all.erase("AWS_ENDPOINT_URL_KINESIS");
  EXPECT_EQ(resolve(aws::kDynamoDb, "", all), "http://all");
  EXPECT_EQ(resolve(aws::kKinesis, "", all), "http://all");
  // DYNAMODB_ENDPOINT is DynamoDB's only.
  EXPECT_EQ(resolve(aws::kKinesis, "", {{"DYNAMODB_ENDPOINT", "http://orig"}}),
            "https://kinesis.eu-central-1.amazonaws.com");
  EXPECT_EQ(resolve(aws::kDynamoDb, "", {}), "https://dynamodb.eu-central-1.amazonaws.com");
}

struct ErrorCase {
  int http;
  std::string body;
  StatusCode code;
  std::string says;
};

TEST(AwsErrors, AnswersAreClassifiedAndNeverCarrySecrets) {
  std::vector<ErrorCase> cases = {
      {400,
       R"({"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."})",
       StatusCode::kFailedPrecondition, "credentials were refused"},
      {400, R"({"__type":"InvalidSignatureException","message":"bad signature"})",
       StatusCode::kFailedPrecondition, "AWS_ACCESS_KEY_ID"},
      {400, R"({"__type":"AccessDeniedException","message":"not allowed"})",
       StatusCode::kFailedPrecondition, "may call PutRecords"},
      {400,
       R"({"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard"})",
       StatusCode::kUnavailable, "ProvisionedThroughputExceededException"},
      {400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"})",
       StatusCode::kUnavailable, "ThrottlingException"},
      {503, "", StatusCode::kUnavailable, "HTTP 503"},
      {500, R"({"__type":"InternalFailure"})", StatusCode::kUnavailable, "InternalFailure"},
      {400, R"({"__type":"ResourceNotFoundException","message":"Stream s not found"})",
       StatusCode::kNotFound, "create it"},
      {400, R"({"__type":"ValidationException","message":"1 validation error"})",
       StatusCode::kInvalidArgument, "ValidationException"},
  };
  size_t next = 0;
  TestHttpServer server([&](size_t n, const auto&) {
    return Answer{cases[n].http, cases[n].body, "application/x-amz-json-1.1"};
  });
  auto client = Client(server.url("/"), {{"AWS_ACCESS_KEY_ID", kKeyId},
                                         {"AWS_SECRET_ACCESS_KEY", kSecret},
                                         {"AWS_SESSION_TOKEN", kToken}});
  ASSERT_NE(client, nullptr);
  for (const auto& c : cases) {
    aws::Response r = client->Call("PutRecords", R"({"StreamName":"s"})");
    SCOPED_TRACE(c.body);
    EXPECT_EQ(r.status.code(), c.code) << r.status.message();
    EXPECT_EQ(r.http_status, c.http);
    EXPECT_NE(r.status.message().find(c.says), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("PutRecords"), std::string::npos);
    ExpectNoSecret(r.status.message());
    ++next;
  }
  EXPECT_EQ(next, cases.size());
}

TEST(AwsErrors, ANetworkErrorIsRetryableAndNamesOnlyTheOrigin) {
  int port;
  {
    TestHttpServer gone([](size_t, const auto&) { return Answer{}; });
    port = gone.port();
  }
  auto client = Client("http://127.0.0.1:" + std::to_string(port) + "/secret-path",
                       {{"AWS_ACCESS_KEY_ID", kKeyId}, {"AWS_SECRET_ACCESS_KEY", kSecret}});
  ASSERT_NE(client, nullptr);
  aws::Response r = client->Call("PutRecords", "{}");
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.status.message();
  EXPECT_EQ(r.status.message().find("secret-path"), std::string::npos);
  ExpectNoSecret(r.status.message());
}

TEST(AwsErrors, MissingCredentialsAreAnErrorOfTheCall) {
  auto client = Client("http://127.0.0.1:9/", {});
  ASSERT_NE(client, nullptr);
  aws::Response r = client->Call("PutRecords", "{}");
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_NE(r.status.message().find("no AWS credentials"), std::string::npos);
}

TEST(AwsBackoff, FullJitterStaysUnderTheCappedExponential) {
  aws::Backoff backoff(std::chrono::milliseconds(10), std::chrono::milliseconds(200));
  bool varied = false;
  int64_t first = -1;
  for (int attempt = 1; attempt <= 12; ++attempt) {
    int64_t cap = std::min<int64_t>(200, 10LL << std::min(attempt - 1, 20));
    for (int i = 0; i < 50; ++i) {
      int64_t w = backoff.Next(attempt).count();
      EXPECT_GE(w, 0);
      EXPECT_LE(w, cap);
      if (first < 0) first = w;
      varied = varied || w != first;
    }
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace cdc
