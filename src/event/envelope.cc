#include "event/envelope.h"

#include "base/hash.h"
#include "event/event_json.h"
#include "event/position_kinds.h"

namespace cdc {
namespace {

// The namespace of cdc-pipeline's event ids (a fixed, randomly chosen UUID).
constexpr std::string_view kIdNamespace = "5b0c7a4e-3f1d-4c8e-9a52-1e6f0d2b7c39";

// The writers below are templates over JsonWriter and EventVisitor (see EnvelopeView), so that
// the rule matcher reads exactly what the JSON says.

template <typename W>
void WriteStringArray(W& w, const std::vector<std::string>& items) {
  w.BeginArray();
  for (const auto& s : items) w.String(s);
  w.EndArray();
}

template <typename W>
void WriteDetail(W& w, const ProcessedEvent& event, const EnvelopeOptions& options) {
  const ChangeEvent& c = event.change;
  w.BeginObject();
  WriteChangeFields(w, c);
  if (c.op == Op::kUpdate && c.before) {
    w.Key("changedFields");
    WriteStringArray(w, event.changed_fields);
  }
  if (!event.redacted.empty()) {
    w.Key("redacted");
    WriteStringArray(w, event.redacted);
  }
  w.Key("metadata");
  if (w.WantsValue()) {
    w.BeginObject();
    w.Key("pipeline").String(options.pipeline);
    if (auto pg = PgPositionOf(c.position)) {
      w.Key("lsn");
      if (w.WantsValue()) w.String(pg->commit_lsn.ToString());
      w.Key("txId").Uint(pg->xid.value());
      w.Key("seq").Uint(pg->seq);
    } else if (const std::string* digest = ContentDigestOf(c.position)) {
      w.Key("digest").String(*digest);
    }
    w.Key("schemaVersion").Uint(c.schema_version);
    if (!c.unchanged_toast.empty()) {
      w.Key("unchangedToast");
      WriteStringArray(w, c.unchanged_toast);
    }
    w.EndObject();
  }
  w.EndObject();
}

// The EventBridge event's members. EncodeEnvelope and EnvelopeView both write it from here.
template <typename W>
void WriteEnvelope(W& w, const ProcessedEvent& event, const EnvelopeOptions& options,
                   std::string_view id) {
  w.BeginObject();
  w.Key("version").String("0");
  w.Key("id").String(id);
  w.Key("detail-type");
  if (w.WantsValue()) w.String(DetailType(event.change));
  w.Key("source").String(options.source);
  w.Key("account").String(options.account);
  w.Key("time");
  if (w.WantsValue()) {
    char buf[kRfc3339Capacity];
    Timestamp seconds{event.change.commit_time.micros / 1000000 * 1000000};
    w.String(std::string_view(buf, FormatRfc3339(seconds, buf)));
  }
  w.Key("region").String(options.region);
  w.Key("resources").BeginArray().EndArray();
  w.Key("detail");
  if (w.WantsValue()) WriteDetail(w, event, options);
  w.EndObject();
}

}  // namespace

std::string EventId(std::string_view pipeline, const SourcePosition& position) {
  thread_local std::string name;
  name.assign(pipeline);
  name += '\n';
  AppendPositionKey(position, name);
  return UuidV5(kIdNamespace, name);
}

std::string DetailType(const ChangeEvent& change) {
  if (change.op == Op::kPositionGap) return "PositionGap";
  std::string out = change.QualifiedName();
  out += '.';
  out += OpName(change.op);
  return out;
}

std::string EncodeEnvelope(const ProcessedEvent& event, const EnvelopeOptions& options) {
  return EncodeEnvelope(event, options, EventId(options.pipeline, event.change.position));
}

std::string EncodeEnvelope(const ProcessedEvent& event, const EnvelopeOptions& options,
                           std::string_view id) {
  std::string out;
  out.reserve(512);
  JsonWriter w(out);
  WriteEnvelope(w, event, options, id);
  return out;
}

void EnvelopeView::Accept(EventVisitor& visitor) const {
  WriteEnvelope(visitor, event_, options_, id_);
}

std::string EncodeCloudEvent(const ProcessedEvent& event, const EnvelopeOptions& options) {
  return EncodeCloudEvent(event, options, EventId(options.pipeline, event.change.position));
}

std::string EncodeCloudEvent(const ProcessedEvent& event, const EnvelopeOptions& options,
                             std::string_view id) {
  std::string out;
  out.reserve(512);
  JsonWriter w(out);
  w.BeginObject();
  w.Key("specversion").String("1.0");
  w.Key("id").String(id);
  w.Key("source").String(options.source);
  w.Key("type").String(DetailType(event.change));
  w.Key("time").String(FormatRfc3339(event.change.commit_time));
  w.Key("datacontenttype").String("application/json");
  w.Key("data");
  WriteDetail(w, event, options);
  w.EndObject();
  return out;
}

}  // namespace cdc
