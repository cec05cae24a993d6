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
  // `path` is a file, or "-" for standard input.
  explicit JsonSource(std::string path);

  Status Run(ChangeSink& sink) override;
  void Stop() override { stop_ = true; }
  Status CheckHealth() override;

  // Reads from a stream; `name` labels locations ("<name>:<line>").
  Status RunStream(std::istream& in, const std::string& name, ChangeSink& sink);

 private:
  Status RunFile(const std::string& path, ChangeSink& sink);
  Status RunArray(std::string_view all, const std::string& name, ChangeSink& sink);

  std::string path_;
  std::atomic<bool> stop_{false};
};

}  // namespace cdc
