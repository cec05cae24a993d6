#include "process/redact/redactor.h"

#include <algorithm>

#include "event/json_writer.h"
#include "process/redact/detect.h"
#include "process/redact/transform.h"

namespace cdc::redact {
namespace {

constexpr std::string_view kInvalidJsonPlaceholder = "\"[REDACTED:json]\"";

// "[REDACTED:email]": what a detected piece of free text becomes when no rule applies to it.
void AppendPlaceholder(Detector kind, std::string& out) {
  out.append("[REDACTED:");
  out.append(DetectorName(kind));
  out.push_back(']');
}

void InsertSorted(std::vector<std::string>& names, const std::string& name) {
  auto it = std::lower_bound(names.begin(), names.end(), name);
  if (it == names.end() || *it != name) names.insert(it, name);
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool ParseHex4(std::string_view s, size_t at, uint32_t& out) {
  if (at + 4 > s.size()) return false;
  out = 0;
  for (size_t k = at; k < at + 4; ++k) {
    char c = s[k];
    uint32_t d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    out = out * 16 + d;
  }
  return true;
}

// The text of a JSON string's contents (between the quotes); false on a bad escape.
bool Unescape(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) return false;
    switch (s[i]) {
      case '"':
      case '\\':
      case '/':
        out.push_back(s[i]);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!ParseHex4(s, i + 1, cp)) return false;
        i += 4;
        uint32_t low = 0;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 2 < s.size() && s[i + 1] == '\\' &&
            s[i + 2] == 'u' && ParseHex4(s, i + 3, low) && low >= 0xdc00 && low < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        } else if (cp >= 0xd800 && cp < 0xe000) {
          cp = 0xfffd;  // a lone surrogate has no UTF-8 form
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// The digits of a card, SSN or phone number: the same number hashes the same whatever its
// formatting.
bool NormalizedForHash(std::string_view piece, Detector kind, std::string& out) {
  if (kind != Detector::kCard && kind != Detector::kSsn && kind != Detector::kPhone) return false;
  out.clear();
  for (char c : piece) {
    if (c >= '0' && c <= '9') out.push_back(c);
  }
  return true;
}

}  // namespace

Result<ColumnRule> ParseColumnRule(std::string column, std::string_view rule,
                                   const std::vector<std::string>& detect) {
  ColumnRule c;
  std::string where = "column '" + column + "'";
  if (!rule.empty()) {
    auto r = ParseRule(rule);
    if (!r.ok()) return r.status().WithContext(where);
    c.rule = *r;
  }
  auto d = ParseDetectors(detect);
  if (!d.ok()) return d.status().WithContext(where);
  c.detect = *d;
  c.column = std::move(column);
  return c;
}

std::string RedactFreeText(std::string_view text, DetectorSet detectors) {
  std::vector<PiiSpan> spans;
  FindPii(text, detectors, spans);
  if (spans.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16 * spans.size());
  size_t at = 0;
  for (const PiiSpan& s : spans) {
    out.append(text.substr(at, s.begin - at));
    AppendPlaceholder(s.kind, out);
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

Result<Redactor> Redactor::Build(const TablePolicy& policy, std::shared_ptr<const KeyRing> keys) {
  std::string where = policy.table.empty() ? "redaction" : "table '" + policy.table + "'";
  for (size_t i = 0; i < policy.columns.size(); ++i) {
    const ColumnRule& c = policy.columns[i];
    if (c.column.empty()) return InvalidArgument(where + ": a redaction rule has no column name");
    std::string col = where + ": column '" + c.column + "': ";
    for (size_t j = 0; j < i; ++j) {
      if (policy.columns[j].column == c.column) {
        return InvalidArgument(col + "has more than one redaction rule; combine them into one");
      }
    }
    const Rule& r = c.rule;
    if (r.action == Action::kKeep && c.detect.empty()) {
      return InvalidArgument(col + "has neither a rule nor detectors");
    }
    if (!c.detect.empty() && r.action != Action::kKeep && r.action != Action::kHash &&
        r.action != Action::kMask) {
      return InvalidArgument(col + "detectors can only be combined with 'hash' or 'mask', not '" +
                             FormatRule(r) + "'");
    }
    if (r.action == Action::kMask &&
        (r.mask_mode == MaskMode::kKeepFirst || r.mask_mode == MaskMode::kKeepLast) &&
        r.mask_keep == 0) {
      return InvalidArgument(col + "the number of characters to keep must be >= 1");
    }
    if (r.action == Action::kTruncate && r.truncate_length == 0) {
      return InvalidArgument(col + "truncate needs a length >= 1");
    }
    if (r.action == Action::kGeneralize && r.generalization == Generalization::kRange &&
        r.range_width < 1) {
      return InvalidArgument(col + "a range needs a bucket width >= 1");
    }
    if (r.action == Action::kHash && keys == nullptr) {
      return InvalidArgument(col +
                             "uses 'hash' but no HMAC keys are configured; add the redaction "
                             "keys (key id -> env:VARIABLE or file:/path) and an active key id");
    }
  }
  Redactor built(policy, std::move(keys));
  for (const ColumnRule& c : policy.columns) {
    built.name_lengths_ |= uint64_t{1} << std::min<size_t>(c.column.size(), 63);
  }
  return built;
}

namespace {

struct TextRewriter {
  const ColumnRule& rule;
  const KeyRing* keys;

  // Writes `text` with its PII replaced into `out`; false (and `out` untouched) when none found.
  bool Rewrite(std::string_view text, std::string& out) const {
    std::vector<PiiSpan> spans;
    FindPii(text, rule.detect, spans);
    if (spans.empty()) return false;
    out.clear();
    out.reserve(text.size() + 16 * spans.size());
    std::string digits;
    size_t at = 0;
    for (const PiiSpan& s : spans) {
      out.append(text.substr(at, s.begin - at));
      std::string_view piece = text.substr(s.begin, s.end - s.begin);
      switch (rule.rule.action) {
        case Action::kHash:
          keys->AppendToken(NormalizedForHash(piece, s.kind, digits) ? digits : piece, out);
          break;
        case Action::kMask:
          AppendMasked(piece, rule.rule.mask_mode, rule.rule.mask_keep, out);
          break;
        default:
          AppendPlaceholder(s.kind, out);
      }
      at = s.end;
    }
    out.append(text.substr(at));
    return true;
  }

  // Rewrites the string values (not the keys) of minified JSON text. Returns false when nothing
  // was found; sets `malformed` when the text is not JSON the walker can follow.
  bool RewriteJson(std::string_view json, std::string& out, bool& malformed) const {
    malformed = false;
    std::string unescaped;
    std::string replaced;
    bool changed = false;
    size_t copied = 0;
    size_t i = 0;
    while (i < json.size()) {
      if (json[i] != '"') {
        ++i;
        continue;
      }
      size_t start = i;
      size_t j = i + 1;
      bool escaped = false;
      while (j < json.size() && json[j] != '"') {
        if (json[j] == '\\') {
          escaped = true;
          ++j;
        }
        ++j;
      }
      if (j >= json.size()) {
        malformed = true;
        return false;
      }
      size_t end = j + 1;
      size_t k = end;
      while (k < json.size() &&
             (json[k] == ' ' || json[k] == '\n' || json[k] == '\r' || json[k] == '\t')) {
        ++k;
      }
      i = end;
      if (k < json.size() && json[k] == ':') continue;  // an object key
      std::string_view text = json.substr(start + 1, j - start - 1);
      if (escaped) {
        if (!Unescape(text, unescaped)) {
          malformed = true;
          return false;
        }
        text = unescaped;
      }
      if (!Rewrite(text, replaced)) continue;
      if (!changed) {
        out.clear();
        out.reserve(json.size() + 32);
        changed = true;
      }
      out.append(json.substr(copied, start - copied));
      AppendJsonString(out, replaced);
      copied = end;
    }
    if (changed) out.append(json.substr(copied));
    return changed;
  }
};

}  // namespace

bool Redactor::DetectInValue(const ColumnRule& rule, const Value& value, Value& out) const {
  TextRewriter rw{rule, keys_.get()};
  switch (value.kind()) {
    case ValueKind::kText: {
      std::string text;
      if (!rw.Rewrite(value.as_string(), text)) return false;
      out = Value::Text(std::move(text));
      return true;
    }
    case ValueKind::kJson: {
      std::string json;
      bool malformed = false;
      if (rw.RewriteJson(value.as_string(), json, malformed)) {
        out = Value::Json(std::move(json));
        return true;
      }
      if (!malformed) return false;
      // Not JSON after all: PII in it cannot be located, so none of it is kept.
      out = Value::Json(std::string(kInvalidJsonPlaceholder));
      return true;
    }
    case ValueKind::kArray: {
      // The array is copied only once an element actually changes.
      const std::vector<Value>& elements = value.as_array();
      std::vector<Value> copy;
      Value replaced;
      for (size_t k = 0; k < elements.size(); ++k) {
        if (!DetectInValue(rule, elements[k], replaced)) continue;
        if (copy.empty()) copy = elements;
        copy[k] = std::move(replaced);
      }
      if (copy.empty()) return false;
      out = Value::Array(std::move(copy));
      return true;
    }
    default:
      return false;
  }
}

bool Redactor::RedactValue(const ColumnRule& rule, Value& value) const {
  if (value.is_null()) return true;
  const Rule& r = rule.rule;
  std::string scratch;
  switch (r.action) {
    case Action::kKeep:
    case Action::kRemove:
      return false;
    case Action::kNull:
      value = Value::Null();
      return true;
    case Action::kMask: {
      // Masked text is mostly short enough to be stored in the value: build it in a reused
      // buffer rather than in a string of its own.
      thread_local std::string masked;
      std::string_view text = CanonicalText(value, scratch);
      masked.clear();
      AppendMasked(text, r.mask_mode, r.mask_keep, masked);
      value = Value::Text(std::string_view(masked));
      return true;
    }
    case Action::kHash: {
      std::string out;
      keys_->AppendToken(CanonicalText(value, scratch), out);
      value = Value::Text(std::move(out));
      return true;
    }
    case Action::kTruncate: {
      std::string_view text = CanonicalText(value, scratch);
      std::string_view kept = TruncateUtf8(text, r.truncate_length);
      if (value.kind() == ValueKind::kText && kept.size() == text.size()) return true;
      value = Value::Text(std::string(kept));
      return true;
    }
    case Action::kGeneralize:
      value = GeneralizeValue(value, r.generalization, r.range_width);
      return true;
  }
  return false;
}

const ColumnRule* Redactor::RuleFor(std::string_view column) const {
  // Most columns have no rule, and no rule's column has their length.
  if ((name_lengths_ & (uint64_t{1} << std::min<size_t>(column.size(), 63))) == 0) return nullptr;
  for (const ColumnRule& c : policy_.columns) {
    if (SameName(c.column, column)) return &c;
  }
  return nullptr;
}

void Redactor::Apply(Row& row, std::vector<std::string>& redacted) const {
  if (ApplyRow(row, redacted, nullptr, nullptr)) EraseRemoved(row);
}

void Redactor::EraseRemoved(Row& row) const {
  std::erase_if(row.columns(), [&](const Column& col) {
    const ColumnRule* rule = RuleFor(col.name);
    return rule != nullptr && rule->rule.action == Action::kRemove;
  });
}

bool Redactor::ApplyRow(Row& row, std::vector<std::string>& redacted, const Row* redacted_twin,
                        const int32_t* twins) const {
  bool remove = false;
  auto& cols = row.columns();
  for (size_t i = 0; i < cols.size(); ++i) {
    Column& col = cols[i];
    const ColumnRule* rule = RuleFor(col.name);
    if (rule == nullptr) continue;
    bool listed = false;
    if (rule->rule.action == Action::kRemove) {
      remove = true;
      listed = true;
    } else if (col.value.kind() == ValueKind::kUnchangedToast) {
      continue;
    } else if (twins != nullptr && twins[i] >= 0) {
      // The same column with the same value in the other image, already redacted: the rules are
      // deterministic, so its result (and whether it was listed) is this value's too.
      col.value = redacted_twin->columns()[static_cast<size_t>(twins[i])].value;
      continue;
    } else if (!rule->detect.empty()) {
      Value replaced;
      listed = DetectInValue(*rule, col.value, replaced);
      if (listed) col.value = std::move(replaced);
    } else {
      listed = RedactValue(*rule, col.value);
    }
    if (listed) InsertSorted(redacted, col.name);
  }
  return remove;
}

void Redactor::Apply(ChangeEvent& change, std::vector<std::string>& redacted) const {
  if (redacted.capacity() == 0) redacted.reserve(policy_.columns.size());
  if (change.before && change.after) {
    // An UPDATE's images mostly share their values: a policy column whose value did not change
    // is redacted once (one HMAC, one mask) and copied to `after`.
    const auto& old_columns = change.before->columns();
    const auto& new_columns = change.after->columns();
    thread_local std::vector<int32_t> twins;
    twins.assign(new_columns.size(), -1);
    for (size_t i = 0; i < new_columns.size(); ++i) {
      const Column& c = new_columns[i];
      const ColumnRule* rule = RuleFor(c.name);
      if (rule == nullptr || rule->rule.action == Action::kRemove) continue;
      size_t j = i;
      if (j >= old_columns.size() || !SameName(old_columns[j].name, c.name)) {
        for (j = 0; j < old_columns.size() && !SameName(old_columns[j].name, c.name); ++j) {
        }
      }
      if (j < old_columns.size() && old_columns[j].value == c.value) {
        twins[i] = static_cast<int32_t>(j);
      }
    }
    // Removed columns go last: until then the twins' positions in `before` hold.
    bool remove = ApplyRow(*change.before, redacted, nullptr, nullptr);
    remove = ApplyRow(*change.after, redacted, &*change.before, twins.data()) || remove;
    if (remove) {
      EraseRemoved(*change.before);
      EraseRemoved(*change.after);
    }
  } else {
    if (change.before) Apply(*change.before, redacted);
    if (change.after) Apply(*change.after, redacted);
  }
  Apply(change.key, redacted);
  // A removed column is not "unchanged" either: it is gone.
  std::erase_if(change.unchanged_toast, [&](const std::string& name) {
    for (const ColumnRule& c : policy_.columns) {
      if (c.column == name && c.rule.action == Action::kRemove) {
        InsertSorted(redacted, name);
        return true;
      }
    }
    return false;
  });
}

}  // namespace cdc::redact
