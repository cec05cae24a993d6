// Data models: what a captured table looks like (fields in table order, their types, whether
// they may be null, what PII they hold) and its version. The shipped models of the 12 CoreDB
// tables are config/models/<table>.yaml; the config loader reads them (tables.<name>.model),
// `cdc-pipeline models derive` writes one from the PostgreSQL catalog, and `models export`
// turns them into JSON Schemas of the event detail. docs/models.md has the rules.
//
// Thread-safety: a Model is an immutable value once built; share it as
// std::shared_ptr<const Model>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "process/model/field_type.h"

namespace cdc::model {

// What kind of personal or secret data a field holds. `free_text` is text or JSON that may
// contain PII anywhere (comments, payloads): it needs detectors rather than a whole-value rule.
enum class Pii : uint8_t {
  kNone,
  kEmail,
  kPhone,
  kName,
  kAddress,
  kBirthDate,
  kSsn,
  kCard,
  kBankAccount,
  kSecret,
  kIp,
  kFreeText,
};

std::string_view PiiName(Pii pii);
std::optional<Pii> ParsePii(std::string_view name);
// "email, phone, ..." for error messages and the reference.
std::string PiiNames();

// A guess from a column name, for `models derive`: "email" and "*_email" are email, "phone",
// "mobile" are phone, "ssn", "card_number", "iban", "password", "*_token", "ip", "*_ip",
// "full_name", "date_of_birth", "address" ... kNone when nothing matches, and for booleans and
// timestamps ("email_verified", "email_sent_at"), which hold no PII whatever their name. Only a
// guess: the derived file marks it as one.
Pii GuessPii(std::string_view column, const FieldType* type = nullptr);

struct Field {
  std::string name;
  FieldType type;
  bool nullable = true;
  Pii pii = Pii::kNone;
  std::string description;
};

struct Model {
  std::string table;
  std::string schema = "public";
  uint32_t version = 1;
  std::string description;
  std::vector<std::string> primary_key;
  std::vector<Field> fields;  // in table order
  std::string file;           // where it was loaded from, for messages

  // The field's index, or -1.
  int IndexOf(std::string_view name) const;
  const Field* Find(std::string_view name) const;
  // "users v1"
  std::string Label() const;
};

// Options of the YAML a model is written as.
struct ModelYamlOptions {
  // Comment lines (without "# ") written at the top.
  std::vector<std::string> header;
  // Fields whose `pii` is only a guess: marked with a comment saying so.
  bool pii_is_guess = false;
  // A comment per field (e.g. the PostgreSQL type a model type stands in for); may be empty.
  std::vector<std::string> field_comments;
};

// The model as a YAML file the loader reads back into the same model.
std::string FormatModelYaml(const Model& model, const ModelYamlOptions& options = {});

}  // namespace cdc::model
