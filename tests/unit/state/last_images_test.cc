// LastImages (src/runtime/last_images.h): unchanged TOAST columns filled from the key's last row
// image, in table order; images follow inserts, updates, key changes, deletes and truncates;
// pending images are seen before they are committed; a key without an image stays marked.
#include "runtime/last_images.h"

#include <gtest/gtest.h>

#include <map>

#include "event/event_json.h"

namespace cdc {
namespace {

// An in-memory LastImageStore that counts what reached it.
class MemoryImages final : public state::LastImageStore {
 public:
  explicit MemoryImages(std::map<std::string, std::string>& data) : data_(data) {}
  Result<std::optional<std::string>> Get(const std::string& table,
                                         const std::string& key) override {
    auto it = data_.find(table + "|" + key);
    if (it == data_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Apply(const std::vector<std::string>& cleared, const std::vector<Write>& writes) override {
    for (const auto& t : cleared) {
      std::erase_if(data_, [&](const auto& kv) { return kv.first.starts_with(t + "|"); });
    }
    for (const auto& w : writes) {
      if (w.image) {
        data_[w.table + "|" + w.key] = *w.image;
      } else {
        data_.erase(w.table + "|" + w.key);
      }
    }
    return Status::Ok();
  }

 private:
  std::map<std::string, std::string>& data_;
};

ChangeEvent Change(Op op, int id, Row after, std::vector<std::string> unchanged = {}) {
  ChangeEvent c;
  c.table = "docs";
  c.op = op;
  c.key = Row({{"id", Value::Int64(id)}});
  c.after = std::move(after);
  c.unchanged_toast = std::move(unchanged);
  return c;
}

std::string Json(const Row& row) {
  std::string out;
  JsonWriter w(out);
  WriteRow(w, row);
  return out;
}

TEST(LastImages, FillsUnchangedColumnsInTableOrderFromPendingAndCommittedImages) {
  std::map<std::string, std::string> data;
  LastImages images(std::make_unique<MemoryImages>(data));
  ChangeEvent insert = Change(Op::kInsert, 1,
                              Row({{"id", Value::Int64(1)},
                                   {"body", Value::Text("long text")},
                                   {"n", Value::Int64(1)},
                                   {"blob", Value::Text("other long")}}));
  ASSERT_TRUE(images.Apply(insert).ok());
  EXPECT_GT(images.pending_bytes(), 0u);
  EXPECT_TRUE(data.empty()) << "nothing is written before Commit";
  // PostgreSQL left body and blob out of the UPDATE.
  ChangeEvent update = Change(
      Op::kUpdate, 1, Row({{"id", Value::Int64(1)}, {"n", Value::Int64(2)}}), {"body", "blob"});
  ASSERT_TRUE(images.Apply(update).ok());
  EXPECT_EQ(Json(*update.after), R"({"id":1,"body":"long text","n":2,"blob":"other long"})");
  EXPECT_TRUE(update.unchanged_toast.empty());
  EXPECT_EQ(images.filled(), 2u);
  ASSERT_TRUE(images.Commit().ok());
  EXPECT_EQ(data.size(), 1u);
  EXPECT_EQ(images.pending_bytes(), 0u);
  // From the store, after the commit: the image the update left.
  ChangeEvent again = Change(
      Op::kUpdate, 1,
      Row({{"id", Value::Int64(1)}, {"body", Value::Text("new text")}, {"n", Value::Int64(3)}}),
      {"blob"});
  ASSERT_TRUE(images.Apply(again).ok());
  EXPECT_EQ(Json(*again.after), R"({"id":1,"body":"new text","n":3,"blob":"other long"})");
}

TEST(LastImages, AKeyWithoutAnImageStaysMarked) {
  std::map<std::string, std::string> data;
  LastImages images(std::make_unique<MemoryImages>(data));
  ChangeEvent update =
      Change(Op::kUpdate, 9, Row({{"id", Value::Int64(9)}, {"n", Value::Int64(2)}}), {"body"});
  ASSERT_TRUE(images.Apply(update).ok());
  EXPECT_EQ(update.unchanged_toast, std::vector<std::string>{"body"});
  EXPECT_EQ(Json(*update.after), R"({"id":9,"n":2})");
  EXPECT_EQ(images.missed(), 1u);
  // Its image now lacks body: the next update of the same column is still marked, never null.
  ChangeEvent next =
      Change(Op::kUpdate, 9, Row({{"id", Value::Int64(9)}, {"n", Value::Int64(3)}}), {"body"});
  ASSERT_TRUE(images.Apply(next).ok());
  EXPECT_EQ(next.unchanged_toast, std::vector<std::string>{"body"});
  EXPECT_EQ(next.after->Find("body"), nullptr);
}

TEST(LastImages, DeletesTruncatesAndKeyChangesForgetImages) {
  std::map<std::string, std::string> data;
  LastImages images(std::make_unique<MemoryImages>(data));
  auto row = [](int id) {
    return Row({{"id", Value::Int64(id)}, {"body", Value::Text("b" + std::to_string(id))}});
  };
  for (int id : {1, 2, 3}) {
    ChangeEvent c = Change(Op::kRead, id, row(id));
    ASSERT_TRUE(images.Apply(c).ok());
  }
  ASSERT_TRUE(images.Commit().ok());
  EXPECT_EQ(data.size(), 3u);
  ChangeEvent del = Change(Op::kDelete, 1, Row());
  del.after.reset();
  ASSERT_TRUE(images.Apply(del).ok());
  // id 2 becomes id 20: the image moves with the new key.
  ChangeEvent rekey = Change(Op::kUpdate, 20, Row({{"id", Value::Int64(20)}}), {"body"});
  rekey.before = Row({{"id", Value::Int64(2)}});
  ASSERT_TRUE(images.Apply(rekey).ok());
  EXPECT_EQ(Json(*rekey.after), R"({"id":20})") << "the new key has no image of its own yet";
  ASSERT_TRUE(images.Commit().ok());
  EXPECT_EQ(data.count("docs|{\"id\":1}"), 0u);
  EXPECT_EQ(data.count("docs|{\"id\":2}"), 0u);
  EXPECT_EQ(data.count("docs|{\"id\":20}"), 1u);
  ChangeEvent truncate;
  truncate.table = "docs";
  truncate.op = Op::kTruncate;
  ASSERT_TRUE(images.Apply(truncate).ok());
  ChangeEvent after_truncate = Change(Op::kUpdate, 3, Row({{"id", Value::Int64(3)}}), {"body"});
  ASSERT_TRUE(images.Apply(after_truncate).ok());
  EXPECT_EQ(after_truncate.unchanged_toast, std::vector<std::string>{"body"})
      << "a truncated table's images are gone before the commit too";
  ASSERT_TRUE(images.Commit().ok());
  EXPECT_EQ(data.size(), 1u);  // only the image the last update left
}

}  // namespace
}  // namespace cdc
