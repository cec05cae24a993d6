// Helpers shared by the tests: temporary directories, files, and running the cdc-pipeline binary.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cdc::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);  // "" when missing
void WriteFile(const std::string& path, const std::string& content);
bool FileExists(const std::string& path);
std::vector<std::string> ReadLines(const std::string& path);
std::vector<std::string> ListFiles(const std::string& dir);  // names, sorted; recursive, relative

// Published events (one JSON line each) grouped by row: "table|id" (the detail's tableName and
// the `id` of its row image) -> the events in the given order. The pipeline orders events per
// key only (one worker per shard), so two targets are compared with ByKey(a) == ByKey(b).
std::map<std::string, std::vector<std::string>> ByKey(const std::vector<std::string>& events);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs build/bin/cdc-pipeline with `args`, in `cwd` (default: the source dir), with `env` added
// to the environment (and a fixed test CDC_HMAC_KEY unless set). Standard input is `stdin_text`.
CommandResult RunCli(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {},
                     const std::string& cwd = CDC_SOURCE_DIR, const std::string& stdin_text = "");

// The binary running in the background (stdout and stderr appended to `log_path`).
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
             const std::string& log_path, const std::string& cwd = CDC_SOURCE_DIR);
  ~CliProcess();  // SIGKILL if still running
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  void Signal(int sig);
  // Waits up to `seconds`; the exit code (128 + signal when killed), or -1 on timeout.
  int Wait(double seconds);
  bool running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
};

// Copies the shipped data models (config/models) to <dir>/models: for tests that write a modified
// copy of config/cdc-pipeline.yaml into `dir`, whose `model:` paths are relative to the file.
void CopyShippedModels(const std::string& dir);

inline std::string SourcePath(const std::string& relative) {
  return std::string(CDC_SOURCE_DIR) + "/" + relative;
}

}  // namespace cdc::testing
