#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/config.h"
#include "config/env.h"
#include "config/schema.h"
#include "event/json_writer.h"
#include "process/redact/key_ring.h"
#include "process/redact/redactor.h"

namespace cdc {

using config_internal::EnvLookup;
using config_internal::FieldSpec;
using config_internal::FieldType;
using config_internal::SectionSpec;

std::string SourceLocation::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

std::string ConfigError::ToString() const { return where.ToString() + ": " + message; }

const TableConfig* Config::FindTable(std::string_view schema, std::string_view table) const {
  for (const auto& t : tables) {
    if (t.name == table && t.schema == schema) return &t;
  }
  return nullptr;
}

const TableConfig* Config::FindTableByFunction(std::string_view function) const {
  for (const auto& t : tables) {
    if (t.function == function) return &t;
  }
  return nullptr;
}

const TargetConfig* Config::FindTarget(std::string_view name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {
bool ValidAwsName(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

bool ValidArchiveName(std::string_view name) { return ValidAwsName(name, 48); }
bool ValidReplayName(std::string_view name) { return ValidAwsName(name, 64); }

const ArchiveConfig* Config::FindArchive(std::string_view name) const {
  for (const auto& a : archives) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string DefaultFunctionName(std::string_view table) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : table) {
    if (c == '_' || c == '-' || c == '.') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  if (!words.empty()) {
    std::string& last = words.back();
    auto ends = [&](std::string_view s) {
      return last.size() > s.size() && last.compare(last.size() - s.size(), s.size(), s) == 0;
    };
    if (ends("ies")) {
      last.replace(last.size() - 3, 3, "y");
    } else if (ends("sses") || ends("xes") || ends("ches") || ends("shes")) {
      last.resize(last.size() - 2);
    } else if (ends("s") && !ends("ss") && !ends("us") && !ends("is")) {
      last.pop_back();
    }
  }
  std::string out = "process";
  for (auto& w : words) {
    w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    out += w;
  }
  return out + "Changes";
}

namespace {

class Context {
 public:
  Context(std::string file, EnvLookup env) : file_(std::move(file)), env_(std::move(env)) {}

  SourceLocation At(const YAML::Node& node) const {
    YAML::Mark m = node.Mark();
    return SourceLocation{file_, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0};
  }
  void Error(const YAML::Node& node, std::string message) {
    errors_.push_back({At(node), std::move(message)});
  }
  void Error(SourceLocation where, std::string message) {
    errors_.push_back({std::move(where), std::move(message)});
  }
  std::optional<std::string> Expand(const YAML::Node& node, const std::string& text,
                                    std::string_view what) {
    auto r = config_internal::ExpandEnv(text, env_);
    if (!r.ok()) {
      Error(node, std::string(what) + ": " + r.status().message());
      return std::nullopt;
    }
    return std::move(r).value();
  }
  std::vector<ConfigError>& errors() { return errors_; }
  const std::string& file() const { return file_; }
  const EnvLookup& env() const { return env_; }

 private:
  std::string file_;
  EnvLookup env_;
  std::vector<ConfigError> errors_;
};

std::string Join(const std::vector<std::string_view>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += items[i];
  }
  return out;
}

std::string_view TypeName(FieldType t) {
  switch (t) {
    case FieldType::kString:
    case FieldType::kEnum:
      return "a string";
    case FieldType::kInt:
      return "an integer";
    case FieldType::kBool:
      return "true or false";
    case FieldType::kStringList:
    case FieldType::kEnumList:
      return "a list of strings";
    case FieldType::kPattern:
      return "a mapping or a JSON string";
    case FieldType::kStringMap:
    case FieldType::kRedactionRules:
    case FieldType::kModelFields:
      return "a mapping";
    case FieldType::kTransforms:
      return "a list of transforms";
    case FieldType::kRuleTargets:
      return "a list of target names or mappings";
    case FieldType::kJson:
      return "a YAML value or a JSON string";
    case FieldType::kSection:
    case FieldType::kNamedSections:
      return "a mapping";
    case FieldType::kSectionList:
      return "a list of mappings";
  }
  return "a value";
}

// Reads one YAML mapping against its field table: reports unknown and duplicate keys, missing
// required fields and type errors, and expands ${VAR} in every string it returns.
class MapReader {
 public:
  MapReader(Context& ctx, YAML::Node node, const SectionSpec& spec, std::string path)
      : ctx_(ctx), node_(node), spec_(spec), path_(std::move(path)) {
    if (!node_ || node_.IsNull()) {
      valid_ = true;
      empty_ = true;
      CheckRequired();
      return;
    }
    if (!node_.IsMap()) {
      ctx_.Error(node_, "'" + path_ + "' must be a mapping of keys to values");
      return;
    }
    valid_ = true;
    std::set<std::string> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!seen.insert(key).second) {
        ctx_.Error(it->first, "duplicate key '" + key + "' in '" + path_ + "'");
      }
      if (spec_.Find(key) == nullptr) {
        std::vector<std::string_view> names;
        for (const auto& f : spec_.fields) names.push_back(f.name);
        ctx_.Error(it->first,
                   "unknown key '" + key + "' in '" + path_ + "' (allowed: " + Join(names) + ")");
      }
    }
    CheckRequired();
  }

  bool valid() const { return valid_; }

  YAML::Node Get(std::string_view key) const {
    if (empty_ || !valid_) return YAML::Node();
    return node_[std::string(key)];
  }

  bool Has(std::string_view key) const {
    YAML::Node n = Get(key);
    return n && !n.IsNull();
  }

  SourceLocation Where(std::string_view key) const {
    YAML::Node n = Get(key);
    return n ? ctx_.At(n) : (node_ ? ctx_.At(node_) : SourceLocation{ctx_.file()});
  }

  void String(std::string_view key, std::string& out) {
    const FieldSpec* f = Field(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsScalar()) {
      TypeError(n, *f);
      return;
    }
    auto v = ctx_.Expand(n, n.Scalar(), FieldPath(key));
    if (!v) return;
    if (f->type == FieldType::kEnum && !IsChoice(*f, *v)) {
      ctx_.Error(n,
                 "'" + FieldPath(key) + "' is '" + *v + "'; expected one of: " + Join(f->choices));
      return;
    }
    out = std::move(*v);
  }

  void Bool(std::string_view key, bool& out) {
    const FieldSpec* f = Field(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    auto v = n.IsScalar() ? ctx_.Expand(n, n.Scalar(), FieldPath(key)) : std::nullopt;
    if (v && (*v == "true" || *v == "false")) {
      out = *v == "true";
    } else if (n.IsScalar() && v) {
      TypeError(n, *f);
    } else if (!n.IsScalar()) {
      TypeError(n, *f);
    }
  }

  void Int(std::string_view key, int64_t& out) {
    const FieldSpec* f = Field(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    auto v = n.IsScalar() ? ctx_.Expand(n, n.Scalar(), FieldPath(key)) : std::nullopt;
    if (!n.IsScalar()) {
      TypeError(n, *f);
      return;
    }
    if (!v) return;
    int64_t value = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
    if (ec != std::errc() || p != v->data() + v->size() || value < 0) {
      ctx_.Error(n, "'" + FieldPath(key) + "' must be a whole number >= 0");
      return;
    }
    if (f->min && value < *f->min) {
      ctx_.Error(n, "'" + FieldPath(key) + "' must be at least " + std::to_string(*f->min));
      return;
    }
    out = value;
  }

  // A mapping of names to strings (kStringMap); see OptionsReader::StringMap.
  void StringMap(std::string_view key, std::vector<std::pair<std::string, std::string>>& out,
                 const OptionsReader::EntryCheck& check) {
    const FieldSpec* f = Field(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      TypeError(n, *f);
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string name = it->first.as<std::string>();
      std::string what = FieldPath(key) + "." + name;
      if (!it->second.IsScalar()) {
        ctx_.Error(it->second, "'" + what + "' must be a string");
        continue;
      }
      auto v = ctx_.Expand(it->second, it->second.Scalar(), what);
      if (!v) continue;
      if (check) {
        if (auto error = check(name, *v)) {
          ctx_.Error(error->at_value ? it->second : it->first,
                     "'" + what + "'" + (error->at_value ? " " : ": ") + error->message);
          continue;
        }
      }
      out.emplace_back(std::move(name), std::move(*v));
    }
  }

  // Returns the list and the location of each entry.
  void StringList(std::string_view key, std::vector<std::string>& out,
                  std::vector<SourceLocation>* where = nullptr) {
    const FieldSpec* f = Field(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (n.IsScalar()) {  // a single value is a list of one
      YAML::Node seq(YAML::NodeType::Sequence);
      seq.push_back(n);
      ReadList(n, seq, *f, key, out, where);
      return;
    }
    if (!n.IsSequence()) {
      TypeError(n, *f);
      return;
    }
    ReadList(n, n, *f, key, out, where);
  }

  const std::string& path() const { return path_; }

 private:
  void ReadList(const YAML::Node& at, const YAML::Node& seq, const FieldSpec& f,
                std::string_view key, std::vector<std::string>& out,
                std::vector<SourceLocation>* where) {
    std::vector<std::string> items;
    std::vector<SourceLocation> locs;
    bool ok = true;
    for (const auto& item : seq) {
      YAML::Node locnode = item.Mark().line >= 0 ? item : at;
      if (!item.IsScalar()) {
        ctx_.Error(locnode, "'" + FieldPath(key) + "' must be " + std::string(TypeName(f.type)));
        ok = false;
        continue;
      }
      auto v = ctx_.Expand(locnode, item.Scalar(), FieldPath(key));
      if (!v) {
        ok = false;
        continue;
      }
      if (f.type == FieldType::kEnumList && !IsChoice(f, *v)) {
        ctx_.Error(locnode, "'" + FieldPath(key) + "' has '" + *v +
                                "'; expected any of: " + Join(f.choices));
        ok = false;
        continue;
      }
      items.push_back(std::move(*v));
      locs.push_back(ctx_.At(locnode));
    }
    if (f.required && items.empty() && ok) {
      ctx_.Error(at, "'" + FieldPath(key) + "' must not be empty");
    }
    out = std::move(items);
    if (where) *where = std::move(locs);
  }

  const FieldSpec* Field(std::string_view key) const {
    const FieldSpec* f = spec_.Find(key);
    CDC_ASSERT(f != nullptr, "config field read without a declaration in schema.cc");
    return f;
  }

  static bool IsChoice(const FieldSpec& f, std::string_view v) {
    for (auto c : f.choices) {
      if (c == v) return true;
    }
    return false;
  }

  void CheckRequired() {
    for (const auto& f : spec_.fields) {
      if (f.required && !Has(f.name)) {
        ctx_.Error(node_ && !empty_ ? ctx_.At(node_) : SourceLocation{ctx_.file()},
                   "missing required key '" + std::string(f.name) + "' in '" + path_ + "'");
      }
    }
  }

  void TypeError(const YAML::Node& n, const FieldSpec& f) {
    ctx_.Error(n, "'" + FieldPath(f.name) + "' must be " + std::string(TypeName(f.type)));
  }

  std::string FieldPath(std::string_view key) const { return path_ + "." + std::string(key); }

  Context& ctx_;
  YAML::Node node_;
  const SectionSpec& spec_;
  std::string path_;
  bool valid_ = false;
  bool empty_ = false;
};

// The reader a kind's parser gets: the loader's MapReader over the kind's section.
class KindReader final : public OptionsReader {
 public:
  KindReader(Context& ctx, MapReader& r) : ctx_(ctx), r_(r) {}
  const std::string& path() const override { return r_.path(); }
  bool Has(std::string_view key) const override { return r_.Has(key); }
  SourceLocation Where(std::string_view key) const override { return r_.Where(key); }
  void String(std::string_view key, std::string& out) override { r_.String(key, out); }
  void Int(std::string_view key, int64_t& out) override { r_.Int(key, out); }
  void Bool(std::string_view key, bool& out) override { r_.Bool(key, out); }
  void StringMap(std::string_view key, std::vector<std::pair<std::string, std::string>>& out,
                 const EntryCheck& check) override {
    r_.StringMap(key, out, check);
  }
  void Error(std::string_view key, std::string message) override {
    ctx_.Error(r_.Where(key), std::move(message));
  }

 private:
  Context& ctx_;
  MapReader& r_;
};

// Reads a section whose `type` picks a registered kind (source, stream, state): `type` (default
// `type` when absent), then, through `common`, the fields every kind of the family has, then the
// kind's own options with the kind's parser. `out` keeps the type, the kind and its options.
template <typename Cfg, typename Find, typename MakeSection, typename Common>
void LoadKindSection(Context& ctx, const YAML::Node& node, const std::string& path,
                     std::string type, const Find& find, const MakeSection& make_section, Cfg& out,
                     const Common& common) {
  if (node && node.IsMap() && node["type"] && node["type"].IsScalar()) {
    type = node["type"].Scalar();
  }
  const auto* kind = find(type);
  auto section = make_section(kind);
  MapReader r(ctx, node, section->spec, path);
  out.type = type;
  r.String("type", out.type);
  out.where = r.Where("type");
  out.kind = kind;
  common(r);
  if (kind != nullptr && r.valid()) {
    KindReader reader(ctx, r);
    out.options = kind->spec.parse(reader);
  }
}

// Converts a YAML pattern to JSON text. Plain scalars that look like numbers, booleans or null
// become those JSON types; quoted scalars stay strings.
bool YamlToJson(Context& ctx, const YAML::Node& n, JsonWriter& w, const std::string& what) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      w.Null();
      return true;
    case YAML::NodeType::Map:
      w.BeginObject();
      for (auto it = n.begin(); it != n.end(); ++it) {
        w.Key(it->first.as<std::string>());
        if (!YamlToJson(ctx, it->second, w, what)) return false;
      }
      w.EndObject();
      return true;
    case YAML::NodeType::Sequence:
      w.BeginArray();
      for (const auto& item : n) {
        if (!YamlToJson(ctx, item, w, what)) return false;
      }
      w.EndArray();
      return true;
    case YAML::NodeType::Scalar: {
      auto v = ctx.Expand(n, n.Scalar(), what);
      if (!v) return false;
      if (n.Tag() == "!") {  // quoted
        w.String(*v);
        return true;
      }
      if (*v == "true" || *v == "false") {
        w.Bool(*v == "true");
      } else if (*v == "null" || *v == "~") {
        w.Null();
      } else {
        // A plain scalar that is a valid JSON number stays a number.
        bool number = !v->empty();
        size_t i = 0;
        const std::string& s = *v;
        if (i < s.size() && s[i] == '-') ++i;
        size_t digits = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        number = number && i > digits && !(s[digits] == '0' && i - digits > 1);
        if (number && i < s.size() && s[i] == '.') {
          size_t f = ++i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
          number = i > f;
        }
        if (number && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
          ++i;
          if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
          size_t e = i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
          number = i > e;
        }
        if (number && i == s.size()) {
          w.Raw(s);
        } else {
          w.String(s);
        }
      }
      return true;
    }
  }
  return false;
}

// `event_pattern` of a rule or an archive, as JSON text (checked later, in ValidateSemantics).
void LoadPattern(Context& ctx, MapReader& r, std::string& pattern, SourceLocation& where) {
  YAML::Node n = r.Get("event_pattern");
  if (!n || n.IsNull()) return;
  where = ctx.At(n);
  if (n.IsScalar()) {
    auto v = ctx.Expand(n, n.Scalar(), r.path() + ".event_pattern");
    if (v) pattern = *v;
    return;
  }
  std::string json;
  JsonWriter w(json);
  if (YamlToJson(ctx, n, w, r.path() + ".event_pattern")) pattern = std::move(json);
}

// The key ids KeyRing accepts; checked here so a bad id is reported with its line at load.
bool ValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// `admin.listen`: "host:port" or "[ipv6]:port", port 0 to 65535.
bool ParseListenAddress(const std::string& listen, std::string& host, int& port) {
  size_t colon;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find("]:");
    if (close == std::string::npos) return false;
    host = listen.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = listen.rfind(':');
    if (colon == std::string::npos) return false;
    host = listen.substr(0, colon);
    if (host.find(':') != std::string::npos) return false;  // IPv6 needs brackets
  }
  std::string_view digits(listen);
  digits.remove_prefix(colon + 1);
  int value = -1;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (host.empty() || digits.empty() || ec != std::errc() || p != digits.data() + digits.size() ||
      value < 0 || value > 65535) {
    return false;
  }
  port = value;
  return true;
}

void LoadAdmin(Context& ctx, const YAML::Node& node, Config& config) {
  MapReader r(ctx, node, config_internal::AdminSpec(), "admin");
  AdminConfig& admin = config.admin;
  r.Bool("enabled", admin.enabled);
  r.String("listen", admin.listen);
  r.Int("ready_max_lag_seconds", admin.ready_max_lag_seconds);
  admin.where = r.Where("listen");
  if (!ParseListenAddress(admin.listen, admin.host, admin.port)) {
    ctx.Error(admin.where, "'admin.listen' is '" + admin.listen +
                               "'; expected host:port (e.g. 127.0.0.1:9400, [::1]:9400; port 0 "
                               "takes any free port)");
  }
}

void LoadApi(Context& ctx, const YAML::Node& node, Config& config) {
  MapReader r(ctx, node, config_internal::ApiSpec(), "api");
  ApiConfig& api = config.api;
  r.String("listen", api.listen);
  api.where = r.Where("listen");
  r.String("access_key_id", api.access_key_id);
  r.String("secret_access_key", api.secret_access_key);
  r.Int("inject_throttling_percent", api.inject_throttling_percent);
  if (api.access_key_id.empty() != api.secret_access_key.empty()) {
    ctx.Error(r.Where(api.access_key_id.empty() ? "secret_access_key" : "access_key_id"),
              "'api.access_key_id' and 'api.secret_access_key' go together: set both (requests "
              "must then be signed with them) or neither");
  }
  if (api.inject_throttling_percent > 100) {
    ctx.Error(r.Where("inject_throttling_percent"),
              "'api.inject_throttling_percent' is a percentage: 0 to 100");
  }
  if (!api.listen.empty() && !ParseListenAddress(api.listen, api.host, api.port)) {
    ctx.Error(api.where, "'api.listen' is '" + api.listen +
                             "'; expected host:port (e.g. 127.0.0.1:4010, [::1]:4010; port 0 "
                             "takes any free port), or empty for no API");
  }
  if (api.enabled() && !config.stream.enabled) {
    ctx.Error(api.where,
              "'api.listen' is set but the stream is off (stream.enabled: false): PutEvents "
              "needs the durable stream to accept events. Turn the stream on or unset api.listen");
  }
}

void LoadRedaction(Context& ctx, const YAML::Node& node, Config& config) {
  RedactionConfig& red = config.redaction;
  MapReader r(ctx, node, config_internal::RedactionSpec(), "redaction");
  if (!r.valid()) return;
  red.where = r.Where("enabled");
  r.Bool("enabled", red.enabled);
  YAML::Node keys = r.Get("keys");
  if (keys && !keys.IsNull() && !keys.IsMap()) {
    ctx.Error(keys, "'redaction.keys' must be a mapping of key ids to env:VARIABLE or file:/path");
  } else if (keys && keys.IsMap()) {
    std::set<std::string> seen;
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      std::string id = it->first.as<std::string>();
      std::string path = "redaction.keys." + id;
      if (!seen.insert(id).second) {
        ctx.Error(it->first, "duplicate key id '" + id + "' in 'redaction.keys'");
        continue;
      }
      if (!ValidKeyId(id)) {
        ctx.Error(it->first,
                  "'" + path + "': a key id is 1 to 64 letters, digits, '_', '-' or '.'");
        continue;
      }
      if (!it->second.IsScalar()) {
        ctx.Error(it->second, "'" + path + "' must be env:VARIABLE or file:/path/to/secret");
        continue;
      }
      auto source = ctx.Expand(it->second, it->second.Scalar(), path);
      if (!source) continue;
      bool env = source->starts_with("env:") && source->size() > 4;
      bool file = (source->starts_with("file:") && source->size() > 5) ||
                  (source->starts_with("generate:") && source->size() > 9);
      if (!env && !file) {
        // The source names where a secret is, so quoting it is safe; a pasted key would fail the
        // prefix check, hence the message only says what the text starts with.
        ctx.Error(it->second, "'" + path +
                                  "' must be env:VARIABLE, file:/path/to/secret or "
                                  "generate:/path/to/secret (not the key itself: keys are never "
                                  "written into the config)");
        continue;
      }
      red.keys.push_back({id, std::move(*source), ctx.At(it->first)});
    }
  }
  r.String("active_key", red.active_key);
  if (!red.active_key.empty()) {
    bool known = false;
    for (const auto& k : red.keys) known = known || k.id == red.active_key;
    if (!known) {
      ctx.Error(r.Where("active_key"), "'redaction.active_key' is '" + red.active_key +
                                           "', which is not one of 'redaction.keys'");
    }
  } else if (!red.keys.empty()) {
    red.active_key = red.keys.front().id;
  }
}

// A ring with stand-in keys under the configured ids: the policy checks only need to know that
// keys exist; the real ones are read when the pipeline is built.
std::shared_ptr<const redact::KeyRing> StandInKeys(const RedactionConfig& red) {
  if (red.keys.empty()) return nullptr;
  std::vector<std::pair<std::string, std::string>> secrets;
  for (const auto& k : red.keys) secrets.emplace_back(k.id, std::string(32, 'x'));
  auto ring = redact::KeyRing::FromSecrets(secrets, red.active_key);
  if (!ring.ok()) return nullptr;
  return std::make_shared<const redact::KeyRing>(std::move(ring).value());
}

void LoadRedactRules(Context& ctx, MapReader& r, TableConfig& t, const Config& config) {
  YAML::Node node = r.Get("redact");
  if (!node || node.IsNull()) return;
  std::string path = "tables." + t.name + ".redact";
  if (!node.IsMap()) {
    ctx.Error(node, "'" + path + "' must be a mapping of column names to rules");
    return;
  }
  auto keys = StandInKeys(config.redaction);
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    RedactColumnConfig c;
    c.column = it->first.as<std::string>();
    c.where = ctx.At(it->second.IsNull() ? it->first : it->second);
    std::string column_path = path + "." + c.column;
    if (!seen.insert(c.column).second) {
      ctx.Error(it->first, "duplicate column '" + c.column + "' in '" + path + "'");
      continue;
    }
    YAML::Node v = it->second;  // a copy: `it->second` is a temporary
    if (v.IsScalar()) {
      auto rule = ctx.Expand(v, v.Scalar(), column_path);
      if (!rule) continue;
      c.rule = std::move(*rule);
    } else if (v.IsMap()) {
      size_t errors = ctx.errors().size();
      MapReader col(ctx, v, config_internal::RedactColumnSpec(), column_path);
      if (!col.valid()) continue;
      col.String("rule", c.rule);
      col.StringList("detect", c.detect);
      if (ctx.errors().size() != errors) continue;
      if (c.rule.empty() && c.detect.empty()) {
        ctx.Error(v, "'" + column_path + "' needs a 'rule', a 'detect' list or both");
        continue;
      }
    } else {
      ctx.Error(it->second.IsNull() ? it->first : it->second,
                "'" + column_path +
                    "' must be a rule (e.g. 'hash', 'mask:email', 'remove') or a mapping with "
                    "'rule' and/or 'detect'");
      continue;
    }
    // The same checks the pipeline's Redactor makes, so that validate-config reports them with
    // their line rather than the pipeline failing to start.
    auto parsed = redact::ParseColumnRule(c.column, c.rule, c.detect);
    Status s = parsed.status();
    if (parsed.ok() && parsed->rule.action == redact::Action::kHash && keys == nullptr) {
      s = InvalidArgument("column '" + c.column +
                          "': 'hash' needs an HMAC key, and 'redaction.keys' is empty; add one, "
                          "e.g. 'redaction: {keys: {k1: env:CDC_HMAC_KEY}}'");
    } else if (parsed.ok()) {
      auto built = redact::Redactor::Build({"", {*parsed}}, keys);
      s = built.status();
    }
    if (!s.ok()) {
      std::string message = s.message();
      if (message.starts_with("redaction: ")) message.erase(0, 11);
      ctx.Error(c.where, path + ": " + message);
      continue;
    }
    bool drops = parsed->rule.action == redact::Action::kRemove ||
                 parsed->rule.action == redact::Action::kNull;
    if (drops &&
        std::find(t.primary_key.begin(), t.primary_key.end(), c.column) != t.primary_key.end()) {
      ctx.Error(c.where, path + ": column '" + c.column +
                             "' is part of the primary key, which every event needs; use 'hash' "
                             "to keep it joinable without revealing it");
      continue;
    }
    t.redact.push_back(std::move(c));
  }
}

// ---- data models (tables.<name>.model) ----

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ReadModelField(Context& ctx, const std::string& name, const YAML::Node& key,
                    const YAML::Node& node, model::Model& m) {
  model::Field f;
  f.name = name;
  std::string path = "fields." + name;
  std::string type;
  SourceLocation type_where = ctx.At(node);
  if (node.IsScalar()) {
    auto v = ctx.Expand(node, node.Scalar(), path);
    if (!v) return;
    type = *v;
  } else if (node.IsMap()) {
    size_t errors = ctx.errors().size();
    MapReader fr(ctx, node, config_internal::ModelFieldSpec(), path);
    if (!fr.valid()) return;
    fr.String("type", type);
    type_where = fr.Where("type");
    fr.Bool("nullable", f.nullable);
    std::string pii = "none";
    fr.String("pii", pii);
    if (auto p = model::ParsePii(pii)) f.pii = *p;
    fr.String("description", f.description);
    if (ctx.errors().size() != errors) return;
  } else {
    ctx.Error(node.IsNull() ? key : node,
              "'" + path +
                  "' must be a type (e.g. 'text') or a mapping with 'type', 'nullable', "
                  "'pii'");
    return;
  }
  auto parsed = model::ParseFieldType(type);
  if (!parsed.ok()) {
    ctx.Error(type_where, path + ": " + parsed.status().message());
    return;
  }
  f.type = std::move(parsed).value();
  m.fields.push_back(std::move(f));
}

// Reads a model file with its own context, so that its errors name the model file.
std::shared_ptr<const model::Model> ReadModel(const std::string& path,
                                              const config_internal::EnvLookup& env,
                                              std::vector<ConfigError>& errors) {
  Context ctx(path, env);
  auto text = ReadWholeFile(path);
  if (!text) {
    errors.push_back({SourceLocation{path}, "cannot open the model file"});
    return nullptr;
  }
  auto m = std::make_shared<model::Model>();
  m->file = path;
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root || root.IsNull()) {
      ctx.Error(SourceLocation{path, 1, 1}, "the model file is empty");
    } else {
      MapReader r(ctx, root, config_internal::ModelSpec(), "model");
      if (r.valid()) {
        r.String("table", m->table);
        r.String("schema", m->schema);
        int64_t version = 0;
        size_t before = ctx.errors().size();
        r.Int("version", version);
        if (ctx.errors().size() == before && r.Has("version") &&
            (version < 1 || version >= UINT32_MAX)) {
          ctx.Error(r.Where("version"), "'model.version' must be a whole number from 1 to " +
                                            std::to_string(UINT32_MAX - 1));
        }
        m->version = static_cast<uint32_t>(version);
        r.String("description", m->description);
        r.StringList("primary_key", m->primary_key);
        YAML::Node fields = r.Get("fields");
        if (fields && !fields.IsNull() && !fields.IsMap()) {
          ctx.Error(fields, "'model.fields' must be a mapping of field names to types");
        } else if (fields && fields.IsMap()) {
          std::set<std::string> seen;
          for (auto it = fields.begin(); it != fields.end(); ++it) {
            std::string name = it->first.as<std::string>();
            if (!seen.insert(name).second) {
              ctx.Error(it->first, "duplicate field '" + name + "' in 'model.fields'");
              continue;
            }
            YAML::Node value = it->second;  // a copy: `it->second` is a temporary
            ReadModelField(ctx, name, it->first, value, *m);
          }
          if (seen.empty()) ctx.Error(fields, "'model.fields' must name at least one field");
          for (const auto& k : m->primary_key) {
            if (seen.count(k) == 0) {
              ctx.Error(r.Where("primary_key"),
                        "'model.primary_key' names '" + k + "', which is not in 'model.fields'");
            }
          }
        }
      }
    }
  } catch (const YAML::ParserException& e) {
    ctx.Error(SourceLocation{path, e.mark.line + 1, e.mark.column + 1},
              "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    ctx.Error(SourceLocation{path, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  if (!ctx.errors().empty()) {
    for (auto& e : ctx.errors()) errors.push_back(std::move(e));
    return nullptr;
  }
  return m;
}

// The model file of `tables.<name>.model`, relative to the config file's directory.
void LoadTableModel(Context& ctx, MapReader& r, TableConfig& t) {
  std::filesystem::path p(t.model_path);
  if (p.is_relative()) p = std::filesystem::path(ctx.file()).parent_path() / p;
  std::string path = "tables." + t.name + ".model";
  size_t errors = ctx.errors().size();
  auto m = ReadModel(p.lexically_normal().string(), ctx.env(), ctx.errors());
  if (ctx.errors().size() != errors) {
    ctx.Error(r.Where("model"),
              path + ": the model file '" + t.model_path + "' has errors (listed with its name)");
    return;
  }
  if (m->table != t.name || m->schema != t.schema) {
    ctx.Error(r.Where("model"), path + ": '" + t.model_path + "' is the model of table '" +
                                    (m->schema == "public" ? "" : m->schema + ".") + m->table +
                                    "', not of '" + (t.schema == "public" ? "" : t.schema + ".") +
                                    t.name + "'");
    return;
  }
  if (r.Has("primary_key") && !m->primary_key.empty() && m->primary_key != t.primary_key) {
    ctx.Error(r.Where("primary_key"), "tables." + t.name +
                                          ".primary_key differs from the model's primary_key in '" +
                                          t.model_path + "'");
  }
  t.model = std::move(m);
}

// A field the model classifies as PII must be covered by the table's redaction policy.
void CheckModelPii(Context& ctx, MapReader& r, const TableConfig& t) {
  if (!t.model) return;
  for (const auto& f : t.model->fields) {
    if (f.pii == model::Pii::kNone) continue;
    bool covered = std::any_of(t.redact.begin(), t.redact.end(),
                               [&](const RedactColumnConfig& c) { return c.column == f.name; });
    if (covered) continue;
    ctx.Error(r.Where("model"),
              "tables." + t.name + ": field '" + f.name + "' is classified as PII (" +
                  std::string(model::PiiName(f.pii)) + ") in '" + t.model_path + "', but 'tables." +
                  t.name + ".redact' has no rule for it; add one (e.g. '" + f.name +
                  ": hash', or detectors for free text), or classify it 'pii: none'");
  }
}

// ---- transforms (tables.<name>.transforms) ----

// A `set` constant: a quoted scalar is text; plain true/false, null, integers and other numbers
// are typed.
Value ScalarValue(const YAML::Node& n, const std::string& text) {
  if (n.IsNull()) return Value::Null();
  if (n.Tag() == "!") return Value::Text(text);
  if (text == "true" || text == "false") return Value::Bool(text == "true");
  if (text == "null" || text == "~") return Value::Null();
  int64_t i = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (!text.empty() && ec == std::errc() && p == text.data() + text.size() && text[0] != '+') {
    return Value::Int64(i);
  }
  // Other numbers keep their exact digits when they are JSON numbers.
  size_t k = 0;
  auto digits = [&] {
    size_t start = k;
    while (k < text.size() && std::isdigit(static_cast<unsigned char>(text[k]))) ++k;
    return k > start;
  };
  if (k < text.size() && text[k] == '-') ++k;
  bool number = digits();
  if (number && k < text.size() && text[k] == '.') {
    ++k;
    number = digits();
  }
  if (number && k < text.size() && (text[k] == 'e' || text[k] == 'E')) {
    ++k;
    if (k < text.size() && (text[k] == '+' || text[k] == '-')) ++k;
    number = digits();
  }
  if (number && k == text.size()) return Value::Decimal(text);
  return Value::Text(text);
}

// Reads the string pairs of a mapping (rename, cast); false after reporting an error.
bool ReadPairs(Context& ctx, const YAML::Node& node, const std::string& path, std::string_view what,
               std::vector<std::pair<std::string, std::string>>& out,
               std::vector<YAML::Node>* value_nodes = nullptr) {
  if (!node.IsMap() || node.size() == 0) {
    ctx.Error(node, "'" + path + "' must be a mapping of " + std::string(what));
    return false;
  }
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Node value = it->second;
    if (!value.IsScalar()) {
      ctx.Error(value.IsNull() ? it->first : value,
                "'" + path + "' must be a mapping of " + std::string(what));
      ok = false;
      continue;
    }
    auto v = ctx.Expand(value, value.Scalar(), path);
    if (!v) {
      ok = false;
      continue;
    }
    out.emplace_back(it->first.as<std::string>(), std::move(*v));
    if (value_nodes) value_nodes->push_back(value);
  }
  return ok;
}

bool ReadTransform(Context& ctx, const YAML::Node& item, const std::string& path,
                   transform::StepSpec& spec) {
  size_t errors = ctx.errors().size();
  MapReader ir(ctx, item, config_internal::TransformSpec(), path);
  if (!ir.valid() || ctx.errors().size() != errors) return false;
  std::string kind = item.begin()->first.as<std::string>();
  YAML::Node arg = item.begin()->second;  // a copy
  std::string arg_path = path + "." + kind;
  if (kind == "rename") {
    spec.kind = transform::Kind::kRename;
    return ReadPairs(ctx, arg, arg_path, "old column names to new ones", spec.renames);
  }
  if (kind == "drop" || kind == "include") {
    spec.kind = kind == "drop" ? transform::Kind::kDrop : transform::Kind::kInclude;
    ir.StringList(kind, spec.columns);
    if (ctx.errors().size() == errors && spec.columns.empty()) {
      ctx.Error(arg.IsNull() ? item : arg, "'" + arg_path + "' must name at least one column");
    }
    return ctx.errors().size() == errors;
  }
  if (kind == "cast") {
    spec.kind = transform::Kind::kCast;
    std::vector<std::pair<std::string, std::string>> pairs;
    std::vector<YAML::Node> nodes;
    if (!ReadPairs(ctx, arg, arg_path, "column names to types (" + transform::CastTypeNames() + ")",
                   pairs, &nodes)) {
      return false;
    }
    bool ok = true;
    for (size_t i = 0; i < pairs.size(); ++i) {
      auto type = transform::ParseCastType(pairs[i].second);
      if (!type.ok()) {
        ctx.Error(nodes[i], arg_path + "." + pairs[i].first + ": " + type.status().message());
        ok = false;
        continue;
      }
      spec.casts.emplace_back(pairs[i].first, *type);
    }
    return ok;
  }
  if (kind == "set") {
    spec.kind = transform::Kind::kSet;
    if (!arg.IsMap()) {
      ctx.Error(arg.IsNull() ? item : arg,
                "'" + arg_path +
                    "' must be a mapping: {column: c, value: v}, {column: c, from: "
                    "other} or {column: c, template: \"{a}-{b}\"}");
      return false;
    }
    MapReader sr(ctx, arg, config_internal::SetTransformSpec(), arg_path);
    if (!sr.valid()) return false;
    sr.String("column", spec.column);
    YAML::Node value = arg["value"];
    int sources = (value ? 1 : 0) + (sr.Has("from") ? 1 : 0) + (sr.Has("template") ? 1 : 0);
    if (sources != 1) {
      ctx.Error(arg, "'" + arg_path + "' needs exactly one of 'value', 'from', 'template'");
      return false;
    }
    if (value) {
      if (!value.IsNull() && !value.IsScalar()) {
        ctx.Error(value, "'" + arg_path + ".value' must be a scalar (text, number, bool, null)");
        return false;
      }
      std::string text;
      if (value.IsScalar()) {
        auto v = ctx.Expand(value, value.Scalar(), arg_path + ".value");
        if (!v) return false;
        text = *v;
      }
      spec.set_from = transform::SetFrom::kValue;
      spec.value = ScalarValue(value, text);
    } else if (sr.Has("from")) {
      spec.set_from = transform::SetFrom::kColumn;
      sr.String("from", spec.source);
    } else {
      spec.set_from = transform::SetFrom::kTemplate;
      sr.String("template", spec.source);
    }
    return ctx.errors().size() == errors;
  }
  // flatten
  spec.kind = transform::Kind::kFlatten;
  if (arg.IsScalar()) {
    auto v = ctx.Expand(arg, arg.Scalar(), arg_path);
    if (!v) return false;
    spec.column = *v;
    return true;
  }
  if (!arg.IsMap()) {
    ctx.Error(arg.IsNull() ? item : arg,
              "'" + arg_path +
                  "' must be a column name or a mapping with 'column', 'depth', "
                  "'separator'");
    return false;
  }
  MapReader fr(ctx, arg, config_internal::FlattenTransformSpec(), arg_path);
  if (!fr.valid()) return false;
  fr.String("column", spec.column);
  int64_t depth = 0;
  fr.Int("depth", depth);
  spec.depth = static_cast<int>(std::min<int64_t>(depth, 1000));
  fr.String("separator", spec.separator);
  return ctx.errors().size() == errors;
}

void LoadTransforms(Context& ctx, MapReader& r, TableConfig& t) {
  YAML::Node node = r.Get("transforms");
  if (!node || node.IsNull()) return;
  std::string path = "tables." + t.name + ".transforms";
  if (!node.IsSequence()) {
    ctx.Error(node, "'" + path + "' must be a list of transforms, e.g. '- drop: [notes]'");
    return;
  }
  bool ok = true;
  size_t index = 0;
  for (const auto& ref : node) {
    YAML::Node item = ref;  // a copy: iterators yield temporaries
    std::string item_path = path + "[" + std::to_string(index++) + "]";
    if (!item.IsMap() || item.size() != 1) {
      ctx.Error(item.Mark().line >= 0 ? item : node,
                "'" + item_path +
                    "' must be a mapping with exactly one of: rename, drop, include, cast, set, "
                    "flatten");
      ok = false;
      continue;
    }
    TransformConfig tc;
    tc.where = ctx.At(item);
    if (!ReadTransform(ctx, item, item_path, tc.spec)) {
      ok = false;
      continue;
    }
    t.transforms.push_back(std::move(tc));
  }
  if (!ok) return;
  std::vector<transform::StepSpec> specs;
  for (const auto& tc : t.transforms) specs.push_back(tc.spec);
  std::vector<std::string> columns;
  if (t.model) {
    for (const auto& f : t.model->fields) columns.push_back(f.name);
  }
  for (const auto& e : transform::Validate(specs, t.model ? &columns : nullptr)) {
    ctx.Error(t.transforms[e.step].where, path + "[" + std::to_string(e.step) + "] (" +
                                              std::string(transform::KindName(specs[e.step].kind)) +
                                              "): " + e.message +
                                              (t.model && e.message.starts_with("unknown column")
                                                   ? " (not in the model '" + t.model_path + "')"
                                                   : ""));
  }
}

void LoadPartitionKey(Context& ctx, MapReader& r, TableConfig& t) {
  r.StringList("partition_key", t.partition_key);
  if (!r.Has("partition_key")) return;
  std::string path = "tables." + t.name + ".partition_key";
  SourceLocation where = r.Where("partition_key");
  if (t.partition_key.empty()) {
    ctx.Error(where, "'" + path + "' must name at least one column");
    return;
  }
  std::set<std::string> seen;
  for (const auto& c : t.partition_key) {
    if (!seen.insert(c).second) ctx.Error(where, path + ": column '" + c + "' is named twice");
    if (t.model && t.model->Find(c) == nullptr) {
      ctx.Error(where, path + ": column '" + c + "' is not in the model '" + t.model_path + "'");
    }
    for (const auto& rule : t.redact) {
      if (rule.column == c && (rule.rule == "remove" || rule.rule == "null")) {
        ctx.Error(where, path + ": column '" + c + "' is redacted with '" + rule.rule +
                             "', so it carries no value to partition by; use 'hash' to keep it "
                             "stable without revealing it");
      }
    }
  }
}

void LoadTable(Context& ctx, const std::string& name, const YAML::Node& key, const YAML::Node& node,
               Config& config) {
  TableConfig t;
  t.name = name;
  t.where = ctx.At(key);
  MapReader r(ctx, node, config_internal::TableSpec(), "tables." + name);
  if (!r.valid()) return;
  r.String("schema", t.schema);
  r.String("function", t.function);
  if (t.function.empty()) t.function = DefaultFunctionName(name);
  std::vector<std::string> types;
  r.StringList("event_types", types);
  for (const auto& s : types) {
    auto op = ParseOp(s);
    if (op && std::find(t.event_types.begin(), t.event_types.end(), *op) == t.event_types.end()) {
      t.event_types.push_back(*op);
    }
  }
  r.StringList("primary_key", t.primary_key);
  r.String("model", t.model_path);
  if (!t.model_path.empty()) LoadTableModel(ctx, r, t);
  if (!r.Has("primary_key")) {
    t.primary_key = t.model && !t.model->primary_key.empty() ? t.model->primary_key
                                                             : std::vector<std::string>{"id"};
  }
  r.String("pii", t.pii);
  r.String("replica_identity", t.replica_identity);
  r.String("schema_changes", t.schema_changes);
  r.String("unchanged_toast", t.unchanged_toast);
  if (t.unchanged_toast == "last_image" && !config.stream.enabled) {
    ctx.Error(r.Where("unchanged_toast"),
              "'tables." + name +
                  ".unchanged_toast: last_image' keeps the last row images in the state store, "
                  "which only the durable stream has (stream.enabled: false): turn the stream on "
                  "or use 'mark'");
  }
  if (t.unchanged_toast == "last_image" && config.state.kind != nullptr &&
      !config.state.kind->keeps_last_images) {
    ctx.Error(r.Where("unchanged_toast"),
              "'tables." + name +
                  ".unchanged_toast: last_image' keeps the last row images in the state store, "
                  "which the state store of type '" +
                  config.state.type +
                  "' does not keep: use 'mark', or a state store that keeps them (state.type: "
                  "sqlite)");
  }
  r.String("description", t.description);
  // Tables marked as holding PII are redacted before anything can store or log their changes.
  // Capture by default: the durable stream then never holds a value a policy redacts.
  t.redact_at = "capture";
  r.String("redact_at", t.redact_at);
  LoadRedactRules(ctx, r, t, config);
  CheckModelPii(ctx, r, t);
  LoadTransforms(ctx, r, t);
  LoadPartitionKey(ctx, r, t);
  config.tables.push_back(std::move(t));
}

// The mapping form of an entry of a rule's targets: `target` plus `input`, `input_path` or
// `input_transformer`, checked with bus/input_transformer.h and reported at the field's line.
void LoadRuleTarget(Context& ctx, const YAML::Node& item, const std::string& path,
                    RuleConfig& rule) {
  MapReader r(ctx, item, config_internal::RuleTargetSpec(), path);
  if (!r.valid()) return;
  std::string target;
  r.String("target", target);
  InputSpec spec;
  if (YAML::Node n = r.Get("input"); n && !n.IsNull()) {
    if (n.IsScalar()) {
      if (auto v = ctx.Expand(n, n.Scalar(), path + ".input")) spec.input = std::move(*v);
    } else {
      std::string json;
      JsonWriter w(json);
      if (YamlToJson(ctx, n, w, path + ".input")) spec.input = std::move(json);
    }
  }
  if (r.Has("input_path")) {
    std::string v;
    r.String("input_path", v);
    spec.input_path = std::move(v);
  }
  std::map<std::string, SourceLocation> map_where;
  SourceLocation map_at = r.Where("input_transformer");
  SourceLocation template_at = map_at;
  if (r.Has("input_transformer")) {
    MapReader x(ctx, r.Get("input_transformer"), config_internal::InputTransformerSpec(),
                path + ".input_transformer");
    if (x.valid()) {
      if (YAML::Node m = x.Get("input_paths_map"); m && !m.IsNull()) {
        map_at = ctx.At(m);
        if (!m.IsMap()) {
          ctx.Error(m, "'" + x.path() +
                           ".input_paths_map' must be a mapping of names to "
                           "JSONPaths");
        } else {
          for (auto it = m.begin(); it != m.end(); ++it) {
            std::string name = it->first.as<std::string>();
            std::string what = x.path() + ".input_paths_map." + name;
            if (!it->second.IsScalar()) {
              ctx.Error(it->second, "'" + what + "' must be a JSONPath string");
              continue;
            }
            auto v = ctx.Expand(it->second, it->second.Scalar(), what);
            if (!v) continue;
            map_where.emplace(name, ctx.At(it->second));
            spec.input_paths_map.emplace_back(std::move(name), std::move(*v));
          }
        }
      }
      if (x.Has("input_template")) {
        std::string v;
        x.String("input_template", v);
        spec.input_template = std::move(v);
        template_at = x.Where("input_template");
      }
    }
  }
  for (auto& e : ValidateInputSpec(spec)) {
    // A transformer without a template was reported by its MapReader.
    if (e.field == "input_template" && !spec.input_template) continue;
    SourceLocation where = r.Where(e.field);
    if (e.field == "input_template") {
      where = template_at;
    } else if (e.field == "input_paths_map") {
      where = map_at;
    } else if (e.field.rfind("input_paths_map.", 0) == 0) {
      auto it = map_where.find(e.field.substr(std::string_view("input_paths_map.").size()));
      where = it != map_where.end() ? it->second : map_at;
    }
    std::string field =
        e.field == "input" || e.field == "input_path" || e.field == "input_transformer"
            ? e.field
            : "input_transformer." + e.field;
    ctx.Error(where, path + "." + field + ": " + e.message);
  }
  std::string dead_letter;
  r.String("dead_letter", dead_letter);
  if (target.empty()) return;  // reported as missing
  rule.targets.push_back(std::move(target));
  rule.target_where.push_back(r.Where("target"));
  rule.target_inputs.push_back(std::move(spec));
  rule.target_dead_letters.push_back(std::move(dead_letter));
  rule.target_dead_letter_where.push_back(r.Where("dead_letter"));
}

// `targets`: a name, a list of names, or a list mixing names and mappings.
void LoadRuleTargets(Context& ctx, MapReader& r, RuleConfig& rule) {
  YAML::Node n = r.Get("targets");
  if (!n || n.IsNull()) return;
  std::string path = r.path() + ".targets";
  if (!n.IsScalar() && !n.IsSequence()) {
    ctx.Error(n, "'" + path + "' must be a list of target names or mappings");
    return;
  }
  YAML::Node seq = n;
  if (n.IsScalar()) {
    seq = YAML::Node(YAML::NodeType::Sequence);
    seq.push_back(n);
  }
  size_t i = 0;
  for (const auto& item : seq) {
    YAML::Node at = item.Mark().line >= 0 ? YAML::Node(item) : n;
    std::string item_path = path + "[" + std::to_string(i++) + "]";
    if (item.IsMap()) {
      LoadRuleTarget(ctx, item, item_path, rule);
    } else if (item.IsScalar()) {
      auto v = ctx.Expand(at, item.Scalar(), path);
      if (!v) continue;
      rule.targets.push_back(std::move(*v));
      rule.target_where.push_back(ctx.At(at));
      rule.target_inputs.emplace_back();
      rule.target_dead_letters.emplace_back();
      rule.target_dead_letter_where.emplace_back();
    } else {
      ctx.Error(at, "'" + item_path + "' must be a target name or a mapping with 'target'");
    }
  }
  if (rule.targets.empty() && i == 0) ctx.Error(n, "'" + path + "' must not be empty");
}

void LoadRule(Context& ctx, const std::string& name, const YAML::Node& key, const YAML::Node& node,
              Config& config) {
  RuleConfig rule;
  rule.name = name;
  rule.where = ctx.At(key);
  MapReader r(ctx, node, config_internal::RuleSpec(), "rules." + name);
  if (!r.valid()) return;
  r.String("description", rule.description);
  LoadPattern(ctx, r, rule.event_pattern, rule.pattern_where);
  r.Bool("enabled", rule.enabled);
  LoadRuleTargets(ctx, r, rule);
  config.rules.push_back(std::move(rule));
}

void LoadTarget(Context& ctx, const Registry& registry, const std::string& name,
                const YAML::Node& key, const YAML::Node& node, Config& config) {
  TargetConfig t;
  t.name = name;
  t.pipeline = config.pipeline.name;
  t.where = ctx.At(key);
  std::string type;
  if (node && node.IsMap() && node["type"] && node["type"].IsScalar()) type = node["type"].Scalar();
  const TargetKind* kind = registry.FindTarget(type);
  auto section = config_internal::TargetSection(registry, kind);
  const SectionSpec& spec = section->spec;
  MapReader r(ctx, node, spec, "targets." + name);
  if (!r.valid()) return;
  r.String("type", t.type);
  t.kind = kind;
  if (spec.Find("format")) r.String("format", t.format);
  if (spec.Find("queue_size")) r.Int("queue_size", t.queue_size);
  if (kind != nullptr) {
    KindReader reader(ctx, r);
    t.options = kind->spec.parse(reader);
  }
  if (r.Has("retry")) {
    MapReader x(ctx, r.Get("retry"), config_internal::RetrySpec(), "targets." + name + ".retry");
    if (x.valid()) {
      x.Int("max_attempts", t.retry.max_attempts);
      x.Int("max_event_age_seconds", t.retry.max_event_age_seconds);
      x.Int("initial_backoff_ms", t.retry.initial_backoff_ms);
      x.Int("max_backoff_ms", t.retry.max_backoff_ms);
      if (x.Has("max_attempts") && t.retry.max_attempts < 1) {
        ctx.Error(x.Where("max_attempts"), "'" + x.path() + ".max_attempts' must be at least 1");
      }
      if (x.Has("max_event_age_seconds") && t.retry.max_event_age_seconds < 1) {
        ctx.Error(x.Where("max_event_age_seconds"),
                  "'" + x.path() + ".max_event_age_seconds' must be at least 1");
      }
    }
  }
  config.targets.push_back(std::move(t));
}

// `archives`: a list of mappings, each with a unique `name` (AWS's archive name rule).
void LoadArchives(Context& ctx, const YAML::Node& section, Config& config) {
  if (!section || section.IsNull()) return;
  if (!section.IsSequence()) {
    ctx.Error(section,
              "'archives' must be a list of archives (mappings with name, description, "
              "event_pattern, retention_days)");
    return;
  }
  std::map<std::string, SourceLocation> seen;
  size_t i = 0;
  for (const auto& item : section) {
    std::string path = "archives[" + std::to_string(i++) + "]";
    // Messages name the archive once its name is known.
    if (item.IsMap() && item["name"] && item["name"].IsScalar()) {
      path = "archives." + item["name"].Scalar();
    }
    MapReader r(ctx, item, config_internal::ArchiveSpec(), path);
    if (!r.valid()) continue;
    ArchiveConfig a;
    a.where = ctx.At(item);
    r.String("name", a.name);
    r.String("description", a.description);
    LoadPattern(ctx, r, a.event_pattern, a.pattern_where);
    r.Int("retention_days", a.retention_days);
    if (a.name.empty()) continue;  // reported as missing
    SourceLocation name_at = r.Where("name");
    if (!ValidArchiveName(a.name)) {
      ctx.Error(name_at, "'" + path + ".name' is '" + a.name +
                             "'; an archive name has 1 to 48 characters, each a letter, a digit, "
                             "'.', '-' or '_'");
      continue;
    }
    auto [it, inserted] = seen.emplace(a.name, name_at);
    if (!inserted) {
      ctx.Error(name_at, "duplicate archive name '" + a.name + "' in 'archives' (also at " +
                             it->second.ToString() + ")");
      continue;
    }
    config.archives.push_back(std::move(a));
  }
}

template <typename Fn>
void ForEachNamed(Context& ctx, const YAML::Node& section, const std::string& what, Fn fn) {
  if (!section || section.IsNull()) return;
  if (!section.IsMap()) {
    ctx.Error(section, "'" + what + "' must be a mapping of names to settings");
    return;
  }
  std::set<std::string> seen;
  for (auto it = section.begin(); it != section.end(); ++it) {
    std::string name = it->first.as<std::string>();
    if (!seen.insert(name).second) {
      ctx.Error(it->first, "duplicate name '" + name + "' in '" + what + "'");
      continue;
    }
    fn(name, it->first, it->second);
  }
}

// The kinds that take dead letters: "file", "file or x".
std::string DeadLetterKinds(const Registry& registry) {
  std::string out;
  for (const auto& k : registry.targets()) {
    if (!k->caps.dead_letter_sink) continue;
    out += (out.empty() ? "" : " or ") + std::string(k->spec.name);
  }
  return out;
}

void CheckReferences(Context& ctx, Config& config) {
  // The pipeline feeds each archive through a hidden rule and target of this name.
  for (const auto& rule : config.rules) {
    if (rule.name.rfind(kReservedArchivePrefix, 0) == 0) {
      ctx.Error(rule.where, "rules." + rule.name + ": names starting with '" +
                                std::string(kReservedArchivePrefix) +
                                "' are reserved for archives");
    }
  }
  for (const auto& t : config.targets) {
    if (t.name.rfind(kReservedArchivePrefix, 0) == 0) {
      ctx.Error(t.where, "targets." + t.name + ": names starting with '" +
                             std::string(kReservedArchivePrefix) + "' are reserved for archives");
    }
  }
  std::set<std::string> functions;
  for (const auto& t : config.tables) {
    if (!functions.insert(t.function).second) {
      ctx.Error(t.where, "tables." + t.name + ": function '" + t.function +
                             "' is already used by another table; give each table its own");
    }
  }
  std::set<std::string> used_targets;
  for (const auto& rule : config.rules) {
    for (size_t i = 0; i < rule.targets.size(); ++i) {
      if (config.FindTarget(rule.targets[i]) == nullptr) {
        std::string known;
        for (const auto& t : config.targets) known += (known.empty() ? "" : ", ") + t.name;
        ctx.Error(i < rule.target_where.size() ? rule.target_where[i] : rule.where,
                  "rules." + rule.name + ": target '" + rule.targets[i] +
                      "' is not defined in 'targets'" +
                      (known.empty() ? std::string(" (no targets are defined)")
                                     : " (defined: " + known + ")"));
      }
      used_targets.insert(rule.targets[i]);
      const std::string& dlq = rule.target_dead_letters[i];
      if (dlq.empty()) continue;
      const TargetConfig* d = config.FindTarget(dlq);
      std::string at = "rules." + rule.name + ".targets[" + std::to_string(i) + "].dead_letter";
      if (d == nullptr) {
        ctx.Error(rule.target_dead_letter_where[i],
                  at + ": target '" + dlq + "' is not defined in 'targets'");
      } else if (d->kind != nullptr && !d->kind->caps.dead_letter_sink) {
        ctx.Error(rule.target_dead_letter_where[i], at + ": target '" + dlq + "' is a " + d->type +
                                                        " target; a dead letter must go to a " +
                                                        DeadLetterKinds(*config.registry) +
                                                        " target");
      } else if (dlq == rule.targets[i]) {
        ctx.Error(rule.target_dead_letter_where[i],
                  at + ": the failed deliveries of target '" + dlq +
                      "' cannot be dead-lettered to the same target");
      }
    }
  }
}

LoadResult Load(Context& ctx, const Registry& registry, const std::string& yaml) {
  LoadResult result;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    ctx.Error(SourceLocation{ctx.file(), e.mark.line + 1, e.mark.column + 1},
              "YAML syntax error: " + e.msg);
    result.errors = std::move(ctx.errors());
    return result;
  }
  auto config = std::make_shared<Config>();
  config->file = ctx.file();
  config->registry = &registry;
  try {
    MapReader top(ctx, root, config_internal::RootSpec(), "(top level)");
    if (!top.valid() || root.IsNull()) {
      if (root.IsNull()) ctx.Error(SourceLocation{ctx.file(), 1, 1}, "the config file is empty");
      result.errors = std::move(ctx.errors());
      return result;
    }
    {
      MapReader r(ctx, root["pipeline"], config_internal::PipelineSpec(), "pipeline");
      r.String("name", config->pipeline.name);
      r.String("data_dir", config->pipeline.data_dir);
      r.String("log_level", config->pipeline.log_level);
      r.String("log_format", config->pipeline.log_format);
      r.Int("shutdown_timeout_ms", config->pipeline.shutdown_timeout_ms);
    }
    {
      MapReader r(ctx, root["bus"], config_internal::BusSpec(), "bus");
      r.String("name", config->bus.name);
      r.String("source", config->bus.source);
      r.String("account", config->bus.account);
      r.String("region", config->bus.region);
    }
    {
      const SourceKind* fallback = registry.FileSource();
      LoadKindSection(
          ctx, root["source"], "source",
          fallback != nullptr ? std::string(fallback->spec.name) : std::string(),
          [&](const std::string& t) { return registry.FindSource(t); },
          [&](const SourceKind* k) { return config_internal::SourceSection(registry, k); },
          config->source, [](MapReader&) {});
    }
    LoadKindSection(
        ctx, root["stream"], "stream", std::string(config_internal::kDefaultStreamKind),
        [&](const std::string& t) { return registry.FindStream(t); },
        [&](const StreamKind* k) { return config_internal::StreamSection(registry, k); },
        config->stream,
        [&](MapReader& r) {
          StreamConfig& st = config->stream;
          st.pipeline = config->pipeline.name;
          r.Bool("enabled", st.enabled);
          r.Int("shards", st.shards);
          r.Int("max_unprocessed_bytes", st.max_unprocessed_bytes);
          st.where = r.Where("shards");
          if (st.shards < 1 || st.shards > 1024) {
            ctx.Error(st.where,
                      "'stream.shards' is " + std::to_string(st.shards) + "; expected 1 to 1024");
          }
        });
    config->state.data_dir = config->pipeline.data_dir;
    config->state.pipeline_name = config->pipeline.name;
    LoadKindSection(
        ctx, root["state"], "state", std::string(config_internal::kDefaultStateKind),
        [&](const std::string& t) { return registry.FindState(t); },
        [&](const StateKind* k) { return config_internal::StateSection(registry, k); },
        config->state,
        [&](MapReader& r) {
          r.Int("checkpoint_interval_ms", config->state.checkpoint_interval_ms);
          r.Int("dedupe_ttl_hours", config->state.dedupe_ttl_hours);
        });
    {
      MapReader r(ctx, root["dead_letter"], config_internal::DeadLetterSpec(), "dead_letter");
      r.String("path", config->dead_letter.path);
      r.String("fsync", config->dead_letter.fsync);
    }
    if (config->dead_letter.path.empty()) {
      config->dead_letter.path = config->pipeline.data_dir + "/dead-letter.jsonl";
    }
    LoadAdmin(ctx, root["admin"], *config);
    LoadApi(ctx, root["api"], *config);
    LoadRedaction(ctx, root["redaction"], *config);
    ForEachNamed(ctx, root["tables"], "tables", [&](auto& name, auto& key, auto& node) {
      LoadTable(ctx, name, key, node, *config);
    });
    ForEachNamed(ctx, root["rules"], "rules", [&](auto& name, auto& key, auto& node) {
      LoadRule(ctx, name, key, node, *config);
    });
    ForEachNamed(ctx, root["targets"], "targets", [&](auto& name, auto& key, auto& node) {
      LoadTarget(ctx, registry, name, key, node, *config);
    });
    LoadArchives(ctx, root["archives"], *config);
    CheckReferences(ctx, *config);
  } catch (const YAML::Exception& e) {
    ctx.Error(SourceLocation{ctx.file(), e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  result.errors = std::move(ctx.errors());
  if (result.errors.empty()) {
    result.config = std::move(config);
  } else {
    result.partial = std::move(config);
  }
  return result;
}

EnvLookup MakeEnv(const EnvOptions& env) {
  std::map<std::string, std::string> dotenv;
  // `.env.local` (a machine's own values, not committed) is read before `.env`, so its values
  // win, as in the original system.
  if (!env.dotenv_path.empty()) {
    for (const std::string& path : {env.dotenv_path + ".local", env.dotenv_path}) {
      std::ifstream in(path);
      if (!in) continue;
      std::stringstream ss;
      ss << in.rdbuf();
      dotenv.merge(config_internal::ParseDotEnv(ss.str()));  // keeps the values read first
    }
  }
  return EnvLookup(env.overrides, std::move(dotenv), env.use_process_env);
}

}  // namespace

LoadResult LoadConfigFromString(const std::string& yaml, const std::string& file_name,
                                const EnvOptions& env, const Registry& registry) {
  Context ctx(file_name, MakeEnv(env));
  return Load(ctx, registry, yaml);
}

ModelLoadResult LoadModelFile(const std::string& path, const EnvOptions& env) {
  ModelLoadResult r;
  config_internal::EnvLookup lookup = MakeEnv(env);
  r.model = ReadModel(path, lookup, r.errors);
  return r;
}

LoadResult LoadConfig(const std::string& path, const EnvOptions& env, const Registry& registry) {
  std::ifstream in(path);
  if (!in) {
    LoadResult r;
    r.errors.push_back({SourceLocation{path}, "cannot open the config file (pass --config FILE)"});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadConfigFromString(ss.str(), path, env, registry);
}

}  // namespace cdc
