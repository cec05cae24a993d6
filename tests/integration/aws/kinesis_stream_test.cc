// The kinesis stream kind against kinesalite (npm, started once per test process): records go
// in and come back per shard in offset order with their types, times and payloads (a 2.5 MB
// one in fragments); a new process finds where each shard ends and its pipeline id; partial
// PutRecords failures (a proxy failing every third record) leave neither gaps nor duplicates
// for readers though Kinesis holds records out of order; a split and a merge are followed by the
// writer and by readers (parents first); a missing stream is refused with what to fix, and a
// stream of another shard count holds the pipeline's shards. The AWS CLI reads what the stream
// wrote.
#include "stream/kinesis/kinesis_stream.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <set>

#include "config/config.h"
#include "integration/aws/aws_test_util.h"
#include "integration/aws/failing_proxy.h"
#include "integration/aws/signing_gate.h"
#include "support/test_util.h"

namespace cdc::stream {
namespace {

using testing::AwsEmulator;

AwsEmulator* Kinesalite() {
  std::string missing;
  AwsEmulator* k = AwsEmulator::Kinesalite(&missing);
  if (k == nullptr) ADD_FAILURE() << "kinesalite is not installed: " << missing;
  return k;
}

// The emulators take any key; the client wants one.
void SetAwsEnv() {
  for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
}

StreamConfig Config(const std::string& endpoint, const std::string& name, int shards,
                    bool create = true) {
  auto o = std::make_shared<KinesisStreamOptions>();
  o->stream_name = name;
  o->endpoint = endpoint;
  o->create = create;
  o->poll_interval_ms = 20;
  o->retry_seconds = 20;
  StreamConfig c;
  c.type = "kinesis";
  c.kind = BuiltinRegistry().FindStream("kinesis");
  c.options = o;
  c.shards = shards;
  return c;
}

struct Got {
  uint64_t offset;
  uint8_t type;
  int64_t micros;
  std::string payload;
};

// Everything of `shard` from `from` up to its durable end.
std::vector<Got> ReadAll(const Stream& s, ShardId shard, uint64_t from) {
  std::vector<Got> out;
  auto reader = s.OpenReader(shard, StreamOffset(from));
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return out;
  uint64_t end = s.stats(shard).durable_end.value();
  for (int idle = 0; idle < 200 && (out.empty() ? from : out.back().offset + 1) < end;) {
    auto r = (*reader)->Next();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    if (!*r) {
      ++idle;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    out.push_back(
        {(*r)->offset.value(), (*r)->type, (*r)->append_micros, std::string((*r)->payload)});
  }
  return out;
}

std::string Payload(uint32_t shard, uint64_t i) {
  return "record " + std::to_string(i) + " of shard " + std::to_string(shard);
}

TEST(KinesisFrame, RoundTripAndRefusals) {
  KinesisFrame f;
  f.offset = 0x0102030405060708ull;
  f.fragment = 2;
  f.fragments = 3;
  f.type = 7;
  f.append_micros = 1700000000123456;
  f.data = "abc";
  std::string bytes = EncodeKinesisFrame(f);
  ASSERT_EQ(bytes.size(), kKinesisFrameHeader + 3);
  KinesisFrame back;
  ASSERT_TRUE(DecodeKinesisFrame(bytes, back));
  EXPECT_EQ(back.offset, f.offset);
  EXPECT_EQ(back.fragment, 2u);
  EXPECT_EQ(back.fragments, 3u);
  EXPECT_EQ(back.type, 7);
  EXPECT_EQ(back.append_micros, f.append_micros);
  EXPECT_EQ(back.data, "abc");
  EXPECT_FALSE(DecodeKinesisFrame(bytes.substr(0, kKinesisFrameHeader - 1), back));
  std::string wrong = bytes;
  wrong[0] = 'x';
  EXPECT_FALSE(DecodeKinesisFrame(wrong, back));
  f.fragment = 3;  // past the count
  EXPECT_FALSE(DecodeKinesisFrame(EncodeKinesisFrame(f), back));
}

TEST(KinesisStream, RecordsComeBackPerShardInOrderAndANewProcessFindsTheEnds) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  StreamConfig config = Config(k->endpoint(), "stream-roundtrip", 3);
  std::string big(2'500'000, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  {
    auto s = OpenStream(config, "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Stream& stream = **s;
    EXPECT_EQ(stream.shard_count(), 3u);
    EXPECT_EQ(stream.identity(), "");
    ASSERT_TRUE(stream.SetIdentity("pipeline-1").ok());
    for (uint64_t i = 0; i < 40; ++i) {
      for (uint32_t sh = 0; sh < 3; ++sh) {
        auto off = stream.Append(ShardId(sh), static_cast<uint8_t>(1 + sh), Payload(sh, i),
                                 1000 + static_cast<int64_t>(i));
        ASSERT_TRUE(off.ok());
        EXPECT_EQ(off->value(), i);
      }
    }
    ASSERT_TRUE(stream.Append(ShardId(1), 9, big, 5).ok());  // offset 40 of shard 1
    EXPECT_EQ(stream.stats(ShardId(1)).durable_end.value(), 0u);
    ASSERT_TRUE(stream.Sync().ok());
    EXPECT_EQ(stream.stats(ShardId(1)).durable_end.value(), 41u);
    for (uint32_t sh = 0; sh < 3; ++sh) {
      auto got = ReadAll(stream, ShardId(sh), 0);
      ASSERT_EQ(got.size(), sh == 1 ? 41u : 40u) << "shard " << sh;
      for (uint64_t i = 0; i < 40; ++i) {
        EXPECT_EQ(got[i].offset, i);
        EXPECT_EQ(got[i].type, 1 + sh);
        EXPECT_EQ(got[i].micros, 1000 + static_cast<int64_t>(i));
        EXPECT_EQ(got[i].payload, Payload(sh, i));
      }
      if (sh == 1) {
        EXPECT_EQ(got[40].type, 9);
        EXPECT_TRUE(got[40].payload == big) << "the 2.5 MB record came back altered";
      }
    }
    // From the middle.
    auto mid = ReadAll(stream, ShardId(2), 25);
    ASSERT_EQ(mid.size(), 15u);
    EXPECT_EQ(mid.front().offset, 25u);
    EXPECT_EQ(mid.front().payload, Payload(2, 25));
  }
  // A new process: the ends, the id, and appends go on from there.
  auto s = OpenStream(config, "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Stream& stream = **s;
  EXPECT_EQ(stream.identity(), "pipeline-1");
  EXPECT_EQ(stream.stats(ShardId(0)).next.value(), 40u);
  EXPECT_EQ(stream.stats(ShardId(1)).next.value(), 41u);
  EXPECT_EQ(stream.stats(ShardId(2)).durable_end.value(), 40u);
  auto last =
      FindLast(stream, ShardId(2), [](const Record& r) -> Result<std::optional<std::string>> {
        return std::optional<std::string>(std::string(r.payload));
      });
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->value_or(""), Payload(2, 39));
  ASSERT_EQ(stream.Append(ShardId(0), 1, "after restart", 1).value().value(), 40u);
  ASSERT_TRUE(stream.Sync().ok());
  auto tail = ReadAll(stream, ShardId(0), 39);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[1].payload, "after restart");

  // The AWS CLI sees the records: one per append of shard 0 and 2, the big one in 3 fragments.
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "stream-roundtrip");
  std::map<std::string, size_t> per_shard;
  for (const auto& r : records) {
    ++per_shard[r.shard];
    KinesisFrame f;
    ASSERT_TRUE(DecodeKinesisFrame(r.data, f)) << r.sequence;
  }
  ASSERT_EQ(per_shard.size(), 3u);
  EXPECT_EQ(per_shard["shardId-000000000000"], 41u);
  EXPECT_EQ(per_shard["shardId-000000000001"], 43u);
  EXPECT_EQ(per_shard["shardId-000000000002"], 40u);
  // A retention call is harmless, and a going back over records Kinesis holds is refused.
  EXPECT_TRUE(stream.ApplyRetention(ShardId(0), StreamOffset(30), 0).ok());
  Status back = stream.TruncateTo(ShardId(0), StreamOffset(3));
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(back.message().find("cannot be taken back"), std::string::npos) << back.message();
}

TEST(KinesisStream, PartialFailuresLeaveNoGapAndNoDuplicateForReaders) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  testing::FailingProxy proxy(k->endpoint());
  StreamConfig config = Config(proxy.url(), "stream-partial", 2);
  auto s = OpenStream(config, "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Stream& stream = **s;
  for (int round = 0; round < 5; ++round) {
    for (uint64_t i = 0; i < 60; ++i) {
      uint64_t n = round * 60 + i;
      ASSERT_TRUE(stream.Append(ShardId(n % 2), 1, Payload(n % 2, n / 2), 0).ok());
    }
    ASSERT_TRUE(stream.Sync().ok());
  }
  EXPECT_GT(proxy.failed(), 20);
  for (uint32_t sh = 0; sh < 2; ++sh) {
    auto got = ReadAll(stream, ShardId(sh), 0);
    ASSERT_EQ(got.size(), 150u);
    for (uint64_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].offset, i);
      EXPECT_EQ(got[i].payload, Payload(sh, i));
    }
  }
  // Kinesis holds the records put after a failed one twice (they go again in order): a reader
  // of the raw stream sees more records than offsets, and out of order.
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "stream-partial");
  EXPECT_GT(records.size(), 300u);
  bool out_of_order = false;
  std::map<std::string, uint64_t> last;
  for (const auto& r : records) {
    KinesisFrame f;
    ASSERT_TRUE(DecodeKinesisFrame(r.data, f));
    if (last.contains(r.shard) && f.offset <= last[r.shard]) out_of_order = true;
    last[r.shard] = f.offset;
  }
  EXPECT_TRUE(out_of_order);
  // A new process reads the same chain.
  auto again = OpenStream(config, "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->stats(ShardId(0)).next.value(), 150u);
  EXPECT_EQ((*again)->stats(ShardId(1)).next.value(), 150u);
  auto got = ReadAll(**again, ShardId(1), 100);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got.front().payload, Payload(1, 100));
}

TEST(KinesisStream, AMissingStreamIsRefusedWithWhatToFix) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  auto missing = OpenStream(Config(k->endpoint(), "no-such-stream", 2, /*create=*/false), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'no-such-stream'"), std::string::npos);
  EXPECT_NE(missing.status().message().find("stream.create: true"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("--shard-count 2"), std::string::npos);
}

// stream.shards counts the pipeline's shards (hash keys), not Kinesis': a stream of 2 Kinesis
// shards holds 3 pipeline shards, each read back alone and in order.
TEST(KinesisStream, AStreamOfAnotherShardCountHoldsThePipelinesShards) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  ASSERT_TRUE(OpenStream(Config(k->endpoint(), "two-shards", 2), "").ok());
  {
    auto s = OpenStream(Config(k->endpoint(), "two-shards", 3), "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (uint64_t i = 0; i < 30; ++i) {
      for (uint32_t sh = 0; sh < 3; ++sh) {
        ASSERT_TRUE((*s)->Append(ShardId(sh), 1, Payload(sh, i), 1).ok());
      }
    }
    ASSERT_TRUE((*s)->Sync().ok());
  }
  auto s = OpenStream(Config(k->endpoint(), "two-shards", 3), "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  for (uint32_t sh = 0; sh < 3; ++sh) {
    EXPECT_EQ((*s)->stats(ShardId(sh)).durable_end.value(), 30u) << "shard " << sh;
    auto got = ReadAll(**s, ShardId(sh), 0);
    ASSERT_EQ(got.size(), 30u) << "shard " << sh;
    for (uint64_t i = 0; i < 30; ++i) EXPECT_EQ(got[i].payload, Payload(sh, i));
  }
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), "two-shards");
  std::map<std::string, std::set<std::string>> keys;  // Kinesis shard -> partition keys
  for (const auto& r : records) keys[r.shard].insert(r.partition_key);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys["shardId-000000000000"].size() + keys["shardId-000000000001"].size(), 3u);
}

// Wrong credentials, through a gate that checks signatures as AWS does: refused at once (not
// retried for retry_seconds) with what to check, and nothing of the secret in the message. The
// right ones pass the same gate.
TEST(KinesisStream, WrongCredentialsAreRefusedWithWhatToCheck) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  testing::SigningGate gate(k->endpoint(), {{"AKIDTESTEMULATOR", "test-secret-not-real"}});
  StreamConfig config = Config(gate.url(), "gated", 1);
  auto good = OpenStream(config, "");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_GT(gate.forwarded(), 0);
  EXPECT_EQ(gate.refused(), 0);

  ::setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-1234", 1);
  auto wrong = OpenStream(config, "");
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDNOBODYKNOWS", 1);
  auto unknown = OpenStream(config, "");
  SetAwsEnv();
  for (const auto* r : {&wrong, &unknown}) {
    ASSERT_FALSE(r->ok());
    const std::string& m = r->status().message();
    EXPECT_EQ(r->status().code(), StatusCode::kFailedPrecondition) << m;
    EXPECT_NE(m.find("the AWS credentials were refused"), std::string::npos) << m;
    EXPECT_NE(m.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << m;
    EXPECT_EQ(m.find("wrong-secret-value-1234"), std::string::npos) << m;
  }
  EXPECT_NE(wrong.status().message().find("InvalidSignatureException"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("UnrecognizedClientException"), std::string::npos);
  EXPECT_EQ(gate.refused(), 2) << "refused once each, not retried";
}

// Waits until the stream is ACTIVE again after a split or merge.
void WaitActive(const std::string& endpoint, const std::string& stream) {
  for (int i = 0; i < 200; ++i) {
    auto r =
        testing::RunAwsCli(endpoint, "kinesis describe-stream-summary --stream-name " + stream +
                                         " --query StreamDescriptionSummary."
                                         "StreamStatus --output text");
    if (r.out.find("ACTIVE") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << stream << " did not become ACTIVE";
}

// A split and a merge under a writer and readers that keep running: the writer's records go on
// in the children (PutRecords names the new shard), readers finish the closed parent, then go
// on in the child holding their hash key, skipping the other shard's records in a merged one;
// a new process finds the ends along the lineage, and a reader starts from an anchor in a child.
TEST(KinesisStream, ASplitAndAMergeAreFollowedInOrder) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  AwsEmulator* k = Kinesalite();
  ASSERT_NE(k, nullptr);
  SetAwsEnv();
  const std::string name = "resharded";
  StreamConfig config = Config(k->endpoint(), name, 4);
  auto s = OpenStream(config, "");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Stream& stream = **s;
  auto append = [&](uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i) {
      for (uint32_t sh = 0; sh < 4; ++sh) {
        auto off = stream.Append(ShardId(sh), 1, Payload(sh, i), static_cast<int64_t>(i));
        ASSERT_TRUE(off.ok());
        ASSERT_EQ(off->value(), i);
      }
    }
    ASSERT_TRUE(stream.Sync().ok());
  };
  append(0, 100);
  // Readers opened before the resharding read on across it.
  std::vector<std::unique_ptr<ShardReader>> readers;
  std::vector<std::vector<std::string>> seen(4);
  for (uint32_t sh = 0; sh < 4; ++sh) {
    auto r = stream.OpenReader(ShardId(sh), StreamOffset(0));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    readers.push_back(std::move(*r));
  }
  auto read_to = [&](uint64_t end) {
    for (uint32_t sh = 0; sh < 4; ++sh) {
      for (int idle = 0; idle < 500 && seen[sh].size() < end;) {
        auto r = readers[sh]->Next();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        if (!*r) {
          ++idle;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        ASSERT_EQ((*r)->offset.value(), seen[sh].size()) << "shard " << sh;
        seen[sh].emplace_back((*r)->payload);
      }
      ASSERT_EQ(seen[sh].size(), end) << "shard " << sh;
    }
  };
  read_to(60);

  // Split Kinesis shard 0 (pipeline shard 0's hash key stays in the lower child), merge 2 and 3
  // (both pipeline shards' hash keys in one child).
  auto split = testing::RunAwsCli(
      k->endpoint(), "kinesis split-shard --stream-name " + name +
                         " --shard-to-split shardId-000000000000 --new-starting-hash-key "
                         "42535295865117307932921825928971026432");  // 2^125
  ASSERT_EQ(split.exit_code, 0) << split.err;
  WaitActive(k->endpoint(), name);
  auto merge =
      testing::RunAwsCli(k->endpoint(), "kinesis merge-shards --stream-name " + name +
                                            " --shard-to-merge shardId-000000000002"
                                            " --adjacent-shard-to-merge shardId-000000000003");
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  WaitActive(k->endpoint(), name);

  append(100, 200);
  read_to(200);
  for (uint32_t sh = 0; sh < 4; ++sh) {
    for (uint64_t i = 0; i < 200; ++i) ASSERT_EQ(seen[sh][i], Payload(sh, i));
  }

  // Kinesis holds them as expected: the children got the records from 100 on, the merged child
  // both shards' records.
  auto records = testing::ReadStreamWithAwsCli(k->endpoint(), name);
  std::map<std::string, std::set<std::string>> keys;
  std::map<std::string, size_t> count;
  for (const auto& r : records) {
    keys[r.shard].insert(r.partition_key);
    ++count[r.shard];
  }
  auto listed = testing::RunAwsCli(
      k->endpoint(), "kinesis list-shards --stream-name " + name + " --query 'length(Shards)'");
  EXPECT_EQ(listed.out, "7\n") << "4 shards, 2 from the split, 1 from the merge";
  EXPECT_EQ(keys.size(), 6u) << "the split's upper child holds no pipeline shard's hash key";
  EXPECT_EQ(count["shardId-000000000000"], 100u);
  EXPECT_EQ(count["shardId-000000000004"], 100u) << "the split's lower child";
  EXPECT_EQ(count["shardId-000000000005"], 0u);
  EXPECT_EQ(keys["shardId-000000000006"], (std::set<std::string>{"shard-2", "shard-3"}));
  EXPECT_EQ(count["shardId-000000000006"], 200u);

  // A new process: the ends along the lineage, all records from 0, and from an anchor in a child.
  auto again = OpenStream(config, "");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (uint32_t sh = 0; sh < 4; ++sh) {
    EXPECT_EQ((*again)->stats(ShardId(sh)).durable_end.value(), 200u) << "shard " << sh;
    auto all = ReadAll(**again, ShardId(sh), 0);
    ASSERT_EQ(all.size(), 200u) << "shard " << sh;
    for (uint64_t i = 0; i < 200; ++i) ASSERT_EQ(all[i].payload, Payload(sh, i));
    auto tail = ReadAll(**again, ShardId(sh), 170);
    ASSERT_EQ(tail.size(), 30u) << "shard " << sh;
    EXPECT_EQ(tail.front().payload, Payload(sh, 170));
  }
  // Appends of the new process go on in the children.
  ASSERT_EQ((*again)->Append(ShardId(3), 1, "after", 1).value().value(), 200u);
  ASSERT_TRUE((*again)->Sync().ok());
  auto last = ReadAll(**again, ShardId(3), 199);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1].payload, "after");

  // A process reading shard 3 only learns its end from the chain.
  StreamConfig one = config;
  one.only_shards = {3};
  auto reader_only = OpenStream(one, "");
  ASSERT_TRUE(reader_only.ok()) << reader_only.status().ToString();
  EXPECT_EQ((*reader_only)->stats(ShardId(3)).durable_end.value(), 201u);
}

}  // namespace
}  // namespace cdc::stream
