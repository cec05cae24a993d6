// Scrapes the admin server's /metrics (or PATH) the way a crowd of Prometheus servers would:
// RATE scrapes a second, each on a connection of its own, started on the clock without waiting
// for earlier ones (a slow server makes them pile up, up to MAX_IN_FLIGHT at once). One thread,
// non-blocking sockets and poll: the tool costs the machine little, so what a benchmark sees is
// the server's cost. Runs until SIGTERM or SIGINT, then prints one line: scrapes sent, answered
// 200, the rest (refused, failed or still in flight), the peak in flight, and answer-time
// percentiles; plus its own CPU seconds.
//
// Usage: scrape_load ADDR_FILE [RATE] [MAX_IN_FLIGHT] [PATH]   (defaults 100, 1000, /metrics)
// ADDR_FILE is <data_dir>/admin.addr ("127.0.0.1:9400"): waited for, since `run` writes it once
// it listens.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  bool sent = false;
  Clock::time_point start;
  std::string head;  // the first bytes of the answer (its status line)
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: scrape_load ADDR_FILE [RATE] [MAX_IN_FLIGHT] [PATH]\n");
    return 2;
  }
  const std::string addr_file = argv[1];
  const double rate = argc > 2 ? std::atof(argv[2]) : 100;
  const size_t max_in_flight = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1000;
  const std::string path = argc > 4 ? argv[4] : "/metrics";
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  std::string address;
  while (!g_stop) {
    std::ifstream in(addr_file);
    if (std::getline(in, address) && !address.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    if (!g_stop) std::fprintf(stderr, "scrape_load: not an IPv4 host:port: %s\n", address.c_str());
    return g_stop ? 0 : 2;
  }
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";

  std::vector<Conn> conns;
  std::vector<double> times_ms;
  size_t sent = 0, ok = 0, peak = 0;
  const auto begun = Clock::now();
  char buf[65536];
  auto finish = [&](Conn& c, bool good) {
    ::close(c.fd);
    c.fd = -1;
    if (good && c.head.rfind("HTTP/1.1 200", 0) == 0) {
      ++ok;
      times_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - c.start).count());
    }
  };
  while (!g_stop) {
    double elapsed = std::chrono::duration<double>(Clock::now() - begun).count();
    size_t due = static_cast<size_t>(elapsed * rate);
    while (sent < due && conns.size() < max_in_flight) {
      Conn c;
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      c.start = Clock::now();
      ++sent;
      if (c.fd < 0 || (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 &&
                       errno != EINPROGRESS)) {
        if (c.fd >= 0) ::close(c.fd);
        continue;
      }
      conns.push_back(std::move(c));
    }
    peak = std::max(peak, conns.size());
    std::vector<pollfd> fds(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
      fds[i] = {conns[i].fd, static_cast<short>(conns[i].sent ? POLLIN : POLLOUT), 0};
    }
    // Wake at least every 10 ms to start the scrapes that are due.
    ::poll(fds.data(), fds.size(), 10);
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      if (fds[i].revents == 0) continue;
      if (!c.sent) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                            static_cast<ssize_t>(request.size())) {
          finish(c, false);
          continue;
        }
        c.sent = true;
        continue;
      }
      ssize_t n = ::read(c.fd, buf, sizeof(buf));
      if (n > 0) {
        if (c.head.size() < 16) c.head.append(buf, std::min<size_t>(n, 16 - c.head.size()));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      finish(c, n == 0);
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
  }
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  double cpu = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
               static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  double max_ms = times_ms.empty() ? 0 : *std::max_element(times_ms.begin(), times_ms.end());
  double p50 = Percentile(times_ms, 0.5), p99 = Percentile(times_ms, 0.99);
  std::printf(
      "scrapes sent %zu, answered %zu, unanswered or failed %zu (%zu in flight at the end), peak "
      "in flight %zu, ms p50 %.1f p99 %.1f max %.1f, load tool CPU %.2f s\n",
      sent, ok, sent - ok, conns.size(), peak, p50, p99, max_ms, cpu);
  for (Conn& c : conns) ::close(c.fd);
  return 0;
}
