// LastImages: the last row image of every key of the tables with `unchanged_toast: last_image`,
// and the filling of an UPDATE's unchanged TOAST columns from it (docs/architecture.md,
// "Unchanged TOAST values").
//
// Every captured INSERT, UPDATE and READ of such a table records its `after` (as captured:
// after the model check and capture redaction, unchanged TOAST columns filled) under its table
// and key; a DELETE erases the key, a TRUNCATE the table. An UPDATE whose `unchanged_toast` names
// columns gets them back from the key's image, in table order, and they leave `unchanged_toast`;
// a key without an image keeps them named there (never null, never empty).
//
// Records are pending in memory until Commit writes them to the state store's LastImageStore in
// one transaction. Pipeline::MakeDurable commits after the stream is synced (and before the
// source acknowledges upstream), so the stored images never run ahead of what the stream holds:
// after a crash the source resends from its acknowledged position, and the changes it resends
// that the stream already has are duplicates (their fills do not matter), while the rest are
// filled from images of exactly the changes before them. Lookups see pending records first.
//
// Thread-safety: one thread (the source's).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "event/change_event.h"
#include "state/state_store.h"

namespace cdc {

class LastImages {
 public:
  explicit LastImages(std::unique_ptr<state::LastImageStore> store) : store_(std::move(store)) {}

  // Fills `change`'s unchanged TOAST columns from its key's last image (UPDATE only), then
  // records what the change leaves as the key's image.
  Status Apply(ChangeEvent& change);
  // Writes the pending records (one transaction).
  Status Commit();

  // Bytes of the pending records: the caller makes things durable (and so commits) past a bound.
  size_t pending_bytes() const { return pending_bytes_; }
  // Columns filled, and columns left marked (no image of the key); read from any thread.
  uint64_t filled() const { return filled_.load(std::memory_order_relaxed); }
  uint64_t missed() const { return missed_.load(std::memory_order_relaxed); }

 private:
  struct TablePending {
    bool cleared = false;  // TRUNCATE since the last commit: older images are gone
    std::unordered_map<std::string, std::optional<std::string>> keys;  // nullopt: erased
  };
  Result<std::optional<Row>> Lookup(const std::string& table, const std::string& key);
  void Record(const std::string& table, const std::string& key, std::optional<std::string> image);

  std::unique_ptr<state::LastImageStore> store_;
  std::unordered_map<std::string, TablePending> pending_;
  size_t pending_bytes_ = 0;
  std::atomic<uint64_t> filled_{0};
  std::atomic<uint64_t> missed_{0};
};

}  // namespace cdc
