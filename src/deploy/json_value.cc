#include "deploy/json_value.h"

#include <simdjson.h>

#include "event/json_writer.h"

namespace cdc::deploy {
namespace {

Result<JsonValue> FromElement(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      JsonValue out = JsonValue::Object();
      for (auto field : e.get_object()) {
        auto value = FromElement(field.value);
        if (!value.ok()) return value.status();
        out.Set(field.key, std::move(value).value());
      }
      return out;
    }
    case simdjson::dom::element_type::ARRAY: {
      JsonValue out = JsonValue::Array();
      for (auto item : e.get_array()) {
        auto value = FromElement(item);
        if (!value.ok()) return value.status();
        out.Push(std::move(value).value());
      }
      return out;
    }
    case simdjson::dom::element_type::STRING:
      return JsonValue(std::string_view(e.get_string()));
    case simdjson::dom::element_type::INT64:
      return JsonValue(int64_t(e.get_int64()));
    case simdjson::dom::element_type::BOOL:
      return JsonValue(bool(e.get_bool()));
    case simdjson::dom::element_type::NULL_VALUE:
      return JsonValue();
    default:
      // EventBridge patterns use numbers only in numeric matching, which our patterns write as
      // integers; a fraction or a huge number is refused rather than rounded.
      return InvalidArgument("a number that is not a 64-bit integer: " + simdjson::to_string(e));
  }
}

void Indent(std::string& out, int indent) {
  out.push_back('\n');
  out.append(static_cast<size_t>(indent) * 2, ' ');
}

}  // namespace

JsonValue JsonValue::Strings(const std::vector<std::string>& items) {
  JsonValue out = Array();
  for (const auto& s : items) out.Push(s);
  return out;
}

Result<JsonValue> JsonValue::Parse(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text.data(), text.size()).get(root); error) {
    return InvalidArgument(std::string("not JSON: ") + simdjson::error_message(error));
  }
  return FromElement(root);
}

JsonValue& JsonValue::Set(std::string_view key, JsonValue value) {
  for (auto& [k, v] : members_) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(std::string(key), std::move(value));
  return *this;
}

JsonValue& JsonValue::Push(JsonValue value) {
  items_.push_back(std::move(value));
  return *this;
}

std::string JsonValue::Pretty() const {
  std::string out;
  Print(out, 0);
  out.push_back('\n');
  return out;
}

void JsonValue::Print(std::string& out, int indent) const {
  switch (kind_) {
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += int_ != 0 ? "true" : "false";
      return;
    case Kind::kInt:
      out += std::to_string(int_);
      return;
    case Kind::kString:
      AppendJsonString(out, string_);
      return;
    case Kind::kArray:
      if (items_.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out.push_back(',');
        Indent(out, indent + 1);
        items_[i].Print(out, indent + 1);
      }
      Indent(out, indent);
      out.push_back(']');
      return;
    case Kind::kObject:
      if (members_.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out.push_back(',');
        Indent(out, indent + 1);
        AppendJsonString(out, members_[i].first);
        out += ": ";
        members_[i].second.Print(out, indent + 1);
      }
      Indent(out, indent);
      out.push_back('}');
      return;
  }
}

JsonValue Ref(std::string_view name) { return JsonValue::Object().Set("Ref", name); }

JsonValue GetAtt(std::string_view resource, std::string_view attribute) {
  return JsonValue::Object().Set("Fn::GetAtt", JsonValue::Array().Push(resource).Push(attribute));
}

JsonValue Sub(std::string_view text) { return JsonValue::Object().Set("Fn::Sub", text); }

}  // namespace cdc::deploy
