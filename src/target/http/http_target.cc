// The http target (an EventBridge API destination): each event is the body of one request. It
// is a queued target: the delivery runner gives it its own thread and bounded queue, and owns
// the retries; this file only maps an answer to Delivered / Retry / Failed.
//
// The URL and the header values may hold credentials, so messages name the target and the
// URL's scheme, host and port only. Response bodies are never logged either (an endpoint may
// echo the event back).

#include "target/http/http_target.h"

#include <curl/curl.h>
#include <strings.h>

#include <mutex>

#include "base/curl_ca_bundle.h"
#include "base/logging.h"
#include "target/target.h"

namespace cdc {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// "https://user:pw@host:8443/path?q" -> "https://host:8443".
std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority =
      url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  return url.substr(0, start) + authority;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

class HttpTarget final : public Target {
 public:
  HttpTarget(const TargetConfig& config, const HttpTargetOptions& options)
      : name_(config.name),
        url_(options.url),
        origin_(Origin(options.url)),
        method_(options.method),
        timeout_ms_(options.timeout_ms),
        format_(config.format == "cloudevents" ? EventFormat::kCloudEvents
                                               : EventFormat::kEventBridge) {
    InitCurlOnce();
    bool content_type = false;
    for (const auto& [name, value] : options.headers) {
      if (strcasecmp(name.c_str(), "content-type") == 0) content_type = true;
      headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
    }
    if (!content_type) {
      headers_ = curl_slist_append(headers_,
                                   format_ == EventFormat::kCloudEvents
                                       ? "Content-Type: application/cloudevents+json; charset=utf-8"
                                       : "Content-Type: application/json; charset=utf-8");
    }
    // No "Expect: 100-continue" round trip before larger bodies.
    headers_ = curl_slist_append(headers_, "Expect:");
  }

  ~HttpTarget() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_);
  }

  const std::string& name() const override { return name_; }
  EventFormat format() const override { return format_; }
  bool queued() const override { return true; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    // One handle per target, set up once and kept between requests: the connection is reused
    // (keep-alive); only the body changes.
    if (curl_ == nullptr) {
      curl_ = curl_easy_init();
      if (curl_ == nullptr) return {Delivery::kRetry, Internal("cannot create an HTTP handle")};
      curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method_.c_str());
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      UseCaBundleFromEnvironment(curl_);
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Discard);
      curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
    }
    CURL* c = curl_;
    // The event id as the idempotency key (the IETF draft's header): an endpoint that keeps the
    // keys it has seen takes a redelivered event (after a crash or a retry) only once.
    // Linked in front of the configured headers, so the list is not copied per request.
    key_header_.assign("Idempotency-Key: ").append(event.id);
    key_node_.data = key_header_.data();
    key_node_.next = headers_;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, &key_node_);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(event.body.size()));
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      // Connection refused, DNS, TLS, timeout: the endpoint may come back.
      return {Delivery::kRetry, Unavailable(origin_ + ": " + curl_easy_strerror(rc))};
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return {};
    std::string what = origin_ + " answered HTTP " + std::to_string(code);
    // As EventBridge API destinations: 408, 429 and 5xx are retried; other answers are final.
    if (code == 408 || code == 429 || code >= 500) return {Delivery::kRetry, Unavailable(what)};
    return {Delivery::kFailed, InvalidArgument(what)};
  }

  Status Flush() override { return Status::Ok(); }

  Status CheckHealth() override {
    InitCurlOnce();
    CURL* c = curl_easy_init();
    if (c == nullptr) return Internal("cannot create an HTTP handle");
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    UseCaBundleFromEnvironment(c);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      return Unavailable("cannot connect to " + origin_ + ": " + curl_easy_strerror(rc));
    }
    return Status::Ok();
  }

 private:
  std::string name_;
  std::string url_;  // a secret: never logged
  std::string origin_;
  std::string method_;
  int64_t timeout_ms_;
  EventFormat format_;
  curl_slist* headers_ = nullptr;  // secrets: never logged
  std::string key_header_;         // this request's Idempotency-Key header
  curl_slist key_node_{};          // it, in front of headers_
  CURL* curl_ = nullptr;
};

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<HttpTargetOptions>();
  r.String("url", o->url);
  if (!o->url.empty() && !o->url.starts_with("http://") && !o->url.starts_with("https://")) {
    // Only the scheme is quoted: the URL may hold credentials.
    r.Error("url", "'" + r.path() + ".url' must start with http:// or https://");
  }
  r.String("method", o->method);
  r.Int("timeout_ms", o->timeout_ms);
  r.StringMap("headers", o->headers,
              [](const std::string& name,
                 const std::string& value) -> std::optional<OptionsReader::EntryError> {
                bool token = !name.empty();
                for (char c : name) {
                  if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
                    token = false;
                  }
                }
                if (!token)
                  return OptionsReader::EntryError{"a header name is letters, digits, '-' and '_'"};
                if (value.find_first_of("\r\n") != std::string::npos) {
                  return OptionsReader::EntryError{"must not contain a line break", true};
                }
                return std::nullopt;
              });
  return o;
}

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  const auto* o = config.OptionsAs<HttpTargetOptions>();
  if (o == nullptr || o->url.empty()) {
    return InvalidArgument("target '" + config.name + "' needs a url");
  }
  return std::unique_ptr<Target>(std::make_unique<HttpTarget>(config, *o));
}

// Never the URL: it may hold credentials.
std::string Describe(const TargetConfig&) { return "http"; }

}  // namespace

void RegisterHttpTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"http",
       "Sends each event as the body of an HTTP request, like an EventBridge API destination "
       "(at-least-once: after a crash, events since the last checkpoint are sent again with the "
       "same ids). A 2xx answer is a delivery; 408, 429, 5xx and connection errors are retried "
       "by `retry`; any other answer dead-letters the event at once. Each http target has its "
       "own queue and thread, so a slow or failing endpoint delays the other targets only once "
       "`queue_size` events wait for it.",
       {
           {"url",
            FieldType::kString,
            "",
            "`http://` or `https://` URL. It may hold credentials (use `${VAR}`): it is never "
            "logged, only its host.",
            {},
            true},
           {"method", FieldType::kEnum, "POST", "The HTTP method.", {"POST", "PUT"}},
           {"headers", FieldType::kStringMap, "",
            "Extra request headers, name to value (e.g. `Authorization: \"Bearer ${TOKEN}\"`). "
            "Values are never logged. `Content-Type` defaults to `application/json`."},
           {"timeout_ms",
            FieldType::kInt,
            "5000",
            "How long one request may take (connecting included) before it counts as failed and "
            "is retried.",
            {},
            false,
            1},
           kQueueSizeField,
           kFormatField,
           kRetryField,
       },
       ParseOptions},
      {.exactly_once = false, .queued = true, .dead_letter_sink = false},
      Build,
      Describe});
}

}  // namespace cdc
