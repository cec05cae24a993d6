// Decoding without a server: PostgreSQL's text output into Values, the CopyBoth frames, and
// pgoutput messages built byte by byte (for cases a live server rarely produces).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "event/event_json.h"
#include "event/position_kinds.h"
#include "source/postgres/catalog.h"
#include "source/postgres/chunked_snapshot.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/pgoutput.h"
#include "support/test_util.h"

namespace cdc::pg {
namespace {

std::string Json(const Value& v) { return ValueToJson(v); }

Value Decode(uint32_t oid, std::string_view text) {
  static const PgTypeRegistry types;
  auto v = DecodeText(oid, text, types);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : Value();
}

TEST(PgDecodeTextTest, Integers) {
  EXPECT_EQ(Decode(oid::kInt8, "-9223372036854775808"), Value::Int64(INT64_MIN));
  EXPECT_EQ(Decode(oid::kInt2, "32767"), Value::Int64(32767));
  PgTypeRegistry types;
  EXPECT_FALSE(DecodeText(oid::kInt4, "12x", types).ok());
  EXPECT_FALSE(DecodeText(oid::kInt4, "", types).ok());
}

TEST(PgDecodeTextTest, NumericKeepsExactDigits) {
  std::string forty = "1234567890123456789012345678901234567890.0123456789";
  Value v = Decode(oid::kNumeric, forty);
  EXPECT_EQ(v.kind(), ValueKind::kDecimal);
  EXPECT_EQ(Json(v), forty);
  EXPECT_EQ(Json(Decode(oid::kNumeric, "NaN")), "\"NaN\"");
  EXPECT_EQ(Json(Decode(oid::kNumeric, "-Infinity")), "\"-Infinity\"");
  PgTypeRegistry types;
  EXPECT_FALSE(DecodeText(oid::kNumeric, "1e5", types).ok());
}

TEST(PgDecodeTextTest, Floats) {
  EXPECT_TRUE(std::isnan(Decode(oid::kFloat8, "NaN").as_double()));
  EXPECT_EQ(Decode(oid::kFloat8, "-Infinity").as_double(), -INFINITY);
  EXPECT_EQ(Decode(oid::kFloat4, "0.1").as_double(), 0.1);
  EXPECT_EQ(Decode(oid::kFloat8, "1e+300").as_double(), 1e300);
}

TEST(PgDecodeTextTest, ByteaHexAndEscapeForms) {
  EXPECT_EQ(Decode(oid::kBytea, "\\x00ff00"), Value::Bytes(std::string("\0\xff\0", 3)));
  EXPECT_EQ(Decode(oid::kBytea, "a\\000\\\\b"), Value::Bytes(std::string("a\0\\b", 4)));
  PgTypeRegistry types;
  EXPECT_FALSE(DecodeText(oid::kBytea, "\\x0", types).ok());
}

TEST(PgDecodeTextTest, DatesAndTimes) {
  EXPECT_EQ(Decode(oid::kDate, "1970-01-02"), Value::Date(1));
  EXPECT_EQ(Decode(oid::kDate, "infinity"), Value::Date(Value::kInfinity));
  EXPECT_EQ(Json(Decode(oid::kDate, "0044-03-15 BC")), "\"0044-03-15 BC\"");
  EXPECT_EQ(Json(Decode(oid::kDate, "12345-06-07")), "\"12345-06-07\"");
  EXPECT_EQ(Decode(oid::kTime, "24:00:00"), Value::Time(86400LL * 1000000));
  EXPECT_EQ(Json(Decode(oid::kTime, "10:30:00.25")), "\"10:30:00.25\"");
  EXPECT_EQ(Json(Decode(oid::kTimestamp, "2024-01-15 10:30:00.5")), "\"2024-01-15T10:30:00.5\"");
  EXPECT_EQ(Json(Decode(oid::kTimestampTz, "2024-01-15 10:30:00+05:30")),
            "\"2024-01-15T05:00:00Z\"");
  EXPECT_EQ(Json(Decode(oid::kTimestampTz, "1883-11-18 12:00:00-04:56:02")),
            "\"1883-11-18T16:56:02Z\"");
  EXPECT_EQ(Decode(oid::kTimestampTz, "-infinity"), Value::TimestampTz(Value::kMinusInfinity));
  PgTypeRegistry types;
  EXPECT_FALSE(DecodeText(oid::kDate, "01/15/2024", types).ok());
  EXPECT_FALSE(DecodeText(oid::kTimestampTz, "2024-01-15 10:30:00", types).ok());
}

TEST(PgDecodeTextTest, ArrayLiterals) {
  EXPECT_EQ(Json(Decode(oid::kInt4Array, "{}")), "[]");
  EXPECT_EQ(Json(Decode(oid::kInt4Array, "{1,NULL,3}")), "[1,null,3]");
  EXPECT_EQ(Json(Decode(oid::kInt4Array, "{{1,2},{3,4}}")), "[[1,2],[3,4]]");
  EXPECT_EQ(Json(Decode(oid::kInt4Array, "[0:1]={5,6}")), "[5,6]");
  EXPECT_EQ(Json(Decode(oid::kTextArray, R"({"a,b","c\"d","e\\f","NULL",NULL,""," x "})")),
            R"(["a,b","c\"d","e\\f","NULL",null,""," x "])");
  PgTypeRegistry types;
  EXPECT_FALSE(DecodeText(oid::kInt4Array, "{1,2", types).ok());
  EXPECT_FALSE(DecodeText(oid::kTextArray, "{\"a}", types).ok());
}

TEST(PgDecodeTextTest, DomainsEnumsAndUnknownTypes) {
  PgTypeRegistry types;
  types.Add(PgTypeInfo{20000, "posint", PgTypeClass::kDomain, 0, oid::kInt4});
  types.Add(PgTypeInfo{20001, "posint2", PgTypeClass::kDomain, 0, 20000});
  types.Add(PgTypeInfo{20002, "mood", PgTypeClass::kEnum});
  types.Add(PgTypeInfo{20003, "_mood", PgTypeClass::kArray, 20002});
  EXPECT_EQ(*DecodeText(20001, "7", types), Value::Int64(7));
  EXPECT_EQ(*DecodeText(20002, "happy", types), Value::Text("happy"));
  EXPECT_EQ(Json(*DecodeText(20003, "{happy,sad}", types)), R"(["happy","sad"])");
  EXPECT_EQ(*DecodeText(99999, "(1,2)", types), Value::Text("(1,2)"));
}

TEST(PgDecodeTextTest, ErrorsNeverQuoteTheValue) {
  PgTypeRegistry types;
  auto v = DecodeText(oid::kInt4, "secret@example.com", types);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message().find("secret"), std::string::npos) << v.status().message();
}

// ---- wire messages ----

void Be(std::string& s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Str(std::string& s, std::string_view v) {
  s.append(v);
  s.push_back('\0');
}
void TextCol(std::string& s, std::string_view v) {
  s.push_back('t');
  Be(s, v.size(), 4);
  s.append(v);
}

std::string BeginMsg(uint64_t final_lsn, uint32_t xid) {
  std::string m = "B";
  Be(m, final_lsn, 8);
  Be(m, 0, 8);  // 2000-01-01
  Be(m, xid, 4);
  return m;
}

std::string CommitMsg(uint64_t lsn, uint64_t end) {
  std::string m = "C";
  m.push_back(0);
  Be(m, lsn, 8);
  Be(m, end, 8);
  Be(m, 0, 8);
  return m;
}

// Relation 16400: public.docs(id int4 key, body text, n int4).
std::string RelationMsg(char ident) {
  std::string m = "R";
  Be(m, 16400, 4);
  Str(m, "public");
  Str(m, "docs");
  m.push_back(ident);
  Be(m, 3, 2);
  m.push_back(1);
  Str(m, "id");
  Be(m, oid::kInt4, 4);
  Be(m, 0xffffffff, 4);
  m.push_back(ident == 'f' ? 1 : 0);
  Str(m, "body");
  Be(m, oid::kText, 4);
  Be(m, 0xffffffff, 4);
  m.push_back(ident == 'f' ? 1 : 0);
  Str(m, "n");
  Be(m, oid::kInt4, 4);
  Be(m, 0xffffffff, 4);
  return m;
}

class PgOutputDecoderTest : public ::testing::Test {
 protected:
  std::vector<PgMessage> Feed(const std::vector<std::string>& messages) {
    std::vector<PgMessage> out;
    for (const auto& m : messages) {
      Status s = decoder_.Decode(m, out);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return out;
  }

  PgTypeRegistry types_;
  PgOutputDecoder decoder_{types_, nullptr};
};

TEST_F(PgOutputDecoderTest, UnchangedToastWithoutOldTupleIsLeftOutAndListed) {
  std::string update = "U";
  Be(update, 16400, 4);
  update.push_back('N');
  Be(update, 3, 2);
  TextCol(update, "1");
  update.push_back('u');
  TextCol(update, "2");
  auto out = Feed({BeginMsg(0x100, 7), RelationMsg('d'), update, CommitMsg(0x100, 0x180)});
  ASSERT_EQ(out.size(), 3u);
  const auto& e = std::get<ChangeEvent>(out[1]);
  EXPECT_EQ(e.op, Op::kUpdate);
  EXPECT_FALSE(e.before.has_value());
  ASSERT_TRUE(e.after.has_value());
  EXPECT_EQ(e.after->Find("body"), nullptr);
  EXPECT_EQ(e.unchanged_toast, std::vector<std::string>{"body"});
  EXPECT_EQ(e.position, (ToPosition(PgPosition{Lsn(0x100), TxId(7), 0})));
  EXPECT_EQ(e.commit_time.micros, kPgEpochUnixMicros);
  const auto& c = std::get<PgCommit>(out[2]);
  EXPECT_EQ(c.end_lsn, Lsn(0x180));
  EXPECT_EQ(c.changes, 1u);
}

TEST_F(PgOutputDecoderTest, UnchangedToastIsFilledFromTheFullOldTuple) {
  std::string update = "U";
  Be(update, 16400, 4);
  update.push_back('O');
  Be(update, 3, 2);
  TextCol(update, "1");
  TextCol(update, "long text");
  TextCol(update, "1");
  update.push_back('N');
  Be(update, 3, 2);
  TextCol(update, "1");
  update.push_back('u');
  TextCol(update, "2");
  auto out = Feed({BeginMsg(0x100, 7), RelationMsg('f'), update, CommitMsg(0x100, 0x180)});
  const auto& e = std::get<ChangeEvent>(out[1]);
  ASSERT_TRUE(e.after.has_value());
  ASSERT_NE(e.after->Find("body"), nullptr);
  EXPECT_EQ(*e.after->Find("body"), Value::Text("long text"));
  EXPECT_TRUE(e.unchanged_toast.empty());
  // Without a catalog, the key under FULL is every identity column.
  EXPECT_EQ(e.key.size(), 3u);
}

TEST_F(PgOutputDecoderTest, MalformedMessagesAreCorruptionNotCrashes) {
  std::vector<PgMessage> out;
  EXPECT_EQ(decoder_.Decode("B\x01", out).code(), StatusCode::kCorruption);
  EXPECT_EQ(decoder_.Decode("Z", out).code(), StatusCode::kCorruption);
  std::string insert = "I";
  Be(insert, 999, 4);
  insert.push_back('N');
  ASSERT_TRUE(decoder_.Decode(BeginMsg(1, 1), out).ok());
  EXPECT_EQ(decoder_.Decode(insert, out).code(), StatusCode::kCorruption);
  std::string rel = RelationMsg('d');
  EXPECT_EQ(decoder_.Decode(rel.substr(0, rel.size() - 3), out).code(), StatusCode::kCorruption);
}

// pg_logical_emit_message() (the snapshot's watermarks): flags, the message's LSN, prefix,
// length-prefixed content.
std::string LogicalMsg(bool transactional, uint64_t lsn, std::string_view prefix,
                       std::string_view content) {
  std::string m = "M";
  m.push_back(transactional ? 1 : 0);
  Be(m, lsn, 8);
  m.append(prefix);
  m.push_back('\0');
  Be(m, content.size(), 4);
  m.append(content);
  return m;
}

TEST_F(PgOutputDecoderTest, LogicalMessagesArePassedOnInTheirTransaction) {
  auto out = Feed({BeginMsg(0x100, 7), LogicalMsg(true, 0xf0, "cdc", "s:1:high"),
                   CommitMsg(0x100, 0x180), LogicalMsg(false, 0x190, "hb", "")});
  ASSERT_EQ(out.size(), 4u);
  const auto& m = std::get<PgLogicalMessage>(out[1]);
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.lsn, Lsn(0xf0));
  EXPECT_EQ(m.prefix, "cdc");
  EXPECT_EQ(m.content, "s:1:high");
  EXPECT_EQ(std::get<PgCommit>(out[2]).changes, 0u);  // not a row change
  EXPECT_FALSE(std::get<PgLogicalMessage>(out[3]).transactional);
  std::vector<PgMessage> more;
  std::string cut = LogicalMsg(false, 1, "p", "content");
  EXPECT_EQ(decoder_.Decode(cut.substr(0, cut.size() - 2), more).code(), StatusCode::kCorruption);
  EXPECT_EQ(decoder_.Decode(LogicalMsg(true, 1, "p", ""), more).code(), StatusCode::kCorruption)
      << "a transactional message outside a transaction";
}

// ---- protocol 2: streamed in-progress transactions ----

std::string StreamStart(uint32_t xid, bool first) {
  std::string m = "S";
  Be(m, xid, 4);
  m.push_back(first ? 1 : 0);
  return m;
}
std::string StreamStop() { return "E"; }
std::string StreamCommit(uint32_t xid, uint64_t lsn, uint64_t end) {
  std::string m = "c";
  Be(m, xid, 4);
  m.push_back(0);
  Be(m, lsn, 8);
  Be(m, end, 8);
  Be(m, 0, 8);
  return m;
}
std::string StreamAbort(uint32_t xid, uint32_t subxid) {
  std::string m = "A";
  Be(m, xid, 4);
  Be(m, subxid, 4);
  return m;
}
// A message of a stream block: its type, then the (sub)transaction id, then the body.
std::string InStream(uint32_t xid, const std::string& message) {
  std::string m(1, message[0]);
  Be(m, xid, 4);
  m.append(message, 1);
  return m;
}
std::string InsertMsg(int id) {
  std::string m = "I";
  Be(m, 16400, 4);
  m.push_back('N');
  Be(m, 3, 2);
  TextCol(m, std::to_string(id));
  TextCol(m, "b" + std::to_string(id));
  m.push_back('n');
  return m;
}

class PgStreamingDecoderTest : public PgOutputDecoderTest {
 protected:
  void SetUp() override { decoder_.EnableStreaming(dir_.path()); }

  // Feeds the messages, draining replays in batches of 2 as the replication connection does.
  std::vector<PgMessage> FeedAll(const std::vector<std::string>& messages) {
    std::vector<PgMessage> out;
    for (const auto& m : messages) {
      Status s = decoder_.Decode(m, out);
      EXPECT_TRUE(s.ok()) << s.ToString();
      while (decoder_.replaying()) {
        size_t before = out.size();
        s = decoder_.DrainReplay(out, 2);
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_LE(out.size() - before, 2u);
      }
    }
    return out;
  }

  static std::vector<int> Ids(const std::vector<PgMessage>& out) {
    std::vector<int> ids;
    for (const auto& m : out) {
      if (auto* e = std::get_if<ChangeEvent>(&m)) {
        ids.push_back(static_cast<int>(e->key.Find("id")->as_int64()));
      }
    }
    return ids;
  }

  testing::TempDir dir_;
};

TEST_F(PgStreamingDecoderTest, StreamedTransactionIsReplayedAtItsCommitWithPositions) {
  // Transaction 9 is streamed in two blocks around transaction 7, which commits first.
  auto out = FeedAll({StreamStart(9, true), InStream(9, RelationMsg('d')),
                      InStream(9, InsertMsg(1)), InStream(9, InsertMsg(2)), StreamStop(),
                      BeginMsg(0x100, 7), RelationMsg('d'), InsertMsg(50), CommitMsg(0x100, 0x180),
                      StreamStart(9, false), InStream(9, InsertMsg(3)),
                      InStream(9, LogicalMsg(true, 0x1f0, "cdc", "x")), StreamStop()});
  // Nothing of 9 before its commit; 7 needed a Relation of its own (9's is 9's until it commits).
  EXPECT_EQ(Ids(out), std::vector<int>{50});
  EXPECT_EQ(decoder_.streamed_in_progress(), 1u);
  out = FeedAll({StreamCommit(9, 0x200, 0x280)});
  ASSERT_EQ(out.size(), 6u);  // Begin, 3 changes, the message, Commit
  const auto& b = std::get<PgBegin>(out[0]);
  EXPECT_EQ(b.final_lsn, Lsn(0x200));
  EXPECT_EQ(b.xid, TxId(9));
  EXPECT_EQ(Ids(out), (std::vector<int>{1, 2, 3}));
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(std::get<ChangeEvent>(out[1 + i]).position,
              (ToPosition(PgPosition{Lsn(0x200), TxId(9), i})));
    EXPECT_EQ(std::get<ChangeEvent>(out[1 + i]).commit_time.micros, kPgEpochUnixMicros);
  }
  EXPECT_EQ(std::get<PgLogicalMessage>(out[4]).content, "x");
  const auto& c = std::get<PgCommit>(out[5]);
  EXPECT_EQ(c.end_lsn, Lsn(0x280));
  EXPECT_EQ(c.changes, 3u);
  EXPECT_FALSE(decoder_.in_transaction());
  EXPECT_EQ(decoder_.streamed_in_progress(), 0u);
  EXPECT_EQ(decoder_.streamed_committed(), 1u);
}

TEST_F(PgStreamingDecoderTest, AbortsDiscardTheTransactionOrTheRolledBackSavepoint) {
  // Transaction 9: 1 and 2, savepoint 10 with 3 and 4 rolled back, then 5.
  auto out =
      FeedAll({StreamStart(9, true), InStream(9, RelationMsg('d')), InStream(9, InsertMsg(1)),
               InStream(9, InsertMsg(2)), InStream(10, InsertMsg(3)), StreamStop(),
               StreamStart(9, false), InStream(10, InsertMsg(4)), StreamStop(), StreamAbort(9, 10),
               StreamStart(9, false), InStream(9, InsertMsg(5)), StreamStop(),
               StreamStart(11, true), InStream(11, RelationMsg('d')), InStream(11, InsertMsg(6)),
               StreamStop(), StreamAbort(11, 11), StreamCommit(9, 0x300, 0x380)});
  EXPECT_EQ(Ids(out), (std::vector<int>{1, 2, 5}));
  EXPECT_EQ(std::get<PgCommit>(out.back()).changes, 3u);
  EXPECT_EQ(decoder_.streamed_aborted(), 1u);
  EXPECT_EQ(decoder_.streamed_in_progress(), 0u);
}

TEST_F(PgStreamingDecoderTest, ProtocolViolationsAreCorruption) {
  std::vector<PgMessage> out;
  EXPECT_EQ(decoder_.Decode(StreamStart(9, false), out).code(), StatusCode::kCorruption)
      << "a later segment without the first";
  EXPECT_EQ(decoder_.Decode(StreamStop(), out).code(), StatusCode::kCorruption);
  ASSERT_TRUE(decoder_.Decode(StreamStart(9, true), out).ok());
  EXPECT_EQ(decoder_.Decode(BeginMsg(0x100, 7), out).code(), StatusCode::kCorruption)
      << "Begin inside a stream block";
  EXPECT_EQ(decoder_.Decode("I\x00", out).code(), StatusCode::kCorruption);
  PgTypeRegistry types;
  PgOutputDecoder plain(types, nullptr);
  EXPECT_EQ(plain.Decode(StreamStart(9, true), out).code(), StatusCode::kCorruption)
      << "streaming was not asked for";
}

TEST_F(PgStreamingDecoderTest, CommitOfATransactionNeverStreamedToUsIsEmpty) {
  auto out = FeedAll({StreamCommit(12, 0x400, 0x480)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<PgBegin>(out[0]).final_lsn, Lsn(0x400));
  EXPECT_EQ(std::get<PgCommit>(out[1]).end_lsn, Lsn(0x480));
}

TEST(SnapshotProgressTest, RoundTripsAndRefusesADamagedFile) {
  testing::TempDir dir;
  std::string path = dir / "progress";
  auto none = ReadSnapshotProgress(path);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  SnapshotProgress p = NewSnapshotProgress();
  EXPECT_EQ(p.id.size(), 16u);
  EXPECT_NE(NewSnapshotProgress().id, p.id);
  p.completed = {"public.a"};
  p.table = "public.b";
  p.last_key = {"42", "x"};
  p.chunks = 7;
  p.table_rows = 1234;
  p.emitted_at = Lsn(0x1540978);
  ChangeEvent row;
  row.table = "b";
  row.op = Op::kRead;
  row.after = Row();
  row.after->Add("id", Value::Int64(42));
  row.key.Add("id", Value::Int64(42));
  row.position = ToPosition(PgPosition{Lsn(0x1540990), TxId(729), 3});
  p.emitted = {row};
  ASSERT_TRUE(WriteSnapshotProgress(path, p).ok());
  auto back = ReadSnapshotProgress(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  const SnapshotProgress& q = **back;
  EXPECT_EQ(q.id, p.id);
  EXPECT_FALSE(q.done);
  EXPECT_EQ(q.completed, p.completed);
  EXPECT_EQ(q.table, p.table);
  EXPECT_EQ(q.last_key, p.last_key);
  EXPECT_EQ(q.chunks, 7u);
  EXPECT_EQ(q.table_rows, 1234u);
  EXPECT_EQ(q.emitted_at, p.emitted_at);
  ASSERT_EQ(q.emitted.size(), 1u);
  EXPECT_EQ(q.emitted[0].position, row.position);
  EXPECT_EQ(q.emitted[0].after, row.after);

  std::string bytes = testing::ReadFile(path);
  bytes[bytes.size() / 2] ^= 1;
  testing::WriteFile(path, bytes);
  auto damaged = ReadSnapshotProgress(path);
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find("delete it"), std::string::npos);
}

TEST_F(PgOutputDecoderTest, CommitLsnMustMatchBegin) {
  std::vector<PgMessage> out;
  ASSERT_TRUE(decoder_.Decode(BeginMsg(0x100, 1), out).ok());
  EXPECT_EQ(decoder_.Decode(CommitMsg(0x200, 0x280), out).code(), StatusCode::kCorruption);
}

TEST(PgCopyFrameTest, KeepaliveAndStatusUpdate) {
  std::string k = "k";
  Be(k, 0x1234, 8);
  Be(k, 0, 8);
  k.push_back(1);
  auto frame = ParseCopyFrame(k);
  ASSERT_TRUE(frame.ok());
  const auto& ka = std::get<KeepaliveFrame>(*frame);
  EXPECT_EQ(ka.wal_end, Lsn(0x1234));
  EXPECT_TRUE(ka.reply_requested);
  EXPECT_FALSE(ParseCopyFrame("k\x01").ok());

  std::string r = EncodeStandbyStatus(Lsn(1), Lsn(2), Lsn(3), Timestamp{kPgEpochUnixMicros}, true);
  ASSERT_EQ(r.size(), 34u);
  EXPECT_EQ(r[0], 'r');
  EXPECT_EQ(r[16], 2);  // flush LSN, big-endian, low byte
  EXPECT_EQ(r[33], 1);
}

TEST(PgSlotCheckTest, LostSlotIsDataLossWithResnapshotAdvice) {
  PgSlotInfo slot;
  slot.name = "cdc";
  slot.plugin = "pgoutput";
  slot.slot_type = "logical";
  slot.database = "coredb";
  slot.wal_status = "lost";
  Status s = CheckSlotUsable(slot, "coredb");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(s.data_loss());
  EXPECT_NE(s.message().find("run --resnapshot"), std::string::npos);
}

}  // namespace
}  // namespace cdc::pg
