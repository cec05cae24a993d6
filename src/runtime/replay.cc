#include "runtime/replay.h"

#include <fmt/core.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <memory>

#include "archive/archive.h"
#include "base/host.h"
#include "base/time.h"
#include "event/json_writer.h"
#include "runtime/assembly.h"
#include "state/state_store.h"
#include "target/append_file.h"

namespace cdc {

using archive::AddReplayName;
using archive::Archive;
using archive::ArchivedEvent;
using archive::ArchiveDir;
using archive::ArchiveOptions;
using archive::ArchiveReader;
using archive::CheckReplayRequest;
using archive::DefaultReplayName;
using archive::ReplayProgress;
using archive::ReplayReport;
using archive::ReplayRequest;

namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<uint64_t> ParseOffset(std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// What the runner needs to know about a replayed event, read back from its JSON: the id, the
// table (dead letters) and, for CloudEvents targets, that form of the event.
class EventReader {
 public:
  Status Read(const std::string& json, int64_t event_micros, std::string_view replay_name,
              bool cloudevents, ProcessedEvent& event, std::string& id, std::string& cloud) {
    simdjson::dom::element root;
    if (parser_.parse(json).get(root) != simdjson::SUCCESS || !root.is_object()) {
      return InvalidArgument("the archived event is not a JSON object");
    }
    std::string_view text;
    id = root["id"].get(text) == simdjson::SUCCESS ? std::string(text) : std::string();
    event.change = ChangeEvent();
    event.change.commit_time = Timestamp{event_micros};
    simdjson::dom::element detail;
    bool has_detail = root["detail"].get(detail) == simdjson::SUCCESS;
    if (has_detail && detail["tableName"].get(text) == simdjson::SUCCESS) {
      size_t dot = text.find('.');
      if (dot == std::string_view::npos) {
        event.change.table = std::string(text);
      } else {
        event.change.schema = std::string(text.substr(0, dot));
        event.change.table = std::string(text.substr(dot + 1));
      }
    }
    if (has_detail && detail["timestamp"].get(text) == simdjson::SUCCESS) {
      if (auto t = ParseRfc3339(text)) event.change.commit_time = *t;
    }
    cloud.clear();
    if (!cloudevents) return Status::Ok();
    // The CloudEvents form the pipeline writes (src/event/envelope.h), with the replay name as
    // the extension attribute `replayname` (CloudEvents attribute names are [a-z0-9]).
    JsonWriter w(cloud);
    w.BeginObject();
    w.Key("specversion").String("1.0");
    w.Key("id").String(id);
    std::string_view source, type;
    if (root["source"].get(source) != simdjson::SUCCESS) source = {};
    if (root["detail-type"].get(type) != simdjson::SUCCESS) type = {};
    w.Key("source").String(source);
    w.Key("type").String(type);
    w.Key("time").String(FormatRfc3339(event.change.commit_time));
    w.Key("datacontenttype").String("application/json");
    w.Key("replayname").String(replay_name);
    w.Key("data");
    if (has_detail) {
      w.Raw(simdjson::minify(detail));
    } else {
      w.Null();
    }
    w.EndObject();
    return Status::Ok();
  }

 private:
  simdjson::dom::parser parser_;
};

}  // namespace

Result<ReplayReport> RunReplay(const Config& config, ReplayRequest request,
                               const std::function<void(const ReplayProgress&)>& on_progress) {
  if (request.name.empty()) {
    request.name = DefaultReplayName(request.archive, request.start_micros);
  }
  CDC_RETURN_IF_ERROR(CheckReplayRequest(config, request));
  const ArchiveConfig& archive_config = *config.FindArchive(request.archive);
  ReplayReport report;
  report.name = request.name;
  report.archive_dir = ArchiveDir(config.pipeline.data_dir, archive_config.name);

  // The rules (the config's enabled ones, or the one asked for; never the archives' hidden
  // ones) and the targets they route to, built as `run` builds them.
  AssemblyOptions assembly_options;
  assembly_options.rule = request.rule;
  assembly_options.archives = false;
  assembly_options.only_routed_targets = true;
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<Assembly> assembly,
                       Assembly::Build(config, SystemClock::Instance(), assembly_options));
  const Router& router = assembly->router();
  DeliveryRunner& runner = assembly->runner();
  DeadLetterFile& dead_letters = assembly->dead_letters();
  for (uint32_t r = 0; r < router.size(); ++r) report.rules.push_back(router.rule_name(r));
  bool cloudevents = false;
  for (const auto& t : config.targets) {
    cloudevents = cloudevents || (runner.Find(t.name) >= 0 && t.format == "cloudevents");
  }

  // The lease: `run` cuts file targets back to their marks on start, so a replay beside it would
  // lose its lines (or double the run's); one owner of the data dir at a time.
  CDC_RETURN_IF_ERROR(MakeDirectories(config.pipeline.data_dir).WithContext("pipeline.data_dir"));
  std::string owner = ProcessOwner() + " (replay " + request.name + ")";
  auto store = state::OpenStateStore(config.state, owner, NowMicros());
  if (!store.ok()) {
    if (store.status().code() != StatusCode::kFailedPrecondition) return store.status();
    return FailedPrecondition(
        "cannot replay while another process uses the data dir: " + store.status().message() +
        ". A replay needs the data dir to itself (`run` would cut the replayed lines back): "
        "stop `cdc-pipeline run` (SIGTERM or Ctrl-C), replay, then start `run` again");
  }
  state::StateStore& state = **store;
  CDC_ASSIGN_OR_RETURN(auto marks, state.TargetMarks());

  // What a crashed `run` wrote after its last checkpoint is cut first, exactly as its next start
  // would: otherwise the new marks below would keep it, and the run would deliver it again. The
  // counts start at zero: the report is this replay's, and the marks add it below.
  CDC_RETURN_IF_ERROR(assembly->Reconcile(marks, /*restore_counts=*/false));
  auto dead_letter_mark = marks.find(state::kDeadLetterMark);

  struct stat st;
  if (::stat(report.archive_dir.c_str(), &st) != 0) {
    report.archive_missing = true;
    if (on_progress) on_progress(report.progress);
    return report;
  }
  ArchiveOptions options;
  options.retention_days = archive_config.retention_days;
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<Archive> archive,
                       Archive::Open(report.archive_dir, options));
  // Events archived after the archive's last checkpoint belong to a run that crashed: its next
  // start cuts them and archives them again, so they are not replayed.
  std::optional<uint64_t> limit;
  if (auto it = marks.find(ArchiveRuleName(archive_config.name)); it != marks.end()) {
    limit = ParseOffset(it->second.cursor);
  }
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> reader,
                       archive->Read(request.start_micros, request.end_micros, limit));

  runner.Start();
  ReplayProgress& progress = report.progress;
  progress.total = reader->total();
  EventReader event_reader;
  RoutedEvent routed;
  std::vector<uint32_t> matched;
  ProcessedEvent processed;
  std::string id, cloud;
  while (true) {
    CDC_ASSIGN_OR_RETURN(std::optional<ArchivedEvent> archived, reader->Next());
    progress.read = reader->scanned();
    if (!archived) break;
    ++progress.in_window;
    std::string where = fmt::format("archive {} offset {}", archive_config.name, archived->offset);
    std::string json = AddReplayName(archived->json, request.name);
    matched.clear();
    CDC_RETURN_IF_ERROR(router.Match(json, matched).WithContext(where));
    if (!matched.empty()) {
      ++progress.matched;
      CDC_RETURN_IF_ERROR(
          event_reader
              .Read(json, archived->event_micros, request.name, cloudevents, processed, id, cloud)
              .WithContext(where));
      OutputEvent out(processed, std::move(id), std::move(json), std::move(cloud));
      routed.Reset(out.Json(EventFormat::kEventBridge));
      for (uint32_t r : matched) {
        for (const RouteTarget& t : router.targets(r)) {
          auto input = routed.Input(t);
          if (!input.ok()) return input.status().WithContext(where);
          CDC_RETURN_IF_ERROR(runner.Deliver(out, assembly->Ref(r, t), *input, {}));
        }
      }
      progress.delivered = progress.dead_lettered = 0;
      for (size_t i = 0; i < runner.size(); ++i) {
        progress.delivered += runner.stats(i).delivered;
        progress.dead_lettered += runner.stats(i).dead_lettered;
      }
    }
    if (on_progress) on_progress(progress);
  }
  if (on_progress) on_progress(progress);

  // Queued targets (http) finish what they were given, then everything is made durable, then
  // the marks: a crash in between leaves lines past the marks, which the next start cuts (the
  // replay did not happen, and can be run again).
  CDC_RETURN_IF_ERROR(runner.Drain());
  runner.Stop();
  progress.delivered = progress.dead_lettered = 0;
  for (size_t i = 0; i < runner.size(); ++i) {
    progress.delivered += runner.stats(i).delivered;
    progress.dead_lettered += runner.stats(i).dead_lettered;
  }
  CDC_RETURN_IF_ERROR(runner.Flush());
  CDC_RETURN_IF_ERROR(dead_letters.Flush().WithContext("dead-letter file"));
  state::CheckpointCommit commit;
  commit.now_micros = NowMicros();
  for (size_t i = 0; i < runner.size(); ++i) {
    Target& target = runner.target(i);
    report.delivered[target.name()] = runner.stats(i).delivered;
    auto it = marks.find(target.name());
    if (it == marks.end()) continue;  // never checkpointed: the next run starts from its length
    state::TargetMark mark = it->second;
    if (auto cursor = target.Cursor()) mark.cursor = *cursor;
    commit.target_marks[target.name()] = std::move(mark);
  }
  if (dead_letter_mark != marks.end()) {
    state::TargetMark mark = dead_letter_mark->second;
    CDC_ASSIGN_OR_RETURN(uint64_t size, dead_letters.Size());
    mark.cursor = std::to_string(size);
    mark.delivered += dead_letters.count();
    commit.target_marks[state::kDeadLetterMark] = std::move(mark);
  }
  if (!commit.target_marks.empty()) {
    CDC_RETURN_IF_ERROR(state.Commit(commit).WithContext("state store: the targets' new marks"));
  }
  return report;
}

}  // namespace cdc
