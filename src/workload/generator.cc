#include "workload/generator.h"

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "source/postgres/pg_connection.h"

namespace cdc::workload {
namespace {

using pg::PgConnection;

constexpr const char* kWarehouses[] = {"LHR-1", "FRA-2", "AMS-1"};
constexpr const char* kFirstNames[] = {"Ana", "Li", "Sam", "Noor", "Ivan", "Maya", "Omar", "Zoe"};
constexpr const char* kLastNames[] = {"Silva", "Wei", "Jones", "Haddad", "Petrov", "Okafor"};
constexpr const char* kChannels[] = {"email", "sms", "push"};
constexpr const char* kMetrics[] = {"checkout.latency_ms", "api.requests", "db.pool.in_use",
                                    "queue.depth"};
constexpr int kProducts = 40;
constexpr int kConfigs = 8;

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

class Workload {
 public:
  Workload(PgConnection& conn, uint64_t seed) : conn_(conn), rng_(seed) {
    run_ = std::to_string(seed % 1000000007);
  }

  Status Init() {
    CDC_RETURN_IF_ERROR(SeedReferenceRows());
    CDC_ASSIGN_OR_RETURN(next_id_, MaxId());
    return Status::Ok();
  }

  // One business action in one transaction.
  Status Step() {
    int dice = std::uniform_int_distribution<int>(0, 99)(rng_);
    CDC_RETURN_IF_ERROR(conn_.Execute("BEGIN"));
    Status s;
    if (dice < 14 || users_.empty()) {
      s = Signup();
    } else if (dice < 28) {
      s = Login();
    } else if (dice < 36 && !sessions_.empty()) {
      s = Logout();
    } else if (dice < 56) {
      s = PlaceOrder();
    } else if (dice < 70 && !open_orders_.empty()) {
      s = PayOrder();
    } else if (dice < 78) {
      s = EditCatalog();
    } else if (dice < 82) {
      s = ChangeConfig();
    } else if (dice < 90 && !customers_.empty()) {
      s = EditCustomer();
    } else if (dice < 92 && users_.size() > 5) {
      s = DeleteUser();
    } else {
      s = RecordMetrics();
    }
    if (!s.ok()) {
      (void)conn_.Execute("ROLLBACK");
      return s;
    }
    CDC_RETURN_IF_ERROR(conn_.Execute("COMMIT"));
    report_.transactions++;
    for (auto& [k, v] : pending_) {
      report_.rows[k] += v;
      report_.total_rows += v;
    }
    pending_.clear();
    return Status::Ok();
  }

  GeneratorReport& report() { return report_; }

 private:
  Status Run(const std::string& table_op, const std::string& sql,
             const std::vector<std::string>& params) {
    auto r = conn_.Query(sql, params);
    if (!r.ok()) return r.status().WithContext(table_op);
    pending_[table_op]++;
    return Status::Ok();
  }

  Result<int64_t> MaxId() {
    int64_t m = 1000;
    for (const char* t : {"products", "inventory", "notifications", "audit_logs", "metrics"}) {
      CDC_ASSIGN_OR_RETURN(auto rows,
                           conn_.Query(std::string("SELECT coalesce(max(id), 0) FROM ") + t));
      m = std::max<int64_t>(m, std::stoll(*rows.rows[0][0]));
    }
    return m + 1;
  }

  // Reference data the workload updates: products with stock in each warehouse, and feature
  // flags. Created once, before capture starts, so a snapshot (or nothing) sees their inserts.
  Status SeedReferenceRows() {
    CDC_RETURN_IF_ERROR(conn_.Execute("BEGIN"));
    for (int p = 1; p <= kProducts; ++p) {
      CDC_RETURN_IF_ERROR(
          conn_
              .Query("INSERT INTO products (id, sku, name, price, tags, attributes) VALUES ($1, "
                     "$2, $3, $4, "
                     "'{catalog}', '{\"color\":\"black\"}') ON CONFLICT (id) DO NOTHING",
                     {std::to_string(p), "SKU-" + std::to_string(p), "Product " + std::to_string(p),
                      std::to_string(5 + p) + ".99"})
              .status());
      for (int w = 0; w < 3; ++w) {
        CDC_RETURN_IF_ERROR(
            conn_
                .Query("INSERT INTO inventory (id, product_id, warehouse, quantity) VALUES ($1, "
                       "$2, $3, 1000) "
                       "ON CONFLICT (id) DO NOTHING",
                       {std::to_string(p * 10 + w), std::to_string(p), kWarehouses[w]})
                .status());
      }
    }
    for (int c = 1; c <= kConfigs; ++c) {
      CDC_RETURN_IF_ERROR(conn_
                              .Query("INSERT INTO configurations (id, value) VALUES ($1, "
                                     "'{\"enabled\":false}') ON CONFLICT "
                                     "(id) DO NOTHING",
                                     {"feature.flag_" + std::to_string(c)})
                              .status());
    }
    return conn_.Execute("COMMIT");
  }

  std::string NewId(const char* prefix) {
    return std::string(prefix) + run_ + "_" + std::to_string(next_id_++);
  }
  int64_t NewNumericId() { return next_id_++; }

  Status Signup() {
    std::string user = NewId("usr_");
    std::string name = std::string(Pick(rng_, kFirstNames)) + " " + Pick(rng_, kLastNames);
    std::string email = user + "@example.com";
    CDC_RETURN_IF_ERROR(
        Run("users.INSERT",
            "INSERT INTO users (id, email, phone, full_name, roles) VALUES ($1, $2, "
            "$3, $4, '{customer}')",
            {user, email, "+44 20 7946 " + std::to_string(1000 + next_id_ % 9000), name}));
    std::string customer = NewId("cus_");
    CDC_RETURN_IF_ERROR(Run("customers.INSERT",
                            "INSERT INTO customers (id, user_id, full_name, email, address, "
                            "date_of_birth) VALUES ($1, $2, $3, $4, '{\"city\":\"London\"}', "
                            "'1990-05-17')",
                            {customer, user, name, email}));
    CDC_RETURN_IF_ERROR(Event("signup", user));
    CDC_RETURN_IF_ERROR(Audit(user, "user.signup", "users", user));
    users_.push_back(user);
    customers_.push_back(customer);
    return Status::Ok();
  }

  Status Login() {
    const std::string& user = users_[Index(users_.size())];
    std::string session = NewId("ses_");
    CDC_RETURN_IF_ERROR(
        Run("sessions.INSERT",
            "INSERT INTO sessions (id, user_id, auth_token, refresh_token, ip, "
            "expires_at) VALUES ($1, $2, $3, $4, '203.0.113.7', now() + interval "
            "'1 day')",
            {session, user, "tok_" + std::to_string(rng_()), "ref_" + std::to_string(rng_())}));
    CDC_RETURN_IF_ERROR(
        Run("users.UPDATE",
            "UPDATE users SET last_login_at = now(), updated_at = now() WHERE id = $1", {user}));
    sessions_.push_back(session);
    return Metric("auth.logins", 1);
  }

  Status Logout() {
    size_t i = Index(sessions_.size());
    CDC_RETURN_IF_ERROR(
        Run("sessions.DELETE", "DELETE FROM sessions WHERE id = $1", {sessions_[i]}));
    sessions_.erase(sessions_.begin() + static_cast<long>(i));
    return Status::Ok();
  }

  Status PlaceOrder() {
    if (users_.empty()) return Signup();
    const std::string& user = users_[Index(users_.size())];
    int product = static_cast<int>(Index(kProducts)) + 1;
    std::string order = NewId("ord_");
    std::string total = std::to_string(10 + Index(200)) + "." + std::to_string(10 + Index(89));
    CDC_RETURN_IF_ERROR(
        Run("orders.INSERT",
            "INSERT INTO orders (id, user_id, card_number, card_last4, items, "
            "total) VALUES ($1, $2, '4242424242424242', '4242', $3, $4)",
            {order, user, "[{\"product\":" + std::to_string(product) + ",\"qty\":1}]", total}));
    CDC_RETURN_IF_ERROR(Run("inventory.UPDATE",
                            "UPDATE inventory SET quantity = quantity - 1, updated_at = now() "
                            "WHERE id = $1",
                            {std::to_string(product * 10 + static_cast<int>(Index(3)))}));
    int64_t notification = NewNumericId();
    CDC_RETURN_IF_ERROR(Run("notifications.INSERT",
                            "INSERT INTO notifications (id, user_id, channel, template) VALUES "
                            "($1, $2, $3, 'order_placed')",
                            {std::to_string(notification), user, Pick(rng_, kChannels)}));
    CDC_RETURN_IF_ERROR(Event("order_placed", order));
    CDC_RETURN_IF_ERROR(Audit(user, "order.place", "orders", order));
    open_orders_.push_back({order, notification});
    return Status::Ok();
  }

  Status PayOrder() {
    size_t i = Index(open_orders_.size());
    auto [order, notification] = open_orders_[i];
    open_orders_.erase(open_orders_.begin() + static_cast<long>(i));
    CDC_RETURN_IF_ERROR(Run("orders.UPDATE",
                            "UPDATE orders SET status = 'paid', updated_at = now() WHERE id = $1",
                            {order}));
    CDC_RETURN_IF_ERROR(
        Run("transactions.INSERT",
            "INSERT INTO transactions (id, order_id, account_number, iban, amount, "
            "currency, reference, value_date) SELECT $1, id, 'GB29NWBK60161331926819', "
            "'GB29NWBK60161331926819', total, currency, gen_random_uuid(), "
            "current_date FROM orders WHERE id = $2",
            {NewId("txn_"), order}));
    CDC_RETURN_IF_ERROR(Run("notifications.UPDATE",
                            "UPDATE notifications SET status = 'sent', attempts = attempts + 1, "
                            "sent_at = now() WHERE id = $1",
                            {std::to_string(notification)}));
    return Metric("checkout.latency_ms", 50 + static_cast<double>(Index(400)));
  }

  Status EditCatalog() {
    int dice = static_cast<int>(Index(10));
    if (dice < 3) {
      int64_t id = NewNumericId();
      CDC_RETURN_IF_ERROR(Run("products.INSERT",
                              "INSERT INTO products (id, sku, name, price, weight_kg) VALUES ($1, "
                              "$2, $3, $4, 0.5)",
                              {std::to_string(id), "SKU-" + run_ + "-" + std::to_string(id),
                               "Limited " + std::to_string(id), "19.90"}));
      extra_products_.push_back(id);
      return Status::Ok();
    }
    if (dice < 5 && !extra_products_.empty()) {
      int64_t id = extra_products_.back();
      extra_products_.pop_back();
      return Run("products.DELETE", "DELETE FROM products WHERE id = $1", {std::to_string(id)});
    }
    return Run("products.UPDATE",
               "UPDATE products SET price = price + 1, updated_at = now() WHERE id = $1",
               {std::to_string(Index(kProducts) + 1)});
  }

  Status ChangeConfig() {
    return Run("configurations.UPDATE",
               "UPDATE configurations SET value = jsonb_build_object('enabled', NOT "
               "coalesce((value->>'enabled')::boolean, false)), version = version + 1, "
               "updated_by = 'generator', updated_at = now() WHERE id = $1",
               {"feature.flag_" + std::to_string(Index(kConfigs) + 1)});
  }

  Status EditCustomer() {
    size_t i = Index(customers_.size());
    if (Index(10) == 0) {
      CDC_RETURN_IF_ERROR(
          Run("customers.DELETE", "DELETE FROM customers WHERE id = $1", {customers_[i]}));
      customers_.erase(customers_.begin() + static_cast<long>(i));
      return Status::Ok();
    }
    return Run("customers.UPDATE",
               "UPDATE customers SET loyalty_tier = $2, updated_at = now() WHERE id = $1",
               {customers_[i], Index(2) ? "gold" : "silver"});
  }

  Status DeleteUser() {
    size_t i = Index(users_.size());
    std::string user = users_[i];
    users_.erase(users_.begin() + static_cast<long>(i));
    // Sessions of the user end too (their DELETE events matter to Security).
    for (size_t k = 0; k < sessions_.size();) {
      auto owner = conn_.Query("SELECT user_id FROM sessions WHERE id = $1", {sessions_[k]});
      if (owner.ok() && !owner->empty() && owner->rows[0][0] == user) {
        CDC_RETURN_IF_ERROR(
            Run("sessions.DELETE", "DELETE FROM sessions WHERE id = $1", {sessions_[k]}));
        sessions_.erase(sessions_.begin() + static_cast<long>(k));
      } else {
        ++k;
      }
    }
    CDC_RETURN_IF_ERROR(Run("users.DELETE", "DELETE FROM users WHERE id = $1", {user}));
    return Audit("admin", "user.delete", "users", user);
  }

  Status RecordMetrics() {
    for (int i = 0; i < 3; ++i) {
      CDC_RETURN_IF_ERROR(Metric(Pick(rng_, kMetrics), static_cast<double>(Index(1000)) / 10));
    }
    return Status::Ok();
  }

  Status Metric(const std::string& name, double value) {
    return Run("metrics.INSERT",
               "INSERT INTO metrics (id, name, value, tags, samples) VALUES ($1, $2, $3, "
               "'{\"region\":\"eu\"}', ARRAY[$3::float8])",
               {std::to_string(NewNumericId()), name, std::to_string(value)});
  }

  Status Event(const std::string& type, const std::string& subject) {
    return Run("events.INSERT",
               "INSERT INTO events (id, type, payload) VALUES ($1, $2, "
               "jsonb_build_object('subject', $3::text))",
               {NewId("evt_"), type, subject});
  }

  Status Audit(const std::string& actor, const std::string& action, const std::string& table,
               const std::string& target) {
    return Run("audit_logs.INSERT",
               "INSERT INTO audit_logs (id, actor, action, target_table, target_id, details, "
               "source_ip, request_id) VALUES ($1, $2, $3, $4, $5, '{\"via\":\"generator\"}', "
               "'198.51.100.4', gen_random_uuid())",
               {std::to_string(NewNumericId()), actor, action, table, target});
  }

  size_t Index(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  PgConnection& conn_;
  std::mt19937_64 rng_;
  std::string run_;
  int64_t next_id_ = 1000;
  std::vector<std::string> users_, customers_, sessions_;
  std::vector<std::pair<std::string, int64_t>> open_orders_;
  std::vector<int64_t> extra_products_;
  std::map<std::string, uint64_t> pending_;
  GeneratorReport report_;
};

}  // namespace

Result<GeneratorReport> RunGenerator(const GeneratorOptions& options, const std::atomic<bool>& stop,
                                     const std::function<void(const GeneratorReport&)>& progress) {
  CDC_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options.dsn));
  uint64_t seed =
      options.seed
          ? options.seed
          : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  Workload w(*conn, seed);
  CDC_RETURN_IF_ERROR(w.Init());
  if (options.seed_only) return w.report();
  auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  while (!stop) {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    if (options.duration > 0 && elapsed >= options.duration) break;
    // Pace: stay at `rate` rows per second on average.
    double due = elapsed * options.rate;
    if (static_cast<double>(w.report().total_rows) >= due) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    } else {
      CDC_RETURN_IF_ERROR(w.Step());
    }
    if (progress && now - last_progress >= std::chrono::seconds(1)) {
      last_progress = now;
      w.report().seconds = elapsed;
      progress(w.report());
    }
  }
  w.report().seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return w.report();
}

}  // namespace cdc::workload
