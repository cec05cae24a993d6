// kinesalite and dynalite (npm, pinned in package-lock.json, installed by scripts/bootstrap into
// <source>/node_modules) for the AWS tests: each is started at most once per test process, on a
// free 127.0.0.1 port, when a test first asks for it; a gtest Environment stops it at the end,
// and the child gets SIGKILL if the test process dies first (PR_SET_PDEATHSIG).
#pragma once

#include <map>
#include <memory>
#include <string>

namespace cdc::testing {

class AwsEmulator {
 public:
  // The running emulator, or nullptr when its program is not installed (then `missing` names
  // it, for GTEST_SKIP). Fails the test if it is installed but does not start.
  static AwsEmulator* Kinesalite(std::string* missing);
  static AwsEmulator* Dynalite(std::string* missing);
  // A kinesalite of the caller's own (not the shared one) that keeps its streams in `dir`, on
  // `port` (0: a free one): a test can kill it and start it again on the same port and data.
  // nullptr when kinesalite is not installed.
  static std::unique_ptr<AwsEmulator> OwnKinesalite(const std::string& dir, int port = 0);

  ~AwsEmulator();
  const std::string& endpoint() const { return endpoint_; }  // http://127.0.0.1:<port>
  int port() const { return port_; }
  int pid() const { return pid_; }

 private:
  AwsEmulator(const std::string& program, const std::string& args, int port = 0);
  std::string endpoint_;
  int port_ = 0;
  int pid_ = -1;
};

// Dummy credentials and a region for the emulators, as environment variables (for the binary
// and the AWS CLI).
std::map<std::string, std::string> AwsTestEnv();

// Runs the AWS CLI (`aws <args> --endpoint-url <endpoint> --output json`) with AwsTestEnv;
// nullopt-like: exit_code -1 when `aws` is absent.
struct AwsCliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
std::string AwsCliPath();  // "" when `aws` is not on the PATH
AwsCliResult RunAwsCli(const std::string& endpoint, const std::string& args);

// A free TCP port on 127.0.0.1 (bound and released).
int FreePort();

}  // namespace cdc::testing
