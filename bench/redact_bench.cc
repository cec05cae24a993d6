// Redaction throughput: a realistic users row with HMAC on one column and e-mail masking on
// another (the target is 500k rows/s per core), plus its parts: copying the row alone (the
// baseline every iteration pays, since Apply rewrites the row in place), one HMAC token, and the
// free-text and JSON detectors with and without PII.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "process/redact/detect.h"
#include "process/redact/redactor.h"

namespace cdc::redact {
namespace {

std::shared_ptr<const KeyRing> Keys() {
  auto r = KeyRing::FromSecrets({{"k1", "bench-key-0123456789abcdef0123456789abcdef"}}, "k1");
  if (!r.ok()) std::abort();
  return std::make_shared<const KeyRing>(std::move(r).value());
}

Row UsersRow() {
  Row row;
  row.Add("id", Value::Int64(1048576));
  row.Add("email", Value::Text("jane.doe@example.com"));
  row.Add("first_name", Value::Text("Jane"));
  row.Add("last_name", Value::Text("Doe"));
  row.Add("phone", Value::Text("+1 415 555 2671"));
  row.Add("status", Value::Text("active"));
  row.Add("country", Value::Text("US"));
  row.Add("plan", Value::Text("premium"));
  row.Add("balance", Value::Decimal("1249.50"));
  row.Add("is_verified", Value::Bool(true));
  row.Add("created_at", Value::TimestampTz(1705314600000000));
  row.Add("updated_at", Value::TimestampTz(1705314660000000));
  return row;
}

ColumnRule Col(std::string column, std::string_view rule, std::vector<std::string> detect = {}) {
  ColumnRule c;
  c.column = std::move(column);
  auto r = ParseRule(rule);
  auto d = ParseDetectors(detect);
  if (!r.ok() || !d.ok()) std::abort();
  c.rule = *r;
  c.detect = *d;
  return c;
}

Redactor Build(std::vector<ColumnRule> columns) {
  auto r = Redactor::Build(TablePolicy{"users", std::move(columns)}, Keys());
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

void BM_CopyUsersRow(benchmark::State& state) {
  const Row tmpl = UsersRow();
  for (auto _ : state) {
    Row row = tmpl;
    benchmark::DoNotOptimize(row);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyUsersRow);

// The target case: copy the row (as the processor receives a fresh one per event) and redact it.
void BM_RedactUsersRow(benchmark::State& state) {
  Redactor r = Build({Col("email", "mask:email"), Col("phone", "hash")});
  const Row tmpl = UsersRow();
  std::vector<std::string> redacted;
  for (auto _ : state) {
    Row row = tmpl;
    redacted.clear();
    r.Apply(row, redacted);
    benchmark::DoNotOptimize(row);
    benchmark::DoNotOptimize(redacted);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RedactUsersRow);

// A heavier policy: five columns with rules plus an e-mail detector on a note.
void BM_RedactUsersRowFivePlusDetector(benchmark::State& state) {
  Redactor r =
      Build({Col("email", "mask:email"), Col("phone", "hash"), Col("last_name", "mask"),
             Col("balance", "generalize:range:1000"), Col("created_at", "generalize:month"),
             Col("note", "keep", {"email", "card"})});
  Row tmpl = UsersRow();
  tmpl.Add("note", Value::Text("Customer asked to be contacted later about the premium plan."));
  std::vector<std::string> redacted;
  for (auto _ : state) {
    Row row = tmpl;
    redacted.clear();
    r.Apply(row, redacted);
    benchmark::DoNotOptimize(row);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RedactUsersRowFivePlusDetector);

void BM_HmacToken(benchmark::State& state) {
  auto keys = Keys();
  std::string out;
  for (auto _ : state) {
    out.clear();
    keys->AppendToken("jane.doe@example.com", out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacToken);

const char* const kCleanText =
    "Customer called on 2024-01-15 at 10:30 about order 58213; shipped via ground, arrived in two "
    "days. Requested a follow-up next quarter regarding the premium plan renewal and pricing.";
const char* const kPiiText =
    "Jane (jane.doe@example.com, +1 415 555 2671) paid with 4111 1111 1111 1111 from 203.0.113.7 "
    "on 2024-01-15; SSN 078-05-1120 verified. Follow up next quarter about the renewal.";

void BM_FindPii(benchmark::State& state, const char* text) {
  std::string_view t(text);
  std::vector<PiiSpan> spans;
  spans.reserve(16);
  for (auto _ : state) {
    spans.clear();
    FindPii(t, DetectorSet::All(), spans);
    benchmark::DoNotOptimize(spans);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(t.size()));
}
BENCHMARK_CAPTURE(BM_FindPii, clean_text, kCleanText);
BENCHMARK_CAPTURE(BM_FindPii, text_with_5_pii, kPiiText);

void BM_RedactJsonColumn(benchmark::State& state) {
  Redactor r = Build({Col("profile", "keep", {"email", "card", "phone", "ssn", "ip"})});
  Row tmpl;
  tmpl.Add("profile",
           Value::Json(R"({"contact":{"email":"jane.doe@example.com","phone":"+1 415 555 2671"},)"
                       R"("prefs":{"lang":"en","tz":"Europe/Stockholm"},"last_ip":"203.0.113.7",)"
                       R"("tags":["vip","early-adopter"],"score":97})"));
  std::vector<std::string> redacted;
  for (auto _ : state) {
    Row row = tmpl;
    redacted.clear();
    r.Apply(row, redacted);
    benchmark::DoNotOptimize(row);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RedactJsonColumn);

}  // namespace
}  // namespace cdc::redact

BENCHMARK_MAIN();
