#include "process/redact/rule.h"

#include <charconv>

namespace cdc::redact {
namespace {

constexpr std::string_view kAccepted =
    "remove, null, hash, mask, mask:all, mask:email, mask:first<N>, mask:last<N>, truncate:<N>, "
    "generalize:year, generalize:month, generalize:range:<width>";

Status BadRule(std::string_view text, std::string_view why) {
  return InvalidArgument("redaction rule '" + std::string(text) + "': " + std::string(why) +
                         " (accepted: " + std::string(kAccepted) + ")");
}

// A positive decimal integer with nothing else around it.
template <typename T>
bool ParsePositive(std::string_view s, T& out) {
  if (s.empty() || s[0] == '+' || s[0] == '-') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out > 0;
}

}  // namespace

Result<Rule> ParseRule(std::string_view text) {
  Rule rule;
  std::string_view head = text;
  std::string_view arg;
  bool has_arg = false;
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    head = text.substr(0, colon);
    arg = text.substr(colon + 1);
    has_arg = true;
  }
  auto no_arg = [&](Action a) -> Result<Rule> {
    if (has_arg) return BadRule(text, "'" + std::string(head) + "' takes no argument");
    rule.action = a;
    return rule;
  };
  if (head == "keep") return no_arg(Action::kKeep);
  if (head == "remove") return no_arg(Action::kRemove);
  if (head == "null") return no_arg(Action::kNull);
  if (head == "hash") return no_arg(Action::kHash);
  if (head == "mask") {
    rule.action = Action::kMask;
    if (!has_arg || arg == "all") return rule;
    if (arg == "email") {
      rule.mask_mode = MaskMode::kEmail;
      return rule;
    }
    std::string_view n;
    if (arg.starts_with("first")) {
      rule.mask_mode = MaskMode::kKeepFirst;
      n = arg.substr(5);
    } else if (arg.starts_with("last")) {
      rule.mask_mode = MaskMode::kKeepLast;
      n = arg.substr(4);
    } else {
      return BadRule(text, "unknown mask mode '" + std::string(arg) + "'");
    }
    if (!ParsePositive(n, rule.mask_keep)) {
      return BadRule(text,
                     "the number of characters to keep must be a whole number >= 1, as in "
                     "'mask:last4'");
    }
    return rule;
  }
  if (head == "truncate") {
    rule.action = Action::kTruncate;
    if (!has_arg || !ParsePositive(arg, rule.truncate_length)) {
      return BadRule(text, "truncate needs a length >= 1, as in 'truncate:8'");
    }
    return rule;
  }
  if (head == "generalize") {
    rule.action = Action::kGeneralize;
    if (arg == "year") {
      rule.generalization = Generalization::kYear;
      return rule;
    }
    if (arg == "month") {
      rule.generalization = Generalization::kMonth;
      return rule;
    }
    if (arg.starts_with("range")) {
      rule.generalization = Generalization::kRange;
      if (arg.size() < 7 || arg[5] != ':' || !ParsePositive(arg.substr(6), rule.range_width)) {
        return BadRule(text, "a range needs a bucket width >= 1, as in 'generalize:range:100'");
      }
      return rule;
    }
    return BadRule(text, "generalize needs 'year', 'month' or 'range:<width>'");
  }
  return BadRule(text, "unknown rule");
}

std::string FormatRule(const Rule& rule) {
  switch (rule.action) {
    case Action::kKeep:
      return "keep";
    case Action::kRemove:
      return "remove";
    case Action::kNull:
      return "null";
    case Action::kHash:
      return "hash";
    case Action::kMask:
      switch (rule.mask_mode) {
        case MaskMode::kAll:
          return "mask";
        case MaskMode::kEmail:
          return "mask:email";
        case MaskMode::kKeepFirst:
          return "mask:first" + std::to_string(rule.mask_keep);
        case MaskMode::kKeepLast:
          return "mask:last" + std::to_string(rule.mask_keep);
      }
      break;
    case Action::kTruncate:
      return "truncate:" + std::to_string(rule.truncate_length);
    case Action::kGeneralize:
      switch (rule.generalization) {
        case Generalization::kYear:
          return "generalize:year";
        case Generalization::kMonth:
          return "generalize:month";
        case Generalization::kRange:
          return "generalize:range:" + std::to_string(rule.range_width);
      }
      break;
  }
  return "keep";
}

std::string_view DetectorName(Detector d) {
  switch (d) {
    case Detector::kEmail:
      return "email";
    case Detector::kCard:
      return "card";
    case Detector::kPhone:
      return "phone";
    case Detector::kSsn:
      return "ssn";
    case Detector::kIp:
      return "ip";
  }
  return "unknown";
}

Result<DetectorSet> ParseDetectors(const std::vector<std::string>& names) {
  static constexpr Detector kAll[] = {Detector::kEmail, Detector::kCard, Detector::kPhone,
                                      Detector::kSsn, Detector::kIp};
  DetectorSet set;
  for (const auto& name : names) {
    bool found = false;
    for (Detector d : kAll) {
      if (name != DetectorName(d)) continue;
      if (set.Has(d)) return InvalidArgument("detector '" + name + "' is listed twice");
      set.Add(d);
      found = true;
    }
    if (!found) {
      return InvalidArgument("unknown detector '" + name +
                             "' (accepted: email, card, phone, ssn, ip)");
    }
  }
  return set;
}

}  // namespace cdc::redact
