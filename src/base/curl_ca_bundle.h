// Where libcurl finds the certificate authorities, for every HTTPS client of the program: the
// file `CURL_CA_BUNDLE` names (as the curl tool reads it), else libcurl's built-in default
// (Debian's /etc/ssl/certs/ca-certificates.crt). The Lambda zip ships Debian's bundle and its
// bootstrap sets CURL_CA_BUNDLE, since Amazon Linux keeps its bundle elsewhere
// (scripts/package-lambda). Header-only: included by the .cc files that use libcurl, which link
// it; base itself does not.
#pragma once

#include <curl/curl.h>

#include <cstdlib>

namespace cdc {

inline void UseCaBundleFromEnvironment(CURL* curl) {
  const char* file = std::getenv("CURL_CA_BUNDLE");
  if (file != nullptr && *file != '\0') curl_easy_setopt(curl, CURLOPT_CAINFO, file);
}

}  // namespace cdc
