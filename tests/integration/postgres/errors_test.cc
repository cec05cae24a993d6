// What the source says when PostgreSQL is not ready: each error names the problem and the fix.
#include "integration/postgres/pg_fixture.h"

namespace cdc::pg {
namespace {

class PgErrorsTest : public PgFixture {};

TEST(PgWalLevelTest, ReplicaWalLevelSaysToSetLogicalAndRestart) {
  testing::PgServerOptions options;
  options.wal_level = "replica";
  auto server = testing::PgServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto conn = PgConnection::Connect((*server)->Dsn());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Status s = CheckServer(**conn);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(s.message(), ("wal_level is 'replica'"));
  EXPECT_CONTAINS(s.message(), ("set wal_level = logical in postgresql.conf"));
  EXPECT_CONTAINS(s.message(), ("restart"));

  // Creating the slot directly fails the same way.
  auto repl = PgReplicationConnection::Connect((*server)->Dsn());
  ASSERT_TRUE(repl.ok()) << repl.status().ToString();
  auto slot = (*repl)->CreateSlot("s");
  ASSERT_FALSE(slot.ok());
  EXPECT_EQ(slot.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(slot.status().message(), ("wal_level = logical"));

  PgSourceOptions o;
  o.dsn = (*server)->Dsn();
  EXPECT_CONTAINS(OpenReplication(o).status().message(), ("wal_level"));
}

TEST_F(PgErrorsTest, RoleWithoutReplicationPrivilege) {
  CDC_ASSERT_OK(Sql("CREATE ROLE app LOGIN"));
  auto repl = PgReplicationConnection::Connect(server_->Dsn(db_, "app"));
  ASSERT_FALSE(repl.ok());
  EXPECT_EQ(repl.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(repl.status().message(), ("REPLICATION privilege"));
  EXPECT_CONTAINS(repl.status().message(), ("ALTER ROLE"));

  auto conn = PgConnection::Connect(server_->Dsn(db_, "app"));
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Status s = CheckServer(**conn);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(s.message(), ("ALTER ROLE \"app\" REPLICATION"));

  CDC_ASSERT_OK(Sql("ALTER ROLE app REPLICATION"));
  EXPECT_TRUE(PgReplicationConnection::Connect(server_->Dsn(db_, "app")).ok());
}

TEST_F(PgErrorsTest, MissingTablesAndTablesWithoutPrimaryKeyAreAllReported) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE ok (id int PRIMARY KEY);"
          "CREATE TABLE nopk (msg text);"
          "CREATE TABLE nothing (id int PRIMARY KEY);"
          "ALTER TABLE nothing REPLICA IDENTITY NOTHING;"
          "CREATE VIEW v AS SELECT 1 AS x;"));
  auto conn = PgConnection::Connect(Dsn());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Status s = CheckTables(**conn,
                         {Table("ok"), Table("nope"), Table("nopk"), Table("nothing"), Table("v")});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(s.message(), ("table public.nope does not exist in database " + db_));
  EXPECT_CONTAINS(s.message(), ("table public.nopk has no primary key"));
  EXPECT_CONTAINS(s.message(), ("add a primary key, or set replica_identity: full"));
  EXPECT_CONTAINS(s.message(), ("public.nothing has REPLICA IDENTITY NOTHING"));
  EXPECT_CONTAINS(s.message(), ("public.v is not a table"));
  EXPECT_EQ(s.message().find("public.ok"), std::string::npos) << s.message();

  // OpenReplication refuses before publishing anything.
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.tables = {Table("nopk")};
  EXPECT_EQ(OpenReplication(o).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*SqlValue("SELECT count(*) FROM pg_publication"), "0");
  EXPECT_EQ(*SqlValue("SELECT count(*) FROM pg_replication_slots"), "0");
}

TEST_F(PgErrorsTest, ReplicaIdentityFullIsAppliedOnlyWhenAsked) {
  CDC_ASSERT_OK(Sql("CREATE TABLE nopk (msg text); CREATE TABLE other (msg text)"));
  auto conn = PgConnection::Connect(Dsn());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  std::vector<PgTableRequirement> tables = {Table("nopk", /*full=*/true)};
  CDC_ASSERT_OK(CheckTables(**conn, tables));
  CDC_ASSERT_OK(ApplyReplicaIdentity(**conn, {Table("nopk", true), Table("other", false)}));
  EXPECT_EQ(*SqlValue("SELECT relreplident FROM pg_class WHERE relname = 'nopk'"), "f");
  EXPECT_EQ(*SqlValue("SELECT relreplident FROM pg_class WHERE relname = 'other'"), "d");
  // Published with FULL, the application's UPDATE and DELETE keep working.
  auto repl = Open({Table("nopk", true)});
  ASSERT_TRUE(repl.ok()) << repl.status().ToString();
  CDC_ASSERT_OK(Sql("INSERT INTO nopk VALUES ('a'); UPDATE nopk SET msg = 'b'; DELETE FROM nopk"));
}

TEST_F(PgErrorsTest, PublicationIsCreatedAndCompleted) {
  CDC_ASSERT_OK(Sql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)"));
  auto conn = PgConnection::Connect(Dsn());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK(EnsurePublication(**conn, "pub", {PgTableRef{"public", "a"}}));
  CDC_ASSERT_OK(
      EnsurePublication(**conn, "pub", {PgTableRef{"public", "a"}, PgTableRef{"public", "b"}}));
  EXPECT_EQ(*SqlValue("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM "
                      "pg_publication_tables WHERE pubname = 'pub'"),
            "a,b");
}

TEST_F(PgErrorsTest, SlotActiveForAnotherProcessNamesItsPid) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  auto first = Open({Table("t")});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string pid = std::to_string((*first)->backend_pid());

  auto second = Open({Table("t")});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_CONTAINS(second.status().message(), ("is active for PID " + pid));

  // Also when the check is skipped and START_REPLICATION itself fails.
  auto repl = PgReplicationConnection::Connect(Dsn());
  ASSERT_TRUE(repl.ok()) << repl.status().ToString();
  PgStartOptions start;
  start.slot = db_;
  start.publications = {"pub"};
  Status s = (*repl)->StartReplication(start);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_CONTAINS(s.message(), ("active for PID " + pid));
}

TEST_F(PgErrorsTest, SlotOfAnotherPluginOrMissing) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY)"));
  CDC_ASSERT_OK(Sql("SELECT pg_create_logical_replication_slot('" + db_ + "', 'test_decoding')"));
  auto conn = Open({Table("t")});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(conn.status().message(), ("uses the output plugin 'test_decoding'"));

  auto repl = PgReplicationConnection::Connect(Dsn());
  ASSERT_TRUE(repl.ok());
  PgStartOptions start;
  start.slot = "no_such_slot";
  start.publications = {"pub"};
  Status s = (*repl)->StartReplication(start);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_CONTAINS(s.message(), ("replication slot \"no_such_slot\" does not exist"));
  EXPECT_EQ((*repl)->CreateSlot("Bad-Name").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PgErrorsTest, InvalidatedSlotIsReportedAsDataLoss) {
  CDC_ASSERT_OK(Sql("CREATE TABLE t (id int PRIMARY KEY, v text)"));
  CDC_ASSERT_OK(Sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'"));
  CDC_ASSERT_OK(Sql("SELECT pg_reload_conf()"));
  auto conn = Open({Table("t")});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  CDC_ASSERT_OK((*conn)->StopReplication());
  conn->reset();
  // Write and switch past several WAL segments, then checkpoint: the slot's WAL is removed.
  for (int i = 0; i < 4; ++i) {
    CDC_ASSERT_OK(Sql("INSERT INTO t SELECT g + " + std::to_string(i * 1000) +
                      ", md5(g::text) FROM generate_series(1, 1000) g"));
    CDC_ASSERT_OK(Sql("SELECT pg_switch_wal()"));
  }
  CDC_ASSERT_OK(Sql("CHECKPOINT"));
  CDC_ASSERT_OK(Sql("ALTER SYSTEM RESET max_slot_wal_keep_size"));
  CDC_ASSERT_OK(Sql("SELECT pg_reload_conf()"));
  ASSERT_EQ(
      *SqlValue("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + db_ + "'"),
      "lost");
  PgSourceOptions o;
  o.dsn = Dsn();
  o.slot = db_;
  o.publication = "pub";
  o.tables = {Table("t")};
  auto again = OpenReplication(o);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(again.status().data_loss());
  EXPECT_CONTAINS(again.status().message(), ("wal_status = lost"));
  EXPECT_CONTAINS(again.status().message(), ("run --resnapshot"));
}

TEST_F(PgErrorsTest, ErrorsDoNotLeakRowValues) {
  CDC_ASSERT_OK(
      Sql("CREATE TABLE t (id int PRIMARY KEY, email text UNIQUE);"
          "INSERT INTO t VALUES (1, 'secret@example.com')"));
  auto conn = PgConnection::Connect(Dsn());
  ASSERT_TRUE(conn.ok());
  Status s = (*conn)->Execute("INSERT INTO t VALUES (2, 'secret@example.com')");
  ASSERT_FALSE(s.ok());
  EXPECT_CONTAINS(s.message(), ("duplicate key"));
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cdc::pg
