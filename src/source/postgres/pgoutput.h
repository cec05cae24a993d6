// Decoding of the logical replication stream: the CopyBoth frames of the walsender (XLogData 'w',
// primary keepalive 'k'), the standby status update we send back ('r'), and the messages of the
// `pgoutput` plugin, protocol version 1 (Begin, Commit, Relation, Type, Insert, Update, Delete,
// Truncate, Origin, Message) and version 2's streamed in-progress transactions (Stream Start,
// Stream Stop, Stream Commit, Stream Abort), into ChangeEvents.
//
// Changes of a committed transaction are passed on as they arrive, never buffered per
// transaction: Begin carries the transaction's final (commit) LSN, so every change's position
// {commit LSN, xid, seq} is known when it is decoded and a transaction of any size needs constant
// memory. A transaction PostgreSQL streams while it is still in progress (protocol 2, when it
// outgrows the server's logical_decoding_work_mem) has its messages spilled as they came (without
// the transaction id, with their subtransaction) to an unnamed file (TxnSpill); Stream Abort
// discards it (or a rolled-back savepoint's part), Stream Commit decodes it as Begin, changes and
// Commit exactly as protocol 1 would have sent it at its commit (its Relation messages
// included), a bounded batch at a time (DrainReplay). So the consumer sees the same messages in
// either protocol and memory stays constant.
//
// Thread-safety: PgOutputDecoder is single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/position.h"
#include "base/status.h"
#include "base/time.h"
#include "event/change_event.h"
#include "source/postgres/pg_types.h"
#include "source/postgres/txn_spill.h"

namespace cdc::pg {

// ---- CopyBoth frames ----

// 'w': a chunk of WAL data, here one pgoutput message.
struct XLogDataFrame {
  Lsn wal_start;
  Lsn wal_end;  // the server's current end of WAL
  Timestamp send_time;
  std::string_view payload;  // points into the frame
};

// 'k': the server's keepalive.
struct KeepaliveFrame {
  Lsn wal_end;
  Timestamp send_time;
  bool reply_requested = false;
};

using CopyFrame = std::variant<XLogDataFrame, KeepaliveFrame>;

// Parses one CopyData message from the server. Corruption if malformed or of an unknown type.
Result<CopyFrame> ParseCopyFrame(std::string_view data);

// 'r': the standby status update (write, flush and apply LSNs; `now` as the client clock).
std::string EncodeStandbyStatus(Lsn write, Lsn flush, Lsn apply, Timestamp now,
                                bool reply_requested);

// ---- Decoded messages ----

struct PgBegin {
  Lsn final_lsn;  // the commit LSN of the transaction
  Timestamp commit_time;
  TxId xid;
};

struct PgCommit {
  Lsn commit_lsn;
  Lsn end_lsn;  // the end of the commit record: acknowledge this once the transaction is durable
  Timestamp commit_time;
  TxId xid;
  uint32_t changes = 0;  // how many ChangeEvents the transaction yielded
};

// A pg_logical_emit_message() message (pgoutput sends them only with the `messages` option,
// PostgreSQL 14 and later). A transactional one arrives inside its transaction (between PgBegin
// and PgCommit), a non-transactional one on its own, at its place in the WAL.
struct PgLogicalMessage {
  Lsn lsn;  // the message's own WAL record (what pg_logical_emit_message returned)
  bool transactional = false;
  std::string prefix;
  std::string content;
};

struct PgKeepalive {
  Lsn wal_end;
  bool reply_requested = false;
};

// What the stream yields: a transaction is PgBegin, its ChangeEvents (positions filled, seq
// 0..n-1) and transactional PgLogicalMessages, then PgCommit. Keepalives and non-transactional
// messages arrive between transactions.
using PgMessage = std::variant<PgBegin, ChangeEvent, PgCommit, PgKeepalive, PgLogicalMessage>;

// Catalog lookups the decoder needs beyond what pgoutput sends. Implemented over a normal SQL
// connection (see catalog.h); the decoder works without one, with reduced fidelity (user-defined
// types as Text, replica-identity columns as the key).
class PgCatalogReader {
 public:
  virtual ~PgCatalogReader() = default;
  // Primary-key column names of the relation, in key order; empty if it has none.
  virtual Result<std::vector<std::string>> PrimaryKeyColumns(uint32_t relation_id) = 0;
  // Adds the types (and, recursively, their element and base types) to `types`.
  virtual Status LoadTypes(const std::vector<uint32_t>& oids, PgTypeRegistry& types) = 0;
  // format_type(oid, typmod): "integer", "character varying(20)"; for schema-change events.
  virtual Result<std::string> FormatType(uint32_t oid, int32_t type_modifier) = 0;
};

// One relation as the last Relation message described it.
struct PgRelation {
  struct Column {
    std::string name;
    uint32_t type_oid = 0;
    int32_t type_modifier = -1;
    bool replica_identity = false;  // part of the replica identity (flag 1)
  };
  uint32_t id = 0;
  std::string schema;
  std::string table;
  char replica_identity = 'd';  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<Column> columns;
  std::vector<size_t> key_columns;  // indexes into columns: the primary key (or identity)
  uint32_t schema_version = 1;      // bumped when a Relation message changes the columns
};

// The shapes of the relations a decoder knows (id, schema, table, columns, schema_version), as
// the source keeps them in its data dir so that a column change made while it was stopped is
// still noticed at the first Relation message after the start. Corruption names what is wrong.
std::string EncodeRelationShapes(const std::vector<const PgRelation*>& relations);
Result<std::vector<PgRelation>> DecodeRelationShapes(std::string_view data);

class PgOutputDecoder {
 public:
  // `types` must outlive the decoder; `catalog` may be null and must outlive it otherwise.
  PgOutputDecoder(PgTypeRegistry& types, PgCatalogReader* catalog);

  // Decodes one pgoutput message (the payload of an XLogData frame), appending what it yields
  // (Relation, Type and Origin yield nothing). Corruption for malformed messages;
  // InvalidArgument naming table, column and type (never the value) when a value cannot be
  // decoded.
  Status Decode(std::string_view message, std::vector<PgMessage>& out);

  // Accept streamed in-progress transactions (protocol 2), spilling them to unnamed files in
  // `spill_dir`. Without it, Stream messages are Corruption.
  void EnableStreaming(std::string spill_dir) { spill_dir_ = std::move(spill_dir); }

  // A committed streamed transaction is being replayed: call DrainReplay before Decode.
  bool replaying() const { return replay_ != nullptr; }
  // Appends up to `max` messages of the transaction being replayed (its Commit last).
  Status DrainReplay(std::vector<PgMessage>& out, size_t max);

  bool in_transaction() const { return in_transaction_; }
  // Streamed transactions seen (committed and replayed, aborted) and in progress now.
  uint64_t streamed_committed() const { return streamed_committed_; }
  uint64_t streamed_aborted() const { return streamed_aborted_; }
  size_t streamed_in_progress() const { return streamed_.size(); }
  // The relation with this id, or nullptr if no Relation message described it yet.
  const PgRelation* FindRelation(uint32_t id) const;
  // How many Relation messages were decoded: the source compares the publication with its
  // configured tables when this grows (a table new to the stream, or changed).
  uint64_t relations_described() const { return relations_described_; }

  // Schema changes. A Relation message whose columns differ from what the decoder knows of the
  // relation (from earlier Relation messages, or seeded from what an earlier connection knew)
  // yields a ChangeEvent with Op::kSchemaChange at its place in the transaction, the relation's
  // schema_version one higher. Seed before the first message.
  void SeedRelations(std::vector<PgRelation> relations);
  // Everything known (what Relation messages said, else what was seeded); committed shapes only.
  std::vector<const PgRelation*> KnownRelations() const;
  // Grows when KnownRelations() changed (a relation first described or its columns changed).
  uint64_t shapes_version() const { return shapes_version_; }

 private:
  Status DecodeBegin(std::string_view body, std::vector<PgMessage>& out);
  Status DecodeCommit(std::string_view body, std::vector<PgMessage>& out);
  Status DecodeRelation(std::string_view body, std::vector<PgMessage>& out);
  std::string TypeText(uint32_t oid, int32_t type_modifier);
  Row ColumnsRow(const PgRelation& rel);
  Status DecodeChange(char type, std::string_view body, std::vector<PgMessage>& out);
  Status DecodeTruncate(std::string_view body, std::vector<PgMessage>& out);
  Status DecodeMessage(std::string_view body, std::vector<PgMessage>& out);
  Status DecodeStreamStart(std::string_view body);
  Status DecodeStreamCommit(std::string_view body, std::vector<PgMessage>& out);
  Status DecodeStreamAbort(std::string_view body);
  ChangeEvent NewEvent(const PgRelation& rel, Op op);
  const PgRelation* Lookup(uint32_t relid) const;
  // Passes a decoded change on.
  Status Emit(ChangeEvent e, std::vector<PgMessage>& out);

  // A transaction streamed before its commit: its messages, as they came.
  struct StreamedTxn {
    std::unique_ptr<TxnSpill> spill;
  };

  PgTypeRegistry& types_;
  PgCatalogReader* catalog_;
  std::unordered_map<uint32_t, PgRelation> relations_;
  std::unordered_map<uint32_t, PgRelation> seeded_;
  std::map<std::pair<uint32_t, int32_t>, std::string> type_texts_;
  uint64_t relations_described_ = 0;
  uint64_t shapes_version_ = 0;
  bool in_transaction_ = false;
  PgBegin begin_;
  uint32_t seq_ = 0;

  std::string spill_dir_;  // empty: streaming not enabled
  std::unordered_map<uint32_t, StreamedTxn> streamed_;
  bool in_stream_ = false;
  uint32_t stream_xid_ = 0;     // the top-level transaction of the open stream block
  uint32_t stream_subxid_ = 0;  // the (sub)transaction of the message being decoded
  std::unique_ptr<StreamedTxn> replay_;
  PgCommit replay_commit_;
  TxnSpill::Record record_;
  uint64_t streamed_committed_ = 0;
  uint64_t streamed_aborted_ = 0;
};

}  // namespace cdc::pg
