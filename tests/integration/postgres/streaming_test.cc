// pgoutput protocol 2 against a real PostgreSQL 15: transactions bigger than the server's
// logical_decoding_work_mem (set to its 64 kB minimum here) are streamed while in progress,
// spilled, and come out of the replication connection at their commit exactly as protocol 1
// sends them; aborted ones and rolled-back savepoints never come out.
#include <thread>

#include "integration/postgres/pg_fixture.h"
#include "source/postgres/pg_connection.h"

namespace cdc::pg {
namespace {

class PgStreamingTest : public PgFixture {
 protected:
  void SetUp() override {
    PgFixture::SetUp();
    // The walsender of a database takes its settings at connection: set before Open.
    CDC_ASSERT_OK(Sql("ALTER DATABASE " + db_ + " SET logical_decoding_work_mem = '64kB'"));
    CDC_ASSERT_OK(Sql("CREATE TABLE big (id int PRIMARY KEY, v text)"));
  }

  static std::string InsertRange(int from, int to) {
    return "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(" + std::to_string(from) +
           ", " + std::to_string(to) + ") g";
  }

  // How many transactions the server streamed from our slot (pg_stat_replication_slots; the
  // walsender reports its counts after each transaction, flushed within a second or so).
  int64_t StreamedBySlot(int64_t at_least) {
    int64_t n = 0;
    for (int i = 0; i < 100; ++i) {
      auto v = SqlValue("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '" +
                        db_ + "'");
      if (v.ok() && !v->empty()) n = std::stoll(*v);
      if (n >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return n;
  }
};

std::vector<int> Ids(const Tx& tx) {
  std::vector<int> ids;
  for (const auto& e : tx.changes) ids.push_back(static_cast<int>(e.key.Find("id")->as_int64()));
  return ids;
}

TEST_F(PgStreamingTest, ABigTransactionArrivesWholeAtItsCommitAfterOnesThatCommittedBefore) {
  auto conn = Open({Table("big")}, false, /*stream_in_progress=*/true);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto& c = **conn;
  EXPECT_EQ(c.protocol_version(), 2);

  auto writer = PgConnection::Connect(Dsn());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  CDC_ASSERT_OK((*writer)->Execute("BEGIN"));
  CDC_ASSERT_OK((*writer)->Execute(InsertRange(1, 20000)));
  // Committed while the big one runs: it comes first, as in protocol 1.
  CDC_ASSERT_OK(Sql("INSERT INTO big VALUES (100000, 'small')"));
  CDC_ASSERT_OK((*writer)->Execute("SAVEPOINT a"));
  CDC_ASSERT_OK((*writer)->Execute(InsertRange(20001, 25000)));
  CDC_ASSERT_OK((*writer)->Execute("ROLLBACK TO SAVEPOINT a"));
  CDC_ASSERT_OK((*writer)->Execute(InsertRange(25001, 30000)));
  CDC_ASSERT_OK((*writer)->Execute("COMMIT"));

  auto small = ReadTx(c);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(Ids(*small), std::vector<int>{100000});
  auto big = ReadTx(c, std::chrono::seconds(60));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  ASSERT_EQ(big->changes.size(), 25000u);
  std::vector<int> want;
  for (int i = 1; i <= 20000; ++i) want.push_back(i);
  for (int i = 25001; i <= 30000; ++i) want.push_back(i);
  EXPECT_EQ(Ids(*big), want);
  for (uint32_t i = 0; i < big->changes.size(); ++i) {
    ASSERT_EQ(PositionOf(big->changes[i]).seq, i);
    ASSERT_EQ(PositionOf(big->changes[i]).commit_lsn, big->begin.final_lsn);
    ASSERT_EQ(PositionOf(big->changes[i]).xid, big->begin.xid);
  }
  EXPECT_EQ(big->commit.commit_lsn, big->begin.final_lsn);
  EXPECT_EQ(big->commit.changes, 25000u);
  EXPECT_GT(big->begin.final_lsn, small->commit.end_lsn);
  EXPECT_EQ(JsonOf(*big->changes[0].after), R"({"id":1,"v":"c4ca4238a0b923820dcc509a6f75849b"})");
  // It really was streamed, by the server's count and ours.
  EXPECT_GE(c.decoder().streamed_committed(), 1u);
  EXPECT_GE(StreamedBySlot(1), 1);
}

TEST_F(PgStreamingTest, AnAbortedStreamedTransactionNeverComesOut) {
  auto conn = Open({Table("big")}, false, true);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto& c = **conn;
  CDC_ASSERT_OK(Sql("BEGIN; " + InsertRange(1, 20000) + "; ROLLBACK"));
  CDC_ASSERT_OK(Sql("INSERT INTO big VALUES (7, 'after')"));
  auto tx = ReadTx(c);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(Ids(*tx), std::vector<int>{7});
  EXPECT_GE(c.decoder().streamed_aborted(), 1u);
  EXPECT_EQ(c.decoder().streamed_in_progress(), 0u);
}

// A streamed transaction that alters the table midway: its messages are decoded at its commit,
// each with the table as the transaction saw it, and the SCHEMA_CHANGE event sits between them.
TEST_F(PgStreamingTest, AnAlterInsideAStreamedTransactionIsDecodedAtItsPlace) {
  auto conn = Open({Table("big")}, false, true);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto& c = **conn;
  CDC_ASSERT_OK(Sql("INSERT INTO big VALUES (0, 'before')"));
  auto first = ReadTx(c);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  CDC_ASSERT_OK(
      Sql("BEGIN; " + InsertRange(1, 20000) +
          "; ALTER TABLE big ADD COLUMN extra int; "
          "INSERT INTO big SELECT g, 'x', g FROM generate_series(20001, 20010) g; COMMIT"));
  auto tx = ReadTx(c, std::chrono::seconds(60));
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 20011u);
  EXPECT_EQ(tx->changes[19999].after->size(), 2u);
  const ChangeEvent& schema = tx->changes[20000];
  EXPECT_EQ(schema.op, Op::kSchemaChange);
  EXPECT_EQ(JsonOf(*schema.after), R"({"id":"integer","v":"text","extra":"integer"})");
  EXPECT_EQ(PositionOf(schema).seq, 20000u);
  EXPECT_EQ(JsonOf(*tx->changes[20001].after), R"({"id":20001,"v":"x","extra":20001})");
  EXPECT_EQ(tx->changes[20001].schema_version, 2u);
  EXPECT_GE(c.decoder().streamed_committed(), 1u);
}

TEST_F(PgStreamingTest, ProtocolOneWhenNotAskedAndTheSameChanges) {
  auto conn = Open({Table("big")}, false, false);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto& c = **conn;
  EXPECT_EQ(c.protocol_version(), 1);
  CDC_ASSERT_OK(Sql(InsertRange(1, 20000)));
  auto tx = ReadTx(c, std::chrono::seconds(60));
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(tx->changes.size(), 20000u);
  EXPECT_EQ(c.decoder().streamed_committed(), 0u);
}

}  // namespace
}  // namespace cdc::pg
