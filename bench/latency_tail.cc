// Follows a JSONL file of EventBridge events as it grows and measures, per line, the time from
// the change's commit (detail.timestamp: PostgreSQL's commit time in microseconds; the envelope's
// "time" has whole seconds, as EventBridge's) to the moment the line
// is readable in the file. Prints count, p50, p90, p99, p99.9 and max in milliseconds.
//
// Usage: latency_tail FILE [IDLE_SECONDS]   (stops after IDLE_SECONDS without a new line,
// default 5, once at least one line was seen)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"

namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: latency_tail FILE [IDLE_SECONDS]\n");
    return 2;
  }
  std::string path = argv[1];
  double idle = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::vector<int64_t> latencies;
  std::string pending;
  std::ifstream in;
  auto last_line = std::chrono::steady_clock::now();
  char buf[1 << 16];
  while (true) {
    if (!in.is_open()) {
      in.open(path, std::ios::binary);
      if (!in.is_open()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
    }
    in.read(buf, sizeof(buf));
    std::streamsize n = in.gcount();
    if (n <= 0) {
      in.clear();
      auto quiet = std::chrono::steady_clock::now() - last_line;
      if (!latencies.empty() && quiet > std::chrono::duration<double>(idle)) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    int64_t now = NowMicros();
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    while (true) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(pending.data() + start, nl - start);
      size_t t = line.find("\"timestamp\":\"");
      if (t != std::string_view::npos) {
        size_t from = t + 13;
        size_t to = line.find('"', from);
        auto ts = cdc::ParseRfc3339(line.substr(from, to - from));
        if (ts) latencies.push_back(now - ts->micros);
      }
      start = nl + 1;
      last_line = std::chrono::steady_clock::now();
    }
    pending.erase(0, start);
  }
  size_t count = latencies.size();
  double p50 = Percentile(latencies, 0.50), p90 = Percentile(latencies, 0.90),
         p99 = Percentile(latencies, 0.99), p999 = Percentile(latencies, 0.999);
  double max = static_cast<double>(*std::max_element(latencies.begin(), latencies.end())) / 1000.0;
  std::printf("%zu %.2f %.2f %.2f %.2f %.2f\n", count, p50, p90, p99, p999, max);
  return 0;
}
