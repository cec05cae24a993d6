// Parsing and validation of event patterns. Error reasons are AWS's own wording (EventBridge
// passes Event Ruler's messages through), so a pattern rejected here reads the same as the
// rejection from `aws events put-rule`.

#include "bus/pattern.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cwctype>
#include <locale>
#include <map>
#include <optional>

#include "event/event_json.h"

namespace cdc::bus_internal {
namespace {

namespace od = simdjson::ondemand;

constexpr int kMaxDepth = 100;  // a guard for our recursion, not an AWS rule

Status PatternError(std::string reason) {
  return InvalidArgument("Event pattern is not valid. Reason: " + std::move(reason));
}

// ---------------------------------------------------------------------------------------------
// A small JSON tree: patterns are parsed once, keep their key order (it decides which of two
// writes to the same field wins) and keep number literals (error messages quote them).

struct JMember;

struct JNode {
  enum Type { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull } type = kNull;
  std::string text;  // string value, or the number literal
  double number = 0;
  bool number_ok = false;
  // A vector of std::pair<std::string, JNode> would need JNode complete here (clang with
  // libstdc++ rejects it); a named pair struct defined below does not.
  std::vector<JMember> members;
  std::vector<JNode> items;
};

struct JMember {
  std::string first;
  JNode second;
};

bool IsIntegerLiteral(std::string_view lit) {
  return lit.find_first_of(".eE") == std::string_view::npos;
}

// Integer literals whose magnitude a double cannot hold exactly.
bool IsBigInteger(std::string_view lit, double d) {
  return IsIntegerLiteral(lit) && std::fabs(d) >= 9007199254740992.0;  // 2^53
}

bool BuildTree(od::value v, JNode& out, int depth) {
  if (depth > kMaxDepth) return false;
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object: {
      out.type = JNode::kObject;
      od::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        od::value fv;
        if (field.value().get(fv)) return false;
        out.members.push_back(JMember{std::string(key), JNode{}});
        if (!BuildTree(fv, out.members.back().second, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      out.type = JNode::kArray;
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto elem : arr) {
        od::value ev;
        if (elem.get(ev)) return false;
        out.items.emplace_back();
        if (!BuildTree(ev, out.items.back(), depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      out.type = JNode::kString;
      std::string_view s;
      if (v.get_string().get(s)) return false;
      out.text = std::string(s);
      return true;
    }
    case od::json_type::number: {
      out.type = JNode::kNumber;
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                              raw.back() == '\r')) {
        raw.remove_suffix(1);
      }
      out.text = std::string(raw);
      double d;
      // An out-of-range literal (1e400) is valid JSON but not a comparable number.
      out.number_ok = v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d);
      out.number = out.number_ok ? d : 0;
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b)) return false;
      out.type = b ? JNode::kTrue : JNode::kFalse;
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null) return false;
      out.type = JNode::kNull;
      return true;
    }
  }
  return false;
}

const char* TokenText(const JNode& n) {
  switch (n.type) {
    case JNode::kObject:
      return "{";
    case JNode::kArray:
      return "[";
    case JNode::kTrue:
      return "true";
    case JNode::kFalse:
      return "false";
    case JNode::kNull:
      return "null";
    default:
      return nullptr;
  }
}

std::string Token(const JNode& n) {
  const char* t = TokenText(n);
  return t ? std::string(t) : n.text;
}

// ---------------------------------------------------------------------------------------------
// Operators.

bool IsReservedInOr(std::string_view key) {
  static const char* const kReserved[] = {"anything-but",
                                          "prefix",
                                          "suffix",
                                          "equals-ignore-case",
                                          "numeric",
                                          "exists",
                                          "cidr",
                                          "wildcard",
                                          "exactly",
                                          "=",
                                          "<",
                                          "<=",
                                          ">",
                                          ">="};
  for (const char* r : kReserved) {
    if (key == r) return true;
  }
  return false;
}

Status ValidateWildcard(const std::string& operand, Wildcard* out) {
  std::vector<std::string> segments(1);
  for (size_t i = 0; i < operand.size(); ++i) {
    char c = operand[i];
    if (c == '\\') {
      // Positions are 1-based because AWS counts in the quoted form of the operand.
      if (i + 1 >= operand.size() || (operand[i + 1] != '*' && operand[i + 1] != '\\')) {
        return PatternError("Invalid escape character at pos " + std::to_string(i + 1));
      }
      segments.back().push_back(operand[++i]);
    } else if (c == '*') {
      if (i + 1 < operand.size() && operand[i + 1] == '*') {
        return PatternError("Consecutive wildcard characters at pos " + std::to_string(i + 1));
      }
      segments.emplace_back();
    } else {
      segments.back().push_back(c);
    }
  }
  if (out) out->segments = std::move(segments);
  return Status::Ok();
}

Result<double> NumericThreshold(const std::string& name, const JNode& n) {
  if (n.type != JNode::kNumber) return PatternError("Value of " + name + " must be numeric");
  if (!n.number_ok) return PatternError("Cannot compare number : " + n.text);
  return n.number;
}

Status ParseNumeric(const JNode& operand, Predicate& p) {
  if (operand.type != JNode::kArray) return PatternError("Value of numeric must be an array.");
  const auto& items = operand.items;
  if (items.empty()) return PatternError("Invalid member in numeric match: ]");
  if (items[0].type != JNode::kString) {
    return PatternError("Invalid member in numeric match: " + Token(items[0]));
  }
  const std::string& op = items[0].text;
  static const std::map<std::string, std::string> kNames = {
      {"=", "equals"}, {">", ">"}, {">=", ">="}, {"<", "<"}, {"<=", "<="}};
  auto name = kNames.find(op);
  if (name == kNames.end()) return PatternError("Unrecognized numeric range operator: " + op);
  if (items.size() < 2) return PatternError("Value of " + name->second + " must be numeric");
  CDC_ASSIGN_OR_RETURN(double first, NumericThreshold(name->second, items[1]));
  p.kind = PredicateKind::kNumericRange;
  p.lo = -INFINITY;
  p.hi = INFINITY;
  if (op == "=") {
    p.lo = p.hi = first;
  } else if (op == "<") {
    p.hi = first;
    p.hi_open = true;
  } else if (op == "<=") {
    p.hi = first;
  } else {
    p.lo = first;
    p.lo_open = op == ">";
  }
  if (items.size() == 2) return Status::Ok();
  if (op != ">" && op != ">=") return PatternError("Too many elements in numeric expression");
  if (items.size() > 4) return PatternError("Too many terms in numeric range expression");
  if (items[2].type != JNode::kString) {
    return PatternError("Bad value in numeric range: " + Token(items[2]));
  }
  const std::string& op2 = items[2].text;
  if (op2 != "<" && op2 != "<=") return PatternError("Bad numeric range operator: " + op2);
  if (items.size() < 4) return PatternError("Value of " + op2 + " must be numeric");
  CDC_ASSIGN_OR_RETURN(double second, NumericThreshold(op2, items[3]));
  if (!(first < second)) return PatternError("Bottom must be less than top");
  p.hi = second;
  p.hi_open = op2 == "<";
  return Status::Ok();
}

Status ParseCidr(const JNode& operand, Predicate& p) {
  // "prefix" in this message is AWS's own copy-paste; kept so the text matches the service.
  if (operand.type != JNode::kString) return PatternError("prefix match pattern must be a string");
  const std::string& s = operand.text;
  size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos ||
      slash + 1 == s.size()) {
    return PatternError("Malformed CIDR, one '/' required");
  }
  std::string_view address(s.data(), slash);
  std::string_view mask(s.data() + slash + 1, s.size() - slash - 1);
  std::string_view digits = mask;
  bool negative = false;
  if (digits[0] == '+' || digits[0] == '-') {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  int64_t bits = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
      bits > 2147483647) {
    return PatternError("Malformed CIDR, mask bits must be an integer");
  }
  if (negative && bits != 0) return PatternError("Malformed CIDR, mask bits must not be negative");
  bool looks_v4 = !address.empty() && address.find(':') == std::string_view::npos;
  bool looks_v6 = address.find(':') != std::string_view::npos;
  for (char c : address) {
    if (looks_v4 && !(c == '.' || (c >= '0' && c <= '9'))) looks_v4 = false;
    if (looks_v6 && !(c == ':' || std::isxdigit(static_cast<unsigned char>(c)))) looks_v6 = false;
  }
  if (looks_v4 && std::count(address.begin(), address.end(), '.') != 3) looks_v4 = false;
  if (!looks_v4 && !looks_v6) {
    return PatternError("Nonstandard IP address: " + std::string(address));
  }
  IpAddress ip;
  if (!ParseIp(address, ip)) return PatternError("Invalid IP address: " + std::string(address));
  if (!ip.v6 && bits > 31) return PatternError("IPv4 mask bits must be < 32");
  if (ip.v6 && bits > 127) return PatternError("IPv6 mask bits must be < 128");
  // Host bits are ignored, as AWS does: 10.0.0.5/24 is the 10.0.0.0/24 block.
  int prefix_bits = static_cast<int>(bits) + (ip.v6 ? 0 : 96);
  p.kind = PredicateKind::kCidr;
  p.net_lo = ip;
  p.net_hi = ip;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix_bits - 8 * i, 0, 8);
    uint8_t mask_byte = static_cast<uint8_t>(keep == 0 ? 0 : (0xFF << (8 - keep)) & 0xFF);
    p.net_lo.bytes[i] = ip.bytes[i] & mask_byte;
    p.net_hi.bytes[i] = static_cast<uint8_t>(ip.bytes[i] | ~mask_byte);
  }
  return Status::Ok();
}

Status ParseAffix(const std::string& op, const JNode& operand, Predicate& p) {
  bool prefix = op == "prefix";
  if (operand.type == JNode::kObject) {
    if (operand.members.empty()) {
      return PatternError(std::string(prefix ? "Prefix" : "Suffix") + " expression name not found");
    }
    const auto& [inner, value] = operand.members[0];
    if (inner != "equals-ignore-case") {
      return PatternError("Unsupported " + op + " pattern: " + inner);
    }
    if (value.type != JNode::kString) {
      return PatternError("equals-ignore-case match pattern must be a string");
    }
    if (operand.members.size() > 1) {
      return PatternError("Only one key allowed in match expression");
    }
    p.kind = prefix ? PredicateKind::kPrefixIgnoreCase : PredicateKind::kSuffixIgnoreCase;
    FoldCase(value.text, p.text);
    return Status::Ok();
  }
  if (operand.type != JNode::kString) return PatternError(op + " match pattern must be a string");
  p.kind = prefix ? PredicateKind::kPrefix : PredicateKind::kSuffix;
  p.text = operand.text;
  return Status::Ok();
}

// A literal value in a pattern as an exact-match predicate.
Predicate ExactPredicate(const JNode& n) {
  Predicate p;
  switch (n.type) {
    case JNode::kString:
      p.kind = PredicateKind::kExactString;
      p.text = n.text;
      break;
    case JNode::kNumber:
      p.kind = PredicateKind::kExactNumber;
      p.text = n.text;
      p.number = n.number;
      // A literal that is not a finite double still matches its own text.
      p.big_integer = !n.number_ok || IsBigInteger(n.text, n.number);
      break;
    case JNode::kTrue:
      p.kind = PredicateKind::kExactTrue;
      break;
    case JNode::kFalse:
      p.kind = PredicateKind::kExactFalse;
      break;
    default:
      p.kind = PredicateKind::kExactNull;
      break;
  }
  return p;
}

Status ParseAnythingBut(const JNode& operand, Predicate& p) {
  p.kind = PredicateKind::kAnythingBut;
  const char* kScalarOnly = "Value of anything-but must be an array or single string/number value.";
  if (operand.type == JNode::kObject) {
    if (operand.members.empty()) return PatternError("Anything-But expression name not found");
    const auto& [inner, value] = operand.members[0];
    bool is_prefix = inner == "prefix", is_suffix = inner == "suffix";
    bool is_eic = inner == "equals-ignore-case", is_wildcard = inner == "wildcard";
    if (!is_prefix && !is_suffix && !is_eic && !is_wildcard) {
      return PatternError("Unsupported anything-but pattern: " + inner);
    }
    std::vector<const JNode*> candidates;
    if (value.type == JNode::kArray) {
      for (const auto& item : value.items) candidates.push_back(&item);
      // AWS accepts an empty list here and then fails evaluating it; refusing it keeps an
      // anything-but with nothing to exclude from matching every event.
      if (candidates.empty()) return PatternError("Empty arrays are not allowed");
    } else {
      candidates.push_back(&value);
    }
    for (const JNode* c : candidates) {
      if (c->type == JNode::kTrue || c->type == JNode::kFalse || c->type == JNode::kNull) {
        return PatternError(kScalarOnly);
      }
      Predicate n;
      if (is_prefix || is_suffix) {
        if (c->type != JNode::kString) {
          return PatternError("prefix/suffix match pattern must be a string");
        }
        if (c->text.empty()) return PatternError("Null prefix/suffix not allowed");
        n.kind = is_prefix ? PredicateKind::kPrefix : PredicateKind::kSuffix;
        n.text = c->text;
      } else if (is_eic) {
        if (c->type != JNode::kString) {
          return PatternError(
              "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
              "supported.");
        }
        n.kind = PredicateKind::kEqualsIgnoreCase;
        FoldCase(c->text, n.text);
      } else {
        if (c->type != JNode::kString) {
          return PatternError("wildcard match pattern must be a string");
        }
        n.kind = PredicateKind::kWildcard;
        n.text = c->text;
        CDC_RETURN_IF_ERROR(ValidateWildcard(c->text, &n.wildcard));
      }
      p.negated.push_back(std::move(n));
    }
    if (operand.members.size() > 1) {
      return PatternError("Only one key allowed in match expression");
    }
    return Status::Ok();
  }
  if (operand.type == JNode::kArray) {
    bool has_number = false, has_string = false;
    for (const auto& item : operand.items) {
      if (item.type == JNode::kString) {
        has_string = true;
      } else if (item.type == JNode::kNumber) {
        has_number = true;
      } else {
        return PatternError("Inside anything but list, start|null|boolean is not supported.");
      }
    }
    if (has_number == has_string) {
      return PatternError(
          "Inside anything but list, either all values are number or string, mixed type is not "
          "supported");
    }
    for (const auto& item : operand.items) {
      if (item.type == JNode::kNumber && !item.number_ok) {
        return PatternError("Cannot compare number : " + item.text);
      }
      p.negated.push_back(ExactPredicate(item));
    }
    return Status::Ok();
  }
  if (operand.type == JNode::kString) {
    p.negated.push_back(ExactPredicate(operand));
    return Status::Ok();
  }
  if (operand.type == JNode::kNumber) {
    if (!operand.number_ok) return PatternError("Cannot compare number : " + operand.text);
    p.negated.push_back(ExactPredicate(operand));
    return Status::Ok();
  }
  return PatternError(kScalarOnly);
}

Status ParseMatchExpression(const JNode& expr, Predicate& p) {
  if (expr.members.empty()) return PatternError("Match expression name not found");
  const auto& [op, operand] = expr.members[0];
  // The operand is checked before the arity: AWS's streaming parser reads the operand of the
  // first key before it sees a second one.
  if (op == "exactly") {
    if (operand.type != JNode::kString) return PatternError("exact match pattern must be a string");
    p = ExactPredicate(operand);
  } else if (op == "prefix" || op == "suffix") {
    CDC_RETURN_IF_ERROR(ParseAffix(op, operand, p));
  } else if (op == "equals-ignore-case") {
    if (operand.type != JNode::kString) {
      return PatternError("equals-ignore-case match pattern must be a string");
    }
    p.kind = PredicateKind::kEqualsIgnoreCase;
    FoldCase(operand.text, p.text);
  } else if (op == "wildcard") {
    if (operand.type != JNode::kString) {
      return PatternError("wildcard match pattern must be a string");
    }
    p.kind = PredicateKind::kWildcard;
    p.text = operand.text;
    CDC_RETURN_IF_ERROR(ValidateWildcard(operand.text, &p.wildcard));
  } else if (op == "cidr") {
    CDC_RETURN_IF_ERROR(ParseCidr(operand, p));
  } else if (op == "numeric") {
    CDC_RETURN_IF_ERROR(ParseNumeric(operand, p));
  } else if (op == "exists") {
    if (operand.type != JNode::kTrue && operand.type != JNode::kFalse) {
      return PatternError("exists match pattern must be either true or false.");
    }
    p.kind = operand.type == JNode::kTrue ? PredicateKind::kExists : PredicateKind::kAbsent;
  } else if (op == "anything-but") {
    CDC_RETURN_IF_ERROR(ParseAnythingBut(operand, p));
  } else {
    return PatternError("Unrecognized match type " + op);
  }
  if (expr.members.size() > 1) {
    if (op == "numeric" || op == "anything-but") {
      return PatternError("Too many elements in numeric expression");
    }
    return PatternError("Only one key allowed in match expression");
  }
  return Status::Ok();
}

Result<std::vector<Predicate>> ParseValueList(const JNode& list) {
  std::vector<Predicate> out;
  for (const auto& item : list.items) {
    if (item.type == JNode::kArray) {
      return PatternError("Match value must be String, number, true, false, or null");
    }
    if (item.type == JNode::kObject) {
      Predicate p;
      CDC_RETURN_IF_ERROR(ParseMatchExpression(item, p));
      out.push_back(std::move(p));
    } else {
      out.push_back(ExactPredicate(item));
    }
  }
  if (out.empty()) return PatternError("Empty arrays are not allowed");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compilation into sub-rules. `$or` is expanded as AWS does: each branch forks the sub-rules built
// so far, and a later write to a field replaces an earlier one (so document order matters).

using Alternative = std::map<std::string, std::vector<Predicate>>;

class Compiler {
 public:
  Compiler(const PatternOptions& options, bool expand_or)
      : options_(options), expand_or_(expand_or) {}

  Status CompileObject(const JNode& obj, const std::string& prefix, bool inside_or, int depth,
                       std::vector<Alternative>& alts) {
    if (depth > kMaxDepth) return PatternError("Event pattern is nested too deeply");
    if (obj.members.empty()) return PatternError("Empty objects are not allowed");
    for (const auto& [key, value] : obj.members) {
      if (expand_or_ && key == "$or") {
        CDC_RETURN_IF_ERROR(CompileOr(value, prefix, depth, alts));
        continue;
      }
      if (inside_or && IsReservedInOr(key)) {
        return PatternError(key + " is Ruler reserved fieldName which cannot be used inside $or.");
      }
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (value.type == JNode::kObject) {
        CDC_RETURN_IF_ERROR(CompileObject(value, path, inside_or, depth + 1, alts));
      } else if (value.type == JNode::kArray) {
        CDC_ASSIGN_OR_RETURN(auto preds, ParseValueList(value));
        if (alts.empty()) alts.emplace_back();
        for (auto& alt : alts) alt[path] = preds;
      } else {
        return PatternError("\"" + key + "\" must be an object or an array");
      }
    }
    return Status::Ok();
  }

 private:
  Status CompileOr(const JNode& members, const std::string& prefix, int depth,
                   std::vector<Alternative>& alts) {
    if (members.type != JNode::kArray)
      return PatternError("It must be an Array followed with $or.");
    std::vector<Alternative> base = std::move(alts);
    alts.clear();
    for (const auto& member : members.items) {
      if (member.type != JNode::kObject) {
        return PatternError("Only JSON object is allowed in array of $or relationship.");
      }
      std::vector<Alternative> forked = base;
      if (forked.empty()) forked.emplace_back();
      CDC_RETURN_IF_ERROR(CompileObject(member, prefix, true, depth + 1, forked));
      for (auto& f : forked) alts.push_back(std::move(f));
      if (alts.size() > options_.max_or_combinations) {
        too_complex_ = true;
        return PatternError("Event pattern contains more than " +
                            std::to_string(options_.max_or_combinations) + " rule combinations");
      }
    }
    if (members.items.size() < 2) {
      return PatternError("There must have at least 2 Objects in $or relationship.");
    }
    return Status::Ok();
  }

 public:
  bool too_complex_ = false;

 private:
  const PatternOptions& options_;
  bool expand_or_;
};

size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t WildcardStars(const Predicate& p) {
  if (p.kind == PredicateKind::kWildcard) return p.wildcard.segments.size() - 1;
  size_t n = 0;
  for (const auto& q : p.negated) n += WildcardStars(q);
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool ParseIp(std::string_view text, IpAddress& out) {
  out = IpAddress{};
  if (text.find(':') == std::string_view::npos) {
    // Dotted quad, octets read as decimal (AWS reads 010 as ten, not as octal).
    int part = 0;
    size_t i = 0;
    while (part < 4) {
      size_t start = i;
      unsigned value = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
        if (value > 255) return false;
        ++i;
      }
      if (i == start) return false;
      out.bytes[12 + part] = static_cast<uint8_t>(value);
      ++part;
      if (part < 4) {
        if (i >= text.size() || text[i] != '.') return false;
        ++i;
      }
    }
    return i == text.size();
  }
  // IPv6: groups of 1-4 hex digits, at most one "::".
  out.v6 = true;
  std::vector<uint16_t> head, tail;
  bool seen_gap = false;
  size_t i = 0;
  if (text.substr(0, 2) == "::") {
    seen_gap = true;
    i = 2;
  } else if (!text.empty() && text[0] == ':') {
    return false;
  }
  while (i < text.size()) {
    size_t start = i;
    unsigned value = 0;
    while (i < text.size() && i - start < 5 && std::isxdigit(static_cast<unsigned char>(text[i]))) {
      char c = text[i];
      unsigned digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
      value = value * 16 + digit;
      ++i;
    }
    if (i == start || i - start > 4) return false;
    (seen_gap ? tail : head).push_back(static_cast<uint16_t>(value));
    if (i == text.size()) break;
    if (text[i] != ':') return false;
    ++i;
    if (i < text.size() && text[i] == ':') {
      if (seen_gap) return false;
      seen_gap = true;
      ++i;
    } else if (i == text.size()) {
      return false;  // trailing single colon
    }
  }
  size_t groups = head.size() + tail.size();
  if (seen_gap ? groups > 7 : groups != 8) return false;
  std::vector<uint16_t> all = head;
  all.resize(8 - tail.size(), 0);
  all.insert(all.end(), tail.begin(), tail.end());
  for (int g = 0; g < 8; ++g) {
    out.bytes[2 * g] = static_cast<uint8_t>(all[g] >> 8);
    out.bytes[2 * g + 1] = static_cast<uint8_t>(all[g] & 0xFF);
  }
  return true;
}

namespace {

// The C.UTF-8 locale's wide ctype knows Unicode case mappings; constructing it may fail on a
// system without it, in which case only ASCII is folded.
const std::ctype<wchar_t>* UnicodeCtype() {
  static const std::ctype<wchar_t>* ctype = []() -> const std::ctype<wchar_t>* {
    try {
      static const std::locale loc("C.UTF-8");
      return &std::use_facet<std::ctype<wchar_t>>(loc);
    } catch (...) {
      return nullptr;
    }
  }();
  return ctype;
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace

void FoldCase(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  const std::ctype<wchar_t>* ctype = nullptr;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + len > text.size() || len == 1) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (!ctype) ctype = UnicodeCtype();
    char32_t lower = ctype ? static_cast<char32_t>(ctype->tolower(static_cast<wchar_t>(cp))) : cp;
    AppendUtf8(lower, out);
    i += len;
  }
}

bool Wildcard::Matches(std::string_view value) const {
  if (segments.size() == 1) return value == segments[0];
  const std::string& first = segments.front();
  const std::string& last = segments.back();
  if (value.size() < first.size() + last.size()) return false;
  if (value.substr(0, first.size()) != first) return false;
  if (value.substr(value.size() - last.size()) != last) return false;
  // Greedy leftmost placement of the middle segments is optimal for '*'-only globs.
  size_t pos = first.size();
  size_t end = value.size() - last.size();
  for (size_t i = 1; i + 1 < segments.size(); ++i) {
    const std::string& seg = segments[i];
    if (seg.empty()) continue;
    size_t found = value.substr(0, end).find(seg, pos);
    if (found == std::string_view::npos) return false;
    pos = found + seg.size();
  }
  return true;
}

namespace {

bool IpLess(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b) { return a < b; }

bool EqualsExactNumber(const Predicate& p, const Scalar& v) {
  if (p.big_integer || v.big_integer) return p.big_integer && v.big_integer && p.text == v.text;
  return v.number_ok && v.number == p.number;
}

}  // namespace

bool Predicate::Matches(const Scalar& v) const {
  switch (kind) {
    case PredicateKind::kExactString:
      return v.kind == ScalarKind::kString && v.text == text;
    case PredicateKind::kExactNumber:
      return v.kind == ScalarKind::kNumber && EqualsExactNumber(*this, v);
    case PredicateKind::kExactTrue:
      return v.kind == ScalarKind::kTrue;
    case PredicateKind::kExactFalse:
      return v.kind == ScalarKind::kFalse;
    case PredicateKind::kExactNull:
      return v.kind == ScalarKind::kNull;
    case PredicateKind::kPrefix:
      return v.kind == ScalarKind::kString && v.text.substr(0, text.size()) == text;
    case PredicateKind::kSuffix:
      return v.kind == ScalarKind::kString && v.text.size() >= text.size() &&
             v.text.substr(v.text.size() - text.size()) == text;
    case PredicateKind::kEqualsIgnoreCase:
    case PredicateKind::kPrefixIgnoreCase:
    case PredicateKind::kSuffixIgnoreCase: {
      if (v.kind != ScalarKind::kString) return false;
      thread_local std::string folded;
      FoldCase(v.text, folded);
      if (kind == PredicateKind::kEqualsIgnoreCase) return folded == text;
      if (folded.size() < text.size()) return false;
      if (kind == PredicateKind::kPrefixIgnoreCase)
        return folded.compare(0, text.size(), text) == 0;
      return folded.compare(folded.size() - text.size(), text.size(), text) == 0;
    }
    case PredicateKind::kWildcard:
      return v.kind == ScalarKind::kString && wildcard.Matches(v.text);
    case PredicateKind::kNumericRange: {
      if (v.kind != ScalarKind::kNumber || !v.number_ok) return false;
      double x = v.number;
      if (lo_open ? !(x > lo) : !(x >= lo)) return false;
      if (hi_open ? !(x < hi) : !(x <= hi)) return false;
      return true;
    }
    case PredicateKind::kCidr: {
      if (v.kind != ScalarKind::kString) return false;
      IpAddress ip;
      if (!ParseIp(v.text, ip) || ip.v6 != net_lo.v6) return false;
      return !IpLess(ip.bytes, net_lo.bytes) && !IpLess(net_hi.bytes, ip.bytes);
    }
    case PredicateKind::kExists:
      return true;
    case PredicateKind::kAbsent:
      return false;
    case PredicateKind::kAnythingBut:
      for (const auto& n : negated) {
        if (n.Matches(v)) return false;
      }
      return true;
  }
  return false;
}

Result<std::vector<SubRule>> ParsePattern(std::string_view pattern_json,
                                          const PatternOptions& options) {
  if (CountChars(pattern_json) > options.max_pattern_chars) {
    return PatternError("Event pattern is longer than " +
                        std::to_string(options.max_pattern_chars) + " characters");
  }
  if (!IsValidJson(pattern_json)) return PatternError("malformed JSON");
  thread_local od::parser parser;
  simdjson::padded_string padded(pattern_json);
  od::document doc;
  if (parser.iterate(padded).get(doc)) return PatternError("malformed JSON");
  od::json_type root_type;
  if (doc.type().get(root_type)) return PatternError("malformed JSON");
  if (root_type != od::json_type::object) return PatternError("Filter is not an object");
  od::value root_value;
  JNode root;
  if (doc.get_value().get(root_value) || !BuildTree(root_value, root, 0)) {
    return PatternError("malformed JSON");
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return PatternError("malformed JSON: trailing content");
  }
  if (root.type != JNode::kObject) return PatternError("Filter is not an object");
  std::vector<Alternative> alts;
  if (!root.members.empty()) {
    Compiler with_or(options, true);
    Status s = with_or.CompileObject(root, "", false, 0, alts);
    if (!s.ok() && !with_or.too_complex_) {
      // EventBridge retries a pattern its `$or` compiler rejects with its older compiler, which
      // reads "$or" as an ordinary field name.
      alts.clear();
      Compiler plain(options, false);
      s = plain.CompileObject(root, "", false, 0, alts);
    }
    if (!s.ok()) return s;
  }
  std::vector<SubRule> out;
  if (alts.empty()) {
    out.emplace_back();  // {} matches every event
    return out;
  }
  for (auto& alt : alts) {
    SubRule rule;
    for (auto& [path, preds] : alt) {
      size_t stars = 0;
      for (const auto& p : preds) stars += WildcardStars(p);
      if (stars > options.max_wildcard_complexity) {
        return PatternError(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating "
            "character sequences after a wildcard character");
      }
      rule.conditions.push_back({path, std::move(preds)});
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace cdc::bus_internal
