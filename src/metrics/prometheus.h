// The Prometheus text exposition format (version 0.0.4) of a metrics registry: per family a
// `# HELP` and a `# TYPE` line, then one line per series (histograms: `_bucket` lines with `le`,
// then `_sum` and `_count`). Label values and help texts are escaped as the format says.
//
// Thread-safety: as Registry::Collect.
#pragma once

#include <string>
#include <string_view>

#include "metrics/metrics.h"

namespace cdc::metrics {

// The content type to serve it with.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";

std::string RenderPrometheus(Registry& registry);

// A label value as it appears between the quotes: \ " and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A sample value: shortest round-trip form, integers without a fraction, NaN, +Inf, -Inf.
std::string FormatSampleValue(double value);

}  // namespace cdc::metrics
