#include "source/json/json_source.h"

#include <simdjson.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "config/config.h"
#include "event/event_json.h"

namespace cdc {
namespace {

Status Emit(std::string_view text, const std::string& location, ChangeSink& sink) {
  RawInput raw{text, location};
  auto change = ParseChangeEventJson(text);
  if (!change.ok()) return sink.OnInvalid(raw, change.status().message());
  return sink.OnChange(std::move(change).value(), raw);
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

JsonSource::JsonSource(std::string path, std::string display_name)
    : path_(std::move(path)), name_(display_name.empty() ? path_ : std::move(display_name)) {
  if (path_ == "-" && display_name.empty()) name_ = "<stdin>";
}

Status JsonSource::CheckHealth() {
  if (path_ == "-") return Status::Ok();
  if (::access(path_.c_str(), R_OK) != 0) {
    return ErrnoError("cannot read the input file '" + path_ + "'", errno);
  }
  return Status::Ok();
}

Status JsonSource::Run(ChangeSink& sink) {
  if (path_ == "-") return RunStream(std::cin, name_, sink);
  return RunFile(path_, sink);
}

Status JsonSource::RunArray(std::string_view all, const std::string& name, ChangeSink& sink) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(all);
  simdjson::ondemand::document doc;
  simdjson::ondemand::array arr;
  if (parser.iterate(padded).get(doc) || doc.get_array().get(arr)) {
    return sink.OnInvalid({all, name}, "malformed JSON: the input is not a JSON array");
  }
  size_t index = 0;
  for (auto elem : arr) {
    if (stop_) break;
    std::string location = name + "[" + std::to_string(index++) + "]";
    simdjson::ondemand::value v;
    if (elem.get(v)) {
      return sink.OnInvalid({std::string_view(), location},
                            "malformed JSON in the input array; the rest of the array is skipped");
    }
    std::string_view raw;
    simdjson::ondemand::object obj;
    if (v.get_object().get(obj) == simdjson::SUCCESS &&
        obj.raw_json().get(raw) == simdjson::SUCCESS) {
      CDC_RETURN_IF_ERROR(Emit(raw, location, sink));
    } else {
      CDC_RETURN_IF_ERROR(
          sink.OnInvalid({std::string_view(), location}, "a change event must be a JSON object"));
    }
  }
  return Status::Ok();
}

Status JsonSource::RunStream(std::istream& in, const std::string& name, ChangeSink& sink) {
  int c;
  while ((c = in.peek()) != EOF && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) in.get();
  if (c == '[') {
    std::stringstream ss;
    ss << in.rdbuf();
    return RunArray(ss.str(), name, sink);
  }
  std::string line;
  size_t line_no = 0;
  while (!stop_ && std::getline(in, line)) {
    ++line_no;
    if (IsBlank(line)) continue;
    CDC_RETURN_IF_ERROR(Emit(line, name + ":" + std::to_string(line_no), sink));
  }
  if (in.bad()) return IoError("error reading '" + name + "'");
  return Status::Ok();
}

Status JsonSource::RunFile(const std::string& path, ChangeSink& sink) {
  const std::string& name = name_;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (stop_) return Status::Ok();  // stopped while waiting to open (a FIFO)
    return ErrnoError("cannot open the input file '" + path + "'", errno);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::string_view trimmed = all;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) {
    trimmed.remove_prefix(1);
  }
  if (!trimmed.empty() && trimmed.front() == '[') return RunArray(trimmed, name, sink);
  // One (possibly pretty-printed) JSON object spanning the whole file is one event.
  if (!trimmed.empty() && trimmed.front() == '{' && trimmed.find('\n') != std::string_view::npos) {
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    if (parser.parse(trimmed.data(), trimmed.size()).get(element) == simdjson::SUCCESS &&
        element.is_object()) {
      return Emit(trimmed, name + ":1", sink);
    }
  }
  std::istringstream lines(all);
  return RunStream(lines, name, sink);
}

namespace {

struct JsonSourceOptions : KindOptions {
  std::string path = "-";
};

std::shared_ptr<const KindOptions> FileOptions(const std::string& path) {
  auto o = std::make_shared<JsonSourceOptions>();
  o->path = path;
  return o;
}

const std::string& PathOf(const Config& config) {
  static const std::string kStdin = "-";
  const auto* o = config.source.OptionsAs<JsonSourceOptions>();
  return o != nullptr ? o->path : kStdin;
}

}  // namespace

void RegisterJsonSource(Registry& registry) {
  registry.AddSource(SourceKind{
      {"json",
       "Change events in the original format (`eventType`, `tableName`, `timestamp`, `before`, "
       "`after`), one JSON object per line or one JSON array. `run --input FILE` overrides "
       "`path`.",
       {{"path", config::FieldType::kString, "-", "File to read; `-` reads standard input."}},
       [](OptionsReader& r) -> std::shared_ptr<const KindOptions> {
         auto o = std::make_shared<JsonSourceOptions>();
         r.String("path", o->path);
         return o;
       }},
      {},
      [](const Config& config) -> Result<std::unique_ptr<Source>> {
        return std::unique_ptr<Source>(std::make_unique<JsonSource>(PathOf(config)));
      },
      [](const Config& config) {
        const std::string& path = PathOf(config);
        return "reading change events from " + (path == "-" ? "standard input" : path);
      },
      FileOptions});
}

}  // namespace cdc
