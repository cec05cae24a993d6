// The stream's synced ends (the `synced` file): records that were synced, and so may have been
// acknowledged to the source, are never cut as a torn tail; retention never reads what it
// deletes; CheckStream (verify-data) finds each kind of damage and changes nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "stream/internal.h"
#include "stream/log.h"
#include "support/test_util.h"

namespace cdc::stream {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBaseMicros = 1'700'000'000'000'000;

std::string Payload(uint64_t i) { return "change-" + std::to_string(i) + std::string(40, 'x'); }

class StreamDamageTest : public ::testing::Test {
 protected:
  std::string dir() const { return tmp_.path() + "/stream"; }
  std::string shard_dir() const { return dir() + "/shard-0000"; }
  std::vector<std::string> Segments() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(shard_dir())) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  LogOptions Options() const {
    LogOptions o;
    o.segment_bytes = 1000;
    o.record_synced_ends = true;
    return o;
  }
  // Appends `n` records to shard 0 and syncs the stream (which records the synced end).
  void AppendAndSync(EmbeddedStream& stream, uint64_t from, uint64_t n) {
    for (uint64_t i = from; i < from + n; ++i) {
      ASSERT_TRUE(stream.Append(ShardId(0), 1, Payload(i), kBaseMicros).ok());
    }
    ASSERT_TRUE(stream.Sync().ok());
  }
  void Fill(uint64_t n) {
    auto stream = EmbeddedStream::Open(dir(), 1, Options());
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    AppendAndSync(**stream, 0, n);
  }
  static uint64_t Size(const std::string& path) { return fs::file_size(path); }
  static void FlipByte(const std::string& path, uint64_t pos) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(pos));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
  }
  StreamCheck Check() {
    StreamConfig config;
    config.shards = 1;
    auto check = CheckStream(config, tmp_.path());
    EXPECT_TRUE(check.ok()) << check.status().ToString();
    return check.ok() ? *check : StreamCheck{};
  }

  testing::TempDir tmp_;
};

TEST_F(StreamDamageTest, SyncRecordsTheSyncedEnds) {
  Fill(50);
  auto content = testing::ReadFile(dir() + "/synced");
  auto ends = internal::ParseSynced(content, "synced");
  ASSERT_TRUE(ends.ok()) << ends.status().ToString();
  EXPECT_EQ(*ends, std::vector<uint64_t>{50});
  StreamCheck check = Check();
  ASSERT_EQ(check.shards.size(), 1u);
  EXPECT_TRUE(check.problems.empty());
  EXPECT_TRUE(check.shards[0].damage.empty());
  EXPECT_EQ(check.shards[0].end, 50u);
  EXPECT_EQ(check.shards[0].synced_end, 50u);
}

TEST_F(StreamDamageTest, ASyncedLastRecordCutShortIsRefusedNotCut) {
  Fill(50);
  std::string last = Segments().back();
  uint64_t size = Size(last);
  fs::resize_file(last, size - 7);
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), StatusCode::kCorruption);
  std::string message(stream.status().message());
  EXPECT_NE(message.find(last), std::string::npos) << message;
  EXPECT_NE(message.find("offsets 49 to 49"), std::string::npos) << message;
  EXPECT_NE(message.find("synced"), std::string::npos) << message;
  EXPECT_EQ(Size(last), size - 7) << "the file must be left as it was";
  EXPECT_FALSE(Check().shards[0].damage.empty());
}

TEST_F(StreamDamageTest, AFlippedByteInTheLastSyncedRecordIsRefused) {
  Fill(50);
  std::string last = Segments().back();
  FlipByte(last, Size(last) - 3);
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(std::string(stream.status().message()).find("checksum mismatch"), std::string::npos)
      << stream.status().ToString();
  StreamCheck check = Check();
  ASSERT_EQ(check.shards[0].damage.size(), 2u);  // the damaged record, and the synced end
  EXPECT_FALSE(check.shards[0].damage[0].torn_tail);
}

TEST_F(StreamDamageTest, TheNewestSegmentDeletedIsRefused) {
  Fill(50);
  ASSERT_GE(Segments().size(), 3u);
  std::string newest = Segments().back();
  fs::remove(newest);
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_FALSE(stream.ok());
  std::string message(stream.status().message());
  EXPECT_NE(message.find("are missing or damaged"), std::string::npos) << message;
  EXPECT_NE(message.find(dir() + "/synced"), std::string::npos) << message;
  StreamCheck check = Check();
  ASSERT_EQ(check.shards[0].damage.size(), 1u);
  EXPECT_EQ(check.shards[0].damage[0].last, 49u);
}

TEST_F(StreamDamageTest, AnUnsyncedTornTailAfterTheSyncedEndIsStillCut) {
  Fill(50);
  std::string last = Segments().back();
  uint64_t size = Size(last);
  {
    std::ofstream f(last, std::ios::binary | std::ios::app);
    f << std::string(30, '\x07');
  }
  StreamCheck check = Check();
  ASSERT_EQ(check.shards[0].damage.size(), 1u);
  EXPECT_TRUE(check.shards[0].damage[0].torn_tail);
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ(Size(last), size);
  EXPECT_EQ((*stream)->stats(ShardId(0)).next, StreamOffset(50));
}

TEST_F(StreamDamageTest, MovingTheSyncedFileAwayAcceptsTheLoss) {
  Fill(50);
  fs::remove(Segments().back());
  fs::rename(dir() + "/synced", dir() + "/synced.moved");
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_LT((*stream)->stats(ShardId(0)).next, StreamOffset(50));
}

TEST_F(StreamDamageTest, RetentionNeverReadsWhatItDeletes) {
  Fill(50);
  std::vector<std::string> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  FlipByte(segments.front(), 30);  // in the oldest segment's first record
  LogOptions options = Options();
  options.retention_age = std::chrono::hours(1);
  auto stream = EmbeddedStream::Open(dir(), 1, options);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  // Fully delivered, but younger than the retention age: kept, and not read.
  ASSERT_TRUE((*stream)->ApplyRetention(ShardId(0), StreamOffset(50), kBaseMicros).ok());
  EXPECT_TRUE(fs::exists(segments.front()));
  // Older than the retention age (by its modification time): deleted without being read.
  int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t later = now + 2 * 3600 * 1'000'000ll;
  Status s = (*stream)->ApplyRetention(ShardId(0), StreamOffset(50), later);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(fs::exists(segments.front()));
}

TEST_F(StreamDamageTest, CheckStreamFindsAMissingMiddleSegmentAndAFlippedByte) {
  Fill(50);
  std::vector<std::string> segments = Segments();
  ASSERT_GE(segments.size(), 4u);
  fs::remove(segments[1]);
  FlipByte(segments[2], 40);
  StreamCheck check = Check();
  ASSERT_EQ(check.shards[0].damage.size(), 2u);
  EXPECT_NE(check.shards[0].damage[0].what.find("missing"), std::string::npos);
  EXPECT_NE(check.shards[0].damage[1].what.find("checksum"), std::string::npos)
      << check.shards[0].damage[1].what;
}

TEST_F(StreamDamageTest, AStreamWithoutASyncedFileOpensAsBefore) {
  Fill(50);
  fs::remove(dir() + "/synced");
  fs::resize_file(Segments().back(), Size(Segments().back()) - 7);
  auto stream = EmbeddedStream::Open(dir(), 1, Options());
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ((*stream)->stats(ShardId(0)).next, StreamOffset(49));
  EXPECT_TRUE(fs::exists(dir() + "/synced"));
}

}  // namespace
}  // namespace cdc::stream
