// The file target: appends each event as one JSON line (JSONL), fsynced by policy.

#include "base/logging.h"
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

  EventFormat format() const override { return format_; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    Status s = file_.Append(event.body);
    // A local file that cannot be written (disk full, I/O error) does not heal by retrying,
    // and dead-lettering to the same disk would not help either: stop the pipeline.
    if (!s.ok()) return {Delivery::kFatal, s};
    return {};
  }

  Status Flush() override { return file_.Flush(); }
  Status WriteOut() override { return file_.WriteOut(); }

  std::optional<std::string> Cursor() const override {
    if (!file_.IsRegular()) return std::nullopt;  // a pipe: at-least-once
    auto size = file_.Size();
    if (!size.ok()) return std::nullopt;
    return std::to_string(*size);
  }

  Status Reconcile(const std::string& cursor) override {
    uint64_t size = std::stoull(cursor);
    CDC_ASSIGN_OR_RETURN(uint64_t before, file_.Size());
    CDC_ASSIGN_OR_RETURN(bool cut, file_.TruncateTo(size));
    if (!cut) {
      log::Warn(
          "target '{}': {} is shorter ({} bytes) than at the last checkpoint ({} bytes): it was "
          "rotated or truncated by someone else; appending to it",
          name_, file_.path(), before, size);
    } else if (before > size) {
      log::Info(
          "target '{}': cut {} bytes written after the last checkpoint from {}; they are "
          "delivered again",
          name_, before - size, file_.path());
    }
    return Status::Ok();
  }
  Status CheckHealth() override { return AppendFile::CheckWritable(file_.path()); }

 private:
  std::string name_;
  mutable AppendFile file_;
  EventFormat format_;
};

}  // namespace

std::unique_ptr<Target> MakeFileTarget(const TargetConfig& config) {
  return std::make_unique<FileTarget>(config);
}

}  // namespace cdc
