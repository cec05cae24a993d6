// The `postgres` source kind: its fields, their parsing, and how it is built.
#include "config/config.h"
#include "source/postgres/derive_model.h"
#include "source/postgres/postgres_source.h"

namespace cdc {
namespace {

using config::FieldType;

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<pg::PostgresSourceConfig>();
  r.String("dsn", o->dsn);
  r.String("slot", o->slot);
  r.String("publication", o->publication);
  r.String("snapshot", o->snapshot);
  r.Int("snapshot_batch_size", o->snapshot_batch_size);
  r.Int("flush_interval_ms", o->flush_interval_ms);
  r.Int("status_interval_ms", o->status_interval_ms);
  r.Int("heartbeat_interval_ms", o->heartbeat_interval_ms);
  r.Int("reconnect_max_backoff_ms", o->reconnect_max_backoff_ms);
  r.String("on_position_gap", o->on_position_gap);
  r.Bool("stream_in_progress", o->stream_in_progress);
  r.String("signal_table", o->signal_table);
  return o;
}

Result<std::unique_ptr<Source>> Build(const Config& config) {
  return std::unique_ptr<Source>(
      std::make_unique<pg::PostgresSource>(pg::OptionsFromConfig(config)));
}

std::vector<DataDirFinding> VerifyData(const Config& config, const std::string& pipeline_id) {
  return pg::VerifySlotRecord(pg::OptionsFromConfig(config), pipeline_id);
}

std::string Describe(const Config& config) {
  pg::PostgresSourceOptions o = pg::OptionsFromConfig(config);
  return "capturing " + std::to_string(config.tables.size()) + " tables from PostgreSQL (slot " +
         o.slot + ", publication " + o.publication + ")";
}

}  // namespace

void RegisterPostgresSource(Registry& registry) {
  registry.AddSource(SourceKind{
      {"postgres",
       "PostgreSQL logical replication (pgoutput). The publication and the slot are created if "
       "missing; the publication covers the configured tables. The role needs the REPLICATION "
       "privilege and the server `wal_level = logical`.",
       {
           {"dsn",
            FieldType::kString,
            "",
            "libpq connection string or URI of the database, e.g. `${COREDB_DSN}`. A secret: "
            "its password is removed from every log line and message. The connection always "
            "uses client_encoding UTF8.",
            {},
            true},
           {"slot", FieldType::kString, "cdc_pipeline", "Logical replication slot name."},
           {"publication", FieldType::kString, "cdc_pipeline", "Publication name."},
           {"snapshot",
            FieldType::kEnum,
            "initial",
            "`initial`: when the slot is created, read the tables' existing rows as READ events, "
            "in primary-key chunks while the slot streams (resumed after a crash at its last "
            "completed chunk; PostgreSQL 14 or later); `never`: stream only.",
            {"initial", "never"}},
           {"snapshot_batch_size", FieldType::kInt, "10000",
            "Rows per snapshot chunk (one query between two watermarks)."},
           {"flush_interval_ms", FieldType::kInt, "200",
            "How often delivered events are made durable and acknowledged to PostgreSQL."},
           {"status_interval_ms", FieldType::kInt, "10000",
            "Standby status updates at least this often, so wal_sender_timeout never ends an "
            "idle stream."},
           {"heartbeat_interval_ms", FieldType::kInt, "0",
            "When > 0, write a `pg_logical_emit_message` this often so the slot advances even "
            "when all traffic is on other databases. 0 = off."},
           {"reconnect_max_backoff_ms", FieldType::kInt, "30000",
            "Upper bound of the exponential backoff between reconnect attempts."},
           {"on_position_gap",
            FieldType::kEnum,
            "fail",
            "What a start does when the slot no longer holds this pipeline's position (dropped, "
            "invalidated by `max_slot_wal_keep_size`, or advanced past it), so changes were lost: "
            "`fail`: refuse to start (exit 1) naming the slot, the position and what was lost; "
            "`resnapshot`: log a warning, publish a `PositionGap` event and snapshot every table "
            "again on a new slot (like `run --resnapshot`). A gap while streaming always stops "
            "the pipeline.",
            {"fail", "resnapshot"}},
           {"stream_in_progress", FieldType::kBool, "true",
            "PostgreSQL 14 and later: ask for pgoutput protocol 2 with `streaming`, so a "
            "transaction bigger than the server's `logical_decoding_work_mem` is sent while it "
            "runs and spilled to unnamed files in the data dir until it commits (discarded if it "
            "aborts) instead of being spilled by the server and sent only at its commit. Events "
            "are the same either way and are published only after the commit; memory stays "
            "constant. `false`: protocol 1."},
           {"signal_table", FieldType::kString, "cdc_pipeline_signals",
            "The signal table (`schema.table`, or a table in `public`), like Debezium's "
            "signaling table: created at start if missing (`id text primary key, type text not "
            "null, data jsonb`) and added to the publication. A row inserted into it is a "
            "command, never published: type `backfill` with data `{\"table\": \"users\", "
            "\"where\": \"id > 100\"}` reads a captured table (or the rows matching `where`) "
            "again while streaming, as READ events (`cdc-pipeline backfill` inserts such rows; "
            "PostgreSQL 14 or later). Restrict who may insert into it: `where` runs as SQL with "
            "the pipeline's role (in a read-only transaction). Empty: no signal table, no "
            "backfills."},
       },
       ParseOptions},
      {.ordered = true,
       .full_row_images = true,
       .supports_filtering = true,
       .check_on_validate = true},
      Build,
      Describe,
      nullptr,
      pg::DeriveModelYaml,
      VerifyData});
  RegisterBackfillCommand(registry);
}

}  // namespace cdc
