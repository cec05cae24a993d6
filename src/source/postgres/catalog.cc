#include "source/postgres/catalog.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace cdc::pg {
namespace {

bool ParseU32(const std::optional<std::string>& s, uint32_t& out) {
  if (!s) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
  return ec == std::errc() && p == s->data() + s->size();
}

std::string OidArray(const std::vector<uint32_t>& oids) {
  std::string out = "{";
  for (size_t i = 0; i < oids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(oids[i]);
  }
  return out + "}";
}

const char* IdentityName(char ident) {
  switch (ident) {
    case 'd':
      return "DEFAULT";
    case 'n':
      return "NOTHING";
    case 'f':
      return "FULL";
    case 'i':
      return "USING INDEX";
  }
  return "unknown";
}

}  // namespace

std::string PgTableRef::Quoted() const {
  return QuoteIdentifier(schema) + "." + QuoteIdentifier(name);
}

Status CheckServer(PgConnection& conn) {
  CDC_ASSIGN_OR_RETURN(
      PgRows rows,
      conn.Query("SELECT current_setting('wal_level') AS wal_level, "
                 "current_setting('max_replication_slots') AS max_slots, "
                 "current_setting('max_wal_senders') AS max_senders, "
                 "r.rolreplication::text AS replication, r.rolsuper::text AS super, "
                 "current_user AS role FROM pg_roles r WHERE r.rolname = current_user"));
  if (rows.empty()) return Internal("cannot read the current role from pg_roles");
  std::string wal_level = rows.Get(0, "wal_level").value_or("");
  std::string role = rows.Get(0, "role").value_or("");
  std::vector<std::string> problems;
  if (wal_level != "logical") {
    problems.push_back("wal_level is '" + wal_level +
                       "' but logical replication needs 'logical': set wal_level = logical in "
                       "postgresql.conf (or run ALTER SYSTEM SET wal_level = logical) and restart "
                       "PostgreSQL");
  }
  if (rows.Get(0, "replication") != "true" && rows.Get(0, "super") != "true") {
    problems.push_back("role " + QuoteIdentifier(role) +
                       " lacks the REPLICATION privilege: run ALTER ROLE " + QuoteIdentifier(role) +
                       " REPLICATION as a superuser");
  }
  if (rows.Get(0, "max_slots") == "0") {
    problems.push_back(
        "max_replication_slots is 0: set it to at least 1 in postgresql.conf and restart");
  }
  if (rows.Get(0, "max_senders") == "0") {
    problems.push_back("max_wal_senders is 0: set it to at least 1 in postgresql.conf and restart");
  }
  if (problems.empty()) return Status::Ok();
  std::string message = "PostgreSQL is not ready for logical replication: ";
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    message += problems[i];
  }
  return FailedPrecondition(std::move(message));
}

Result<std::vector<std::string>> PrimaryKeyColumns(PgConnection& conn, uint32_t relation_id) {
  CDC_ASSIGN_OR_RETURN(
      PgRows rows,
      conn.Query("SELECT a.attname FROM pg_index i "
                 "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                 "WHERE i.indrelid = $1::oid AND i.indisprimary "
                 "ORDER BY array_position(i.indkey::int2[], a.attnum)",
                 {std::to_string(relation_id)}));
  std::vector<std::string> columns;
  for (auto& row : rows.rows) columns.push_back(row[0].value_or(""));
  return columns;
}

Result<std::vector<PgTableInfo>> InspectTables(PgConnection& conn,
                                               const std::vector<PgTableRef>& tables) {
  std::vector<PgTableInfo> out;
  for (const PgTableRef& t : tables) {
    PgTableInfo info;
    info.table = t;
    CDC_ASSIGN_OR_RETURN(PgRows rows,
                         conn.Query("SELECT c.oid::text AS oid, c.relkind::text AS kind, "
                                    "c.relreplident::text AS ident FROM pg_class c "
                                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                    "WHERE n.nspname = $1 AND c.relname = $2",
                                    {t.schema, t.name}));
    if (!rows.empty()) {
      info.exists = true;
      if (!ParseU32(rows.Get(0, "oid"), info.oid)) return Internal("pg_class returned a bad oid");
      info.kind = rows.Get(0, "kind").value_or("r")[0];
      info.replica_identity = rows.Get(0, "ident").value_or("d")[0];
      CDC_ASSIGN_OR_RETURN(info.primary_key, PrimaryKeyColumns(conn, info.oid));
    }
    out.push_back(std::move(info));
  }
  return out;
}

Status CheckTables(PgConnection& conn, const std::vector<PgTableRequirement>& tables) {
  std::vector<PgTableRef> refs;
  for (const auto& t : tables) refs.push_back(t.table);
  CDC_ASSIGN_OR_RETURN(auto infos, InspectTables(conn, refs));
  std::vector<std::string> problems;
  const std::string db = conn.database();
  for (size_t i = 0; i < infos.size(); ++i) {
    const PgTableInfo& info = infos[i];
    const std::string name = info.table.ToString();
    if (!info.exists) {
      problems.push_back("table " + name + " does not exist in database " + db +
                         ": create it or remove it from the config");
      continue;
    }
    if (info.kind != 'r' && info.kind != 'p') {
      problems.push_back(name + " is not a table (relkind '" + std::string(1, info.kind) +
                         "') and cannot be published: remove it from the config");
      continue;
    }
    if (tables[i].replica_identity_full || info.replica_identity == 'f' ||
        info.replica_identity == 'i') {
      continue;
    }
    if (info.replica_identity == 'n') {
      problems.push_back("table " + name +
                         " has REPLICA IDENTITY NOTHING: once published, its UPDATE and DELETE "
                         "would fail; run ALTER TABLE " +
                         info.table.Quoted() +
                         " REPLICA IDENTITY DEFAULT, or set replica_identity: full for it in the "
                         "config");
    } else if (info.primary_key.empty()) {
      problems.push_back("table " + name +
                         " has no primary key and REPLICA IDENTITY DEFAULT: once published, its "
                         "UPDATE and DELETE would fail; add a primary key, or set "
                         "replica_identity: full for it in the config (the pipeline then runs "
                         "ALTER TABLE " +
                         info.table.Quoted() + " REPLICA IDENTITY FULL)");
    }
  }
  if (problems.empty()) return Status::Ok();
  std::string message;
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    message += problems[i];
  }
  return FailedPrecondition(std::move(message));
}

Status ApplyReplicaIdentity(PgConnection& conn, const std::vector<PgTableRequirement>& tables) {
  std::vector<PgTableRef> refs;
  for (const auto& t : tables) {
    if (t.replica_identity_full) refs.push_back(t.table);
  }
  if (refs.empty()) return Status::Ok();
  CDC_ASSIGN_OR_RETURN(auto infos, InspectTables(conn, refs));
  for (const PgTableInfo& info : infos) {
    if (!info.exists) {
      return NotFound("table " + info.table.ToString() + " does not exist in database " +
                      conn.database());
    }
    if (info.replica_identity == 'f') continue;
    CDC_RETURN_IF_ERROR(
        conn.Execute("ALTER TABLE " + info.table.Quoted() + " REPLICA IDENTITY FULL")
            .WithContext("setting REPLICA IDENTITY FULL on " + info.table.ToString() + " (was " +
                         IdentityName(info.replica_identity) + ")"));
  }
  return Status::Ok();
}

Status EnsurePublication(PgConnection& conn, std::string_view publication,
                         const std::vector<PgTableRef>& tables) {
  const std::string pub(publication);
  CDC_ASSIGN_OR_RETURN(PgRows rows,
                       conn.Query("SELECT puballtables::text AS all FROM pg_publication "
                                  "WHERE pubname = $1",
                                  {pub}));
  std::string context = "publication " + QuoteIdentifier(pub);
  if (rows.empty()) {
    std::string sql = "CREATE PUBLICATION " + QuoteIdentifier(pub);
    if (!tables.empty()) {
      sql += " FOR TABLE ";
      for (size_t i = 0; i < tables.size(); ++i) {
        if (i > 0) sql += ", ";
        sql += tables[i].Quoted();
      }
    }
    return conn.Execute(sql).WithContext("creating " + context);
  }
  if (rows.Get(0, "all") == "true") return Status::Ok();
  CDC_ASSIGN_OR_RETURN(PgRows published,
                       conn.Query("SELECT schemaname, tablename FROM pg_publication_tables "
                                  "WHERE pubname = $1",
                                  {pub}));
  std::set<std::pair<std::string, std::string>> have;
  for (auto& row : published.rows) have.emplace(row[0].value_or(""), row[1].value_or(""));
  std::string missing;
  for (const PgTableRef& t : tables) {
    if (have.count({t.schema, t.name}) != 0) continue;
    if (!missing.empty()) missing += ", ";
    missing += t.Quoted();
  }
  if (missing.empty()) return Status::Ok();
  return conn.Execute("ALTER PUBLICATION " + QuoteIdentifier(pub) + " ADD TABLE " + missing)
      .WithContext("adding tables to " + context);
}

Result<std::optional<std::vector<PgCapturedTable>>> InspectCapturedTables(
    PgConnection& conn, std::string_view publication, const std::vector<PgTableRef>& tables) {
  using Captured = std::optional<std::vector<PgCapturedTable>>;
  const std::string pub(publication);
  CDC_ASSIGN_OR_RETURN(PgRows exists,
                       conn.Query("SELECT 1 FROM pg_publication WHERE pubname = $1", {pub}));
  if (exists.empty()) return Captured();
  // By name and then by OID: pg_publication_tables shows names only.
  CDC_ASSIGN_OR_RETURN(
      PgRows published,
      conn.Query("SELECT c.oid::text FROM pg_publication_tables p "
                 "JOIN pg_namespace n ON n.nspname = p.schemaname "
                 "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
                 "WHERE p.pubname = $1",
                 {pub}));
  std::set<uint32_t> published_oids;
  for (size_t i = 0; i < published.size(); ++i) {
    uint32_t oid = 0;
    if (ParseU32(published.rows[i][0], oid)) published_oids.insert(oid);
  }
  std::vector<PgCapturedTable> out;
  if (tables.empty()) return Captured(std::move(out));
  std::string sql = "SELECT ";
  std::vector<std::string> params;
  for (size_t i = 0; i < tables.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += "coalesce(to_regclass($" + std::to_string(i + 1) + ")::oid, 0)::text";
    params.push_back(tables[i].Quoted());
  }
  CDC_ASSIGN_OR_RETURN(PgRows oids, conn.Query(sql, params));
  if (oids.empty() || oids.rows[0].size() != tables.size()) {
    return Internal("to_regclass returned no row");
  }
  for (size_t i = 0; i < tables.size(); ++i) {
    PgCapturedTable t;
    t.table = tables[i];
    if (!ParseU32(oids.rows[0][i], t.oid)) return Internal("to_regclass returned a bad oid");
    t.published = t.oid != 0 && published_oids.count(t.oid) != 0;
    out.push_back(std::move(t));
  }
  return Captured(std::move(out));
}

Result<std::optional<PgSlotInfo>> InspectSlot(PgConnection& conn, std::string_view slot) {
  CDC_ASSIGN_OR_RETURN(
      PgRows rows,
      conn.Query("SELECT slot_name::text, coalesce(plugin::text, '') AS plugin, slot_type, "
                 "coalesce(database::text, '') AS database, active::text, "
                 "coalesce(active_pid, 0)::text AS active_pid, coalesce(wal_status, '') AS "
                 "wal_status, coalesce(confirmed_flush_lsn, '0/0')::text AS confirmed_flush, "
                 "coalesce(restart_lsn, '0/0')::text AS restart_lsn, temporary::text "
                 "FROM pg_replication_slots WHERE slot_name = $1",
                 {std::string(slot)}));
  if (rows.empty()) return std::optional<PgSlotInfo>();
  PgSlotInfo info;
  info.name = rows.Get(0, "slot_name").value_or("");
  info.plugin = rows.Get(0, "plugin").value_or("");
  info.slot_type = rows.Get(0, "slot_type").value_or("");
  info.database = rows.Get(0, "database").value_or("");
  info.active = rows.Get(0, "active") == "true";
  uint32_t pid = 0;
  ParseU32(rows.Get(0, "active_pid"), pid);
  info.active_pid = static_cast<int>(pid);
  info.wal_status = rows.Get(0, "wal_status").value_or("");
  info.confirmed_flush = Lsn::Parse(rows.Get(0, "confirmed_flush").value_or("0/0")).value_or(Lsn());
  info.restart_lsn = Lsn::Parse(rows.Get(0, "restart_lsn").value_or("0/0")).value_or(Lsn());
  info.temporary = rows.Get(0, "temporary") == "true";
  return std::optional<PgSlotInfo>(std::move(info));
}

Status CheckSlotUsable(const PgSlotInfo& slot, std::string_view database) {
  const std::string name = QuoteIdentifier(slot.name);
  if (slot.slot_type != "logical") {
    return FailedPrecondition("replication slot " + name +
                              " is a physical slot: configure another slot name for the pipeline");
  }
  if (slot.plugin != "pgoutput") {
    return FailedPrecondition("replication slot " + name + " uses the output plugin '" +
                              slot.plugin +
                              "', not pgoutput: configure another slot name, or drop this slot "
                              "if nothing else uses it");
  }
  if (slot.database != database) {
    return FailedPrecondition("replication slot " + name + " belongs to database " + slot.database +
                              ", not " + std::string(database) + ": configure another slot name");
  }
  if (slot.wal_status == "lost") {
    return FailedPrecondition(
               "replication slot " + name +
               " was invalidated (wal_status = lost): PostgreSQL removed WAL it still needed, so "
               "changes after its confirmed position " +
               slot.confirmed_flush.ToString() +
               " are lost. To accept the gap and snapshot again, run `cdc-pipeline run "
               "--resnapshot`; raise max_slot_wal_keep_size to avoid this")
        .set_data_loss();
  }
  if (slot.active) {
    return Unavailable("replication slot " + name + " is active for PID " +
                       std::to_string(slot.active_pid) +
                       " (a walsender; pg_stat_replication shows its client): another client is "
                       "streaming from it. If that is a `cdc-pipeline run` of another data dir, "
                       "give each pipeline its own `slot`; if it is a leftover client such as "
                       "pg_recvlogical, stop that client; then try again");
  }
  return Status::Ok();
}

Status PrepareCapture(PgConnection& conn, std::string_view publication,
                      const std::vector<PgTableRequirement>& tables) {
  CDC_RETURN_IF_ERROR(CheckServer(conn));
  CDC_RETURN_IF_ERROR(CheckTables(conn, tables));
  CDC_RETURN_IF_ERROR(ApplyReplicaIdentity(conn, tables));
  std::vector<PgTableRef> refs;
  for (const auto& t : tables) refs.push_back(t.table);
  return EnsurePublication(conn, publication, refs);
}

Status LoadTypes(PgConnection& conn, const std::vector<uint32_t>& oids, PgTypeRegistry& types) {
  // Only types the registry does not know yet: built-in types must keep their decoders.
  std::vector<uint32_t> pending;
  for (uint32_t oid : oids) {
    if (!types.Contains(oid)) pending.push_back(oid);
  }
  for (int round = 0; round < 8 && !pending.empty(); ++round) {
    CDC_ASSIGN_OR_RETURN(
        PgRows rows,
        conn.Query("SELECT t.oid::text, t.typname::text, t.typtype::text, t.typcategory::text, "
                   "t.typelem::text, t.typbasetype::text, "
                   "coalesce((SELECT e.typdelim::text FROM pg_type e WHERE e.oid = t.typelem), "
                   "',') AS delim FROM pg_type t WHERE t.oid = ANY($1::oid[])",
                   {OidArray(pending)}));
    std::set<uint32_t> found;
    std::vector<uint32_t> next;
    for (size_t i = 0; i < rows.size(); ++i) {
      PgTypeInfo info;
      if (!ParseU32(rows.Get(i, "oid"), info.oid)) return Internal("pg_type returned a bad oid");
      info.name = rows.Get(i, "typname").value_or("");
      char typtype = rows.Get(i, "typtype").value_or("b")[0];
      char category = rows.Get(i, "typcategory").value_or("U")[0];
      uint32_t elem = 0, base = 0;
      ParseU32(rows.Get(i, "typelem"), elem);
      ParseU32(rows.Get(i, "typbasetype"), base);
      if (typtype == 'd') {
        info.type_class = PgTypeClass::kDomain;
        info.base_oid = base;
        if (!types.Contains(base)) next.push_back(base);
      } else if (typtype == 'e') {
        info.type_class = PgTypeClass::kEnum;
      } else if (category == 'A' && elem != 0) {
        info.type_class = PgTypeClass::kArray;
        info.element_oid = elem;
        info.delimiter = rows.Get(i, "delim").value_or(",")[0];
        if (!types.Contains(elem)) next.push_back(elem);
      } else {
        info.type_class = PgTypeClass::kOther;
      }
      found.insert(info.oid);
      types.Add(std::move(info));
    }
    for (uint32_t oid : pending) {
      // A type that no longer exists (dropped since the change was written) decodes as Text.
      if (found.count(oid) == 0) types.Add(PgTypeInfo{oid, "unknown", PgTypeClass::kOther});
    }
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
    pending = std::move(next);
  }
  return Status::Ok();
}

Result<PgConnection*> PgCatalog::Conn() {
  if (!conn_) {
    CDC_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(dsn_));
  }
  return conn_.get();
}

Result<std::vector<std::string>> PgCatalog::PrimaryKeyColumns(uint32_t relation_id) {
  CDC_ASSIGN_OR_RETURN(PgConnection * conn, Conn());
  auto result = pg::PrimaryKeyColumns(*conn, relation_id);
  if (!result.ok() && result.status().code() == StatusCode::kUnavailable) conn_.reset();
  return result;
}

Status PgCatalog::LoadTypes(const std::vector<uint32_t>& oids, PgTypeRegistry& types) {
  CDC_ASSIGN_OR_RETURN(PgConnection * conn, Conn());
  Status s = pg::LoadTypes(*conn, oids, types);
  if (s.code() == StatusCode::kUnavailable) conn_.reset();
  return s;
}

Result<std::vector<PgRelation>> ReadRelationShapes(PgConnection& conn,
                                                   const std::vector<uint32_t>& oids) {
  std::vector<PgRelation> out;
  for (uint32_t oid : oids) {
    CDC_ASSIGN_OR_RETURN(
        PgRows rows,
        conn.Query("SELECT n.nspname, c.relname, a.attname, a.atttypid::int8 AS typ, a.atttypmod "
                   "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                   "AND NOT a.attisdropped AND a.attgenerated = '' "
                   "WHERE c.oid = $1::oid ORDER BY a.attnum",
                   {std::to_string(oid)}));
    if (rows.empty()) continue;
    PgRelation rel;
    rel.id = oid;
    rel.schema = rows.Get(0, "nspname").value_or("");
    rel.table = rows.Get(0, "relname").value_or("");
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& name = rows.Get(i, "attname");
      if (!name) continue;  // a table without columns
      PgRelation::Column col;
      col.name = *name;
      col.type_oid = static_cast<uint32_t>(std::stoul(rows.Get(i, "typ").value_or("0")));
      col.type_modifier = std::stoi(rows.Get(i, "atttypmod").value_or("-1"));
      rel.columns.push_back(std::move(col));
    }
    out.push_back(std::move(rel));
  }
  return out;
}

Result<std::string> PgCatalog::FormatType(uint32_t oid, int32_t type_modifier) {
  CDC_ASSIGN_OR_RETURN(PgConnection * conn, Conn());
  auto rows = conn->Query("SELECT format_type($1::oid, $2::int) AS t",
                          {std::to_string(oid), std::to_string(type_modifier)});
  if (!rows.ok()) {
    if (rows.status().code() == StatusCode::kUnavailable) conn_.reset();
    return rows.status();
  }
  return rows->Get(0, "t").value_or("");
}

}  // namespace cdc::pg
