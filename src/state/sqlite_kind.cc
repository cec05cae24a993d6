// The `sqlite` state store kind: its fields, parser and openers.
#include "config/config.h"
#include "state/sqlite_state_store.h"

namespace cdc::state {
namespace {

std::shared_ptr<const KindOptions> ParseOptions(OptionsReader& r) {
  auto o = std::make_shared<SqliteStateOptions>();
  r.String("path", o->path);
  return o;
}

Result<std::unique_ptr<StateStore>> Open(const StateConfig& config, const std::string& owner,
                                         int64_t now_micros) {
  return OpenSqliteStateStore(SqliteStatePath(config), owner, now_micros);
}

Result<std::unique_ptr<StateStore>> OpenReadOnly(const StateConfig& config) {
  return OpenSqliteStateStoreReadOnly(SqliteStatePath(config));
}

std::string Describe(const StateConfig& config) { return "SQLite " + SqliteStatePath(config); }

}  // namespace

std::string SqliteStatePath(const StateConfig& config) {
  const auto* o = config.OptionsAs<SqliteStateOptions>();
  if (o != nullptr && !o->path.empty()) return o->path;
  return (config.data_dir.empty() ? std::string(".") : config.data_dir) + "/state.db";
}

}  // namespace cdc::state

namespace cdc {

void RegisterSqliteStateStore(Registry& registry) {
  StateKind kind;
  kind.spec.name = "sqlite";
  kind.spec.description =
      "The embedded state store: one SQLite file in WAL mode (docs/state-store.md).";
  kind.spec.fields = {
      {"path", config::FieldType::kString, "<data_dir>/state.db",
       "SQLite file (WAL mode). Holds the lease that makes one process the owner of the data "
       "dir."},
  };
  kind.spec.parse = state::ParseOptions;
  kind.open = state::Open;
  kind.open_read_only = state::OpenReadOnly;
  kind.describe = state::Describe;
  kind.local_file = state::SqliteStatePath;
  kind.keeps_last_images = true;
  registry.AddState(std::move(kind));
}

}  // namespace cdc
