// The Prometheus text exposition format (version 0.0.4) of a metrics registry: per family a
// `# HELP` and a `# TYPE` line, then one line per series (histograms: `_bucket` lines with `le`,
// then `_sum` and `_count`). Label values and help texts are escaped as the format says.
//
// Thread-safety: as Registry::Collect.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"

namespace cdc::metrics {

// The content type to serve it with.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";

std::string RenderPrometheus(Registry& registry);
// Several registries as one exposition (families sorted by name): a family present in more than
// one is rendered from the first that has series for it (e.g. a running pipeline's live
// registry before figures read from its state store).
std::string RenderPrometheus(const std::vector<Registry*>& registries);

// A label value as it appears between the quotes: \ " and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A sample value: shortest round-trip form, integers without a fraction, NaN, +Inf, -Inf.
std::string FormatSampleValue(double value);

}  // namespace cdc::metrics
