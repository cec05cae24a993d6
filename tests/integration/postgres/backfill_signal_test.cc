// Backfill signals without a server: parsing a signal's data, naming a captured table, the
// ledger file, and how the Backfiller takes signal rows (queued once, even when PostgreSQL sends
// the row again after a restart; warnings, never errors, for signals it cannot use).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event/position_kinds.h"
#include "source/postgres/backfill.h"
#include "support/test_util.h"

namespace cdc::pg {
namespace {

TEST(BackfillDataTest, TableAndOptionalWhere) {
  auto r = ParseBackfillData(R"({"table": "public.users", "where": "id > 100"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table, "public.users");
  EXPECT_EQ(r->where, "id > 100");
  r = ParseBackfillData(R"({"table": "users"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table, "users");
  EXPECT_EQ(r->where, "");
  r = ParseBackfillData(R"({"table": "users", "where": null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->where, "");
  r = ParseBackfillData(R"({"table": "users", "where": "   "})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->where, "");
}

TEST(BackfillDataTest, RefusesWhatItCannotUseSayingWhy) {
  struct Case {
    std::string data, says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "not JSON"},
           {"{", "not JSON"},
           {"[1]", "not a JSON object"},
           {"\"users\"", "not a JSON object"},
           {"{}", "no \"table\""},
           {R"({"table": ""})", "no \"table\""},
           {R"({"table": 7})", "\"table\" is not a string"},
           {R"({"table": "users", "where": 5})", "\"where\" is not a string"},
           {R"({"table": "users", "filter": "id > 1"})", "unknown key \"filter\""},
       }) {
    auto r = ParseBackfillData(c.data);
    ASSERT_FALSE(r.ok()) << c.data;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.data;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.data << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("expected a JSON object like"), std::string::npos);
  }
}

TEST(BackfillTableTest, ResolvesCapturedTablesOnly) {
  std::vector<PgTableRef> captured = {
      {"public", "users"}, {"public", "orders"}, {"audit", "orders"}};
  auto t = ResolveCapturedTable("users", captured);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ToString(), "public.users");
  t = ResolveCapturedTable("audit.orders", captured);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ToString(), "audit.orders");
  t = ResolveCapturedTable("orders", captured);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("ambiguous"), std::string::npos);
  t = ResolveCapturedTable("payments", captured);
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  EXPECT_NE(t.status().message().find("public.users, public.orders, audit.orders"),
            std::string::npos)
      << t.status().message();
  EXPECT_EQ(ResolveCapturedTable("other.users", captured).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseTableName("cdc_pipeline_signals").ToString(), "public.cdc_pipeline_signals");
  EXPECT_EQ(ParseTableName("ops.signals").ToString(), "ops.signals");
}

TEST(BackfillLedgerTest, RoundTripsAndRefusesADamagedFile) {
  testing::TempDir dir;
  std::string path = dir / "ledger";
  auto none = ReadBackfillLedger(path);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  BackfillLedger l;
  l.last_signal = PgPosition{Lsn(0x1234567), TxId(991), 4};
  BackfillState a;
  a.id = "a";
  a.table = "public.users";
  a.state = "done";
  a.chunks = 3;
  a.rows = 250;
  a.requested_micros = 1700000000000000;
  a.finished_micros = 1700000001000000;
  BackfillState b;
  b.id = "b";
  b.table = "public.orders";
  b.where = "id < 10";
  b.state = "running";
  l.backfills = {a, b};
  l.running = NewSnapshotProgress();
  l.running->table = "public.orders";
  l.running->last_key = {"9"};
  l.running->chunks = 2;
  ASSERT_TRUE(WriteBackfillLedger(path, l).ok());
  auto back = ReadBackfillLedger(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_value());
  const BackfillLedger& m = **back;
  EXPECT_EQ(m.last_signal, l.last_signal);
  ASSERT_EQ(m.backfills.size(), 2u);
  EXPECT_EQ(m.backfills[0].state, "done");
  EXPECT_EQ(m.backfills[0].rows, 250u);
  EXPECT_EQ(m.backfills[0].finished_micros, a.finished_micros);
  EXPECT_EQ(m.backfills[1].where, "id < 10");
  ASSERT_TRUE(m.running.has_value());
  EXPECT_EQ(m.running->last_key, std::vector<std::string>{"9"});
  EXPECT_EQ(m.running->chunks, 2u);

  std::string bytes = testing::ReadFile(path);
  bytes[bytes.size() / 2] ^= 1;
  testing::WriteFile(path, bytes);
  auto damaged = ReadBackfillLedger(path);
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find("delete it"), std::string::npos);
}

ChangeEvent Signal(const std::string& id, const std::string& type, const std::string& data,
                   PgPosition at) {
  ChangeEvent e;
  e.table = "cdc_pipeline_signals";
  e.op = Op::kInsert;
  e.after = Row();
  e.after->Add("id", Value::Text(id));
  e.after->Add("type", Value::Text(type));
  e.after->Add("data", data.empty() ? Value::Null() : Value::Json(data));
  e.position = ToPosition(at);
  return e;
}

TEST(BackfillerTest, QueuesEachSignalOnceAcrossARestart) {
  testing::TempDir dir;
  BackfillOptions o;
  o.path = dir / "ledger";
  o.tables = {{"public", "users"}, {"public", "orders"}};
  o.signal_table = {"public", "cdc_pipeline_signals"};
  auto b = Backfiller::Open(o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_FALSE((*b)->wants_chunk());
  PgPosition first{Lsn(0x1000), TxId(10), 0};
  PgPosition second{Lsn(0x2000), TxId(11), 0};
  ASSERT_TRUE((*b)->OnSignal(Signal("s1", "backfill", R"({"table": "users"})", first)).ok());
  // Ignored with a warning: unknown type, bad data, a table not captured, a repeated id.
  ASSERT_TRUE((*b)->OnSignal(Signal("s2", "snapshot", R"({"table": "users"})", second)).ok());
  ASSERT_TRUE((*b)->OnSignal(Signal("s3", "backfill", "", second)).ok());
  ASSERT_TRUE((*b)->OnSignal(Signal("s4", "backfill", R"({"table": "payments"})", second)).ok());
  ASSERT_TRUE((*b)->OnSignal(Signal("s1", "backfill", R"({"table": "orders"})", second)).ok());
  ASSERT_TRUE(
      (*b)->OnSignal(Signal("s5", "backfill", R"({"table": "orders", "where": "id < 5"})", second))
          .ok());
  auto state = (*b)->State();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].id, "s1");
  EXPECT_EQ(state[0].table, "public.users");
  EXPECT_EQ(state[0].state, "queued");
  EXPECT_EQ(state[1].id, "s5");
  EXPECT_EQ(state[1].where, "id < 5");
  EXPECT_TRUE((*b)->wants_chunk());

  // A restart: PostgreSQL sends both signals again (not acknowledged), then a new one.
  auto again = Backfiller::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->State().size(), 2u);
  ASSERT_TRUE((*again)->OnSignal(Signal("s1", "backfill", R"({"table": "users"})", first)).ok());
  ASSERT_TRUE(
      (*again)
          ->OnSignal(Signal("s5", "backfill", R"({"table": "orders", "where": "id < 5"})", second))
          .ok());
  ASSERT_TRUE((*again)
                  ->OnSignal(Signal("s6", "backfill", R"({"table": "public.orders"})",
                                    PgPosition{Lsn(0x2000), TxId(11), 1}))
                  .ok());
  state = (*again)->State();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[2].id, "s6");
  // Updates and deletes of signal rows are no signals.
  ChangeEvent update =
      Signal("s7", "backfill", R"({"table": "users"})", PgPosition{Lsn(0x3000), TxId(12), 0});
  update.op = Op::kUpdate;
  ASSERT_TRUE((*again)->OnSignal(update).ok());
  EXPECT_EQ((*again)->State().size(), 3u);
}

}  // namespace
}  // namespace cdc::pg
