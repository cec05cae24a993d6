// Redaction wired into the pipeline: capture and processor placement give the same events, the
// redacted columns reach detail.redacted, rejected changes are dead-lettered in redacted form,
// malformed input is scrubbed by every detector, and `enabled: false` lets values through.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "runtime/pipeline.h"
#include "source/json/json_source.h"
#include "support/test_util.h"

namespace cdc {
namespace {

using testing::TempDir;

constexpr const char* kKeyVar = "PIPELINE_REDACTION_TEST_KEY";

std::string Yaml(const std::string& redact_at, const std::string& enabled = "true") {
  return R"(pipeline: {name: t, data_dir: "${DIR}"}
redaction:
  enabled: )" +
         enabled + R"(
  keys: {k1: env:PIPELINE_REDACTION_TEST_KEY}
tables:
  users:
    event_types: [INSERT, UPDATE]
    pii: personal
    redact_at: )" +
         redact_at + R"(
    redact:
      email: mask:email
      phone: hash
      card: remove
      notes: {detect: [email, phone]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: {type: file, path: "${DIR}/out.jsonl", fsync: never}
)";
}

const char* kInput =
    R"({"eventType":"UPDATE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
    R"("before":{"id":"u1","email":"jane.roe@example.com","phone":"+1 415 555 2671","card":"4111111111111111","notes":"x"},)"
    R"("after":{"id":"u1","email":"jane.roe@example.com","phone":"+1 415 555 2672","card":"4111111111111111","notes":"call +1 415 555 2671"}})"
    "\n"
    // DELETE is not published by users: dead-lettered
    R"({"eventType":"DELETE","tableName":"users","timestamp":"2024-01-15T10:30:00Z",)"
    R"("before":{"id":"u2","email":"jane.roe@example.com","phone":"+1 415 555 2671","card":"4111111111111111"}})"
    "\n"
    // malformed JSON
    R"({"eventType":"INSERT","tableName":"users","after":{"email":"jane.roe@example.com","card":"4111 1111 1111 1111")"
    "\n";

struct RunOutput {
  std::vector<std::string> events;
  std::vector<std::string> dead_letters;
};

RunOutput RunPipeline(const std::string& yaml) {
  TempDir dir;
  EnvOptions env;
  env.dotenv_path = "";
  env.use_process_env = false;
  env.overrides = {{"DIR", dir.path()}};
  auto loaded = LoadConfigFromString(yaml, "t.yaml", env);
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.ToString();
  if (!loaded.config) return {};
  FixedClock clock(*ParseRfc3339("2024-01-01T00:00:00Z"));
  auto pipeline = Pipeline::Build(loaded.config, clock);
  if (!pipeline.ok()) {
    ADD_FAILURE() << pipeline.status().ToString();
    return {};
  }
  testing::WriteFile(dir / "in.jsonl", kInput);
  JsonSource source(dir / "in.jsonl", "in.jsonl");
  EXPECT_TRUE((*pipeline)->Run(source).ok());
  return {testing::ReadLines(dir / "out.jsonl"), testing::ReadLines(dir / "dead-letter.jsonl")};
}

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class PipelineRedaction : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kKeyVar, "pipeline-redaction-test-key-0123456789", 1); }
  void TearDown() override { ::unsetenv(kKeyVar); }
};

TEST_F(PipelineRedaction, CaptureAndProcessorPlacementPublishTheSameRedactedEvent) {
  RunOutput capture = RunPipeline(Yaml("capture"));
  RunOutput processor = RunPipeline(Yaml("processor"));
  ASSERT_EQ(capture.events.size(), 1u);
  EXPECT_EQ(capture.events, processor.events);
  // The two dead letters come from different stream shards (the malformed line's and the
  // users row's), whose relative order depends on when the delivery thread reads each shard.
  std::sort(capture.dead_letters.begin(), capture.dead_letters.end());
  std::sort(processor.dead_letters.begin(), processor.dead_letters.end());
  EXPECT_EQ(capture.dead_letters, processor.dead_letters);
  const std::string& e = capture.events[0];
  EXPECT_TRUE(Has(e, R"("redacted":["card","email","notes","phone"])")) << e;
  EXPECT_TRUE(Has(e, R"("email":"j***@example.com")")) << e;
  EXPECT_TRUE(Has(e, R"("notes":"call [REDACTED:phone]")")) << e;
  EXPECT_TRUE(Has(e, R"("phone":"hmac:k1:)")) << e;
  EXPECT_TRUE(Has(e, R"("changedFields":["notes","phone"])")) << e;
  for (const auto& pii : {"jane.roe", "415 555", "4111"}) {
    EXPECT_FALSE(Has(e, pii)) << pii << " in " << e;
  }
}

TEST_F(PipelineRedaction, DeadLettersHoldTheRedactedChangeAndScrubbedMalformedInput) {
  for (const char* at : {"capture", "processor"}) {
    SCOPED_TRACE(at);
    RunOutput out = RunPipeline(Yaml(at));
    ASSERT_EQ(out.dead_letters.size(), 2u);
    // Dead letters of different rows come in shard order: find each by its stage.
    bool first_is_source = Has(out.dead_letters[0], R"("stage":"source")");
    const std::string& rejected = out.dead_letters[first_is_source ? 1 : 0];
    EXPECT_TRUE(Has(rejected, "event type DELETE is not allowed for table users")) << rejected;
    EXPECT_TRUE(Has(rejected, R"("email":"j***@example.com")")) << rejected;
    EXPECT_TRUE(Has(rejected, R"("phone":"hmac:k1:)")) << rejected;
    const std::string& malformed = out.dead_letters[first_is_source ? 0 : 1];
    EXPECT_TRUE(Has(malformed, R"("stage":"source")")) << malformed;
    EXPECT_TRUE(Has(malformed, "[REDACTED:email]")) << malformed;
    EXPECT_TRUE(Has(malformed, "[REDACTED:card]")) << malformed;
    for (const auto& line : out.dead_letters) {
      for (const auto& pii : {"jane.roe", "415 555", "4111"}) {
        EXPECT_FALSE(Has(line, pii)) << pii << " in " << line;
      }
    }
  }
}

TEST_F(PipelineRedaction, DisabledRedactionLetsValuesThrough) {
  RunOutput out = RunPipeline(Yaml("capture", "false"));
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(Has(out.events[0], "jane.roe@example.com")) << out.events[0];
  EXPECT_TRUE(Has(out.events[0], "4111111111111111"));
  EXPECT_FALSE(Has(out.events[0], "\"redacted\""));
}

}  // namespace
}  // namespace cdc
