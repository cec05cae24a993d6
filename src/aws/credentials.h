// AWS credentials from the standard provider chain, in the SDKs' order:
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials),
//      profile AWS_PROFILE (else "default");
//   3. container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI, or
//      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header;
//   4. instance metadata (IMDSv2: a session token first), unless AWS_EC2_METADATA_DISABLED=true;
//      AWS_EC2_METADATA_SERVICE_ENDPOINT moves it (tests point it at their own server).
// The metadata services are asked with short timeouts, so a machine without them fails fast.
//
// Credentials are secrets: nothing here logs them or puts them into a message.
// Thread-safety: CredentialProvider may be used from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"

namespace cdc::aws {

// Reads an environment variable; tests pass their own instead of the process environment.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
Environment ProcessEnvironment();

struct Credentials {
  std::string access_key_id;      // a secret in effect: never logged
  std::string secret_access_key;  // a secret: never logged
  std::string session_token;      // a secret: never logged; empty for long-term keys
  // Where they came from, for messages: "environment", "profile 'x' in <file>",
  // "container credentials", "instance metadata".
  std::string source;
  // Unix milliseconds after which they must be fetched again; 0 = they do not expire.
  int64_t expires_at_ms = 0;
};

struct CredentialOptions {
  Environment env = ProcessEnvironment();
  // How long a metadata service (container, instance) may take to answer each request.
  int64_t metadata_timeout_ms = 1000;
};

// Walks the chain once. NotFound (with what to set) when no provider has credentials; other
// errors when a provider that was asked for (a named profile, a container URI) is broken.
Result<Credentials> ResolveCredentials(const CredentialOptions& options);

// Resolves once and again a few minutes before temporary credentials expire.
class CredentialProvider {
 public:
  explicit CredentialProvider(CredentialOptions options) : options_(std::move(options)) {}
  Result<Credentials> Get();
  // Forgets cached credentials (after the service said they expired).
  void Invalidate();

 private:
  CredentialOptions options_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
};

}  // namespace cdc::aws
