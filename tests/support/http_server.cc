#include "support/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>

namespace cdc::testing {

TestHttpServer::TestHttpServer(Responder status)
    : TestHttpServer(BodyResponder([status = std::move(status)](size_t n, const HttpRequest& r) {
        return Answer{status(n, r), "", ""};
      })) {}

TestHttpServer::TestHttpServer(BodyResponder answer) : answer_(std::move(answer)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("bind/listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

TestHttpServer::~TestHttpServer() {
  stop_ = true;
  {
    std::lock_guard lock(mu_);
    held_ = false;
  }
  cv_.notify_all();
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
}

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<HttpRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<std::string> TestHttpServer::delivered() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : requests_) {
    if (r.status >= 200 && r.status < 300) out.push_back(r.body);
  }
  return out;
}

void TestHttpServer::Hold(bool held) {
  {
    std::lock_guard lock(mu_);
    held_ = held;
  }
  cv_.notify_all();
}

bool TestHttpServer::WaitForDelivered(size_t n, int timeout_ms) const {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (delivered().size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return delivered().size() >= n;
}

void TestHttpServer::Accept() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string buffer;
  char chunk[65536];
  auto fill = [&]() {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 50);
      if (r == 0) continue;
      if (r < 0) return false;
      ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
      return true;
    }
    return false;
  };
  while (!stop_) {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        ::close(fd);
        return;
      }
    }
    HttpRequest request;
    std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    request.method = first.substr(0, sp1);
    request.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string h = head.substr(pos, e - pos);
      pos = e + 2;
      size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") length = std::stoul(value);
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    while (buffer.size() < length) {
      if (!fill()) {
        ::close(fd);
        return;
      }
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    size_t n;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !held_ || stop_; });
      n = requests_.size();
      requests_.push_back(request);
    }
    Answer reply = answer_(n, request);
    {
      std::lock_guard lock(mu_);
      requests_[n].status = reply.status;
    }
    std::string answer = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
    if (!reply.content_type.empty()) answer += "Content-Type: " + reply.content_type + "\r\n";
    for (const auto& [name, value] : reply.headers) answer += name + ": " + value + "\r\n";
    answer += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    if (::write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size())) break;
  }
  ::close(fd);
}

}  // namespace cdc::testing
