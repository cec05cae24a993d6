#include "stream/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "stream/internal.h"
#include "support/test_util.h"

namespace cdc::stream {
namespace {

namespace fs = std::filesystem;
using internal::kHeaderBytes;
using std::chrono::milliseconds;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kBaseMicros = 1'700'000'000 * kSecond;

// A payload whose content and size depend on i, so that a misplaced record is noticed.
std::string Payload(uint64_t i) {
  return "record-" + std::to_string(i) + "-" + std::string(i % 37, static_cast<char>('a' + i % 26));
}

struct Read {
  uint64_t offset;
  uint8_t type;
  int64_t micros;
  std::string payload;
};

// Every durable record from `from`, or the error that stopped the reading.
Result<std::vector<Read>> ReadAll(const ShardLog& log, uint64_t from) {
  CDC_ASSIGN_OR_RETURN(std::unique_ptr<ShardReader> reader, log.OpenReader(StreamOffset(from)));
  std::vector<Read> out;
  for (;;) {
    CDC_ASSIGN_OR_RETURN(std::optional<Record> rec, reader->Next());
    if (!rec) return out;
    out.push_back({rec->offset.value(), rec->type, rec->append_micros, std::string(rec->payload)});
  }
}

void ExpectRecords(const ShardLog& log, uint64_t from, uint64_t end) {
  Result<std::vector<Read>> got = ReadAll(log, from);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), end - from);
  for (uint64_t i = from; i < end; ++i) {
    const Read& r = (*got)[i - from];
    ASSERT_EQ(r.offset, i);
    ASSERT_EQ(r.payload, Payload(i)) << "offset " << i;
    ASSERT_EQ(r.type, static_cast<uint8_t>(i % 3));
    ASSERT_EQ(r.micros, kBaseMicros + static_cast<int64_t>(i));
  }
}

class StreamLogTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_ / "stream"; }
  std::string shard_dir(uint32_t shard = 0) const {
    return dir() + "/" + internal::ShardDirName(ShardId(shard));
  }
  std::vector<std::string> Segments(uint32_t shard = 0) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(shard_dir(shard))) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<EmbeddedStream> Open(uint32_t shards = 1, LogOptions options = {}) {
    Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), shards, options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Appends records [from, to) to shard 0 with Payload(i), type i % 3, time kBaseMicros + i.
  static void AppendRange(ShardLog& log, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      Result<StreamOffset> off = log.Append(static_cast<uint8_t>(i % 3), Payload(i),
                                            kBaseMicros + static_cast<int64_t>(i));
      ASSERT_TRUE(off.ok()) << off.status().ToString();
      ASSERT_EQ(off->value(), i);
    }
  }

  // Byte position of record `index` in a segment whose first record is `first` (Payload sizes).
  static uint64_t RecordPosition(uint64_t first, uint64_t index) {
    uint64_t pos = 0;
    for (uint64_t i = first; i < index; ++i) pos += kHeaderBytes + Payload(i).size();
    return pos;
  }

  static void FlipByte(const std::string& path, uint64_t pos) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(pos));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
  }

  static void AppendBytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f << bytes;
  }

  static LogOptions SmallSegments(uint64_t bytes) {
    LogOptions o;
    o.segment_bytes = bytes;
    return o;
  }

  testing::TempDir tmp_;
};

TEST_F(StreamLogTest, RoundTripAcrossSegments) {
  auto stream = Open(1, SmallSegments(1000));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 300);
  ASSERT_TRUE(log.Sync().ok());

  ShardStats st = log.stats();
  EXPECT_EQ(st.first, StreamOffset(0));
  EXPECT_EQ(st.next, StreamOffset(300));
  EXPECT_EQ(st.durable_end, StreamOffset(300));
  std::vector<std::string> files = Segments();
  EXPECT_GT(files.size(), 5u);
  EXPECT_EQ(st.segments, files.size());
  uint64_t on_disk = 0;
  for (const std::string& f : files) on_disk += fs::file_size(f);
  EXPECT_EQ(st.bytes, on_disk);
  EXPECT_EQ(fs::path(files[0]).filename(), "00000000000000000000.log");
  for (const std::string& f : files) {
    // A segment is closed once it exceeds segment_bytes, so it holds at most one record more.
    EXPECT_LE(fs::file_size(f), 1000 + kHeaderBytes + 64) << f;
  }

  ExpectRecords(log, 0, 300);
  ExpectRecords(log, 137, 300);
  ExpectRecords(log, 299, 300);
  ExpectRecords(log, 300, 300);
  // Every segment file's name is the offset of its first record.
  for (const std::string& f : files) {
    uint64_t first = *internal::ParseSegmentFileName(fs::path(f).filename().string());
    Result<std::vector<Read>> got = ReadAll(log, first);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->front().offset, first);
  }
}

TEST_F(StreamLogTest, ReadersNeverSeeUnsyncedRecords) {
  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 10);
  ASSERT_TRUE(log.Sync().ok());
  AppendRange(log, 10, 15);
  EXPECT_EQ(log.next_offset(), StreamOffset(15));
  EXPECT_EQ(log.durable_end(), StreamOffset(10));

  auto reader = log.OpenReader(StreamOffset(0));
  ASSERT_TRUE(reader.ok());
  for (uint64_t i = 0; i < 10; ++i) {
    auto rec = (*reader)->Next();
    ASSERT_TRUE(rec.ok() && rec->has_value());
    EXPECT_EQ((*rec)->offset, StreamOffset(i));
  }
  auto end = (*reader)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());

  ASSERT_TRUE(log.Sync().ok());
  for (uint64_t i = 10; i < 15; ++i) {
    auto rec = (*reader)->Next();
    ASSERT_TRUE(rec.ok() && rec->has_value());
    EXPECT_EQ((*rec)->offset, StreamOffset(i));
    EXPECT_EQ((*rec)->payload, Payload(i));
  }
  EXPECT_FALSE((*reader)->Next()->has_value());
}

TEST_F(StreamLogTest, ReopenContinuesOffsets) {
  {
    auto stream = Open(1, SmallSegments(2000));
    AppendRange(stream->shard(ShardId(0)), 0, 120);
    ASSERT_TRUE(stream->Sync().ok());
  }
  auto stream = Open(1, SmallSegments(2000));
  ShardLog& log = stream->shard(ShardId(0));
  EXPECT_EQ(log.next_offset(), StreamOffset(120));
  EXPECT_EQ(log.durable_end(), StreamOffset(120));
  EXPECT_EQ(log.truncated_bytes(), 0u);
  size_t segments = Segments().size();
  EXPECT_EQ(log.stats().segments, segments);
  AppendRange(log, 120, 200);
  ASSERT_TRUE(stream->Sync().ok());
  EXPECT_GT(Segments().size(), segments);
  ExpectRecords(log, 0, 200);
}

// The pipeline id is kept in the metadata file across reopens, and CheckStream reads it; a new
// stream has none.
TEST_F(StreamLogTest, IdentityIsKeptAcrossReopens) {
  {
    auto stream = Open(2);
    EXPECT_EQ(stream->identity(), "");
    ASSERT_TRUE(stream->SetIdentity("3f2c8a1e-0000-4000-8000-000000000001").ok());
    EXPECT_EQ(stream->identity(), "3f2c8a1e-0000-4000-8000-000000000001");
  }
  auto stream = Open(2);
  EXPECT_EQ(stream->identity(), "3f2c8a1e-0000-4000-8000-000000000001");
  StreamConfig config;
  config.shards = 2;
  // CheckStream reads <data_dir>/stream, which is dir().
  auto check = CheckStream(config, tmp_.path());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->identity, "3f2c8a1e-0000-4000-8000-000000000001");
}

// A group sync writes and fdatasyncs the shards at the same time: every round makes exactly what
// was appended durable, in every shard, whichever shards were written (some not at all, some
// across segment boundaries), and it all reads back after a reopen.
TEST_F(StreamLogTest, GroupSyncOfManyShardsAtOnce) {
  constexpr uint32_t kShards = 6;
  std::vector<uint64_t> next(kShards, 0);
  {
    auto stream = Open(kShards, SmallSegments(1500));
    for (uint64_t round = 0; round < 40; ++round) {
      for (uint32_t s = 0; s < kShards; ++s) {
        if ((round + s) % 3 == 0) continue;  // idle this round
        uint64_t count = 1 + (round * 7 + s) % 9;
        AppendRange(stream->shard(ShardId(s)), next[s], next[s] + count);
        next[s] += count;
      }
      ASSERT_TRUE(stream->Sync().ok()) << round;
      for (uint32_t s = 0; s < kShards; ++s) {
        ASSERT_EQ(stream->shard(ShardId(s)).durable_end(), StreamOffset(next[s])) << round;
      }
    }
  }
  auto stream = Open(kShards, SmallSegments(1500));
  for (uint32_t s = 0; s < kShards; ++s) {
    EXPECT_GT(Segments(s).size(), 1u);
    ExpectRecords(stream->shard(ShardId(s)), 0, next[s]);
  }
}

TEST_F(StreamLogTest, UnsyncedRecordsAreNotKeptOnClose) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 5);
    ASSERT_TRUE(stream->Sync().ok());
    AppendRange(stream->shard(ShardId(0)), 5, 8);
  }
  auto stream = Open();
  EXPECT_EQ(stream->shard(ShardId(0)).next_offset(), StreamOffset(5));
}

TEST_F(StreamLogTest, TornTailMidRecordIsCutAndAppendsContinue) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  uint64_t size = fs::file_size(seg);
  fs::resize_file(seg, size - 7);  // the last record loses 7 payload bytes

  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  EXPECT_EQ(log.truncated_bytes(), kHeaderBytes + Payload(9).size() - 7);
  EXPECT_EQ(fs::file_size(seg), RecordPosition(0, 9));
  EXPECT_EQ(log.next_offset(), StreamOffset(9));
  AppendRange(log, 9, 12);
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 12);
}

TEST_F(StreamLogTest, TornTailHalfHeaderIsCut) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  AppendBytes(seg, std::string("\x17\x00\x00\x00\xde\xad\xbe\xef\x01\x0a", 10));

  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  EXPECT_EQ(log.truncated_bytes(), 10u);
  EXPECT_EQ(log.next_offset(), StreamOffset(10));
  AppendRange(log, 10, 11);
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 11);
  // The cut is durable: a third open finds nothing to cut.
  stream.reset();
  stream = Open();
  EXPECT_EQ(stream->shard(ShardId(0)).truncated_bytes(), 0u);
}

TEST_F(StreamLogTest, TornTailWithBadChecksumIsCut) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  FlipByte(seg, fs::file_size(seg) - 3);  // inside the last record's payload

  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  EXPECT_EQ(log.truncated_bytes(), kHeaderBytes + Payload(9).size());
  EXPECT_EQ(log.next_offset(), StreamOffset(9));
  ExpectRecords(log, 0, 9);
}

TEST_F(StreamLogTest, TornTailOfZerosIsCut) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 3);
    ASSERT_TRUE(stream->Sync().ok());
  }
  AppendBytes(Segments().at(0), std::string(4096, '\0'));  // size grew, data never written
  auto stream = Open();
  EXPECT_EQ(stream->shard(ShardId(0)).truncated_bytes(), 4096u);
  EXPECT_EQ(stream->shard(ShardId(0)).next_offset(), StreamOffset(3));
}

TEST_F(StreamLogTest, EmptyLastSegmentFromACrashAfterRotationIsUsed) {
  {
    auto stream = Open(1, SmallSegments(500));
    AppendRange(stream->shard(ShardId(0)), 0, 40);
    ASSERT_TRUE(stream->Sync().ok());
  }
  // A crash right after the next segment was created, before anything was written to it.
  std::string empty = shard_dir() + "/" + internal::SegmentFileName(40);
  AppendBytes(empty, "");
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  EXPECT_EQ(log.next_offset(), StreamOffset(40));
  EXPECT_EQ(log.truncated_bytes(), 0u);
  AppendRange(log, 40, 45);
  ASSERT_TRUE(log.Sync().ok());
  EXPECT_EQ(fs::file_size(empty), RecordPosition(40, 45));
  ExpectRecords(log, 0, 45);
}

TEST_F(StreamLogTest, ValidRecordWithTheWrongOffsetIsCorruption) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  uint64_t size = fs::file_size(seg);
  std::string stray;
  internal::EncodeRecord(stray, 50, 0, kBaseMicros, "from somewhere else");
  AppendBytes(seg, stray);
  Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), 1, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(
      s.status().message().find("byte " + std::to_string(size) + " has offset 50, expected 10"),
      std::string::npos)
      << s.status().message();
}

TEST_F(StreamLogTest, BadChecksumBeforeValidRecordsIsCorruption) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  uint64_t pos = RecordPosition(0, 3);
  FlipByte(seg, pos + kHeaderBytes + 2);  // a payload byte of record 3
  uint64_t size = fs::file_size(seg);

  Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), 1, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(s.status().data_loss());
  EXPECT_NE(s.status().message().find(seg), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("byte " + std::to_string(pos)), std::string::npos)
      << s.status().message();
  EXPECT_EQ(fs::file_size(seg), size);  // nothing was cut
}

TEST_F(StreamLogTest, ImpossibleLengthBeforeValidRecordsIsCorruption) {
  {
    auto stream = Open();
    AppendRange(stream->shard(ShardId(0)), 0, 10);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string seg = Segments().at(0);
  uint64_t pos = RecordPosition(0, 4);
  FlipByte(seg, pos + 3);  // the top byte of record 4's length
  Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), 1, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(s.status().message().find("byte " + std::to_string(pos)), std::string::npos)
      << s.status().message();
}

TEST_F(StreamLogTest, CorruptionInAnEarlierSegmentIsReportedByTheReader) {
  {
    auto stream = Open(1, SmallSegments(500));
    AppendRange(stream->shard(ShardId(0)), 0, 60);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string first = Segments().at(0);
  uint64_t pos = RecordPosition(0, 2);
  FlipByte(first, pos + kHeaderBytes);

  auto stream = Open(1, SmallSegments(500));  // only the last segment is checked at open
  ShardLog& log = stream->shard(ShardId(0));
  auto reader = log.OpenReader(StreamOffset(0));
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->Next().ok());
  EXPECT_TRUE((*reader)->Next().ok());
  auto bad = (*reader)->Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find(first), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("byte " + std::to_string(pos)), std::string::npos)
      << bad.status().message();
  // Readers that start after the damage are not affected.
  ExpectRecords(log, 40, 60);
}

TEST_F(StreamLogTest, ShortEarlierSegmentIsReportedByTheReader) {
  {
    auto stream = Open(1, SmallSegments(500));
    AppendRange(stream->shard(ShardId(0)), 0, 60);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::string first = Segments().at(0);
  fs::resize_file(first, fs::file_size(first) - 5);
  auto stream = Open(1, SmallSegments(500));
  Result<std::vector<Read>> got = ReadAll(stream->shard(ShardId(0)), 0);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find(first), std::string::npos) << got.status().message();
}

TEST_F(StreamLogTest, MissingSegmentInTheMiddleIsReportedByTheReader) {
  {
    auto stream = Open(1, SmallSegments(500));
    AppendRange(stream->shard(ShardId(0)), 0, 60);
    ASSERT_TRUE(stream->Sync().ok());
  }
  std::vector<std::string> files = Segments();
  ASSERT_GE(files.size(), 3u);
  fs::remove(files[1]);
  auto stream = Open(1, SmallSegments(500));
  Result<std::vector<Read>> got = ReadAll(stream->shard(ShardId(0)), 0);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find(files[0]), std::string::npos) << got.status().message();
}

TEST_F(StreamLogTest, ConcurrentReaderSeesEveryRecordOnceInOrder) {
  constexpr uint64_t kRecords = 100'000;
  LogOptions options = SmallSegments(64 << 10);
  options.fsync_bytes = 32 << 10;
  auto stream = Open(1, options);
  ShardLog& log = stream->shard(ShardId(0));

  std::atomic<bool> failed{false};
  std::string failure;
  std::thread reader_thread([&] {
    auto reader = log.OpenReader(StreamOffset(0));
    if (!reader.ok()) {
      failure = reader.status().ToString();
      failed = true;
      return;
    }
    uint64_t expected = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (expected < kRecords && std::chrono::steady_clock::now() < deadline) {
      auto rec = (*reader)->Next();
      if (!rec.ok()) {
        failure = rec.status().ToString();
        failed = true;
        return;
      }
      if (!rec->has_value()) {
        stream->WaitForData({StreamOffset(expected)}, milliseconds(100));
        continue;
      }
      if ((*rec)->offset.value() != expected || (*rec)->payload != Payload(expected)) {
        failure = "at offset " + std::to_string(expected) + " got offset " +
                  std::to_string((*rec)->offset.value());
        failed = true;
        return;
      }
      if ((*rec)->offset.value() >= log.durable_end().value()) {
        failure = "read a record that is not durable yet";
        failed = true;
        return;
      }
      ++expected;
    }
    if (expected != kRecords) {
      failure = "timed out at offset " + std::to_string(expected);
      failed = true;
    }
  });

  for (uint64_t i = 0; i < kRecords && !failed; ++i) {
    auto off = log.Append(static_cast<uint8_t>(i % 3), Payload(i), kBaseMicros);
    ASSERT_TRUE(off.ok());
    if (stream->SyncDue()) {
      ASSERT_TRUE(stream->Sync().ok());
    }
  }
  ASSERT_TRUE(stream->Sync().ok());
  reader_thread.join();
  EXPECT_FALSE(failed) << failure;
  EXPECT_GT(log.stats().segments, 20u);
}

TEST_F(StreamLogTest, ReaderKeepsReadingWhileRetentionDeletesBehindIt) {
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 100);
  ASSERT_TRUE(log.Sync().ok());
  auto reader = log.OpenReader(StreamOffset(10));
  ASSERT_TRUE(reader.ok());
  for (uint64_t i = 10; i < 30; ++i) ASSERT_EQ((*reader)->Next()->value().offset.value(), i);
  // Everything below 90 is checkpointed: the reader's own segment goes away too.
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(90), kBaseMicros).ok());
  EXPECT_GT(log.stats().first.value(), 30u);
  // The open segment file stays readable; the next one is gone, which is reported, not skipped.
  uint64_t next = 30;
  Status error;
  for (;;) {
    auto rec = (*reader)->Next();
    if (!rec.ok()) {
      error = rec.status();
      break;
    }
    ASSERT_TRUE(rec->has_value());
    ASSERT_EQ((*rec)->offset.value(), next++);
  }
  EXPECT_EQ(error.code(), StatusCode::kNotFound) << error.ToString();
  EXPECT_GT(next, 30u);
  // A reader above the checkpoint is unaffected.
  ExpectRecords(log, log.stats().first.value(), 100);
}

TEST_F(StreamLogTest, RetentionDeletesCheckpointedSegmentsRightAwayWithoutLimits) {
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 100);
  ASSERT_TRUE(log.Sync().ok());
  std::vector<std::string> files = Segments();
  std::vector<uint64_t> firsts;
  for (const std::string& f : files) {
    firsts.push_back(*internal::ParseSegmentFileName(fs::path(f).filename().string()));
  }
  ASSERT_GE(firsts.size(), 5u);

  // Checkpoint inside segment 3: segments 0..2 hold only records below it.
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(firsts[3] + 1), kBaseMicros).ok());
  EXPECT_EQ(log.stats().first, StreamOffset(firsts[3]));
  EXPECT_EQ(Segments().size(), files.size() - 3);
  EXPECT_FALSE(fs::exists(files[2]));
  EXPECT_EQ(log.OpenReader(StreamOffset(firsts[3] - 1)).status().code(), StatusCode::kNotFound);
  ExpectRecords(log, firsts[3], 100);

  // Checkpoint exactly at a segment start: the segment before it is entirely below.
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(firsts[5]), kBaseMicros).ok());
  EXPECT_EQ(log.stats().first, StreamOffset(firsts[5]));

  // Everything checkpointed: all but the active segment go.
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(100), kBaseMicros).ok());
  EXPECT_EQ(Segments().size(), 1u);
  EXPECT_EQ(log.stats().segments, 1u);
  EXPECT_EQ(log.stats().first, StreamOffset(firsts.back()));
  EXPECT_EQ(log.stats().bytes, fs::file_size(Segments()[0]));
  ExpectRecords(log, firsts.back(), 100);

  // After a reopen the log still starts at the oldest remaining segment.
  stream.reset();
  stream = Open(1, SmallSegments(500));
  EXPECT_EQ(stream->shard(ShardId(0)).stats().first, StreamOffset(firsts.back()));
  ExpectRecords(stream->shard(ShardId(0)), firsts.back(), 100);
}

TEST_F(StreamLogTest, RetentionBySizeKeepsTheShardUnderTheLimit) {
  LogOptions options = SmallSegments(500);
  options.retention_bytes = 2000;
  auto stream = Open(1, options);
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 100);
  ASSERT_TRUE(log.Sync().ok());
  uint64_t before = log.stats().bytes;
  ASSERT_GT(before, 4000u);

  // Nothing is checkpointed: nothing may go, however large the shard is.
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(0), kBaseMicros).ok());
  EXPECT_EQ(log.stats().bytes, before);

  ASSERT_TRUE(log.ApplyRetention(StreamOffset(100), kBaseMicros).ok());
  ShardStats st = log.stats();
  EXPECT_LE(st.bytes, 2000u);
  EXPECT_GT(st.bytes + 600, 2000u);  // oldest first, and only while over the limit
  ExpectRecords(log, st.first.value(), 100);
}

TEST_F(StreamLogTest, RetentionByAgeUsesEachSegmentsLastAppend) {
  LogOptions options = SmallSegments(500);
  options.retention_age = std::chrono::seconds(60);
  auto append_at = [](ShardLog& log, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      ASSERT_TRUE(
          log.Append(0, std::string(200, 'x'), kBaseMicros + static_cast<int64_t>(i) * 10 * kSecond)
              .ok());
    }
  };
  {
    auto stream = Open(1, options);
    ShardLog& log = stream->shard(ShardId(0));
    append_at(log, 0, 30);  // record i at base + 10 i seconds; 3 records a segment
    ASSERT_TRUE(log.Sync().ok());
    ASSERT_EQ(log.stats().segments, 10u);

    // now = base + 150 s: segments whose last record (3k + 2) is at most at base + 90 s go.
    ASSERT_TRUE(log.ApplyRetention(StreamOffset(30), kBaseMicros + 150 * kSecond).ok());
    EXPECT_EQ(log.stats().first, StreamOffset(9));
    // A younger checkpoint limits it too.
    ASSERT_TRUE(log.ApplyRetention(StreamOffset(13), kBaseMicros + 1000 * kSecond).ok());
    EXPECT_EQ(log.stats().first, StreamOffset(12));
  }
  // After a reopen, a segment's modification time stands for its last append (retention never
  // reads what it deletes): give each the time of its last record.
  for (const std::string& path : Segments()) {
    uint64_t first = std::stoull(fs::path(path).filename().string());
    int64_t micros = kBaseMicros + static_cast<int64_t>(first + 2) * 10 * kSecond;
    struct timespec times[2] = {{micros / kSecond, (micros % kSecond) * 1000},
                                {micros / kSecond, (micros % kSecond) * 1000}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
  }
  auto stream = Open(1, options);
  ShardLog& log = stream->shard(ShardId(0));
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(30), kBaseMicros + 200 * kSecond).ok());
  EXPECT_EQ(log.stats().first, StreamOffset(15));  // last of 12..14 is 140 s, of 15..17 170 s
  ASSERT_TRUE(log.ApplyRetention(StreamOffset(30), kBaseMicros + 100000 * kSecond).ok());
  EXPECT_EQ(log.stats().first, StreamOffset(27));  // never the active segment
}

TEST_F(StreamLogTest, OpeningWithAnotherShardCountIsAnError) {
  ASSERT_NE(Open(4), nullptr);
  Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), 8, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  const std::string& m = s.status().message();
  EXPECT_NE(m.find("created with 4 shards"), std::string::npos) << m;
  EXPECT_NE(m.find("8 shards were asked for"), std::string::npos) << m;
  EXPECT_NE(m.find("Set the shard count back to 4"), std::string::npos) << m;
  EXPECT_NE(Open(4), nullptr);
}

TEST_F(StreamLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto stream = Open(2);
  Result<std::unique_ptr<EmbeddedStream>> second = EmbeddedStream::Open(dir(), 2, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("already open"), std::string::npos);
}

TEST_F(StreamLogTest, StreamAppendRoutesByPartitionKey) {
  auto stream = Open(4);
  auto a = stream->Append("hello", 1, "payload-a", kBaseMicros);
  auto b = stream->Append("a", 1, "payload-b", kBaseMicros);
  auto c = stream->Append("hello", 1, "payload-c", kBaseMicros);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->first, ShardForKey("hello", 4));
  EXPECT_EQ(a->first, ShardId(1));
  EXPECT_EQ(b->first, ShardId(0));
  EXPECT_EQ(a->second, StreamOffset(0));
  EXPECT_EQ(c->second, StreamOffset(1));
  ASSERT_TRUE(stream->Sync().ok());
  EXPECT_EQ(stream->shard(ShardId(1)).durable_end(), StreamOffset(2));
  EXPECT_EQ(stream->shard(ShardId(0)).durable_end(), StreamOffset(1));
  EXPECT_EQ(stream->shard(ShardId(2)).durable_end(), StreamOffset(0));
}

TEST_F(StreamLogTest, SyncDueByBytes) {
  LogOptions options;
  options.fsync_bytes = 1000;
  options.fsync_interval = milliseconds(3'600'000);
  auto stream = Open(2, options);
  EXPECT_FALSE(stream->SyncDue());
  ASSERT_TRUE(stream->Append("k", 0, std::string(100, 'x'), kBaseMicros).ok());
  EXPECT_FALSE(stream->SyncDue());
  ASSERT_TRUE(stream->Append("other", 0, std::string(900, 'x'), kBaseMicros).ok());
  EXPECT_TRUE(stream->SyncDue());  // 1000 payload bytes plus headers, over two shards
  ASSERT_TRUE(stream->Sync().ok());
  EXPECT_FALSE(stream->SyncDue());
}

TEST_F(StreamLogTest, SyncDueByInterval) {
  LogOptions options;
  options.fsync_interval = milliseconds(20);
  auto stream = Open(1, options);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_FALSE(stream->SyncDue());  // nothing to sync, however long ago the last sync was
  ASSERT_TRUE(stream->Append("k", 0, "small", kBaseMicros).ok());
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_TRUE(stream->SyncDue());
  ASSERT_TRUE(stream->Sync().ok());
  EXPECT_FALSE(stream->SyncDue());
}

TEST_F(StreamLogTest, WaitForDataWakesOnSync) {
  auto stream = Open(2);
  ShardId shard = ShardForKey("key", 2);
  std::atomic<bool> returned{false};
  auto start = std::chrono::steady_clock::now();
  std::thread waiter([&] {
    stream->WaitForData({StreamOffset(0), StreamOffset(0)}, milliseconds(30'000));
    returned = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(stream->Append("key", 0, "x", kBaseMicros).ok());
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(returned) << "woke before the record was synced";
  ASSERT_TRUE(stream->Sync().ok());
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(stream->shard(shard).durable_end(), StreamOffset(1));

  // Already above what the caller has seen: no wait at all.
  start = std::chrono::steady_clock::now();
  stream->WaitForData({StreamOffset(0), StreamOffset(0)}, milliseconds(30'000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(StreamLogTest, WakeEndsAWait) {
  auto stream = Open(1);
  auto start = std::chrono::steady_clock::now();
  std::thread waiter([&] { stream->WaitForData({StreamOffset(0)}, milliseconds(30'000)); });
  std::this_thread::sleep_for(milliseconds(50));
  stream->Wake();
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(StreamLogTest, WaitForDataTimesOut) {
  auto stream = Open(1);
  auto start = std::chrono::steady_clock::now();
  stream->WaitForData({StreamOffset(0)}, milliseconds(20));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
}

TEST_F(StreamLogTest, OversizedPayloadIsRefused) {
  auto stream = Open(1);
  auto r = stream->shard(ShardId(0))
               .Append(0, std::string(internal::kMaxPayloadBytes + 1, 'x'), kBaseMicros);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(stream->shard(ShardId(0)).next_offset(), StreamOffset(0));
}

TEST_F(StreamLogTest, ReaderFromBeyondTheEndIsAnError) {
  auto stream = Open(1);
  AppendRange(stream->shard(ShardId(0)), 0, 3);
  EXPECT_EQ(stream->shard(ShardId(0)).OpenReader(StreamOffset(4)).status().code(),
            StatusCode::kInvalidArgument);
  // From exactly the next offset is fine: it waits for future records.
  EXPECT_TRUE(stream->shard(ShardId(0)).OpenReader(StreamOffset(3)).ok());
}

TEST_F(StreamLogTest, ShardsWithoutTheMetaFileAreAnError) {
  ASSERT_NE(Open(2), nullptr);
  fs::remove(dir() + "/" + std::string(internal::kMetaFileName));
  Result<std::unique_ptr<EmbeddedStream>> s = EmbeddedStream::Open(dir(), 2, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("stream.meta"), std::string::npos);
}

// ---- truncation (the archives' cut back to their checkpoint) ----

TEST_F(StreamLogTest, TruncateWithinTheActiveSegmentThenAppendTheSameOffsets) {
  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 10);
  ASSERT_TRUE(log.Sync().ok());
  ASSERT_TRUE(log.TruncateTo(StreamOffset(6)).ok());
  EXPECT_EQ(log.next_offset(), StreamOffset(6));
  EXPECT_EQ(log.durable_end(), StreamOffset(6));
  EXPECT_EQ(fs::file_size(Segments().at(0)), RecordPosition(0, 6));
  EXPECT_EQ(log.stats().bytes, RecordPosition(0, 6));
  ExpectRecords(log, 0, 6);
  AppendRange(log, 6, 12);
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 12);

  stream.reset();
  stream = Open();
  EXPECT_EQ(stream->shard(ShardId(0)).next_offset(), StreamOffset(12));
  EXPECT_EQ(stream->shard(ShardId(0)).truncated_bytes(), 0u);
  ExpectRecords(stream->shard(ShardId(0)), 0, 12);
}

TEST_F(StreamLogTest, TruncateAcrossSegmentsDeletesTheLaterOnes) {
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 100);
  ASSERT_TRUE(log.Sync().ok());
  std::vector<std::string> files = Segments();
  ASSERT_GE(files.size(), 6u);
  uint64_t first3 = *internal::ParseSegmentFileName(fs::path(files[3]).filename().string());

  ASSERT_TRUE(log.TruncateTo(StreamOffset(first3 + 2)).ok());
  EXPECT_EQ(Segments().size(), 4u);
  EXPECT_FALSE(fs::exists(files[4]));
  EXPECT_EQ(fs::file_size(files[3]), RecordPosition(first3, first3 + 2));
  EXPECT_EQ(log.stats().segments, 4u);
  EXPECT_EQ(log.next_offset(), StreamOffset(first3 + 2));
  ExpectRecords(log, 0, first3 + 2);

  // Appends continue in the cut segment and rotate from there as usual.
  AppendRange(log, first3 + 2, 100);
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 100);
  stream.reset();
  stream = Open(1, SmallSegments(500));
  EXPECT_EQ(stream->shard(ShardId(0)).next_offset(), StreamOffset(100));
  ExpectRecords(stream->shard(ShardId(0)), 0, 100);
}

TEST_F(StreamLogTest, TruncateToASegmentStartLeavesItEmpty) {
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 60);
  ASSERT_TRUE(log.Sync().ok());
  std::vector<std::string> files = Segments();
  ASSERT_GE(files.size(), 3u);
  uint64_t first2 = *internal::ParseSegmentFileName(fs::path(files[2]).filename().string());

  ASSERT_TRUE(log.TruncateTo(StreamOffset(first2)).ok());
  EXPECT_EQ(Segments().size(), 3u);
  EXPECT_EQ(fs::file_size(files[2]), 0u);
  ExpectRecords(log, 0, first2);
  // Reopening a log whose last segment is empty, then appending: the offsets carry on.
  stream.reset();
  stream = Open(1, SmallSegments(500));
  ShardLog& again = stream->shard(ShardId(0));
  EXPECT_EQ(again.next_offset(), StreamOffset(first2));
  AppendRange(again, first2, 60);
  ASSERT_TRUE(again.Sync().ok());
  ExpectRecords(again, 0, 60);

  // Down to nothing at all.
  ASSERT_TRUE(again.TruncateTo(StreamOffset(0)).ok());
  EXPECT_EQ(Segments().size(), 1u);
  EXPECT_EQ(again.stats().bytes, 0u);
  ExpectRecords(again, 0, 0);
  AppendRange(again, 0, 3);
  ASSERT_TRUE(again.Sync().ok());
  ExpectRecords(again, 0, 3);
}

TEST_F(StreamLogTest, TruncateDropsUnsyncedRecords) {
  auto stream = Open();
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 5);
  ASSERT_TRUE(log.Sync().ok());
  AppendRange(log, 5, 8);  // buffered only
  ASSERT_TRUE(log.TruncateTo(StreamOffset(5)).ok());
  EXPECT_EQ(log.next_offset(), StreamOffset(5));
  AppendRange(log, 5, 7);
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 7);
  ASSERT_TRUE(log.TruncateTo(StreamOffset(3)).ok());
  AppendRange(log, 3, 4);  // buffered, then cut together with synced records
  ASSERT_TRUE(log.TruncateTo(StreamOffset(2)).ok());
  ASSERT_TRUE(log.Sync().ok());
  ExpectRecords(log, 0, 2);
  EXPECT_EQ(fs::file_size(Segments().at(0)), RecordPosition(0, 2));
}

TEST_F(StreamLogTest, TruncateOutsideTheLogIsAnError) {
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  AppendRange(log, 0, 50);
  ASSERT_TRUE(log.Sync().ok());
  AppendRange(log, 50, 51);
  Status beyond = log.TruncateTo(StreamOffset(51));
  EXPECT_EQ(beyond.code(), StatusCode::kInvalidArgument) << beyond.ToString();
  EXPECT_NE(beyond.message().find("below 50 are durable"), std::string::npos) << beyond.message();
  EXPECT_EQ(log.next_offset(), StreamOffset(51)) << "a refused truncation changes nothing";

  ASSERT_TRUE(log.ApplyRetention(StreamOffset(50), kBaseMicros).ok());
  uint64_t first = log.stats().first.value();
  ASSERT_GT(first, 0u);
  Status below = log.TruncateTo(StreamOffset(first - 1));
  EXPECT_EQ(below.code(), StatusCode::kNotFound) << below.ToString();
  EXPECT_NE(below.message().find("deleted by retention"), std::string::npos) << below.message();
  ASSERT_TRUE(log.TruncateTo(StreamOffset(first)).ok());
  EXPECT_EQ(log.stats().first, StreamOffset(first));
  EXPECT_EQ(log.next_offset(), StreamOffset(first));
}

TEST_F(StreamLogTest, ATruncationInterruptedAfterDeletingSegmentsIsFinishedByTheNextOne) {
  {
    auto stream = Open(1, SmallSegments(500));
    AppendRange(stream->shard(ShardId(0)), 0, 80);
    ASSERT_TRUE(stream->Sync().ok());
  }
  // What a crash after the first deletions leaves: the newest segments are gone, the segment
  // holding the truncation point is whole.
  std::vector<std::string> files = Segments();
  ASSERT_GE(files.size(), 5u);
  fs::remove(files.back());
  fs::remove(files[files.size() - 2]);
  uint64_t first2 = *internal::ParseSegmentFileName(fs::path(files[2]).filename().string());
  auto stream = Open(1, SmallSegments(500));
  ShardLog& log = stream->shard(ShardId(0));
  ASSERT_TRUE(log.TruncateTo(StreamOffset(first2 + 1)).ok());
  EXPECT_EQ(Segments().size(), 3u);
  ExpectRecords(log, 0, first2 + 1);
}

}  // namespace
}  // namespace cdc::stream
