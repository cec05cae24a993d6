// Per-table processors (the original's Lambda functions, e.g. processUserChanges): the model
// check, the event-type filter, the primary key, the table's redaction policy, its transforms,
// and changedFields for updates. The order of operations (docs/transforms.md):
//
//   capture    1. model check of the captured row (reads only; the verdict is kept)
//              2. redaction, when the table redacts at capture
//   processor  3. event-type filter   4. primary key   5. the model verdict: a violation
//              rejects the change     6. redaction, when not done at capture
//              7. transforms, in order   8. changedFields   9. schemaVersion from the model
//
// Redaction always runs before the transforms, so a transform can never copy, rename or
// flatten a value out of the policy's reach, and rules and models name the captured columns.
// Processing is CPU-only; only building a ProcessorSet reads the HMAC keys.
//
// Thread-safety: a built ProcessorSet is immutable; Capture and Process may be called from many
// threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "event/envelope.h"
#include "process/model/check.h"
#include "process/redact/key_ring.h"
#include "process/redact/redactor.h"
#include "process/transform/transform.h"

namespace cdc {

// What has happened to a change before its processor runs: the model verdict, and whether (and
// which columns) it was redacted. Capture fills it; Process completes it.
struct CaptureResult {
  model::ModelCheck model;  // schema_version 0: the table has no model
  bool redacted = false;    // the policy has been applied (at capture, or by Process)
  std::vector<std::string> redacted_columns;  // sorted
};

class TableProcessor {
 public:
  // `redactor` is the table's policy; null when it has none or redaction is disabled. Fails when
  // the table's transforms are invalid (the config loader reports those with file:line).
  static Result<TableProcessor> Create(const TableConfig& table,
                                       std::shared_ptr<const redact::Redactor> redactor = nullptr);
  // As Create, for tables whose transforms are known to be valid (asserts it).
  explicit TableProcessor(const TableConfig& table,
                          std::shared_ptr<const redact::Redactor> redactor = nullptr);

  // The capture stage: checks the change against the table's model, then redacts it when the
  // table redacts at capture. Never fails: a violation is kept in the result and rejects the
  // change in Process, after the event-type filter.
  CaptureResult Capture(ChangeEvent& change) const;

  // Runs the processor. On success the change is moved into the result. On failure an
  // InvalidArgument error carries the reason the event cannot be published (event type not
  // allowed, primary-key column missing, a model violation, a transform that failed); the
  // change stays with the caller, redacted when `captured->redacted` says so (a change rejected
  // by a transform is redacted, and the transforms before the failing one have run), and the
  // caller dead-letters it. Reasons name tables and columns, never values.
  //
  // `captured` is what Capture returned; when null, Capture's model check runs here and the
  // policy is applied whatever `redact_at` says, so a change that skipped capture is never
  // published unredacted. changedFields compares the images as published (redacted and
  // transformed).
  Result<ProcessedEvent> Process(ChangeEvent& change, CaptureResult* captured = nullptr) const;

  // Applies the table's policy to before, after and the key; adds the redacted columns to
  // `redacted`. No-op without a policy.
  void Redact(ChangeEvent& change, std::vector<std::string>& redacted) const;

  // Prepares a rejected change for the dead-letter file: applies the policy unless `redacted`,
  // and removes the columns the table's model does not have (no model classifies them, so they
  // might hold PII).
  void PrepareDeadLetter(ChangeEvent& change, bool redacted) const;

  // The stream partition key of a captured change: the `partition_key` columns (the primary key
  // by default) with their values from `after` (`before` for a DELETE), named as captured.
  // Call it after Capture, so that a hashed key column partitions by its token. Empty for a
  // TRUNCATE. Fails when a column is missing from the image.
  Result<Row> PartitionKey(const ChangeEvent& change) const;

  // Whether the table has a policy in force, and whether it runs at capture.
  bool HasPolicy() const { return redactor_ != nullptr; }
  bool RedactsAtCapture() const { return redactor_ != nullptr && table_.redact_at == "capture"; }
  bool HasModel() const { return table_.model != nullptr; }

  // Whether the table publishes this change type. READ (snapshot rows) is always published.
  bool Allows(Op op) const;

  const std::string& function() const { return table_.function; }
  const TableConfig& table() const { return table_; }
  const transform::Chain& transforms() const { return transforms_; }

 private:
  // A SCHEMA_CHANGE event: published as it is (schemaVersion from the model when there is one),
  // or InvalidArgument (so dead-lettered) with what changed under `schema_changes: dead_letter`.
  Result<ProcessedEvent> ProcessSchemaChange(ChangeEvent& change,
                                             const CaptureResult* captured) const;

  TableProcessor(const TableConfig& table, std::shared_ptr<const redact::Redactor> redactor,
                 transform::Chain transforms);

  TableConfig table_;
  std::shared_ptr<const redact::Redactor> redactor_;
  transform::Chain transforms_;
};

// The sorted names of the columns whose value differs between the two images (a column present
// in only one of them counts as changed).
std::vector<std::string> ChangedFields(const Row& before, const Row& after);

// Checks that one HMAC key can be read and is usable. The error names the key id and the
// variable or file and says how to create a key; it never contains key material.
Status CheckRedactionKey(const RedactionKeyConfig& key);

// Reads the configured HMAC keys. Null (and OK) when redaction is disabled or no key is
// configured.
Result<std::shared_ptr<const redact::KeyRing>> LoadRedactionKeys(const RedactionConfig& config);

class ProcessorSet {
 public:
  // One processor per table, with its redaction policy unless `config.redaction.enabled` is
  // false. Reads the HMAC keys (environment, secret files).
  static Result<ProcessorSet> Build(const Config& config);

  // nullptr when the table is not configured.
  const TableProcessor* Find(std::string_view schema, std::string_view table) const;
  const TableProcessor* FindByFunction(std::string_view function) const;
  const std::vector<TableProcessor>& all() const { return processors_; }

 private:
  std::vector<TableProcessor> processors_;
};

}  // namespace cdc
