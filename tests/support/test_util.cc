#include "support/test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cdc::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "cdc-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

bool FileExists(const std::string& path) { return fs::exists(path); }

void CopyShippedModels(const std::string& dir) {
  fs::create_directories(fs::path(dir) / "models");
  for (const auto& e : fs::directory_iterator(std::string(CDC_SOURCE_DIR) + "/config/models")) {
    fs::copy_file(e.path(), fs::path(dir) / "models" / e.path().filename(),
                  fs::copy_options::overwrite_existing);
  }
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::map<std::string, std::vector<std::string>> ByKey(const std::vector<std::string>& events) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& e : events) {
    std::string key;
    size_t t = e.find(R"("tableName":")");
    if (t != std::string::npos) {
      t += 13;
      key = e.substr(t, e.find('"', t) - t);
    }
    size_t id = e.find(R"(":{"id":)", t == std::string::npos ? 0 : t);
    if (id != std::string::npos) {
      id += 8;
      key += "|" + e.substr(id, e.find_first_of(",}", id) - id);
    }
    out[key].push_back(e);
  }
  return out;
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// In the child: redirects stdin/stdout/stderr, changes directory, adds `env`, execs the binary.
[[noreturn]] void ExecCli(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env, const std::string& cwd,
                          int in, int out, int err) {
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  if (::chdir(cwd.c_str()) != 0) ::_exit(127);
  // The shipped config hashes PII with the key in CDC_HMAC_KEY: a fixed test key unless the test
  // sets one (an empty value tests the missing-key errors).
  ::setenv("CDC_HMAC_KEY_SOURCE", "env:CDC_HMAC_KEY", 0);
  ::setenv("CDC_HMAC_KEY", "cdc-tests-hmac-key-not-a-secret", 0);
  // The shipped config's admin server on a free port, so tests running `run` at once never
  // compete for 9400 (the address is in <data_dir>/admin.addr).
  ::setenv("CDC_ADMIN_LISTEN", "127.0.0.1:0", 0);
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> argv;
  std::string binary = CDC_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  ::_exit(127);
}

}  // namespace

CommandResult RunCli(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env, const std::string& cwd,
                     const std::string& stdin_text) {
  TempDir io;
  std::string in_path = io / "stdin", out_path = io / "stdout", err_path = io / "stderr";
  WriteFile(in_path, stdin_text);
  pid_t pid = ::fork();
  if (pid == 0) {
    ExecCli(args, env, cwd, ::open(in_path.c_str(), O_RDONLY),
            ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
            ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

CliProcess::CliProcess(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env, const std::string& log_path,
                       const std::string& cwd) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ExecCli(args, env, cwd, ::open("/dev/null", O_RDONLY), out, out);
  }
}

CliProcess::~CliProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    Wait(10);
  }
}

void CliProcess::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

bool CliProcess::running() {
  if (status_ != -1 || pid_ <= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int CliProcess::Wait(double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

}  // namespace cdc::testing
