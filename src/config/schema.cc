#include "config/schema.h"

#include "base/status.h"

namespace cdc::config_internal {

const FieldSpec* SectionSpec::Find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace {
using T = FieldType;
}

const SectionSpec& RootSpec() {
  static const SectionSpec spec{
      "(top level)",
      "The sections of the file. Only `tables` is required.",
      {
          {"pipeline", T::kSection, "", "Name and data directory of this pipeline."},
          {"bus", T::kSection, "",
           "Identity of the event bus: the envelope's source, account, region."},
          {"source", T::kSection, "", "Where changes are captured from."},
          {"dead_letter", T::kSection, "",
           "Where events that cannot be processed go, with the reason."},
          {"tables", T::kNamedSections, "", "The captured tables, by name.", {}, true},
          {"rules", T::kNamedSections, "",
           "Bus rules, by name: an event pattern and the targets it routes to."},
          {"targets", T::kNamedSections, "", "Delivery targets (consumers), by name."},
      }};
  return spec;
}

const SectionSpec& PipelineSpec() {
  static const SectionSpec spec{
      "pipeline",
      "",
      {
          {"name", T::kString, "coredb",
           "Pipeline name. Part of every event id and of `detail.metadata.pipeline`."},
          {"data_dir", T::kString, "./data",
           "Directory for state, the stream and default output files. Created if missing."},
          {"log_level",
           T::kEnum,
           "info",
           "Log verbosity.",
           {"debug", "info", "warn", "error", "off"}},
      }};
  return spec;
}

const SectionSpec& BusSpec() {
  static const SectionSpec spec{
      "bus",
      "",
      {
          {"name", T::kString, "cdc-events", "Bus name (the original's EVENT_BUS_NAME)."},
          {"source", T::kString, "cdc.coredb", "The `source` field of every output event."},
          {"account", T::kString, "000000000000", "The `account` field of every output event."},
          {"region", T::kString, "local", "The `region` field of every output event."},
      }};
  return spec;
}

const SectionSpec& SourceSpec(std::string_view type) {
  static const SectionSpec common{
      "source",
      "",
      {
          {"type", T::kEnum, "json", "The kind of source.", {"json", "postgres"}},
      }};
  static const SectionSpec json{
      "source (type: json)",
      "Change events in the original format (`eventType`, `tableName`, `timestamp`, `before`, "
      "`after`), one JSON object per line or one JSON array. `run --input FILE` overrides `path`.",
      {
          {"type", T::kEnum, "json", "", {"json", "postgres"}},
          {"path", T::kString, "-", "File to read; `-` reads standard input."},
      }};
  static const SectionSpec postgres{
      "source (type: postgres)",
      "PostgreSQL logical replication (pgoutput). The publication and the slot are created if "
      "missing; the publication covers the configured tables. The role needs the REPLICATION "
      "privilege and the server `wal_level = logical`.",
      {
          {"type", T::kEnum, "json", "", {"json", "postgres"}},
          {"dsn",
           T::kString,
           "",
           "libpq connection string or URI of the database, e.g. `${COREDB_DSN}`. A secret: never "
           "logged.",
           {},
           true},
          {"slot", T::kString, "cdc_pipeline", "Logical replication slot name."},
          {"publication", T::kString, "cdc_pipeline", "Publication name."},
          {"snapshot",
           T::kEnum,
           "initial",
           "`initial`: when the slot is created, read the tables' existing rows as READ events, "
           "then stream from the slot's consistent point; `never`: stream only.",
           {"initial", "never"}},
          {"snapshot_batch_size", T::kInt, "10000", "Rows per snapshot query."},
          {"flush_interval_ms", T::kInt, "200",
           "How often delivered events are made durable and acknowledged to PostgreSQL."},
          {"status_interval_ms", T::kInt, "10000",
           "Standby status updates at least this often, so wal_sender_timeout never ends an idle "
           "stream."},
          {"heartbeat_interval_ms", T::kInt, "0",
           "When > 0, write a `pg_logical_emit_message` this often so the slot advances even when "
           "all traffic is on other databases. 0 = off."},
          {"reconnect_max_backoff_ms", T::kInt, "30000",
           "Upper bound of the exponential backoff between reconnect attempts."},
      }};
  if (type == "json") return json;
  if (type == "postgres") return postgres;
  return common;
}

std::vector<std::string_view> SourceTypes() { return {"json", "postgres"}; }

const SectionSpec& DeadLetterSpec() {
  static const SectionSpec spec{
      "dead_letter",
      "Events that cannot be processed (malformed JSON, unknown table, event type not allowed, "
      "missing fields) are appended here as JSON lines with the reason; processing continues.",
      {
          {"path", T::kString, "<data_dir>/dead-letter.jsonl", "JSONL file of dead letters."},
          {"fsync",
           T::kEnum,
           "batch",
           "`always`: fsync after every record; `batch`: after each batch; `never`: leave it to "
           "the OS.",
           {"always", "batch", "never"}},
      }};
  return spec;
}

const SectionSpec& TableSpec() {
  static const SectionSpec spec{
      "tables.<name>",
      "One captured table. The key is the table name; `schema` qualifies it.",
      {
          {"schema", T::kString, "public", "PostgreSQL schema of the table."},
          {"function", T::kString, "process<Singular>Changes",
           "Name of the table's processor, used by `invoke --function`. The default follows the "
           "original's `processUserChanges`: users -> processUserChanges, audit_logs -> "
           "processAuditLogChanges."},
          {"event_types",
           T::kEnumList,
           "",
           "The change types this table publishes; others go to the dead-letter file.",
           {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ"},
           true},
          {"primary_key", T::kStringList, "[id]",
           "Primary-key columns: the event key and the partition key."},
          {"pii",
           T::kEnum,
           "none",
           "What sensitive data the table holds (the redaction policy is applied by a later "
           "stage).",
           {"none", "personal", "payment", "financial", "auth"}},
          {"replica_identity",
           T::kEnum,
           "default",
           "`full`: the pipeline runs ALTER TABLE ... REPLICA IDENTITY FULL, so updates and "
           "deletes "
           "carry whole before images (needed for a table without a primary key).",
           {"default", "full"}},
          {"description", T::kString, "", "Free text."},
      }};
  return spec;
}

const SectionSpec& RuleSpec() {
  static const SectionSpec spec{
      "rules.<name>",
      "A bus rule: events matching `event_pattern` go to every target in `targets`.",
      {
          {"description", T::kString, "", "Free text."},
          {"event_pattern",
           T::kPattern,
           "",
           "An EventBridge event pattern, as a YAML mapping or a JSON string. Matching supports "
           "exact values (strings, numbers, booleans, null; a list means any of them) on any field "
           "path, including inside `detail`; an array in the event matches if any element does.",
           {},
           true},
          {"enabled", T::kBool, "true", "A disabled rule matches nothing."},
          {"targets", T::kStringList, "", "Names of targets (see `targets`).", {}, true},
      }};
  return spec;
}

const SectionSpec& TargetSpec(std::string_view type) {
  static const SectionSpec common{
      "targets.<name>",
      "",
      {
          {"type", T::kEnum, "", "The kind of target.", {"file", "stdout"}, true},
      }};
  static const SectionSpec file{
      "targets.<name> (type: file)",
      "Appends each event as one JSON line.",
      {
          {"type", T::kEnum, "", "", {"file", "stdout"}, true},
          {"path",
           T::kString,
           "",
           "The JSONL file. Its directory is created if missing.",
           {},
           true},
          {"fsync",
           T::kEnum,
           "batch",
           "`always`: fsync after every event; `batch`: after each batch; `never`: leave it to the "
           "OS.",
           {"always", "batch", "never"}},
          {"format", T::kEnum, "eventbridge", "Event format.", {"eventbridge", "cloudevents"}},
      }};
  static const SectionSpec stdout_spec{
      "targets.<name> (type: stdout)",
      "Prints each event as one JSON line on standard output.",
      {
          {"type", T::kEnum, "", "", {"file", "stdout"}, true},
          {"format", T::kEnum, "eventbridge", "Event format.", {"eventbridge", "cloudevents"}},
      }};
  if (type == "file") return file;
  if (type == "stdout") return stdout_spec;
  return common;
}

std::vector<std::string_view> TargetTypes() { return {"file", "stdout"}; }

}  // namespace cdc::config_internal
