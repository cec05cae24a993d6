// The JSON source: change events in the original format from a file or standard input: one JSON
// object per line (JSONL), one JSON array of objects, or (files only) one pretty-printed object.
#pragma once

#include <atomic>
#include <istream>
#include <memory>
#include <string>

#include "source/source.h"

namespace cdc {

class JsonSource final : public Source {
 public:
  // `path` is a file, or "-" for standard input. Locations in dead letters name the input as
  // `display_name` ("<display_name>:<line>"); by default the path itself.
  explicit JsonSource(std::string path, std::string display_name = "");

  Status Run(ChangeSink& sink) override;
  void Stop() override { stop_ = true; }
  Status CheckHealth() override;

  // Reads from a stream; `name` labels locations ("<name>:<line>").
  Status RunStream(std::istream& in, const std::string& name, ChangeSink& sink);

 private:
  Status RunFile(const std::string& path, ChangeSink& sink);
  Status RunArray(std::string_view all, const std::string& name, ChangeSink& sink);

  std::string path_;
  std::string name_;
  std::atomic<bool> stop_{false};
};

class Registry;
// The `json` source kind (also what `run --input` and `invoke --event` read with).
void RegisterJsonSource(Registry& registry);

}  // namespace cdc
