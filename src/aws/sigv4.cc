#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "base/hash.h"

namespace cdc::aws {
namespace {

constexpr int64_t kMaxSkewSeconds = 15 * 60;

std::string Hmac(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out;
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string HexSha256(std::string_view data) {
  auto digest = Sha256(data);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// RFC 3986 unreserved characters stay; everything else is %XX (upper-case), as SigV4 wants.
std::string UriEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A header value as SigV4 canonicalizes it: trimmed, runs of spaces made one.
std::string TrimValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "20150830T123600Z" -> Unix seconds; -1 when it is not that form.
int64_t ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return -1;
  std::tm tm{};
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int year = num(0, 4), month = num(4, 2), day = num(6, 2), hour = num(9, 2), min = num(11, 2),
      sec = num(13, 2);
  if (year < 0 || month < 1 || day < 1 || hour < 0 || min < 0 || sec < 0) return -1;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

SigV4Failure Incomplete(std::string m) {
  return {"IncompleteSignatureException", std::move(m), 400};
}

}  // namespace

std::string SigV4Signature(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service, std::string_view amz_date,
                           std::string_view canonical_request) {
  std::string scope =
      std::string(date) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                        HexSha256(canonical_request);
  std::string key = Hmac("AWS4" + std::string(secret), date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  return HexEncode(Hmac(key, to_sign));
}

SigV4Failure VerifySigV4(const SignedRequest& request,
                         const std::map<std::string, std::string>& secrets, int64_t now_seconds) {
  std::string auth = request.header("authorization");
  if (auth.empty()) {
    return {"MissingAuthenticationTokenException",
            "Missing Authentication Token: this bus verifies AWS Signature Version 4; sign the "
            "request with one of its configured access keys",
            403};
  }
  constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256 ";
  if (!std::string_view(auth).starts_with(kAlgorithm)) {
    return Incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.");
  }
  std::string credential, signed_headers, signature;
  std::string_view rest = std::string_view(auth).substr(kAlgorithm.size());
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "Credential") credential = value;
    if (name == "SignedHeaders") signed_headers = value;
    if (name == "Signature") signature = value;
  }
  if (credential.empty() || signed_headers.empty() || signature.empty()) {
    return Incomplete(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.");
  }
  // <key id>/<date>/<region>/<service>/aws4_request
  std::vector<std::string_view> scope;
  for (std::string_view c = credential; !c.empty();) {
    size_t slash = c.find('/');
    scope.push_back(c.substr(0, slash));
    c = slash == std::string_view::npos ? std::string_view() : c.substr(slash + 1);
  }
  if (scope.size() != 5 || scope[4] != "aws4_request") {
    return Incomplete("Credential must be <access key id>/<date>/<region>/<service>/aws4_request.");
  }
  auto secret = secrets.find(std::string(scope[0]));
  if (secret == secrets.end()) {
    return {"UnrecognizedClientException",
            "The security token included in the request is invalid: the access key id is not "
            "one of this bus's keys.",
            400};
  }
  std::string amz_date = request.header("x-amz-date");
  int64_t at = ParseAmzDate(amz_date);
  if (at < 0) {
    return Incomplete("The request needs an X-Amz-Date header of the form 20150830T123600Z.");
  }
  if (!std::string_view(amz_date).starts_with(scope[1])) {
    return {"InvalidSignatureException",
            "The date of the credential scope is not the date of X-Amz-Date.", 400};
  }
  if (at < now_seconds - kMaxSkewSeconds || at > now_seconds + kMaxSkewSeconds) {
    return {"InvalidSignatureException",
            "Signature expired: the request time " + amz_date +
                " is more than 15 minutes from this server's clock.",
            400};
  }
  // The canonical request.
  std::string canonical = request.method + "\n" + request.path + "\n";
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [k, v] : request.query) query.emplace_back(UriEncode(k), UriEncode(v));
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    if (i > 0) canonical += "&";
    canonical += query[i].first + "=" + query[i].second;
  }
  canonical += "\n";
  bool signs_host = false;
  for (std::string_view h = signed_headers; !h.empty();) {
    size_t semi = h.find(';');
    std::string name(h.substr(0, semi));
    h = semi == std::string_view::npos ? std::string_view() : h.substr(semi + 1);
    signs_host = signs_host || name == "host";
    canonical += name + ":" + TrimValue(request.header(name)) + "\n";
  }
  if (!signs_host) return Incomplete("SignedHeaders must include 'host'.");
  canonical += "\n" + signed_headers + "\n";
  std::string payload = request.header("x-amz-content-sha256");
  std::string body_hash = HexSha256(request.body);
  canonical += payload.empty() ? body_hash : payload;
  std::string expected =
      SigV4Signature(secret->second, scope[1], scope[2], scope[3], amz_date, canonical);
  if (expected.size() != signature.size() ||
      CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0) {
    return {"InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            400};
  }
  if (!payload.empty() && payload != body_hash) {
    return {"InvalidSignatureException",
            "The x-amz-content-sha256 header is not the body's SHA-256 (an unsigned payload is "
            "not accepted).",
            400};
  }
  return {};
}

}  // namespace cdc::aws
