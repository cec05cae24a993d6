// Puts N records of S bytes through the kinesis stream kind (Append + Sync, PutRecords of up to
// 500 records) into an existing stream, and prints one line: records, seconds, records/s and the
// CPU microseconds this process spent per record (user + system, getrusage). For bench/kinesis.sh,
// beside the @aws-sdk/client-kinesis script doing the same (bench/kinesis_sdk.mjs).
// Usage: kinesis_put ENDPOINT STREAM SHARDS RECORDS BYTES
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/config.h"
#include "stream/kinesis/kinesis_stream.h"

namespace {

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: kinesis_put ENDPOINT STREAM SHARDS RECORDS BYTES\n");
    return 2;
  }
  auto options = std::make_shared<cdc::stream::KinesisStreamOptions>();
  options->endpoint = argv[1];
  options->stream_name = argv[2];
  options->flush_bytes = 1ll << 30;  // Sync decides: one Sync per 500 records, as the SDK script
  cdc::StreamConfig config;
  config.type = "kinesis";
  config.kind = cdc::BuiltinRegistry().FindStream("kinesis");
  config.options = options;
  config.shards = std::atoi(argv[3]);
  const long records = std::atol(argv[4]);
  const std::string payload(static_cast<size_t>(std::atol(argv[5])), 'x');
  auto stream = cdc::stream::OpenStream(config, "");
  if (!stream.ok()) {
    std::fprintf(stderr, "%s\n", stream.status().ToString().c_str());
    return 1;
  }
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < records; ++i) {
    std::string key = "bench|" + std::to_string(i);
    auto appended = (*stream)->Append(key, 1, payload, 0);
    if (!appended.ok()) return 1;
    if ((i + 1) % 500 == 0 || i + 1 == records) {
      cdc::Status s = (*stream)->Sync();
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  std::printf("%ld %.3f %.0f %.1f\n", records, seconds, static_cast<double>(records) / seconds,
              cpu * 1e6 / static_cast<double>(records));
  return 0;
}
