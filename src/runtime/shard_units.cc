#include "runtime/shard_units.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "base/logging.h"
#include "metrics/prometheus.h"
#include "runtime/pipeline.h"
#include "source/source.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;

// A unit's source: none. It waits for the stop while the pipeline delivers the shard.
class NoSource final : public Source {
 public:
  Status Run(ChangeSink&) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_; });
    return Status::Ok();
  }
  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  Status CheckHealth() override { return Status::Ok(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

class Fixed final : public stream::ShardAssigner {
 public:
  explicit Fixed(std::vector<uint32_t> shards) : shards_(std::move(shards)) {
    std::sort(shards_.begin(), shards_.end());
    shards_.erase(std::unique(shards_.begin(), shards_.end()), shards_.end());
  }
  Result<std::vector<uint32_t>> Poll(milliseconds wait) override {
    if (!first_) std::this_thread::sleep_for(wait);
    first_ = false;
    return shards_;
  }
  void Checkpointed(uint32_t, uint64_t) override {}
  void Released(uint32_t) override {}
  Status Close() override { return Status::Ok(); }
  std::string Describe() const override { return "a fixed list"; }

 private:
  std::vector<uint32_t> shards_;
  bool first_ = true;
};

// One shard's unit: a thread that opens the unit's pipeline (again while its state store is
// still held by a process letting the shard go) and runs it until it is released.
class Unit {
 public:
  Unit(std::shared_ptr<const Config> config, uint32_t shard, const Clock& clock,
       std::function<void(uint32_t, uint64_t)> on_checkpoint)
      : config_(std::move(config)), shard_(shard), clock_(clock) {
    options_.role = PipelineOptions::Role::kProcess;
    options_.on_checkpoint = std::move(on_checkpoint);
    thread_ = std::thread([this] { Main(); });
  }
  ~Unit() {
    Release();
    if (thread_.joinable()) thread_.join();
  }

  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    if (pipeline_ != nullptr) pipeline_->Release();
    cv_.notify_all();
  }
  bool finished() const { return finished_.load(); }
  bool released() {
    std::lock_guard lock(mu_);
    return released_;
  }
  // After finished(): OK when it was released, else why it stopped.
  const Status& result() const { return result_; }
  // For the admin server (any thread): what it does, and `fn` on its pipeline while it runs one.
  std::string State() {
    std::lock_guard lock(mu_);
    if (released_) return "stopping";
    return pipeline_ != nullptr ? "delivering" : "waiting";
  }
  void WithPipeline(const std::function<void(Pipeline&)>& fn) {
    std::lock_guard lock(mu_);
    if (pipeline_ != nullptr && !released_) fn(*pipeline_);
  }
  uint32_t shard() const { return shard_; }
  bool abandoned() const { return abandoned_; }

 private:
  void Main() {
    struct Done {
      std::atomic<bool>& f;
      ~Done() { f = true; }
    } done{finished_};
    bool waiting_logged = false;
    while (true) {
      auto pipeline = Pipeline::Build(config_, clock_, options_);
      if (!pipeline.ok()) {
        result_ = pipeline.status().WithContext("shard " + std::to_string(shard_));
        return;
      }
      {
        std::lock_guard lock(mu_);
        if (released_) return;
        pipeline_ = pipeline->get();
      }
      NoSource source;
      Status s = (*pipeline)->Run(source);
      {
        std::lock_guard lock(mu_);
        pipeline_ = nullptr;
      }
      if ((*pipeline)->abandoned()) {
        // Its delivery thread is stuck in a target and still uses it: never destroyed.
        (void)pipeline->release();
        abandoned_ = true;
        result_ = s.WithContext("shard " + std::to_string(shard_));
        return;
      }
      if (s.ok()) return;  // released
      if (!s.in_use()) {
        result_ = s.WithContext("shard " + std::to_string(shard_));
        return;
      }
      // The process that had the shard has not let it go yet (it notices at its next lease
      // renewal), or a killed one's lease has not expired: open again.
      if (!waiting_logged) {
        log::Info("shard {}: waiting for its unit to be let go ({})", shard_, s.message());
        waiting_logged = true;
      }
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, milliseconds(250), [&] { return released_; })) return;
    }
  }

  const std::shared_ptr<const Config> config_;
  const uint32_t shard_;
  const Clock& clock_;
  PipelineOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;         // guarded by mu_
  Pipeline* pipeline_ = nullptr;  // guarded by mu_
  std::atomic<bool> finished_{false};
  Status result_;
  bool abandoned_ = false;
  std::thread thread_;
};

// Whether `path` is inside the directory `dir`.
bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

struct ShardUnitsView::Impl {
  mutable std::mutex mu;
  std::string assigner;
  std::chrono::steady_clock::time_point assigned = std::chrono::steady_clock::now();
  std::map<uint32_t, Unit*> units;  // the running units (owned by RunShardUnits)
};

ShardUnitsView::ShardUnitsView() : impl_(std::make_unique<Impl>()) {}
ShardUnitsView::~ShardUnitsView() = default;

std::vector<ShardUnitsView::UnitState> ShardUnitsView::Units() const {
  std::lock_guard lock(impl_->mu);
  std::vector<UnitState> out;
  for (const auto& [shard, unit] : impl_->units) {
    UnitState s;
    s.shard = shard;
    s.state = unit->State();
    unit->WithPipeline([&](Pipeline& p) { s.failing_targets = p.FailingTargets(); });
    out.push_back(std::move(s));
  }
  return out;
}

std::string ShardUnitsView::assigner() const {
  std::lock_guard lock(impl_->mu);
  return impl_->assigner;
}

std::chrono::steady_clock::duration ShardUnitsView::since_assigned() const {
  std::lock_guard lock(impl_->mu);
  return std::chrono::steady_clock::now() - impl_->assigned;
}

std::string ShardUnitsView::RenderMetrics() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<std::string, metrics::Registry*>> parts;
  // The pipelines stay while their units' locks are held: one lock at a time would let a unit
  // end its pipeline between collecting and rendering, so render inside.
  std::vector<Unit*> delivering;
  for (const auto& [shard, unit] : impl_->units) delivering.push_back(unit);
  std::string out;
  std::function<void(size_t)> collect = [&](size_t i) {
    if (i == delivering.size()) {
      out = metrics::RenderPrometheusLabeled(parts, "shard");
      return;
    }
    bool running = false;
    delivering[i]->WithPipeline([&](Pipeline& p) {
      running = true;
      parts.emplace_back(std::to_string(delivering[i]->shard()), &p.metrics());
      collect(i + 1);
    });
    if (!running) collect(i + 1);
  };
  collect(0);
  return out;
}

std::string ShardUnitDir(const std::string& data_dir, uint32_t shard) {
  return data_dir + "/shards/" + std::to_string(shard);
}

Result<std::shared_ptr<const Config>> LoadShardUnitConfig(const std::string& config_path,
                                                          const Config& config, uint32_t shard) {
  const std::string dir = ShardUnitDir(config.pipeline.data_dir, shard);
  EnvOptions env;
  env.overrides["CDC_DATA_DIR"] = dir;
  LoadResult loaded = LoadAndValidate(config_path, env, *config.registry);
  if (!loaded.config) {
    std::string errors;
    for (const ConfigError& e : loaded.errors) errors += "\n  " + e.ToString();
    return InvalidArgument("the config of shard " + std::to_string(shard) + "'s unit (" +
                           config_path + " with CDC_DATA_DIR=" + dir + ") has errors:" + errors);
  }
  const Config& unit = *loaded.config;
  const std::string fix =
      " `run --role process` delivers each shard from and into a data dir of its own, "
      "<data_dir>/shards/<i>, given to the config as CDC_DATA_DIR: write the path under "
      "${CDC_DATA_DIR}, as config/cdc-pipeline.yaml does";
  if (unit.pipeline.data_dir != dir) {
    return InvalidArgument("pipeline.data_dir is " + unit.pipeline.data_dir +
                           " whatever CDC_DATA_DIR is (" + config_path + "):" + fix);
  }
  if (!Under(unit.dead_letter.path, dir)) {
    return InvalidArgument("dead_letter.path " + unit.dead_letter.path +
                           " is outside the data dir:" + fix);
  }
  for (const TargetConfig& t : unit.targets) {
    if (t.type != "file" || t.kind == nullptr || t.kind->describe == nullptr) continue;
    std::string where = t.kind->describe(t);
    if (where.find(dir + "/") == std::string::npos) {
      return InvalidArgument("target '" + t.name + "' (" + where + ", " + t.where.ToString() +
                             ") writes outside the data dir:" + fix);
    }
  }
  auto copy = std::make_shared<Config>(unit);
  copy->stream.only_shards = {shard};
  copy->state.pipeline_name = config.pipeline.name + "/shard-" + std::to_string(shard);
  for (TargetConfig& t : copy->targets) t.unit = "shard-" + std::to_string(shard);
  return std::shared_ptr<const Config>(std::move(copy));
}

std::unique_ptr<stream::ShardAssigner> FixedShards(std::vector<uint32_t> shards) {
  return std::make_unique<Fixed>(std::move(shards));
}

Status RunShardUnits(const std::string& config_path, std::shared_ptr<const Config> config,
                     stream::ShardAssigner& assigner, const std::atomic<bool>& stop,
                     const Clock& clock, ShardUnitsView* view) {
  // Keeps `view` in step with `units` (before a unit is destroyed, after one is made).
  auto show = [view](uint32_t shard, Unit* unit) {
    if (view == nullptr) return;
    std::lock_guard lock(view->impl_->mu);
    if (unit == nullptr) {
      view->impl_->units.erase(shard);
    } else {
      view->impl_->units[shard] = unit;
    }
  };
  if (view != nullptr) {
    std::lock_guard lock(view->impl_->mu);
    view->impl_->assigner = assigner.Describe();
  }
  const uint32_t shard_count = static_cast<uint32_t>(config->stream.shards);
  // The units' configs are loaded (and checked) once, before anything runs.
  std::vector<std::shared_ptr<const Config>> configs(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) {
    CDC_ASSIGN_OR_RETURN(configs[i], LoadShardUnitConfig(config_path, *config, i));
  }
  log::Info(
      "pipeline '{}': delivering the shards {} gives this process, each from and into "
      "{}/shards/<i>",
      config->pipeline.name, assigner.Describe(), config->pipeline.data_dir);
  // Checkpoints reported by the units' delivery threads, passed on to the assigner here.
  std::mutex checkpoints_mu;
  std::map<uint32_t, uint64_t> checkpoints;
  auto on_checkpoint = [&](uint32_t shard, uint64_t next) {
    std::lock_guard lock(checkpoints_mu);
    checkpoints[shard] = next;
  };
  std::map<uint32_t, std::unique_ptr<Unit>> units;
  // Destroyed before `units`, whichever way this returns: the view never names a gone unit.
  struct Unshow {
    ShardUnitsView* view;
    ~Unshow() {
      if (view == nullptr) return;
      std::lock_guard lock(view->impl_->mu);
      view->impl_->units.clear();
    }
  } unshow{view};
  Status failure;
  while (!stop.load() && failure.ok()) {
    {
      std::lock_guard lock(checkpoints_mu);
      for (const auto& [shard, next] : checkpoints) assigner.Checkpointed(shard, next);
      checkpoints.clear();
    }
    auto wanted = assigner.Poll(milliseconds(200));
    if (!wanted.ok()) {
      failure = wanted.status().WithContext("shard assignment (" + assigner.Describe() + ")");
      break;
    }
    if (view != nullptr) {
      std::lock_guard lock(view->impl_->mu);
      view->impl_->assigned = std::chrono::steady_clock::now();
    }
    // Units that ended: released ones let their shard go; any other end stops the process.
    for (auto it = units.begin(); it != units.end();) {
      if (!it->second->finished()) {
        ++it;
        continue;
      }
      if (!it->second->result().ok()) {
        failure = it->second->result();
        if (it->second->abandoned()) return failure;  // the process must end at once
        break;
      }
      log::Info("shard {}: let go", it->first);
      assigner.Released(it->first);
      show(it->first, nullptr);
      it = units.erase(it);
    }
    if (!failure.ok()) break;
    for (uint32_t shard : *wanted) {
      if (shard >= shard_count || units.count(shard) != 0) continue;
      log::Info("shard {}: delivering it from and into {}", shard,
                configs[shard]->pipeline.data_dir);
      units[shard] = std::make_unique<Unit>(configs[shard], shard, clock, on_checkpoint);
      show(shard, units[shard].get());
    }
    for (auto& [shard, unit] : units) {
      if (!std::binary_search(wanted->begin(), wanted->end(), shard) && !unit->released()) {
        log::Info("shard {}: no longer this process's; stopping its unit", shard);
        unit->Release();
      }
    }
  }
  // Stop: every unit checkpoints and lets its shard go.
  for (auto& [shard, unit] : units) unit->Release();
  for (auto& [shard, unit] : units) {
    while (!unit->finished()) std::this_thread::sleep_for(milliseconds(20));
    if (unit->abandoned()) return unit->result();
    if (!unit->result().ok() && failure.ok()) failure = unit->result();
  }
  {
    std::lock_guard lock(checkpoints_mu);
    for (const auto& [shard, next] : checkpoints) assigner.Checkpointed(shard, next);
    checkpoints.clear();
  }
  for (auto& [shard, unit] : units) {
    assigner.Released(shard);
    show(shard, nullptr);
  }
  units.clear();
  Status closed = assigner.Close();
  if (failure.ok() && !closed.ok()) failure = closed;
  return failure;
}

}  // namespace cdc
