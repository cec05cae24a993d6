// Model field types (names, aliases, which values fit) and the model check: every violation
// kind, compatible changes and schemaVersion, complete and partial images, and that reasons
// never carry a value.
#include <gtest/gtest.h>

#include "event/position_kinds.h"
#include "process/model/check.h"
#include "process/model/model.h"

namespace cdc::model {
namespace {

FieldType Type(std::string_view text) {
  auto t = ParseFieldType(text);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : FieldType();
}

TEST(FieldTypes, CanonicalNamesAliasesAndModifiers) {
  struct Case {
    std::string_view in, canonical;
  } cases[] = {
      {"text", "text"},
      {"int", "integer"},
      {"INT4", "integer"},
      {"int8", "bigint"},
      {"smallint", "smallint"},
      {"numeric(12,2)", "numeric(12,2)"},
      {"decimal( 18 , 4 )", "numeric(18,4)"},
      {"numeric(10)", "numeric(10,0)"},
      {"numeric", "numeric"},
      {"varchar(20)", "character varying(20)"},
      {"char(3)", "character(3)"},
      {"character(3)", "character(3)"},
      {"bool", "boolean"},
      {"float8", "double precision"},
      {"double precision[]", "double precision[]"},
      {"text[]", "text[]"},
      {"int[][]", "integer[][]"},
      {"timestamptz", "timestamp with time zone"},
      {"timestamp(3) with time zone", "timestamp(3) with time zone"},
      {"timestamptz(3)", "timestamp(3) with time zone"},
      {"time", "time without time zone"},
      {"interval", "interval"},
      {"jsonb", "jsonb"},
      {"uuid", "uuid"},
      {"inet", "inet"},
      {"bytea", "bytea"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    FieldType t = Type(c.in);
    EXPECT_EQ(FormatFieldType(t), c.canonical);
    EXPECT_EQ(Type(FormatFieldType(t)), t);
  }
  EXPECT_EQ(Type("text[]").array_dims, 1);
  EXPECT_EQ(Type("character(3)").length, 3);
}

TEST(FieldTypes, BadNamesSayWhatIsAccepted) {
  for (std::string_view bad : {"txt", "", "integer(4)", "numeric(0)", "numeric(4,5)", "varchar(x)",
                               "timestamp(9)", "text(", "text[)"}) {
    SCOPED_TRACE(bad);
    auto t = ParseFieldType(bad);
    ASSERT_FALSE(t.ok());
    EXPECT_TRUE(t.status().message().starts_with("type '" + std::string(bad) + "'"))
        << t.status().message();
  }
  EXPECT_NE(ParseFieldType("txt").status().message().find("accepted: smallint, integer"),
            std::string::npos);
}

bool Fits(std::string_view type, const Value& v, std::string* why = nullptr) {
  std::string reason;
  bool ok = ValueFits(Type(type), v, reason);
  if (why) *why = reason;
  return ok;
}

TEST(FieldTypes, DatabaseKindsAndJsonFormsFit) {
  // What the PostgreSQL source decodes...
  EXPECT_TRUE(Fits("bigint", Value::Int64(1) /* */));
  EXPECT_TRUE(Fits("numeric(12,2)", Value::Decimal("129.90")));
  EXPECT_TRUE(Fits("real", Value::Double(0.5)));
  EXPECT_TRUE(Fits("boolean", Value::Bool(true)));
  EXPECT_TRUE(Fits("uuid", Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")));
  EXPECT_TRUE(Fits("jsonb", Value::Json(R"({"a":1})")));
  EXPECT_TRUE(Fits("bytea", Value::Bytes("\x01")));
  EXPECT_TRUE(Fits("date", Value::Date(0)));
  EXPECT_TRUE(Fits("time", Value::Time(0)));
  EXPECT_TRUE(Fits("timetz", Value::TimeTz("10:30:00+02")));
  EXPECT_TRUE(Fits("timestamp", Value::Timestamp(0)));
  EXPECT_TRUE(Fits("timestamptz", Value::TimestampTz(0)));
  EXPECT_TRUE(Fits("interval", Value::Interval("PT1H")));
  EXPECT_TRUE(Fits("inet", Value::Inet("10.0.0.0/8")));
  EXPECT_TRUE(Fits("text[]", Value::Array({Value::Text("a"), Value::Null()})));
  EXPECT_TRUE(Fits("integer[]", Value::Array({Value::Array({Value::Int64(1)})})));
  // ... and what JSON producers send.
  EXPECT_TRUE(Fits("numeric(12,2)", Value::Int64(5)));
  EXPECT_TRUE(Fits("numeric", Value::Text("19.99")));
  EXPECT_TRUE(Fits("double precision", Value::Decimal("182.5")));
  EXPECT_TRUE(Fits("double precision", Value::Text("NaN")));
  EXPECT_TRUE(Fits("uuid", Value::Text("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")));
  EXPECT_TRUE(Fits("jsonb", Value::Bool(false)));
  EXPECT_TRUE(Fits("jsonb", Value::Text("plain")));
  EXPECT_TRUE(Fits("bytea", Value::Text("AP8=")));
  EXPECT_TRUE(Fits("date", Value::Text("1988-04-02")));
  EXPECT_TRUE(Fits("date", Value::Text("0044-03-15 BC")));
  EXPECT_TRUE(Fits("date", Value::Text("infinity")));
  EXPECT_TRUE(Fits("time", Value::Text("10:30:00.5")));
  EXPECT_TRUE(Fits("timestamp", Value::Text("2024-01-15T10:30:00")));
  EXPECT_TRUE(Fits("timestamptz", Value::Text("2024-01-16T09:13:00Z")));
  EXPECT_TRUE(Fits("inet", Value::Text("203.0.113.7")));
  EXPECT_TRUE(Fits("text[]", Value::Json(R"(["a","b"])")));
  EXPECT_TRUE(Fits("character(3)", Value::Text("EUR")));
}

TEST(FieldTypes, MismatchesSayWhyWithoutTheValue) {
  std::string why;
  EXPECT_FALSE(Fits("integer", Value::Text("12"), &why));
  EXPECT_EQ(why, "a text value, but the field is integer");
  EXPECT_FALSE(Fits("smallint", Value::Int64(40000), &why));
  EXPECT_EQ(why, "an integer out of the range of smallint");
  EXPECT_FALSE(Fits("integer", Value::Int64(int64_t{1} << 40), &why));
  EXPECT_FALSE(Fits("numeric(12,2)", Value::Text("twelve"), &why));
  EXPECT_EQ(why, "a text value that is not a number, but the field is numeric(12,2)");
  EXPECT_FALSE(Fits("numeric(5,2)", Value::Decimal("1234.5"), &why));
  EXPECT_EQ(why,
            "a number with 4 digits before the decimal point, but the field is numeric(5,2) (at "
            "most 3)");
  EXPECT_FALSE(Fits("numeric(5,2)", Value::Int64(-1000), &why));
  EXPECT_FALSE(Fits("numeric(5,2)", Value::Decimal("1.2e3"), &why));
  EXPECT_FALSE(Fits("numeric(3)", Value::Text("1000"), &why));
  EXPECT_TRUE(Fits("numeric(5,2)", Value::Decimal("999.994")));  // rounded by PostgreSQL
  EXPECT_TRUE(Fits("numeric(5,2)", Value::Decimal("-000999.5")));
  EXPECT_TRUE(Fits("numeric(5,2)", Value::Decimal("0.00001234")));
  EXPECT_TRUE(Fits("numeric(5,2)", Value::Decimal("12345e-2")));
  EXPECT_TRUE(Fits("numeric(5,2)", Value::Decimal("NaN")));
  EXPECT_TRUE(Fits("numeric(2,2)", Value::Decimal("0.5")));
  EXPECT_TRUE(Fits("numeric", Value::Decimal("1e300")));
  EXPECT_FALSE(Fits("character(3)", Value::Text("EURO"), &why));
  EXPECT_EQ(why, "text of more than 3 characters, but the field is character(3)");
  EXPECT_FALSE(Fits("timestamptz", Value::Text("2024-01-16 09:13"), &why));
  EXPECT_EQ(why,
            "a text value that is not an RFC 3339 date-time with an offset, but the field is "
            "timestamp with time zone");
  EXPECT_FALSE(Fits("date", Value::Text("1988-13-02"), &why));
  EXPECT_FALSE(Fits("uuid", Value::Text("not-a-uuid"), &why));
  EXPECT_FALSE(Fits("boolean", Value::Text("true"), &why));
  EXPECT_FALSE(Fits("text", Value::Int64(5), &why));
  EXPECT_EQ(why, "an int64 value, but the field is text");
  EXPECT_FALSE(Fits("text[]", Value::Array({Value::Int64(1)}), &why));
  EXPECT_EQ(why, "an array with an int64 value, but the field is text");
  EXPECT_FALSE(Fits("text[]", Value::Text("a,b"), &why));
  EXPECT_FALSE(Fits("jsonb", Value::Bytes("x"), &why));
  EXPECT_FALSE(Fits("bytea", Value::Text("not base64!"), &why));
  EXPECT_EQ(why.find("base64!"), std::string::npos);
}

// users, as in config/models/users.yaml (trimmed).
Model Users() {
  Model m;
  m.table = "users";
  m.version = 3;
  m.primary_key = {"id"};
  m.fields = {{"id", Type("text"), false, Pii::kNone, ""},
              {"email", Type("text"), false, Pii::kEmail, ""},
              {"phone", Type("text"), true, Pii::kPhone, ""},
              {"status", Type("text"), false, Pii::kNone, ""},
              {"logins", Type("integer"), true, Pii::kNone, ""},
              {"bio", Type("text"), true, Pii::kNone, ""}};
  return m;
}

ChangeEvent FromPostgres(Op op, Row after) {
  ChangeEvent c;
  c.table = "users";
  c.op = op;
  c.after = std::move(after);
  c.position = ToPosition(PgPosition{Lsn(0x1000), TxId(7), 0});
  return c;
}

ChangeEvent FromJson(Op op, Row after) {
  ChangeEvent c = FromPostgres(op, std::move(after));
  c.position = ContentPosition("0123456789abcdef0123456789abcdef");
  return c;
}

Row FullRow() {
  return Row({{"id", Value::Text("usr_1")},
              {"email", Value::Text("jane@example.com")},
              {"phone", Value::Null()},
              {"status", Value::Text("active")},
              {"logins", Value::Int64(3)},
              {"bio", Value::Text("hello")}});
}

TEST(ModelCheck, AMatchingChangeHasTheModelsVersion) {
  ModelCheck r = CheckChange(Users(), FromPostgres(Op::kInsert, FullRow()));
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.schema_version, 3u);
  EXPECT_FALSE(r.compatible_change);
}

// A SCHEMA_CHANGE gets the model's version when its new columns are the model's fields with
// their types (format_type spellings, aliases resolved), the version plus one otherwise.
TEST(ModelCheck, ASchemaChangeHasTheModelsVersionOnlyWhenItMatchesTheModel) {
  Row model_shape({{"id", Value::Text("text")},
                   {"email", Value::Text("text")},
                   {"phone", Value::Text("text")},
                   {"status", Value::Text("text")},
                   {"logins", Value::Text("integer")},
                   {"bio", Value::Text("text")}});
  ChangeEvent c;
  c.table = "users";
  c.op = Op::kSchemaChange;
  c.after = model_shape;
  ModelCheck r = CheckSchemaChange(Users(), c);
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.schema_version, 3u);
  EXPECT_FALSE(r.compatible_change);
  c.after->columns()[4].value = Value::Text("bigint");  // retyped
  EXPECT_EQ(CheckSchemaChange(Users(), c).schema_version, 4u);
  c.after = model_shape;
  c.after->Add("note", Value::Text("text"));  // added
  EXPECT_EQ(CheckSchemaChange(Users(), c).schema_version, 4u);
  c.after = model_shape;
  c.after->Remove("bio");  // dropped
  r = CheckSchemaChange(Users(), c);
  EXPECT_EQ(r.schema_version, 4u);
  EXPECT_TRUE(r.compatible_change);
  EXPECT_TRUE(r.status.ok());
}

TEST(ModelCheck, EveryViolationIsListedWithImageFieldAndReasonButNoValue) {
  ChangeEvent c = FromPostgres(Op::kUpdate, Row({{"id", Value::Text("usr_1")},
                                                 {"email", Value::Null()},
                                                 {"phone", Value::Int64(4155550100)},
                                                 {"logins", Value::Text("three")},
                                                 {"bio", Value::Text("hello")},
                                                 {"ssn", Value::Text("123-45-6789")}}));
  c.before = Row({{"id", Value::Text("usr_1")}, {"status", Value::Null()}});
  ModelCheck r = CheckChange(Users(), c);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(),
            "model users v3: before.status: null, but the field is not nullable; after.email: "
            "null, but the field is not nullable; after.phone: an int64 value, but the field is "
            "text; after.logins: a text value, but the field is integer; after.ssn: a column the "
            "model does not have, with a value (add it to the model: without a model change a new "
            "column is only accepted while it is null); after.status: missing, but the field is "
            "not nullable (a removed NOT NULL column is an incompatible change)");
  for (std::string_view value : {"4155550100", "three", "123-45-6789", "hello"}) {
    EXPECT_EQ(r.status.message().find(value), std::string::npos) << value;
  }
}

TEST(ModelCheck, AnAddedNullableColumnIsCompatibleAndBumpsTheVersion) {
  Row row = FullRow();
  row.Add("nickname", Value::Null());
  ModelCheck r = CheckChange(Users(), FromPostgres(Op::kInsert, row));
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_TRUE(r.compatible_change);
  EXPECT_EQ(r.schema_version, 4u);
  // The same change always gets the same version.
  EXPECT_EQ(CheckChange(Users(), FromPostgres(Op::kInsert, row)).schema_version, 4u);
}

TEST(ModelCheck, ARemovedNullableColumnIsCompatibleInACompleteImage) {
  Row row = FullRow();
  row.Remove("bio");
  ModelCheck r = CheckChange(Users(), FromPostgres(Op::kUpdate, row));
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.schema_version, 4u);
}

TEST(ModelCheck, PartialImagesAreNotCheckedForMissingFields) {
  // JSON producers send partial rows (the original's sample event); before images carry what the
  // replica identity gives; a DELETE has no after image.
  Row partial({{"id", Value::Text("usr_123")}, {"status", Value::Text("inactive")}});
  ModelCheck json = CheckChange(Users(), FromJson(Op::kUpdate, partial));
  EXPECT_TRUE(json.status.ok()) << json.status.message();
  EXPECT_EQ(json.schema_version, 3u);

  ChangeEvent del;
  del.table = "users";
  del.op = Op::kDelete;
  del.before = Row({{"id", Value::Text("usr_1")}});
  del.position = ToPosition(PgPosition{Lsn(1), TxId(1), 0});
  EXPECT_TRUE(CheckChange(Users(), del).status.ok());
  EXPECT_FALSE(AfterIsComplete(del));
  EXPECT_TRUE(AfterIsComplete(FromPostgres(Op::kRead, partial)));
  EXPECT_FALSE(AfterIsComplete(FromJson(Op::kInsert, partial)));
}

TEST(ModelCheck, UnchangedToastCountsAsPresent) {
  Row row = FullRow();
  row.Remove("email");
  ChangeEvent c = FromPostgres(Op::kUpdate, row);
  c.unchanged_toast = {"email"};
  ModelCheck r = CheckChange(Users(), c);
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.schema_version, 3u);
  row.Add("email", Value::UnchangedToast());
  EXPECT_TRUE(CheckChange(Users(), FromPostgres(Op::kUpdate, row)).status.ok());
}

TEST(ModelCheck, ColumnsInAnotherOrderAreFound) {
  Row full = FullRow();
  Row row;
  for (auto it = full.columns().rbegin(); it != full.columns().rend(); ++it) {
    row.Add(it->name, it->value);
  }
  EXPECT_TRUE(CheckChange(Users(), FromPostgres(Op::kInsert, row)).status.ok());
}

TEST(ModelCheck, DeadLettersLoseTheColumnsNoModelClassifies) {
  Row row = FullRow();
  row.Add("ssn", Value::Text("123-45-6789"));
  DropUnknownColumns(Users(), row);
  EXPECT_EQ(row, FullRow());
}

TEST(Pii, NamesAndGuesses) {
  for (std::string_view name : {"none", "email", "phone", "name", "address", "birth_date", "ssn",
                                "card", "bank_account", "secret", "ip", "free_text"}) {
    ASSERT_TRUE(ParsePii(name).has_value()) << name;
    EXPECT_EQ(PiiName(*ParsePii(name)), name);
  }
  EXPECT_FALSE(ParsePii("personal").has_value());
  struct Case {
    std::string_view column;
    Pii pii;
  } cases[] = {{"email", Pii::kEmail},
               {"contact_email", Pii::kEmail},
               {"phone", Pii::kPhone},
               {"mobile", Pii::kPhone},
               {"ssn", Pii::kSsn},
               {"card_number", Pii::kCard},
               {"iban", Pii::kBankAccount},
               {"account_number", Pii::kBankAccount},
               {"auth_token", Pii::kSecret},
               {"password_hash", Pii::kSecret},
               {"ip", Pii::kIp},
               {"source_ip", Pii::kIp},
               {"date_of_birth", Pii::kBirthDate},
               {"billing_address", Pii::kAddress},
               {"full_name", Pii::kName},
               {"billing_name", Pii::kName},
               {"name", Pii::kNone},
               {"status", Pii::kNone},
               {"description", Pii::kNone},
               {"shipped_on", Pii::kNone},
               {"zipper_size", Pii::kNone}};
  for (const auto& c : cases) EXPECT_EQ(GuessPii(c.column), c.pii) << c.column;
}

TEST(ModelYaml, WritesEveryFieldWithQuotingWhereNeeded) {
  Model m = Users();
  m.fields.push_back({"total", Type("numeric(12,2)"), false, Pii::kNone, ""});
  m.fields.push_back({"roles", Type("text[]"), false, Pii::kNone, "granted roles"});
  ModelYamlOptions options;
  options.header = {"users: a test"};
  options.pii_is_guess = true;
  std::string yaml = FormatModelYaml(m, options);
  EXPECT_EQ(yaml,
            "# users: a test\n"
            "\n"
            "table: users\n"
            "schema: public\n"
            "version: 3\n"
            "primary_key: [id]\n"
            "fields:\n"
            "  id:     {type: text, nullable: false}\n"
            "  email:  {type: text, nullable: false, pii: email}  # pii guessed from the column "
            "name\n"
            "  phone:  {type: text, nullable: true, pii: phone}  # pii guessed from the column "
            "name\n"
            "  status: {type: text, nullable: false}\n"
            "  logins: {type: integer, nullable: true}\n"
            "  bio:    {type: text, nullable: true}\n"
            "  total:  {type: \"numeric(12,2)\", nullable: false}\n"
            "  roles:  {type: \"text[]\", nullable: false, description: \"granted roles\"}\n");
}

}  // namespace
}  // namespace cdc::model
