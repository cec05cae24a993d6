#include "metrics/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace cdc::metrics {
namespace {

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const char* TypeName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (with `extra` as the last label, for `le`), or nothing without labels.
void AppendLabels(std::string& out, const std::vector<std::string>& names, const Labels& values,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& names, const Labels& values, double value,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  AppendLabels(out, names, values, extra_name, extra_value);
  out.push_back(' ');
  out += FormatSampleValue(value);
  out.push_back('\n');
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, r.ptr);
}

namespace {

void AppendFamily(std::string& out, const Registry::FamilyView& f) {
  out += "# HELP ";
  out += f.name;
  out.push_back(' ');
  out += EscapeHelp(f.help);
  out += "\n# TYPE ";
  out += f.name;
  out.push_back(' ');
  out += TypeName(f.kind);
  out.push_back('\n');
  for (const auto& s : f.series) {
    if (s.kind != Kind::kHistogram) {
      AppendSample(out, f.name, "", f.label_names, *s.labels, s.value);
      continue;
    }
    const auto& h = s.histogram;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      AppendSample(out, f.name, "_bucket", f.label_names, *s.labels,
                   static_cast<double>(h.cumulative[i]), "le", FormatSampleValue(h.bounds[i]));
    }
    AppendSample(out, f.name, "_bucket", f.label_names, *s.labels, static_cast<double>(h.count),
                 "le", "+Inf");
    AppendSample(out, f.name, "_sum", f.label_names, *s.labels, h.sum);
    AppendSample(out, f.name, "_count", f.label_names, *s.labels, static_cast<double>(h.count));
  }
}

}  // namespace

std::string RenderPrometheus(Registry& registry) { return RenderPrometheus({&registry}); }

std::string RenderPrometheus(const std::vector<Registry*>& registries) {
  std::vector<Registry::FamilyView> families;
  std::set<std::string, std::less<>> seen;
  for (Registry* registry : registries) {
    for (auto& f : registry->Collect()) {
      if (f.series.empty() || !seen.insert(f.name).second) continue;
      families.push_back(std::move(f));
    }
  }
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  std::string out;
  for (const auto& f : families) AppendFamily(out, f);
  return out;
}

}  // namespace cdc::metrics
