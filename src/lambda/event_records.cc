#include "lambda/event_records.h"

#include <simdjson.h>

#include <charconv>
#include <map>

#include "base/hash.h"
#include "event/change_codec.h"
#include "event/event_json.h"
#include "event/json_writer.h"
#include "event/position_kinds.h"
#include "runtime/change_record.h"
#include "stream/kinesis/kinesis_stream.h"

namespace cdc::lambda {
namespace {

namespace dom = simdjson::dom;

// A string member, or "" when it is missing or not a string.
std::string_view StringField(dom::element e, std::string_view key) {
  std::string_view s;
  if (e[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}

// The single "type": value member of an AttributeValue.
Status OnlyMember(dom::element attribute, std::string_view& type, dom::element& value) {
  dom::object o;
  if (attribute.get(o) != simdjson::SUCCESS) {
    return InvalidArgument("an attribute value is not an object");
  }
  size_t n = 0;
  for (dom::key_value_pair kv : o) {
    type = kv.key;
    value = kv.value;
    ++n;
  }
  if (n != 1) return InvalidArgument("an attribute value must have exactly one type member");
  return Status::Ok();
}

Status WrongShape(std::string_view type) {
  return InvalidArgument("attribute value of type " + std::string(type) +
                         " does not have the shape DynamoDB gives it");
}

Result<std::string_view> TextOf(dom::element value, std::string_view type) {
  std::string_view s;
  if (value.get(s) != simdjson::SUCCESS) return WrongShape(type);
  return s;
}

// N: an int64 when it is an integer in range, else the exact digits.
Result<Value> NumberValue(std::string_view text) {
  int64_t i = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (!text.empty() && ec == std::errc() && p == text.data() + text.size()) {
    return Value::Int64(i);
  }
  if (!IsJsonNumber(text)) return InvalidArgument("attribute value of type N is not a number");
  return Value::Decimal(text);
}

// The attribute with its types unwrapped, as plain JSON (for M and L).
Status WritePlain(dom::element attribute, JsonWriter& w, int depth) {
  if (depth > 32) return InvalidArgument("attribute values nested deeper than 32 levels");
  std::string_view type;
  dom::element value;
  CDC_RETURN_IF_ERROR(OnlyMember(attribute, type, value));
  if (type == "S" || type == "B") {
    CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(value, type));
    w.String(s);
  } else if (type == "N") {
    CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(value, type));
    if (!IsJsonNumber(s)) return InvalidArgument("attribute value of type N is not a number");
    w.Raw(s);
  } else if (type == "BOOL") {
    bool b = false;
    if (value.get(b) != simdjson::SUCCESS) return WrongShape(type);
    w.Bool(b);
  } else if (type == "NULL") {
    w.Null();
  } else if (type == "SS" || type == "NS" || type == "BS") {
    dom::array a;
    if (value.get(a) != simdjson::SUCCESS) return WrongShape(type);
    w.BeginArray();
    for (dom::element e : a) {
      CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(e, type));
      if (type == "NS") {
        if (!IsJsonNumber(s)) return InvalidArgument("attribute value of type NS is not numbers");
        w.Raw(s);
      } else {
        w.String(s);
      }
    }
    w.EndArray();
  } else if (type == "L") {
    dom::array a;
    if (value.get(a) != simdjson::SUCCESS) return WrongShape(type);
    w.BeginArray();
    for (dom::element e : a) CDC_RETURN_IF_ERROR(WritePlain(e, w, depth + 1));
    w.EndArray();
  } else if (type == "M") {
    dom::object o;
    if (value.get(o) != simdjson::SUCCESS) return WrongShape(type);
    w.BeginObject();
    for (dom::key_value_pair kv : o) {
      w.Key(kv.key);
      CDC_RETURN_IF_ERROR(WritePlain(kv.value, w, depth + 1));
    }
    w.EndObject();
  } else {
    return InvalidArgument("unknown attribute value type '" + std::string(type) + "'");
  }
  return Status::Ok();
}

Result<Value> ToValue(dom::element attribute) {
  std::string_view type;
  dom::element value;
  CDC_RETURN_IF_ERROR(OnlyMember(attribute, type, value));
  if (type == "S") {
    CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(value, type));
    return Value::Text(s);
  }
  if (type == "N") {
    CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(value, type));
    return NumberValue(s);
  }
  if (type == "BOOL") {
    bool b = false;
    if (value.get(b) != simdjson::SUCCESS) return WrongShape(type);
    return Value::Bool(b);
  }
  if (type == "NULL") return Value::Null();
  if (type == "B") {
    CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(value, type));
    std::string bytes;
    if (!Base64Decode(s, bytes)) return InvalidArgument("attribute value of type B is not base64");
    return Value::Bytes(std::move(bytes));
  }
  if (type == "SS" || type == "NS" || type == "BS") {
    dom::array a;
    if (value.get(a) != simdjson::SUCCESS) return WrongShape(type);
    std::vector<Value> elements;
    for (dom::element e : a) {
      CDC_ASSIGN_OR_RETURN(std::string_view s, TextOf(e, type));
      if (type == "SS") {
        elements.push_back(Value::Text(s));
      } else if (type == "NS") {
        CDC_ASSIGN_OR_RETURN(Value n, NumberValue(s));
        elements.push_back(std::move(n));
      } else {
        std::string bytes;
        if (!Base64Decode(s, bytes)) {
          return InvalidArgument("attribute value of type BS is not base64");
        }
        elements.push_back(Value::Bytes(std::move(bytes)));
      }
    }
    return Value::Array(std::move(elements));
  }
  if (type == "M" || type == "L") {
    std::string json;
    JsonWriter w(json);
    CDC_RETURN_IF_ERROR(WritePlain(attribute, w, 0));
    return Value::Json(std::move(json));
  }
  return InvalidArgument("unknown attribute value type '" + std::string(type) + "'");
}

Result<Row> ToRow(dom::element image, std::string_view what) {
  dom::object o;
  if (image.get(o) != simdjson::SUCCESS) {
    return InvalidArgument("dynamodb." + std::string(what) + " is not an object");
  }
  Row row;
  for (dom::key_value_pair kv : o) {
    auto v = ToValue(kv.value);
    if (!v.ok()) {
      return InvalidArgument("dynamodb." + std::string(what) + "." + std::string(kv.key) + ": " +
                             v.status().message());
    }
    row.Add(std::string(kv.key), std::move(v).value());
  }
  return row;
}

// A DynamoDB Streams record as a change of the table its ARN names.
Result<ChangeEvent> DynamoDbChange(dom::element record, Timestamp now) {
  std::string_view arn = StringField(record, "eventSourceARN");
  auto table = TableOfStreamArn(arn);
  if (!table) return InvalidArgument("eventSourceARN is not a DynamoDB stream's ARN");
  ChangeEvent change;
  size_t dot = table->find('.');
  if (dot != std::string::npos) {
    change.schema = table->substr(0, dot);
    change.table = table->substr(dot + 1);
  } else {
    change.table = *table;
  }
  std::string_view name = StringField(record, "eventName");
  if (name == "INSERT") {
    change.op = Op::kInsert;
  } else if (name == "MODIFY") {
    change.op = Op::kUpdate;
  } else if (name == "REMOVE") {
    change.op = Op::kDelete;
  } else {
    return InvalidArgument("eventName must be INSERT, MODIFY or REMOVE");
  }
  dom::element ddb;
  if (record["dynamodb"].get(ddb) != simdjson::SUCCESS) {
    return InvalidArgument("missing field 'dynamodb'");
  }
  dom::element image;
  std::optional<Row> keys;
  if (ddb["Keys"].get(image) == simdjson::SUCCESS) {
    CDC_ASSIGN_OR_RETURN(keys, ToRow(image, "Keys"));
  }
  if (ddb["NewImage"].get(image) == simdjson::SUCCESS) {
    CDC_ASSIGN_OR_RETURN(change.after, ToRow(image, "NewImage"));
  }
  if (ddb["OldImage"].get(image) == simdjson::SUCCESS) {
    CDC_ASSIGN_OR_RETURN(change.before, ToRow(image, "OldImage"));
  }
  // A stream that keeps fewer images (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE): the keys stand in.
  if (change.op == Op::kDelete) {
    change.after.reset();
    if (!change.before) change.before = keys;
    if (!change.before) return InvalidArgument("a REMOVE record without OldImage or Keys");
  } else {
    if (!change.after) change.after = keys;
    if (!change.after) return InvalidArgument("a record without NewImage or Keys");
    if (change.op == Op::kInsert) change.before.reset();
  }
  change.commit_time = now;
  double seconds = 0;
  if (ddb["ApproximateCreationDateTime"].get(seconds) == simdjson::SUCCESS) {
    change.commit_time = Timestamp{static_cast<int64_t>(seconds * 1e6)};
  }
  // The stream's identity of the record: the same record, delivered again, is the same change.
  std::string_view sequence = StringField(ddb, "SequenceNumber");
  auto digest = Sha256(std::string(arn) + "\n" + std::string(sequence));
  change.position = ContentPosition(
      HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), 16)));
  return change;
}

// A record of the pipeline's own kinesis stream (docs/kinesis.md): a change record, a dead letter
// made at capture, or an event of the bus's API (for no function).
void ParseFrame(const stream::KinesisFrame& frame, InputRecord& out) {
  out.offset = frame.offset;
  const std::string what =
      "record " + std::to_string(frame.offset) + " of the pipeline's own kinesis stream";
  if (frame.fragments > 1) {
    // Joined with the others by JoinFragments once the whole batch is read.
    out.fragment = InputRecord::Fragment{frame.fragment, frame.fragments, frame.type,
                                         frame.append_micros, std::string(frame.data)};
    return;
  }
  std::string_view payload = frame.data;
  if (frame.type == kRecordDeadLetter) {
    InputRecord::CaptureDeadLetter letter;
    if (!GetString(payload, letter.stage) || !GetString(payload, letter.reason) ||
        !GetString(payload, letter.location) || !GetString(payload, letter.table) ||
        !GetString(payload, letter.input)) {
      out.error = what + ": a malformed dead-letter record";
      return;
    }
    out.dead_letter = std::move(letter);
    return;
  }
  if (frame.type != kRecordChange) {
    out.skip = true;
    return;
  }
  CaptureResult captured;
  std::string location;
  if (!ReadCaptureHeader(payload, captured, location)) {
    out.error = what + ": a malformed change record";
    return;
  }
  auto change = DecodeChange(payload);
  if (!change.ok()) {
    out.error = what + ": " + change.status().message();
    return;
  }
  if (!location.empty()) out.location += " (" + location + ")";
  out.change = std::move(change).value();
  out.captured = std::move(captured);
}

void ParseKinesis(dom::element record, dom::element kinesis, InputRecord& out) {
  out.source = RecordSource::kKinesis;
  out.item_identifier = std::string(StringField(kinesis, "sequenceNumber"));
  std::string_view event_id = StringField(record, "eventID");
  out.shard = std::string(event_id.substr(0, event_id.find(':')));
  out.location = "kinesis " + (out.shard.empty() ? std::string("?") : out.shard) + " seq " +
                 (out.item_identifier.empty() ? std::string("?") : out.item_identifier);
  std::string_view data;
  if (kinesis["data"].get(data) != simdjson::SUCCESS) {
    out.error = "kinesis record without data";
    return;
  }
  std::string bytes;
  if (!Base64Decode(data, bytes)) {
    out.raw = std::string(data);
    out.error = "kinesis data is not base64";
    return;
  }
  stream::KinesisFrame frame;
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0xC7 &&
      stream::DecodeKinesisFrame(bytes, frame)) {
    std::string_view key = StringField(kinesis, "partitionKey");
    out.chain = key.empty() ? out.shard : std::string(key);
    ParseFrame(frame, out);
    if (!out.error.empty()) out.raw = std::string(data);
    return;
  }
  auto change = ParseChangeEventJson(bytes);
  if (!change.ok()) {
    out.raw = IsValidJson(bytes) ? bytes : std::string(data);
    out.error = "kinesis data: " + change.status().message();
    return;
  }
  out.raw = std::move(bytes);
  out.change = std::move(change).value();
}

void ParseDynamoDb(dom::element record, Timestamp now, InputRecord& out) {
  out.source = RecordSource::kDynamoDbStream;
  out.shard = std::string(StringField(record, "eventSourceARN"));
  dom::element ddb;
  if (record["dynamodb"].get(ddb) == simdjson::SUCCESS) {
    out.item_identifier = std::string(StringField(ddb, "SequenceNumber"));
  }
  auto table = TableOfStreamArn(out.shard);
  out.location = "dynamodb stream " + (table ? *table : std::string("?")) + " seq " +
                 (out.item_identifier.empty() ? std::string("?") : out.item_identifier);
  out.raw = simdjson::minify(record);
  auto change = DynamoDbChange(record, now);
  if (!change.ok()) {
    out.error = "dynamodb stream record: " + change.status().message();
    return;
  }
  out.change = std::move(change).value();
}

}  // namespace

std::optional<std::string> TableOfStreamArn(std::string_view arn) {
  // arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
  constexpr std::string_view kPrefix = "arn:";
  if (arn.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  size_t colons = 0, pos = 0;
  for (; pos < arn.size() && colons < 5; ++pos) colons += arn[pos] == ':' ? 1 : 0;
  if (colons < 5 || arn.find(":dynamodb:") == std::string_view::npos) return std::nullopt;
  std::string_view resource = arn.substr(pos);
  constexpr std::string_view kTable = "table/";
  if (resource.substr(0, kTable.size()) != kTable) return std::nullopt;
  resource.remove_prefix(kTable.size());
  size_t slash = resource.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  if (resource.substr(slash, 8) != "/stream/") return std::nullopt;
  return std::string(resource.substr(0, slash));
}

Result<Value> AttributeValueToValue(std::string_view attribute_json) {
  dom::parser parser;
  dom::element e;
  if (parser.parse(attribute_json.data(), attribute_json.size()).get(e) != simdjson::SUCCESS) {
    return InvalidArgument("malformed JSON");
  }
  return ToValue(e);
}

// The records put in fragments (over 1 MB, docs/kinesis.md): per chain, as `run`'s readers
// follow it, a first fragment starts its offset (again: the writer puts a half-put record again
// from its first fragment) and the next fragments in order complete it; the first fragment's
// record becomes the whole record, the others are done. A record whose fragments are not all in
// the batch is incomplete (retried from its first fragment); stray fragments are skipped.
namespace {

void JoinFragments(std::vector<InputRecord>& records) {
  struct Assembly {
    size_t first;  // the record of fragment 0
    uint64_t offset;
    uint32_t next, count;
    std::string data;
  };
  std::map<std::string, Assembly> open;  // chain -> the record being joined
  for (size_t i = 0; i < records.size(); ++i) {
    InputRecord& r = records[i];
    if (!r.fragment) continue;
    InputRecord::Fragment f = std::move(*r.fragment);
    r.fragment.reset();
    auto it = open.find(r.chain);
    if (f.index == 0) {
      if (it != open.end()) records[it->second.first].skip = true;  // put again from its start
      open[r.chain] = Assembly{i, *r.offset, 1, f.count, std::move(f.data)};
      continue;
    }
    r.skip = true;
    if (it == open.end() || it->second.offset != *r.offset || it->second.next != f.index ||
        it->second.count != f.count) {
      continue;  // a copy, or a fragment of a record put again
    }
    Assembly& a = it->second;
    a.data += f.data;
    if (++a.next < a.count) continue;
    stream::KinesisFrame whole;
    whole.offset = a.offset;
    whole.type = f.type;
    whole.append_micros = f.append_micros;
    whole.data = a.data;
    InputRecord& first = records[a.first];
    ParseFrame(whole, first);
    if (!first.error.empty()) first.raw = "(" + std::to_string(a.count) + " fragments)";
    open.erase(it);
  }
  for (auto& [chain, a] : open) records[a.first].incomplete = true;
}

}  // namespace

Result<std::vector<InputRecord>> ParseEvent(std::string_view json, Timestamp now) {
  dom::parser parser;
  dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc)) {
    return InvalidArgument(std::string("the event is not JSON: ") + simdjson::error_message(err));
  }
  dom::array records;
  if (doc["Records"].get(records) != simdjson::SUCCESS) {
    return InvalidArgument(
        "the event has no Records array: expected a Kinesis or DynamoDB Streams batch");
  }
  std::vector<InputRecord> out;
  for (dom::element record : records) {
    InputRecord& r = out.emplace_back();
    std::string_view source = StringField(record, "eventSource");
    dom::element kinesis;
    if (record["kinesis"].get(kinesis) == simdjson::SUCCESS && source != "aws:dynamodb") {
      ParseKinesis(record, kinesis, r);
    } else if (source == "aws:dynamodb" || record["dynamodb"].error() == simdjson::SUCCESS) {
      ParseDynamoDb(record, now, r);
    } else {
      r.location = "record " + std::to_string(out.size() - 1);
      r.raw = simdjson::minify(record);
      r.error = "neither a Kinesis nor a DynamoDB Streams record";
    }
  }
  JoinFragments(out);
  return out;
}

}  // namespace cdc::lambda
