// The stream as the runtime opens and uses it: through OpenStream and the Stream interface only.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "stream/stream.h"
#include "support/test_util.h"

namespace cdc::stream {
namespace {

std::unique_ptr<Stream> MustOpen(const StreamConfig& config, const std::string& data_dir) {
  auto s = OpenStream(config, data_dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// The records of one shard a reader sees from `from`, payloads only.
std::vector<std::string> Payloads(const Stream& stream, ShardId shard, uint64_t from) {
  std::vector<std::string> out;
  auto reader = stream.OpenReader(shard, StreamOffset(from));
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return out;
  while (true) {
    auto record = (*reader)->Next();
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    if (!record.ok() || !*record) return out;
    out.emplace_back((*record)->payload);
  }
}

TEST(OpenStream, OpensTheConfiguredShardsAndReadsBackWhatWasSynced) {
  testing::TempDir tmp;
  StreamConfig config;
  config.shards = 3;
  {
    auto stream = MustOpen(config, tmp.path());
    ASSERT_NE(stream, nullptr);
    EXPECT_EQ(stream->shard_count(), 3u);
    ASSERT_TRUE(stream->Append(ShardId(2), 1, "a", 10).ok());
    auto keyed = stream->Append(
        "public.users\x1f"
        "42",
        1, "b", 11);
    ASSERT_TRUE(keyed.ok());
    EXPECT_EQ(keyed->first, ShardForKey("public.users\x1f"
                                        "42",
                                        3));
    // Nothing is visible before the group sync.
    EXPECT_EQ(stream->stats(ShardId(2)).durable_end, StreamOffset(0));
    ASSERT_TRUE(stream->Sync().ok());
    EXPECT_EQ(stream->stats(ShardId(2)).next.value(), keyed->first == ShardId(2) ? 2u : 1u);
    EXPECT_EQ(Payloads(*stream, ShardId(2), 0).front(), "a");
    // A second open of the same data dir is refused while the first is open.
    EXPECT_FALSE(OpenStream(config, tmp.path()).ok());
  }
  // Reopened: the records are still there; another shard count is refused.
  auto again = MustOpen(config, tmp.path());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Payloads(*again, ShardId(2), 0).front(), "a");
  again.reset();
  StreamConfig other = config;
  other.shards = 5;
  EXPECT_FALSE(OpenStream(other, tmp.path()).ok());
}

TEST(OpenStream, FindLastReturnsTheLastRecordTheProbeAccepts) {
  testing::TempDir tmp;
  StreamConfig config;
  config.shards = 1;
  auto stream = MustOpen(config, tmp.path());
  ASSERT_NE(stream, nullptr);
  auto probe = [](const Record& r) -> Result<std::optional<std::string>> {
    if (r.type != 1) return std::optional<std::string>();
    return std::optional<std::string>(std::string(r.payload));
  };
  auto none = FindLast(*stream, ShardId(0), probe);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "an empty shard has no last record";
  // Type-1 records 0..99, then 50 records of type 2 the probe skips: the search has to go back
  // over several windows.
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(stream->Append(ShardId(0), 1, std::to_string(i), 0).ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(stream->Append(ShardId(0), 2, "skip", 0).ok());
  ASSERT_TRUE(stream->Sync().ok());
  auto last = FindLast(*stream, ShardId(0), probe);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(**last, "99");
  // A probe's error ends the search.
  auto failed = FindLast(
      *stream, ShardId(0),
      [](const Record&) -> Result<std::optional<std::string>> { return Corruption("unreadable"); });
  EXPECT_FALSE(failed.ok());
}

// The archives' kind of stream: local, one shard, cut back to a cursor after a crash.
TEST(OpenLocalStream, TruncatesBackToAnOffset) {
  testing::TempDir tmp;
  auto opened = OpenLocalStream(tmp / "archive", 1, LocalStreamOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Stream& stream = **opened;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(stream.Append(ShardId(0), 1, std::to_string(i), 0).ok());
  }
  ASSERT_TRUE(stream.Sync().ok());
  ASSERT_TRUE(stream.TruncateTo(ShardId(0), StreamOffset(3)).ok());
  EXPECT_EQ(stream.stats(ShardId(0)).next, StreamOffset(3));
  auto offset = stream.Append(ShardId(0), 1, "again", 0);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, StreamOffset(3));
  ASSERT_TRUE(stream.Sync().ok());
  EXPECT_EQ(Payloads(stream, ShardId(0), 0), (std::vector<std::string>{"0", "1", "2", "again"}));
}

}  // namespace
}  // namespace cdc::stream
