#include "admin/http_listen.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/logging.h"

namespace cdc::admin {
namespace {

constexpr int kListenBacklog = 512;

}  // namespace

void ServingThread::Start(httplib::Server& server) {
  thread_ = std::thread([this, &server] {
    server.listen_after_bind();
    returned_ = true;
  });
}

void ServingThread::Stop(httplib::Server& server) {
  if (!thread_.joinable()) return;
  while (!server.is_running() && !returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server.stop();
  thread_.join();
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<std::string> BindServer(httplib::Server& server, const std::string& host, int port,
                               size_t threads) {
  // httplib's default sets SO_REUSEPORT, which would let a second pipeline bind the same port and
  // take half of the requests: only SO_REUSEADDR (a restart may bind while old connections
  // linger).
  auto listening = std::make_shared<socket_t>(INVALID_SOCKET);
  server.set_socket_options([listening](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    *listening = sock;
  });
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // One request per connection: httplib serves a kept-alive connection on a pool thread until it
  // has been idle for 5 s, so a few idle clients (Prometheus servers keep connections open, the
  // eventbridge target keeps `concurrency` of them) would take every thread and leave the next
  // client waiting. Closing after each answer costs a connect per request on loopback or a LAN.
  server.set_keep_alive_max_count(1);
  bool bound =
      port == 0 ? (port = server.bind_to_any_port(host)) > 0 : server.bind_to_port(host, port);
  if (!bound) return Unavailable("cannot listen");
  // httplib listens with a backlog of 5: a burst of scrapers beyond it has its SYNs dropped and
  // retried a second later. listen() again on the bound socket only raises the backlog.
  if (*listening != INVALID_SOCKET) ::listen(*listening, kListenBacklog);
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void WriteAddressFile(const std::string& path, const std::string& address) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) log::Warn("cannot write {}: {}", path, ec.message());
}

}  // namespace cdc::admin
