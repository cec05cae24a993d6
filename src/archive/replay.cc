#include "archive/replay.h"

#include <fmt/core.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <set>

#include "archive/archive.h"
#include "base/logging.h"
#include "base/time.h"
#include "bus/input_transformer.h"
#include "bus/matcher.h"
#include "event/json_writer.h"
#include "state/state_store.h"
#include "target/append_file.h"
#include "target/dead_letter.h"
#include "target/delivery.h"

namespace cdc::archive {
namespace {

constexpr size_t kMaxReplayNameChars = 64;  // AWS's limit (ValidReplayName)

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::optional<uint64_t> ParseOffset(std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// One rule target of the replay: its index in the runner and its input transformer.
struct RuleTarget {
  RuleTargetRef to;
  std::unique_ptr<const InputTransformer> input;
};

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

std::string DefaultReplayName(std::string_view archive, int64_t start_micros) {
  std::string when;
  for (char c : FormatRfc3339(Timestamp{start_micros})) {
    if (c != '-' && c != ':') when.push_back(c);
  }
  size_t room = kMaxReplayNameChars - 1 - std::min(when.size(), kMaxReplayNameChars - 2);
  return std::string(archive.substr(0, room)) + "-" + when.substr(0, kMaxReplayNameChars - 2);
}

std::string AddReplayName(std::string_view event_json, std::string_view name) {
  size_t end = event_json.find_last_of('}');
  if (end == std::string_view::npos) return std::string(event_json);
  std::string out;
  out.reserve(event_json.size() + name.size() + 20);
  out.append(event_json.substr(0, end));
  // An object with no members yet takes no comma.
  size_t last = out.find_last_not_of(" \t\r\n");
  if (last != std::string::npos && out[last] != '{') out.push_back(',');
  out.append("\"replay-name\":\"");
  out.append(name);
  out.append("\"}");
  return out;
}

Status CheckReplayRequest(const Config& config, const ReplayRequest& request) {
  if (config.FindArchive(request.archive) == nullptr) {
    std::vector<std::string> names;
    for (const auto& a : config.archives) names.push_back(a.name);
    return InvalidArgument("unknown archive '" + request.archive + "'" +
                           (names.empty() ? std::string("; the config defines no archives (add "
                                                        "them under 'archives:')")
                                          : "; the config's archives are: " + Join(names)));
  }
  if (request.end_micros <= request.start_micros) {
    return InvalidArgument(
        "the end of the replay (" + FormatRfc3339(Timestamp{request.end_micros}) +
        ") must be after its start (" + FormatRfc3339(Timestamp{request.start_micros}) + ")");
  }
  if (!request.rule.empty()) {
    std::vector<std::string> names;
    const RuleConfig* found = nullptr;
    for (const auto& r : config.rules) {
      if (r.enabled) names.push_back(r.name);
      if (r.name == request.rule) found = &r;
    }
    if (found == nullptr) {
      return InvalidArgument("unknown rule '" + request.rule +
                             "'; the config's enabled rules are: " +
                             (names.empty() ? std::string("(none)") : Join(names)));
    }
    if (!found->enabled) {
      return InvalidArgument("rule '" + request.rule +
                             "' is disabled (enabled: false); a replay only goes through enabled "
                             "rules");
    }
  }
  if (!ValidReplayName(request.name)) {
    return InvalidArgument("'" + request.name +
                           "' is not a valid replay name: 1 to 64 characters, each a letter, a "
                           "digit, '.', '-' or '_'");
  }
  return Status::Ok();
}

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
  // ones) and the targets they route to, built as Pipeline::Build builds them.
  std::vector<const RuleConfig*> rules;
  std::vector<RulePattern> patterns;
  std::set<std::string> used;
  for (const auto& r : config.rules) {
    if (!r.enabled || (!request.rule.empty() && r.name != request.rule)) continue;
    rules.push_back(&r);
    patterns.push_back({r.name, r.event_pattern});
    report.rules.push_back(r.name);
    used.insert(r.targets.begin(), r.targets.end());
    for (const auto& d : r.target_dead_letters) {
      if (!d.empty()) used.insert(d);
    }
  }
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<Matcher> matcher, CompileMatcher(patterns));
  std::vector<std::unique_ptr<Target>> targets;
  std::vector<RetryPolicy> policies;
  std::vector<size_t> queue_sizes;
  bool cloudevents = false;
  for (const auto& t : config.targets) {
    if (used.count(t.name) == 0) continue;
    CDC_ASSIGN_OR_RETURN(auto target, BuildTarget(t));
    targets.push_back(std::move(target));
    policies.push_back(RetryPolicy::FromConfig(t.retry));
    queue_sizes.push_back(static_cast<size_t>(std::max<int64_t>(1, t.queue_size)));
    cloudevents = cloudevents || t.format == "cloudevents";
  }

  // The lease: `run` cuts file targets back to their marks on start, so a replay beside it would
  // lose its lines (or double the run's); one owner of the data dir at a time.
  CDC_RETURN_IF_ERROR(MakeDirectories(config.pipeline.data_dir).WithContext("pipeline.data_dir"));
  std::string owner = "pid " + std::to_string(::getpid()) + " on host " + HostName() + " (replay " +
                      request.name + ")";
  auto store = state::OpenSqliteStateStore(config.state.path, owner, NowMicros());
  if (!store.ok()) {
    if (store.status().code() != StatusCode::kFailedPrecondition) return store.status();
    return FailedPrecondition(
        "cannot replay while another process uses the data dir: " + store.status().message() +
        ". A replay needs the data dir to itself (`run` would cut the replayed lines back): "
        "stop `cdc-pipeline run` (SIGTERM or Ctrl-C), replay, then start `run` again");
  }
  state::StateStore& state = **store;
  CDC_ASSIGN_OR_RETURN(auto marks, state.TargetMarks());

  DeadLetterFile dead_letters(config.dead_letter.path, ParseFsyncPolicy(config.dead_letter.fsync),
                              SystemClock::Instance());
  DeliveryRunner runner(std::move(targets), std::move(policies), std::move(queue_sizes),
                        dead_letters);
  std::vector<std::vector<RuleTarget>> rule_targets;
  for (const RuleConfig* rule : rules) {
    std::vector<RuleTarget> list;
    for (size_t k = 0; k < rule->targets.size(); ++k) {
      int i = runner.Find(rule->targets[k]);
      CDC_ASSERT(i >= 0, "rule target was validated at load");
      RuleTarget t{RuleTargetRef{static_cast<size_t>(i), &rule->name, -1}, nullptr};
      if (k < rule->target_dead_letters.size() && !rule->target_dead_letters[k].empty()) {
        t.to.dead_letter = runner.Find(rule->target_dead_letters[k]);
        CDC_ASSERT(t.to.dead_letter >= 0, "dead-letter target was validated at load");
      }
      if (k < rule->target_inputs.size() && !rule->target_inputs[k].empty()) {
        InputTransformer::Rule r{rule->name, RuleArn(config.bus.region, config.bus.account,
                                                     config.bus.name, rule->name)};
        CDC_ASSIGN_OR_RETURN(t.input, InputTransformer::Compile(rule->target_inputs[k], r));
      }
      list.push_back(std::move(t));
    }
    rule_targets.push_back(std::move(list));
  }

  // What a crashed `run` wrote after its last checkpoint is cut first, exactly as its next start
  // would: otherwise the new marks below would keep it, and the run would deliver it again.
  for (size_t i = 0; i < runner.size(); ++i) {
    Target& target = runner.target(i);
    auto it = marks.find(target.name());
    if (it == marks.end() || it->second.cursor.empty()) continue;
    CDC_RETURN_IF_ERROR(
        target.Reconcile(it->second.cursor).WithContext("target '" + target.name() + "'"));
  }
  auto dead_letter_mark = marks.find(state::kDeadLetterMark);
  if (dead_letter_mark != marks.end()) {
    CDC_RETURN_IF_ERROR(dead_letters.Reconcile(dead_letter_mark->second.cursor));
  }

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
  EventDocument document;
  std::vector<uint32_t> matched;
  std::string input_text;
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
    CDC_RETURN_IF_ERROR(matcher->Match(json, matched).WithContext(where));
    if (!matched.empty()) {
      ++progress.matched;
      CDC_RETURN_IF_ERROR(
          event_reader
              .Read(json, archived->event_micros, request.name, cloudevents, processed, id, cloud)
              .WithContext(where));
      OutputEvent out(processed, std::move(id), std::move(json), std::move(cloud));
      bool parsed = false;
      for (uint32_t r : matched) {
        for (const RuleTarget& t : rule_targets[r]) {
          const std::string* input = nullptr;
          if (t.input != nullptr) {
            if (!parsed) {
              CDC_RETURN_IF_ERROR(
                  document.Parse(out.Json(EventFormat::kEventBridge)).WithContext(where));
              parsed = true;
            }
            t.input->Apply(document, input_text);
            input = &input_text;
          }
          CDC_RETURN_IF_ERROR(runner.Deliver(out, t.to, input, {}));
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

}  // namespace cdc::archive
