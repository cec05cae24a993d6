#include "base/scrub.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cdc {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Scrub, UriUserInfo) {
  EXPECT_EQ(ScrubSecrets("postgresql://app:Uri1Secret@db.example.com:5432/coredb"),
            "postgresql://app:****@db.example.com:5432/coredb");
  EXPECT_EQ(ScrubSecrets("postgres://app:p%40ss%2Fw0rd@host/db?sslmode=require"),
            "postgres://app:****@host/db?sslmode=require");
  // An unencoded '@', '/' or '?' in the password: the user info ends at the last '@'.
  EXPECT_EQ(ScrubSecrets("postgresql://app:p@s/s?w@host/db"), "postgresql://app:****@host/db");
  // An '@' in the query: more is hidden than the password, never less.
  EXPECT_EQ(ScrubSecrets("postgresql://app:Pw1x@host/db?application_name=a@b"),
            "postgresql://app:****@b");
  EXPECT_EQ(ScrubSecrets("cannot parse \"postgresql://app:Br4ck3t@[::1:5432/db\""),
            "cannot parse \"postgresql://app:****@[::1:5432/db\"");
  // No password: nothing to remove.
  EXPECT_EQ(ScrubSecrets("postgresql://app@host/db"), "postgresql://app@host/db");
  EXPECT_EQ(ScrubSecrets("see https://www.postgresql.org/docs/ for more"),
            "see https://www.postgresql.org/docs/ for more");
}

TEST(Scrub, UriQueryPassword) {
  EXPECT_EQ(ScrubSecrets("postgresql://host/db?user=app&password=Qry1Secret&sslmode=require"),
            "postgresql://host/db?user=app&password=****&sslmode=require");
  EXPECT_EQ(ScrubSecrets("postgresql:///db?host=/tmp&password=Qry2Secret"),
            "postgresql:///db?host=/tmp&password=****");
  // A percent-encoded parameter name is still a password (libpq decodes names too).
  EXPECT_EQ(ScrubSecrets("postgresql://h/db?%70assword=Qry3Secret&x=1"),
            "postgresql://h/db?%70assword=****&x=1");
  EXPECT_EQ(ScrubSecrets("postgresql://h/db?sslpassword=KeyPass1"),
            "postgresql://h/db?sslpassword=****");
}

TEST(Scrub, KeyValuePassword) {
  EXPECT_EQ(ScrubSecrets("host=h password=Kv1Secret dbname=coredb"),
            "host=h password=**** dbname=coredb");
  EXPECT_EQ(ScrubSecrets("host=h password = Kv2Secret dbname=coredb"),
            "host=h password = **** dbname=coredb");
  EXPECT_EQ(ScrubSecrets("PASSWORD=Kv3Secret user=app"), "PASSWORD=**** user=app");
  EXPECT_EQ(ScrubSecrets("sslpassword=Kv4Secret"), "sslpassword=****");
  // Quoted, with spaces and escaped quotes and backslashes inside.
  EXPECT_EQ(ScrubSecrets("host=h password='it\\'s a \\\\ secret' dbname=x"),
            "host=h password=**** dbname=x");
  // An unterminated quote runs to the end.
  EXPECT_EQ(ScrubSecrets("host=h password='open quote dbname=x"), "host=h password=****");
  // An escaped space in a bare value belongs to the value.
  EXPECT_EQ(ScrubSecrets("password=a\\ b dbname=x"), "password=**** dbname=x");
  // Short passwords too.
  EXPECT_EQ(ScrubSecrets("password=ab"), "password=****");
}

TEST(Scrub, TextWithoutSecretsIsUnchanged) {
  for (const char* text : {
           "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password "
           "authentication failed for user \"app\"",
           "fe_sendauth: no password supplied",
           "pipeline 'coredb' capturing 12 tables from PostgreSQL (slot cdc_pipeline)",
           "password",
           "",
       }) {
    EXPECT_EQ(ScrubSecrets(text), text);
  }
}

TEST(Scrub, RegisteredPasswordsAreRemovedWhereverLibpqQuotesThem) {
  // libpq quotes only the token it failed to decode, without its key.
  RegisterDsnSecrets("postgresql://app:Pct%zzSecret@127.0.0.1:5432/coredb");
  EXPECT_EQ(ScrubSecrets("invalid percent-encoded token: \"Pct%zzSecret\""),
            "invalid percent-encoded token: \"****\"");

  // Decoded and encoded spellings of a percent-encoded password.
  RegisterDsnSecrets("postgresql://app:En%40c0ded@127.0.0.1/coredb");
  EXPECT_EQ(ScrubSecrets("x En@c0ded y En%40c0ded z"), "x **** y **** z");

  // Key/value: the quoted value as written and unescaped.
  RegisterDsnSecrets("host=h password='Kv\\'Quoted Secret'");
  EXPECT_EQ(ScrubSecrets("a Kv'Quoted Secret b"), "a **** b");
  EXPECT_EQ(ScrubSecrets("a Kv\\'Quoted Secret b"), "a **** b");
}

TEST(Scrub, SecretForms) {
  auto uri = DsnSecretForms("postgresql://app:p%40ssw0rd@h/db?sslpassword=KeyPass9");
  EXPECT_TRUE(Has(uri, "p%40ssw0rd"));
  EXPECT_TRUE(Has(uri, "p@ssw0rd"));
  EXPECT_TRUE(Has(uri, "KeyPass9"));
  auto kv = DsnSecretForms("host=h user=app password='it\\'s secret' dbname=x");
  EXPECT_TRUE(Has(kv, "it\\'s secret"));
  EXPECT_TRUE(Has(kv, "it's secret"));
  EXPECT_FALSE(Has(kv, "app"));
  EXPECT_FALSE(Has(kv, "x"));
  // Too short to be removed everywhere (the patterns still remove it after `password=`).
  EXPECT_TRUE(DsnSecretForms("host=h password=abc").empty());
  EXPECT_TRUE(DsnSecretForms("host=h dbname=x").empty());
  // Malformed DSNs still give their password.
  EXPECT_TRUE(Has(DsnSecretForms("postgresql://app:Unclosed1@[::1/db"), "Unclosed1"));
  EXPECT_TRUE(Has(DsnSecretForms("host=h password='Unterminated"), "Unterminated"));
}

}  // namespace
}  // namespace cdc
