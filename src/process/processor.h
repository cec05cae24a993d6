// Per-table processors (the original's Lambda functions, e.g. processUserChanges): the
// event-type filter, the primary key, and changedFields for updates. Processing is CPU-only.
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

namespace cdc {

class TableProcessor {
 public:
  explicit TableProcessor(const TableConfig& table);

  // Runs the processor. On success the change is moved into the result; on failure it is left
  // untouched and an InvalidArgument error carries the reason the event cannot be published
  // (event type not allowed, primary-key column missing); the caller dead-letters it. Reasons
  // name tables and columns, never values.
  Result<ProcessedEvent> Process(ChangeEvent& change) const;

  // Whether the table publishes this change type. READ (snapshot rows) is always published.
  bool Allows(Op op) const;

  const std::string& function() const { return table_.function; }
  const TableConfig& table() const { return table_; }

 private:
  TableConfig table_;
};

// The sorted names of the columns whose value differs between the two images (a column present
// in only one of them counts as changed).
std::vector<std::string> ChangedFields(const Row& before, const Row& after);

class ProcessorSet {
 public:
  explicit ProcessorSet(const Config& config);

  // nullptr when the table is not configured.
  const TableProcessor* Find(std::string_view schema, std::string_view table) const;
  const TableProcessor* FindByFunction(std::string_view function) const;
  const std::vector<TableProcessor>& all() const { return processors_; }

 private:
  std::vector<TableProcessor> processors_;
};

}  // namespace cdc
