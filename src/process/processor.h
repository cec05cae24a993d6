// Per-table processors (the original's Lambda functions, e.g. processUserChanges): the
// event-type filter, the primary key, the table's redaction policy, and changedFields for
// updates. Processing is CPU-only; only building a ProcessorSet reads the HMAC keys.
//
// Thread-safety: a built ProcessorSet is immutable; Process may be called from many threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "event/envelope.h"
#include "process/redact/key_ring.h"
#include "process/redact/redactor.h"

namespace cdc {

class TableProcessor {
 public:
  // `redactor` is the table's policy; null when it has none or redaction is disabled.
  explicit TableProcessor(const TableConfig& table,
                          std::shared_ptr<const redact::Redactor> redactor = nullptr);

  // Runs the processor. On success the change is moved into the result; on failure it is left
  // untouched and an InvalidArgument error carries the reason the event cannot be published
  // (event type not allowed, primary-key column missing); the caller dead-letters it. Reasons
  // name tables and columns, never values.
  //
  // `redacted_at_capture` is the list Redact produced when the caller redacted the change at
  // capture; when it is null, the policy is applied here, whatever `redact_at` says, so a change
  // that skipped capture is never published unredacted. changedFields compares the redacted
  // images, i.e. what consumers see.
  Result<ProcessedEvent> Process(
      ChangeEvent& change, const std::vector<std::string>* redacted_at_capture = nullptr) const;

  // Applies the table's policy to before, after and the key; adds the redacted columns to
  // `redacted`. No-op without a policy.
  void Redact(ChangeEvent& change, std::vector<std::string>& redacted) const;

  // Whether the table has a policy in force, and whether it runs at capture.
  bool HasPolicy() const { return redactor_ != nullptr; }
  bool RedactsAtCapture() const { return redactor_ != nullptr && table_.redact_at == "capture"; }

  // Whether the table publishes this change type. READ (snapshot rows) is always published.
  bool Allows(Op op) const;

  const std::string& function() const { return table_.function; }
  const TableConfig& table() const { return table_; }

 private:
  TableConfig table_;
  std::shared_ptr<const redact::Redactor> redactor_;
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
