// Shared fixture for the PostgreSQL integration tests: one private server per test suite (see
// tests/support/pg_server.h) and a fresh database per test, plus helpers to read transactions
// from the replication stream.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "event/event_json.h"
#include "event/position_kinds.h"
#include "source/postgres/catalog.h"
#include "source/postgres/replication_connection.h"
#include "support/pg_server.h"

namespace cdc::pg {

#define CDC_ASSERT_OK(expr)                                              \
  do {                                                                   \
    ::cdc::Status assert_ok_status_ = (expr);                            \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_.ToString(); \
  } while (0)

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

// One committed transaction as the stream delivered it.
struct Tx {
  PgBegin begin;
  std::vector<ChangeEvent> changes;
  PgCommit commit;
};

inline std::string JsonOf(const Value& v) {
  std::string out;
  JsonWriter w(out);
  WriteValue(w, v);
  return out;
}

inline std::string JsonOf(const Row& row) {
  std::string out;
  JsonWriter w(out);
  WriteRow(w, row);
  return out;
}

inline PgPosition PositionOf(const ChangeEvent& e) {
  return PgPositionOf(e.position).value_or(PgPosition{});
}

// Reads until the next transaction with at least one change has committed (keepalives and empty
// transactions are skipped).
inline Result<Tx> ReadTx(PgReplicationConnection& conn,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Tx tx;
  bool begun = false;
  while (std::chrono::steady_clock::now() < deadline) {
    CDC_ASSIGN_OR_RETURN(auto msg, conn.Next(std::chrono::milliseconds(200)));
    if (!msg) continue;
    if (auto* b = std::get_if<PgBegin>(&*msg)) {
      tx = Tx{};
      tx.begin = *b;
      begun = true;
    } else if (auto* e = std::get_if<ChangeEvent>(&*msg)) {
      if (!begun) return Internal("change outside a transaction");
      tx.changes.push_back(std::move(*e));
    } else if (auto* c = std::get_if<PgCommit>(&*msg)) {
      if (!begun) return Internal("commit without begin");
      tx.commit = *c;
      begun = false;
      if (!tx.changes.empty()) return tx;
    }
  }
  return Unavailable("no transaction within the timeout");
}

class PgFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::PgServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the PostgreSQL test server did not start";
    db_ = "t" + std::to_string(++counter_);
    CDC_ASSERT_OK(server_->Execute("CREATE DATABASE " + db_));
  }

  std::string Dsn() const { return server_->Dsn(db_); }
  Status Sql(std::string_view sql) const { return server_->Execute(sql, db_); }
  Result<std::string> SqlValue(std::string_view sql) const { return server_->QueryValue(sql, db_); }

  // Publishes `tables` and starts streaming from a new slot named after the database.
  Result<std::unique_ptr<PgReplicationConnection>> Open(std::vector<PgTableRequirement> tables,
                                                        bool messages = false,
                                                        bool stream_in_progress = false) {
    PgSourceOptions o;
    o.dsn = Dsn();
    o.slot = db_;
    o.publication = "pub";
    o.tables = std::move(tables);
    o.messages = messages;
    o.stream_in_progress = stream_in_progress;
    return OpenReplication(o);
  }

  static PgTableRequirement Table(std::string name, bool full = false) {
    return PgTableRequirement{PgTableRef{"public", std::move(name)}, full};
  }

  static inline std::unique_ptr<testing::PgServer> server_;
  static inline int counter_ = 0;
  std::string db_;
};

}  // namespace cdc::pg
