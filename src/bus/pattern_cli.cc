#include "bus/pattern_cli.h"

#include <simdjson.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/status.h"
#include "bus/matcher.h"
#include "event/event_json.h"
#include "event/json_writer.h"

namespace cdc {
namespace {

namespace od = simdjson::ondemand;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read " + path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ErrnoError("cannot read " + path, errno);
  return ss.str();
}

// "@path" and "file://path" (the AWS CLI's form) read the file; anything else is the JSON text
// itself.
Result<std::string> InlineOrFile(const std::string& arg) {
  if (!arg.empty() && arg[0] == '@') return ReadFile(arg.substr(1));
  constexpr std::string_view kFileUrl = "file://";
  if (arg.rfind(kFileUrl, 0) == 0) return ReadFile(arg.substr(kFileUrl.size()));
  return arg;
}

// Whether the event matches the pattern; errors carry the message to print.
Result<bool> TestOne(std::string_view pattern, std::string_view event) {
  CDC_ASSIGN_OR_RETURN(auto matcher, CompileMatcher({{"pattern", std::string(pattern)}}));
  if (!IsValidJson(event)) return InvalidArgument("Event is not valid JSON");
  std::vector<uint32_t> out;
  CDC_RETURN_IF_ERROR(matcher->Match(event, out));
  return !out.empty();
}

// Strips the "rule 'pattern': " context CompileMatcher adds; the CLI tests one anonymous pattern.
std::string Message(const Status& s) {
  const std::string prefix = "rule 'pattern': ";
  const std::string& m = s.message();
  return m.rfind(prefix, 0) == 0 ? m.substr(prefix.size()) : m;
}

const char* ResultLine(bool matched) {
  return matched ? "{\"Result\": true}\n" : "{\"Result\": false}\n";
}

// A field of a batch line as JSON text: a string holds the JSON, an object or array is it.
bool FieldText(od::value v, std::string& out) {
  od::json_type type;
  if (v.type().get(type)) return false;
  std::string_view text;
  if (type == od::json_type::string) {
    if (v.get_string().get(text)) return false;
  } else if (type == od::json_type::object) {
    od::object obj;
    if (v.get_object().get(obj) || obj.raw_json().get(text)) return false;
  } else if (type == od::json_type::array) {
    od::array arr;
    if (v.get_array().get(arr) || arr.raw_json().get(text)) return false;
  } else {
    text = v.raw_json_token();
  }
  out.assign(text);
  return true;
}

Result<bool> TestLine(const std::string& line) {
  if (!IsValidJson(line)) return InvalidArgument("line is not valid JSON");
  thread_local od::parser parser;
  simdjson::padded_string padded(line);
  od::document doc;
  od::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) {
    return InvalidArgument("line is not a JSON object");
  }
  std::string pattern, event;
  bool has_pattern = false, has_event = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return InvalidArgument("line is not valid JSON");
    }
    if (key == "pattern") {
      if (!FieldText(v, pattern)) return InvalidArgument("bad \"pattern\" field");
      has_pattern = true;
    } else if (key == "event") {
      if (!FieldText(v, event)) return InvalidArgument("bad \"event\" field");
      has_event = true;
    }
  }
  if (!has_pattern) return InvalidArgument("missing field \"pattern\"");
  if (!has_event) return InvalidArgument("missing field \"event\"");
  return TestOne(pattern, event);
}

}  // namespace

int RunTestEventPattern(const std::string& pattern_arg, const std::string& event_arg,
                        std::FILE* out, std::FILE* err) {
  auto pattern = InlineOrFile(pattern_arg);
  if (!pattern.ok()) {
    std::fprintf(err, "%s\n", pattern.status().message().c_str());
    return 1;
  }
  auto event = InlineOrFile(event_arg);
  if (!event.ok()) {
    std::fprintf(err, "%s\n", event.status().message().c_str());
    return 1;
  }
  auto result = TestOne(*pattern, *event);
  if (!result.ok()) {
    std::fprintf(err, "%s\n", Message(result.status()).c_str());
    return 1;
  }
  std::fputs(ResultLine(*result), out);
  return 0;
}

int RunTestEventPatternBatch(const std::string& batch_file, std::FILE* out, std::FILE* err) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (batch_file != "-") {
    file.open(batch_file, std::ios::binary);
    if (!file) {
      std::fprintf(err, "%s\n", ErrnoError("cannot read " + batch_file, errno).message().c_str());
      return 1;
    }
    in = &file;
  }
  int rc = 0;
  std::string line;
  while (std::getline(*in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto result = TestLine(line);
    if (result.ok()) {
      std::fputs(ResultLine(*result), out);
      continue;
    }
    rc = 1;
    std::string text = "{\"Error\": ";
    AppendJsonString(text, Message(result.status()));
    text += "}\n";
    std::fputs(text.c_str(), out);
  }
  if (in->bad()) {
    std::fprintf(err, "%s\n", ErrnoError("cannot read " + batch_file, errno).message().c_str());
    return 1;
  }
  return rc;
}

}  // namespace cdc
