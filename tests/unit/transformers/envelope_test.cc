// Turning a processed change into the EventBridge (or CloudEvents) output event.
#include "event/envelope.h"

#include <gtest/gtest.h>

#include "event/event_json.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

ProcessedEvent SampleUpdate() {
  ProcessedEvent e;
  e.change.table = "users";
  e.change.op = Op::kUpdate;
  e.change.commit_time = *ParseRfc3339("2024-01-15T10:30:00.123Z");
  e.change.before = Row({{"id", Value::Int64(1)}, {"status", Value::Text("active")}});
  e.change.after = Row({{"id", Value::Int64(1)}, {"status", Value::Text("inactive")}});
  e.change.position = ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 0});
  e.changed_fields = {"status"};
  return e;
}

TEST(Envelope, HasTheEventBridgeShape) {
  EnvelopeOptions opts;
  std::string json = EncodeEnvelope(SampleUpdate(), opts);
  EXPECT_TRUE(IsValidJson(json));
  std::string id = EventId("coredb", SampleUpdate().change.position);
  EXPECT_EQ(
      json,
      R"({"version":"0","id":")" + id +
          R"(","detail-type":"users.UPDATE","source":"cdc.coredb","account":"000000000000",)"
          R"("time":"2024-01-15T10:30:00Z","region":"local","resources":[],)"
          R"("detail":{"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00.123Z",)"
          R"("before":{"id":1,"status":"active"},"after":{"id":1,"status":"inactive"},)"
          R"("changedFields":["status"],)"
          R"("metadata":{"pipeline":"coredb","lsn":"0/1540978","txId":729,"seq":0,"schemaVersion":1}}})");
}

TEST(Envelope, IdIsDeterministicPerPipelineAndPosition) {
  SourcePosition a = ToPosition(PgPosition{Lsn(100), TxId(7), 0});
  SourcePosition b = ToPosition(PgPosition{Lsn(100), TxId(7), 1});
  EXPECT_EQ(EventId("coredb", a), EventId("coredb", a));
  EXPECT_NE(EventId("coredb", a), EventId("coredb", b));
  EXPECT_NE(EventId("coredb", a), EventId("other", a));
}

// The id is a UUIDv5 of "<pipeline>\n<position key>"; the key's LSN is written as pg_lsn does.
TEST(Envelope, IdHashesThePipelineAndThePositionKey) {
  SourcePosition pg = ToPosition(PgPosition{Lsn(0xAB00000001540F9EULL), TxId(4294967295u), 12});
  EXPECT_EQ(PositionKey(pg), "pg/AB000000/1540F9E/4294967295/12");
  EXPECT_EQ(PositionKey(ToPosition(PgPosition{Lsn(0), TxId(0), 0})), "pg/0/0/0/0");
  EXPECT_EQ(PositionKey(ContentPosition("00ff")), "json/00ff");
  EXPECT_EQ(PositionKey(SourcePosition()), "none");
  // Known values (Python: uuid.uuid5(namespace, "coredb\n" + key)): ids never change.
  EXPECT_EQ(EventId("coredb", pg), "210f258b-4685-5d36-b6fd-b9dbf5591242");
  EXPECT_EQ(EventId("coredb", ToPosition(PgPosition{Lsn(0x1540978), TxId(729), 0})),
            "d07a699f-b7b6-53a0-a1a8-fce134c3a621");
}

TEST(Envelope, SchemaQualifiedOutsidePublicAndConfigurableIdentity) {
  ProcessedEvent e = SampleUpdate();
  e.change.schema = "sales";
  e.redacted = {"email"};
  e.change.unchanged_toast = {"body"};
  EnvelopeOptions opts{"p", "my.source", "123456789012", "eu-west-1"};
  std::string json = EncodeEnvelope(e, opts);
  EXPECT_NE(
      json.find(
          R"("detail-type":"sales.users.UPDATE","source":"my.source","account":"123456789012")"),
      std::string::npos);
  EXPECT_NE(json.find(R"("region":"eu-west-1")"), std::string::npos);
  EXPECT_NE(json.find(R"("tableName":"sales.users")"), std::string::npos);
  EXPECT_NE(json.find(R"("redacted":["email"])"), std::string::npos);
  EXPECT_NE(json.find(R"("unchangedToast":["body"])"), std::string::npos);
}

TEST(Envelope, InsertHasNoChangedFields) {
  ProcessedEvent e = SampleUpdate();
  e.change.op = Op::kInsert;
  e.change.before.reset();
  e.changed_fields.clear();
  std::string json = EncodeEnvelope(e, {});
  EXPECT_EQ(json.find("changedFields"), std::string::npos);
  EXPECT_EQ(json.find("\"before\""), std::string::npos);
}

// A SCHEMA_CHANGE: the new and previous columns (name -> type) and what changed; the matcher
// sees the same members (the envelope view writes from the same code).
TEST(Envelope, SchemaChangeCarriesTheColumnsAndWhatChanged) {
  ProcessedEvent e;
  e.change.table = "orders";
  e.change.op = Op::kSchemaChange;
  e.change.commit_time = *ParseRfc3339("2024-01-15T10:30:00Z");
  e.change.before = Row({{"id", Value::Text("integer")},
                         {"note", Value::Text("text")},
                         {"qty", Value::Text("integer")},
                         {"old", Value::Text("text")}});
  e.change.after = Row({{"id", Value::Text("integer")},
                        {"remark", Value::Text("text")},
                        {"qty", Value::Text("bigint")},
                        {"fresh", Value::Text("jsonb")}});
  e.change.schema_version = 3;
  e.change.position = ToPosition(PgPosition{Lsn(0x100), TxId(7), 0});
  EnvelopeOptions opts;
  std::string json = EncodeEnvelope(e, opts);
  EXPECT_TRUE(IsValidJson(json));
  EXPECT_NE(json.find(R"("detail-type":"orders.SCHEMA_CHANGE")"), std::string::npos) << json;
  EXPECT_NE(
      json.find(
          R"("detail":{"eventType":"SCHEMA_CHANGE","tableName":"orders",)"
          R"("timestamp":"2024-01-15T10:30:00Z",)"
          R"("columns":{"id":"integer","remark":"text","qty":"bigint","fresh":"jsonb"},)"
          R"("previousColumns":{"id":"integer","note":"text","qty":"integer","old":"text"},)"
          R"("changes":{"added":["fresh"],"dropped":["old"],"renamed":{"note":"remark"},)"
          R"("retyped":{"qty":{"from":"integer","to":"bigint"}}},)"
          R"("metadata":{"pipeline":"coredb","lsn":"0/100","txId":7,"seq":0,"schemaVersion":3}})"),
      std::string::npos)
      << json;
  EXPECT_EQ(DiffColumns(*e.change.before, *e.change.after).Describe(),
            "added fresh; dropped old; renamed note to remark; retyped qty from integer to bigint");
  EXPECT_EQ(DiffColumns(*e.change.after, *e.change.after).Describe(), "no column changed");
}

TEST(CloudEvents, StructuredMode) {
  std::string json = EncodeCloudEvent(SampleUpdate(), {});
  EXPECT_TRUE(IsValidJson(json));
  EXPECT_EQ(json.rfind(R"({"specversion":"1.0","id":")", 0), 0u);
  EXPECT_NE(json.find(R"("type":"users.UPDATE","time":"2024-01-15T10:30:00.123Z")"),
            std::string::npos);
  EXPECT_NE(json.find(R"("data":{"eventType":"UPDATE")"), std::string::npos);
}

}  // namespace
}  // namespace cdc
