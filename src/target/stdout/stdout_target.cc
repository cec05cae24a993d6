// The stdout target: prints each event as one JSON line on standard output.

#include <cerrno>
#include <cstdio>

#include "config/registry.h"
#include "target/target.h"

namespace cdc {
namespace {

class StdoutTarget final : public Target {
 public:
  explicit StdoutTarget(const TargetConfig& config)
      : name_(config.name),
        format_(config.format == "cloudevents" ? EventFormat::kCloudEvents
                                               : EventFormat::kEventBridge) {}

  const std::string& name() const override { return name_; }

  EventFormat format() const override { return format_; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    std::string_view json = event.body;
    if (std::fwrite(json.data(), 1, json.size(), stdout) != json.size() ||
        std::fputc('\n', stdout) == EOF) {
      return {Delivery::kRetry, ErrnoError("cannot write to standard output", errno)};
    }
    return {};
  }

  Status Flush() override {
    if (std::fflush(stdout) != 0) return ErrnoError("cannot flush standard output", errno);
    return Status::Ok();
  }
  Status CheckHealth() override { return Status::Ok(); }

 private:
  std::string name_;
  EventFormat format_;
};

Result<std::unique_ptr<Target>> Build(const TargetConfig& config) {
  return std::unique_ptr<Target>(std::make_unique<StdoutTarget>(config));
}

std::string Describe(const TargetConfig&) { return "stdout"; }

}  // namespace

void RegisterStdoutTarget(Registry& registry) {
  registry.AddTarget(
      TargetKind{{"stdout",
                  "Prints each event as one JSON line on standard output (at-least-once).",
                  {kFormatField, kRetryField},
                  [](OptionsReader&) -> std::shared_ptr<const KindOptions> {
                    return std::make_shared<KindOptions>();
                  }},
                 {},
                 Build,
                 Describe});
}

}  // namespace cdc
