#include "bus/router.h"

namespace cdc {
namespace {

Result<int> FindTarget(const Router::TargetLookup& find_target, const std::string& rule,
                       const std::string& name) {
  int index = find_target(name);
  if (index < 0) return InvalidArgument("rule '" + rule + "': unknown target '" + name + "'");
  return index;
}

}  // namespace

Router::~Router() = default;

Result<std::unique_ptr<Router>> Router::Build(std::vector<RouterRule> rules,
                                              std::vector<RouterRule> archive_rules,
                                              const RouterOptions& options,
                                              const TargetLookup& find_target) {
  std::unique_ptr<Router> router(new Router());
  router->user_rules_ = rules.size();
  for (auto& hidden : archive_rules) rules.push_back(std::move(hidden));
  std::vector<RulePattern> patterns;
  patterns.reserve(rules.size());
  for (const RouterRule& rule : rules) patterns.push_back({rule.name, rule.event_pattern});
  CDC_ASSIGN_OR_RETURN(router->matcher_, CompileMatcher(patterns));
  router->rules_.reserve(rules.size());
  for (RouterRule& rule : rules) {
    Rule& compiled = router->rules_.emplace_back();
    compiled.name = std::move(rule.name);
    for (RouterRule::Target& target : rule.targets) {
      RouteTarget& to = compiled.targets.emplace_back();
      CDC_ASSIGN_OR_RETURN(int index, FindTarget(find_target, compiled.name, target.name));
      to.index = static_cast<size_t>(index);
      to.name = std::move(target.name);
      if (!target.dead_letter.empty()) {
        CDC_ASSIGN_OR_RETURN(to.dead_letter,
                             FindTarget(find_target, compiled.name, target.dead_letter));
      }
      if (!target.input.empty()) {
        InputTransformer::Rule r{
            compiled.name, RuleArn(options.region, options.account, options.bus, compiled.name)};
        CDC_ASSIGN_OR_RETURN(to.input, InputTransformer::Compile(target.input, r));
      }
    }
  }
  return router;
}

Result<const std::string*> RoutedEvent::Input(const RouteTarget& target) {
  if (target.input == nullptr) return static_cast<const std::string*>(nullptr);
  if (!parsed_) {
    CDC_RETURN_IF_ERROR(document_.Parse(json_));
    parsed_ = true;
  }
  target.input->Apply(document_, text_);
  return static_cast<const std::string*>(&text_);
}

}  // namespace cdc
