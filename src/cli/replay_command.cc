#include "cli/replay_command.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>

#include "archive/replay.h"
#include "base/time.h"
#include "runtime/replay.h"

namespace cdc {
namespace {

using Clock = std::chrono::steady_clock;

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "100%";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

// Progress on stderr: a bar redrawn in place on a terminal (at most 10 times a second), else
// one line a second, so logs stay readable.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string name) : name_(std::move(name)), tty_(::isatty(2) == 1) {}

  void Update(const archive::ReplayProgress& p) {
    auto now = Clock::now();
    auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
    if (now - last_ < every) return;
    last_ = now;
    Print(p);
  }

  // The final state, always.
  void Finish(const archive::ReplayProgress& p) {
    Print(p);
    if (tty_) std::fputc('\n', stderr);
  }

 private:
  void Print(const archive::ReplayProgress& p) {
    if (!tty_) {
      std::fprintf(stderr,
                   "replay %s: read %llu of %llu archived events (%s), %llu in the window, %llu "
                   "matched, %llu delivered\n",
                   name_.c_str(), U(p.read), U(p.total), Percent(p.read, p.total).c_str(),
                   U(p.in_window), U(p.matched), U(p.delivered));
      return;
    }
    constexpr int kWidth = 30;
    int filled =
        p.total == 0
            ? kWidth
            : static_cast<int>(kWidth * static_cast<double>(p.read) / static_cast<double>(p.total));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r[%s] %4s read %llu/%llu, in window %llu, matched %llu, delivered %llu ",
                 bar.c_str(), Percent(p.read, p.total).c_str(), U(p.read), U(p.total),
                 U(p.in_window), U(p.matched), U(p.delivered));
  }

  std::string name_;
  bool tty_;
  Clock::time_point last_{};
};

}  // namespace

std::optional<int64_t> ParseReplayTime(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t seconds = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    // Up to the year 9999, which RFC 3339 can also write.
    if (ec != std::errc() || p != text.data() + text.size() || seconds > 253402300799) {
      return std::nullopt;
    }
    return seconds * 1000000;
  }
  if (auto t = ParseRfc3339(text)) return t->micros;
  return std::nullopt;
}

ReplayCommand::ReplayCommand(CLI::App& app, std::string& config_path) : config_path_(config_path) {
  replay_ = app.add_subcommand(
      "replay",
      "Send the events of an archive whose time lies in [--start, --end) through the rules "
      "again, with \"replay-name\" added (EventBridge's StartReplay); needs the data dir to "
      "itself, so stop `run` first");
  replay_->add_option("-c,--config", config_path_, "Configuration file")->capture_default_str();
  replay_->add_option("--archive", archive_, "The archive (a name under `archives:`)")->required();
  replay_
      ->add_option("--start", start_,
                   "Start of the event-time window, inclusive: RFC 3339 "
                   "(2026-11-25T10:00:00Z) or epoch seconds")
      ->required();
  replay_->add_option("--end", end_, "End of the window, exclusive; same forms as --start")
      ->required();
  replay_->add_option("--rule", rule_,
                      "Only this rule (default: every enabled rule); the archives themselves "
                      "never receive replayed events");
  replay_->add_option("--name", name_,
                      "Replay name, the value of \"replay-name\" (1-64 of [.-_A-Za-z0-9]); "
                      "default <archive>-<start>");
}

int ReplayCommand::Run(const Config& config) {
  archive::ReplayRequest request;
  request.archive = archive_;
  request.rule = rule_;
  auto parse = [](const char* flag, const std::string& text) {
    auto t = ParseReplayTime(text);
    if (!t) {
      std::fprintf(stderr,
                   "replay: %s '%s' is not a time: write RFC 3339 with an offset "
                   "(2026-11-25T10:00:00Z) or whole seconds since the epoch (1795600800)\n",
                   flag, text.c_str());
    }
    return t;
  };
  auto start = parse("--start", start_);
  if (!start) return 2;
  auto end = parse("--end", end_);
  if (!end) return 2;
  request.start_micros = *start;
  request.end_micros = *end;
  request.name = name_.empty() ? archive::DefaultReplayName(archive_, *start) : name_;
  Status valid = archive::CheckReplayRequest(config, request);
  if (!valid.ok()) {
    std::fprintf(stderr, "replay: %s\n", valid.message().c_str());
    return 2;
  }

  ProgressPrinter printer(request.name);
  auto report =
      RunReplay(config, request, [&](const archive::ReplayProgress& p) { printer.Update(p); });
  if (!report.ok()) {
    std::fprintf(stderr, "\nreplay %s failed: %s\n", request.name.c_str(),
                 report.status().message().c_str());
    return 1;
  }
  const archive::ReplayProgress& p = report->progress;
  printer.Finish(p);
  std::string rules;
  for (const auto& r : report->rules) rules += (rules.empty() ? "" : ", ") + r;
  std::fprintf(stderr,
               "replay %s of archive %s, event time from %s to %s (end excluded), rules: %s\n",
               request.name.c_str(), request.archive.c_str(),
               FormatRfc3339(Timestamp{request.start_micros}).c_str(),
               FormatRfc3339(Timestamp{request.end_micros}).c_str(),
               rules.empty() ? "(none enabled)" : rules.c_str());
  if (report->archive_missing) {
    std::fprintf(stderr, "archive %s holds no events yet (%s does not exist): nothing to replay\n",
                 request.archive.c_str(), report->archive_dir.c_str());
    return 0;
  }
  std::string delivered;
  for (const auto& [target, n] : report->delivered) {
    delivered += (delivered.empty() ? "" : ", ") + target + "=" + std::to_string(n);
  }
  std::fprintf(stderr,
               "read %llu archived events, %llu in the window, %llu matched, %llu delivered "
               "(%s), %llu dead-lettered\n",
               U(p.read), U(p.in_window), U(p.matched), U(p.delivered),
               delivered.empty() ? "no targets" : delivered.c_str(), U(p.dead_lettered));
  if (p.dead_lettered > 0) {
    std::fprintf(stderr, "replay %s: %llu deliveries failed and were dead-lettered to %s\n",
                 request.name.c_str(), U(p.dead_lettered), config.dead_letter.path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace cdc
