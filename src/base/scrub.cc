#include "base/scrub.h"

#include <algorithm>
#include <mutex>
#include <optional>

namespace cdc {
namespace {

constexpr std::string_view kPassword = "password";
// Registered spellings kept at most (a process uses one or two DSNs).
constexpr size_t kMaxRegistered = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The first case-insensitive occurrence of `needle` (lower case) in `hay` at or after `from`.
size_t FindNoCase(std::string_view hay, std::string_view needle, size_t from = 0) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && Lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return i;
  }
  return std::string_view::npos;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding as libpq does it for URIs; nullopt for a bad escape.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// A connection parameter that holds a secret: `password`, `sslpassword` (any case, as written or
// percent-encoded).
bool IsPasswordKey(std::string_view key) {
  auto ends_with_password = [](std::string_view k) {
    return k.size() >= kPassword.size() &&
           FindNoCase(k, kPassword, k.size() - kPassword.size()) != std::string_view::npos;
  };
  if (ends_with_password(key)) return true;
  auto decoded = PercentDecode(key);
  return decoded && ends_with_password(*decoded);
}

struct Registry {
  std::mutex mu;
  std::vector<std::string> secrets;  // longest first
};

Registry& Secrets() {
  static Registry* r = new Registry();  // never destroyed: logging may run during exit
  return *r;
}

void ReplaceAll(std::string& text, std::string_view what) {
  size_t pos = 0;
  while ((pos = text.find(what, pos)) != std::string::npos) {
    text.replace(pos, what.size(), kScrubMask);
    pos += kScrubMask.size();
  }
}

// The user info and query passwords of every `scheme://` word in `text`.
void ScrubUris(std::string& text) {
  size_t pos = 0;
  while ((pos = text.find("://", pos)) != std::string::npos) {
    size_t start = pos + 3;
    size_t end = start;
    while (end < text.size() && !IsSpace(text[end])) ++end;
    if (end > start && text[end - 1] == '"') --end;  // libpq quotes a DSN it cannot parse
    std::string word = text.substr(start, end - start);
    // The user info ends at the last '@': a password may hold '@', '/' or '?' unencoded. An '@'
    // in the query then hides more than the password, never less.
    size_t at = word.rfind('@');
    if (at != std::string::npos) {
      size_t colon = word.find(':');
      if (colon < at && word.compare(colon + 1, at - colon - 1, kScrubMask) != 0) {
        word.replace(colon + 1, at - colon - 1, kScrubMask);
        at = colon + 1 + kScrubMask.size();
      }
    }
    size_t query = word.find('?', at == std::string::npos ? 0 : at);
    if (query != std::string::npos) {
      std::string rebuilt = word.substr(0, query + 1);
      size_t p = query + 1;
      while (p <= word.size()) {
        size_t amp = std::min(word.find('&', p), word.size());
        std::string_view param(word.data() + p, amp - p);
        size_t eq = param.find('=');
        if (eq != std::string_view::npos && IsPasswordKey(param.substr(0, eq))) {
          rebuilt.append(param.substr(0, eq + 1));
          rebuilt.append(kScrubMask);
        } else {
          rebuilt.append(param);
        }
        if (amp < word.size()) rebuilt.push_back('&');
        p = amp + 1;
      }
      word = std::move(rebuilt);
    }
    text.replace(start, end - start, word);
    pos = start + word.size();
  }
}

// Whether the keyword at `k` is a URI query parameter: `?` or `&` before its name.
bool InQuery(std::string_view text, size_t k) {
  while (k > 0) {
    char c = text[k - 1];
    if (c == '?' || c == '&') return true;
    bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '%';
    if (!name) return false;
    --k;
  }
  return false;
}

// `password=VALUE` in key/value form (and in a query that ScrubUris did not see).
void ScrubKeyValues(std::string& text) {
  size_t from = 0;
  size_t k;
  while ((k = FindNoCase(text, kPassword, from)) != std::string::npos) {
    size_t j = k + kPassword.size();
    from = j;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j >= text.size() || text[j] != '=') continue;
    ++j;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    size_t start = j;
    if (j < text.size() && text[j] == '\'') {
      ++j;
      while (j < text.size() && text[j] != '\'') j += text[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, text.size());
    } else {
      bool query = InQuery(text, k);
      while (j < text.size() && !IsSpace(text[j]) && !(query && text[j] == '&')) {
        j += text[j] == '\\' ? 2 : 1;
      }
      j = std::min(j, text.size());
    }
    std::string_view value(text.data() + start, j - start);
    if (value.empty() || value == kScrubMask) continue;
    text.replace(start, j - start, kScrubMask);
    from = start + kScrubMask.size();
  }
}

// Values of `password`-like keys in key/value form: {as written, unescaped}.
void KeyValuePasswords(std::string_view s, std::vector<std::string>& out) {
  size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && IsSpace(s[i])) ++i;
    size_t key_start = i;
    while (i < n && !IsSpace(s[i]) && s[i] != '=') ++i;
    std::string_view key = s.substr(key_start, i - key_start);
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n || s[i] != '=') {
      if (i == key_start && i < n) ++i;
      continue;
    }
    ++i;
    while (i < n && IsSpace(s[i])) ++i;
    std::string unescaped;
    size_t raw_start;
    size_t raw_end;
    if (i < n && s[i] == '\'') {
      raw_start = ++i;
      while (i < n && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < n) ++i;
        unescaped.push_back(s[i++]);
      }
      raw_end = i;
      if (i < n) ++i;
    } else {
      raw_start = i;
      while (i < n && !IsSpace(s[i])) {
        if (s[i] == '\\' && i + 1 < n) ++i;
        unescaped.push_back(s[i++]);
      }
      raw_end = i;
    }
    if (IsPasswordKey(key)) {
      out.emplace_back(s.substr(raw_start, raw_end - raw_start));
      out.push_back(std::move(unescaped));
    }
  }
}

// The user info password and query passwords of a URI, as written.
void UriPasswords(std::string_view s, std::vector<std::string>& out) {
  size_t scheme = s.find("://");
  if (scheme == std::string_view::npos) return;
  std::string_view rest = s.substr(scheme + 3);
  // The user info ends at the last '@' before the query, or (a '?' in the password) at the last
  // '@' of all: both are remembered.
  size_t query = rest.find('?');
  size_t at = rest.substr(0, query).rfind('@');
  for (size_t end : {at, rest.rfind('@')}) {
    if (end == std::string_view::npos) continue;
    std::string_view userinfo = rest.substr(0, end);
    size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) out.emplace_back(userinfo.substr(colon + 1));
  }
  if (at == std::string_view::npos) at = rest.rfind('@');
  query = rest.find('?', at == std::string_view::npos ? 0 : at);
  if (query == std::string_view::npos) return;
  std::string_view params = rest.substr(query + 1);
  while (!params.empty()) {
    size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && IsPasswordKey(param.substr(0, eq))) {
      out.emplace_back(param.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
}

}  // namespace

std::vector<std::string> DsnSecretForms(std::string_view dsn) {
  std::vector<std::string> values;
  UriPasswords(dsn, values);
  KeyValuePasswords(dsn, values);
  std::vector<std::string> forms;
  auto add = [&](std::string form) {
    if (form.size() < kMinRegisteredSecret) return;
    if (std::find(forms.begin(), forms.end(), form) == forms.end()) forms.push_back(form);
  };
  for (const auto& v : values) {
    add(v);
    add(PercentEncode(v));
    if (auto decoded = PercentDecode(v)) {
      add(*decoded);
      add(PercentEncode(*decoded));
    }
  }
  return forms;
}

void RegisterDsnSecrets(std::string_view dsn) {
  std::vector<std::string> forms = DsnSecretForms(dsn);
  if (forms.empty()) return;
  Registry& r = Secrets();
  std::lock_guard<std::mutex> lock(r.mu);
  for (auto& f : forms) {
    if (r.secrets.size() >= kMaxRegistered) break;
    if (std::find(r.secrets.begin(), r.secrets.end(), f) == r.secrets.end()) {
      r.secrets.push_back(std::move(f));
    }
  }
  std::stable_sort(r.secrets.begin(), r.secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string ScrubSecrets(std::string_view text) {
  std::string out(text);
  {
    Registry& r = Secrets();
    std::lock_guard<std::mutex> lock(r.mu);
    for (const auto& secret : r.secrets) ReplaceAll(out, secret);
  }
  if (out.find("://") != std::string::npos) ScrubUris(out);
  ScrubKeyValues(out);
  return out;
}

}  // namespace cdc
