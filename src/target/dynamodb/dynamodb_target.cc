// The dynamodb target: one item per row, keyed by the table's key attributes. Writes are single
// items (UpdateItem for INSERT/UPDATE/READ, PutItem of a tombstone or DeleteItem for DELETE),
// each with the condition `attribute_not_exists(pos) OR pos < :pos` on the change's source
// position: BatchWriteItem takes no conditions, so items go one by one, `concurrency` at a time.
// A failed condition means the item already holds this change or a later one: Delivered.
//
// The position is the PostgreSQL commit LSN and the change's order in its transaction
// (`detail.metadata`), as a fixed-width string that sorts like the position; for a source
// without one, the stream shard and offset ("S..."; it sorts after every LSN).
//
// UpdateItem keeps attributes the change does not carry (an unchanged TOASTed column).
// Row values become AttributeValues (S, N, BOOL, NULL, L, M); numbers keep their exact text, so
// a decimal keeps every digit.
// Row values are never logged: messages name the table, the attribute and the key's position.

#include "target/dynamodb/dynamodb_target.h"

#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "aws/client.h"
#include "base/logging.h"
#include "event/json_writer.h"
#include "target/kinesis/batch_rounds.h"
#include "target/target.h"

namespace cdc {
namespace {

constexpr const char* kDeletedAttribute = "_cdc_deleted";
constexpr size_t kMaxBatch = 100;

// A JSON value as a DynamoDB AttributeValue. Numbers keep their exact text (decimals carry
// all their digits; DynamoDB takes 38).
simdjson::error_code WriteAttributeValue(JsonWriter& w, simdjson::ondemand::value v) {
  using simdjson::ondemand::json_type;
  json_type type;
  if (auto e = v.type().get(type)) return e;
  w.BeginObject();
  switch (type) {
    case json_type::string: {
      std::string_view text;
      if (auto e = v.get_string().get(text)) return e;
      w.Key("S").String(text);
      break;
    }
    case json_type::number: {
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                              raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
      w.Key("N").String(raw);
      break;
    }
    case json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return e;
      w.Key("BOOL").Bool(b);
      break;
    }
    case json_type::null:
      w.Key("NULL").Bool(true);
      break;
    case json_type::array: {
      simdjson::ondemand::array array;
      if (auto e = v.get_array().get(array)) return e;
      w.Key("L").BeginArray();
      for (auto child : array) {
        simdjson::ondemand::value c;
        if (auto e = child.get(c)) return e;
        if (auto e = WriteAttributeValue(w, c)) return e;
      }
      w.EndArray();
      break;
    }
    case json_type::object: {
      simdjson::ondemand::object object;
      if (auto e = v.get_object().get(object)) return e;
      w.Key("M").BeginObject();
      for (auto field : object) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        w.Key(key);
        simdjson::ondemand::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = WriteAttributeValue(w, child)) return e;
      }
      w.EndObject();
      break;
    }
  }
  w.EndObject();
  return simdjson::SUCCESS;
}

// What the target reads of an event: its type, its rows (as JSON text) and its position.
struct Change {
  std::string op;
  std::string_view before, after;  // raw JSON objects, empty when absent
  std::string lsn;
  uint64_t seq = 0;
};

// The change's fields of an object: the EventBridge event's `detail`, or the change itself (an
// input transformer that passes `<detail>` on).
simdjson::error_code ReadChange(simdjson::ondemand::object object, Change& c, bool top) {
  for (auto field : object) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    simdjson::ondemand::value v;
    if (auto e = field.value().get(v)) return e;
    if (key == "detail" && top) {
      simdjson::ondemand::object detail;
      if (v.get_object().get(detail) == simdjson::SUCCESS) {
        if (auto e = ReadChange(detail, c, false)) return e;
      }
    } else if (key == "eventType") {
      std::string_view op;
      if (v.get_string().get(op) == simdjson::SUCCESS) c.op = op;
    } else if (key == "before" || key == "after") {
      simdjson::ondemand::object row;
      if (v.get_object().get(row) == simdjson::SUCCESS) {
        std::string_view raw;
        if (auto e = row.raw_json().get(raw)) return e;
        (key == "before" ? c.before : c.after) = raw;
      }
    } else if (key == "metadata") {
      simdjson::ondemand::object meta;
      if (v.get_object().get(meta) != simdjson::SUCCESS) continue;
      for (auto m : meta) {
        std::string_view name;
        if (auto e = m.unescaped_key().get(name)) return e;
        if (name == "lsn") {
          std::string_view lsn;
          if (m.value().get_string().get(lsn) == simdjson::SUCCESS) c.lsn = lsn;
        } else if (name == "seq") {
          uint64_t seq = 0;
          if (m.value().get_uint64().get(seq) == simdjson::SUCCESS) c.seq = seq;
        }
      }
    }
  }
  return simdjson::SUCCESS;
}

// "16/B374D848" + seq 3 -> "0000001600B374D848/0000000003"-like fixed width text.
std::optional<std::string> PgPosition(std::string_view lsn, uint64_t seq) {
  size_t slash = lsn.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  uint64_t hi = 0, lo = 0;
  std::string text(lsn);
  if (std::sscanf(text.c_str(), "%" SCNx64 "/%" SCNx64, &hi, &lo) != 2) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIX64 "/%020" PRIu64, (hi << 32) | lo, seq);
  return std::string(buf);
}

std::string StreamPositionText(StreamPosition p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "S%010" PRIu32 "/%020" PRIu64, p.shard, p.offset);
  return buf;
}

class DynamoDbTarget final : public Target {
 public:
  DynamoDbTarget(const TargetConfig& config, const DynamoDbTargetOptions& options,
                 std::unique_ptr<aws::JsonClient> client)
      : name_(config.name), o_(options), key_(options.key), client_(std::move(client)) {}

  const std::string& name() const override { return name_; }
  bool queued() const override { return true; }
  size_t max_batch() const override { return kMaxBatch; }

  DeliveryOutcome Deliver(const Outgoing& event) override {
    DeliveryOutcome result;
    DeliverBatch(std::span<const Outgoing>(&event, 1), std::span<DeliveryOutcome>(&result, 1));
    return result;
  }

  void DeliverBatch(std::span<const Outgoing> events, std::span<DeliveryOutcome> results) override {
    if (Status s = LoadKeySchema(); !s.ok()) {
      for (auto& r : results) r = {DeliveryFor(s), s};
      return;
    }
    internal::DeliverInKeyRounds(
        events, results, [](size_t, size_t) { return true; },
        [&](const std::vector<size_t>& round, std::span<DeliveryOutcome> out) {
          Send(events, round, out);
        });
  }

  Status Flush() override { return Status::Ok(); }

  Status CheckHealth() override { return Describe().status(); }

 private:
  struct Request {
    std::string operation;
    std::string body;
  };

  Result<std::vector<std::string>> Describe() {
    std::string body;
    JsonWriter(body).BeginObject().Key("TableName").String(o_.table).EndObject();
    aws::Response r = client_->Call("DescribeTable", body);
    if (!r.status.ok()) return r.status.WithContext("dynamodb table '" + o_.table + "'");
    simdjson::dom::element root;
    simdjson::dom::array schema;
    if (parser_.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Table"]["KeySchema"].get(schema) != simdjson::SUCCESS) {
      return Unavailable("dynamodb DescribeTable at " + client_->origin() +
                         " answered without the table's KeySchema");
    }
    std::vector<std::string> names;
    for (simdjson::dom::element k : schema) {
      std::string_view name;
      if (k["AttributeName"].get(name) == simdjson::SUCCESS) names.emplace_back(name);
    }
    return names;
  }

  Status LoadKeySchema() {
    if (!key_.empty()) return Status::Ok();
    auto names = Describe();
    if (!names.ok()) return names.status();
    key_ = *names;
    return Status::Ok();
  }

  // The request for one event, or the reason it cannot be applied.
  Result<Request> Build(const Outgoing& e) {
    simdjson::padded_string body_copy(e.body);
    Change change;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object root;
    if (body_parser_.iterate(body_copy).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS ||
        ReadChange(root, change, true) != simdjson::SUCCESS) {
      return InvalidArgument("the dynamodb target needs the change event as JSON");
    }
    const std::string& op = change.op;
    if (op.empty()) {
      return InvalidArgument(
          "the dynamodb target needs the change event (detail.eventType, after, before); an "
          "input transformer must keep them");
    }
    std::string position;
    if (!change.lsn.empty()) {
      auto p = PgPosition(change.lsn, change.seq);
      if (!p) return InvalidArgument("detail.metadata.lsn is not an LSN");
      position = *p;
    } else {
      position = StreamPositionText(e.position);
    }
    bool is_delete = op == "DELETE";
    if (!is_delete && op != "INSERT" && op != "UPDATE" && op != "READ") {
      return InvalidArgument("a " + op + " change is not applied to a dynamodb table");
    }
    std::string_view row_text = is_delete ? change.before : change.after;
    if (row_text.empty()) {
      return InvalidArgument("the " + op + " change has no '" + (is_delete ? "before" : "after") +
                             "' row");
    }
    // One pass over the row: key attributes into `key`, the others into the update.
    simdjson::padded_string row_copy(row_text);
    simdjson::ondemand::document row_doc;
    simdjson::ondemand::object row;
    if (row_parser_.iterate(row_copy).get(row_doc) != simdjson::SUCCESS ||
        row_doc.get_object().get(row) != simdjson::SUCCESS) {
      return InvalidArgument("the change's row is not a JSON object");
    }
    std::string key_json, names, values, update = "SET #p = :p";
    JsonWriter key_writer(key_json);
    key_writer.BeginObject();
    std::vector<bool> found(key_.size(), false);
    size_t n = 0;
    for (auto field : row) {
      std::string_view name;
      if (field.unescaped_key().get(name) != simdjson::SUCCESS) {
        return InvalidArgument("the change's row is not valid JSON");
      }
      size_t k = std::find(key_.begin(), key_.end(), name) - key_.begin();
      simdjson::ondemand::value v;
      if (field.value().get(v) != simdjson::SUCCESS) {
        return InvalidArgument("the change's row is not valid JSON");
      }
      if (k < key_.size()) {
        bool is_null = false;
        if (v.is_null().get(is_null) != simdjson::SUCCESS || is_null) continue;
        key_writer.Key(name);
        if (WriteAttributeValue(key_writer, v) != simdjson::SUCCESS) {
          return InvalidArgument("the change's row is not valid JSON");
        }
        found[k] = true;
        continue;
      }
      if (is_delete || name == o_.position_attribute) continue;
      std::string id = std::to_string(n++);
      names += ",\"#a" + id + "\":";
      AppendJsonString(names, name);
      values += ",\":a" + id + "\":";
      JsonWriter values_writer(values);
      if (WriteAttributeValue(values_writer, v) != simdjson::SUCCESS) {
        return InvalidArgument("the change's row is not valid JSON");
      }
      update += ", #a" + id + " = :a" + id;
    }
    key_writer.EndObject();
    for (size_t k = 0; k < key_.size(); ++k) {
      if (!found[k]) {
        return InvalidArgument("the row has no value for key attribute '" + key_[k] +
                               "' of dynamodb table '" + o_.table + "'");
      }
    }
    if (o_.tombstones && !is_delete) update += " REMOVE #d";
    Request request;
    std::string body;
    JsonWriter w(body);
    w.BeginObject().Key("TableName").String(o_.table);
    if (is_delete && o_.tombstones) {
      // The tombstone: the key, the position and the mark.
      std::string item = key_json;
      item.pop_back();
      if (item.size() > 1) item += ",";
      JsonWriter iw(item);
      iw.Key(o_.position_attribute).BeginObject().Key("S").String(position).EndObject();
      item += ",";
      iw.Key(kDeletedAttribute).BeginObject().Key("BOOL").Bool(true).EndObject();
      item += "}";
      w.Key("Item").Raw(item);
      request.operation = "PutItem";
    } else {
      w.Key("Key").Raw(key_json);
      request.operation = is_delete ? "DeleteItem" : "UpdateItem";
    }
    w.Key("ConditionExpression").String("attribute_not_exists(#p) OR #p < :p");
    std::string attribute_names = "{\"#p\":";
    AppendJsonString(attribute_names, o_.position_attribute);
    if (!is_delete) {
      attribute_names += names;
      if (o_.tombstones) {
        attribute_names += ",\"#d\":";
        AppendJsonString(attribute_names, kDeletedAttribute);
      }
    }
    attribute_names += "}";
    w.Key("ExpressionAttributeNames").Raw(attribute_names);
    std::string attribute_values = "{\":p\":{\"S\":";
    AppendJsonString(attribute_values, position);
    attribute_values += "}";
    if (!is_delete) attribute_values += values;
    attribute_values += "}";
    w.Key("ExpressionAttributeValues").Raw(attribute_values);
    if (!is_delete) w.Key("UpdateExpression").String(update);
    w.EndObject();
    request.body = std::move(body);
    return request;
  }

  void Send(std::span<const Outgoing> events, const std::vector<size_t>& round,
            std::span<DeliveryOutcome> out) {
    // One CallMany per operation: the round's events all have different keys.
    std::map<std::string, std::pair<std::vector<size_t>, std::vector<std::string>>> by_op;
    for (size_t i : round) {
      auto request = Build(events[i]);
      if (!request.ok()) {
        out[i] = {Delivery::kFailed, request.status()};
        continue;
      }
      auto& group = by_op[request->operation];
      group.first.push_back(i);
      group.second.push_back(std::move(request->body));
    }
    for (auto& [operation, group] : by_op) {
      std::vector<aws::Response> answers =
          client_->CallMany(operation, group.second, static_cast<size_t>(o_.concurrency));
      for (size_t j = 0; j < answers.size(); ++j) {
        size_t i = group.first[j];
        const aws::Response& a = answers[j];
        if (a.status.ok() || a.error_type == "ConditionalCheckFailedException") {
          out[i] = {};  // applied now, or the item already holds this change or a later one
          continue;
        }
        Status s = a.status.WithContext("dynamodb table '" + o_.table + "'");
        out[i] = {DeliveryFor(s), s};
      }
    }
  }

  std::string name_;
  DynamoDbTargetOptions o_;
  std::vector<std::string> key_;
  std::unique_ptr<aws::JsonClient> client_;
  simdjson::dom::parser parser_;  // DescribeTable
  simdjson::ondemand::parser body_parser_;
  simdjson::ondemand::parser row_parser_;
};

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<DynamoDbTargetOptions>();
  r.String("table", o->table);
  ReadAwsTargetOptions(r, *o);
  std::string key;
  r.String("key", key);
  size_t start = 0;
  while (start < key.size()) {
    size_t comma = key.find(',', start);
    std::string part =
        key.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) o->key.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (o->key.size() > 2) {
    r.Error("key", "'" + r.path() + ".key' names at most two attributes (partition and sort key)");
  }
  r.String("position_attribute", o->position_attribute);
  std::string deletes = "tombstone";
  r.String("deletes", deletes);
  o->tombstones = deletes != "remove";
  r.Int("concurrency", o->concurrency);
  return o;
}

Result<std::unique_ptr<Target>> BuildDynamoDb(const TargetConfig& config) {
  const auto* o = config.OptionsAs<DynamoDbTargetOptions>();
  if (o == nullptr || o->table.empty()) {
    return InvalidArgument("target '" + config.name + "' needs a table");
  }
  CDC_ASSIGN_OR_RETURN(auto client, ConnectAwsTarget(aws::kDynamoDb, *o, config.name));
  return std::unique_ptr<Target>(std::make_unique<DynamoDbTarget>(config, *o, std::move(client)));
}

std::string DescribeKind(const TargetConfig& config) {
  const auto* o = config.OptionsAs<DynamoDbTargetOptions>();
  return "dynamodb table " + (o != nullptr ? o->table : std::string());
}

}  // namespace

void RegisterDynamoDbTarget(Registry& registry) {
  using config::FieldType;
  registry.AddTarget(TargetKind{
      {"dynamodb",
       "Keeps a materialized table in DynamoDB: INSERT, UPDATE and snapshot rows upsert the "
       "item (the row as the target receives it, after redaction and transforms), DELETE "
       "leaves a tombstone or deletes it (`deletes`). Every write is conditional on the change's "
       "source position stored in the "
       "item (`attribute_not_exists(pos) OR pos < :pos`), so replays and redelivery never move "
       "an item backwards: exactly once in effect. Items are written one by one (BatchWriteItem "
       "takes no conditions), `concurrency` at a time; a TRUNCATE or an event without the "
       "change's rows is dead-lettered. Throttling, 5xx and network errors are retried by "
       "`retry`; refused credentials or a missing table stop the pipeline with what to fix.",
       {
           {"table", FieldType::kString, "", "The DynamoDB table.", {}, true},
           {"region", FieldType::kString, "",
            "AWS region; empty: `AWS_REGION`, else `AWS_DEFAULT_REGION`."},
           {"endpoint", FieldType::kString, "",
            "Endpoint URL (dynalite, a VPC endpoint); empty: `AWS_ENDPOINT_URL_DYNAMODB`, else "
            "`DYNAMODB_ENDPOINT`, else `AWS_ENDPOINT_URL`, else AWS's endpoint for the region."},
           {"key", FieldType::kString, "",
            "The item's key attributes, comma-separated (partition key, then sort key), taken "
            "from the row (`after`, or `before` for a DELETE); empty: the table's key schema "
            "(DescribeTable), which is the source table's primary key when the table was created "
            "with it."},
           {"position_attribute", FieldType::kString, "_cdc_position",
            "The attribute that holds the change's source position (PostgreSQL commit LSN and "
            "order in the transaction, fixed-width text)."},
           {"deletes",
            FieldType::kEnum,
            "tombstone",
            "`tombstone` keeps a deleted row as an item with only its key, the position and "
            "`_cdc_deleted: true` (so a redelivered older change cannot bring it back; read with "
            "`attribute_not_exists(_cdc_deleted)`), `remove` deletes the item (an older change "
            "redelivered after the delete would bring it back).",
            {"tombstone", "remove"}},
           {"concurrency",
            FieldType::kInt,
            "8",
            "Writes in flight at once (items of different keys).",
            {},
            false,
            1},
           {"timeout_ms",
            FieldType::kInt,
            "10000",
            "How long one write may take before it counts as failed and is retried.",
            {},
            false,
            1},
           kQueueSizeField,
           kRetryField,
       },
       ParseOptions},
      {.exactly_once = false, .queued = true, .dead_letter_sink = false},
      BuildDynamoDb,
      DescribeKind});
}

}  // namespace cdc
