// Config field tables: every field of a section is declared once, with its type, default,
// description and bounds. The loader parses with them (rejecting unknown keys, checking bounds)
// and ConfigReferenceMarkdown prints them. Components declare the fields of their own kind with
// these types (see config/registry.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cdc::config {

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
  // kInt: the smallest allowed value (the loader says "must be at least N"); negative numbers
  // are always refused.
  std::optional<int64_t> min = std::nullopt;
};

struct SectionSpec {
  std::string_view path;  // as documented: "pipeline", "tables.<name>", "targets.<name> (file)"
  std::string_view description;
  std::vector<FieldSpec> fields;

  const FieldSpec* Find(std::string_view name) const;
};

}  // namespace cdc::config
