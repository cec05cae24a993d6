#include "config/schema.h"

#include "base/status.h"
#include "config/registry.h"

namespace cdc::config {

const FieldSpec* SectionSpec::Find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace cdc::config

namespace cdc::config_internal {

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
          {"stream", T::kSection, "",
           "The durable stream between the source and the processors (shards, fsync, "
           "retention)."},
          {"state", T::kSection, "",
           "The state store: checkpoints, delivery marks and dedupe keys (`sqlite`, or "
           "`dynamodb`)."},
          {"dead_letter", T::kSection, "",
           "Where events that cannot be processed go, with the reason."},
          {"admin", T::kSection, "",
           "The admin HTTP server of `run`: Prometheus metrics, liveness and readiness probes, "
           "live status."},
          {"api", T::kSection, "",
           "The local bus as an EventBridge-compatible API (PutEvents, rules, targets); off "
           "unless `api.listen` is set."},
          {"redaction", T::kSection, "",
           "Whether the tables' redaction policies apply, and the HMAC keys of the `hash` rule."},
          {"tables", T::kNamedSections, "", "The captured tables, by name.", {}, true},
          {"rules", T::kNamedSections, "",
           "Bus rules, by name: an event pattern and the targets it routes to."},
          {"targets", T::kNamedSections, "", "Delivery targets (consumers), by name."},
          {"archives", T::kSectionList, "",
           "EventBridge archives: each keeps the published events that match its pattern, for "
           "`cdc-pipeline replay` (see `archives[]`)."},
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
          {"log_format",
           T::kEnum,
           "text",
           "Log line format on stderr: `text` (timestamp, level, message) or `json` (one object "
           "per line: `time`, `level`, `message`). `--log-format` on the command line wins.",
           {"text", "json"}},
          {"shutdown_timeout_ms", T::kInt, "10000",
           "On SIGTERM, SIGINT or SIGHUP: how long to keep delivering what is already in the "
           "stream "
           "before exiting. What is left is delivered after the next start."},
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

const SectionSpec& StreamSpec() {
  static const SectionSpec spec{
      "stream",
      "Every captured change is appended to this partitioned stream before it is acknowledged "
      "to the source; processors read it from there. These fields apply to every kind of "
      "stream; each kind adds its own.",
      {
          {"enabled", T::kBool, "true",
           "`false` sends changes straight from the source to the processors: faster, but "
           "delivery is at-least-once and nothing is buffered on disk."},
          {"shards", T::kInt, "4",
           "Number of shards. The partition key is table + primary key, mapped to a shard as "
           "Kinesis does (MD5 hash-key ranges). Fixed once the stream exists."},
          {"max_unprocessed_bytes", T::kInt, "268435456",
           "Backpressure: when this much of the stream is not yet delivered, the source stops "
           "reading until the targets catch up."},
      }};
  return spec;
}

const SectionSpec& StateSpec() {
  static const SectionSpec spec{
      "state",
      "The state store: checkpoints, delivery cursors, dedupe keys and the lease that makes one "
      "process the owner of the data dir. These fields apply to every kind of store; each kind "
      "adds its own.",
      {
          {"checkpoint_interval_ms", T::kInt, "1000",
           "How often delivered positions are made durable at the targets and checkpointed. "
           "After a crash, at most this much is delivered again, and exactly-once targets "
           "(files) are first cut back to their checkpoint, so nothing appears twice."},
          {"dedupe_ttl_hours", T::kInt, "168",
           "How long ids of events from JSON input are remembered, so the same input event is "
           "delivered once even if it is read again."},
      }};
  return spec;
}

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

const SectionSpec& ApiSpec() {
  static const SectionSpec spec{
      "api",
      "`cdc-pipeline run` serves the bus's EventBridge API (AWS JSON 1.1, `X-Amz-Target: "
      "AWSEvents.<Operation>`): PutEvents publishes into the same bus as the pipeline's own "
      "events, and rules made with PutRule/PutTargets route them (and the pipeline's events) to "
      "the configured targets; those rules are kept in the state store. With `access_key_id` "
      "and `secret_access_key` set, every request must be signed with them (AWS Signature "
      "Version 4, as the AWS CLI and SDKs sign); without them requests are not authenticated: "
      "keep it on loopback or a private network.",
      {
          {"listen", T::kString, "",
           "Address and port to listen on: `host:port`, `[ipv6]:port`; empty (the default): no "
           "API. Port 0 takes any free port; the address bound is logged and written to "
           "`<data_dir>/api.addr`. A port in use stops `run` with exit code 1."},
          {"access_key_id", T::kString, "",
           "With `secret_access_key`: the access key id clients sign with; requests without a "
           "valid SigV4 signature of this key are refused (MissingAuthenticationToken, "
           "UnrecognizedClient, InvalidSignature). Never logged."},
          {"secret_access_key", T::kString, "",
           "The secret of `access_key_id`; a secret: take it from the environment "
           "(`${CDC_API_SECRET_ACCESS_KEY}`), never write it into the file. Never logged."},
          {"inject_throttling_percent", T::kInt, "0",
           "For testing clients: this percentage (0 to 100) of the PutEvents entries that would "
           "be accepted are answered `ThrottlingException` instead and not published, as "
           "EventBridge does under load (LocalStack's error probability). 0 in production."},
      }};
  return spec;
}

const SectionSpec& AdminSpec() {
  static const SectionSpec spec{
      "admin",
      "`cdc-pipeline run` serves `/metrics` (Prometheus text format), `/healthz` (200 while the "
      "process is alive), `/readyz` (200 when the source is connected, no target is failing and "
      "the source lag is within bounds; 503 with the reason as JSON otherwise) and `/api/status` "
      "(the `status --json` document, live). The endpoints have no authentication: keep them on "
      "loopback or a private network.",
      {
          {"enabled", T::kBool, "true", "`false`: `run` starts no admin server."},
          {"listen", T::kString, "127.0.0.1:9400",
           "Address and port to listen on: `host:port`, `[ipv6]:port`. Port 0 takes any free "
           "port; the address bound is logged and written to `<data_dir>/admin.addr`. An address "
           "other than loopback exposes the endpoints to the network. A port in use stops `run` "
           "with exit code 1."},
          {"ready_max_lag_seconds", T::kInt, "0",
           "`/readyz` answers 503 while the source lag (`cdc_source_lag_seconds`) is above this; "
           "0: no bound."},
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
           "What sensitive data the table holds (documentation, and the classification that "
           "`status` and the models report). Redaction follows `redact` and `redact_at`.",
           {"none", "personal", "payment", "financial", "auth"}},
          {"redact", T::kRedactionRules, "",
           "Redaction policy, by column: a rule string (`email: mask:email`, `phone: hash`, "
           "`card_number: remove`) or a mapping with `rule` and/or `detect` (see "
           "`tables.<name>.redact.<column>`). Rules: `remove` (drop the column), `null`, `mask` "
           "(= `mask:all`), `mask:email` (`j***@example.com`), `mask:first<N>` / `mask:last<N>` "
           "(keep the first / last N characters), `hash` (`hmac:<key id>:<64 hex>`, "
           "HMAC-SHA256 with the active key of `redaction.keys`: deterministic, so consumers can "
           "join on it), `truncate:<N>`, `generalize:year`, `generalize:month`, "
           "`generalize:range:<width>`. Applied to `before`, `after` and the key alike; the "
           "redacted columns are listed in `detail.redacted`. A primary-key column cannot be "
           "removed or nulled."},
          {"redact_at",
           T::kEnum,
           "capture",
           "`capture`: redact as the change arrives, before it is written to the stream, "
           "processed, logged or dead-lettered; `processor`: redact in the table's processor, "
           "so the stream on disk holds the raw values (for replays under a changed policy). "
           "Either way, a rejected change of a table with a policy is dead-lettered in its "
           "redacted form.",
           {"capture", "processor"}},
          {"model", T::kString, "",
           "The table's data model: a YAML file (see `model file`), relative to this config "
           "file's directory, e.g. `models/users.yaml`. Every change is checked against it before "
           "anything else happens to it; a violation goes to the dead-letter file with the field "
           "and the reason, and the model's version becomes `detail.metadata.schemaVersion` "
           "(docs/models.md). Fields the model classifies as PII need a redaction rule or "
           "detectors in `redact`."},
          {"transforms", T::kTransforms, "",
           "Transforms applied in order to `before` and `after`, after the model check and "
           "redaction: a list of one-key mappings (see `tables.<name>.transforms[]`). "
           "`changedFields` compares the transformed images. See docs/transforms.md."},
          {"partition_key", T::kStringList, "the primary key",
           "Columns of the stream partition key, as captured (before transforms): changes with "
           "the same values are kept in commit order. A column must be in the model (when the "
           "table has one) and must not be removed or nulled by `redact`."},
          {"replica_identity",
           T::kEnum,
           "default",
           "`full`: the pipeline runs ALTER TABLE ... REPLICA IDENTITY FULL, so updates and "
           "deletes "
           "carry whole before images (needed for a table without a primary key).",
           {"default", "full"}},
          {"schema_changes",
           T::kEnum,
           "publish",
           "What a change of the table's columns (ALTER TABLE: add, drop, rename, retype) "
           "becomes. `publish`: a `SCHEMA_CHANGE` event (detail-type `<table>.SCHEMA_CHANGE`, "
           "the old and new columns and what changed), routed by the rules like any event, at "
           "its place in the stream: before the first row of the new shape; "
           "`dead_letter`: the same event goes to the dead-letter file with what changed, for "
           "an operator to review. Rows are checked against the table's model either way.",
           {"publish", "dead_letter"}},
          {"unchanged_toast",
           T::kEnum,
           "mark",
           "An UPDATE that leaves a large (TOASTed) value unchanged: PostgreSQL sends the value "
           "only under REPLICA IDENTITY FULL. `mark`: the column is left out of `after` and "
           "named in `detail.metadata.unchangedToast` (never null, never empty); `last_image`: "
           "the value is filled from the key's last row image, which the pipeline keeps in the "
           "state store for every key of the table (after capture redaction): one row image "
           "per key on disk and one state-store write per changed key and flush (docs/"
           "architecture.md, \"Unchanged TOAST values\"). A key whose image is not known "
           "(changed before the pipeline saw it) is marked as with `mark`. Needs the durable "
           "stream.",
           {"mark", "last_image"}},
          {"description", T::kString, "", "Free text."},
      }};
  return spec;
}

const SectionSpec& RedactColumnSpec() {
  static const SectionSpec spec{
      "tables.<name>.redact.<column>",
      "The long form of a column's redaction rule. Detectors find PII inside text, JSON (string "
      "values) and arrays; each piece found becomes `[REDACTED:<detector>]`, or its HMAC token "
      "when the rule is `hash`, or the masked piece when it is `mask`.",
      {
          {"rule", T::kString, "",
           "A rule as in `tables.<name>.redact`; with `detect` only `hash` or `mask` (or none)."},
          {"detect",
           T::kEnumList,
           "",
           "PII detectors for free text: `email`; `card` (13-19 digits passing Luhn); `phone` "
           "(international `+...` and North American forms); `ssn` (`###-##-####`); `ip` (IPv4, "
           "IPv6).",
           {"email", "card", "phone", "ssn", "ip"}},
      }};
  return spec;
}

const SectionSpec& TransformSpec() {
  static const SectionSpec spec{
      "tables.<name>.transforms[]",
      "One transform: a mapping with exactly one of these keys. Each step sees the column names "
      "the steps before it left. A step that names a column an image does not carry leaves that "
      "image alone (partial rows, key-only `before` images). A value that cannot be cast, or a "
      "rename or flatten onto an existing column, dead-letters the change with the step and the "
      "column.",
      {
          {"rename", T::kStringMap, "",
           "`{old: new, ...}`: new names; the columns keep their place."},
          {"drop", T::kStringList, "", "Columns to remove."},
          {"include", T::kStringList, "", "The only columns to keep (in row order)."},
          {"cast", T::kStringMap, "",
           "`{column: type, ...}`, type one of `string`, `int`, `double`, `decimal`, `bool`, "
           "`timestamp` (with time zone; text without an offset and dates are taken as UTC), "
           "`date`. Null stays null."},
          {"set", T::kSection, "",
           "Writes a column: a constant, a copy of another column or a template (see "
           "`tables.<name>.transforms[].set`)."},
          {"flatten", T::kSection, "",
           "A JSON object column becomes one column per member, `address.city`: a column name, "
           "or a mapping (see `tables.<name>.transforms[].flatten`)."},
      }};
  return spec;
}

const SectionSpec& SetTransformSpec() {
  static const SectionSpec spec{
      "tables.<name>.transforms[].set",
      "Exactly one of `value`, `from`, `template`. The column is replaced when it exists, else "
      "added at the end. A column set from a redacted column is listed in `detail.redacted` "
      "too.",
      {
          {"column", T::kString, "", "The column written.", {}, true},
          {"value", T::kString, "",
           "A constant: `true`/`false`, a number, `null`, or text (quote it to keep `'42'` "
           "text)."},
          {"from", T::kString, "",
           "Copy this column's value (an image without it leaves the target unset)."},
          {"template", T::kString, "",
           "Text with `{column}` references (`{{` and `}}` for braces), e.g. `\"{sku}: "
           "{name}\"`; null when a referenced value is null, unset when one is missing."},
      }};
  return spec;
}

const SectionSpec& FlattenTransformSpec() {
  static const SectionSpec spec{
      "tables.<name>.transforms[].flatten",
      "JSON members become columns named `<column><separator><key>`, in place of the column; "
      "strings become text, integers int64, other numbers exact decimals; arrays, and objects "
      "below `depth`, stay JSON. A null, an array or a scalar JSON value is left as it is.",
      {
          {"column", T::kString, "", "The JSON column.", {}, true},
          {"depth", T::kInt, "0", "Object levels expanded; 0 = all."},
          {"separator", T::kString, ".", "Between the column name and the member names."},
      }};
  return spec;
}

const SectionSpec& ModelSpec() {
  static const SectionSpec spec{
      "model file",
      "A table's data model (`tables.<name>.model`, e.g. `config/models/users.yaml`); "
      "`cdc-pipeline models derive` writes one from the PostgreSQL catalog. The rules of the "
      "check and of `schemaVersion` are in docs/models.md.",
      {
          {"table", T::kString, "", "The table it describes: the name under `tables`.", {}, true},
          {"schema", T::kString, "public", "PostgreSQL schema of the table."},
          {"version",
           T::kInt,
           "",
           "The model's version (>= 1): `schemaVersion` of events that "
           "match it; one more for events that show a compatible change.",
           {},
           true},
          {"description", T::kString, "", "Free text."},
          {"primary_key", T::kStringList, "",
           "Primary-key columns; when `tables.<name>.primary_key` is not set it comes from "
           "here."},
          {"fields",
           T::kModelFields,
           "",
           "The columns in table order, by name: a type (`email: text`) or a mapping (see "
           "`model file: fields.<name>`).",
           {},
           true},
      }};
  return spec;
}

const SectionSpec& ModelFieldSpec() {
  static const SectionSpec spec{
      "model file: fields.<name>",
      "",
      {
          {"type",
           T::kString,
           "",
           "A PostgreSQL type as `format_type()` prints it: `text`, `character varying(n)`, "
           "`character(n)`, `smallint`, `integer`, `bigint`, `numeric(p,s)`, `real`, `double "
           "precision`, `boolean`, `uuid`, `json`, `jsonb`, `bytea`, `date`, `time without time "
           "zone`, `time with time zone`, `timestamp without time zone`, `timestamp with time "
           "zone`, `interval`, `inet`, `cidr`, `name`, `citext`, `xml`; arrays as `text[]`. "
           "Aliases such as `int`, `timestamptz`, `varchar(20)` are accepted.",
           {},
           true},
          {"nullable", T::kBool, "true", "Whether the value may be null."},
          {"pii",
           T::kEnum,
           "none",
           "What personal or secret data it holds. Anything but `none` needs a rule or "
           "detectors in the table's `redact`; `free_text` is text or JSON that may contain PII "
           "anywhere.",
           {"none", "email", "phone", "name", "address", "birth_date", "ssn", "card",
            "bank_account", "secret", "ip", "free_text"}},
          {"description", T::kString, "", "Free text."},
      }};
  return spec;
}

const SectionSpec& RedactionSpec() {
  static const SectionSpec spec{
      "redaction",
      "Key material is read when the pipeline starts (and by `validate-config` and "
      "`health-check`), never at load and never logged: a missing variable or file is reported "
      "by name with how to create a key (`openssl rand -hex 32`; at least 16 bytes). Tokens carry "
      "their key id, so keys can rotate: add a key, make it `active_key`, keep the old one to "
      "reproduce and verify older tokens.",
      {
          {"enabled", T::kBool, "true",
           "`false` turns every table's policy off (the original's `ENABLE_PII_REDACTION=false`): "
           "PII passes through to the targets, and the pipeline logs a warning at startup. Dead "
           "letters are still scrubbed."},
          {"keys", T::kStringMap, "",
           "HMAC-SHA256 keys of the `hash` rule, by key id (letters, digits, `_`, `-`, `.`): "
           "`env:VARIABLE` (read from the process environment, not from `.env`) or "
           "`file:/path/to/secret` (one trailing newline is ignored). Needed when any rule "
           "hashes."},
          {"active_key", T::kString, "the first key", "The key id new tokens are made with."},
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
          {"targets",
           T::kRuleTargets,
           "",
           "The targets matching events go to: each entry a target name (see `targets`), or a "
           "mapping with `target` and what that target receives instead of the whole event (see "
           "`rules.<name>.targets[]`).",
           {},
           true},
      }};
  return spec;
}

const SectionSpec& RuleTargetSpec() {
  static const SectionSpec spec{
      "rules.<name>.targets[]",
      "The mapping form of an entry of a rule's `targets`: the target, and at most one of "
      "`input`, `input_path` or `input_transformer` (EventBridge's Input, InputPath and "
      "InputTransformer). The target then receives that text instead of the event, written "
      "as-is as one line by `file` and `stdout` targets (whatever their `format`); the dead "
      "letter of a failed delivery still records the original event.",
      {
          {"target", T::kString, "", "A target name (see `targets`).", {}, true},
          {"input", T::kJson, "",
           "Constant JSON sent instead of the event: a YAML value or a JSON string (sent on one "
           "line)."},
          {"input_path", T::kString, "",
           "A JSONPath selecting part of the event, e.g. `$.detail.after`: `$`, then `.name`, "
           "`['name']`, `[N]`, `.*` or `[*]` steps (a wildcard gives the array of every match). A "
           "path that matches nothing sends `null`."},
          {"input_transformer", T::kSection, "",
           "Named JSONPaths into the event and a template using them (see "
           "`rules.<name>.targets[].input_transformer`)."},
          {"dead_letter", T::kString, "",
           "A `file` target that receives this rule target's failed deliveries (EventBridge's "
           "per-target DeadLetterConfig): one JSON line each with the original event, the error, "
           "the attempt count, the rule and the target. Default: the pipeline's dead-letter "
           "file."},
      }};
  return spec;
}

const SectionSpec& InputTransformerSpec() {
  static const SectionSpec spec{
      "rules.<name>.targets[].input_transformer",
      "The text a target receives: `input_template` with each `<name>` placeholder replaced. A "
      "template starting with `{`, `[` or `\"` must be JSON: a placeholder outside quotes "
      "inserts the JSON value (`null` for a path that matches nothing), inside quotes the value "
      "as string text (a string without its quotes and not escaped further, an object or array "
      "with its quotes removed, nothing for a missing path), and a placeholder cannot be an "
      "object key; whitespace between JSON tokens is dropped so the output is one line. Any "
      "other template is plain text, sent as-is, where placeholders insert string text (objects "
      "and arrays as JSON). Predefined placeholders: `<aws.events.event.json>` (the whole "
      "event) and `<aws.events.event>` (without `detail`), only as JSON values; "
      "`<aws.events.rule-name>`; `<aws.events.rule-arn>` "
      "(`arn:aws:events:<region>:<account>:rule/<bus>/<rule>`, from `bus`); "
      "`<aws.events.event.ingestion-time>` (the event's `time`, the commit time, so the same "
      "change always gives the same output).",
      {
          {"input_paths_map", T::kStringMap, "",
           "Placeholder names (letters, digits, `_`, `-`; not starting with `aws.`) to JSONPaths "
           "as in `input_path`. At most 100."},
          {"input_template",
           T::kString,
           "",
           "The template. Every `<name>` must be in `input_paths_map` or predefined.",
           {},
           true},
      }};
  return spec;
}

const SectionSpec& RetrySpec() {
  static const SectionSpec spec{
      "targets.<name>.retry",
      "EventBridge's RetryPolicy. A failed delivery is tried again after an exponential backoff "
      "with full jitter (a random wait up to `initial_backoff_ms` doubled per attempt, at most "
      "`max_backoff_ms`), until it succeeds, `max_attempts` attempts were made, or the event "
      "has waited `max_event_age_seconds` since its first attempt; then it goes to its rule "
      "target's dead letter (`rules.<name>.targets[].dead_letter`, else the pipeline's "
      "dead-letter file) with the error, the attempt count and the rule. Events for one target "
      "are delivered in order: while one is retried, the target's later events wait.",
      {
          {"max_attempts", T::kInt, "185", "Attempts in all, the first included (at least 1)."},
          {"max_event_age_seconds", T::kInt, "86400",
           "Give up on an event this long after its first attempt (at least 1)."},
          {"initial_backoff_ms", T::kInt, "100", "The longest wait before the second attempt."},
          {"max_backoff_ms", T::kInt, "30000", "The longest wait between two attempts."},
      }};
  return spec;
}

const SectionSpec& ArchiveSpec() {
  static const SectionSpec spec{
      "archives[]",
      "One archive, as EventBridge keeps them: every event published on the bus that matches "
      "`event_pattern` is appended to `<data_dir>/archives/<name>/` (the stream's checksummed "
      "segment log, one shard), whatever the rules do with it; replayed events are not archived "
      "again. Archives take part in the checkpoints like file targets, so each event is archived "
      "exactly once across crashes. `cdc-pipeline replay --archive <name> --start T --end T` "
      "sends archived events through the rules again, with `replay-name` added.",
      {
          {"name",
           T::kString,
           "",
           "Unique archive name: 1 to 48 characters of letters, digits, `.`, `-`, `_` (AWS's "
           "rule). Also its directory name.",
           {},
           true},
          {"description", T::kString, "", "Free text."},
          {"event_pattern", T::kPattern, "every event",
           "An EventBridge event pattern, as in `rules.<name>.event_pattern` and checked the same "
           "way; without it the archive keeps every event."},
          {"retention_days", T::kInt, "0",
           "Archived events are deleted once they were archived this many days ago; 0 keeps them "
           "forever (AWS's default). Deletion is by whole 64 MiB segments and never touches the "
           "segment being written, so a small archive keeps its events until that segment "
           "fills."},
      }};
  return spec;
}

std::unique_ptr<KindSection> SourceSection(const Registry& registry, const SourceKind* kind) {
  auto section = std::make_unique<KindSection>();
  section->choices = registry.SourceNames();
  const SourceKind* fallback = registry.FileSource();
  std::string_view default_name = fallback != nullptr ? fallback->spec.name : "";
  if (kind == nullptr) {
    section->path = "source";
    section->spec.fields.push_back(
        {"type", T::kEnum, default_name, "The kind of source.", section->choices});
  } else {
    section->path = "source (type: " + std::string(kind->spec.name) + ")";
    section->spec.description = kind->spec.description;
    section->spec.fields.push_back({"type", T::kEnum, default_name, "", section->choices});
    for (const auto& f : kind->spec.fields) section->spec.fields.push_back(f);
  }
  section->spec.path = section->path;
  return section;
}

namespace {

// A section whose `type` picks one of `names` (default `default_name`): `type`, the fields of
// `common` and, when the kind is known, the kind's own.
std::unique_ptr<KindSection> TypedSection(const SectionSpec& common,
                                          std::vector<std::string_view> names,
                                          std::string_view default_name, std::string_view kind_name,
                                          std::string_view kind_description,
                                          const std::vector<FieldSpec>* kind_fields,
                                          std::string_view type_description) {
  auto section = std::make_unique<KindSection>();
  section->choices = std::move(names);
  section->path = std::string(common.path);
  if (kind_fields != nullptr) section->path += " (type: " + std::string(kind_name) + ")";
  section->spec.description = kind_fields != nullptr ? kind_description : common.description;
  section->spec.fields.push_back(
      {"type", T::kEnum, default_name, type_description, section->choices});
  for (const auto& f : common.fields) section->spec.fields.push_back(f);
  if (kind_fields != nullptr) {
    for (const auto& f : *kind_fields) section->spec.fields.push_back(f);
  }
  section->spec.path = section->path;
  return section;
}

}  // namespace

std::unique_ptr<KindSection> StreamSection(const Registry& registry, const StreamKind* kind) {
  return TypedSection(StreamSpec(), registry.StreamNames(), kDefaultStreamKind,
                      kind != nullptr ? kind->spec.name : "",
                      kind != nullptr ? kind->spec.description : "",
                      kind != nullptr ? &kind->spec.fields : nullptr, "The kind of stream.");
}

std::unique_ptr<KindSection> StateSection(const Registry& registry, const StateKind* kind) {
  return TypedSection(StateSpec(), registry.StateNames(), kDefaultStateKind,
                      kind != nullptr ? kind->spec.name : "",
                      kind != nullptr ? kind->spec.description : "",
                      kind != nullptr ? &kind->spec.fields : nullptr, "The kind of state store.");
}

std::unique_ptr<KindSection> TargetSection(const Registry& registry, const TargetKind* kind) {
  auto section = std::make_unique<KindSection>();
  section->choices = registry.TargetNames();
  FieldSpec type{"type", T::kEnum, "", "The kind of target.", section->choices, true};
  section->spec.fields.push_back(type);
  if (kind == nullptr) {
    section->path = "targets.<name>";
  } else {
    section->path = "targets.<name> (type: " + std::string(kind->spec.name) + ")";
    section->spec.description = kind->spec.description;
    for (const auto& f : kind->spec.fields) section->spec.fields.push_back(f);
  }
  section->spec.path = section->path;
  return section;
}

}  // namespace cdc::config_internal
