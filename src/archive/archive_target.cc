#include "archive/archive_target.h"

#include <unistd.h>

#include <charconv>
#include <chrono>

#include "base/logging.h"
#include "target/append_file.h"

namespace cdc::archive {
namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Retention is checked at most this often (it lists nothing; it only compares segment times).
constexpr int64_t kRetentionEveryMicros = 60LL * 1000000;

class ArchiveTarget final : public Target {
 public:
  ArchiveTarget(const ArchiveConfig& config, const std::string& data_dir, ArchiveOptions options)
      : name_(ArchiveRuleName(config.name)),
        dir_(ArchiveDir(data_dir, config.name)),
        options_(options) {
    options_.retention_days = config.retention_days;
  }

  const std::string& name() const override { return name_; }

  // Its hidden rule has no input transformer: `body` is the event itself (EventBridge format),
  // as EventBridge's archives keep it.
  DeliveryOutcome Deliver(const Outgoing& event) override {
    Status s = Ensure();
    if (s.ok()) {
      s = archive_->Append(event.time_micros / 1000000 * 1000000, event.body, NowMicros());
    }
    // A local disk that cannot be written does not heal by retrying: stop the pipeline, as the
    // file target does.
    if (!s.ok()) return {Delivery::kFatal, s};
    return {};
  }

  Status Flush() override {
    CDC_RETURN_IF_ERROR(Ensure());
    CDC_RETURN_IF_ERROR(archive_->Sync());
    int64_t now = NowMicros();
    if (options_.retention_days > 0 && now - last_retention_ >= kRetentionEveryMicros) {
      last_retention_ = now;
      CDC_RETURN_IF_ERROR(archive_->ApplyRetention(now));
    }
    return Status::Ok();
  }

  // Flush runs before every checkpoint, so the archive is open when a checkpoint asks.
  std::optional<std::string> Cursor() const override {
    if (archive_ == nullptr) return std::nullopt;
    return std::to_string(archive_->end());
  }

  Status Reconcile(const std::string& cursor) override {
    uint64_t mark = 0;
    auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), mark);
    if (ec != std::errc() || p != cursor.data() + cursor.size()) {
      return InvalidArgument("archive cursor '" + cursor + "' is not an offset");
    }
    CDC_RETURN_IF_ERROR(Ensure());
    ArchiveStats st = archive_->stats();
    if (mark > st.end) {
      log::Warn(
          "{}: {} ends at offset {}, before its last checkpoint ({}): it was replaced or lost "
          "events; appending to it",
          name_, dir_, st.end, mark);
      return Status::Ok();
    }
    if (mark < st.first) {
      // Retention deleted segments past the mark (possible only after a checkpoint that lagged
      // more than retention_days): everything still on disk was archived after the mark.
      log::Warn(
          "{}: retention deleted events archived after the last checkpoint (offset {}); "
          "cutting the archive back to its oldest offset {}",
          name_, mark, st.first);
      mark = st.first;
    }
    if (mark < st.end) {
      log::Info(
          "{}: cut {} event(s) archived after the last checkpoint from {}; they are archived "
          "again",
          name_, st.end - mark, dir_);
      CDC_RETURN_IF_ERROR(archive_->TruncateTo(mark));
    }
    return Status::Ok();
  }

  Status CheckHealth() override {
    if (archive_ != nullptr) return Status::Ok();
    std::string probe = dir_ + "/.health-check";
    CDC_RETURN_IF_ERROR(AppendFile::CheckWritable(probe));
    ::unlink(probe.c_str());
    return Status::Ok();
  }

 private:
  Status Ensure() {
    if (archive_ != nullptr) return Status::Ok();
    CDC_ASSIGN_OR_RETURN(archive_, Archive::Open(dir_, options_));
    return Status::Ok();
  }

  std::string name_;
  std::string dir_;
  ArchiveOptions options_;
  std::unique_ptr<Archive> archive_;
  int64_t last_retention_ = 0;
};

}  // namespace

std::unique_ptr<Target> MakeArchiveTarget(const ArchiveConfig& config, const std::string& data_dir,
                                          ArchiveOptions options) {
  return std::make_unique<ArchiveTarget>(config, data_dir, options);
}

}  // namespace cdc::archive
