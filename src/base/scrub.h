// The one scrubber for secrets in messages: every text that can hold a database connection string
// (a DSN) or libpq's error about one passes through ScrubSecrets before it is logged, printed or
// put into a Status. `log::Write` scrubs every log line; the PostgreSQL source scrubs libpq's
// error texts where they enter a Status; the command line scrubs what it prints about a source.
//
// ScrubSecrets replaces with `****`:
//  - the password of URI user info: `postgres://user:PASSWORD@host/db`;
//  - key/value `password=VALUE` (and `sslpassword=`, any case, spaces around `=`), VALUE bare or
//    single-quoted with `\'` and `\\` escapes and spaces inside;
//  - URI query parameters whose (percent-decoded) name ends in `password`: `?password=VALUE&...`;
//  - every password registered with RegisterDsnSecrets, in each form a DSN can spell it (as
//    written, percent-decoded, quote-unescaped, percent-encoded): libpq quotes fragments of a
//    malformed DSN without their key (`invalid percent-encoded token: "pw%zz"`), which no pattern
//    can recognise. Registered values shorter than kMinRegisteredSecret are left to the patterns
//    (removing every "ab" would garble the message without protecting anything).
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cdc {

inline constexpr std::string_view kScrubMask = "****";
inline constexpr size_t kMinRegisteredSecret = 4;

// `text` without the passwords described above.
std::string ScrubSecrets(std::string_view text);

// Remembers the passwords of `dsn` (key/value or URI form, well-formed or not) for ScrubSecrets,
// for the life of the process.
void RegisterDsnSecrets(std::string_view dsn);

// The spellings of the passwords in `dsn` that RegisterDsnSecrets remembers (for tests).
std::vector<std::string> DsnSecretForms(std::string_view dsn);

}  // namespace cdc
