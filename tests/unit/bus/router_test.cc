#include "bus/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cdc {
namespace {

constexpr std::string_view kUserUpdate =
    R"({"version":"0","id":"e1","detail-type":"users.UPDATE","source":"cdc.coredb",)"
    R"("account":"000000000000","time":"2024-01-15T10:30:00Z","region":"local","resources":[],)"
    R"("detail":{"eventType":"UPDATE","tableName":"users","after":{"id":42,"status":"active"}}})";

constexpr std::string_view kOrderInsert =
    R"({"version":"0","id":"e2","detail-type":"orders.INSERT","source":"cdc.coredb",)"
    R"("account":"000000000000","time":"2024-01-15T10:31:00Z","region":"local","resources":[],)"
    R"("detail":{"eventType":"INSERT","tableName":"orders","after":{"id":7}}})";

constexpr std::string_view kPaymentDelete =
    R"({"version":"0","id":"e3","detail-type":"payments.DELETE","source":"cdc.coredb",)"
    R"("account":"000000000000","time":"2024-01-15T10:32:00Z","region":"local","resources":[],)"
    R"("detail":{"eventType":"DELETE","tableName":"payments"}})";

// The runner's order of targets, as the lookup reports it.
const std::vector<std::string> kTargets = {"wallboards", "analytics", "failed-analytics",
                                           "archive:audit"};

int FindTarget(std::string_view name) {
  for (size_t i = 0; i < kTargets.size(); ++i) {
    if (kTargets[i] == name) return static_cast<int>(i);
  }
  return -1;
}

RouterRule UserUpdates() {
  RouterRule rule{"user-updates", R"({"detail-type":["users.UPDATE"]})", {}};
  RouterRule::Target target{"wallboards", "", {}};
  target.input.input_paths_map = {{"status", "$.detail.after.status"}};
  target.input.input_template = R"({"status":<status>,"rule":"<aws.events.rule-arn>"})";
  rule.targets.push_back(std::move(target));
  return rule;
}

RouterRule AllChanges() {
  RouterRule rule{"all-changes",
                  R"({"source":["cdc.coredb"],"detail-type":[{"anything-but":)"
                  R"(["payments.DELETE"]}]})",
                  {}};
  rule.targets.push_back({"analytics", "failed-analytics", {}});
  rule.targets.push_back({"wallboards", "", {}});
  return rule;
}

RouterRule Archive() { return {"archive:audit", "{}", {{"archive:audit", "", {}}}}; }

Result<std::unique_ptr<Router>> BuildRouter() {
  std::vector<RouterRule> rules;
  rules.push_back(UserUpdates());
  rules.push_back(AllChanges());
  std::vector<RouterRule> archives;
  archives.push_back(Archive());
  return Router::Build(std::move(rules), std::move(archives),
                       {"local", "000000000000", "cdc-events"}, FindTarget);
}

std::vector<uint32_t> Match(const Router& router, std::string_view event) {
  std::vector<uint32_t> matched;
  Status s = router.Match(event, matched);
  EXPECT_TRUE(s.ok()) << s.message();
  return matched;
}

TEST(Router, ResolvesEachRuleTargetToItsIndexAndDeadLetter) {
  auto router = BuildRouter();
  ASSERT_TRUE(router.ok()) << router.status().message();
  const Router& r = **router;
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.user_rules(), 2u);
  EXPECT_EQ(r.rule_name(0), "user-updates");
  EXPECT_EQ(r.rule_name(1), "all-changes");
  EXPECT_EQ(r.rule_name(2), "archive:audit");
  EXPECT_FALSE(r.IsArchiveRule(1));
  EXPECT_TRUE(r.IsArchiveRule(2));

  ASSERT_EQ(r.targets(0).size(), 1u);
  EXPECT_EQ(r.targets(0)[0].name, "wallboards");
  EXPECT_EQ(r.targets(0)[0].index, 0u);
  EXPECT_EQ(r.targets(0)[0].dead_letter, -1);
  EXPECT_NE(r.targets(0)[0].input, nullptr);

  ASSERT_EQ(r.targets(1).size(), 2u);
  EXPECT_EQ(r.targets(1)[0].name, "analytics");
  EXPECT_EQ(r.targets(1)[0].index, 1u);
  EXPECT_EQ(r.targets(1)[0].dead_letter, 2);
  EXPECT_EQ(r.targets(1)[0].input, nullptr);
  EXPECT_EQ(r.targets(1)[1].index, 0u);
  EXPECT_EQ(r.targets(1)[1].dead_letter, -1);

  ASSERT_EQ(r.targets(2).size(), 1u);
  EXPECT_EQ(r.targets(2)[0].index, 3u);
}

TEST(Router, MatchesInRuleOrderAndCountsArchiveOnlyAsUnmatched) {
  auto router = BuildRouter();
  ASSERT_TRUE(router.ok()) << router.status().message();
  const Router& r = **router;

  auto user = Match(r, kUserUpdate);
  EXPECT_EQ(user, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_FALSE(r.Unmatched(user));

  auto order = Match(r, kOrderInsert);
  EXPECT_EQ(order, (std::vector<uint32_t>{1, 2}));
  EXPECT_FALSE(r.Unmatched(order));

  // Only the archive keeps it: archives are not rules.
  auto payment = Match(r, kPaymentDelete);
  EXPECT_EQ(payment, (std::vector<uint32_t>{2}));
  EXPECT_TRUE(r.Unmatched(payment));

  EXPECT_TRUE(r.Unmatched({}));
}

TEST(Router, AppliesTheInputTransformerWithTheRuleArn) {
  auto router = BuildRouter();
  ASSERT_TRUE(router.ok()) << router.status().message();
  const Router& r = **router;
  RoutedEvent event;
  event.Reset(kUserUpdate);

  auto plain = event.Input(r.targets(1)[0]);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(*plain, nullptr);

  auto input = event.Input(r.targets(0)[0]);
  ASSERT_TRUE(input.ok()) << input.status().message();
  ASSERT_NE(*input, nullptr);
  EXPECT_EQ(**input,
            R"({"status":"active","rule":"arn:aws:events:local:000000000000:rule/cdc-events/)"
            R"(user-updates"})");

  // The next event is parsed again, not served from the last one.
  event.Reset(kOrderInsert);
  input = event.Input(r.targets(0)[0]);
  ASSERT_TRUE(input.ok()) << input.status().message();
  EXPECT_EQ(**input, R"({"status":null,"rule":"arn:aws:events:local:000000000000:rule/cdc-events/)"
                     R"(user-updates"})");
}

TEST(Router, InputOfAnEventThatIsNotJsonIsAnError) {
  auto router = BuildRouter();
  ASSERT_TRUE(router.ok()) << router.status().message();
  RoutedEvent event;
  event.Reset("not json");
  EXPECT_FALSE(event.Input((*router)->targets(0)[0]).ok());
}

TEST(Router, UnknownTargetsAreErrors) {
  std::vector<RouterRule> rules;
  rules.push_back(AllChanges());
  rules.back().targets[0].dead_letter = "nowhere";
  auto router = Router::Build(std::move(rules), {}, {}, FindTarget);
  ASSERT_FALSE(router.ok());
  EXPECT_EQ(router.status().message(), "rule 'all-changes': unknown target 'nowhere'");

  rules.clear();
  rules.push_back(UserUpdates());
  rules.back().targets[0].name = "missing";
  router = Router::Build(std::move(rules), {}, {}, FindTarget);
  ASSERT_FALSE(router.ok());
  EXPECT_EQ(router.status().message(), "rule 'user-updates': unknown target 'missing'");
}

}  // namespace
}  // namespace cdc
