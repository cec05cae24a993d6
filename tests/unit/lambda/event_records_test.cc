// The Lambda event shapes (src/lambda/event_records.h): Kinesis records of change-event JSON,
// DynamoDB Streams records and the AttributeValue mapping.
#include "lambda/event_records.h"

#include <gtest/gtest.h>

#include "base/hash.h"
#include "event/event_json.h"

namespace cdc::lambda {
namespace {

Value Attr(std::string_view json) {
  auto v = AttributeValueToValue(json);
  EXPECT_TRUE(v.ok()) << json << ": " << v.status().message();
  return v.ok() ? *v : Value::Null();
}

TEST(LambdaAttributeValue, ScalarsKeepTheirTypes) {
  EXPECT_EQ(Attr(R"({"S":"hi"})"), Value::Text("hi"));
  EXPECT_EQ(Attr(R"({"N":"42"})"), Value::Int64(42));
  EXPECT_EQ(Attr(R"({"N":"-7"})"), Value::Int64(-7));
  // Beyond int64 and fractions: the exact digits, never a double.
  EXPECT_EQ(Attr(R"({"N":"99999999999999999999"})"), Value::Decimal("99999999999999999999"));
  EXPECT_EQ(Attr(R"({"N":"0.10"})"), Value::Decimal("0.10"));
  EXPECT_EQ(Attr(R"({"BOOL":false})"), Value::Bool(false));
  EXPECT_EQ(Attr(R"({"NULL":true})"), Value::Null());
  EXPECT_EQ(Attr(R"({"B":"AAEC"})"), Value::Bytes(std::string("\0\1\2", 3)));
}

TEST(LambdaAttributeValue, SetsAreArraysAndDocumentsAreJson) {
  EXPECT_EQ(Attr(R"({"SS":["a","b"]})"), Value::Array({Value::Text("a"), Value::Text("b")}));
  EXPECT_EQ(Attr(R"({"NS":["1","2.5"]})"), Value::Array({Value::Int64(1), Value::Decimal("2.5")}));
  EXPECT_EQ(Attr(R"({"M":{"a":{"N":"1"},"b":{"L":[{"S":"x"},{"NULL":true},{"BOOL":true}]}}})"),
            Value::Json(R"({"a":1,"b":["x",null,true]})"));
  EXPECT_EQ(Attr(R"({"L":[]})"), Value::Json("[]"));
}

TEST(LambdaAttributeValue, WrongShapesAreErrorsWithoutValues) {
  for (const char* bad : {R"({"Q":"secret"})", R"({"N":"secret"})", R"({"S":1})",
                          R"({"S":"a","N":"1"})", R"({"B":"%%secret"})", R"("secret")"}) {
    auto v = AttributeValueToValue(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().message().find("secret"), std::string::npos) << v.status().message();
  }
}

TEST(LambdaStreamArn, NamesTheTable) {
  EXPECT_EQ(
      TableOfStreamArn(
          "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2024-01-15T10:30:00.000"),
      "users");
  EXPECT_EQ(TableOfStreamArn("arn:aws:kinesis:us-east-1:123456789012:stream/users"), std::nullopt);
  EXPECT_EQ(TableOfStreamArn("arn:aws:dynamodb:us-east-1:123456789012:table/users"), std::nullopt);
  EXPECT_EQ(TableOfStreamArn("users"), std::nullopt);
}

TEST(LambdaEvent, KinesisRecordsInOrder) {
  std::string change =
      R"({"eventType":"INSERT","tableName":"users","timestamp":"2024-01-15T10:30:00Z","after":{"id":"u1"}})";
  std::string event = R"({"Records":[
    {"kinesis":{"sequenceNumber":"1","partitionKey":"k","data":")" +
                      Base64Encode(change) +
                      R"("},"eventSource":"aws:kinesis","eventID":"shardId-000000000002:1"},
    {"kinesis":{"sequenceNumber":"2","partitionKey":"k","data":"$$$"},"eventSource":"aws:kinesis","eventID":"shardId-000000000002:2"}]})";
  auto records = ParseEvent(event, Timestamp{});
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 2u);
  const InputRecord& a = (*records)[0];
  EXPECT_EQ(a.item_identifier, "1");
  EXPECT_EQ(a.shard, "shardId-000000000002");
  ASSERT_TRUE(a.change.has_value()) << a.error;
  EXPECT_EQ(a.change->table, "users");
  // The same id as the JSON source gives the same event text.
  EXPECT_EQ(a.change->position, ParseChangeEventJson(change)->position);
  const InputRecord& b = (*records)[1];
  EXPECT_FALSE(b.change.has_value());
  EXPECT_EQ(b.error, "kinesis data is not base64");
  EXPECT_EQ(b.location, "kinesis shardId-000000000002 seq 2");
}

TEST(LambdaEvent, DynamoDbRecordsMapOperationsAndImages) {
  std::string arn = "arn:aws:dynamodb:eu-west-1:1:table/users/stream/label";
  auto record = [&](const std::string& name, const std::string& seq, const std::string& body) {
    return R"({"eventName":")" + name + R"(","eventSource":"aws:dynamodb","eventSourceARN":")" +
           arn + R"(","dynamodb":{"SequenceNumber":")" + seq + R"(",)" + body + "}}";
  };
  std::string event = R"({"Records":[)" +
                      record("INSERT", "10", R"("NewImage":{"id":{"S":"u1"},"n":{"N":"1"}})") +
                      "," + record("REMOVE", "11", R"("Keys":{"id":{"S":"u1"}})") + "," +
                      record("TTL", "12", R"("Keys":{"id":{"S":"u1"}})") + "]}";
  auto records = ParseEvent(event, Timestamp{1000});
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 3u);
  const InputRecord& ins = (*records)[0];
  ASSERT_TRUE(ins.change.has_value()) << ins.error;
  EXPECT_EQ(ins.source, RecordSource::kDynamoDbStream);
  EXPECT_EQ(ins.item_identifier, "10");
  EXPECT_EQ(ins.change->op, Op::kInsert);
  EXPECT_EQ(ins.change->commit_time.micros, 1000);
  ASSERT_TRUE(ins.change->after.has_value());
  EXPECT_EQ(*ins.change->after->Find("n"), Value::Int64(1));
  const InputRecord& del = (*records)[1];
  ASSERT_TRUE(del.change.has_value()) << del.error;
  EXPECT_EQ(del.change->op, Op::kDelete);
  ASSERT_TRUE(del.change->before.has_value());  // KEYS_ONLY: the keys stand in
  EXPECT_EQ(*del.change->before->Find("id"), Value::Text("u1"));
  EXPECT_NE(ins.change->position, del.change->position);
  EXPECT_FALSE((*records)[2].change.has_value());
  EXPECT_NE((*records)[2].error.find("INSERT, MODIFY or REMOVE"), std::string::npos);
}

TEST(LambdaEvent, NotABatchIsAnError) {
  EXPECT_FALSE(ParseEvent("not json", Timestamp{}).ok());
  EXPECT_FALSE(ParseEvent(R"({"Records":{}})", Timestamp{}).ok());
  auto empty = ParseEvent(R"({"Records":[]})", Timestamp{});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace cdc::lambda
