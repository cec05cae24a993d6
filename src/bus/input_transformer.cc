#include "bus/input_transformer.h"

#include <simdjson.h>

#include <cctype>
#include <cstdio>
#include <set>

namespace cdc {
namespace {

namespace dom = simdjson::dom;

// One step of a JSONPath.
struct Step {
  enum Kind { kKey, kIndex, kWildcard } kind = kKey;
  std::string key;
  size_t index = 0;
};

struct JsonPath {
  std::vector<Step> steps;
  bool wildcard = false;  // any kWildcard step: the value is the array of every match
};

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
         c == '@' || c == ':';
}

Result<JsonPath> ParseJsonPath(std::string_view p) {
  auto bad = [&](std::string why) {
    return InvalidArgument("'" + std::string(p) + "' is not a valid JSONPath: " + why);
  };
  if (p.empty() || p[0] != '$') return bad("it must start with '$'");
  JsonPath out;
  size_t i = 1;
  while (i < p.size()) {
    Step s;
    if (p[i] == '.') {
      ++i;
      if (i < p.size() && p[i] == '*') {
        s.kind = Step::kWildcard;
        ++i;
      } else {
        size_t start = i;
        while (i < p.size() && IsNameChar(p[i])) ++i;
        if (i == start) return bad("a name is expected at position " + std::to_string(start));
        s.key = std::string(p.substr(start, i - start));
      }
    } else if (p[i] == '[') {
      ++i;
      if (i < p.size() && p[i] == '*') {
        s.kind = Step::kWildcard;
        ++i;
      } else if (i < p.size() && (p[i] == '\'' || p[i] == '"')) {
        char quote = p[i++];
        size_t start = i;
        while (i < p.size() && p[i] != quote) ++i;
        if (i == p.size()) return bad("unterminated quoted name");
        s.key = std::string(p.substr(start, i - start));
        ++i;
      } else {
        size_t start = i;
        while (i < p.size() && std::isdigit(static_cast<unsigned char>(p[i]))) ++i;
        if (i == start || i - start > 9) {
          return bad("an index, '*' or a quoted name is expected at position " +
                     std::to_string(start));
        }
        s.kind = Step::kIndex;
        s.index = std::stoul(std::string(p.substr(start, i - start)));
      }
      if (i >= p.size() || p[i] != ']') return bad("']' expected at position " + std::to_string(i));
      ++i;
    } else {
      // A byte of a multi-byte character is named by its value: quoted alone it would be half a
      // UTF-8 sequence, and the message goes into JSON answers (the bus API).
      auto c = static_cast<unsigned char>(p[i]);
      char what[16];
      if (c >= 0x20 && c < 0x7f) {
        std::snprintf(what, sizeof(what), "'%c'", c);
      } else {
        std::snprintf(what, sizeof(what), "byte 0x%02X", c);
      }
      return bad("unexpected " + std::string(what) + " at position " + std::to_string(i));
    }
    if (s.kind == Step::kWildcard) out.wildcard = true;
    out.steps.push_back(std::move(s));
  }
  return out;
}

void Collect(dom::element e, const std::vector<Step>& steps, size_t at,
             std::vector<dom::element>& out) {
  if (at == steps.size()) {
    out.push_back(e);
    return;
  }
  const Step& s = steps[at];
  switch (s.kind) {
    case Step::kKey: {
      dom::object obj;
      dom::element child;
      if (e.get_object().get(obj) == simdjson::SUCCESS &&
          obj.at_key(s.key).get(child) == simdjson::SUCCESS) {
        Collect(child, steps, at + 1, out);
      }
      return;
    }
    case Step::kIndex: {
      dom::array arr;
      dom::element child;
      if (e.get_array().get(arr) == simdjson::SUCCESS &&
          arr.at(s.index).get(child) == simdjson::SUCCESS) {
        Collect(child, steps, at + 1, out);
      }
      return;
    }
    case Step::kWildcard: {
      dom::object obj;
      dom::array arr;
      if (e.get_object().get(obj) == simdjson::SUCCESS) {
        for (auto field : obj) Collect(field.value, steps, at + 1, out);
      } else if (e.get_array().get(arr) == simdjson::SUCCESS) {
        for (auto child : arr) Collect(child, steps, at + 1, out);
      }
      return;
    }
  }
}

// Where a placeholder's value comes from.
enum class VarKind { kPath, kEvent, kEventJson, kRuleName, kRuleArn, kIngestionTime };

// How a placeholder is written: as a JSON value, or as text inside a string (or a text
// template).
enum class Insert { kJson, kString };

struct Part {
  std::string literal;  // written before the placeholder
  bool has_var = false;
  VarKind kind = VarKind::kPath;
  size_t path = 0;  // kPath: index into Compiled::paths
  Insert insert = Insert::kJson;
};

constexpr std::string_view kReservedPrefix = "aws.";

bool IsPlaceholderName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool IsVariableName(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<VarKind> Predefined(std::string_view n) {
  if (n == "aws.events.event") return VarKind::kEvent;
  if (n == "aws.events.event.json") return VarKind::kEventJson;
  if (n == "aws.events.rule-name") return VarKind::kRuleName;
  if (n == "aws.events.rule-arn") return VarKind::kRuleArn;
  if (n == "aws.events.event.ingestion-time") return VarKind::kIngestionTime;
  return std::nullopt;
}

bool IsJsonTemplate(std::string_view t) {
  for (char c : t) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    return c == '{' || c == '[' || c == '"';
  }
  return false;
}

// JSON that is not valid makes simdjson fail; minify it to one line.
Result<std::string> MinifyJson(std::string_view text) {
  simdjson::dom::parser parser;
  dom::element e;
  if (auto err = parser.parse(text.data(), text.size()).get(e)) {
    return InvalidArgument(std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  return simdjson::to_string(e);
}

// Removes the quotes of every string in a JSON text (EventBridge's rule for an object or array
// placed inside a string), keeping escaped quotes.
void AppendWithoutQuotes(std::string_view json, std::string& out) {
  bool escaped = false;
  for (char c : json) {
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      continue;
    }
    out.push_back(c);
  }
}

}  // namespace

struct EventDocument::Impl {
  dom::parser parser;
  dom::element root;
  std::string_view time;
  bool parsed = false;
};

EventDocument::EventDocument() : impl_(std::make_unique<Impl>()) {}
EventDocument::~EventDocument() = default;

Status EventDocument::Parse(std::string_view event_json) {
  impl_->parsed = false;
  if (auto err = impl_->parser.parse(event_json.data(), event_json.size()).get(impl_->root)) {
    return InvalidArgument(std::string("the event is not valid JSON: ") +
                           simdjson::error_message(err));
  }
  impl_->time = {};
  dom::object obj;
  std::string_view time;
  if (impl_->root.get_object().get(obj) == simdjson::SUCCESS &&
      obj.at_key("time").get_string().get(time) == simdjson::SUCCESS) {
    impl_->time = time;
  }
  impl_->parsed = true;
  return Status::Ok();
}

struct InputTransformer::Compiled {
  enum class Mode { kConstant, kPath, kTemplate } mode = Mode::kConstant;
  std::string constant;  // kConstant: the minified `input`
  JsonPath input_path;
  std::vector<JsonPath> paths;  // input_paths_map, in order
  std::vector<Part> parts;
  std::string tail;  // literal after the last placeholder
  bool text_template = false;
  Rule rule;

  void AppendValue(const EventDocument::Impl& doc, const Part& p, std::string& out) const;
};

namespace {

// Splits a template into parts. Returns errors (field "input_template").
std::vector<InputSpecError> CompileTemplate(
    std::string_view t, const std::vector<std::pair<std::string, std::string>>& names,
    std::vector<Part>& parts, std::string& tail) {
  std::vector<InputSpecError> errors;
  auto error = [&](std::string m) { errors.push_back({"input_template", std::move(m)}); };
  const bool json = IsJsonTemplate(t);
  bool in_string = false;
  bool escaped = false;
  bool string_has_var = false;
  bool after_var_string = false;  // just closed a string holding a placeholder
  std::string literal;
  std::string check;  // the template with placeholders replaced, to check it is JSON
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '<') {
      size_t end = t.find('>', i + 1);
      std::string_view name =
          end == std::string_view::npos ? std::string_view{} : t.substr(i + 1, end - i - 1);
      if (IsPlaceholderName(name)) {
        Part part;
        part.literal = std::move(literal);
        literal.clear();
        part.has_var = true;
        part.insert = (!json || in_string) ? Insert::kString : Insert::kJson;
        if (auto kind = Predefined(name)) {
          part.kind = *kind;
          if (json && in_string && (*kind == VarKind::kEvent || *kind == VarKind::kEventJson)) {
            error("<" + std::string(name) +
                  "> can only be the value of a JSON field, not part of a string");
          }
        } else {
          size_t k = 0;
          while (k < names.size() && names[k].first != name) ++k;
          if (k == names.size()) {
            error("unknown placeholder <" + std::string(name) +
                  ">: it is neither in input_paths_map nor predefined (aws.events.event, "
                  "aws.events.event.json, aws.events.rule-name, aws.events.rule-arn, "
                  "aws.events.event.ingestion-time)");
          }
          part.path = k;
        }
        parts.push_back(std::move(part));
        if (in_string) {
          string_has_var = true;
        } else {
          check += "null";
        }
        after_var_string = false;
        i = end;
        continue;
      }
    }
    if (json && !in_string && std::isspace(static_cast<unsigned char>(c))) continue;
    if (json && !in_string && after_var_string && c == ':') {
      error("a placeholder cannot be used as an object key");
    }
    after_var_string = false;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        after_var_string = string_has_var;
      }
    } else if (c == '"') {
      in_string = true;
      string_has_var = false;
    }
    literal.push_back(c);
    check.push_back(c);
  }
  tail = std::move(literal);
  if (json && errors.empty()) {
    auto r = MinifyJson(check);
    if (!r.ok()) {
      error(
          "a template starting with '{', '[' or '\"' must be JSON (with placeholders as "
          "values or inside strings); it is " +
          r.status().message());
    }
  }
  return errors;
}

}  // namespace

std::vector<InputSpecError> ValidateInputSpec(const InputSpec& spec) {
  std::vector<InputSpecError> errors;
  const bool transformer = !spec.input_paths_map.empty() || spec.input_template;
  if (spec.input && spec.input_path) {
    errors.push_back({"input_path", "'input' and 'input_path' cannot both be set"});
  }
  if ((spec.input || spec.input_path) && transformer) {
    errors.push_back(
        {"input_transformer", "'input_transformer' cannot be combined with " +
                                  std::string(spec.input ? "'input'" : "'input_path'")});
  }
  if (spec.input) {
    auto r = MinifyJson(*spec.input);
    if (!r.ok()) errors.push_back({"input", r.status().message()});
  }
  if (spec.input_path) {
    Status s = ValidateJsonPath(*spec.input_path);
    if (!s.ok()) errors.push_back({"input_path", s.message()});
  }
  if (spec.input_paths_map.size() > kMaxInputPaths) {
    errors.push_back({"input_paths_map", "at most " + std::to_string(kMaxInputPaths) +
                                             " paths are allowed; there are " +
                                             std::to_string(spec.input_paths_map.size())});
  }
  std::set<std::string> seen;
  for (const auto& [name, path] : spec.input_paths_map) {
    std::string field = "input_paths_map." + name;
    if (name.rfind(kReservedPrefix, 0) == 0) {
      errors.push_back({field, "names starting with 'aws.' are reserved"});
    } else if (!IsVariableName(name)) {
      errors.push_back(
          {field, "'" + name + "' is not a valid name (letters, digits, '_' and '-' only)"});
    }
    if (!seen.insert(name).second) errors.push_back({field, "duplicate name '" + name + "'"});
    Status s = ValidateJsonPath(path);
    if (!s.ok()) errors.push_back({field, s.message()});
  }
  if (!spec.input_paths_map.empty() && !spec.input_template) {
    errors.push_back({"input_template", "'input_paths_map' needs an 'input_template'"});
  }
  if (spec.input_template) {
    if (spec.input_template->empty()) {
      errors.push_back({"input_template", "must not be empty"});
    } else {
      std::vector<Part> parts;
      std::string tail;
      for (auto& e : CompileTemplate(*spec.input_template, spec.input_paths_map, parts, tail)) {
        errors.push_back(std::move(e));
      }
    }
  }
  return errors;
}

Status ValidateJsonPath(std::string_view path) { return ParseJsonPath(path).status(); }

std::string RuleArn(std::string_view region, std::string_view account, std::string_view bus,
                    std::string_view rule) {
  std::string arn = "arn:aws:events:";
  arn += region;
  arn += ':';
  arn += account;
  arn += ":rule/";
  arn += bus;
  arn += '/';
  arn += rule;
  return arn;
}

Result<std::unique_ptr<const InputTransformer>> InputTransformer::Compile(const InputSpec& spec,
                                                                          Rule rule) {
  auto errors = ValidateInputSpec(spec);
  if (!errors.empty()) return InvalidArgument(errors[0].field + ": " + errors[0].message);
  auto c = std::make_unique<Compiled>();
  c->rule = std::move(rule);
  if (spec.input) {
    c->mode = Compiled::Mode::kConstant;
    c->constant = MinifyJson(*spec.input).value();
  } else if (spec.input_path) {
    c->mode = Compiled::Mode::kPath;
    c->input_path = ParseJsonPath(*spec.input_path).value();
  } else if (spec.input_template) {
    c->mode = Compiled::Mode::kTemplate;
    for (const auto& [name, path] : spec.input_paths_map) {
      c->paths.push_back(ParseJsonPath(path).value());
    }
    CompileTemplate(*spec.input_template, spec.input_paths_map, c->parts, c->tail);
    c->text_template = !IsJsonTemplate(*spec.input_template);
  } else {
    c->mode = Compiled::Mode::kPath;  // empty spec: the whole event
  }
  return std::unique_ptr<const InputTransformer>(new InputTransformer(std::move(c)));
}

InputTransformer::InputTransformer(std::unique_ptr<Compiled> compiled)
    : compiled_(std::move(compiled)) {}
InputTransformer::~InputTransformer() = default;

namespace {

void AppendElement(dom::element e, Insert insert, std::string& out) {
  std::string json = simdjson::to_string(e);
  if (insert == Insert::kJson) {
    out += json;
    return;
  }
  switch (e.type()) {
    case dom::element_type::STRING:
      out.append(json, 1, json.size() - 2);  // as inside the event's quotes
      return;
    case dom::element_type::OBJECT:
    case dom::element_type::ARRAY:
      AppendWithoutQuotes(json, out);
      return;
    default:
      out += json;
      return;
  }
}

// A path's value: nothing (missing), one element, or every match of a wildcard as an array.
void AppendPath(const JsonPath& path, dom::element root, Insert insert, bool plain_text,
                std::string& out) {
  std::vector<dom::element> matches;
  Collect(root, path.steps, 0, matches);
  if (!path.wildcard) {
    if (matches.empty()) {
      if (insert == Insert::kJson) out += "null";
      return;
    }
    // In a plain-text template objects and arrays keep their JSON form.
    bool structured = matches[0].is_object() || matches[0].is_array();
    AppendElement(matches[0], plain_text && structured ? Insert::kJson : insert, out);
    return;
  }
  std::string json = "[";
  for (size_t i = 0; i < matches.size(); ++i) {
    if (i) json += ',';
    json += simdjson::to_string(matches[i]);
  }
  json += ']';
  if (insert == Insert::kJson || plain_text) {
    out += json;
  } else {
    AppendWithoutQuotes(json, out);
  }
}

void AppendQuoted(std::string_view s, std::string& out) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

// A predefined string (rule name, ARN, time): a JSON string, or its escaped text in a string.
void AppendText(std::string_view text, Insert insert, std::string& out) {
  size_t start = out.size();
  AppendQuoted(text, out);
  if (insert == Insert::kString) {
    out.pop_back();
    out.erase(start, 1);
  }
}

}  // namespace

void InputTransformer::Compiled::AppendValue(const EventDocument::Impl& doc, const Part& p,
                                             std::string& out) const {
  switch (p.kind) {
    case VarKind::kPath:
      AppendPath(paths[p.path], doc.root, p.insert, text_template, out);
      return;
    case VarKind::kEventJson:
      out += simdjson::to_string(doc.root);
      return;
    case VarKind::kEvent: {
      dom::object obj;
      if (doc.root.get_object().get(obj) != simdjson::SUCCESS) {
        out += simdjson::to_string(doc.root);
        return;
      }
      out += '{';
      bool first = true;
      for (auto field : obj) {
        if (field.key == "detail") continue;
        if (!first) out += ',';
        first = false;
        AppendQuoted(field.key, out);
        out += ':';
        out += simdjson::to_string(field.value);
      }
      out += '}';
      return;
    }
    case VarKind::kRuleName:
      AppendText(rule.name, p.insert, out);
      return;
    case VarKind::kRuleArn:
      AppendText(rule.arn, p.insert, out);
      return;
    case VarKind::kIngestionTime:
      AppendText(doc.time, p.insert, out);
      return;
  }
}

void InputTransformer::Apply(const EventDocument& event, std::string& out) const {
  const EventDocument::Impl& doc = *event.impl_;
  CDC_ASSERT(doc.parsed, "input transformer applied to an event that was not parsed");
  const Compiled& c = *compiled_;
  out.clear();
  switch (c.mode) {
    case Compiled::Mode::kConstant:
      out = c.constant;
      return;
    case Compiled::Mode::kPath:
      AppendPath(c.input_path, doc.root, Insert::kJson, false, out);
      return;
    case Compiled::Mode::kTemplate:
      for (const Part& p : c.parts) {
        out += p.literal;
        c.AppendValue(doc, p, out);
      }
      out += c.tail;
      return;
  }
}

}  // namespace cdc
