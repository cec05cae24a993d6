// Event patterns: the parser/validator, and the compiled matcher checked against a plain
// reference evaluation of the same sub-rules (differential). The reference reads the whole event
// into a list of scalars per dotted path, with the arrays each scalar is in, then evaluates
// every sub-rule condition by condition with Predicate::Matches and checks array consistency by
// trying every combination; the compiled matcher must name exactly the same rules.
// Input: up to four patterns and an event, separated by NUL bytes (the event is the last part).
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/matcher.h"
#include "bus/pattern.h"

namespace {

namespace bi = cdc::bus_internal;
namespace od = simdjson::ondemand;

struct RefValue {
  bi::Scalar scalar;
  std::vector<std::pair<uint32_t, uint32_t>> arrays;  // (array id, element index)
};

struct RefEvent {
  std::map<std::string, std::vector<RefValue>> values;  // by dotted path
  std::vector<std::pair<uint32_t, uint32_t>> stack;
  uint32_t next_array = 0;
};

bool BigIntegerLiteral(std::string_view lit, double d) {
  return lit.find_first_of(".eE") == std::string_view::npos &&
         (d >= 9007199254740992.0 || d <= -9007199254740992.0);
}

// Reads every value of the event (nothing is skipped); false when the event is not valid JSON.
// `keyed`: the value is under some member (a scalar or array at the top of the event is no
// field's value, whatever the path "" would also name: the member with the empty key).
bool Read(od::value v, const std::string& path, RefEvent& e, int depth, bool keyed) {
  if (depth > cdc::kMaxEventDepth) return false;  // the matcher refuses deeper events too
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        od::value fv;
        std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
        if (field.value().get(fv) || !Read(fv, child, e, depth + 1, true)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      e.stack.emplace_back(e.next_array++, 0);
      uint32_t index = 0;
      for (auto elem : arr) {
        e.stack.back().second = index++;
        od::value ev;
        if (elem.get(ev) || !Read(ev, path, e, depth + 1, keyed)) return false;
      }
      e.stack.pop_back();
      return true;
    }
    default:
      break;
  }
  RefValue rv;
  bi::Scalar& sc = rv.scalar;
  switch (type) {
    case od::json_type::string:
      sc.kind = bi::ScalarKind::kString;
      if (v.get_string().get(sc.text)) return false;
      break;
    case od::json_type::number: {
      sc.kind = bi::ScalarKind::kNumber;
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                              raw.back() == '\r')) {
        raw.remove_suffix(1);
      }
      sc.text = raw;
      double d;
      if (v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
        sc.number = d;
        sc.number_ok = true;
        sc.big_integer = BigIntegerLiteral(raw, d);
      } else {
        sc.big_integer = true;
      }
      break;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b)) return false;
      sc.kind = b ? bi::ScalarKind::kTrue : bi::ScalarKind::kFalse;
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null) return false;
      sc.kind = bi::ScalarKind::kNull;
      break;
    }
    default:
      return false;
  }
  if (!keyed) return true;
  rv.arrays = e.stack;
  e.values[path].push_back(std::move(rv));
  return true;
}

bool Consistent(const RefValue& a, const RefValue& b) {
  for (const auto& ma : a.arrays) {
    for (const auto& mb : b.arrays) {
      if (ma.first == mb.first && ma.second != mb.second) return false;
    }
  }
  return true;
}

bool Choose(const std::vector<std::vector<const RefValue*>>& options, size_t i,
            std::vector<const RefValue*>& chosen, size_t& steps) {
  if (i == options.size()) return true;
  for (const RefValue* v : options[i]) {
    if (++steps > 100000) return true;  // the matcher's bound: past it, accept
    bool ok = true;
    for (const RefValue* c : chosen) ok = ok && Consistent(*v, *c);
    if (!ok) continue;
    chosen.push_back(v);
    if (Choose(options, i + 1, chosen, steps)) return true;
    chosen.pop_back();
  }
  return false;
}

bool SubRuleMatches(const bi::SubRule& rule, const RefEvent& e) {
  static const std::vector<RefValue> kNone;
  std::vector<std::vector<const RefValue*>> options;
  for (const auto& cond : rule.conditions) {
    auto it = e.values.find(cond.path);
    const auto& vals = it == e.values.end() ? kNone : it->second;
    std::vector<const RefValue*> matching;
    for (const auto& v : vals) {
      for (const auto& p : cond.predicates) {
        if (p.kind != bi::PredicateKind::kAbsent && p.Matches(v.scalar)) {
          matching.push_back(&v);
          break;
        }
      }
    }
    if (matching.empty()) {
      bool absent_ok = false;
      for (const auto& p : cond.predicates) {
        absent_ok = absent_ok || p.kind == bi::PredicateKind::kAbsent;
      }
      if (!vals.empty() || !absent_ok) return false;
      continue;
    }
    options.push_back(std::move(matching));
  }
  std::vector<const RefValue*> chosen;
  size_t steps = 0;
  return Choose(options, 0, chosen, steps);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (true) {
    size_t nul = in.find('\0');
    parts.push_back(in.substr(0, nul));
    if (nul == std::string_view::npos) break;
    in.remove_prefix(nul + 1);
  }
  if (parts.size() < 2 || parts.size() > 5) return 0;
  std::string_view event = parts.back();
  parts.pop_back();

  cdc::PatternOptions options;
  std::vector<cdc::RulePattern> rules;
  std::vector<std::vector<bi::SubRule>> parsed;
  for (std::string_view p : parts) {
    auto sub_rules = bi::ParsePattern(p, options);
    bool valid = cdc::ValidatePattern(p, options).ok();
    if (valid != sub_rules.ok()) std::abort();  // the two entry points agree
    if (!valid) continue;
    rules.push_back({"r" + std::to_string(rules.size()), std::string(p)});
    parsed.push_back(std::move(*sub_rules));
  }
  if (rules.empty()) return 0;
  auto matcher = cdc::CompileMatcher(rules, options);
  if (!matcher.ok()) std::abort();  // every pattern was valid on its own

  std::vector<uint32_t> got;
  cdc::Status st = (*matcher)->Match(event, got);

  simdjson::padded_string padded(event);
  od::parser parser;
  od::document doc;
  RefEvent ref;
  bool ref_ok = parser.iterate(padded).get(doc) == simdjson::SUCCESS;
  if (ref_ok) {
    od::value root;
    ref_ok = doc.get_value().get(root) == simdjson::SUCCESS && Read(root, "", ref, 0, false);
    const char* rest = nullptr;
    // Anything after the value (the matcher's check too).
    ref_ok = ref_ok && doc.current_location().get(rest) != simdjson::SUCCESS;
  }
  if (!ref_ok) return 0;  // not JSON: the matcher may fail, or skip what it does not read
  if (!st.ok()) {
    std::fprintf(stderr, "matcher rejected a valid event: %s\n", st.message().c_str());
    std::abort();
  }
  std::vector<uint32_t> want;
  for (uint32_t r = 0; r < parsed.size(); ++r) {
    for (const auto& sr : parsed[r]) {
      if (SubRuleMatches(sr, ref)) {
        want.push_back(r);
        break;
      }
    }
  }
  if (got != want) {
    std::fprintf(stderr, "matcher and reference differ: matcher %zu rules, reference %zu\n",
                 got.size(), want.size());
    std::abort();
  }
  return 0;
}
