// Verifying AWS Signature Version 4 on requests a server receives (the bus API), so that only
// clients holding a configured secret key may call it. Signing stays with libcurl (client.h).
//
// Checked: the Authorization header (AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/
// <service>/aws4_request, SignedHeaders=..., Signature=...), the access key id against the
// configured keys, the signature over the canonical request (method, path, query, the signed
// headers, the body's SHA-256 or x-amz-content-sha256) and the request time (X-Amz-Date, at most
// 15 minutes from now, as AWS allows). Region and service are taken from the credential scope as
// the client gave them (a local bus answers for any region).
//
// Failures are AWS's error types, with messages that never hold a secret or a signature.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdc::aws {

struct SignedRequest {
  std::string method;                                      // "POST"
  std::string path;                                        // "/" (as sent, percent-encoded)
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  // A header's values, joined with ',' when it came more than once; empty when it is absent.
  std::function<std::string(std::string_view lower_name)> header;
  std::string_view body;
};

struct SigV4Failure {
  std::string type;  // "MissingAuthenticationTokenException", "InvalidSignatureException", ...
  std::string message;
  int http = 400;
};

// Verifies `request` against `secrets` (access key id -> secret access key) at `now_seconds`
// (Unix time). Empty type: verified.
SigV4Failure VerifySigV4(const SignedRequest& request,
                         const std::map<std::string, std::string>& secrets, int64_t now_seconds);

// The signature for a canonical request (exposed for tests): lower-case hex.
std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view amz_date,
                           std::string_view canonical_request);

}  // namespace cdc::aws
