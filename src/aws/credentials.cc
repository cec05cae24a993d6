#include "aws/credentials.h"

#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aws/http.h"
#include "base/time.h"

namespace cdc::aws {
namespace {

constexpr const char* kNoCredentials =
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
    "AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE with a profile in "
    "~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE), or run where container or instance "
    "credentials are available";
// Refresh temporary credentials this long before they expire.
constexpr int64_t kRefreshMarginMs = 5 * 60 * 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Get(const Environment& env, const std::string& name) {
  auto v = env(name);
  return v ? *v : std::string();
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The [profile] section of an INI credentials file; nullopt when the section is absent.
std::optional<Credentials> ReadProfile(const std::string& path, const std::string& profile,
                                       bool& file_exists) {
  std::ifstream in(path);
  file_exists = static_cast<bool>(in);
  if (!in) return std::nullopt;
  std::optional<Credentials> found;
  bool in_section = false;
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      std::string name = Trim(line.substr(1, line.find(']') - 1));
      in_section = name == profile;
      if (in_section && !found) found.emplace();
      continue;
    }
    if (!in_section) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") found->access_key_id = value;
    if (key == "aws_secret_access_key") found->secret_access_key = value;
    if (key == "aws_session_token") found->session_token = value;
  }
  return found;
}

// The JSON both metadata services answer with: AccessKeyId, SecretAccessKey, Token, Expiration.
Result<Credentials> ParseMetadataCredentials(const std::string& body, const std::string& source) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Unavailable(source + " answered with something that is not JSON credentials");
  }
  Credentials c;
  c.source = source;
  std::string_view v;
  if (root["AccessKeyId"].get(v) == simdjson::SUCCESS) c.access_key_id = v;
  if (root["SecretAccessKey"].get(v) == simdjson::SUCCESS) c.secret_access_key = v;
  if (root["Token"].get(v) == simdjson::SUCCESS) c.session_token = v;
  if (root["Expiration"].get(v) == simdjson::SUCCESS) {
    if (auto t = ParseRfc3339(v)) c.expires_at_ms = t->micros / 1000;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Unavailable(source + " answered without AccessKeyId and SecretAccessKey");
  }
  return c;
}

Result<Credentials> FromContainer(const CredentialOptions& o, const std::string& url) {
  std::vector<std::string> headers;
  std::string token = Get(o.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  if (token.empty()) {
    std::string token_file = Get(o.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::stringstream ss;
      ss << in.rdbuf();
      token = Trim(ss.str());
    }
  }
  if (!token.empty()) headers.push_back("Authorization: " + token);
  auto r = internal::SimpleRequest("GET", url, headers, o.metadata_timeout_ms,
                                   "container credentials endpoint");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Unavailable("container credentials endpoint (" + internal::Origin(url) +
                       ") answered HTTP " + std::to_string(r->status));
  }
  return ParseMetadataCredentials(r->body, "container credentials");
}

// IMDSv2: a session token (PUT), the role name, then the role's credentials.
Result<Credentials> FromInstanceMetadata(const CredentialOptions& o) {
  std::string base = Get(o.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (base.empty()) base = "http://169.254.169.254";
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto token = internal::SimpleRequest("PUT", base + "/latest/api/token",
                                       {"X-aws-ec2-metadata-token-ttl-seconds: 21600"},
                                       o.metadata_timeout_ms, "instance metadata");
  if (!token.ok()) return token.status();
  if (token->status != 200) {
    return Unavailable("instance metadata answered HTTP " + std::to_string(token->status) +
                       " for a session token");
  }
  std::string header = "X-aws-ec2-metadata-token: " + Trim(token->body);
  std::string path = base + "/latest/meta-data/iam/security-credentials/";
  auto role =
      internal::SimpleRequest("GET", path, {header}, o.metadata_timeout_ms, "instance metadata");
  if (!role.ok()) return role.status();
  std::string name = Trim(role->body.substr(0, role->body.find('\n')));
  if (role->status != 200 || name.empty()) {
    return NotFound("instance metadata has no IAM role attached to this instance");
  }
  auto creds = internal::SimpleRequest("GET", path + name, {header}, o.metadata_timeout_ms,
                                       "instance metadata");
  if (!creds.ok()) return creds.status();
  if (creds->status != 200) {
    return Unavailable("instance metadata answered HTTP " + std::to_string(creds->status) +
                       " for the role's credentials");
  }
  return ParseMetadataCredentials(creds->body, "instance metadata");
}

}  // namespace

Environment ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<Credentials> ResolveCredentials(const CredentialOptions& o) {
  // 1. The environment.
  std::string id = Get(o.env, "AWS_ACCESS_KEY_ID");
  std::string secret = Get(o.env, "AWS_SECRET_ACCESS_KEY");
  if (!id.empty() || !secret.empty()) {
    if (id.empty() || secret.empty()) {
      return InvalidArgument(
          "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both, or neither "
          "to use a profile or instance credentials");
    }
    return Credentials{id, secret, Get(o.env, "AWS_SESSION_TOKEN"), "environment", 0};
  }
  // 2. The shared credentials file.
  std::string profile = Get(o.env, "AWS_PROFILE");
  bool named = !profile.empty();
  if (!named) profile = "default";
  std::string file = Get(o.env, "AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) {
    std::string home = Get(o.env, "HOME");
    if (!home.empty()) file = home + "/.aws/credentials";
  }
  if (!file.empty()) {
    bool exists = false;
    auto found = ReadProfile(file, profile, exists);
    std::string where = "profile '" + profile + "' in " + file;
    if (found) {
      if (found->access_key_id.empty() || found->secret_access_key.empty()) {
        return InvalidArgument(where +
                               " lacks aws_access_key_id or aws_secret_access_key: add both");
      }
      found->source = where;
      return *found;
    }
    if (named) {
      return NotFound("AWS_PROFILE names profile '" + profile + "', which is not in " + file +
                      (exists ? "" : " (no such file)") +
                      ": add it, or set AWS_SHARED_CREDENTIALS_FILE to the right file");
    }
  }
  // 3. Container credentials.
  std::string full = Get(o.env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  std::string relative = Get(o.env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  if (!full.empty()) return FromContainer(o, full);
  if (!relative.empty()) return FromContainer(o, "http://169.254.170.2" + relative);
  // 4. Instance metadata.
  std::string disabled = Get(o.env, "AWS_EC2_METADATA_DISABLED");
  if (disabled != "true" && disabled != "TRUE" && disabled != "1") {
    auto r = FromInstanceMetadata(o);
    if (r.ok()) return r;
    if (!Get(o.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT").empty()) return r.status();
  }
  return NotFound(kNoCredentials);
}

Result<Credentials> CredentialProvider::Get() {
  std::lock_guard lock(mu_);
  if (cached_ &&
      (cached_->expires_at_ms == 0 || cached_->expires_at_ms - kRefreshMarginMs > NowMs())) {
    return *cached_;
  }
  auto r = ResolveCredentials(options_);
  if (!r.ok()) return r.status();
  cached_ = *r;
  return *r;
}

void CredentialProvider::Invalidate() {
  std::lock_guard lock(mu_);
  cached_.reset();
}

}  // namespace cdc::aws
