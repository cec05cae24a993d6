// Redactor: applies a table's redaction policy to row images, so PII never leaves the pipeline
// (or, when it runs at capture, never reaches the durable stream). Each configured column gets a
// whole-value rule (remove, null, mask, hash, truncate, generalize; see rule.h) and/or detectors
// that find PII inside its free text (see detect.h). The names of the redacted columns go into
// the output event's `detail.redacted`.
//
// Detectors scan text values, the string values of JSON values (keys and numbers are left alone,
// so the JSON stays valid) and the text and JSON elements of arrays. Each piece found is replaced
// by "[REDACTED:<detector>]"; when the column's rule is `hash`, by the piece's HMAC token instead
// (cards, SSNs and phone numbers are hashed as their digits only, so the same number joins
// whatever its formatting); when the rule is `mask`, by the masked piece.
//
// A column is listed as redacted when its whole-value rule applied (the column was in the row,
// also when its value was null, so the list follows the policy, not the data), or when a
// detector found something in it. Unchanged-TOAST markers are left alone: there is no value.
//
// Redaction never fails and never logs: a value a rule cannot handle is replaced by null (see
// GeneralizeValue), a JSON value the detectors cannot follow by the JSON string
// "[REDACTED:json]". Build errors name the table, the column and the rule, never a value.
//
// Thread-safety: a built Redactor is immutable; Apply may be called from many threads at once.
// Apply is CPU-only (no I/O, no locks) and allocates only for the values it rewrites.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "event/change_event.h"
#include "event/value.h"
#include "process/redact/key_ring.h"
#include "process/redact/rule.h"

namespace cdc::redact {

struct ColumnRule {
  std::string column;
  Rule rule;           // kKeep when the column only has detectors
  DetectorSet detect;  // may be combined with kKeep, kHash or kMask only
};

// A column rule from configuration strings: the rule text ("hash", "mask:last4", ...; empty for
// detectors only) and detector names. Errors are prefixed with "column '<name>': ".
Result<ColumnRule> ParseColumnRule(std::string column, std::string_view rule,
                                   const std::vector<std::string>& detect = {});

struct TablePolicy {
  std::string table;  // for error messages
  std::vector<ColumnRule> columns;
};

// `text` with every piece of PII the detectors find replaced by "[REDACTED:<detector>]". For
// text without columns to attach a policy to, such as a malformed input line kept in the
// dead-letter file. The replacements contain no quotes or backslashes, so JSON stays JSON.
std::string RedactFreeText(std::string_view text, DetectorSet detectors = DetectorSet::All());

class Redactor {
 public:
  // Checks the policy: every column named once, every column has a rule or detectors, detectors
  // combined only with keep/hash/mask, and keys present when any column hashes. `keys` may be
  // null when nothing hashes.
  static Result<Redactor> Build(const TablePolicy& policy, std::shared_ptr<const KeyRing> keys);

  // Redacts `row` in place and adds the names of the redacted columns to `redacted`, which is
  // kept sorted and without duplicates (so before and after images can share one list).
  void Apply(Row& row, std::vector<std::string>& redacted) const;

  // Redacts the before and after images and the key of `change` (a hashed key column stays a
  // stable partition key; a removed one leaves the key).
  void Apply(ChangeEvent& change, std::vector<std::string>& redacted) const;

  const TablePolicy& policy() const { return policy_; }

 private:
  Redactor(TablePolicy policy, std::shared_ptr<const KeyRing> keys)
      : policy_(std::move(policy)), keys_(std::move(keys)) {}

  // The rule of a column, or nullptr.
  const ColumnRule* RuleFor(std::string_view column) const;
  // Apply(row) without removing the columns whose rule is `remove` (returns whether there are
  // any), and a column i with twins[i] >= 0 takes the (already redacted) value of column
  // twins[i] of `redacted_twin`; `twins` may be null.
  bool ApplyRow(Row& row, std::vector<std::string>& redacted, const Row* redacted_twin,
                const int32_t* twins) const;
  // Removes the columns whose rule is `remove`.
  void EraseRemoved(Row& row) const;
  // Applies a whole-value rule in place; returns whether the column counts as redacted.
  bool RedactValue(const ColumnRule& rule, Value& value) const;
  // Sets `out` to `value` with the detected PII replaced; false (and `out` untouched) when the
  // detectors found nothing.
  bool DetectInValue(const ColumnRule& rule, const Value& value, Value& out) const;

  TablePolicy policy_;
  std::shared_ptr<const KeyRing> keys_;
  uint64_t name_lengths_ = 0;  // bit min(n, 63) set when a rule's column name has n bytes
};

}  // namespace cdc::redact
