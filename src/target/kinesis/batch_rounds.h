// Per-key rounds for batch targets (kinesis, dynamodb): each round sends at most the first
// undecided event of each key, so no event goes out while an earlier event with the same key is
// unacknowledged; once an event of a key is to be retried, the later events of that key are
// answered kRetry without being sent.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "target/target.h"

namespace cdc::internal {

// `admit(i)`: whether event i still fits into this round (sizes); false ends the round.
// `send(round, results)`: sends the events of `round` (indexes into `events`) and sets their
// results. Events it answers kRetry or kFatal block their key for the rest of the batch.
inline void DeliverInKeyRounds(
    std::span<const Outgoing> events, std::span<DeliveryOutcome> results,
    const std::function<bool(size_t, size_t)>& admit,
    const std::function<void(const std::vector<size_t>&, std::span<DeliveryOutcome>)>& send) {
  std::vector<bool> decided(events.size(), false);
  // Keys held back for the rest of the batch, with the reason of the event that holds them.
  std::map<std::string_view, Status> blocked;
  size_t left = events.size();
  while (left > 0) {
    std::unordered_set<std::string_view> seen;
    std::vector<size_t> round;
    for (size_t i = 0; i < events.size(); ++i) {
      if (decided[i]) continue;
      std::string_view key = events[i].key.empty() ? events[i].id : events[i].key;
      if (auto b = blocked.find(key); b != blocked.end()) {
        results[i] = {Delivery::kRetry, b->second};
        decided[i] = true;
        --left;
        continue;
      }
      if (!seen.insert(key).second) continue;  // an earlier event of the key is undecided
      if (!admit(i, round.size())) continue;   // the round is full: a later round sends it
      round.push_back(i);
    }
    if (round.empty()) break;  // cannot happen: admit takes at least one event per round
    send(round, results);
    for (size_t i : round) {
      decided[i] = true;
      --left;
      Delivery r = results[i].result;
      if (r == Delivery::kRetry || r == Delivery::kFatal) {
        blocked.emplace(events[i].key.empty() ? events[i].id : events[i].key,
                        Unavailable("held back behind an earlier event with the same key: " +
                                    results[i].error.message()));
      }
    }
  }
}

}  // namespace cdc::internal
