// The file target: appends each event as one JSON line (JSONL), fsynced by policy.

#include "target/append_file.h"
#include "target/builtin.h"

namespace cdc {
namespace {

class FileTarget final : public Target {
 public:
  FileTarget(const TargetConfig& config)
      : name_(config.name),
        file_(config.path, ParseFsyncPolicy(config.fsync)),
        format_(config.format == "cloudevents" ? EventFormat::kCloudEvents
                                               : EventFormat::kEventBridge) {}

  const std::string& name() const override { return name_; }

  DeliveryOutcome Deliver(const OutputEvent& event) override {
    Status s = file_.Append(event.Json(format_));
    if (!s.ok()) return {Delivery::kRetry, s};
    return {};
  }

  Status Flush() override { return file_.Flush(); }
  Status CheckHealth() override { return AppendFile::CheckWritable(file_.path()); }

 private:
  std::string name_;
  AppendFile file_;
  EventFormat format_;
};

}  // namespace

std::unique_ptr<Target> MakeFileTarget(const TargetConfig& config) {
  return std::make_unique<FileTarget>(config);
}

}  // namespace cdc
