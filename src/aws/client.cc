#include "aws/client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <array>

#include "aws/http.h"
#include "base/curl_ca_bundle.h"

namespace cdc::aws {
namespace {

std::string EnvOr(const Environment& env, const std::string& name) {
  auto v = env(name);
  return v ? *v : std::string();
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

bool OneOf(std::string_view type, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), type) != names.end();
}

}  // namespace

Result<std::string> ResolveRegion(const std::string& configured, const Environment& env) {
  if (!configured.empty()) return configured;
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::string v = EnvOr(env, name);
    if (!v.empty()) return v;
  }
  return InvalidArgument(
      "no AWS region: set `region` in the config, or AWS_REGION (or AWS_DEFAULT_REGION)");
}

std::string ResolveEndpoint(const Service& service, const std::string& configured,
                            const std::string& region, const Environment& env) {
  if (!configured.empty()) return configured;
  std::string v = EnvOr(env, "AWS_ENDPOINT_URL_" + std::string(service.env_name));
  if (!v.empty()) return v;
  if (service.signing_name == "dynamodb") {
    v = EnvOr(env, "DYNAMODB_ENDPOINT");
    if (!v.empty()) return v;
  }
  v = EnvOr(env, "AWS_ENDPOINT_URL");
  if (!v.empty()) return v;
  return "https://" + std::string(service.signing_name) + "." + region + ".amazonaws.com";
}

std::pair<std::string, std::string> ParseErrorBody(std::string_view body) {
  std::string type, message;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS && root.is_object()) {
    std::string_view v;
    if (root["__type"].get(v) == simdjson::SUCCESS) type = v;
    if (root["message"].get(v) == simdjson::SUCCESS ||
        root["Message"].get(v) == simdjson::SUCCESS) {
      message = v;
    }
  }
  // "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" -> the part after '#'.
  if (size_t hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
  if (size_t colon = type.find(':'); colon != std::string::npos) type.erase(colon);
  return {type, message};
}

Status ClassifyError(const Service& service, std::string_view operation, const std::string& origin,
                     long http_status, const std::string& type, const std::string& message) {
  std::string what = std::string(service.signing_name) + " " + std::string(operation) + " at " +
                     origin + ": " + (type.empty() ? "HTTP " + std::to_string(http_status) : type) +
                     (message.empty() ? "" : " (" + message + ")");
  if (OneOf(type, {"UnrecognizedClientException", "InvalidSignatureException",
                   "AccessDeniedException", "AccessDenied", "InvalidClientTokenId",
                   "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken",
                   "MissingAuthenticationTokenException", "NotAuthorized"})) {
    return FailedPrecondition(
        what +
        ": the AWS credentials were refused; check AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE, the region, and that "
        "the identity may call " +
        std::string(operation));
  }
  if (OneOf(type, {"ExpiredTokenException", "ExpiredToken", "RequestExpired"})) {
    return Unavailable(what + ": the credentials expired; they are fetched again");
  }
  if (http_status >= 500 || http_status == 429 ||
      OneOf(type, {"ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
                   "ThrottledException", "RequestLimitExceeded", "LimitExceededException",
                   "TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
                   "TransactionInProgressException", "KMSThrottlingException", "InternalFailure",
                   "InternalServerError", "ServiceUnavailable"})) {
    return Unavailable(what);
  }
  if (type == "ResourceNotFoundException") {
    return NotFound(what + ": create it, or fix the name and region in the config");
  }
  if (type == "ResourceInUseException") return Unavailable(what);
  return InvalidArgument(what);
}

struct JsonClient::Handle {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  std::string response;
  size_t index = 0;  // CallMany: which body
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

Result<std::unique_ptr<JsonClient>> JsonClient::Create(ClientOptions options) {
  auto region = ResolveRegion(options.region, options.credentials.env);
  if (!region.ok()) return region.status();
  std::string endpoint =
      ResolveEndpoint(options.service, options.endpoint, *region, options.credentials.env);
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
    return InvalidArgument("the " + std::string(options.service.signing_name) +
                           " endpoint must start with http:// or https://");
  }
  internal::InitCurlOnce();
  return std::unique_ptr<JsonClient>(new JsonClient(std::move(options), *region, endpoint));
}

JsonClient::JsonClient(ClientOptions options, std::string region, std::string endpoint)
    : options_(std::move(options)),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      origin_(internal::Origin(endpoint_)),
      sigv4_("aws:amz:" + region_ + ":" + std::string(options_.service.signing_name)),
      credentials_(options_.credentials) {}

JsonClient::~JsonClient() {
  if (multi_ != nullptr) {
    for (auto& h : handles_) curl_multi_remove_handle(static_cast<CURLM*>(multi_), h->curl);
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
  }
}

Status JsonClient::Prepare(Handle& h, std::string_view operation, std::string_view body,
                           std::string_view method, std::string_view path) {
  auto creds = credentials_.Get();
  if (!creds.ok()) return creds.status();
  if (h.curl == nullptr) {
    h.curl = curl_easy_init();
    if (h.curl == nullptr) return Internal("cannot create an HTTP handle");
    curl_easy_setopt(h.curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(h.curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
    curl_easy_setopt(h.curl, CURLOPT_NOSIGNAL, 1L);
    UseCaBundleFromEnvironment(h.curl);
    curl_easy_setopt(h.curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &h.response);
  }
  // Set per request: REST calls change the method and path, temporary credentials change.
  curl_easy_setopt(h.curl, CURLOPT_URL, (endpoint_ + std::string(path)).c_str());
  if (method == "GET") {
    curl_easy_setopt(h.curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h.curl, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
  } else {
    curl_easy_setopt(h.curl, CURLOPT_POST, 1L);
    std::string custom(method);  // libcurl copies it
    curl_easy_setopt(h.curl, CURLOPT_CUSTOMREQUEST,
                     method == "POST" ? static_cast<const char*>(nullptr) : custom.c_str());
  }
  curl_easy_setopt(h.curl, CURLOPT_USERNAME, creds->access_key_id.c_str());
  curl_easy_setopt(h.curl, CURLOPT_PASSWORD, creds->secret_access_key.c_str());
  curl_slist_free_all(h.headers);
  h.headers = nullptr;
  h.headers = curl_slist_append(
      h.headers, ("Content-Type: " + std::string(options_.service.content_type)).c_str());
  if (!options_.service.target_prefix.empty()) {
    h.headers = curl_slist_append(
        h.headers, ("X-Amz-Target: " + std::string(options_.service.target_prefix) + "." +
                    std::string(operation))
                       .c_str());
  }
  if (!creds->session_token.empty()) {
    h.headers =
        curl_slist_append(h.headers, ("X-Amz-Security-Token: " + creds->session_token).c_str());
  }
  h.headers = curl_slist_append(h.headers, "Expect:");
  curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, h.headers);
  if (method != "GET") {
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  h.response.clear();
  return Status::Ok();
}

Response JsonClient::Finish(Handle& h, std::string_view operation, int curl_code) {
  Response r;
  auto rc = static_cast<CURLcode>(curl_code);
  if (rc != CURLE_OK) {
    r.status =
        Unavailable(std::string(options_.service.signing_name) + " " + std::string(operation) +
                    " at " + origin_ + ": " + curl_easy_strerror(rc));
    return r;
  }
  curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &r.http_status);
  r.body = std::move(h.response);
  h.response.clear();
  if (r.http_status >= 200 && r.http_status < 300) return r;
  auto [type, message] = ParseErrorBody(r.body);
  r.error_type = type;
  r.status = ClassifyError(options_.service, operation, origin_, r.http_status, type, message);
  if (OneOf(type, {"ExpiredTokenException", "ExpiredToken", "RequestExpired"})) {
    credentials_.Invalidate();
  }
  return r;
}

Response JsonClient::Call(std::string_view operation, std::string_view body) {
  if (handles_.empty()) handles_.push_back(std::make_unique<Handle>());
  Handle& h = *handles_.front();
  if (Status s = Prepare(h, operation, body); !s.ok()) return Response{s, 0, "", ""};
  return Finish(h, operation, curl_easy_perform(h.curl));
}

Response JsonClient::Rest(std::string_view operation, std::string_view method,
                          std::string_view path, std::string_view body) {
  if (handles_.empty()) handles_.push_back(std::make_unique<Handle>());
  Handle& h = *handles_.front();
  if (Status s = Prepare(h, operation, body, method, path); !s.ok()) {
    return Response{s, 0, "", ""};
  }
  return Finish(h, operation, curl_easy_perform(h.curl));
}

std::vector<Response> JsonClient::CallMany(std::string_view operation,
                                           std::span<const std::string> bodies, size_t parallel) {
  std::vector<Response> out(bodies.size());
  if (bodies.empty()) return out;
  if (bodies.size() == 1 || parallel <= 1) {
    for (size_t i = 0; i < bodies.size(); ++i) out[i] = Call(operation, bodies[i]);
    return out;
  }
  if (multi_ == nullptr) multi_ = curl_multi_init();
  auto* multi = static_cast<CURLM*>(multi_);
  parallel = std::min(parallel, bodies.size());
  while (handles_.size() < parallel) handles_.push_back(std::make_unique<Handle>());
  std::vector<Handle*> idle;
  for (size_t i = 0; i < parallel; ++i) idle.push_back(handles_[i].get());
  size_t next = 0, running_count = 0;
  auto start_more = [&] {
    while (!idle.empty() && next < bodies.size()) {
      Handle* h = idle.back();
      if (Status s = Prepare(*h, operation, bodies[next]); !s.ok()) {
        out[next++] = Response{s, 0, "", ""};
        continue;
      }
      idle.pop_back();
      h->index = next++;
      curl_easy_setopt(h->curl, CURLOPT_PRIVATE, h);
      curl_multi_add_handle(multi, h->curl);
      ++running_count;
    }
  };
  start_more();
  while (running_count > 0) {
    int still = 0;
    curl_multi_perform(multi, &still);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Handle* h = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &h);
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(multi, h->curl);
      out[h->index] = Finish(*h, operation, rc);
      --running_count;
      idle.push_back(h);
    }
    start_more();
    if (running_count > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  return out;
}

std::chrono::milliseconds Backoff::Next(int attempt) {
  int64_t cap = base_.count();
  for (int i = 1; i < attempt && cap < cap_.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, cap_.count());
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(cap, 0));
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace cdc::aws
