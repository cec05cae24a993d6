// SigV4 verification (aws/sigv4.h, the bus API's api.access_key_id) on arbitrary requests: the
// Authorization header, X-Amz-Date, x-amz-content-sha256, the signed headers' values, the query
// and the body all come from the client. It must answer verified or one of AWS's error types,
// never crash, and never verify a request whose signature it was not given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.h"

// Input: NUL-separated fields: authorization, x-amz-date, host, x-amz-content-sha256, body,
// then query as key=value lines.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  while (fields.size() < 5) {
    size_t nul = in.find('\0');
    fields.emplace_back(in.substr(0, nul));
    if (nul == std::string_view::npos) {
      in = {};
    } else {
      in.remove_prefix(nul + 1);
    }
  }
  std::map<std::string, std::string> headers = {{"authorization", fields[0]},
                                                {"x-amz-date", fields[1]},
                                                {"host", fields[2]},
                                                {"x-amz-content-sha256", fields[3]}};
  cdc::aws::SignedRequest request;
  request.method = "POST";
  request.path = "/";
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    size_t eq = line.find('=');
    request.query.emplace_back(
        std::string(line.substr(0, eq)),
        eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1)));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  request.header = [&headers](std::string_view name) {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::string() : it->second;
  };
  request.body = fields[4];
  static const std::map<std::string, std::string> kSecrets = {
      {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
  cdc::aws::SigV4Failure f = cdc::aws::VerifySigV4(request, kSecrets, 1440938160);
  if (f.type.empty()) {
    // Verified: then the header carried the signature of exactly this request.
    if (fields[0].find("Signature=") == std::string::npos) std::abort();
  } else if (f.message.find("wJalrXUtnFEMI") != std::string::npos) {
    std::abort();  // a secret in a message
  }
  return 0;
}
