// Checks and setup done over a normal SQL connection before logical replication starts: the
// server's wal_level and the role's REPLICATION privilege, the configured tables (present, with a
// primary key or a usable replica identity), the publication, and the state of the slot. Every
// failure says what to change. Also the catalog lookups the pgoutput decoder needs (types,
// primary keys).
//
// Error messages name tables, roles, slots and settings, never row values.
//
// Thread-safety: functions use the connection they are given; PgCatalog is single-threaded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/position.h"
#include "base/status.h"
#include "source/postgres/pg_connection.h"
#include "source/postgres/pgoutput.h"

namespace cdc::pg {

struct PgTableRef {
  std::string schema = "public";
  std::string name;
  // "public.users"
  std::string ToString() const { return schema + "." + name; }
  // "\"public\".\"users\"", for SQL.
  std::string Quoted() const;
  bool operator==(const PgTableRef&) const = default;
};

struct PgTableInfo {
  PgTableRef table;
  bool exists = false;
  uint32_t oid = 0;
  char kind = 'r';              // pg_class.relkind
  char replica_identity = 'd';  // pg_class.relreplident: d, n, f, i
  std::vector<std::string> primary_key;
};

// A configured table and whether the config allows REPLICA IDENTITY FULL for it.
struct PgTableRequirement {
  PgTableRef table;
  bool replica_identity_full = false;
};

// FailedPrecondition unless wal_level is logical, the role may replicate (REPLICATION or
// superuser), and replication slots and WAL senders are enabled.
Status CheckServer(PgConnection& conn);

Result<std::vector<PgTableInfo>> InspectTables(PgConnection& conn,
                                               const std::vector<PgTableRef>& tables);

// FailedPrecondition listing every problem at once: tables that do not exist or are not tables,
// and tables whose UPDATE and DELETE would fail (or lose their old key) once published: no
// primary key under REPLICA IDENTITY DEFAULT, or REPLICA IDENTITY NOTHING. A table whose
// requirement allows replica_identity_full is not a problem (see ApplyReplicaIdentity).
Status CheckTables(PgConnection& conn, const std::vector<PgTableRequirement>& tables);

// Runs ALTER TABLE ... REPLICA IDENTITY FULL for each table that asks for it and does not have
// it yet. Only when the config says so: it makes the WAL carry whole old rows.
Status ApplyReplicaIdentity(PgConnection& conn, const std::vector<PgTableRequirement>& tables);

// Creates the publication for the tables if it does not exist; adds tables missing from an
// existing one (unless it is FOR ALL TABLES).
Status EnsurePublication(PgConnection& conn, std::string_view publication,
                         const std::vector<PgTableRef>& tables);

// Everything capture needs before a slot exists, in order: CheckServer, CheckTables,
// ApplyReplicaIdentity and EnsurePublication (the publication must exist before the slot, since
// changes are matched against publications as of the time they were written).
Status PrepareCapture(PgConnection& conn, std::string_view publication,
                      const std::vector<PgTableRequirement>& tables);

// A configured table as the catalog shows it now, against its publication.
struct PgCapturedTable {
  PgTableRef table;
  uint32_t oid = 0;        // 0: no relation of that name exists
  bool published = false;  // the publication publishes this relation (by OID)
};

// The configured tables' current OIDs and whether `publication` publishes them (a FOR TABLE
// list, FOR ALL TABLES or FOR TABLES IN SCHEMA alike, through pg_publication_tables); nullopt
// when the publication does not exist. Three small queries, for the periodic check of tables
// that leave the publication while streaming.
Result<std::optional<std::vector<PgCapturedTable>>> InspectCapturedTables(
    PgConnection& conn, std::string_view publication, const std::vector<PgTableRef>& tables);

struct PgSlotInfo {
  std::string name;
  std::string plugin;
  std::string slot_type;  // "logical" or "physical"
  std::string database;
  bool active = false;
  int active_pid = 0;
  std::string wal_status;  // reserved, extended, unreserved, lost
  Lsn confirmed_flush;
  Lsn restart_lsn;
  bool temporary = false;
};

// The slot as pg_replication_slots shows it, or nullopt if it does not exist.
Result<std::optional<PgSlotInfo>> InspectSlot(PgConnection& conn, std::string_view slot);

// OK if the slot can be streamed from `database` with pgoutput. Otherwise: Unavailable when
// another process is streaming from it (naming its pid); FailedPrecondition with data_loss when
// it was invalidated (wal_status = lost), saying how to resnapshot; FailedPrecondition for a
// physical slot, another plugin or another database.
Status CheckSlotUsable(const PgSlotInfo& slot, std::string_view database);

// Adds the types and, recursively, their element and base types from pg_type.
Status LoadTypes(PgConnection& conn, const std::vector<uint32_t>& oids, PgTypeRegistry& types);

// Primary-key column names of a relation, in key order (empty if none).
Result<std::vector<std::string>> PrimaryKeyColumns(PgConnection& conn, uint32_t relation_id);

// The columns pgoutput's Relation message would list for each table (by OID: attnum order,
// without dropped and generated columns), as PgRelations with schema_version 1; tables that do
// not exist are left out.
Result<std::vector<PgRelation>> ReadRelationShapes(PgConnection& conn,
                                                   const std::vector<uint32_t>& oids);

// PgCatalogReader over its own normal SQL connection, opened on first use (a replication
// connection cannot run queries while streaming).
class PgCatalog final : public PgCatalogReader {
 public:
  explicit PgCatalog(std::string dsn) : dsn_(std::move(dsn)) {}

  Result<std::vector<std::string>> PrimaryKeyColumns(uint32_t relation_id) override;
  Status LoadTypes(const std::vector<uint32_t>& oids, PgTypeRegistry& types) override;
  Result<std::string> FormatType(uint32_t oid, int32_t type_modifier) override;

 private:
  Result<PgConnection*> Conn();

  std::string dsn_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace cdc::pg
