// A small HTTP/1.1 server on 127.0.0.1 for tests of the http target: it answers each request
// with the status a test chooses (keep-alive, Content-Length bodies), records what it received,
// and can hold answers back (a stalled endpoint). Stopped by its destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cdc::testing {

struct HttpRequest {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  int status = 0;                                            // what the server answered
};

class TestHttpServer {
 public:
  // `status(n, request)`: the answer to the n-th request (0-based), e.g. 200 or 503.
  using Responder = std::function<int(size_t n, const HttpRequest& request)>;
  explicit TestHttpServer(Responder status);
  // An answer with a body (an AWS error, a metadata service, a proxy's answer).
  struct Answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;  // more response headers
  };
  using BodyResponder = std::function<Answer(size_t n, const HttpRequest& request)>;
  explicit TestHttpServer(BodyResponder answer);
  ~TestHttpServer();

  int port() const { return port_; }
  std::string url(const std::string& path = "/events") const;
  // Every request so far, in arrival order.
  std::vector<HttpRequest> requests() const;
  // Bodies of the requests answered 2xx, in order.
  std::vector<std::string> delivered() const;
  // While held, requests are read but not answered.
  void Hold(bool held);
  // Waits until at least `n` requests were answered 2xx (or the timeout passes).
  bool WaitForDelivered(size_t n, int timeout_ms) const;

 private:
  void Accept();
  void Serve(int fd);

  BodyResponder answer_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::thread> connections_;
  std::vector<HttpRequest> requests_;
  bool held_ = false;
};

}  // namespace cdc::testing
