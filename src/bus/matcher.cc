// The compiled matcher. All sub-rules of all rules share one index per field path: exact values
// in hash tables, prefixes and suffixes in byte tries, the other operators in short per-path
// lists. Matching an event:
//   1. flattens it once (simdjson On-Demand), descending only into keys that lead to a path some
//      rule uses, so unused parts of the event (a 700-byte geometry) are skipped, not decoded;
//   2. offers each value to its path's index, which names the conditions the value satisfies;
//   3. counts satisfied conditions per sub-rule: a sub-rule matches when all of its conditions
//      are satisfied. The work is proportional to the conditions hit, not to the rule count.
// Sub-rules whose values come from arrays of objects are then checked for array consistency:
// two fields must not come from different elements of the same array (Event Ruler's
// rulesForJSONEvent semantics, which EventBridge uses).

#include "bus/matcher.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>

#include "bus/pattern.h"

namespace cdc {
namespace {

using bus_internal::FieldCondition;
using bus_internal::ParsePattern;
using bus_internal::Predicate;
using bus_internal::PredicateKind;
using bus_internal::Scalar;
using bus_internal::ScalarKind;
using bus_internal::SubRule;

namespace od = simdjson::ondemand;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

using CondList = std::vector<uint32_t>;

// A byte trie over pattern strings; walking a value visits every stored key that is a prefix of
// it (or, for suffix tries built over reversed keys, a suffix).
class ByteTrie {
 public:
  bool empty() const { return nodes_.size() == 1 && nodes_[0].conds.empty(); }

  void Insert(std::string_view key, bool reversed, uint32_t cond) {
    uint32_t n = 0;
    for (size_t i = 0; i < key.size(); ++i) {
      uint8_t b = static_cast<uint8_t>(reversed ? key[key.size() - 1 - i] : key[i]);
      auto& next = nodes_[n].next;
      auto it = std::lower_bound(next.begin(), next.end(), b,
                                 [](const auto& e, uint8_t x) { return e.first < x; });
      if (it != next.end() && it->first == b) {
        n = it->second;
      } else {
        uint32_t child = static_cast<uint32_t>(nodes_.size());
        next.insert(it, {b, child});
        nodes_.emplace_back();
        n = child;
      }
    }
    nodes_[n].conds.push_back(cond);
  }

  template <typename F>
  void Walk(std::string_view value, bool reversed, F&& on_conds) const {
    uint32_t n = 0;
    for (size_t i = 0;; ++i) {
      if (!nodes_[n].conds.empty()) on_conds(nodes_[n].conds);
      if (i == value.size()) return;
      uint8_t b = static_cast<uint8_t>(reversed ? value[value.size() - 1 - i] : value[i]);
      const auto& next = nodes_[n].next;
      auto it = std::lower_bound(next.begin(), next.end(), b,
                                 [](const auto& e, uint8_t x) { return e.first < x; });
      if (it == next.end() || it->first != b) return;
      n = it->second;
    }
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> next;  // sorted by byte
    CondList conds;
  };
  std::vector<Node> nodes_{1};
};

// Everything the rules ask about one field path.
struct PathIndex {
  StringMap<CondList> exact_strings;
  std::unordered_map<double, CondList> exact_numbers;
  StringMap<CondList> exact_big_integers;
  CondList exact_true, exact_false, exact_null;
  ByteTrie prefixes, suffixes, prefixes_ci, suffixes_ci;
  StringMap<CondList> equals_ci;
  bool needs_fold = false;
  // Numeric ranges, kept contiguous: a scan over them touches a few cache lines.
  struct Range {
    double lo, hi;
    bool lo_open, hi_open;
    uint32_t cond;
  };
  std::vector<Range> ranges;
  // anything-but over exact values: every such condition is hit by a value unless the value is
  // one it excludes, so a value costs one lookup plus a pass over this field's conditions.
  CondList anything_but;
  StringMap<CondList> anything_but_strings;
  std::unordered_map<double, CondList> anything_but_numbers;
  StringMap<CondList> anything_but_big_integers;
  // Predicates checked one by one: wildcard, cidr, other anything-buts.
  std::vector<std::pair<uint32_t, uint32_t>> scans;  // (condition, predicate index)
  CondList exists;                                   // satisfied by any value
  CondList absent;                                   // satisfied when the field has no value
};

struct Condition {
  uint32_t sub_rule;
  uint32_t path;
  std::vector<Predicate> predicates;
};

struct CompiledSubRule {
  uint32_t rule;
  uint32_t first_condition;
  uint32_t condition_count;
};

// The tree of path segments the rules use; the flattener only descends along it.
struct PathNode {
  StringMap<uint32_t> children;
  // The same children as a list: most nodes have a handful, and comparing a few short keys is
  // cheaper than hashing every key of the event.
  std::vector<std::pair<std::string, uint32_t>> child_list;
  int32_t path = -1;

  const uint32_t* Find(std::string_view key) const {
    if (child_list.size() <= 8) {
      for (const auto& [name, child] : child_list) {
        if (name == key) return &child;
      }
      return nullptr;
    }
    auto it = children.find(key);
    return it == children.end() ? nullptr : &it->second;
  }
};

struct FlatValue {
  Scalar scalar;
  uint32_t membership_begin = 0;
  uint32_t membership_count = 0;
};

// An object or array of a visited event being read (see EventFlattener).
struct VisitFrame {
  const PathNode* node;  // nullptr: nothing below is used
  bool array;
  uint32_t index;  // the next element's, in an array
};

Status TooDeep() {
  return InvalidArgument("the event nests objects and arrays more than " +
                         std::to_string(kMaxEventDepth) +
                         " levels deep along a path a rule reads; such an event cannot be matched");
}

// Per-thread working memory, reused across events and across matchers. Everything indexed by
// condition or sub-rule uses generation stamps, so nothing needs clearing between events.
struct Scratch {
  od::parser parser;
  std::string buffer;
  std::vector<std::vector<FlatValue>> values;  // per path
  std::vector<uint8_t> path_in_array;          // per path: some value came from an array
  std::vector<uint32_t> touched_paths;
  std::vector<std::pair<uint32_t, uint32_t>> memberships;  // (array id, element index)
  std::vector<std::pair<uint32_t, uint32_t>> array_stack;
  uint32_t next_array_id = 0;
  bool too_deep = false;  // a value was nested deeper than kMaxEventDepth
  std::vector<uint32_t> condition_stamp;
  std::vector<uint32_t> sub_rule_stamp;
  std::vector<uint32_t> sub_rule_count;
  std::vector<uint32_t> rule_stamp;
  std::vector<uint32_t> candidates;
  uint32_t generation = 0;
  std::string folded;
  std::string big_digits;
  // Matching a visited event: the texts of recorded values are copied here (what the visitor
  // passes lives only during the call); `fragment` holds a raw JSON value being parsed.
  bool own_texts = false;
  std::string fragment;
  std::vector<VisitFrame> frames;
  // Blocks of bytes the owned texts are copied into, kept across events.
  static constexpr size_t kBlockBytes = 4096;
  std::vector<std::unique_ptr<char[]>> blocks;
  std::vector<std::unique_ptr<char[]>> large;  // texts longer than a block, freed per event
  size_t block = 0;                            // the block being filled
  size_t used = 0;                             // bytes used in it

  std::string_view Own(std::string_view text) {
    if (text.size() > kBlockBytes) {
      large.push_back(std::make_unique<char[]>(text.size()));
      std::memcpy(large.back().get(), text.data(), text.size());
      return std::string_view(large.back().get(), text.size());
    }
    if (blocks.empty() || used + text.size() > kBlockBytes) {
      if (!blocks.empty()) ++block;
      if (block == blocks.size()) blocks.push_back(std::make_unique<char[]>(kBlockBytes));
      used = 0;
    }
    char* at = blocks[block].get() + used;
    if (!text.empty()) std::memcpy(at, text.data(), text.size());
    used += text.size();
    return std::string_view(at, text.size());
  }
  void ReleaseOwned() {
    large.clear();
    block = 0;
    used = 0;
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

bool IsBigIntegerLiteral(std::string_view lit, double d) {
  return lit.find_first_of(".eE") == std::string_view::npos &&
         std::fabs(d) >= 9007199254740992.0;  // 2^53
}

class CompiledMatcher final : public Matcher {
 public:
  Status Match(std::string_view event_json, std::vector<uint32_t>& out) const override;
  Status Match(std::string_view event_json, const VisitableEvent& event,
               std::vector<uint32_t>& out) const override;

  Status Add(uint32_t rule, std::vector<SubRule> sub_rules);

 private:
  friend class EventFlattener;

  uint32_t PathId(const std::string& path);
  void IndexPredicate(PathIndex& index, const Predicate& p, uint32_t cond, uint32_t pred_index);
  // The node a member `key` of an object at `node` leads to (a dotted key is the same path as
  // nesting, as in Flatten), or nullptr when no rule uses anything below it.
  [[gnu::always_inline]] inline const PathNode* Child(const PathNode& node,
                                                      std::string_view key) const;
  // `depth`: how deep `v` is in the event (the event itself: 0). Deeper than kMaxEventDepth
  // fails (s.too_deep): the recursion is bounded, whatever the event.
  bool Flatten(od::value v, const PathNode& node, Scratch& s, int depth) const;
  bool RecordScalar(od::value v, od::json_type type, uint32_t path, Scratch& s) const;
  // Adds a value of `path`, with the array elements it is in.
  [[gnu::always_inline]] inline void Store(FlatValue fv, uint32_t path, Scratch& s) const;
  // Flattens one raw JSON value found at `node` of a visited event, `depth` deep in it.
  bool FlattenRaw(std::string_view json, const PathNode& node, Scratch& s, int depth) const;
  // The per-event reset, and everything after the values are collected.
  [[gnu::always_inline]] inline Scratch& Begin() const;
  [[gnu::always_inline]] inline void Finish(Scratch& s, std::vector<uint32_t>& out) const;
  void OfferValue(const PathIndex& index, const Scalar& v, Scratch& s) const;
  void Hit(uint32_t cond, Scratch& s) const;
  void HitAll(const CondList& conds, Scratch& s) const {
    for (uint32_t c : conds) Hit(c, s);
  }
  bool ArrayConsistent(const CompiledSubRule& sr, const Scratch& s) const;

  std::vector<PathNode> path_nodes_{1};
  std::vector<PathIndex> paths_;
  std::vector<uint32_t> absent_paths_;  // paths with an exists:false condition
  std::vector<Condition> conditions_;
  std::vector<CompiledSubRule> sub_rules_;
  std::vector<uint32_t> always_;  // sub-rules with no condition ({} patterns)
  uint32_t rule_count_ = 0;
};

uint32_t CompiledMatcher::PathId(const std::string& path) {
  uint32_t node = 0;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string segment =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto it = path_nodes_[node].children.find(segment);
    if (it == path_nodes_[node].children.end()) {
      uint32_t child = static_cast<uint32_t>(path_nodes_.size());
      path_nodes_[node].children.emplace(segment, child);
      path_nodes_[node].child_list.emplace_back(segment, child);
      path_nodes_.emplace_back();
      node = child;
    } else {
      node = it->second;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (path_nodes_[node].path < 0) {
    path_nodes_[node].path = static_cast<int32_t>(paths_.size());
    paths_.emplace_back();
  }
  return static_cast<uint32_t>(path_nodes_[node].path);
}

void CompiledMatcher::IndexPredicate(PathIndex& index, const Predicate& p, uint32_t cond,
                                     uint32_t pred_index) {
  switch (p.kind) {
    case PredicateKind::kExactString:
      index.exact_strings[p.text].push_back(cond);
      break;
    case PredicateKind::kExactNumber:
      if (p.big_integer) {
        index.exact_big_integers[p.text].push_back(cond);
      } else {
        index.exact_numbers[p.number == 0 ? 0.0 : p.number].push_back(cond);
      }
      break;
    case PredicateKind::kExactTrue:
      index.exact_true.push_back(cond);
      break;
    case PredicateKind::kExactFalse:
      index.exact_false.push_back(cond);
      break;
    case PredicateKind::kExactNull:
      index.exact_null.push_back(cond);
      break;
    case PredicateKind::kPrefix:
      index.prefixes.Insert(p.text, false, cond);
      break;
    case PredicateKind::kSuffix:
      index.suffixes.Insert(p.text, true, cond);
      break;
    case PredicateKind::kEqualsIgnoreCase:
      index.equals_ci[p.text].push_back(cond);
      index.needs_fold = true;
      break;
    case PredicateKind::kPrefixIgnoreCase:
      index.prefixes_ci.Insert(p.text, false, cond);
      index.needs_fold = true;
      break;
    case PredicateKind::kSuffixIgnoreCase:
      index.suffixes_ci.Insert(p.text, true, cond);
      index.needs_fold = true;
      break;
    case PredicateKind::kExists:
      index.exists.push_back(cond);
      break;
    case PredicateKind::kAbsent:
      index.absent.push_back(cond);
      break;
    case PredicateKind::kNumericRange:
      index.ranges.push_back({p.lo, p.hi, p.lo_open, p.hi_open, cond});
      break;
    case PredicateKind::kAnythingBut: {
      bool exact = std::all_of(p.negated.begin(), p.negated.end(), [](const Predicate& n) {
        return n.kind == PredicateKind::kExactString || n.kind == PredicateKind::kExactNumber;
      });
      if (!exact) {
        index.scans.emplace_back(cond, pred_index);
        break;
      }
      index.anything_but.push_back(cond);
      for (const auto& n : p.negated) {
        if (n.kind == PredicateKind::kExactString) {
          index.anything_but_strings[n.text].push_back(cond);
        } else if (n.big_integer) {
          index.anything_but_big_integers[n.text].push_back(cond);
        } else {
          index.anything_but_numbers[n.number == 0 ? 0.0 : n.number].push_back(cond);
        }
      }
      break;
    }
    case PredicateKind::kWildcard:
    case PredicateKind::kCidr:
      index.scans.emplace_back(cond, pred_index);
      break;
  }
}

Status CompiledMatcher::Add(uint32_t rule, std::vector<SubRule> sub_rules) {
  rule_count_ = std::max(rule_count_, rule + 1);
  for (auto& sr : sub_rules) {
    uint32_t sub_rule_id = static_cast<uint32_t>(sub_rules_.size());
    CompiledSubRule compiled{rule, static_cast<uint32_t>(conditions_.size()),
                             static_cast<uint32_t>(sr.conditions.size())};
    sub_rules_.push_back(compiled);
    if (sr.conditions.empty()) always_.push_back(sub_rule_id);
    for (auto& fc : sr.conditions) {
      uint32_t path = PathId(fc.path);
      uint32_t cond = static_cast<uint32_t>(conditions_.size());
      conditions_.push_back({sub_rule_id, path, std::move(fc.predicates)});
      PathIndex& index = paths_[path];
      const auto& preds = conditions_.back().predicates;
      for (uint32_t i = 0; i < preds.size(); ++i) {
        if (preds[i].kind == PredicateKind::kAbsent && index.absent.empty()) {
          absent_paths_.push_back(path);
        }
        IndexPredicate(index, preds[i], cond, i);
      }
    }
  }
  return Status::Ok();
}

void CompiledMatcher::Hit(uint32_t cond, Scratch& s) const {
  if (s.condition_stamp[cond] == s.generation) return;
  s.condition_stamp[cond] = s.generation;
  uint32_t sr = conditions_[cond].sub_rule;
  if (s.sub_rule_stamp[sr] != s.generation) {
    s.sub_rule_stamp[sr] = s.generation;
    s.sub_rule_count[sr] = 0;
  }
  if (++s.sub_rule_count[sr] == sub_rules_[sr].condition_count) s.candidates.push_back(sr);
}

void CompiledMatcher::OfferValue(const PathIndex& index, const Scalar& v, Scratch& s) const {
  HitAll(index.exists, s);
  switch (v.kind) {
    case ScalarKind::kString: {
      if (!index.exact_strings.empty()) {
        auto it = index.exact_strings.find(v.text);
        if (it != index.exact_strings.end()) HitAll(it->second, s);
      }
      auto hit = [&](const CondList& conds) { HitAll(conds, s); };
      if (!index.prefixes.empty()) index.prefixes.Walk(v.text, false, hit);
      if (!index.suffixes.empty()) index.suffixes.Walk(v.text, true, hit);
      if (index.needs_fold) {
        bus_internal::FoldCase(v.text, s.folded);
        auto it = index.equals_ci.find(s.folded);
        if (it != index.equals_ci.end()) HitAll(it->second, s);
        if (!index.prefixes_ci.empty()) index.prefixes_ci.Walk(s.folded, false, hit);
        if (!index.suffixes_ci.empty()) index.suffixes_ci.Walk(s.folded, true, hit);
      }
      break;
    }
    case ScalarKind::kNumber:
      if (v.big_integer) {
        auto it = index.exact_big_integers.find(v.text);
        if (it != index.exact_big_integers.end()) HitAll(it->second, s);
      } else if (v.number_ok && !index.exact_numbers.empty()) {
        auto it = index.exact_numbers.find(v.number == 0 ? 0.0 : v.number);
        if (it != index.exact_numbers.end()) HitAll(it->second, s);
      }
      break;
    case ScalarKind::kTrue:
      HitAll(index.exact_true, s);
      break;
    case ScalarKind::kFalse:
      HitAll(index.exact_false, s);
      break;
    case ScalarKind::kNull:
      HitAll(index.exact_null, s);
      break;
  }
  if (v.kind == ScalarKind::kNumber && v.number_ok) {
    for (const auto& r : index.ranges) {
      double x = v.number;
      if ((r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi)) {
        Hit(r.cond, s);
      }
    }
  }
  if (!index.anything_but.empty()) {
    const CondList* excluded = nullptr;
    if (v.kind == ScalarKind::kString) {
      auto it = index.anything_but_strings.find(v.text);
      if (it != index.anything_but_strings.end()) excluded = &it->second;
    } else if (v.kind == ScalarKind::kNumber && v.big_integer) {
      auto it = index.anything_but_big_integers.find(v.text);
      if (it != index.anything_but_big_integers.end()) excluded = &it->second;
    } else if (v.kind == ScalarKind::kNumber) {
      auto it = index.anything_but_numbers.find(v.number == 0 ? 0.0 : v.number);
      if (it != index.anything_but_numbers.end()) excluded = &it->second;
    }
    if (!excluded) {
      HitAll(index.anything_but, s);
    } else {
      // Both lists are in ascending condition order, so one merge pass skips the excluded.
      auto ex = excluded->begin();
      for (uint32_t cond : index.anything_but) {
        while (ex != excluded->end() && *ex < cond) ++ex;
        if (ex != excluded->end() && *ex == cond) continue;
        Hit(cond, s);
      }
    }
  }
  for (const auto& [cond, pred] : index.scans) {
    if (s.condition_stamp[cond] == s.generation) continue;
    if (conditions_[cond].predicates[pred].Matches(v)) Hit(cond, s);
  }
}

bool CompiledMatcher::RecordScalar(od::value v, od::json_type type, uint32_t path,
                                   Scratch& s) const {
  FlatValue fv;
  Scalar& sc = fv.scalar;
  switch (type) {
    case od::json_type::string:
      sc.kind = ScalarKind::kString;
      if (v.get_string().get(sc.text)) return false;
      break;
    case od::json_type::number: {
      sc.kind = ScalarKind::kNumber;
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                              raw.back() == '\r')) {
        raw.remove_suffix(1);
      }
      sc.text = raw;
      double d;
      if (v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
        sc.number = d;
        sc.number_ok = true;
        sc.big_integer = IsBigIntegerLiteral(raw, d);
      } else {
        // Valid JSON but no finite double (1e400): only an identical literal can match it.
        sc.big_integer = true;
      }
      break;
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b)) return false;
      sc.kind = b ? ScalarKind::kTrue : ScalarKind::kFalse;
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (v.is_null().get(is_null) || !is_null) return false;
      sc.kind = ScalarKind::kNull;
      break;
    }
    default:
      return false;
  }
  if (s.own_texts) sc.text = s.Own(sc.text);
  Store(fv, path, s);
  return true;
}

inline void CompiledMatcher::Store(FlatValue fv, uint32_t path, Scratch& s) const {
  if (!s.array_stack.empty()) {
    fv.membership_begin = static_cast<uint32_t>(s.memberships.size());
    fv.membership_count = static_cast<uint32_t>(s.array_stack.size());
    s.memberships.insert(s.memberships.end(), s.array_stack.begin(), s.array_stack.end());
    s.path_in_array[path] = 1;
  }
  auto& slot = s.values[path];
  if (slot.empty()) s.touched_paths.push_back(path);
  slot.push_back(fv);
}

inline const PathNode* CompiledMatcher::Child(const PathNode& node, std::string_view key) const {
  const PathNode* child = &node;
  size_t start = 0;
  while (child) {
    size_t dot = key.find('.', start);
    std::string_view segment =
        key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const uint32_t* next = child->Find(segment);
    child = next ? &path_nodes_[*next] : nullptr;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return child;
}

bool CompiledMatcher::Flatten(od::value v, const PathNode& node, Scratch& s, int depth) const {
  if (depth > kMaxEventDepth) {
    s.too_deep = true;
    return false;
  }
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        // A dotted key in the event is the same path as nesting ("a.b" == {"a":{"b"}}).
        const PathNode* child = Child(node, key);
        // Fields no rule uses are left unread; On-Demand skips them when the loop advances.
        if (!child) continue;
        od::value fv;
        if (field.value().get(fv) || !Flatten(fv, *child, s, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      uint32_t id = s.next_array_id++;
      uint32_t index = 0;
      s.array_stack.emplace_back(id, 0);
      for (auto elem : arr) {
        s.array_stack.back().second = index++;
        od::value ev;
        if (elem.get(ev) || !Flatten(ev, node, s, depth + 1)) return false;
      }
      s.array_stack.pop_back();
      return true;
    }
    default:
      if (node.path < 0) return true;
      return RecordScalar(v, type, static_cast<uint32_t>(node.path), s);
  }
}

bool Consistent(const FlatValue& a, const FlatValue& b, const Scratch& s) {
  for (uint32_t i = 0; i < a.membership_count; ++i) {
    const auto& ma = s.memberships[a.membership_begin + i];
    for (uint32_t j = 0; j < b.membership_count; ++j) {
      const auto& mb = s.memberships[b.membership_begin + j];
      if (ma.first == mb.first && ma.second != mb.second) return false;
    }
  }
  return true;
}

bool CompiledMatcher::ArrayConsistent(const CompiledSubRule& sr, const Scratch& s) const {
  if (sr.condition_count < 2) return true;
  bool any_array = false;
  for (uint32_t c = 0; c < sr.condition_count; ++c) {
    any_array |= s.path_in_array[conditions_[sr.first_condition + c].path] != 0;
  }
  if (!any_array) return true;
  // Candidate values per condition; a condition met by its field's absence constrains nothing.
  std::vector<std::vector<const FlatValue*>> options;
  for (uint32_t c = 0; c < sr.condition_count; ++c) {
    const Condition& cond = conditions_[sr.first_condition + c];
    const auto& vals = s.values[cond.path];
    std::vector<const FlatValue*> matching;
    for (const auto& v : vals) {
      for (const auto& p : cond.predicates) {
        if (p.Matches(v.scalar)) {
          matching.push_back(&v);
          break;
        }
      }
    }
    if (matching.empty()) continue;  // satisfied by absence
    if (matching.size() == 1 && matching[0]->membership_count == 0) continue;
    options.push_back(std::move(matching));
  }
  // Backtracking over the choices, bounded so a pathological event cannot stall matching; past
  // the bound the sub-rule is accepted (each field did match on its own).
  std::vector<const FlatValue*> chosen;
  size_t steps = 0;
  std::function<bool(size_t)> search = [&](size_t i) -> bool {
    if (i == options.size()) return true;
    for (const FlatValue* v : options[i]) {
      if (++steps > 100000) return true;
      bool ok = true;
      for (const FlatValue* c : chosen) {
        if (!Consistent(*v, *c, s)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      chosen.push_back(v);
      if (search(i + 1)) return true;
      chosen.pop_back();
    }
    return false;
  };
  return search(0);
}

inline Scratch& CompiledMatcher::Begin() const {
  Scratch& s = ThreadScratch();
  if (s.values.size() < paths_.size()) {
    s.values.resize(paths_.size());
    s.path_in_array.resize(paths_.size(), 0);
  }
  if (s.condition_stamp.size() < conditions_.size()) {
    s.condition_stamp.resize(conditions_.size(), 0);
  }
  if (s.sub_rule_stamp.size() < sub_rules_.size()) {
    s.sub_rule_stamp.resize(sub_rules_.size(), 0);
    s.sub_rule_count.resize(sub_rules_.size(), 0);
  }
  if (s.rule_stamp.size() < rule_count_) s.rule_stamp.resize(rule_count_, 0);
  if (++s.generation == 0) {
    // Wrapped: old stamps could collide with new generations.
    std::fill(s.condition_stamp.begin(), s.condition_stamp.end(), 0);
    std::fill(s.sub_rule_stamp.begin(), s.sub_rule_stamp.end(), 0);
    std::fill(s.rule_stamp.begin(), s.rule_stamp.end(), 0);
    s.generation = 1;
  }
  for (uint32_t p : s.touched_paths) {
    s.values[p].clear();
    s.path_in_array[p] = 0;
  }
  s.touched_paths.clear();
  s.memberships.clear();
  s.array_stack.clear();
  s.next_array_id = 0;
  s.too_deep = false;
  s.candidates.clear();
  s.own_texts = false;
  s.ReleaseOwned();
  s.frames.clear();
  return s;
}

inline void CompiledMatcher::Finish(Scratch& s, std::vector<uint32_t>& out) const {
  for (uint32_t p : s.touched_paths) {
    for (const auto& v : s.values[p]) OfferValue(paths_[p], v.scalar, s);
  }
  for (uint32_t p : absent_paths_) {
    if (s.values[p].empty()) HitAll(paths_[p].absent, s);
  }

  size_t first = out.size();
  auto emit = [&](uint32_t rule) {
    if (s.rule_stamp[rule] == s.generation) return;
    s.rule_stamp[rule] = s.generation;
    out.push_back(rule);
  };
  for (uint32_t sr : always_) emit(sub_rules_[sr].rule);
  for (uint32_t sr : s.candidates) {
    const CompiledSubRule& sub = sub_rules_[sr];
    if (s.rule_stamp[sub.rule] == s.generation) continue;
    if (ArrayConsistent(sub, s)) emit(sub.rule);
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

Status CompiledMatcher::Match(std::string_view event_json, std::vector<uint32_t>& out) const {
  Scratch& s = Begin();
  s.buffer.resize(event_json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(s.buffer.data(), event_json.data(), event_json.size());
  od::document doc;
  if (s.parser.iterate(s.buffer.data(), event_json.size(), s.buffer.size()).get(doc)) {
    return InvalidArgument("the event is not valid JSON");
  }
  od::value root;
  const char* rest = nullptr;
  if (doc.get_value().get(root) || !Flatten(root, path_nodes_[0], s, 0) ||
      doc.current_location().get(rest) == simdjson::SUCCESS) {
    return s.too_deep ? TooDeep() : InvalidArgument("the event is not valid JSON");
  }
  Finish(s, out);
  return Status::Ok();
}

bool CompiledMatcher::FlattenRaw(std::string_view json, const PathNode& node, Scratch& s,
                                 int depth) const {
  // As one element of an array, so that a scalar is read as it is inside the event; the
  // element is flattened at `node` itself (the wrapping array is not one of the event's).
  s.fragment.clear();
  s.fragment.push_back('[');
  s.fragment.append(json);
  s.fragment.push_back(']');
  size_t length = s.fragment.size();
  s.fragment.resize(length + simdjson::SIMDJSON_PADDING);
  od::document doc;
  od::array array;
  if (s.parser.iterate(s.fragment.data(), length, s.fragment.size()).get(doc) ||
      doc.get_array().get(array)) {
    return false;
  }
  size_t elements = 0;
  for (auto element : array) {
    od::value v;
    if (element.get(v) || !Flatten(v, node, s, depth)) return false;
    ++elements;
  }
  const char* rest = nullptr;
  return elements == 1 && doc.current_location().get(rest) != simdjson::SUCCESS;
}

// Reads a visited event (an EventVisitor) the way Flatten reads its text: it follows the members
// along the tree of paths the rules use, records the scalars of those paths, and tells the
// writer which members it can skip.
class EventFlattener final : public EventVisitor {
 public:
  EventFlattener(const CompiledMatcher& m, Scratch& s) : m_(m), s_(s), frames_(s.frames) {}

  bool ok() const { return ok_; }

  EventVisitor& BeginObject() override {
    frames_.push_back({TakeNode(), false, 0});
    return *this;
  }
  EventVisitor& EndObject() override {
    frames_.pop_back();
    pending_ = nullptr;
    return *this;
  }
  EventVisitor& BeginArray() override {
    const PathNode* node = TakeNode();
    if (node != nullptr) s_.array_stack.emplace_back(s_.next_array_id++, 0);
    frames_.push_back({node, true, 0});
    return *this;
  }
  EventVisitor& EndArray() override {
    if (frames_.back().node != nullptr) s_.array_stack.pop_back();
    frames_.pop_back();
    pending_ = nullptr;
    return *this;
  }
  EventVisitor& Key(std::string_view key) override {
    const PathNode* node = frames_.back().node;
    pending_ = node != nullptr ? m_.Child(*node, key) : nullptr;
    return *this;
  }
  bool WantsValue() const override { return pending_ != nullptr; }

  EventVisitor& String(std::string_view text) override {
    if (uint32_t path; TakePath(path)) {
      FlatValue fv;
      fv.scalar.kind = ScalarKind::kString;
      fv.scalar.text = s_.Own(text);
      m_.Store(fv, path, s_);
    }
    return *this;
  }
  EventVisitor& Int(int64_t v) override {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return Number(std::string_view(buf, static_cast<size_t>(end - buf)), static_cast<double>(v));
  }
  EventVisitor& Uint(uint64_t v) override {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return Number(std::string_view(buf, static_cast<size_t>(end - buf)), static_cast<double>(v));
  }
  EventVisitor& Double(double v) override {
    // As JsonWriter::Double writes it; the shortest form parses back to `v`.
    if (std::isnan(v)) return String("NaN");
    if (std::isinf(v)) return String(v > 0 ? "Infinity" : "-Infinity");
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return Number(std::string_view(buf, static_cast<size_t>(end - buf)), v);
  }
  EventVisitor& Bool(bool v) override {
    if (uint32_t path; TakePath(path)) {
      FlatValue fv;
      fv.scalar.kind = v ? ScalarKind::kTrue : ScalarKind::kFalse;
      m_.Store(fv, path, s_);
    }
    return *this;
  }
  EventVisitor& Null() override {
    if (uint32_t path; TakePath(path)) {
      FlatValue fv;
      fv.scalar.kind = ScalarKind::kNull;
      m_.Store(fv, path, s_);
    }
    return *this;
  }
  EventVisitor& Raw(std::string_view json) override {
    const PathNode* node = TakeNode();
    if (node != nullptr && ok_) {
      s_.own_texts = true;
      // frames_: the objects and arrays this value is in, so its depth in the event.
      ok_ = m_.FlattenRaw(json, *node, s_, static_cast<int>(frames_.size()));
      s_.own_texts = false;
    }
    return *this;
  }

 private:
  // The node of the value being written: the member's (after Key), or in an array the array's
  // (the element's index is recorded for the consistency check), or the root.
  const PathNode* TakeNode() {
    if (frames_.empty()) return &m_.path_nodes_[0];
    VisitFrame& f = frames_.back();
    if (!f.array) {
      const PathNode* node = pending_;
      pending_ = nullptr;
      return node;
    }
    if (f.node != nullptr) s_.array_stack.back().second = f.index;
    ++f.index;
    return f.node;
  }
  bool TakePath(uint32_t& path) {
    const PathNode* node = TakeNode();
    if (node == nullptr || node->path < 0) return false;
    path = static_cast<uint32_t>(node->path);
    return true;
  }
  EventVisitor& Number(std::string_view literal, double value) {
    if (uint32_t path; TakePath(path)) {
      FlatValue fv;
      Scalar& sc = fv.scalar;
      sc.kind = ScalarKind::kNumber;
      sc.text = s_.Own(literal);
      sc.number = value;
      sc.number_ok = true;  // integers and finite doubles
      sc.big_integer = IsBigIntegerLiteral(literal, value);
      m_.Store(fv, path, s_);
    }
    return *this;
  }

  const CompiledMatcher& m_;
  Scratch& s_;
  std::vector<VisitFrame>& frames_;
  const PathNode* pending_ = nullptr;
  bool ok_ = true;
};

Status CompiledMatcher::Match(std::string_view event_json, const VisitableEvent& event,
                              std::vector<uint32_t>& out) const {
  Scratch& s = Begin();
  // Parsing checks the whole text's UTF-8 even where it skips a value; so does this.
  if (!simdjson::validate_utf8(event_json.data(), event_json.size())) {
    return InvalidArgument("the event is not valid JSON");
  }
  EventFlattener flattener(*this, s);
  event.Accept(flattener);
  if (!flattener.ok()) {
    return s.too_deep ? TooDeep() : InvalidArgument("the event is not valid JSON");
  }
  Finish(s, out);
  return Status::Ok();
}

}  // namespace

Status ValidatePattern(std::string_view pattern_json, const PatternOptions& options) {
  auto parsed = ParsePattern(pattern_json, options);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

Result<std::unique_ptr<Matcher>> CompileMatcher(const std::vector<RulePattern>& rules,
                                                const PatternOptions& options) {
  auto m = std::make_unique<CompiledMatcher>();
  for (uint32_t i = 0; i < rules.size(); ++i) {
    auto parsed = ParsePattern(rules[i].pattern_json, options);
    if (!parsed.ok()) return parsed.status().WithContext("rule '" + rules[i].name + "'");
    CDC_RETURN_IF_ERROR(m->Add(i, std::move(parsed).value()));
  }
  return std::unique_ptr<Matcher>(std::move(m));
}

}  // namespace cdc
