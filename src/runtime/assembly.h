// The delivery half of the pipeline, built from the config once for `run`, `invoke` and
// `replay`: the configured targets (each through BuildTarget) with their retry policies and
// queue sizes, the archives' targets, the dead-letter file, the delivery runner over them, and
// the Router whose rules send events to them. On a restart, Reconcile brings the targets and the
// dead-letter file back to their checkpoint marks.
//
// Thread-safety: as DeliveryRunner: one delivery thread drives it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "bus/router.h"
#include "config/config.h"
#include "target/dead_letter.h"
#include "target/delivery.h"

namespace cdc {

namespace state {
struct TargetMark;
}

struct AssemblyOptions {
  // Only this rule (it must be enabled); empty: every enabled rule of the config.
  std::string rule;
  // The archives' targets and hidden rules ("archive:<name>", after the user's rules). A replay
  // leaves them out: replayed events are not archived again.
  bool archives = true;
  // Only the targets the rules send to (or dead-letter to), not every configured one: a replay
  // opens and reports only what it writes.
  bool only_routed_targets = false;
};

class Assembly {
 public:
  // `config` and `clock` must outlive the assembly (the runner's rule targets name the rules by
  // pointer into the router, which the assembly owns).
  static Result<std::unique_ptr<Assembly>> Build(const Config& config, const Clock& clock,
                                                 const AssemblyOptions& options = {});

  Assembly(const Assembly&) = delete;
  Assembly& operator=(const Assembly&) = delete;
  ~Assembly();

  const Router& router() const { return *router_; }
  DeliveryRunner& runner() { return *runner_; }
  DeadLetterFile& dead_letters() { return *dead_letters_; }

  // A rule target of the router as the runner takes it.
  RuleTargetRef Ref(uint32_t rule, const RouteTarget& target) const {
    return RuleTargetRef{target.index, &router_->rule_name(rule), target.dead_letter};
  }

  // On a restart: cuts every target back to the cursor of its mark (what followed is delivered
  // again) and the dead-letter file back to its mark. With `restore_counts`, the runner's and
  // the dead-letter file's counts carry on from the marks (`run`); without, they count only
  // what comes next (`replay` reports and adds its own).
  Status Reconcile(const std::map<std::string, state::TargetMark>& marks, bool restore_counts);

 private:
  Assembly() = default;

  // Declared in the order they depend on each other: the runner uses the dead-letter file and
  // names rules from the router, so it is destroyed first.
  std::unique_ptr<DeadLetterFile> dead_letters_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<DeliveryRunner> runner_;
  std::string state_path_;  // for messages about the marks
};

}  // namespace cdc
