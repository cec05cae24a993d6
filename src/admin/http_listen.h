// What the HTTP servers of `run` (the admin server, the bus's API in src/api) share: binding a
// cpp-httplib server the same way (SO_REUSEADDR but not httplib's SO_REUSEPORT, close-on-exec,
// a fixed thread pool, port 0 = any free port) and publishing the bound address in a file of the
// data dir for tests and tools.
//
// Thread-safety: plain functions; call them before the server serves.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "base/status.h"

namespace cdc::admin {

// Configures and binds `server` to host:port (port 0: a free one). Returns the address bound,
// "127.0.0.1:9400" or "[::1]:9400"; Unavailable when the address cannot be bound.
Result<std::string> BindServer(httplib::Server& server, const std::string& host, int port,
                               size_t threads);

// Serves a bound `server` on a thread of its own until Stop.
class ServingThread {
 public:
  void Start(httplib::Server& server);
  // Stops the server and joins the thread. httplib's stop() does nothing before the listen loop
  // runs, so a Stop right after Start (a run refused at startup) waits for the loop to begin or
  // for listening to fail, instead of leaving the thread in accept() forever.
  void Stop(httplib::Server& server);

 private:
  std::thread thread_;
  std::atomic<bool> returned_{false};
};

// Whether `host` is a loopback address (no warning about an open port is needed).
bool IsLoopback(const std::string& host);

// Writes `address` and a newline to `path` whole (a temporary file renamed into place); logs a
// warning when it cannot.
void WriteAddressFile(const std::string& path, const std::string& address);

}  // namespace cdc::admin
