// The bus's routing: the rules compiled into one Matcher, and for each rule the targets it sends
// to (as indexes the caller gave, with their dead-letter targets and compiled input
// transformers). `run`, `invoke` and `replay` all route through a Router, so a rule reaches the
// same targets with the same input in each of them.
//
// The router knows targets only by the index a lookup gives it (the delivery runner's), so the
// bus does not depend on the targets themselves.
//
// Thread-safety: a built Router is immutable and may be shared; a RoutedEvent belongs to one
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "bus/input_transformer.h"
#include "bus/matcher.h"

namespace cdc {

// One rule as the router takes it (the config's RuleConfig, or an archive's hidden rule).
struct RouterRule {
  struct Target {
    std::string name;
    std::string dead_letter;  // a target's name, or empty: the dead-letter file
    InputSpec input;          // empty: the target receives the event itself
  };
  std::string name;
  std::string event_pattern;
  std::vector<Target> targets;
};

// An event published into the bus from outside (the bus's API, src/api): a whole EventBridge
// event (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`,
// `detail`) and the key that picks its stream shard.
struct BusEvent {
  std::string partition_key;
  std::string json;
};

// Where rule ARNs point (`<aws.events.rule-arn>` in input templates).
struct RouterOptions {
  std::string region;
  std::string account;
  std::string bus;
};

// One target of a rule, resolved.
struct RouteTarget {
  std::string name;
  size_t index = 0;      // the lookup's index of the target
  int dead_letter = -1;  // the lookup's index of its dead-letter target, or -1: the file
  std::unique_ptr<const InputTransformer> input;  // null: the target receives the event
};

class Router {
 public:
  // The index of the named target, or -1 when there is none.
  using TargetLookup = std::function<int(std::string_view name)>;

  // Compiles `rules` (the user's) and then `archive_rules` (the archives' hidden rules, which
  // keep events but do not make them matched) into one matcher, in that order. A target or
  // dead-letter target the lookup does not know is InvalidArgument.
  static Result<std::unique_ptr<Router>> Build(std::vector<RouterRule> rules,
                                               std::vector<RouterRule> archive_rules,
                                               const RouterOptions& options,
                                               const TargetLookup& find_target);

  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  ~Router();

  // Appends to `matched` the index of every rule the event matches, in rule order (the
  // Matcher's two paths: the event's text, or its text and its structure).
  Status Match(std::string_view event_json, std::vector<uint32_t>& matched) const {
    return matcher_->Match(event_json, matched);
  }
  Status Match(std::string_view event_json, const VisitableEvent& event,
               std::vector<uint32_t>& matched) const {
    return matcher_->Match(event_json, event, matched);
  }

  // Whether an event with these matched rules counts as unmatched: no user rule matched it
  // (archives are not rules, so an event only they keep is still unmatched).
  bool Unmatched(const std::vector<uint32_t>& matched) const {
    return matched.empty() || matched.front() >= user_rules_;
  }
  bool IsArchiveRule(uint32_t rule) const { return rule >= user_rules_; }

  size_t size() const { return rules_.size(); }
  size_t user_rules() const { return user_rules_; }
  // The rule's name; the reference is stable for the router's lifetime.
  const std::string& rule_name(uint32_t rule) const { return rules_[rule].name; }
  const std::vector<RouteTarget>& targets(uint32_t rule) const { return rules_[rule].targets; }

 private:
  struct Rule {
    std::string name;
    std::vector<RouteTarget> targets;
  };
  Router() = default;

  std::unique_ptr<Matcher> matcher_;
  std::vector<Rule> rules_;  // matcher order: the user's rules, then the archives'
  size_t user_rules_ = 0;
};

// One event on its way to its targets' input transformers: parsed once, and only when the first
// target with a transformer asks for its input. Reused from event to event.
class RoutedEvent {
 public:
  // `event_json` must stay valid until the next Reset.
  void Reset(std::string_view event_json) {
    json_ = event_json;
    parsed_ = false;
  }
  // What `target` receives instead of the event (its input transformer's output), or null when
  // it has no transformer. The text is valid until the next call.
  Result<const std::string*> Input(const RouteTarget& target);

 private:
  std::string_view json_;
  bool parsed_ = false;
  EventDocument document_;
  std::string text_;
};

}  // namespace cdc
