// A small metrics registry: counters, gauges and histograms, each a family with a name, a help
// text and label names, whose series (one per set of label values) are looked up once and then
// updated with one relaxed atomic operation on the hot path. The pipeline updates them; `status`
// and the admin server (issue 16) read them, the latter through the Prometheus text renderer
// (prometheus.h).
//
// Thread-safety: every method is thread-safe. Creating families and series takes the registry's
// lock; Inc, Set and Observe on a series are lock-free. Series live as long as the registry, so
// the pointers the Get* calls return stay valid.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cdc::metrics {

enum class Kind { kCounter, kGauge, kHistogram };

// A value that only goes up (events, bytes).
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // Raises the counter to `total` when it is below (a total counted elsewhere, e.g. a target's
  // delivered count carried over from the last checkpoint); never lowers it.
  void AdvanceTo(uint64_t total);
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (a cursor, a lag, bytes in memory).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (= count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>& bounds_;                 // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Seconds from 1 ms to about 5 minutes: commit-to-delivery latency.
std::vector<double> LatencyBuckets();
// Seconds from 100 µs to 10 s: fsyncs and commits.
std::vector<double> DurationBuckets();

using Labels = std::vector<std::string>;  // values, in the family's label-name order

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The series of family `name` with these label values, created on first use. A name must
  // match [a-zA-Z_:][a-zA-Z0-9_:]* and keep its kind, help and label names (CDC_ASSERT).
  Counter& GetCounter(std::string_view name, std::string_view help,
                      const std::vector<std::string>& label_names = {},
                      const Labels& label_values = {});
  Gauge& GetGauge(std::string_view name, std::string_view help,
                  const std::vector<std::string>& label_names = {},
                  const Labels& label_values = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds,
                          const std::vector<std::string>& label_names = {},
                          const Labels& label_values = {});

  // Runs before every Collect (e.g. a collector that copies counts kept elsewhere into gauges).
  // It runs on the reading thread, so what it reads must be thread-safe.
  void AddCollector(std::function<void(Registry&)> collect);

  // What a renderer sees: each family, sorted by name, with its series sorted by labels.
  struct SeriesView {
    const Labels* labels;
    Kind kind;
    double value;                   // counters and gauges
    Histogram::Snapshot histogram;  // histograms
  };
  struct FamilyView {
    std::string name, help;
    Kind kind;
    std::vector<std::string> label_names;
    std::vector<SeriesView> series;
  };
  // Runs the collectors first.
  std::vector<FamilyView> Collect();

  // The current value of a counter or gauge series (tests, `status`); 0 when it does not exist.
  double Value(std::string_view name, const Labels& label_values = {}) const;

 private:
  struct Family;
  Family& GetFamily(std::string_view name, std::string_view help, Kind kind,
                    const std::vector<std::string>& label_names);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  std::vector<std::function<void(Registry&)>> collectors_;
};

}  // namespace cdc::metrics
