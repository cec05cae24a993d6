#include "bus/pattern_cli.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace cdc {
namespace {

// Runs `fn(out, err)` with temporary files as the streams and returns (rc, out, err).
struct Captured {
  int rc;
  std::string out, err;
};

std::string Slurp(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  return s;
}

template <typename F>
Captured Capture(F fn) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Captured c{fn(out, err), "", ""};
  c.out = Slurp(out);
  c.err = Slurp(err);
  std::fclose(out);
  std::fclose(err);
  return c;
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << content;
  return path;
}

const char* kEvent = R"({"source":"cdc.coredb","detail":{"tableName":"users","n":5}})";

TEST(TestEventPattern, PrintsResultLikeTheAwsCli) {
  auto c = Capture([](std::FILE* o, std::FILE* e) {
    return RunTestEventPattern(R"({"source":["cdc.coredb"]})", kEvent, o, e);
  });
  EXPECT_EQ(c.rc, 0);
  EXPECT_EQ(c.out, "{\"Result\": true}\n");
  EXPECT_EQ(c.err, "");
  c = Capture([](std::FILE* o, std::FILE* e) {
    return RunTestEventPattern(R"({"detail":{"n":[{"numeric":[">",5]}]}})", kEvent, o, e);
  });
  EXPECT_EQ(c.rc, 0);
  EXPECT_EQ(c.out, "{\"Result\": false}\n");
}

TEST(TestEventPattern, ReadsAtFiles) {
  std::string p = TempFile("pattern.json", R"({"detail":{"tableName":[{"prefix":"us"}]}})");
  std::string e = TempFile("event.json", kEvent);
  auto c = Capture(
      [&](std::FILE* o, std::FILE* er) { return RunTestEventPattern("@" + p, "@" + e, o, er); });
  EXPECT_EQ(c.rc, 0);
  EXPECT_EQ(c.out, "{\"Result\": true}\n");
  c = Capture([&](std::FILE* o, std::FILE* er) {
    return RunTestEventPattern("@/nonexistent/p.json", kEvent, o, er);
  });
  EXPECT_EQ(c.rc, 1);
  EXPECT_NE(c.err.find("cannot read /nonexistent/p.json"), std::string::npos) << c.err;
}

TEST(TestEventPattern, InvalidPatternPrintsTheReason) {
  auto c = Capture([](std::FILE* o, std::FILE* e) {
    return RunTestEventPattern(R"({"source":"cdc.coredb"})", kEvent, o, e);
  });
  EXPECT_EQ(c.rc, 1);
  EXPECT_EQ(c.out, "");
  EXPECT_EQ(c.err,
            "Event pattern is not valid. Reason: \"source\" must be an object or an array\n");
  c = Capture([](std::FILE* o, std::FILE* e) {
    return RunTestEventPattern(R"({"source":["x"]})", "{not json", o, e);
  });
  EXPECT_EQ(c.rc, 1);
  EXPECT_EQ(c.err, "Event is not valid JSON\n");
}

TEST(TestEventPatternBatch, OneResultPerLine) {
  std::string path =
      TempFile("batch.jsonl",
               R"({"pattern":{"source":["cdc.coredb"]},"event":)" + std::string(kEvent) + "}\n" +
                   R"({"pattern":"{\"source\":[\"x\"]}","event":)" + kEvent + "}\n\n" +
                   R"({"pattern":{"source":"x"},"event":{}})" + "\n" + R"({"event":{}})" + "\n");
  auto c =
      Capture([&](std::FILE* o, std::FILE* e) { return RunTestEventPatternBatch(path, o, e); });
  EXPECT_EQ(c.rc, 1);
  EXPECT_EQ(c.out,
            "{\"Result\": true}\n"
            "{\"Result\": false}\n"
            "{\"Error\": \"Event pattern is not valid. Reason: \\\"source\\\" must be an object "
            "or an array\"}\n"
            "{\"Error\": \"missing field \\\"pattern\\\"\"}\n");
}

}  // namespace
}  // namespace cdc
