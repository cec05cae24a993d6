// The web wallboard of the admin server (issue 16), as a person at a wall screen sees it: the
// real binary with the shipped config streams from a real PostgreSQL while the workload generator
// runs, and headless Chromium (puppeteer-core from the lockfile, Debian's chromium) opens the page;
// tests/e2e/wallboard/wallboard_check.js asserts that its figures move and agree with
// /api/status, that a dead letter's reason shows up, and saves a screenshot into the test's temp
// dir (its path is printed; CDC_WALLBOARD_SCREENSHOT=FILE keeps a copy).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "support/pg_server.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::CliProcess;
using testing::PgServer;
using testing::TempDir;

bool WaitFor(const std::function<bool()>& done, double seconds = 120) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

TEST(WallboardTest, FiguresMoveAndMatchTheStatusInABrowser) {
  ASSERT_EQ(
      std::system(
          "command -v node >/dev/null 2>&1 && test -x /usr/bin/chromium && test -d '" CDC_SOURCE_DIR
          "/node_modules/puppeteer-core'"),
      0)
      << "node, /usr/bin/chromium or node_modules/puppeteer-core is missing: run scripts/bootstrap";
  auto started = PgServer::StartCoreDb();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto server = std::move(started).value();
  TempDir data;
  std::map<std::string, std::string> env = {{"COREDB_DSN", server->Dsn("coredb")},
                                            {"CDC_DATA_DIR", data.path()},
                                            {"CDC_ADMIN_LISTEN", "127.0.0.1:0"},
                                            {"CDC_LOG_LEVEL", "info"}};
  auto seed = testing::RunCli({"generate", "--seed-only"}, env);
  ASSERT_EQ(seed.exit_code, 0) << seed.out << seed.err;

  std::string log = data / "run.log";
  CliProcess run({"run"}, env, log);
  std::string address;
  ASSERT_TRUE(WaitFor([&] {
    address = testing::ReadFile(data / "admin.addr");
    return !address.empty() && address.back() == '\n';
  })) << testing::ReadFile(log);
  address.pop_back();
  ASSERT_TRUE(WaitFor([&] {
    return testing::ReadFile(log).find("streaming from slot") != std::string::npos;
  })) << testing::ReadFile(log);

  // A change the metrics model rejects (a column it does not have): one dead letter, whose reason
  // names the table and the column, never the value.
  ASSERT_TRUE(server->Execute("ALTER TABLE metrics ADD COLUMN secret_note text", "coredb").ok());
  ASSERT_TRUE(server
                  ->Execute("INSERT INTO metrics (id, name, value, tags, recorded_at, secret_note) "
                            "VALUES (900001, 'm', 1, '{}', now(), 'do-not-show-this-value')",
                            "coredb")
                  .ok());

  CliProcess generate({"generate", "--rate", "300", "--duration", "600", "--seed", "3"}, env,
                      data / "generate.log");
  std::string check_log = data / "wallboard_check.log";
  std::string command = "node '" CDC_SOURCE_DIR
                        "/tests/e2e/wallboard/wallboard_check.js' 'http://" +
                        address + "' '" + data.path() + "' metrics > '" + check_log + "' 2>&1";
  int rc = std::system(command.c_str());
  std::string output = testing::ReadFile(check_log);
  std::printf("%s", output.c_str());
  EXPECT_EQ(rc, 0) << output << "\n" << testing::ReadFile(log);
  EXPECT_NE(output.find("screenshot: " + (data / "wallboard.png")), std::string::npos) << output;
  EXPECT_TRUE(std::filesystem::exists(data / "wallboard.png"));
  // The temp dir goes away with the test: CDC_WALLBOARD_SCREENSHOT=FILE keeps a copy.
  if (const char* keep = std::getenv("CDC_WALLBOARD_SCREENSHOT"); keep != nullptr && *keep) {
    std::error_code ec;
    std::filesystem::copy_file(data / "wallboard.png", keep,
                               std::filesystem::copy_options::overwrite_existing, ec);
    EXPECT_FALSE(ec) << keep << ": " << ec.message();
  }
  EXPECT_EQ(output.find("do-not-show-this-value"), std::string::npos) << output;

  generate.Signal(SIGTERM);
  generate.Wait(60);
  run.Signal(SIGTERM);
  EXPECT_EQ(run.Wait(120), 0) << testing::ReadFile(log);
}

}  // namespace
}  // namespace cdc
