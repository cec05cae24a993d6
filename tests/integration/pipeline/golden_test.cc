// Golden-file tests for whole pipelines. Each folder under tests/golden/ holds:
//   config.yaml     (optional; default: the shipped config/cdc-pipeline.yaml)
//   input.jsonl     change events fed to the JSON source
//   expected/       every output file the run must leave in the data dir (consumer files,
//                   dead-letter file), and no others; the stream and the state store are not
//                   outputs. Lines are compared in order per row (table + key); the order across
//                   rows follows the shards of the stream, so files are compared sorted.
// The data dir is a fresh temp dir (CDC_DATA_DIR) and the clock is fixed at
// 2024-01-01T00:00:00Z, so outputs are deterministic. Regenerate with CDC_UPDATE_GOLDEN=1 and
// review the diff.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "runtime/pipeline.h"
#include "source/json/json_source.h"
#include "support/test_util.h"

namespace cdc {
namespace {

namespace fs = std::filesystem;

void RunCase(const fs::path& dir) {
  SCOPED_TRACE("golden case " + dir.filename().string());
  testing::TempDir data;
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"CDC_DATA_DIR", data.path()}, {"CDC_HMAC_KEY_SOURCE", "env:CDC_HMAC_KEY"}};
  std::string config_path = fs::exists(dir / "config.yaml")
                                ? (dir / "config.yaml").string()
                                : testing::SourcePath("config/cdc-pipeline.yaml");
  // The shipped config hashes with the key in CDC_HMAC_KEY; a fixed one keeps the tokens in the
  // expected files stable.
  ::setenv("CDC_HMAC_KEY", "golden-test-hmac-key-not-a-secret", 1);
  auto loaded = LoadAndValidate(config_path, env);
  ASSERT_TRUE(loaded.config) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  FixedClock clock(*ParseRfc3339("2024-01-01T00:00:00Z"));
  auto pipeline = Pipeline::Build(loaded.config, clock);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  JsonSource source((dir / "input.jsonl").string(), "input.jsonl");
  ASSERT_TRUE((*pipeline)->Run(source).ok());

  std::vector<std::string> produced;
  for (const auto& f : testing::ListFiles(data.path())) {
    if (f.rfind("stream/", 0) == 0 || f.rfind("state.db", 0) == 0) continue;
    produced.push_back(f);
  }
  fs::path expected_dir = dir / "expected";
  if (std::getenv("CDC_UPDATE_GOLDEN")) {
    fs::remove_all(expected_dir);
    for (const auto& f : produced) {
      auto lines = testing::ReadLines(data / f);
      std::sort(lines.begin(), lines.end());
      std::string text;
      for (const auto& l : lines) text += l + "\n";
      testing::WriteFile((expected_dir / f).string(), text);
    }
    GTEST_SKIP() << "golden files rewritten in " << expected_dir;
  }
  auto expected = testing::ListFiles(expected_dir.string());
  EXPECT_EQ(produced, expected);
  for (const auto& f : expected) {
    auto got = testing::ReadLines(data / f);
    auto want = testing::ReadLines((expected_dir / f).string());
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "output file " << f << " differs from " << (expected_dir / f).string();
  }
}

TEST(Golden, EveryCaseProducesItsExpectedFiles) {
  fs::path root = testing::SourcePath("tests/golden");
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory()) cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) RunCase(c);
}

}  // namespace
}  // namespace cdc
