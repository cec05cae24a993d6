#include "process/model/model.h"

#include <algorithm>
#include <cctype>

namespace cdc::model {
namespace {

constexpr std::pair<Pii, std::string_view> kPiiNames[] = {
    {Pii::kNone, "none"},     {Pii::kEmail, "email"},     {Pii::kPhone, "phone"},
    {Pii::kName, "name"},     {Pii::kAddress, "address"}, {Pii::kBirthDate, "birth_date"},
    {Pii::kSsn, "ssn"},       {Pii::kCard, "card"},       {Pii::kBankAccount, "bank_account"},
    {Pii::kSecret, "secret"}, {Pii::kIp, "ip"},           {Pii::kFreeText, "free_text"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The words of a column name: "billing_address" -> {"billing", "address"}.
std::vector<std::string> Words(const std::string& name) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : name) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

bool IsPlainKey(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return s != "true" && s != "false" && s != "null" && s != "yes" && s != "no" && s != "on" &&
         s != "off" && s != "y" && s != "n";
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// A scalar inside a YAML flow collection: quoted unless it is a plain word.
std::string FlowScalar(std::string_view s) {
  return s.find_first_of("[]{},:#&*!|>'\"%@`()") == std::string_view::npos && !s.empty() &&
                 s.front() != ' ' && s.back() != ' '
             ? std::string(s)
             : Quoted(s);
}

}  // namespace

std::string_view PiiName(Pii pii) {
  for (const auto& [p, name] : kPiiNames) {
    if (p == pii) return name;
  }
  return "none";
}

std::optional<Pii> ParsePii(std::string_view name) {
  for (const auto& [p, n] : kPiiNames) {
    if (n == name) return p;
  }
  return std::nullopt;
}

std::string PiiNames() {
  std::string out;
  for (const auto& [p, n] : kPiiNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

Pii GuessPii(std::string_view column, const FieldType* type) {
  if (type != nullptr &&
      (type->type_class == TypeClass::kBoolean || type->type_class == TypeClass::kTimestamp ||
       type->type_class == TypeClass::kTimestampTz)) {
    return Pii::kNone;
  }
  std::string name = Lower(column);
  std::vector<std::string> words = Words(name);
  auto has_word = [&](std::string_view w) {
    return std::find(words.begin(), words.end(), w) != words.end();
  };
  auto contains = [&](std::string_view part) { return name.find(part) != std::string::npos; };
  if (contains("email") || contains("e_mail")) return Pii::kEmail;
  if (contains("phone") || has_word("mobile") || has_word("msisdn") || has_word("fax")) {
    return Pii::kPhone;
  }
  if (has_word("ssn") || contains("social_security") || contains("national_id") ||
      has_word("tin") || contains("tax_id")) {
    return Pii::kSsn;
  }
  if (contains("card") || has_word("pan") || has_word("cvv") || has_word("cvc")) {
    return Pii::kCard;
  }
  if (has_word("iban") || has_word("bic") || contains("account_number") || contains("account_no") ||
      has_word("acct") || contains("routing")) {
    return Pii::kBankAccount;
  }
  if (contains("password") || contains("passwd") || contains("secret") || has_word("token") ||
      contains("api_key") || contains("apikey") || contains("private_key")) {
    return Pii::kSecret;
  }
  if (has_word("ip") || contains("ip_address") || has_word("ipaddr")) return Pii::kIp;
  if (contains("birth") || has_word("dob")) return Pii::kBirthDate;
  if (contains("address") || has_word("street") || has_word("postcode") || has_word("zip")) {
    return Pii::kAddress;
  }
  static constexpr std::string_view kNameWords[] = {"full",    "first",    "last",    "middle",
                                                    "given",   "family",   "billing", "shipping",
                                                    "contact", "customer", "maiden"};
  if (words.size() >= 2 && words.back() == "name") {
    for (auto w : kNameWords) {
      if (words[words.size() - 2] == w) return Pii::kName;
    }
  }
  if (name == "surname" || name == "fullname" || name == "firstname" || name == "lastname") {
    return Pii::kName;
  }
  return Pii::kNone;
}

int Model::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (SameName(fields[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

const Field* Model::Find(std::string_view name) const {
  int i = IndexOf(name);
  return i < 0 ? nullptr : &fields[static_cast<size_t>(i)];
}

std::string Model::Label() const {
  std::string name = schema == "public" ? table : schema + "." + table;
  return name + " v" + std::to_string(version);
}

std::string FormatModelYaml(const Model& m, const ModelYamlOptions& options) {
  std::string out;
  for (const auto& line : options.header) out += line.empty() ? "#\n" : "# " + line + "\n";
  if (!options.header.empty()) out += "\n";
  out += "table: " + FlowScalar(m.table) + "\n";
  out += "schema: " + FlowScalar(m.schema) + "\n";
  out += "version: " + std::to_string(m.version) + "\n";
  if (!m.description.empty()) out += "description: " + Quoted(m.description) + "\n";
  out += "primary_key: [";
  for (size_t i = 0; i < m.primary_key.size(); ++i) {
    out += (i ? ", " : "") + FlowScalar(m.primary_key[i]);
  }
  out += "]\n";
  out += "fields:\n";
  size_t width = 0;
  std::vector<std::string> keys;
  for (const auto& f : m.fields) {
    keys.push_back(IsPlainKey(f.name) ? f.name : Quoted(f.name));
    width = std::max(width, keys.back().size());
  }
  for (size_t i = 0; i < m.fields.size(); ++i) {
    const Field& f = m.fields[i];
    std::string line = "  " + keys[i] + ":" + std::string(width - keys[i].size() + 1, ' ');
    line += "{type: " + FlowScalar(FormatFieldType(f.type));
    line += std::string(", nullable: ") + (f.nullable ? "true" : "false");
    if (f.pii != Pii::kNone) line += ", pii: " + std::string(PiiName(f.pii));
    if (!f.description.empty()) line += ", description: " + Quoted(f.description);
    line += "}";
    std::string comment;
    if (i < options.field_comments.size()) comment = options.field_comments[i];
    if (options.pii_is_guess && f.pii != Pii::kNone) {
      comment += std::string(comment.empty() ? "" : "; ") + "pii guessed from the column name";
    }
    if (!comment.empty()) line += "  # " + comment;
    out += line + "\n";
  }
  return out;
}

}  // namespace cdc::model
