#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>
#include <vector>

#include "metrics/prometheus.h"
#include "support/test_util.h"

namespace cdc::metrics {
namespace {

TEST(MetricsTest, CountersGaugesAndSeriesByLabels) {
  Registry r;
  Counter& a = r.GetCounter("cdc_x_total", "x", {"target"}, {"a"});
  Counter& b = r.GetCounter("cdc_x_total", "x", {"target"}, {"b"});
  EXPECT_NE(&a, &b);
  EXPECT_EQ(&a, &r.GetCounter("cdc_x_total", "x", {"target"}, {"a"}));
  a.Inc();
  a.Inc(4);
  b.AdvanceTo(7);
  b.AdvanceTo(3);  // never lowers
  EXPECT_EQ(r.Value("cdc_x_total", {"a"}), 5);
  EXPECT_EQ(r.Value("cdc_x_total", {"b"}), 7);
  EXPECT_EQ(r.Value("cdc_x_total", {"c"}), 0);
  Gauge& g = r.GetGauge("cdc_g", "g");
  g.Set(10);
  g.Add(-2.5);
  EXPECT_EQ(r.Value("cdc_g"), 7.5);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  Counter& c = r.GetCounter("cdc_c_total", "c");
  Histogram& h = r.GetHistogram("cdc_h_seconds", "h", {1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(1.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{0, 40000, 40000}));
  EXPECT_DOUBLE_EQ(s.sum, 60000);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndInclusive) {
  Registry r;
  Histogram& h = r.GetHistogram("cdc_h_seconds", "h", {0.1, 1});
  h.Observe(0.1);  // le="0.1" includes 0.1
  h.Observe(0.5);
  h.Observe(5);
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.sum, 5.6);
}

TEST(MetricsTest, CollectorsRunBeforeCollect) {
  Registry r;
  int calls = 0;
  r.AddCollector([&](Registry& reg) {
    ++calls;
    reg.GetGauge("cdc_lag_records", "lag", {"shard"}, {"0"}).Set(42);
  });
  auto families = r.Collect();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].series[0].value, 42);
}

TEST(PrometheusTest, RendersHelpTypeAndSamples) {
  Registry r;
  r.GetCounter("cdc_events_published_total", "Events published to the bus.").Inc(3);
  r.GetGauge("cdc_shard_lag_records", "Records not yet delivered.", {"shard"}, {"1"}).Set(2);
  r.GetGauge("cdc_shard_lag_records", "Records not yet delivered.", {"shard"}, {"0"}).Set(0.5);
  Histogram& h =
      r.GetHistogram("cdc_delivery_latency_seconds", "Commit to delivery.", {0.5, 1}, {"t"}, {"f"});
  h.Observe(0.25);
  h.Observe(2);
  r.GetCounter("cdc_unused_total", "never created a series", {"x"}, {"y"});
  EXPECT_EQ(RenderPrometheus(r),
            "# HELP cdc_delivery_latency_seconds Commit to delivery.\n"
            "# TYPE cdc_delivery_latency_seconds histogram\n"
            "cdc_delivery_latency_seconds_bucket{t=\"f\",le=\"0.5\"} 1\n"
            "cdc_delivery_latency_seconds_bucket{t=\"f\",le=\"1\"} 1\n"
            "cdc_delivery_latency_seconds_bucket{t=\"f\",le=\"+Inf\"} 2\n"
            "cdc_delivery_latency_seconds_sum{t=\"f\"} 2.25\n"
            "cdc_delivery_latency_seconds_count{t=\"f\"} 2\n"
            "# HELP cdc_events_published_total Events published to the bus.\n"
            "# TYPE cdc_events_published_total counter\n"
            "cdc_events_published_total 3\n"
            "# HELP cdc_shard_lag_records Records not yet delivered.\n"
            "# TYPE cdc_shard_lag_records gauge\n"
            "cdc_shard_lag_records{shard=\"0\"} 0.5\n"
            "cdc_shard_lag_records{shard=\"1\"} 2\n"
            "# HELP cdc_unused_total never created a series\n"
            "# TYPE cdc_unused_total counter\n"
            "cdc_unused_total{x=\"y\"} 0\n");
}

TEST(PrometheusTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  Registry r;
  r.GetCounter("cdc_t_total", "line one\nback\\slash \"quoted\"", {"target"}, {"we\"ird\\\n"})
      .Inc();
  EXPECT_EQ(RenderPrometheus(r),
            "# HELP cdc_t_total line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE cdc_t_total counter\n"
            "cdc_t_total{target=\"we\\\"ird\\\\\\n\"} 1\n");
}

TEST(PrometheusTest, SampleValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(12345678901234), "12345678901234");
  EXPECT_EQ(FormatSampleValue(0.001), "0.001");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

// The admin server renders the live registry before the figures read from the state store: a
// family both have comes from the first, and the families stay sorted by name.
TEST(PrometheusTest, SeveralRegistriesRenderEachFamilyOnceFromTheFirst) {
  Registry live, stored;
  live.GetCounter("cdc_events_published_total", "Live.").Inc(7);
  stored.GetCounter("cdc_events_published_total", "Stored.").Inc(5);
  stored.GetGauge("cdc_a_gauge", "Only stored.").Set(2);
  stored.GetGauge("cdc_z_gauge", "Only stored.").Set(3);
  EXPECT_EQ(RenderPrometheus({&live, &stored}),
            "# HELP cdc_a_gauge Only stored.\n"
            "# TYPE cdc_a_gauge gauge\n"
            "cdc_a_gauge 2\n"
            "# HELP cdc_events_published_total Live.\n"
            "# TYPE cdc_events_published_total counter\n"
            "cdc_events_published_total 7\n"
            "# HELP cdc_z_gauge Only stored.\n"
            "# TYPE cdc_z_gauge gauge\n"
            "cdc_z_gauge 3\n");
}

// Prometheus's own linter on what we render (Debian `prometheus` ships promtool; issue 16 adds
// it to the bootstrap).
TEST(PrometheusTest, PromtoolAcceptsTheRenderedText) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  Registry r;
  r.GetCounter("cdc_changes_read_total", "Changes read from the source.").Inc(2);
  r.GetCounter("cdc_target_delivered_total", "Events delivered.", {"target"}, {"a\"b"}).Inc();
  r.GetGauge("cdc_shard_lag_records", "Records not yet delivered.", {"shard"}, {"0"}).Set(1);
  r.GetHistogram("cdc_delivery_latency_seconds", "Commit to delivery.", LatencyBuckets())
      .Observe(0.2);
  cdc::testing::TempDir dir;
  cdc::testing::WriteFile(dir / "metrics.txt", RenderPrometheus(r));
  std::string command = "promtool check metrics < '" + (dir / "metrics.txt") + "' 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << RenderPrometheus(r);
}

// The units of `run --role process`: one family per name, each series with its unit's label,
// histograms included; promtool accepts it.
TEST(PrometheusTest, LabeledRegistriesMergeTheirFamilies) {
  Registry a, b;
  a.GetCounter("cdc_events_total", "Events.", {"target"}, {"files"}).Inc(2);
  b.GetCounter("cdc_events_total", "Events.", {"target"}, {"files"}).Inc(5);
  a.GetGauge("cdc_lag", "Lag.").Set(1);
  b.GetHistogram("cdc_latency_seconds", "Latency.", {0.1, 1}).Observe(0.5);
  // Per-shard figures: each unit's own shard is kept.
  for (auto* r : {&a, &b}) {
    for (const char* shard : {"0", "3"}) {
      r->GetGauge("cdc_shard_bytes", "Bytes.", {"shard"}, {shard}).Set(r == &a ? 10 : 30);
    }
  }
  std::string text = RenderPrometheusLabeled({{"0", &a}, {"3", &b}}, "shard");
  EXPECT_EQ(text,
            "# HELP cdc_events_total Events.\n"
            "# TYPE cdc_events_total counter\n"
            "cdc_events_total{target=\"files\",shard=\"0\"} 2\n"
            "cdc_events_total{target=\"files\",shard=\"3\"} 5\n"
            "# HELP cdc_lag Lag.\n"
            "# TYPE cdc_lag gauge\n"
            "cdc_lag{shard=\"0\"} 1\n"
            "# HELP cdc_latency_seconds Latency.\n"
            "# TYPE cdc_latency_seconds histogram\n"
            "cdc_latency_seconds_bucket{shard=\"3\",le=\"0.1\"} 0\n"
            "cdc_latency_seconds_bucket{shard=\"3\",le=\"1\"} 1\n"
            "cdc_latency_seconds_bucket{shard=\"3\",le=\"+Inf\"} 1\n"
            "cdc_latency_seconds_sum{shard=\"3\"} 0.5\n"
            "cdc_latency_seconds_count{shard=\"3\"} 1\n"
            "# HELP cdc_shard_bytes Bytes.\n"
            "# TYPE cdc_shard_bytes gauge\n"
            "cdc_shard_bytes{shard=\"0\"} 10\n"
            "cdc_shard_bytes{shard=\"3\"} 30\n");
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    cdc::testing::TempDir dir;
    cdc::testing::WriteFile(dir / "metrics.txt", text);
    std::string command = "promtool check metrics < '" + (dir / "metrics.txt") + "' 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << text;
  }
}

}  // namespace
}  // namespace cdc::metrics
