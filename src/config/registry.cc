#include "config/registry.h"

#include <cstdlib>

#include "base/status.h"

namespace cdc {
namespace {

template <typename Kind>
const Kind* FindKind(const std::vector<std::unique_ptr<Kind>>& kinds, std::string_view name) {
  for (const auto& k : kinds) {
    if (k->spec.name == name) return k.get();
  }
  return nullptr;
}

template <typename Kind>
std::vector<std::string_view> Names(const std::vector<std::unique_ptr<Kind>>& kinds) {
  std::vector<std::string_view> names;
  for (const auto& k : kinds) names.push_back(k->spec.name);
  return names;
}

}  // namespace

void Registry::AddTarget(TargetKind kind) {
  CDC_ASSERT(FindTarget(kind.spec.name) == nullptr, "a target kind is registered twice");
  CDC_ASSERT(kind.build != nullptr && kind.spec.parse, "a target kind needs parse and build");
  targets_.push_back(std::make_unique<TargetKind>(std::move(kind)));
}

void Registry::AddSource(SourceKind kind) {
  CDC_ASSERT(FindSource(kind.spec.name) == nullptr, "a source kind is registered twice");
  CDC_ASSERT(kind.build != nullptr && kind.spec.parse, "a source kind needs parse and build");
  sources_.push_back(std::make_unique<SourceKind>(std::move(kind)));
}

void Registry::AddStream(StreamKind kind) {
  CDC_ASSERT(FindStream(kind.spec.name) == nullptr, "a stream kind is registered twice");
  CDC_ASSERT(kind.open != nullptr && kind.spec.parse, "a stream kind needs parse and open");
  streams_.push_back(std::make_unique<StreamKind>(std::move(kind)));
}

void Registry::AddState(StateKind kind) {
  CDC_ASSERT(FindState(kind.spec.name) == nullptr, "a state store kind is registered twice");
  CDC_ASSERT(kind.open != nullptr && kind.open_read_only != nullptr && kind.spec.parse,
             "a state store kind needs parse, open and open_read_only");
  states_.push_back(std::make_unique<StateKind>(std::move(kind)));
}

void Registry::AddCommand(CommandKind kind) {
  for (const auto& c : commands_) {
    CDC_ASSERT(c->name != kind.name, "a command is registered twice");
  }
  CDC_ASSERT(kind.run != nullptr, "a command needs run");
  commands_.push_back(std::make_unique<CommandKind>(std::move(kind)));
}

void CommandArgs::Set(std::string name, std::string value) {
  for (auto& [n, v] : values_) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  values_.emplace_back(std::move(name), std::move(value));
}

const std::string& CommandArgs::Get(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [n, v] : values_) {
    if (n == name) return v;
  }
  return kEmpty;
}

double CommandArgs::Number(std::string_view name) const {
  const std::string& v = Get(name);
  return v.empty() ? 0.0 : std::strtod(v.c_str(), nullptr);
}

bool CommandArgs::Flag(std::string_view name) const { return Get(name) == "true"; }

const StreamKind* Registry::FindStream(std::string_view name) const {
  return FindKind(streams_, name);
}

const StateKind* Registry::FindState(std::string_view name) const {
  return FindKind(states_, name);
}

const TargetKind* Registry::FindTarget(std::string_view name) const {
  return FindKind(targets_, name);
}

const SourceKind* Registry::FindSource(std::string_view name) const {
  return FindKind(sources_, name);
}

const SourceKind* Registry::FileSource() const {
  for (const auto& k : sources_) {
    if (k->file_options != nullptr) return k.get();
  }
  return nullptr;
}

const SourceKind* Registry::ModelSource() const {
  for (const auto& k : sources_) {
    if (k->derive_model != nullptr) return k.get();
  }
  return nullptr;
}

std::vector<std::string_view> Registry::TargetNames() const { return Names(targets_); }
std::vector<std::string_view> Registry::SourceNames() const { return Names(sources_); }
std::vector<std::string_view> Registry::StreamNames() const { return Names(streams_); }
std::vector<std::string_view> Registry::StateNames() const { return Names(states_); }

const config::FieldSpec kFormatField{"format",
                                     config::FieldType::kEnum,
                                     "eventbridge",
                                     "Event format.",
                                     {"eventbridge", "cloudevents"}};
const config::FieldSpec kRetryField{
    "retry", config::FieldType::kSection, "",
    "How failed deliveries are retried before the event is dead-lettered (see "
    "`targets.<name>.retry`)."};
const config::FieldSpec kQueueSizeField{
    "queue_size",
    config::FieldType::kInt,
    "1000",
    "Events that may wait for this target. When full, the bus waits for it (and the durable "
    "stream holds the backlog).",
    {},
    false,
    1};

}  // namespace cdc
