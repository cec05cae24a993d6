// The replication stream against a real PostgreSQL 15: row images under each replica identity,
// TOAST, transaction framing and positions, acknowledgement and resume, snapshots.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "event/position_kinds.h"
#include "integration/postgres/pg_fixture.h"

namespace cdc::pg {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PgReplicationTest : public PgFixture {};

TEST_F(PgReplicationTest, InsertUpdateDeleteUnderDefaultIdentity) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE users (id int PRIMARY KEY, email text, status text, score numeric(5,1))"));
  auto conn = Open({Table("users")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto& c = **conn;

  CDC_ASSERT_OK(Sql("INSERT INTO users VALUES (1, 'a@example.com', 'new', 1.5)"));
  auto tx = ReadTx(c);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 1u);
  const ChangeEvent& ins = tx->changes[0];
  EXPECT_EQ(ins.schema, "public");
  EXPECT_EQ(ins.table, "users");
  EXPECT_EQ(ins.op, Op::kInsert);
  EXPECT_FALSE(ins.before.has_value());
  ASSERT_TRUE(ins.after.has_value());
  EXPECT_EQ(JsonOf(*ins.after), R"({"id":1,"email":"a@example.com","status":"new","score":1.5})");
  EXPECT_EQ(JsonOf(ins.key), R"({"id":1})");

  // An update that keeps the key sends no old tuple under DEFAULT.
  CDC_ASSERT_OK(Sql("UPDATE users SET status = 'active' WHERE id = 1"));
  tx = ReadTx(c);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  const ChangeEvent& upd = tx->changes.at(0);
  EXPECT_EQ(upd.op, Op::kUpdate);
  EXPECT_FALSE(upd.before.has_value());
  EXPECT_EQ(JsonOf(*upd.after),
            R"({"id":1,"email":"a@example.com","status":"active","score":1.5})");

  // Changing the key sends the old key.
  CDC_ASSERT_OK(Sql("UPDATE users SET id = 2 WHERE id = 1"));
  tx = ReadTx(c);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  const ChangeEvent& rekey = tx->changes.at(0);
  ASSERT_TRUE(rekey.before.has_value());
  EXPECT_EQ(JsonOf(*rekey.before), R"({"id":1})");
  EXPECT_EQ(JsonOf(rekey.key), R"({"id":2})");

  // A delete under DEFAULT carries only the key: the other columns are absent, not null.
  CDC_ASSERT_OK(Sql("DELETE FROM users WHERE id = 2"));
  tx = ReadTx(c);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  const ChangeEvent& del = tx->changes.at(0);
  EXPECT_EQ(del.op, Op::kDelete);
  EXPECT_FALSE(del.after.has_value());
  ASSERT_TRUE(del.before.has_value());
  EXPECT_EQ(JsonOf(*del.before), R"({"id":2})");
  EXPECT_EQ(JsonOf(del.key), R"({"id":2})");
}

TEST_F(PgReplicationTest, FullIdentityGivesWholeBeforeImagesAndThePrimaryKey) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE orders (id int, line int, status text, total numeric(12,2), "
          "PRIMARY KEY (line, id))"));
  auto conn = Open({Table("orders", /*full=*/true)});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ(*SqlValue("SELECT relreplident FROM pg_class WHERE relname = 'orders'"), "f");

  // Each statement in its own transaction.
  CDC_ASSERT_OK(Sql("INSERT INTO orders VALUES (7, 1, 'open', NULL)"));
  CDC_ASSERT_OK(Sql("UPDATE orders SET status = 'paid', total = 10.5"));
  CDC_ASSERT_OK(Sql("DELETE FROM orders"));
  std::vector<ChangeEvent> changes;
  for (int i = 0; i < 3; ++i) {
    auto tx = ReadTx(**conn);
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    ASSERT_EQ(tx->changes.size(), 1u);
    changes.push_back(tx->changes.at(0));
  }
  EXPECT_EQ(changes[1].op, Op::kUpdate);
  ASSERT_TRUE(changes[1].before.has_value());
  EXPECT_EQ(JsonOf(*changes[1].before), R"({"id":7,"line":1,"status":"open","total":null})");
  EXPECT_EQ(JsonOf(*changes[1].after), R"({"id":7,"line":1,"status":"paid","total":10.50})");
  // The key is the primary key in key order, not every column of the FULL identity.
  EXPECT_EQ(JsonOf(changes[1].key), R"({"line":1,"id":7})");
  EXPECT_EQ(changes[2].op, Op::kDelete);
  EXPECT_EQ(JsonOf(*changes[2].before), R"({"id":7,"line":1,"status":"paid","total":10.50})");
  EXPECT_EQ(JsonOf(changes[2].key), R"({"line":1,"id":7})");
}

TEST_F(PgReplicationTest, FullIdentityWithoutPrimaryKeyKeysOnAllColumns) {
  CDC_ASSERT_OK(Sql("CREATE TABLE logs (msg text, level int)"));
  auto conn = Open({Table("logs", /*full=*/true)});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  // One transaction (a multi-statement query runs in one implicit transaction).
  CDC_ASSERT_OK(Sql("INSERT INTO logs VALUES ('x', 1); DELETE FROM logs;"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 2u);
  EXPECT_EQ(tx->changes[1].op, Op::kDelete);
  EXPECT_EQ(JsonOf(*tx->changes[1].before), R"({"msg":"x","level":1})");
  EXPECT_EQ(JsonOf(tx->changes[1].key), R"({"msg":"x","level":1})");
}

TEST_F(PgReplicationTest, TruncateOfSeveralTables) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);"
          "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1);"));
  auto conn = Open({Table("a"), Table("b")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(Sql("TRUNCATE a, b"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 2u);
  std::vector<std::string> tables;
  for (size_t i = 0; i < 2; ++i) {
    const ChangeEvent& e = tx->changes[i];
    EXPECT_EQ(e.op, Op::kTruncate);
    EXPECT_FALSE(e.before.has_value());
    EXPECT_FALSE(e.after.has_value());
    EXPECT_EQ(PositionOf(e).seq, i);
    tables.push_back(e.table);
  }
  std::sort(tables.begin(), tables.end());
  EXPECT_EQ(tables, (std::vector<std::string>{"a", "b"}));
}

TEST_F(PgReplicationTest, TransactionFramingAndPositions) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY, xid bigint)"));
  auto conn = Open({Table("t")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  int64_t before_ms = SystemClock::Instance().Now().micros / 1000;
  CDC_ASSERT_OK(
      Sql("BEGIN;"
          "INSERT INTO t SELECT g, txid_current() FROM generate_series(1, 3) g;"
          "UPDATE t SET xid = xid WHERE id = 2;"
          "DELETE FROM t WHERE id = 3;"
          "COMMIT;"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 5u);
  int64_t xid = tx->changes[0].after->Find("xid")->as_int64();
  EXPECT_EQ(tx->begin.xid.value(), static_cast<uint32_t>(xid));
  EXPECT_EQ(tx->commit.xid, tx->begin.xid);
  EXPECT_EQ(tx->commit.commit_lsn, tx->begin.final_lsn);
  EXPECT_GT(tx->commit.end_lsn, tx->commit.commit_lsn);
  EXPECT_EQ(tx->commit.changes, 5u);
  for (size_t i = 0; i < tx->changes.size(); ++i) {
    const ChangeEvent& e = tx->changes[i];
    EXPECT_EQ(
        e.position,
        (ToPosition(PgPosition{tx->commit.commit_lsn, tx->begin.xid, static_cast<uint32_t>(i)})));
    EXPECT_EQ(e.commit_time, tx->commit.commit_time);
  }
  int64_t commit_ms = tx->commit.commit_time.micros / 1000;
  EXPECT_GE(commit_ms, before_ms - 2000);
  EXPECT_LE(commit_ms, SystemClock::Instance().Now().micros / 1000 + 2000);
  EXPECT_EQ(PositionKey(tx->changes[4].position),
            "pg/" + tx->commit.commit_lsn.ToString() + "/" + std::to_string(xid) + "/4");

  // The end of the commit record is the one PostgreSQL itself reports (test_decoding).
  CDC_ASSERT_OK(Sql("SELECT pg_create_logical_replication_slot('oracle', 'test_decoding')"));
  CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (10, 0)"));
  auto tx2 = ReadTx(**conn);
  ASSERT_TRUE(tx2.ok()) << tx2.status().ToString();
  auto oracle = SqlValue(
      "SELECT lsn FROM pg_logical_slot_get_changes('oracle', NULL, NULL) WHERE data LIKE "
      "'COMMIT%'");
  ASSERT_TRUE(oracle.ok()) << oracle.status().ToString();
  EXPECT_EQ(*oracle, tx2->commit.end_lsn.ToString());
}

TEST_F(PgReplicationTest, LargeTransactionStreamsChangeByChange) {
  CDC_ASSERT_OK(Sql("CREATE TABLE big (id int PRIMARY KEY, v text)"));
  auto conn = Open({Table("big")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  constexpr uint32_t kRows = 20000;
  CDC_ASSERT_OK(Sql("INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, " +
                    std::to_string(kRows) + ") g"));
  auto& c = **conn;
  // Each change comes out as soon as it is decoded, already carrying the commit LSN.
  uint32_t seen = 0;
  Lsn final_lsn;
  bool committed = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (!committed && std::chrono::steady_clock::now() < deadline) {
    auto m = c.Next(milliseconds(500));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (!*m) continue;
    if (auto* b = std::get_if<PgBegin>(&**m)) final_lsn = b->final_lsn;
    if (auto* e = std::get_if<ChangeEvent>(&**m)) {
      EXPECT_TRUE(c.decoder().in_transaction());
      ASSERT_EQ(PositionOf(*e).seq, seen);
      ASSERT_EQ(PositionOf(*e).commit_lsn, final_lsn);
      ++seen;
    }
    if (auto* cm = std::get_if<PgCommit>(&**m)) {
      EXPECT_EQ(cm->commit_lsn, final_lsn);
      committed = true;
    }
  }
  EXPECT_TRUE(committed);
  EXPECT_EQ(seen, kRows);
}

std::string LargeText() {
  // ~96 kB of md5 hex: compresses to well over the 2 kB TOAST threshold, so it is stored out of
  // line.
  return "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) g)";
}

TEST_F(PgReplicationTest, UnchangedToastUnderDefaultIsLeftOutAndListed) {
  CDC_ASSERT_OK(Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)"));
  auto conn = Open({Table("docs")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(Sql("INSERT INTO docs VALUES (1, " + LargeText() + ", 1)"));
  auto ins = ReadTx(**conn);
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_EQ(ins->changes.at(0).after->Find("body")->as_string().size(), 96000u);

  CDC_ASSERT_OK(Sql("UPDATE docs SET n = 2 WHERE id = 1"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  const ChangeEvent& e = tx->changes.at(0);
  ASSERT_TRUE(e.after.has_value());
  EXPECT_EQ(e.after->Find("body"), nullptr);
  EXPECT_EQ(e.unchanged_toast, std::vector<std::string>{"body"});
  EXPECT_EQ(JsonOf(*e.after), R"({"id":1,"n":2})");

  // When the TOASTed column itself changes, its new value is sent.
  CDC_ASSERT_OK(Sql("UPDATE docs SET body = body || 'x' WHERE id = 1"));
  tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_TRUE(tx->changes.at(0).unchanged_toast.empty());
  EXPECT_EQ(tx->changes.at(0).after->Find("body")->as_string().size(), 96001u);
}

TEST_F(PgReplicationTest, UnchangedToastUnderFullIsFilledFromTheOldRow) {
  CDC_ASSERT_OK(Sql("CREATE TABLE docs (id int PRIMARY KEY, body text, n int)"));
  auto conn = Open({Table("docs", /*full=*/true)});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(Sql("INSERT INTO docs VALUES (1, " + LargeText() + ", 1)"));
  auto ins = ReadTx(**conn);
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  const Value body = *ins->changes.at(0).after->Find("body");

  CDC_ASSERT_OK(Sql("UPDATE docs SET n = 2 WHERE id = 1"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  const ChangeEvent& e = tx->changes.at(0);
  EXPECT_TRUE(e.unchanged_toast.empty());
  ASSERT_NE(e.after->Find("body"), nullptr);
  EXPECT_EQ(*e.after->Find("body"), body);
  ASSERT_TRUE(e.before.has_value());
  EXPECT_EQ(*e.before->Find("body"), body);
  EXPECT_EQ(*e.before->Find("n"), Value::Int64(1));
}

TEST_F(PgReplicationTest, AcknowledgedTransactionsAreNotSentAgain) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  {
    auto conn = Open({Table("t")});
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (1)"));
    CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (2)"));
    auto first = ReadTx(**conn);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    auto second = ReadTx(**conn);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    // Only the first transaction is durable downstream.
    Lsn end = first->commit.end_lsn;
    CDC_ASSERT_OK((*conn)->SendStatus(end, end, end));
    std::string confirmed;
    for (int i = 0; i < 50 && confirmed != end.ToString(); ++i) {
      confirmed = SqlValue(
                      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                      "slot_name = '" +
                      db_ + "'")
                      .value();
      if (confirmed != end.ToString()) std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_EQ(confirmed, end.ToString());
    CDC_ASSERT_OK((*conn)->StopReplication());
  }
  // Reconnect: streaming resumes after the acknowledged transaction, with the second one.
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.publication = "pub";
  o.tables = {Table("t")};
  o.create_slot = false;
  auto again = OpenReplication(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto tx = ReadTx(**again);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(JsonOf(*tx->changes.at(0).after), R"({"id":2})");
}

TEST_F(PgReplicationTest, KeepalivesAreAnsweredWithTheAcknowledgedPosition) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  // A short wal_sender_timeout makes the server ask for replies; the stream must survive it.
  CDC_ASSERT_OK(Sql("ALTER SYSTEM SET wal_sender_timeout = '2s'"));
  CDC_ASSERT_OK(Sql("SELECT pg_reload_conf()"));
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.publication = "pub";
  o.tables = {Table("t")};
  o.status_interval = seconds(60);  // only replies to keepalives keep the stream alive
  auto conn = OpenReplication(o);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  bool asked = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = (*conn)->Next(milliseconds(200));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (*m) {
      if (auto* k = std::get_if<PgKeepalive>(&**m); k != nullptr && k->reply_requested) {
        asked = true;
      }
    }
  }
  EXPECT_TRUE(asked);
  CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (1)"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  // Replies carried only what was acknowledged (nothing), never the keepalive's WAL end: the
  // slot still holds the insert.
  EXPECT_EQ((*conn)->acknowledged_flush(), Lsn());
  auto confirmed = SqlValue(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + db_ + "'");
  ASSERT_TRUE(confirmed.ok()) << confirmed.status().ToString();
  EXPECT_LT(Lsn::Parse(*confirmed).value(), tx->commit.end_lsn);
  CDC_ASSERT_OK(Sql("ALTER SYSTEM RESET wal_sender_timeout"));
  CDC_ASSERT_OK(Sql("SELECT pg_reload_conf()"));
}

TEST_F(PgReplicationTest, LogicalMessagesAreSkipped) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  auto conn = Open({Table("t")}, /*messages=*/true);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(
      Sql("SELECT pg_logical_emit_message(false, 'cdc', 'outside');"
          "BEGIN; SELECT pg_logical_emit_message(true, 'cdc', 'inside');"
          "INSERT INTO t VALUES (1); COMMIT;"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 1u);
  EXPECT_EQ(PositionOf(tx->changes[0]).seq, 0u);
}

TEST_F(PgReplicationTest, SchemaChangesBumpTheSchemaVersionAndOtherSchemasAreQualified) {
  CDC_ASSERT_OK(Sql("CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY)"));
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.publication = "pub";
  o.tables = {PgTableRequirement{PgTableRef{"sales", "orders"}, false}};
  auto conn = OpenReplication(o);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(Sql("INSERT INTO sales.orders VALUES (1)"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(tx->changes.at(0).schema, "sales");
  EXPECT_EQ(tx->changes.at(0).QualifiedName(), "sales.orders");
  EXPECT_EQ(tx->changes.at(0).schema_version, 1u);
  CDC_ASSERT_OK(
      Sql("ALTER TABLE sales.orders ADD COLUMN note text;"
          "INSERT INTO sales.orders VALUES (2, 'n')"));
  tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  // The change is noticed where the stream first needs it: a SCHEMA_CHANGE event in the
  // transaction, just before the first row of the new shape.
  ASSERT_EQ(tx->changes.size(), 2u);
  const ChangeEvent& schema = tx->changes.at(0);
  EXPECT_EQ(schema.op, Op::kSchemaChange);
  EXPECT_EQ(schema.QualifiedName(), "sales.orders");
  EXPECT_EQ(schema.schema_version, 2u);
  EXPECT_EQ(JsonOf(*schema.before), R"({"id":"integer"})");
  EXPECT_EQ(JsonOf(*schema.after), R"({"id":"integer","note":"text"})");
  EXPECT_EQ(PositionOf(schema).seq, 0u);
  EXPECT_EQ(tx->changes.at(1).schema_version, 2u);
  EXPECT_EQ(JsonOf(*tx->changes.at(1).after), R"({"id":2,"note":"n"})");

  // Rename, retype (with its modifier), drop: one event each, at the next row.
  auto next_schema_change = [&](std::string_view sql) -> std::string {
    Status s = Sql(sql);
    if (!s.ok()) return s.ToString();
    auto t = ReadTx(**conn);
    if (!t.ok()) return t.status().ToString();
    if (t->changes.size() != 2 || t->changes[0].op != Op::kSchemaChange) return "no schema change";
    return DiffColumns(*t->changes[0].before, *t->changes[0].after).Describe() + " v" +
           std::to_string(t->changes[0].schema_version) + " " + JsonOf(*t->changes[0].after);
  };
  EXPECT_EQ(next_schema_change("ALTER TABLE sales.orders RENAME COLUMN note TO remark; "
                               "INSERT INTO sales.orders VALUES (3, 'r')"),
            R"(renamed note to remark v3 {"id":"integer","remark":"text"})");
  EXPECT_EQ(next_schema_change("ALTER TABLE sales.orders ALTER COLUMN remark TYPE varchar(20); "
                               "INSERT INTO sales.orders VALUES (4, 'v')"),
            "retyped remark from text to character varying(20) v4 "
            R"j({"id":"integer","remark":"character varying(20)"})j");
  EXPECT_EQ(next_schema_change("ALTER TABLE sales.orders DROP COLUMN remark, ADD COLUMN qty "
                               "bigint; INSERT INTO sales.orders VALUES (5, 7)"),
            R"(added qty; dropped remark v5 {"id":"integer","qty":"bigint"})");
  // A change that does not touch the columns (a default) sends no new shape.
  CDC_ASSERT_OK(
      Sql("ALTER TABLE sales.orders ALTER COLUMN qty SET DEFAULT 1; "
          "INSERT INTO sales.orders (id) VALUES (6)"));
  tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), 1u);
  EXPECT_EQ(tx->changes[0].op, Op::kInsert);
  EXPECT_EQ(tx->changes[0].schema_version, 5u);
}

TEST_F(PgReplicationTest, ExportedSnapshotSeesExactlyTheRowsBeforeTheSlot) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);"
          "CREATE PUBLICATION pub FOR TABLE t"));
  auto repl = PgReplicationConnection::Connect(Dsn());
  ASSERT_TRUE(repl.ok()) << repl.status().ToString();
  auto identity = (*repl)->IdentifySystem();
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->database, db_);
  EXPECT_GT(identity->wal_position, Lsn());

  PgCreateSlotOptions so;
  so.export_snapshot = true;
  auto slot = (*repl)->CreateSlot(db_, so);
  ASSERT_TRUE(slot.ok()) << slot.status().ToString();
  EXPECT_FALSE(slot->snapshot_name.empty());
  EXPECT_GE(slot->consistent_point, identity->wal_position);

  CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (3)"));
  auto reader = PgConnection::Connect(Dsn());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  CDC_ASSERT_OK(
      (*reader)->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION "
                         "SNAPSHOT " +
                         QuoteLiteral(slot->snapshot_name)));
  auto count = (*reader)->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->rows[0][0], "2");
  CDC_ASSERT_OK((*reader)->Execute("COMMIT"));

  PgStartOptions start;
  start.slot = db_;
  start.publications = {"pub"};
  CDC_ASSERT_OK((*repl)->StartReplication(start));
  auto tx = ReadTx(**repl);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(JsonOf(*tx->changes.at(0).after), R"({"id":3})");
}

TEST_F(PgReplicationTest, ServerRestartEndsTheStreamAsUnavailable) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  auto conn = Open({Table("t")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  // Immediate: a fast shutdown would wait for this client to confirm all WAL.
  CDC_ASSERT_OK(server_->Restart("immediate"));
  Status failure;
  for (int i = 0; i < 50 && failure.ok(); ++i) {
    auto m = (*conn)->Next(milliseconds(100));
    if (!m.ok()) failure = m.status();
  }
  EXPECT_EQ(failure.code(), StatusCode::kUnavailable) << failure.ToString();
  EXPECT_TRUE(failure.retryable());
  // After reconnecting, a change made after the restart is streamed.
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.publication = "pub";
  o.tables = {Table("t")};
  auto again = OpenReplication(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  CDC_ASSERT_OK(Sql("INSERT INTO t VALUES (5)"));
  auto tx = ReadTx(**again);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  EXPECT_EQ(JsonOf(*tx->changes.at(0).after), R"({"id":5})");
}

TEST_F(PgReplicationTest, CoreDbSchemaStreamsEveryTable) {
  std::ifstream in(std::string(CDC_SOURCE_DIR) + "/sql/coredb.sql");
  ASSERT_TRUE(in) << "sql/coredb.sql not found";
  std::stringstream schema;
  schema << in.rdbuf();
  CDC_ASSERT_OK(Sql(schema.str()));
  CDC_ASSERT_OK(Sql(schema.str()));  // idempotent
  const std::vector<std::string> names = {
      "users",    "customers",     "products",   "orders",  "inventory",      "transactions",
      "sessions", "notifications", "audit_logs", "metrics", "configurations", "events"};
  std::vector<PgTableRequirement> tables;
  for (const auto& n : names) tables.push_back(Table(n));
  auto check = PgConnection::Connect(Dsn());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  CDC_ASSERT_OK(CheckTables(**check, tables));
  auto conn = Open(tables);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(Sql(R"sql(
    INSERT INTO users (id, email, phone, full_name, roles)
      VALUES ('usr_1', 'u@example.com', '+44 20 7946 0958', 'Ana Silva', '{admin,"sales, EU"}');
    INSERT INTO customers (id, full_name, address, date_of_birth)
      VALUES ('cus_1', 'Li Wei', '{"city": "London"}', '1988-04-02');
    INSERT INTO products (id, sku, name, price, weight_kg, tags)
      VALUES (301, 'KB-1', 'Keyboard', 89.00, 0.75, '{office}');
    INSERT INTO orders (id, user_id, card_number, card_last4, total)
      VALUES ('ord_1', 'usr_1', '4242424242424242', '4242', 129.9);
    INSERT INTO inventory (id, product_id, warehouse, quantity) VALUES (77, 301, 'LHR-1', 12);
    INSERT INTO transactions (id, order_id, iban, amount, currency, reference)
      VALUES ('txn_1', 'ord_1', 'GB29NWBK60161331926819', 129.9, 'EUR',
              'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    INSERT INTO sessions (id, user_id, auth_token, ip, expires_at)
      VALUES ('ses_1', 'usr_1', 'tok', '203.0.113.7', '2024-01-16 09:13:00+00');
    INSERT INTO notifications (id, user_id, channel, template) VALUES (5, 'usr_1', 'email', 'paid');
    INSERT INTO audit_logs (id, actor, action, details) VALUES (880, 'usr_1', 'order.pay', '{"a": 1}');
    INSERT INTO metrics (id, name, value, tags, samples)
      VALUES (12, 'checkout.latency_ms', 182.5, '{"region": "eu"}', '{1.5,NaN}');
    INSERT INTO configurations (id, value) VALUES ('feature.x', '{"enabled": false}');
    INSERT INTO events (id, type, payload, ttl) VALUES ('evt_1', 'signup', '{"seats": 5}', '1 day');
  )sql"));
  auto tx = ReadTx(**conn);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_EQ(tx->changes.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(tx->changes[i].table, names[i]);
  auto field = [&](size_t table, std::string_view column) {
    const Value* v = tx->changes[table].after->Find(column);
    return v != nullptr ? JsonOf(*v) : "<missing>";
  };
  EXPECT_EQ(field(0, "roles"), R"(["admin","sales, EU"])");
  EXPECT_EQ(field(1, "date_of_birth"), "\"1988-04-02\"");
  EXPECT_EQ(field(2, "weight_kg"), "0.75");
  EXPECT_EQ(field(3, "total"), "129.90");
  EXPECT_EQ(field(5, "amount"), "129.9000");
  EXPECT_EQ(field(6, "ip"), "\"203.0.113.7\"");
  EXPECT_EQ(field(6, "idle_timeout"), "\"PT30M\"");
  EXPECT_EQ(field(6, "expires_at"), "\"2024-01-16T09:13:00Z\"");
  EXPECT_EQ(field(9, "samples"), R"([1.5,"NaN"])");
  EXPECT_EQ(field(10, "value"), R"({"enabled":false})");
  EXPECT_EQ(field(11, "payload"), R"({"seats":5})");
  EXPECT_EQ(JsonOf(tx->changes[3].key), R"({"id":"ord_1"})");
}

}  // namespace
}  // namespace cdc::pg
