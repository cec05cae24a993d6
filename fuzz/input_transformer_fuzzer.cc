// Input transformers: the spec (input, input_path, input_paths_map + input_template) is
// validated and compiled, then applied to an event. Input: NUL-separated parts
//   template | paths map (lines "name<TAB>$.json.path") | event JSON
// A template starting with '$' is used as input_path instead; a first byte 0x01 in the template
// part makes it a constant `input`. Validation and compilation must agree, and a compiled
// transformer applies to any parsed event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bus/input_transformer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (int i = 0; i < 2; ++i) {
    size_t nul = in.find('\0');
    if (nul == std::string_view::npos) return 0;
    parts.push_back(in.substr(0, nul));
    in.remove_prefix(nul + 1);
  }
  std::string_view event = in;

  cdc::InputSpec spec;
  std::string_view tmpl = parts[0];
  if (!tmpl.empty() && tmpl[0] == '\x01') {
    spec.input = std::string(tmpl.substr(1));
  } else if (!tmpl.empty() && tmpl[0] == '$') {
    spec.input_path = std::string(tmpl);
  } else {
    spec.input_template = std::string(tmpl);
  }
  std::string_view map = parts[1];
  while (!map.empty()) {
    size_t nl = map.find('\n');
    std::string_view line = map.substr(0, nl);
    map.remove_prefix(nl == std::string_view::npos ? map.size() : nl + 1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    spec.input_paths_map.emplace_back(std::string(line.substr(0, tab)),
                                      std::string(line.substr(tab + 1)));
  }
  if (spec.input_path) (void)cdc::ValidateJsonPath(*spec.input_path);

  bool valid = cdc::ValidateInputSpec(spec).empty();
  auto transformer = cdc::InputTransformer::Compile(
      spec, {"rule", cdc::RuleArn("us-east-1", "123456789012", "default", "rule")});
  if (valid != transformer.ok()) std::abort();
  if (!transformer.ok()) return 0;

  cdc::EventDocument doc;
  if (!doc.Parse(event).ok()) return 0;
  std::string out;
  (*transformer)->Apply(doc, out);
  (*transformer)->Apply(doc, out);  // reused output buffer
  return 0;
}
