// The Prometheus text exposition format (version 0.0.4) of a metrics registry: per family a
// `# HELP` and a `# TYPE` line, then one line per series (histograms: `_bucket` lines with `le`,
// then `_sum` and `_count`). Label values and help texts are escaped as the format says.
//
// Thread-safety: as Registry::Collect.
#pragma once

#include <string>
#include <string_view>
#include <utility>
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
// Registries of the same kind of thing (the units of `run --role process`, one per shard) as one
// exposition: each series gets the label `label` with its registry's value ("shard"="3"), so
// that the families of all of them can be merged. A family that has that label already keeps
// only its series of its registry's value.
std::string RenderPrometheusLabeled(const std::vector<std::pair<std::string, Registry*>>& parts,
                                    std::string_view label);

// A label value as it appears between the quotes: \ " and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A sample value: shortest round-trip form, integers without a fraction, NaN, +Inf, -Inf.
std::string FormatSampleValue(double value);

}  // namespace cdc::metrics
