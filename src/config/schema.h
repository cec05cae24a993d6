// The field tables: every config field is declared here once, with its type, default and
// description. The loader parses with them (rejecting unknown keys) and ConfigReferenceMarkdown
// prints them. Internal to src/config.
#pragma once

#include <string_view>
#include <vector>

namespace cdc::config_internal {

enum class FieldType {
  kString,
  kInt,
  kBool,
  kStringList,
  kEnum,
  kEnumList,
  kPattern,
  kStringMap,       // a mapping of names to strings (redaction.keys)
  kRedactionRules,  // a mapping of column names to rules (tables.<name>.redact)
  kTransforms,      // a list of one-key mappings (tables.<name>.transforms)
  kModelFields,     // a mapping of field names to types or field mappings (model files)
  kRuleTargets,     // a list of target names or mappings (rules.<name>.targets)
  kJson,            // a YAML value or a JSON string (rules.<name>.targets[].input)
  kSection,
  kNamedSections,
  kSectionList  // a list of mappings (archives)
};

struct FieldSpec {
  std::string_view name;
  FieldType type;
  std::string_view default_value;  // as documented; empty = none
  std::string_view description;
  std::vector<std::string_view> choices = {};  // kEnum / kEnumList
  bool required = false;
};

struct SectionSpec {
  std::string_view path;  // as documented: "pipeline", "tables.<name>", "targets.<name> (file)"
  std::string_view description;
  std::vector<FieldSpec> fields;

  const FieldSpec* Find(std::string_view name) const;
};

const SectionSpec& RootSpec();
const SectionSpec& PipelineSpec();
const SectionSpec& BusSpec();
const SectionSpec& SourceSpec(std::string_view type);  // type "" = the common fields
const SectionSpec& StreamSpec();
const SectionSpec& StateSpec();
const SectionSpec& DeadLetterSpec();
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
const SectionSpec& TargetSpec(std::string_view type);  // "" = common fields; nullptr-safe
const SectionSpec& ArchiveSpec();                      // one item of `archives`
std::vector<std::string_view> SourceTypes();
std::vector<std::string_view> TargetTypes();

}  // namespace cdc::config_internal
