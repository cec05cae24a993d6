// Builds the pipeline from config and runs it: source -> processor per table -> bus (envelope,
// compiled rules) -> delivery runner -> targets, with the dead-letter file for what cannot be
// processed or delivered.
//
// Thread-safety: one thread drives a Pipeline.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "bus/matcher.h"
#include "config/config.h"
#include "process/processor.h"
#include "source/source.h"
#include "target/delivery.h"

namespace cdc {

// Semantic checks that need the stages (patterns compile, targets can be built, tables name
// event types, the HMAC keys of the redaction policies can be read). Each error carries its
// file:line.
std::vector<ConfigError> ValidateSemantics(const Config& config);

// Loads, then runs ValidateSemantics: every error of the file at once.
LoadResult LoadAndValidate(const std::string& path, const EnvOptions& env = {});

struct PipelineOptions {
  // A change whose type its table does not publish: dead-lettered (JSON input, where it is a
  // producer's mistake) or counted as filtered (database sources, where it is routine).
  bool dead_letter_disallowed_types = true;
};

struct PipelineStats {
  uint64_t read = 0;           // changes and invalid inputs seen
  uint64_t filtered = 0;       // changes of a type their table does not publish
  uint64_t published = 0;      // changes that became output events
  uint64_t dead_lettered = 0;  // inputs or deliveries written to the dead-letter file
  uint64_t unmatched = 0;      // published events no rule matched (counted, not lost)
  std::map<std::string, uint64_t> delivered;  // per target
};

// What the bus does with one event: the rules that matched and their targets.
struct RouteResult {
  std::string event_json;
  std::vector<std::pair<std::string, std::vector<std::string>>> rules;  // rule -> targets
};

class Pipeline : public ChangeSink {
 public:
  // `clock` must outlive the pipeline.
  static Result<std::unique_ptr<Pipeline>> Build(std::shared_ptr<const Config> config,
                                                 const Clock& clock = SystemClock::Instance(),
                                                 PipelineOptions options = {});

  // Runs `source` to its end, then flushes every target and the dead-letter file.
  Status Run(Source& source);

  // Processes one change as `invoke` does: the output event and the rules that match it;
  // delivers nothing.
  Result<RouteResult> Route(ChangeEvent change) const;

  Status OnChange(ChangeEvent change, const RawInput& raw) override;
  Status OnInvalid(const RawInput& raw, std::string_view reason) override;
  Status MakeDurable() override;

  const PipelineStats& stats() const { return stats_; }
  const Config& config() const { return *config_; }
  const ProcessorSet& processors() const { return processors_; }

 private:
  Pipeline(std::shared_ptr<const Config> config, const Clock& clock, ProcessorSet processors);

  Status Flush();
  // Writes a rejected change to the dead-letter file in a form without PII: redacted by its
  // table's policy and without the columns its model does not have, otherwise (and when the
  // table has no policy) with every detector applied.
  Status DeadLetterChange(const TableProcessor* processor, ChangeEvent& change, bool redacted,
                          const RawInput& raw, const std::string& table, std::string reason);

  std::shared_ptr<const Config> config_;
  const Clock& clock_;
  PipelineOptions options_;
  EnvelopeOptions envelope_;
  ProcessorSet processors_;
  std::unique_ptr<Matcher> matcher_;
  // For each rule (in matcher order): the indexes of its targets in the runner.
  std::vector<std::vector<size_t>> rule_targets_;
  std::vector<const RuleConfig*> rules_;
  std::unique_ptr<DeadLetterFile> dead_letters_;
  std::unique_ptr<DeliveryRunner> runner_;
  PipelineStats stats_;
  std::vector<uint32_t> matched_;  // scratch
};

}  // namespace cdc
