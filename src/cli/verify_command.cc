#include "cli/verify_command.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/registry.h"
#include "event/source_position.h"
#include "state/sqlite_state_store.h"
#include "state/state_store.h"
#include "stream/stream.h"
#include "target/append_file.h"
#include "target/file/file_target.h"

namespace cdc {
namespace {

class Report {
 public:
  void Problem(const std::string& what, const std::string& remedy) {
    std::printf("PROBLEM %s\n        remedy: %s\n", what.c_str(), remedy.c_str());
    ++problems_;
  }
  void Note(const std::string& what) { std::printf("note    %s\n", what.c_str()); }
  void Ok(const std::string& what) { std::printf("ok      %s\n", what.c_str()); }
  int problems() const { return problems_; }

 private:
  int problems_ = 0;
};

constexpr char kRestore[] =
    "stop `run`; restore the data dir (stream, state.db and consumer files together) from one "
    "backup";

std::string Range(uint64_t first, uint64_t last) {
  if (last == UINT64_MAX) return fmt::format("offsets {} to the end", first);
  if (first == last) return fmt::format("offset {}", first);
  return fmt::format("offsets {} to {}", first, last);
}

std::optional<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

// Whether another process (`run`) holds the stream's lock; nothing is created or changed.
bool StreamInUse(const std::string& dir) {
  int fd = ::open((dir + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return busy;
}

// A consumer file against its mark (a byte length in the state store).
void CheckFileMark(Report& report, const std::string& state_path, const std::string& key,
                   const std::string& what, const std::string& path,
                   const std::map<std::string, state::TargetMark>& marks) {
  auto it = marks.find(key);
  if (it == marks.end()) {
    report.Note(fmt::format("{} ({}): no mark yet (never checkpointed)", what, path));
    return;
  }
  auto cursor = ParseLengthCursor(it->second.cursor);
  if (!cursor.ok()) {
    report.Problem(
        fmt::format("state store {}: table target_marks, key '{}', column cursor: '{}' is not a "
                    "byte length; `run` refuses to start and leaves {} untouched",
                    state_path, key, it->second.cursor, path),
        fmt::format("restore state.db from a backup taken with the stream and {}; or, with `run` "
                    "stopped, set the cursor to the length {} had at the last checkpoint",
                    path, path));
    return;
  }
  std::optional<uint64_t> size = FileSize(path);
  if (!size) {
    if (*cursor > 0) {
      report.Note(
          fmt::format("{}: {} is missing, its mark is {} bytes; `run` creates it and "
                      "appends (what it held is not delivered again)",
                      what, path, *cursor));
    }
    return;
  }
  if (*size < *cursor) {
    report.Note(
        fmt::format("{}: {} has {} bytes, less than its mark ({}): rotated or truncated "
                    "by someone else; `run` appends to it",
                    what, path, *size, *cursor));
  } else if (*size > *cursor) {
    report.Note(
        fmt::format("{}: {} has {} bytes after its mark (written after the last "
                    "checkpoint): `run` cuts them and delivers those events again",
                    what, path, *size - *cursor));
  } else {
    report.Ok(fmt::format("{}: {} matches its mark ({} bytes)", what, path, *cursor));
  }
}

}  // namespace

int VerifyDataCommand(const Config& config) {
  Report report;
  const std::string& data_dir = config.pipeline.data_dir;
  std::printf("verify-data: data dir %s (read-only: nothing is changed)\n", data_dir.c_str());

  // The stream.
  std::optional<stream::StreamCheck> stream;
  auto checked = stream::CheckStream(config.stream, data_dir);
  if (!checked.ok()) {
    report.Problem(std::string(checked.status().message()),
                   "make the stream directory readable and run verify-data again");
  } else {
    stream = std::move(checked).value();
    if (!stream->not_checked.empty()) {
      report.Note(stream->not_checked);
    } else if (!stream->exists) {
      report.Note(fmt::format("no stream in {} yet", stream->dir));
    } else if (StreamInUse(stream->dir)) {
      report.Note("`run` has the stream open: its newest records may still be being written");
    }
    for (const auto& p : stream->problems) report.Problem(p, kRestore);
  }

  // The state store.
  std::map<uint32_t, uint64_t> checkpoints;
  std::map<std::string, state::TargetMark> marks;
  bool have_state = false;
  bool state_empty = true;  // no id, position, checkpoints or marks (or no store at all)
  std::string state_id;     // the pipeline id the state store records
  // A store that is a file (SQLite's in the data dir) may not exist yet; another kind is asked
  // directly.
  const StateKind* state_kind = config.state.kind;
  const bool local_state = state_kind == nullptr || state_kind->local_file != nullptr;
  const std::string state_path = !local_state ? state::DescribeStateStore(config.state)
                                 : state_kind ? state_kind->local_file(config.state)
                                              : state::SqliteStatePath(config.state);
  // What a remedy restores: the file, or the remote store's item.
  const std::string restore =
      local_state ? std::string("restore state.db") : "restore the state in " + state_path;
  struct stat st;
  if (local_state && ::stat(state_path.c_str(), &st) != 0) {
    report.Note(fmt::format("no state store at {} yet", state_path));
  } else if (auto store = state::OpenStateStoreReadOnly(config.state); !store.ok()) {
    report.Problem(std::string(store.status().message()),
                   restore +
                       " from a backup taken together with the stream and the "
                       "consumer files");
  } else {
    have_state = true;
    auto cp = (*store)->ShardCheckpoints();
    if (!cp.ok()) {
      have_state = false;
      report.Problem(std::string(cp.status().message()), restore + " from a backup");
    } else {
      checkpoints = std::move(cp).value();
    }
    auto m = (*store)->TargetMarks();
    if (!m.ok()) {
      report.Problem(std::string(m.status().message()), restore + " from a backup");
    } else {
      marks = std::move(m).value();
    }
    std::vector<std::string> numbers = {"count.published",     "count.unmatched",
                                        "count.dead_lettered", "time.last_commit",
                                        "time.caught_up",      "time.checkpoint"};
    std::vector<std::string> positions = {"source.position"};
    for (int64_t i = 0; i < config.stream.shards; ++i) {
      positions.push_back("source.position." + std::to_string(i));
    }
    int bad = 0;
    auto bad_value = [&](const std::string& key, const std::string& value, const char* kind) {
      ++bad;
      report.Problem(fmt::format("state store {}: table kv, key '{}': '{}' is not {}; `run` "
                                 "refuses to start",
                                 state_path, key, value, kind),
                     restore + " from a backup");
    };
    for (const auto& key : numbers) {
      auto v = (*store)->Value(key);
      if (!v.ok() || !*v) continue;
      uint64_t n = 0;
      const std::string& text = **v;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
        bad_value(key, text, "a number");
      }
    }
    for (const auto& key : positions) {
      auto v = (*store)->Value(key);
      if (!v.ok() || !*v) continue;
      if (!ParsePositionStateText(**v)) bad_value(key, **v, "a source position");
    }
    if (auto id = (*store)->Value("pipeline.id"); id.ok() && *id) state_id = **id;
    auto position = (*store)->Value("source.position");
    state_empty =
        state_id.empty() && checkpoints.empty() && marks.empty() && position.ok() && !*position;
    if (bad == 0 && cp.ok() && m.ok()) {
      report.Ok(fmt::format("state store {}: {} shard checkpoints, {} marks, values readable",
                            state_path, checkpoints.size(), marks.size()));
    }
  }

  // Stream against the checkpoints.
  if (stream && stream->exists) {
    for (uint32_t i = 0; i < stream->shards.size(); ++i) {
      const stream::ShardCheck& shard = stream->shards[i];
      auto it = checkpoints.find(i);
      std::optional<uint64_t> checkpoint;
      if (have_state && it != checkpoints.end()) checkpoint = it->second;
      int problems_before = report.problems();
      for (const auto& d : shard.damage) {
        if (d.torn_tail) {
          report.Note(fmt::format("{}: {}", d.file, d.what));
          continue;
        }
        bool delivered = checkpoint && d.last != UINT64_MAX && d.last < *checkpoint;
        if (delivered) {
          report.Problem(
              fmt::format("{}: {} ({}, all delivered to every target)", d.file, d.what,
                          Range(d.first, d.last)),
              fmt::format("nothing undelivered is affected and `run` never reads it; stop `run` "
                          "and move the file out of {} (e.g. mv {} {}.damaged)",
                          shard.location, d.file, d.file));
        } else {
          report.Problem(
              fmt::format("{}: {} ({}, not yet delivered{})", d.file, d.what,
                          Range(d.first, d.last),
                          shard.synced_end ? fmt::format("; synced and acknowledged to the "
                                                         "source up to offset {}",
                                                         *shard.synced_end)
                                           : std::string()),
              std::string(kRestore) +
                  "; or, to go on without those changes (they are lost for every consumer), "
                  "move " +
                  stream->dir +
                  "/synced away and start `run`, which cuts a damaged tail (a "
                  "damaged record in the middle needs the restore)");
        }
      }
      if (checkpoint && *checkpoint < shard.first) {
        report.Problem(fmt::format("{}: starts at offset {} but its checkpoint is {}: records "
                                   "that were never delivered are gone",
                                   shard.location, shard.first, *checkpoint),
                       kRestore);
      }
      if (checkpoint && *checkpoint > shard.end) {
        report.Problem(fmt::format("{}: has records up to offset {} but its checkpoint is {}: the "
                                   "stream lost records that were fsynced and delivered (replaced, "
                                   "or restored from an older copy than the state store)",
                                   shard.location, shard.end, *checkpoint),
                       kRestore);
      }
      for (const auto& [name, mark] : marks) {
        auto s = mark.shard_next.find(i);
        if (s != mark.shard_next.end() && s->second > shard.end) {
          report.Problem(fmt::format("state store {}: the mark of '{}' is at offset {} of {}, "
                                     "past its end ({})",
                                     state_path, name, s->second, shard.location, shard.end),
                         kRestore);
        }
      }
      if (report.problems() == problems_before) {
        report.Ok(fmt::format("{}: {} segments, offsets {} to {}{}", shard.location, shard.segments,
                              shard.first, shard.end,
                              checkpoint ? fmt::format(", checkpoint {}", *checkpoint) : ""));
      }
    }
  }

  // The data dir's identity: one pipeline id in the state store and the stream, and no empty
  // state store beside an earlier run's data.
  if (stream && stream->exists && !stream->identity.empty() && !state_id.empty() &&
      stream->identity != state_id) {
    report.Problem(fmt::format("the state store {} belongs to pipeline {}, the stream {} to "
                               "pipeline {}: they come from different data dirs or backups",
                               state_path, state_id, stream->dir, stream->identity),
                   std::string(kRestore) +
                       "; or move the state store away and start over with `cdc-pipeline run "
                       "--reset-state` (a new snapshot)");
  }
  if (state_empty) {
    std::vector<std::string> found;
    if (stream && stream->exists) {
      uint64_t appended = 0;
      for (const auto& shard : stream->shards) appended += shard.end;
      if (appended > 0) {
        found.push_back(fmt::format(
            "the stream {} ({} records appended{})", stream->dir, appended,
            stream->identity.empty() ? std::string() : " by pipeline " + stream->identity));
      }
    }
    auto non_empty = [&](const std::string& what, const std::string& path) {
      struct stat fst;
      if (::stat(path.c_str(), &fst) == 0 && S_ISREG(fst.st_mode) && fst.st_size > 0) {
        found.push_back(fmt::format("{} {} ({} bytes)", what, path, fst.st_size));
      }
    };
    for (const auto& t : config.targets) {
      if (const auto* file = t.OptionsAs<FileTargetOptions>()) {
        non_empty("target '" + t.name + "':", file->path);
      }
    }
    non_empty("the dead-letter file", config.dead_letter.path);
    if (!found.empty()) {
      std::string what;
      for (const auto& f : found) what += (what.empty() ? "" : "; ") + f;
      report.Problem(fmt::format("the state store {} is empty or missing, but the data dir holds "
                                 "data of an earlier run: {}; `run` refuses to start",
                                 state_path, what),
                     "restore state.db from a backup taken with this stream and these files; or "
                     "start over with `cdc-pipeline run --reset-state` (a PositionGap event and "
                     "a new snapshot, appended to the target files)");
    }
  }

  // Consumer files against their marks.
  for (const auto& t : config.targets) {
    const auto* file = t.OptionsAs<FileTargetOptions>();
    if (file == nullptr) continue;
    CheckFileMark(report, state_path, t.name, "target '" + t.name + "'", file->path, marks);
  }
  CheckFileMark(report, state_path, state::kDeadLetterMark, "the dead-letter file",
                config.dead_letter.path, marks);

  // What the source keeps in the data dir (the PostgreSQL source: its slot's owner record).
  if (config.source.kind != nullptr && config.source.kind->verify_data != nullptr) {
    for (const auto& finding : config.source.kind->verify_data(config, state_id)) {
      if (finding.problem) {
        report.Problem(finding.what, finding.remedy);
      } else {
        report.Ok(finding.what);
      }
    }
  }
  report.Note(
      "the source itself was not asked: verify-data reads only the data dir (`status` and "
      "`health-check` look at the replication slot)");
  if (report.problems() == 0) {
    std::printf("verify-data: clean\n");
    return 0;
  }
  std::printf("verify-data: %d problem(s) found\n", report.problems());
  return 1;
}

}  // namespace cdc
