// The original system's routing, as the tests check it: which consumers receive each CoreDB
// table, and which change types each table publishes.
#pragma once

#include <map>
#include <set>
#include <string>

namespace cdc::testing {

inline const std::map<std::string, std::set<std::string>>& CoreDbConsumers() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"users", {"wallboards", "analytics"}},     {"orders", {"wallboards", "reporting"}},
      {"products", {"catalog-service"}},          {"inventory", {"warehouse", "alerts"}},
      {"customers", {"crm", "analytics"}},        {"transactions", {"accounting", "audit"}},
      {"sessions", {"security", "analytics"}},    {"notifications", {"messaging-service"}},
      {"audit_logs", {"compliance", "security"}}, {"metrics", {"monitoring", "dashboards"}},
      {"configurations", {"config-service"}},     {"events", {"event-store"}}};
  return m;
}

inline const std::map<std::string, std::set<std::string>>& CoreDbEventTypes() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"users", {"INSERT", "UPDATE", "DELETE"}},
      {"orders", {"INSERT", "UPDATE"}},
      {"products", {"INSERT", "UPDATE", "DELETE"}},
      {"inventory", {"UPDATE"}},
      {"customers", {"INSERT", "UPDATE", "DELETE"}},
      {"transactions", {"INSERT"}},
      {"sessions", {"INSERT", "DELETE"}},
      {"notifications", {"INSERT", "UPDATE"}},
      {"audit_logs", {"INSERT"}},
      {"metrics", {"INSERT"}},
      {"configurations", {"UPDATE"}},
      {"events", {"INSERT"}}};
  return m;
}

}  // namespace cdc::testing
