#include "runtime/assembly.h"

#include <algorithm>
#include <set>

#include "archive/archive_target.h"
#include "state/state_store.h"

namespace cdc {
namespace {

RouterRule FromConfig(const RuleConfig& rule) {
  RouterRule r{rule.name, rule.event_pattern, {}};
  for (size_t k = 0; k < rule.targets.size(); ++k) {
    RouterRule::Target& t = r.targets.emplace_back();
    t.name = rule.targets[k];
    if (k < rule.target_dead_letters.size()) t.dead_letter = rule.target_dead_letters[k];
    if (k < rule.target_inputs.size()) t.input = rule.target_inputs[k];
  }
  return r;
}

// A mark that a target could not go back to: a cursor it cannot read (garbage in the state
// store) names the table, the key and the value; the target's file was not touched.
Status MarkError(Status s, const std::string& target, const std::string& state_path) {
  if (s.ok()) return s;
  if (s.code() != StatusCode::kCorruption) return s.WithContext("target '" + target + "'");
  return Corruption("state store " + state_path + ": table target_marks, key '" + target +
                    "', column cursor: " + s.message() +
                    "; the target's file was not touched. Restore the state store from a "
                    "backup, or run `cdc-pipeline verify-data` for the details")
      .set_data_loss();
}

}  // namespace

Assembly::~Assembly() = default;

Result<std::unique_ptr<Assembly>> Assembly::Build(const Config& config, const Clock& clock,
                                                  const AssemblyOptions& options) {
  std::vector<RouterRule> rules;
  std::set<std::string> routed;
  for (const auto& rule : config.rules) {
    if (!rule.enabled || (!options.rule.empty() && rule.name != options.rule)) continue;
    rules.push_back(FromConfig(rule));
    for (const auto& t : rules.back().targets) {
      routed.insert(t.name);
      if (!t.dead_letter.empty()) routed.insert(t.dead_letter);
    }
  }
  // Each archive: a hidden rule after the user's, "archive:<name>" with the archive's pattern
  // (every event without one), whose only target is the archive of the same name.
  std::vector<RouterRule> archive_rules;
  if (options.archives) {
    for (const auto& a : config.archives) {
      std::string name = ArchiveRuleName(a.name);
      archive_rules.push_back(
          {name, a.event_pattern.empty() ? "{}" : a.event_pattern, {{name, "", {}}}});
    }
  }

  std::vector<std::unique_ptr<Target>> targets;
  std::vector<RetryPolicy> policies;
  std::vector<size_t> queue_sizes;
  for (const auto& t : config.targets) {
    if (options.only_routed_targets && routed.count(t.name) == 0) continue;
    CDC_ASSIGN_OR_RETURN(auto target, BuildTarget(t));
    targets.push_back(std::move(target));
    policies.push_back(RetryPolicy::FromConfig(t.retry));
    queue_sizes.push_back(static_cast<size_t>(std::max<int64_t>(1, t.queue_size)));
  }
  if (options.archives) {
    for (const auto& a : config.archives) {
      targets.push_back(archive::MakeArchiveTarget(a, config.pipeline.data_dir));
    }
  }

  std::unique_ptr<Assembly> assembly(new Assembly());
  assembly->state_path_ = state::DescribeStateStore(config.state);
  assembly->dead_letters_ = std::make_unique<DeadLetterFile>(
      config.dead_letter.path, ParseFsyncPolicy(config.dead_letter.fsync), clock);
  assembly->runner_ = std::make_unique<DeliveryRunner>(
      std::move(targets), std::move(policies), std::move(queue_sizes), *assembly->dead_letters_);
  DeliveryRunner& runner = *assembly->runner_;
  CDC_ASSIGN_OR_RETURN(
      assembly->router_,
      Router::Build(std::move(rules), std::move(archive_rules),
                    {config.bus.region, config.bus.account, config.bus.name},
                    [&runner](std::string_view name) { return runner.Find(name); }));
  return assembly;
}

Status Assembly::Reconcile(const std::map<std::string, state::TargetMark>& marks,
                           bool restore_counts) {
  for (size_t i = 0; i < runner_->size(); ++i) {
    Target& target = runner_->target(i);
    auto it = marks.find(target.name());
    if (it == marks.end()) continue;
    if (!it->second.cursor.empty()) {
      CDC_RETURN_IF_ERROR(
          MarkError(target.Reconcile(it->second.cursor), target.name(), state_path_));
    }
    if (restore_counts) runner_->set_stats(i, {it->second.delivered, it->second.dead_lettered});
  }
  auto dl = marks.find(state::kDeadLetterMark);
  if (dl != marks.end()) {
    CDC_RETURN_IF_ERROR(MarkError(dead_letters_->Reconcile(dl->second.cursor),
                                  state::kDeadLetterMark, state_path_));
    if (restore_counts) dead_letters_->set_count(dl->second.delivered);
  }
  return Status::Ok();
}

}  // namespace cdc
