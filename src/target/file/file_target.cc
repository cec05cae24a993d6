// The file target: appends each event as one JSON line (JSONL), fsynced by policy.

#include "target/file/file_target.h"

#include "base/logging.h"
#include "target/append_file.h"
#include "target/target.h"

namespace cdc {
namespace {

class FileTarget final : public Target {
 public:
  FileTarget(const TargetConfig& config, const FileTargetOptions& options)
      : name_(config.name),
        file_(options.path, ParseFsyncPolicy(options.fsync)),
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

  std::string HeldOutput() const override {
    if (!file_.IsRegular()) return {};
    auto size = file_.Size();
    if (!size.ok() || *size == 0) return {};
    return file_.path() + " (" + std::to_string(*size) + " bytes)";
  }

  Status Reconcile(const std::string& cursor) override {
    CDC_ASSIGN_OR_RETURN(uint64_t size, ParseLengthCursor(cursor));
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

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<FileTargetOptions>();
  r.String("path", o->path);
  r.String("fsync", o->fsync);
  return o;
}

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  const auto* o = config.OptionsAs<FileTargetOptions>();
  if (o == nullptr || o->path.empty()) {
    return InvalidArgument("target '" + config.name + "' needs a path");
  }
  return std::unique_ptr<Target>(std::make_unique<FileTarget>(config, *o));
}

std::string Describe(const TargetConfig& config) {
  const auto* o = config.OptionsAs<FileTargetOptions>();
  return "file" + (o != nullptr ? " " + o->path : std::string());
}

}  // namespace

void RegisterFileTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"file",
       "Appends each event as one JSON line. Exactly-once across crashes: on start the file is "
       "cut back to its length at the last checkpoint and what followed is written again.",
       {
           {"path",
            FieldType::kString,
            "",
            "The JSONL file. Its directory is created if missing.",
            {},
            true},
           {"fsync",
            FieldType::kEnum,
            "batch",
            "`always`: fsync after every event; `batch`: after each batch; `never`: leave it to "
            "the OS.",
            {"always", "batch", "never"}},
           kFormatField,
           kRetryField,
       },
       ParseOptions},
      {.exactly_once = true, .queued = false, .dead_letter_sink = true},
      Build,
      Describe});
}

}  // namespace cdc
