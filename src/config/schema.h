// The field tables: every config field is declared here once, with its type, default and
// description. The loader parses with them (rejecting unknown keys) and ConfigReferenceMarkdown
// prints them. Internal to src/config.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/fields.h"
#include "config/registry.h"

namespace cdc::config_internal {

using config::FieldSpec;
using config::FieldType;
using config::SectionSpec;

const SectionSpec& RootSpec();
const SectionSpec& PipelineSpec();
const SectionSpec& BusSpec();
const SectionSpec& StreamSpec();
const SectionSpec& StateSpec();
const SectionSpec& DeadLetterSpec();
const SectionSpec& AdminSpec();
const SectionSpec& ApiSpec();
const SectionSpec& TableSpec();
const SectionSpec& RedactColumnSpec();  // the long form of one column's rule
const SectionSpec& RedactionSpec();
const SectionSpec& TransformSpec();         // one item of tables.<name>.transforms
const SectionSpec& SetTransformSpec();      // its `set` mapping
const SectionSpec& FlattenTransformSpec();  // its `flatten` mapping
const SectionSpec& RetrySpec();             // targets.<name>.retry
const SectionSpec& ModelSpec();             // a model file
const SectionSpec& ModelFieldSpec();        // one field of a model file
const SectionSpec& RuleSpec();
const SectionSpec& RuleTargetSpec();        // the mapping form of an entry of a rule's targets
const SectionSpec& InputTransformerSpec();  // its input_transformer
const SectionSpec& ArchiveSpec();           // one item of `archives`

// The section of one registered kind: `type` (its choices: every registered name) and the
// kind's own fields; with a null kind, `type` alone (an unknown or missing type).
struct KindSection {
  std::string path;
  std::vector<std::string_view> choices;
  SectionSpec spec;  // its path and choices point into the two above
};
std::unique_ptr<KindSection> SourceSection(const Registry& registry, const SourceKind* kind);
std::unique_ptr<KindSection> TargetSection(const Registry& registry, const TargetKind* kind);
// `stream` and `state`: `type`, the fields every kind has (StreamSpec, StateSpec) and the
// kind's own.
inline constexpr std::string_view kDefaultStreamKind = "embedded";
inline constexpr std::string_view kDefaultStateKind = "sqlite";
std::unique_ptr<KindSection> StreamSection(const Registry& registry, const StreamKind* kind);
std::unique_ptr<KindSection> StateSection(const Registry& registry, const StateKind* kind);

}  // namespace cdc::config_internal
