#include "runtime/last_images.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "event/change_codec.h"
#include "event/event_json.h"

namespace cdc {
namespace {

std::string KeyText(const Row& key) {
  std::string out;
  JsonWriter w(out);
  WriteRow(w, key);
  return out;
}

std::string EncodeImage(const Row& row) {
  ChangeEvent holder;
  holder.after = row;
  std::string out;
  EncodeChange(holder, out);
  return out;
}

// The key a row image is stored under: the change's key, else the key columns of `image`.
std::string KeyOf(const ChangeEvent& change) {
  return change.key.empty() ? std::string() : KeyText(change.key);
}

}  // namespace

Result<std::optional<Row>> LastImages::Lookup(const std::string& table, const std::string& key) {
  std::optional<std::string> image;
  auto t = pending_.find(table);
  bool decided = false;
  if (t != pending_.end()) {
    auto k = t->second.keys.find(key);
    if (k != t->second.keys.end()) {
      image = k->second;
      decided = true;
    } else if (t->second.cleared) {
      decided = true;
    }
  }
  if (!decided) {
    CDC_ASSIGN_OR_RETURN(image, store_->Get(table, key));
  }
  if (!image) return std::optional<Row>();
  auto decoded = DecodeChange(*image);
  if (!decoded.ok() || !decoded->after) {
    return Corruption("a last row image of " + table + " in the state store is damaged: " +
                      (decoded.ok() ? std::string("no row") : decoded.status().message()));
  }
  return std::optional<Row>(std::move(*decoded->after));
}

void LastImages::Record(const std::string& table, const std::string& key,
                        std::optional<std::string> image) {
  pending_bytes_ += table.size() + key.size() + (image ? image->size() : 0);
  pending_[table].keys.insert_or_assign(key, std::move(image));
}

Status LastImages::Apply(ChangeEvent& change) {
  std::string table = change.QualifiedName();
  if (change.op == Op::kTruncate) {
    TablePending& t = pending_[table];
    t.cleared = true;
    t.keys.clear();
    return Status::Ok();
  }
  if (change.op != Op::kInsert && change.op != Op::kUpdate && change.op != Op::kRead &&
      change.op != Op::kDelete) {
    return Status::Ok();
  }
  std::string key = KeyOf(change);
  if (key.empty()) return Status::Ok();  // no key: nothing to file it under
  if (change.op == Op::kDelete) {
    Record(table, key, std::nullopt);
    return Status::Ok();
  }
  // An UPDATE that changed the key leaves the old key's image behind.
  if (change.op == Op::kUpdate && change.before) {
    Row old_key;
    for (const Column& c : change.key.columns()) {
      if (const Value* v = change.before->Find(c.name)) old_key.Add(c.name, *v);
    }
    if (old_key.size() == change.key.size()) {
      std::string old = KeyText(old_key);
      if (old != key) Record(table, old, std::nullopt);
    }
  }
  if (!change.after) return Status::Ok();
  if (change.op == Op::kUpdate && !change.unchanged_toast.empty()) {
    CDC_ASSIGN_OR_RETURN(std::optional<Row> last, Lookup(table, key));
    std::vector<std::string> still;
    Row filled;
    if (last) {
      // Table order, as the image has it; a column the image lacks stays marked.
      for (Column& c : last->columns()) {
        if (Value* now = change.after->Find(c.name)) {
          filled.Add(c.name, std::move(*now));
        } else if (std::find(change.unchanged_toast.begin(), change.unchanged_toast.end(),
                             c.name) != change.unchanged_toast.end()) {
          filled.Add(c.name, std::move(c.value));
          filled_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      for (Column& c : change.after->columns()) {
        if (filled.Find(c.name) == nullptr) filled.Add(c.name, std::move(c.value));
      }
      for (const auto& name : change.unchanged_toast) {
        if (filled.Find(name) == nullptr) still.push_back(name);
      }
      change.after = std::move(filled);
    } else {
      still = change.unchanged_toast;
    }
    missed_.fetch_add(still.size(), std::memory_order_relaxed);
    change.unchanged_toast = std::move(still);
  }
  Record(table, key, EncodeImage(*change.after));
  return Status::Ok();
}

Status LastImages::Commit() {
  if (pending_.empty()) return Status::Ok();
  std::vector<std::string> cleared;
  std::vector<state::LastImageStore::Write> writes;
  for (auto& [table, t] : pending_) {
    if (t.cleared) cleared.push_back(table);
    for (auto& [key, image] : t.keys) writes.push_back({table, key, std::move(image)});
  }
  pending_.clear();
  pending_bytes_ = 0;
  return store_->Apply(cleared, writes);
}

}  // namespace cdc
