#include "metrics/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <map>
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

std::string RenderPrometheusLabeled(const std::vector<std::pair<std::string, Registry*>>& parts,
                                    std::string_view label) {
  std::map<std::string, Registry::FamilyView, std::less<>> families;
  std::deque<Labels> labels;  // the series' labels with `label` added (stable addresses)
  for (const auto& [value, registry] : parts) {
    for (auto& f : registry->Collect()) {
      if (f.series.empty()) continue;
      // A family that has the label already (per-shard figures) keeps the series of its own
      // registry's value only.
      auto own = std::find(f.label_names.begin(), f.label_names.end(), label);
      const size_t at = static_cast<size_t>(own - f.label_names.begin());
      const bool has = own != f.label_names.end();
      auto [it, added] = families.try_emplace(f.name);
      Registry::FamilyView& merged = it->second;
      if (added) {
        merged.name = f.name;
        merged.help = f.help;
        merged.kind = f.kind;
        merged.label_names = f.label_names;
        if (!has) merged.label_names.emplace_back(label);
      } else if (merged.kind != f.kind ||
                 merged.label_names.size() != f.label_names.size() + (has ? 0 : 1)) {
        continue;  // not the same family after all: the first one's series stand
      }
      for (auto& s : f.series) {
        if (has) {
          if ((*s.labels)[at] != value) continue;
        } else {
          Labels with = *s.labels;
          with.push_back(value);
          labels.push_back(std::move(with));
          s.labels = &labels.back();
        }
        merged.series.push_back(std::move(s));
      }
    }
  }
  std::string out;
  for (const auto& [name, f] : families) AppendFamily(out, f);
  return out;
}

}  // namespace cdc::metrics
