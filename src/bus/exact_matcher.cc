// The exact-value matcher. Each event is flattened once (simdjson On-Demand), keeping only the
// field paths that some rule uses; each rule is a conjunction of (path, allowed values).

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "bus/matcher.h"
#include "event/event_json.h"

namespace cdc {
namespace {

namespace od = simdjson::ondemand;

Status PatternError(std::string reason) {
  return InvalidArgument("Event pattern is not valid. Reason: " + std::move(reason));
}

// Canonical forms, so that equal values compare equal as strings: 's' + text for strings,
// 'n' + shortest round-trip double for numbers, "t"/"f" for booleans, "z" for null.
std::string CanonicalNumber(double d) {
  if (d == 0) d = 0;  // -0 == 0
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return "n" + std::string(buf, p);
}

struct Condition {
  uint32_t path;
  std::unordered_set<std::string> values;
};

struct CompiledRule {
  std::vector<Condition> conditions;
};

class ExactMatcher final : public Matcher {
 public:
  Status Match(std::string_view event_json, std::vector<uint32_t>& out) const override;

  std::unordered_map<std::string, uint32_t> paths_;
  std::vector<CompiledRule> rules_;
};

Status CompileObject(od::object obj, const std::string& prefix, ExactMatcher& m,
                     CompiledRule& rule) {
  size_t fields = 0;
  for (auto field : obj) {
    ++fields;
    std::string_view key;
    if (field.unescaped_key().get(key)) return PatternError("malformed JSON");
    std::string path = prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
    if (key.empty()) return PatternError("Empty field names are not allowed");
    od::value v;
    if (field.value().get(v)) return PatternError("malformed JSON");
    od::json_type type;
    if (v.type().get(type)) return PatternError("malformed JSON");
    if (type == od::json_type::object) {
      od::object inner;
      if (v.get_object().get(inner)) return PatternError("malformed JSON");
      CDC_RETURN_IF_ERROR(CompileObject(inner, path, m, rule));
      continue;
    }
    if (type != od::json_type::array) {
      return PatternError("\"" + std::string(key) + "\" must be an object or an array");
    }
    od::array arr;
    if (v.get_array().get(arr)) return PatternError("malformed JSON");
    Condition cond;
    auto [it, inserted] = m.paths_.emplace(path, static_cast<uint32_t>(m.paths_.size()));
    cond.path = it->second;
    for (auto elem : arr) {
      od::value e;
      if (elem.get(e)) return PatternError("malformed JSON");
      od::json_type et;
      if (e.type().get(et)) return PatternError("malformed JSON");
      switch (et) {
        case od::json_type::string: {
          std::string_view s;
          if (e.get_string().get(s)) return PatternError("malformed JSON");
          cond.values.insert("s" + std::string(s));
          break;
        }
        case od::json_type::number: {
          double d;
          if (e.get_double().get(d)) return PatternError("malformed JSON");
          cond.values.insert(CanonicalNumber(d));
          break;
        }
        case od::json_type::boolean: {
          bool b;
          if (e.get_bool().get(b)) return PatternError("malformed JSON");
          cond.values.insert(b ? "t" : "f");
          break;
        }
        case od::json_type::null:
          cond.values.insert("z");
          break;
        case od::json_type::object: {
          od::object op;
          std::string_view name = "?";
          if (e.get_object().get(op) == simdjson::SUCCESS) {
            for (auto f : op) {
              if (f.unescaped_key().get(name) == simdjson::SUCCESS) break;
            }
          }
          return PatternError("Unrecognized match type " + std::string(name) +
                              " (content filters such as prefix, numeric and anything-but are "
                              "not supported yet; use exact values)");
        }
        case od::json_type::array:
          return PatternError("Match value must be String, number, true, false, or null");
      }
    }
    if (cond.values.empty()) return PatternError("Empty arrays are not allowed");
    rule.conditions.push_back(std::move(cond));
  }
  if (fields == 0 && prefix.empty()) return Status::Ok();  // {} matches everything
  if (fields == 0) return PatternError("Empty objects are not allowed");
  return Status::Ok();
}

Status CompileOne(std::string_view pattern_json, ExactMatcher& m, CompiledRule& rule) {
  if (!IsValidJson(pattern_json)) return PatternError("malformed JSON");
  thread_local od::parser parser;
  simdjson::padded_string padded(pattern_json);
  od::document doc;
  if (parser.iterate(padded).get(doc)) return PatternError("malformed JSON");
  od::object obj;
  if (doc.get_object().get(obj)) return PatternError("Filter is not an object");
  Status s = CompileObject(obj, "", m, rule);
  if (!s.ok()) return s;
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return PatternError("malformed JSON: trailing content");
  }
  return Status::Ok();
}

// Collects the canonical values of the paths some rule uses; arrays contribute every element.
// Returns false on malformed JSON.
bool Flatten(od::value v, std::string& path, const std::unordered_map<std::string, uint32_t>& paths,
             std::vector<std::vector<std::string>>& values) {
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (v.get_object().get(obj)) return false;
      size_t base = path.size();
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        if (base) path.push_back('.');
        path.append(key);
        od::value fv;
        if (field.value().get(fv) || !Flatten(fv, path, paths, values)) return false;
        path.resize(base);
      }
      return true;
    }
    case od::json_type::array: {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto elem : arr) {
        od::value e;
        if (elem.get(e) || !Flatten(e, path, paths, values)) return false;
      }
      return true;
    }
    default:
      break;
  }
  auto it = paths.find(path);
  if (it == paths.end()) {
    // Not used by any rule: skip it, but still check strings and literals are well-formed.
    std::string_view ignored;
    if (type == od::json_type::string) return v.get_string().get(ignored) == simdjson::SUCCESS;
    return true;
  }
  std::vector<std::string>& slot = values[it->second];
  switch (type) {
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      slot.push_back("s" + std::string(s));
      return true;
    }
    case od::json_type::number: {
      double d;
      if (v.get_double().get(d)) return false;
      slot.push_back(CanonicalNumber(d));
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b)) return false;
      slot.push_back(b ? "t" : "f");
      return true;
    }
    case od::json_type::null:
      slot.push_back("z");
      return true;
    default:
      return false;
  }
}

Status ExactMatcher::Match(std::string_view event_json, std::vector<uint32_t>& out) const {
  thread_local od::parser parser;
  thread_local std::vector<std::vector<std::string>> values;
  values.assign(paths_.size(), {});
  simdjson::padded_string padded(event_json);
  od::document doc;
  if (parser.iterate(padded).get(doc)) return InvalidArgument("the event is not valid JSON");
  od::value root;
  if (doc.get_value().get(root)) return InvalidArgument("the event is not valid JSON");
  std::string path;
  const char* rest = nullptr;
  if (!Flatten(root, path, paths_, values) ||
      doc.current_location().get(rest) == simdjson::SUCCESS) {
    return InvalidArgument("the event is not valid JSON");
  }
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    bool all = true;
    for (const auto& cond : rules_[i].conditions) {
      bool any = false;
      for (const auto& v : values[cond.path]) {
        if (cond.values.count(v)) {
          any = true;
          break;
        }
      }
      if (!any) {
        all = false;
        break;
      }
    }
    if (all) out.push_back(i);
  }
  return Status::Ok();
}

}  // namespace

Status ValidatePattern(std::string_view pattern_json) {
  ExactMatcher m;
  CompiledRule rule;
  return CompileOne(pattern_json, m, rule);
}

Result<std::unique_ptr<Matcher>> CompileMatcher(const std::vector<RulePattern>& rules) {
  auto m = std::make_unique<ExactMatcher>();
  for (const auto& r : rules) {
    CompiledRule rule;
    Status s = CompileOne(r.pattern_json, *m, rule);
    if (!s.ok()) return s.WithContext("rule '" + r.name + "'");
    m->rules_.push_back(std::move(rule));
  }
  return std::unique_ptr<Matcher>(std::move(m));
}

}  // namespace cdc
