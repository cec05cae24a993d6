// The archive (src/archive/archive.h) on real files: appends, reads by event-time range,
// retention, truncation back to a cursor, torn tails, reopening; the archive target's part in the
// checkpoint protocol; the replay helpers.
#include "archive/archive.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "archive/archive_target.h"
#include "archive/replay.h"
#include "event/position_kinds.h"
#include "support/test_util.h"

namespace cdc::archive {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kDay = 86'400 * kSecond;
constexpr int64_t kBase = 1'764'064'800 * kSecond;  // 2025-11-25T10:00:00Z

std::string Event(int i) {
  return R"({"id":"e)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}";
}

struct Got {
  uint64_t offset;
  int64_t event_micros;
  std::string json;
};

std::vector<Got> ReadRange(const Archive& a, int64_t start, int64_t end,
                           std::optional<uint64_t> limit = std::nullopt,
                           uint64_t* scanned = nullptr) {
  auto reader = a.Read(start, end, limit);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<Got> out;
  if (!reader.ok()) return out;
  while (true) {
    auto next = (*reader)->Next();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) break;
    out.push_back({(*next)->offset, (*next)->event_micros, std::string((*next)->json)});
  }
  if (scanned) *scanned = (*reader)->scanned();
  EXPECT_EQ((*reader)->scanned(), (*reader)->total());
  return out;
}

class ArchiveTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_ / "data/archives/a"; }

  std::unique_ptr<Archive> Open(ArchiveOptions options = {}) {
    auto a = Archive::Open(dir(), options);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(a).value() : nullptr;
  }

  // Events [from, to): event i at kBase + i minutes (out of order for odd i: an hour earlier).
  static int64_t TimeOf(int i) {
    return kBase + i * 60 * kSecond - (i % 2 == 1 ? 3600 * kSecond : 0);
  }
  static void AppendRange(Archive& a, int from, int to, int64_t now = kBase) {
    for (int i = from; i < to; ++i) ASSERT_TRUE(a.Append(TimeOf(i), Event(i), now).ok());
  }

  std::string SegmentDir() const { return dir() + "/shard-0000"; }

  testing::TempDir tmp_;
};

TEST_F(ArchiveTest, AppendThenReadByEventTimeRange) {
  auto a = Open();
  EXPECT_TRUE(fs::is_directory(dir())) << "Open creates the directory and its parents";
  AppendRange(*a, 0, 20);
  EXPECT_EQ(a->end(), 0u) << "nothing is durable before Sync";
  EXPECT_TRUE(ReadRange(*a, 0, INT64_MAX).empty());
  ASSERT_TRUE(a->Sync().ok());
  EXPECT_EQ(a->end(), 20u);

  auto all = ReadRange(*a, INT64_MIN, INT64_MAX);
  ASSERT_EQ(all.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(all[i].offset, static_cast<uint64_t>(i));
    EXPECT_EQ(all[i].event_micros, TimeOf(i));
    EXPECT_EQ(all[i].json, Event(i));
  }
  // [kBase + 10 min, kBase + 16 min) holds events 10, 12 and 14 (odd ones are an hour early).
  uint64_t scanned = 0;
  auto window = ReadRange(*a, kBase + 10 * 60 * kSecond, kBase + 16 * 60 * kSecond, {}, &scanned);
  ASSERT_EQ(window.size(), 3u);
  EXPECT_EQ(window[0].json, Event(10));
  EXPECT_EQ(window[2].json, Event(14));
  EXPECT_EQ(scanned, 20u) << "event times are not ordered: every record is read";
  // The start is inclusive, the end exclusive.
  auto edge = ReadRange(*a, TimeOf(4), TimeOf(6));
  ASSERT_EQ(edge.size(), 1u);
  EXPECT_EQ(edge[0].json, Event(4));
  // Events an hour early (odd i) are found by their own time.
  auto early = ReadRange(*a, kBase - 3600 * kSecond, kBase - 3600 * kSecond + 4 * 60 * kSecond);
  ASSERT_EQ(early.size(), 2u);
  EXPECT_EQ(early[0].json, Event(1));
  EXPECT_EQ(early[1].json, Event(3));
}

TEST_F(ArchiveTest, ReadStopsAtALimit) {
  auto a = Open();
  AppendRange(*a, 0, 10);
  ASSERT_TRUE(a->Sync().ok());
  EXPECT_EQ(ReadRange(*a, INT64_MIN, INT64_MAX, 4).size(), 4u);
  EXPECT_EQ(ReadRange(*a, INT64_MIN, INT64_MAX, 100).size(), 10u) << "a limit past the end";
  EXPECT_EQ(ReadRange(*a, INT64_MIN, INT64_MAX, 0).size(), 0u);
}

TEST_F(ArchiveTest, ReopenKeepsEventsAndContinuesOffsets) {
  {
    auto a = Open();
    AppendRange(*a, 0, 5);
    ASSERT_TRUE(a->Sync().ok());
    AppendRange(*a, 5, 7);  // never synced: gone with the process
  }
  auto a = Open();
  EXPECT_EQ(a->end(), 5u);
  AppendRange(*a, 5, 9);
  ASSERT_TRUE(a->Sync().ok());
  auto all = ReadRange(*a, INT64_MIN, INT64_MAX);
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[8].json, Event(8));
}

TEST_F(ArchiveTest, ASecondOpenOfTheSameArchiveIsRefused) {
  auto a = Open();
  auto b = Archive::Open(dir(), {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("already open"), std::string::npos) << b.status().message();
}

TEST_F(ArchiveTest, TruncateBackToACursor) {
  ArchiveOptions small;
  small.segment_bytes = 200;  // a few events a segment
  auto a = Open(small);
  AppendRange(*a, 0, 10);
  ASSERT_TRUE(a->Sync().ok());
  uint64_t cursor = a->end();
  AppendRange(*a, 10, 30);
  ASSERT_TRUE(a->Sync().ok());
  AppendRange(*a, 30, 32);  // buffered
  ASSERT_GT(a->stats().segments, 3u);

  ASSERT_TRUE(a->TruncateTo(cursor).ok());
  EXPECT_EQ(a->end(), cursor);
  ASSERT_EQ(ReadRange(*a, INT64_MIN, INT64_MAX).size(), 10u);
  // The same events are archived again after the cut, at the same offsets.
  AppendRange(*a, 10, 12);
  ASSERT_TRUE(a->Sync().ok());
  a.reset();
  a = Open(small);
  auto all = ReadRange(*a, INT64_MIN, INT64_MAX);
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all[11].offset, 11u);
  EXPECT_EQ(all[11].json, Event(11));

  EXPECT_EQ(a->TruncateTo(13).code(), StatusCode::kInvalidArgument);
}

TEST_F(ArchiveTest, ATornTailIsCutOnOpen) {
  {
    auto a = Open();
    AppendRange(*a, 0, 6);
    ASSERT_TRUE(a->Sync().ok());
  }
  std::string seg = SegmentDir() + "/00000000000000000000.log";
  uint64_t size = fs::file_size(seg);
  fs::resize_file(seg, size - 5);  // the last event loses its end (a crash mid-write)
  {
    std::ofstream f(seg, std::ios::binary | std::ios::app);
    f << std::string(3, '\0');
  }
  auto a = Open();
  EXPECT_EQ(a->end(), 5u);
  auto all = ReadRange(*a, INT64_MIN, INT64_MAX);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[4].json, Event(4));
  AppendRange(*a, 5, 6);
  ASSERT_TRUE(a->Sync().ok());
  EXPECT_EQ(ReadRange(*a, INT64_MIN, INT64_MAX).back().json, Event(5));
}

TEST_F(ArchiveTest, CorruptionBeforeTheTailIsAnError) {
  {
    auto a = Open();
    AppendRange(*a, 0, 6);
    ASSERT_TRUE(a->Sync().ok());
  }
  std::string seg = SegmentDir() + "/00000000000000000000.log";
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);  // inside the first event's payload
    f.put('#');
  }
  auto a = Archive::Open(dir(), {});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kCorruption) << a.status().ToString();
  EXPECT_NE(a.status().message().find(seg), std::string::npos) << a.status().message();
}

TEST_F(ArchiveTest, RetentionDeletesSegmentsArchivedLongEnoughAgo) {
  ArchiveOptions options;
  options.segment_bytes = 150;
  options.retention_days = 2;
  auto a = Open(options);
  // Ten events a day for five days (archived then), rotating segments all along.
  for (int day = 0; day < 5; ++day) AppendRange(*a, day * 10, day * 10 + 10, kBase + day * kDay);
  ASSERT_TRUE(a->Sync().ok());
  uint32_t segments = a->stats().segments;
  ASSERT_GT(segments, 10u);

  ASSERT_TRUE(a->ApplyRetention(kBase + 4 * kDay).ok());
  // Events archived on days 0 to 2 may go (at least two days old), the others stay.
  ArchiveStats st = a->stats();
  EXPECT_LT(st.segments, segments);
  EXPECT_GT(st.first, 10u);
  EXPECT_LE(st.first, 30u);
  auto left = ReadRange(*a, INT64_MIN, INT64_MAX);
  EXPECT_EQ(left.size(), 50u - st.first);
  EXPECT_EQ(left.front().offset, st.first);

  // Reopened, a segment's modification time stands for its last archive time (retention never
  // reads what it deletes): give each the day of its last event.
  a.reset();
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(SegmentDir())) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i < files.size(); ++i) {
    uint64_t last =
        i + 1 < files.size() ? std::stoull(fs::path(files[i + 1]).filename().string()) - 1 : 49;
    int64_t micros = kBase + static_cast<int64_t>(last / 10) * kDay;
    struct timespec times[2] = {{micros / kSecond, (micros % kSecond) * 1000},
                                {micros / kSecond, (micros % kSecond) * 1000}};
    ASSERT_EQ(::utimensat(AT_FDCWD, files[i].c_str(), times, 0), 0) << files[i];
  }
  a = Open(options);
  ASSERT_TRUE(a->ApplyRetention(kBase + 100 * kDay).ok());
  EXPECT_EQ(a->stats().segments, 1u) << "never the segment being appended to";
  EXPECT_EQ(a->end(), 50u);
}

TEST_F(ArchiveTest, RetentionZeroKeepsEverything) {
  ArchiveOptions options;
  options.segment_bytes = 150;
  auto a = Open(options);
  AppendRange(*a, 0, 30, kBase);
  ASSERT_TRUE(a->Sync().ok());
  uint32_t segments = a->stats().segments;
  ASSERT_TRUE(a->ApplyRetention(kBase + 10000 * kDay).ok());
  EXPECT_EQ(a->stats().segments, segments);
  EXPECT_EQ(a->stats().first, 0u);
}

// ---- the archive target ----

class ArchiveTargetTest : public ::testing::Test {
 protected:
  ArchiveTargetTest() {
    config_.name = "audit";
    event_.change.table = "users";
    event_.change.commit_time = Timestamp{kBase + 123456};  // the envelope keeps whole seconds
  }

  ProcessedEvent EventAt(int i) {
    ProcessedEvent e = event_;
    e.change.position = ContentPosition(std::string(31, '0') + std::to_string(i % 10));
    e.change.commit_time.micros += i * kSecond;
    return e;
  }

  std::string Dir() const { return ArchiveDir(tmp_.path(), "audit"); }

  testing::TempDir tmp_;
  ArchiveConfig config_;
  ProcessedEvent event_;
  EnvelopeOptions envelope_;
};

// What the delivery runner hands the archive's target: the event itself (its hidden rule has no
// input transformer).
DeliveryOutcome Send(Target& target, const OutputEvent& out) {
  return target.Deliver(Outgoing{out.Json(EventFormat::kEventBridge), out.id(),
                                 out.event().change.commit_time.micros});
}

TEST_F(ArchiveTargetTest, DeliversFlushesAndReconcilesLikeAFileTarget) {
  auto target = MakeArchiveTarget(config_, tmp_.path());
  EXPECT_EQ(target->name(), "archive:audit");
  EXPECT_FALSE(target->Cursor()) << "not opened before its first use";
  EXPECT_FALSE(fs::exists(Dir())) << "building a target touches nothing";
  ASSERT_TRUE(target->CheckHealth().ok());

  std::vector<std::string> lines;
  for (int i = 0; i < 3; ++i) {
    ProcessedEvent e = EventAt(i);
    OutputEvent out(e, envelope_);
    lines.push_back(out.Json(EventFormat::kEventBridge));
    ASSERT_EQ(Send(*target, out).result, Delivery::kDelivered);
  }
  ASSERT_TRUE(target->Flush().ok());
  ASSERT_EQ(target->Cursor(), std::optional<std::string>("3"));
  for (int i = 3; i < 5; ++i) {
    ProcessedEvent e = EventAt(i);
    ASSERT_EQ(Send(*target, OutputEvent(e, envelope_)).result, Delivery::kDelivered);
  }
  ASSERT_TRUE(target->Flush().ok());
  EXPECT_EQ(target->Cursor(), std::optional<std::string>("5"));
  target.reset();

  // A restart after a crash: back to the mark of the last checkpoint.
  target = MakeArchiveTarget(config_, tmp_.path());
  ASSERT_TRUE(target->Reconcile("3").ok());
  ASSERT_TRUE(target->Flush().ok());
  EXPECT_EQ(target->Cursor(), std::optional<std::string>("3"));
  // A mark beyond the archive (it was replaced): appended to, nothing cut.
  ASSERT_TRUE(target->Reconcile("7").ok());
  EXPECT_EQ(target->Cursor(), std::optional<std::string>("3"));
  EXPECT_FALSE(target->Reconcile("x").ok());
  target.reset();

  auto a = Archive::Open(Dir(), {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto all = ReadRange(**a, INT64_MIN, INT64_MAX);
  ASSERT_EQ(all.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i].json, lines[i]);
    EXPECT_EQ(all[i].event_micros, kBase + i * kSecond) << "the envelope time, whole seconds";
  }
}

TEST_F(ArchiveTargetTest, RetentionComesFromTheConfig) {
  config_.retention_days = 1;
  ArchiveOptions small;
  small.segment_bytes = 100;
  auto target = MakeArchiveTarget(config_, tmp_.path(), small);
  for (int i = 0; i < 10; ++i) {
    ProcessedEvent e = EventAt(i);
    ASSERT_EQ(Send(*target, OutputEvent(e, envelope_)).result, Delivery::kDelivered);
  }
  ASSERT_TRUE(target->Flush().ok());  // archived now: nothing is a day old
  EXPECT_EQ(target->Cursor(), std::optional<std::string>("10"));
  target.reset();
  auto a = Archive::Open(Dir(), {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->stats().first, 0u);
  EXPECT_GT((*a)->stats().segments, 3u);
}

// ---- replay helpers ----

TEST(Replay, AddReplayNameIsTheLastTopLevelField) {
  EXPECT_EQ(AddReplayName(R"({"id":"1","detail":{"a":{}}})", "r1"),
            R"({"id":"1","detail":{"a":{}},"replay-name":"r1"})");
  EXPECT_EQ(AddReplayName("{}", "r"), R"({"replay-name":"r"})");
  EXPECT_EQ(AddReplayName("{ } \n", "r"), R"({ "replay-name":"r"})");
}

TEST(Replay, DefaultNamesFollowTheAwsRule) {
  EXPECT_EQ(DefaultReplayName("audit", kBase), "audit-20251125T100000Z");
  std::string longest(48, 'a');
  std::string name = DefaultReplayName(longest, kBase + 500000);
  EXPECT_LE(name.size(), 64u);
  EXPECT_TRUE(ValidReplayName(name)) << name;
  EXPECT_TRUE(name.ends_with("-20251125T100000.5Z")) << name;
}

}  // namespace
}  // namespace cdc::archive
