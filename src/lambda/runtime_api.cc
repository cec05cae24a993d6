#include "lambda/runtime_api.h"

#include <curl/curl.h>

#include <cctype>
#include <charconv>
#include <mutex>

#include "event/json_writer.h"

namespace cdc::lambda {
namespace {

void InitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// A header line "Name: value\r\n" -> lower-case name and trimmed value.
bool SplitHeader(std::string_view line, std::string& name, std::string& value) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  name.clear();
  for (char c : line.substr(0, colon)) {
    name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  value.assign(v);
  return true;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* inv = static_cast<Invocation*>(user);
  std::string name, value;
  if (SplitHeader(std::string_view(data, size * n), name, value)) {
    if (name == "lambda-runtime-aws-request-id") {
      inv->request_id = value;
    } else if (name == "lambda-runtime-deadline-ms") {
      int64_t ms = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec == std::errc() && p == value.data() + value.size()) inv->deadline_ms = ms;
    } else if (name == "lambda-runtime-trace-id") {
      inv->trace_id = value;
    } else if (name == "lambda-runtime-invoked-function-arn") {
      inv->function_arn = value;
    }
  }
  return size * n;
}

// Aborts a transfer once `stop` is set (libcurl calls it about once a second while idle).
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* stop = static_cast<const std::atomic<bool>*>(user);
  return stop != nullptr && stop->load() ? 1 : 0;
}

}  // namespace

std::string ErrorDocument(std::string_view type, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("errorMessage").String(message);
  w.Key("errorType").String(type);
  w.Key("stackTrace").BeginArray().EndArray();
  w.EndObject();
  return out;
}

RuntimeApiClient::RuntimeApiClient(std::string address, const std::atomic<bool>* stop)
    : base_("http://" + address + "/2018-06-01/runtime"), stop_(stop) {
  InitCurl();
  curl_ = curl_easy_init();
}

RuntimeApiClient::~RuntimeApiClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<Invocation> RuntimeApiClient::Next() {
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("cannot create an HTTP handle");
  Invocation inv;
  std::string url = base_ + "/invocation/next";
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 0L);  // the API holds the request until there is work
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &inv.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &inv);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(stop_));
  CURLcode rc = curl_easy_perform(curl);
  if (stop_ != nullptr && stop_->load()) return Aborted("stopped while waiting for an invocation");
  if (rc != CURLE_OK) {
    return Unavailable("the Runtime API (" + url +
                       ") cannot be reached: " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return Unavailable("the Runtime API answered " + std::to_string(status) + " to " + url);
  }
  if (inv.request_id.empty()) {
    return Unavailable("the Runtime API's invocation has no Lambda-Runtime-Aws-Request-Id");
  }
  return inv;
}

Status RuntimeApiClient::Post(const std::string& path, std::string_view body,
                              std::string_view error_type) {
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("cannot create an HTTP handle");
  std::string url = base_ + path;
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!error_type.empty()) {
    headers = curl_slist_append(
        headers, ("Lambda-Runtime-Function-Error-Type: " + std::string(error_type)).c_str());
  }
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return Unavailable("the Runtime API (" + url +
                       ") cannot be reached: " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  // 202 Accepted; 400/403/413 say the request was refused (e.g. a response over 6 MB).
  if (status != 202) {
    return FailedPrecondition("the Runtime API answered " + std::to_string(status) + " to " + url +
                              ": " + answer.substr(0, 300));
  }
  return Status::Ok();
}

Status RuntimeApiClient::PostResponse(const std::string& request_id, std::string_view body) {
  return Post("/invocation/" + request_id + "/response", body, {});
}

Status RuntimeApiClient::PostError(const std::string& request_id, std::string_view type,
                                   std::string_view message) {
  return Post("/invocation/" + request_id + "/error", ErrorDocument(type, message), type);
}

Status RuntimeApiClient::PostInitError(std::string_view type, std::string_view message) {
  return Post("/init/error", ErrorDocument(type, message), type);
}

}  // namespace cdc::lambda
