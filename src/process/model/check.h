// The model check: every change is compared with its table's model before anything else touches
// it (redaction at capture runs right after, on the checked row). The rules, also in
// docs/models.md:
//
//   - a column the model has: its value must fit the field's type (see field_type.h), and may
//     only be null when the field is nullable;
//   - a column the model does not have: accepted while its value is null (an added nullable
//     column: a compatible change); with a value it is a violation, since a new column may be
//     NOT NULL (an incompatible change) and holds data no model has classified (it may be PII);
//   - a field the change does not carry: only checked where the image is known to be complete,
//     i.e. `after` of an INSERT, UPDATE or READ captured from PostgreSQL (which sends whole new
//     rows; a column in `unchanged_toast` counts as present). There a missing NOT NULL field is
//     a violation (a removed NOT NULL column), a missing nullable one a compatible change. JSON
//     producers may send partial rows, and `before` images carry what the replica identity
//     gives, so neither is checked for missing fields.
//
// schemaVersion: the model's version, plus one when the change shows a compatible change (an
// added nullable column, a removed nullable one). It depends only on the model and the change,
// so it is the same across restarts and replays.
//
// Violation reasons name the image, the field and what is wrong with the value's kind, never the
// value.
//
// Thread-safety: stateless functions; CheckChange uses a thread-local scratch buffer.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "event/change_event.h"
#include "process/model/model.h"

namespace cdc::model {

struct ModelCheck {
  // OK, or InvalidArgument listing every violation: "model users v1: after.email: null, but the
  // field is not nullable; ...".
  Status status;
  // The event's schemaVersion (0 when no model was checked).
  uint32_t schema_version = 0;
  // The change showed a compatible difference from the model.
  bool compatible_change = false;
};

// Whether `after` carries every column of the table: an INSERT, UPDATE or READ captured from
// PostgreSQL.
bool AfterIsComplete(const ChangeEvent& change);

ModelCheck CheckChange(const Model& model, const ChangeEvent& change);

// A SCHEMA_CHANGE event (its `after` holds the new columns, each with its type as text): its
// schemaVersion is the model's version when the new columns are exactly the model's fields
// with their types, the version plus one otherwise (rows of the new shape are then checked as
// always: compatible ones carry version + 1, incompatible ones are dead-lettered). `status` is
// always OK; `compatible_change` says the shape differs from the model.
ModelCheck CheckSchemaChange(const Model& model, const ChangeEvent& change);

// Removes the columns the model does not have from `row`. For dead letters: a column no model
// classifies might hold PII.
void DropUnknownColumns(const Model& model, Row& row);

}  // namespace cdc::model
