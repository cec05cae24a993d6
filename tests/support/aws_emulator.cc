#include "support/aws_emulator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "support/test_util.h"

namespace cdc::testing {
namespace {

std::unique_ptr<AwsEmulator>& KinesaliteSlot() {
  static std::unique_ptr<AwsEmulator> slot;
  return slot;
}
std::unique_ptr<AwsEmulator>& DynaliteSlot() {
  static std::unique_ptr<AwsEmulator> slot;
  return slot;
}

class StopEmulators : public ::testing::Environment {
 public:
  void TearDown() override {
    KinesaliteSlot().reset();
    DynaliteSlot().reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kStopEmulators =
    ::testing::AddGlobalTestEnvironment(new StopEmulators);

bool Answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

AwsEmulator* Start(std::unique_ptr<AwsEmulator>& slot, AwsEmulator* (*make)(), const char* name,
                   std::string* missing) {
  std::string program = std::string(CDC_SOURCE_DIR) + "/node_modules/.bin/" + name;
  if (::access(program.c_str(), X_OK) != 0) {
    if (missing != nullptr) *missing = program + " (run scripts/bootstrap)";
    return nullptr;
  }
  if (!slot) slot.reset(make());
  return slot.get();
}

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

AwsEmulator::AwsEmulator(const std::string& program, const std::string& args, int port) {
  port_ = port != 0 ? port : FreePort();
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
  std::string command = "exec " + program + " --port " + std::to_string(port_) + " " + args;
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    // Its own process group, so the node process and any children stop together.
    ::setpgid(0, 0);
    std::freopen("/dev/null", "w", stdout);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Node starts in a second or two; a loaded machine may take much longer.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!Answers(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << program << " exited before it listened on port " << port_;
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << program << " did not listen on port " << port_ << " within 120 s";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

AwsEmulator::~AwsEmulator() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

AwsEmulator* AwsEmulator::Kinesalite(std::string* missing) {
  return Start(
      KinesaliteSlot(),
      [] {
        return new AwsEmulator(
            std::string(CDC_SOURCE_DIR) + "/node_modules/.bin/kinesalite",
            "--createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 --shardLimit 1000");
      },
      "kinesalite", missing);
}

std::unique_ptr<AwsEmulator> AwsEmulator::OwnKinesalite(const std::string& dir, int port) {
  std::string program = std::string(CDC_SOURCE_DIR) + "/node_modules/.bin/kinesalite";
  if (::access(program.c_str(), X_OK) != 0) return nullptr;
  return std::unique_ptr<AwsEmulator>(new AwsEmulator(
      program,
      "--createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 --shardLimit 1000 --path " + dir,
      port));
}

AwsEmulator* AwsEmulator::Dynalite(std::string* missing) {
  return Start(
      DynaliteSlot(),
      [] {
        return new AwsEmulator(std::string(CDC_SOURCE_DIR) + "/node_modules/.bin/dynalite",
                               "--createTableMs 0 --deleteTableMs 0 --updateTableMs 0");
      },
      "dynalite", missing);
}

std::map<std::string, std::string> AwsTestEnv() {
  return {{"AWS_ACCESS_KEY_ID", "AKIDTESTEMULATOR"},
          {"AWS_SECRET_ACCESS_KEY", "test-secret-not-real"},
          {"AWS_REGION", "us-east-1"},
          {"AWS_DEFAULT_REGION", "us-east-1"},
          {"AWS_EC2_METADATA_DISABLED", "true"},
          {"AWS_PAGER", ""}};
}

std::string AwsCliPath() {
  FILE* p = ::popen("command -v aws 2>/dev/null", "r");
  if (p == nullptr) return "";
  char buf[4096];
  std::string out;
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

AwsCliResult RunAwsCli(const std::string& endpoint, const std::string& args) {
  AwsCliResult result;
  std::string aws = AwsCliPath();
  if (aws.empty()) return result;
  TempDir dir;
  std::string command;
  for (const auto& [k, v] : AwsTestEnv()) command += k + "='" + v + "' ";
  command += aws + " " + args + " --endpoint-url " + endpoint + " --output json > " +
             (dir / "out") + " 2> " + (dir / "err");
  int status = std::system(command.c_str());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(dir / "out");
  result.err = ReadFile(dir / "err");
  return result;
}

}  // namespace cdc::testing
