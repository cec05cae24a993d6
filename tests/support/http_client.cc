#include "support/http_client.h"

#include <curl/curl.h>

namespace cdc::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

HttpAnswer Perform(CURL* curl, const std::string& url, long timeout_seconds) {
  HttpAnswer a;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  } else {
    a.body.clear();
  }
  curl_easy_cleanup(curl);
  return a;
}

}  // namespace

HttpAnswer HttpGet(const std::string& url, long timeout_seconds) {
  return Perform(curl_easy_init(), url, timeout_seconds);
}

HttpAnswer HttpPost(const std::string& url, const std::vector<std::string>& headers,
                    const std::string& body, long timeout_seconds) {
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  HttpAnswer a = Perform(curl, url, timeout_seconds);
  curl_slist_free_all(list);
  return a;
}

}  // namespace cdc::testing
