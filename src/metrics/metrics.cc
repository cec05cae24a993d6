#include "metrics/metrics.h"

#include <algorithm>

#include "base/status.h"

namespace cdc::metrics {

void Counter::AdvanceTo(uint64_t total) {
  uint64_t v = value_.load(std::memory_order_relaxed);
  while (v < total && !value_.compare_exchange_weak(v, total, std::memory_order_relaxed)) {
  }
}

void Gauge::Add(double d) {
  double v = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(v, v + d, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double s = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(s, s + v, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  // Read apart from the buckets, so a concurrent Observe may show in one and not the other;
  // the +Inf bucket and the count are the same number by construction.
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
}

std::vector<double> DurationBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
}

struct Registry::Family {
  std::string name, help;
  Kind kind = Kind::kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  // One allocation per series (its address stays put), found by label values.
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

Registry::Registry() = default;
Registry::~Registry() = default;

namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Registry::Family& Registry::GetFamily(std::string_view name, std::string_view help, Kind kind,
                                      const std::vector<std::string>& label_names) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    CDC_ASSERT(ValidName(name), "invalid metric name");
    for (const auto& l : label_names) {
      CDC_ASSERT(ValidName(l) && l.find(':') == std::string::npos && l.rfind("__", 0) != 0,
                 "invalid metric label name");
    }
    auto f = std::make_unique<Family>();
    f->name = std::string(name);
    f->help = std::string(help);
    f->kind = kind;
    f->label_names = label_names;
    it = families_.emplace(f->name, std::move(f)).first;
  }
  Family& f = *it->second;
  CDC_ASSERT(f.kind == kind && f.label_names == label_names,
             "a metric family keeps its kind and label names");
  return f;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help,
                              const std::vector<std::string>& label_names,
                              const Labels& label_values) {
  CDC_ASSERT(label_names.size() == label_values.size(), "one value per label name");
  std::lock_guard lock(mu_);
  Family& f = GetFamily(name, help, Kind::kCounter, label_names);
  auto& slot = f.counters[label_values];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help,
                          const std::vector<std::string>& label_names, const Labels& label_values) {
  CDC_ASSERT(label_names.size() == label_values.size(), "one value per label name");
  std::lock_guard lock(mu_);
  Family& f = GetFamily(name, help, Kind::kGauge, label_names);
  auto& slot = f.gauges[label_values];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const std::vector<double>& bounds,
                                  const std::vector<std::string>& label_names,
                                  const Labels& label_values) {
  CDC_ASSERT(label_names.size() == label_values.size(), "one value per label name");
  CDC_ASSERT(std::is_sorted(bounds.begin(), bounds.end()), "histogram bounds ascend");
  std::lock_guard lock(mu_);
  Family& f = GetFamily(name, help, Kind::kHistogram, label_names);
  if (f.histograms.empty() && f.bounds.empty()) f.bounds = bounds;
  CDC_ASSERT(f.bounds == bounds, "a histogram family keeps its bounds");
  auto& slot = f.histograms[label_values];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

void Registry::AddCollector(std::function<void(Registry&)> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::vector<Registry::FamilyView> Registry::Collect() {
  std::vector<std::function<void(Registry&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);
  std::lock_guard lock(mu_);
  std::vector<FamilyView> out;
  for (const auto& [name, f] : families_) {
    FamilyView& v = out.emplace_back();
    v.name = f->name;
    v.help = f->help;
    v.kind = f->kind;
    v.label_names = f->label_names;
    for (const auto& [labels, c] : f->counters) {
      v.series.push_back({&labels, Kind::kCounter, static_cast<double>(c->value()), {}});
    }
    for (const auto& [labels, g] : f->gauges) {
      v.series.push_back({&labels, Kind::kGauge, g->value(), {}});
    }
    for (const auto& [labels, h] : f->histograms) {
      v.series.push_back({&labels, Kind::kHistogram, 0, h->snapshot()});
    }
  }
  return out;
}

double Registry::Value(std::string_view name, const Labels& label_values) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  const Family& f = *it->second;
  if (auto c = f.counters.find(label_values); c != f.counters.end()) {
    return static_cast<double>(c->second->value());
  }
  if (auto g = f.gauges.find(label_values); g != f.gauges.end()) return g->second->value();
  return 0;
}

}  // namespace cdc::metrics
