// The KCL-style shard leases (src/state/dynamodb/shard_leases.h) against dynalite, each worker
// polling on a thread of its own as a `run --role process` does: a lone worker takes every
// shard, a second one gets half of them (balancing), a worker that stops renewing (dead on
// another machine) loses its shards to the live one within two lease periods, one that closes
// frees them at once, one whose process is gone on this host loses them at once, a worker that
// was paused past its lease lets go of what it lost at its next renewal, and the checkpoints go
// into the leases. The AWS CLI reads the table (the KCL's attribute names).
#include "state/dynamodb/shard_leases.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "config/config.h"
#include "integration/aws/aws_test_util.h"
#include "state/dynamodb/dynamodb_state_store.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using std::chrono::milliseconds;
using testing::AwsEmulator;
using Shards = std::vector<uint32_t>;

// One worker: an assigner polled on its own thread; `Pause` stops the polling (as a process
// that was killed or stopped), `Resume` goes on.
class Worker {
 public:
  explicit Worker(std::unique_ptr<stream::ShardAssigner> assigner)
      : assigner_(std::move(assigner)), thread_([this] { Loop(); }) {}
  ~Worker() {
    exit_ = true;
    thread_.join();
  }
  Shards held() {
    std::lock_guard lock(mu_);
    return held_;
  }
  void Pause() { paused_ = true; }
  void Resume() { paused_ = false; }
  // Called on the worker's thread at its next round.
  void Checkpointed(uint32_t shard, uint64_t next) {
    std::lock_guard lock(mu_);
    checkpoints_[shard] = next;
  }
  void Close() { close_ = true; }
  bool closed() { return closed_.load(); }

 private:
  void Loop() {
    while (!exit_) {
      if (paused_ || closed_) {
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      if (close_) {
        EXPECT_TRUE(assigner_->Close().ok());
        std::lock_guard lock(mu_);
        held_.clear();
        closed_ = true;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        for (const auto& [shard, next] : checkpoints_) assigner_->Checkpointed(shard, next);
        checkpoints_.clear();
      }
      auto shards = assigner_->Poll(milliseconds(20));
      ASSERT_TRUE(shards.ok()) << shards.status().ToString();
      std::lock_guard lock(mu_);
      held_ = *shards;
    }
  }

  std::unique_ptr<stream::ShardAssigner> assigner_;
  std::mutex mu_;
  Shards held_;
  std::map<uint32_t, uint64_t> checkpoints_;
  std::atomic<bool> exit_{false}, paused_{false}, close_{false}, closed_{false};
  std::thread thread_;
};

class ShardLeases : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [k, v] : testing::AwsTestEnv()) ::setenv(k.c_str(), v.c_str(), 1);
    std::string missing;
    dynalite_ = AwsEmulator::Dynalite(&missing);
    ASSERT_NE(dynalite_, nullptr) << "dynalite is not installed: " << missing;
    static std::atomic<int> n{0};
    table_ = "leases-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  }

  StateConfig Config(int64_t lease_ms) {
    auto o = std::make_shared<state::DynamoDbStateOptions>();
    o->table = "unused-state";
    o->lease_table = table_;
    o->create = true;
    o->endpoint = dynalite_->endpoint();
    o->lease_ms = lease_ms;
    o->retry_ms = 2000;
    StateConfig config;
    config.type = "dynamodb";
    config.kind = BuiltinRegistry().FindState("dynamodb");
    config.options = std::move(o);
    config.pipeline_name = "p";
    return config;
  }

  std::unique_ptr<Worker> Start(const std::string& worker, int64_t lease_ms = 1000,
                                uint32_t shards = 4) {
    auto assigner = state::OpenShardLeases(Config(lease_ms), shards, worker);
    EXPECT_TRUE(assigner.ok()) << assigner.status().ToString();
    if (!assigner.ok()) return nullptr;
    return std::make_unique<Worker>(std::move(assigner).value());
  }

  // Waits up to `limit` for `done`; the time it took.
  template <typename F>
  std::optional<milliseconds> WaitFor(F done, milliseconds limit) {
    auto start = std::chrono::steady_clock::now();
    while (!done()) {
      if (std::chrono::steady_clock::now() - start > limit) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  }

  // leaseKey -> the item as the AWS CLI scans it (empty without the CLI).
  std::map<std::string, std::string> ScanWithCli() {
    return testing::ScanTableWithAwsCli(
        dynalite_->endpoint(), table_, [](simdjson::dom::element item) {
          return std::string(item["leaseKey"]["S"].get_string().value_unsafe());
        });
  }

  static bool Disjoint(const Shards& a, const Shards& b) {
    std::set<uint32_t> s(a.begin(), a.end());
    for (uint32_t x : b) {
      if (s.count(x) != 0) return false;
    }
    return true;
  }

  AwsEmulator* dynalite_ = nullptr;
  std::string table_;
};

TEST_F(ShardLeases, ALoneWorkerTakesEveryShardAndASecondGetsHalf) {
  auto a = Start("worker-a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor(
      [&] {
        return a->held() == Shards{0, 1, 2, 3};
      },
      milliseconds(10000)))
      << "a holds " << a->held().size();
  auto b = Start("worker-b");
  ASSERT_NE(b, nullptr);
  // b steals from a, one lease a tick, until each holds two; a lets go of what b took.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ha = a->held(), hb = b->held();
        return ha.size() == 2 && hb.size() == 2 && Disjoint(ha, hb);
      },
      milliseconds(20000)))
      << "a holds " << a->held().size() << ", b " << b->held().size();
  // Stable: nobody steals from a balanced pair.
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(a->held().size(), 2u);
  EXPECT_EQ(b->held().size(), 2u);
  auto items = ScanWithCli();
  if (!items.empty()) {
    ASSERT_EQ(items.size(), 4u);
    size_t owned_by_a = 0;
    for (const auto& [key, item] : items) {
      EXPECT_TRUE(key.starts_with("shardId-00000000000")) << key;
      for (const char* attribute : {"\"leaseCounter\"", "\"checkpoint\"",
                                    "\"ownerSwitchesSinceCheckpoint\"", "\"leaseOwner\""}) {
        EXPECT_NE(item.find(attribute), std::string::npos) << attribute << " in " << item;
      }
      owned_by_a += item.find("\"worker-a\"") != std::string::npos;
    }
    EXPECT_EQ(owned_by_a, 2u);
  }
  // A clean close frees a's leases: b takes them without waiting for them to expire.
  a->Close();
  ASSERT_TRUE(WaitFor([&] { return a->closed(); }, milliseconds(5000)));
  auto took = WaitFor([&] { return b->held() == Shards{0, 1, 2, 3}; }, milliseconds(10000));
  ASSERT_TRUE(took) << "b holds " << b->held().size();
}

// The bound: a dead worker's shards are taken over within two lease periods.
TEST_F(ShardLeases, ADeadWorkersShardsAreTakenOverWithinTwoLeasePeriods) {
  constexpr int64_t kLeaseMs = 2000;
  auto a = Start("worker-a", kLeaseMs);
  auto b = Start("worker-b", kLeaseMs);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ha = a->held(), hb = b->held();
        return ha.size() == 2 && hb.size() == 2 && Disjoint(ha, hb);
      },
      milliseconds(30000)));
  a->Pause();  // a worker on another machine killed: it never renews again
  auto took = WaitFor([&] { return b->held() == Shards{0, 1, 2, 3}; }, milliseconds(30000));
  ASSERT_TRUE(took) << "b holds " << b->held().size();
  EXPECT_LE(took->count(), 2 * kLeaseMs) << "taken over after " << took->count() << " ms";
  // a comes back (it was only paused): its renewals fail, it lets go of the shards b took and
  // the two balance again, never holding a shard at the same time once settled.
  a->Resume();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ha = a->held(), hb = b->held();
        return ha.size() == 2 && hb.size() == 2 && Disjoint(ha, hb);
      },
      milliseconds(30000)))
      << "a holds " << a->held().size() << ", b " << b->held().size();
  // The table says the same: each lease's owner is the worker that holds it.
  auto ha = a->held();
  for (const auto& [key, item] : ScanWithCli()) {
    uint32_t shard = static_cast<uint32_t>(std::stoul(key.substr(key.size() - 3)));
    bool by_a = std::find(ha.begin(), ha.end(), shard) != ha.end();
    EXPECT_NE(item.find(by_a ? "\"worker-a\"" : "\"worker-b\""), std::string::npos)
        << key << ": " << item;
  }
}

// A worker of this host whose process is gone (kill -9, then a restart) loses its leases at
// once, long before they would expire.
TEST_F(ShardLeases, AWorkerWhoseProcessIsGoneLosesItsLeasesAtOnce) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string dead = "pid " + std::to_string(child) + " on host " + host;
  constexpr int64_t kLongLeaseMs = 60000;
  {
    auto a = Start(dead, kLongLeaseMs);
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(WaitFor([&] { return a->held() == Shards{0, 1, 2, 3}; }, milliseconds(10000)));
    a->Pause();
  }
  auto b = Start("worker-b", kLongLeaseMs);
  ASSERT_NE(b, nullptr);
  auto took = WaitFor([&] { return b->held() == Shards{0, 1, 2, 3}; }, milliseconds(30000));
  ASSERT_TRUE(took) << "b holds " << b->held().size();
  EXPECT_LT(took->count(), kLongLeaseMs / 2);
}

TEST_F(ShardLeases, CheckpointsAreWrittenIntoTheLeases) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  auto a = Start("worker-a", 800, 2);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return a->held() == Shards{0, 1}; }, milliseconds(10000)));
  a->Checkpointed(1, 4242);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto items = ScanWithCli();
        auto it = items.find("shardId-000000000001");
        return it != items.end() &&
               it->second.find("\"checkpoint\":{\"S\":\"4242\"}") != std::string::npos;
      },
      milliseconds(10000)));
  auto items = ScanWithCli();
  EXPECT_NE(items["shardId-000000000001"].find("\"ownerSwitchesSinceCheckpoint\":{\"N\":\"0\"}"),
            std::string::npos)
      << items["shardId-000000000001"];
  EXPECT_NE(items["shardId-000000000000"].find("\"checkpoint\":{\"S\":\"TRIM_HORIZON\"}"),
            std::string::npos)
      << items["shardId-000000000000"];
  // Closing releases: no owner left.
  a->Close();
  ASSERT_TRUE(WaitFor([&] { return a->closed(); }, milliseconds(5000)));
  for (const auto& [key, item] : ScanWithCli()) {
    EXPECT_EQ(item.find("leaseOwner"), std::string::npos) << item;
  }
}

TEST_F(ShardLeases, ATableWithAnotherKeySchemaIsRefusedWithTheFix) {
  CDC_SKIP_WITHOUT_AWS_CLI();
  auto r = testing::RunAwsCli(
      dynalite_->endpoint(),
      "dynamodb create-table --table-name " + table_ +
          " --attribute-definitions AttributeName=id,AttributeType=S --key-schema "
          "AttributeName=id,KeyType=HASH --billing-mode PAY_PER_REQUEST");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto assigner = state::OpenShardLeases(Config(1000), 2, "w");
  ASSERT_FALSE(assigner.ok());
  EXPECT_NE(assigner.status().message().find("needs (leaseKey HASH)"), std::string::npos)
      << assigner.status().message();
  EXPECT_NE(assigner.status().message().find("state.lease_table"), std::string::npos)
      << assigner.status().message();
}

}  // namespace
}  // namespace cdc
