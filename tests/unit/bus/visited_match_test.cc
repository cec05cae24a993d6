// Matching a visited event (EnvelopeView, what the pipeline matches) gives exactly the result of
// matching its JSON text: every rule of a broad set, alone and all together, over events with
// every value kind, JSON columns, arrays, dotted column names and both positions.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bus/matcher.h"
#include "event/envelope.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

const std::vector<std::string>& Patterns() {
  static const std::vector<std::string> patterns = {
      R"({})",
      R"({"source":["cdc.coredb"]})",
      R"({"source":["other"]})",
      R"({"detail-type":["users.UPDATE","orders.INSERT"]})",
      R"({"detail-type":[{"prefix":"users."}]})",
      R"({"detail-type":[{"suffix":".DELETE"}]})",
      R"({"detail":{"eventType":["UPDATE"],"tableName":["users"]}})",
      R"({"detail":{"tableName":[{"equals-ignore-case":"SALES.ORDERS"}]}})",
      R"({"detail":{"tableName":[{"anything-but":["users"]}]}})",
      R"({"detail":{"after":{"status":["active"]}}})",
      R"({"detail":{"after":{"status":[{"anything-but":{"prefix":"in"}}]}}})",
      R"({"detail":{"after":{"status":[{"wildcard":"*act*"}]}}})",
      R"({"detail":{"before":{"status":["active"]},"after":{"status":["inactive"]}}})",
      R"({"detail":{"after":{"balance":[{"numeric":[">",1000]}]}}})",
      R"({"detail":{"after":{"balance":[1249.5]}}})",
      R"({"detail":{"after":{"score":[{"numeric":["<",0.5]}]}}})",
      R"({"detail":{"after":{"score":["NaN"]}}})",
      R"({"detail":{"after":{"score":[1.75]}}})",
      R"({"detail":{"after":{"id":[9223372036854775807]}}})",
      R"({"detail":{"after":{"id":[{"numeric":[">=",5]}]}}})",
      R"({"detail":{"after":{"id":[42]}}})",
      R"({"detail":{"after":{"verified":[true]}}})",
      R"({"detail":{"after":{"verified":[false]}}})",
      R"({"detail":{"after":{"phone":[null]}}})",
      R"({"detail":{"after":{"phone":[{"exists":true}]}}})",
      R"({"detail":{"after":{"phone":[{"exists":false}]}}})",
      R"({"detail":{"after":{"body":[{"exists":false}]}}})",
      R"({"detail":{"after":{"created_at":[{"prefix":"2024-01"}]}}})",
      R"({"detail":{"after":{"birthday":["1990-05-17"]}}})",
      R"({"detail":{"after":{"ip":[{"cidr":"10.0.0.0/8"}]}}})",
      R"({"detail":{"after":{"attrs":{"k":[3]}}}})",
      R"({"detail":{"after":{"attrs":{"tag":["x"],"k":[{"numeric":[">",1]}]}}}})",
      R"({"detail":{"after":{"attrs":{"nested":{"deep":["yes"]}}}}})",
      R"({"detail":{"after":{"items":{"sku":["a"],"qty":[2]}}}})",
      R"({"detail":{"after":{"items":{"sku":["a"],"qty":[1]}}}})",
      R"({"detail":{"after":{"tags":["vip"]}}})",
      R"({"detail":{"after":{"matrix":[4]}}})",
      R"({"detail":{"after":{"address":{"city":["Stockholm"]}}}})",
      R"({"detail":{"after":{"address.city":["Stockholm"]}}})",
      R"({"detail":{"after":{"name":["Zoë"]}}})",
      R"({"detail":{"after":{"name":[""]}}})",
      R"({"detail":{"after":{"quote":["say \"hi\"\n"]}}})",
      R"({"detail":{"after":{"jnum":[7]}}})",
      R"({"detail":{"after":{"jstr":["plain"]}}})",
      R"({"detail":{"changedFields":["status"]}})",
      R"({"detail":{"changedFields":[{"exists":false}]}})",
      R"({"detail":{"redacted":["email"]}})",
      R"({"detail":{"metadata":{"txId":[729],"seq":[{"numeric":["<",2]}]}}})",
      R"({"detail":{"metadata":{"lsn":["0/1540978"],"pipeline":["coredb"]}}})",
      R"({"detail":{"metadata":{"digest":[{"exists":true}]}}})",
      R"({"detail":{"metadata":{"schemaVersion":[1]}}})",
      R"({"detail":{"metadata":{"unchangedToast":["body"]}}})",
      R"({"time":[{"prefix":"2024-01-15T10:30"}],"account":["000000000000"],"region":["local"]})",
      R"({"id":[{"exists":true}],"version":["0"],"resources":[{"exists":false}]})",
      R"({"$or":[{"detail":{"after":{"status":["active"]}}},{"detail":{"after":{"id":[7]}}}]})",
      R"({"detail":{"timestamp":[{"prefix":"2024"}],"after":{"balance":[{"exists":true}]}}})",
  };
  return patterns;
}

Row UsersRow(int64_t id, std::string status) {
  Row row;
  row.Add("id", Value::Int64(id));
  row.Add("email", Value::Text("hmac:k1:" + std::string(64, 'a')));
  row.Add("name", Value::Text(id % 2 ? "Zoë" : ""));
  row.Add("quote", Value::Text("say \"hi\"\n"));
  row.Add("status", Value::Text(std::move(status)));
  row.Add("phone", id % 3 ? Value::Null() : Value::Text("+1 415 555 2671"));
  row.Add("balance", Value::Decimal(id % 2 ? "1249.50" : "999.99"));
  row.Add("score", id % 4 ? Value::Double(0.25 * static_cast<double>(id)) : Value::Double(NAN));
  row.Add("verified", Value::Bool(id % 2 == 0));
  row.Add("created_at", Value::TimestampTz(1705314600000000));
  row.Add("birthday", Value::Date(7441));
  row.Add("ip", Value::Inet(id % 2 ? "10.1.2.3" : "192.168.0.1"));
  row.Add("attrs", Value::Json(R"({"k":3,"tag":"x","nested":{"deep":"yes"}})"));
  row.Add("items", Value::Json(id % 2 ? R"([{"sku":"a","qty":1},{"sku":"b","qty":2}])"
                                      : R"([{"sku":"a","qty":2}])"));
  row.Add("tags", Value::Array({Value::Text("vip"), Value::Null(), Value::Text("early")}));
  row.Add("matrix", Value::Array({Value::Array({Value::Int64(1), Value::Int64(4)}),
                                  Value::Array({Value::Decimal("4")})}));
  row.Add("address.city", Value::Text("Stockholm"));
  row.Add("jnum", Value::Json("7"));
  row.Add("jstr", Value::Json(R"("plain")"));
  row.Add("body", Value::UnchangedToast());
  row.Add("blob", Value::Bytes(std::string("\0\xff", 2)));
  return row;
}

std::vector<ProcessedEvent> Events() {
  std::vector<ProcessedEvent> events;
  for (int64_t id : std::vector<int64_t>{7, 42, INT64_MAX}) {
    ProcessedEvent update;
    update.change.table = "users";
    update.change.op = Op::kUpdate;
    update.change.commit_time = Timestamp{1705314600123456};
    update.change.position =
        ToPosition(PgPosition{Lsn(0x1540978), TxId(729), static_cast<uint32_t>(id % 3)});
    update.change.before = UsersRow(id, "active");
    update.change.after = UsersRow(id, id == 42 ? "active" : "inactive");
    update.change.key = Row({{"id", Value::Int64(id)}});
    update.change.unchanged_toast = {"body"};
    update.changed_fields =
        id == 42 ? std::vector<std::string>{} : std::vector<std::string>{"status"};
    update.redacted = {"email"};
    events.push_back(update);

    ProcessedEvent insert = update;
    insert.change.op = Op::kInsert;
    insert.change.schema = "sales";
    insert.change.table = "orders";
    insert.change.before.reset();
    insert.change.unchanged_toast.clear();
    insert.changed_fields.clear();
    insert.redacted.clear();
    insert.change.position = ContentPosition("0123456789abcdef0123456789abcdef");
    events.push_back(insert);

    ProcessedEvent del = update;
    del.change.op = Op::kDelete;
    del.change.after.reset();
    del.change.before = Row({{"id", Value::Int64(id)}});
    events.push_back(del);
  }
  return events;
}

std::vector<uint32_t> MatchText(const Matcher& m, const std::string& json) {
  std::vector<uint32_t> out;
  Status s = m.Match(json, out);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << json;
  return out;
}

std::vector<uint32_t> MatchVisited(const Matcher& m, const std::string& json,
                                   const ProcessedEvent& event, const EnvelopeOptions& options,
                                   const std::string& id) {
  std::vector<uint32_t> out;
  Status s = m.Match(json, EnvelopeView(event, options, id), out);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << json;
  return out;
}

TEST(VisitedMatch, SameResultsAsTheTextForEveryRuleAloneAndTogether) {
  EnvelopeOptions options;
  std::vector<RulePattern> all;
  for (size_t i = 0; i < Patterns().size(); ++i) {
    all.push_back({"r" + std::to_string(i), Patterns()[i]});
  }
  auto together = CompileMatcher(all);
  ASSERT_TRUE(together.ok()) << together.status().ToString();
  size_t matched_somewhere = 0;
  for (const ProcessedEvent& event : Events()) {
    std::string id = EventId(options.pipeline, event.change.position);
    std::string json = EncodeEnvelope(event, options, id);
    std::vector<uint32_t> text = MatchText(**together, json);
    EXPECT_EQ(MatchVisited(**together, json, event, options, id), text) << json;
    matched_somewhere += text.size();
    for (const RulePattern& rule : all) {
      auto alone = CompileMatcher({rule});
      ASSERT_TRUE(alone.ok()) << alone.status().ToString();
      EXPECT_EQ(MatchVisited(**alone, json, event, options, id), MatchText(**alone, json))
          << rule.pattern_json << "\n"
          << json;
    }
  }
  // The rules are not vacuous: most match some event, none matches every one.
  EXPECT_GT(matched_somewhere, Events().size() * 10);
}

TEST(VisitedMatch, TextThatIsNotUtf8FailsAsParsingIt) {
  auto m = CompileMatcher({{"r", R"({"source":["cdc.coredb"]})"}});
  ASSERT_TRUE(m.ok());
  ProcessedEvent event = Events().front();
  event.change.after->Add("bad", Value::Text(std::string("\xc3\x28", 2)));
  EnvelopeOptions options;
  std::string json = EncodeEnvelope(event, options, "id");
  std::vector<uint32_t> out;
  Status text = (*m)->Match(json, out);
  Status visited = (*m)->Match(json, EnvelopeView(event, options, "id"), out);
  EXPECT_FALSE(text.ok());
  EXPECT_EQ(visited.ToString(), text.ToString());
}

}  // namespace
}  // namespace cdc
