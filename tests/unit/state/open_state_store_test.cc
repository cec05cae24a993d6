// The state store as the runtime and `status` open it: through OpenStateStore only.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "state/state_store.h"
#include "support/test_util.h"

namespace cdc::state {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

TEST(OpenStateStore, OwnsTheConfiguredStoreAndReadOnlyOpensSeeItsCommits) {
  testing::TempDir tmp;
  StateConfig config;
  config.data_dir = tmp.path();
  auto store = OpenStateStore(config, "pid 1 on host a", kT0);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->lease().owner, "pid 1 on host a");
  CheckpointCommit commit;
  commit.now_micros = kT0 + 1;
  commit.shard_checkpoints[0] = 7;
  commit.values["source.position"] = "22284664/729/0";
  ASSERT_TRUE((*store)->Commit(commit).ok());

  // A second owner is refused while the first holds the lease, and names it.
  auto second = OpenStateStore(config, "pid 2 on host b", kT0 + 2);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("pid 1 on host a"), std::string::npos)
      << second.status().message();

  // `status` reads beside the owner without taking the lease.
  auto reader = OpenStateStoreReadOnly(config);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto value = (*reader)->Value("source.position");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("22284664/729/0"));
  auto checkpoints = (*reader)->ShardCheckpoints();
  ASSERT_TRUE(checkpoints.ok());
  EXPECT_EQ(checkpoints->at(0), 7u);
}

}  // namespace
}  // namespace cdc::state
