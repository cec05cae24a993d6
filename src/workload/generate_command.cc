// `cdc-pipeline generate`: the CoreDB workload, registered as a command of this folder.
#include <atomic>
#include <charconv>
#include <cstdio>
#include <string>

#include "base/dsn.h"
#include "base/scrub.h"
#include "config/registry.h"
#include "workload/generator.h"

namespace cdc {
namespace {

int Generate(const CommandArgs& args, const std::atomic<bool>& stop) {
  std::optional<std::string> dsn = DsnFromArgOrEnv(args.Get("--dsn"));
  if (!dsn) return 2;
  workload::GeneratorOptions options;
  options.dsn = *dsn;
  options.rate = args.Number("--rate");
  options.duration = args.Number("--duration");
  const std::string& seed = args.Get("--seed");
  auto [end, ec] = std::from_chars(seed.data(), seed.data() + seed.size(), options.seed);
  if (ec != std::errc() || end != seed.data() + seed.size()) {
    std::fprintf(stderr, "--seed must be 0 or a positive integer, not '%s'\n", seed.c_str());
    return 2;
  }
  options.seed_only = args.Flag("--seed-only");
  auto report = workload::RunGenerator(options, stop, [](const workload::GeneratorReport& r) {
    std::fprintf(stderr, "\rgenerated %llu rows in %llu transactions (%.0f s)   ",
                 static_cast<unsigned long long>(r.total_rows),
                 static_cast<unsigned long long>(r.transactions), r.seconds);
  });
  std::fprintf(stderr, "\n");
  if (!report.ok()) {
    std::fprintf(stderr, "generate failed: %s\n", ScrubSecrets(report.status().message()).c_str());
    return 1;
  }
  if (options.seed_only) {
    std::printf("reference rows (products, inventory, configurations) are in place\n");
    return 0;
  }
  std::printf("committed %llu rows in %llu transactions in %.1f s:\n",
              static_cast<unsigned long long>(report->total_rows),
              static_cast<unsigned long long>(report->transactions), report->seconds);
  for (const auto& [table_op, n] : report->rows) {
    std::printf("  %-24s %8llu\n", table_op.c_str(), static_cast<unsigned long long>(n));
  }
  return 0;
}

}  // namespace

void RegisterGenerateCommand(Registry& registry) {
  using Type = CommandOption::Type;
  registry.AddCommand(CommandKind{
      "generate",
      "Drive a realistic CoreDB workload (sql/coredb.sql) and print what it committed",
      {
          {"--dsn", "Database (libpq connection string); default: $COREDB_DSN"},
          {"--rate", "Changed rows per second", Type::kNumber, "200"},
          {"--duration", "Seconds to run; 0 = until Ctrl-C", Type::kNumber, "10"},
          {"--seed", "Random seed (0 = from the clock)", Type::kString, "0"},
          {"--seed-only", "Only create the reference rows (products, inventory, configurations)",
           Type::kFlag},
      },
      Generate});
}

}  // namespace cdc
