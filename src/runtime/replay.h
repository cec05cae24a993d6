// Runs a replay (archive/replay.h): the archived events of the window go, with "replay-name"
// added, through the config's enabled rules (or the one asked for; never the archives' hidden
// rules, so replayed events are not archived again) and are delivered to the matching rules'
// targets with their input transformers, through the delivery runner (retries, dead letters).
// The targets and rules are the Assembly `run` uses, limited to what the rules route to.
//
// A replay takes the data dir's lease (the state store), so it cannot run beside `run`. Before
// writing, it cuts each target it writes to back to its checkpoint mark (as `run` does on start);
// after delivering and flushing, it stores each target's new cursor in its mark (other fields
// unchanged), so the next `run` keeps the replayed lines and cuts nothing.
//
// Thread-safety: one replay at a time per data dir (the lease enforces it).
#pragma once

#include <functional>

#include "archive/replay.h"
#include "base/status.h"
#include "config/config.h"

namespace cdc {

// Runs the replay. `on_progress` is called after every archived event read (and once at the
// end). An error leaves what was already written in the targets uncommitted: the next `run` (or
// replay) cuts it back, so a failed replay can simply be run again.
Result<archive::ReplayReport> RunReplay(
    const Config& config, archive::ReplayRequest request,
    const std::function<void(const archive::ReplayProgress&)>& on_progress);

}  // namespace cdc
