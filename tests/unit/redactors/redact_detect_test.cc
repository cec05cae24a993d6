// The PII detectors on free text: what each one finds, and (as important for a pipeline that
// rewrites data) what it leaves alone.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "process/redact/detect.h"

namespace cdc::redact {
namespace {

DetectorSet Only(Detector d) {
  DetectorSet s;
  s.Add(d);
  return s;
}

// The pieces of `text` the detectors claim.
std::vector<std::string> Found(std::string_view text, DetectorSet set) {
  std::vector<PiiSpan> spans;
  FindPii(text, set, spans);
  std::vector<std::string> out;
  for (const auto& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

using Pieces = std::vector<std::string>;

void ExpectFinds(Detector d, std::string_view text, const Pieces& expected) {
  EXPECT_EQ(Found(text, Only(d)), expected) << DetectorName(d) << " in: " << text;
}
void ExpectNone(Detector d, std::string_view text) { ExpectFinds(d, text, {}); }

TEST(DetectEmail, FindsAddresses) {
  ExpectFinds(Detector::kEmail, "contact jane.doe+tag@example.co.uk today",
              {"jane.doe+tag@example.co.uk"});
  ExpectFinds(Detector::kEmail, "<j@x.io>", {"j@x.io"});
  ExpectFinds(Detector::kEmail, "Mail JANE_DOE@Example.COM.", {"JANE_DOE@Example.COM"});
  ExpectFinds(Detector::kEmail, "a@mail-server.example.org,b@c.de",
              {"a@mail-server.example.org", "b@c.de"});
  ExpectFinds(Detector::kEmail, "john.smith1990@example.com", {"john.smith1990@example.com"});
}

TEST(DetectEmail, IgnoresLookalikes) {
  ExpectNone(Detector::kEmail, "user@localhost");
  ExpectNone(Detector::kEmail, "a@b.c");
  ExpectNone(Detector::kEmail, "follow @handle on twitter");
  ExpectNone(Detector::kEmail, "@example.com");
  ExpectNone(Detector::kEmail, "x@1.2");
  ExpectNone(Detector::kEmail, "x@-bad.com");
  ExpectNone(Detector::kEmail, "no at sign here.com");
}

TEST(DetectCard, FindsLuhnValidNumbersInCommonForms) {
  ExpectFinds(Detector::kCard, "visa 4111 1111 1111 1111 exp 12/27", {"4111 1111 1111 1111"});
  ExpectFinds(Detector::kCard, "4111-1111-1111-1111", {"4111-1111-1111-1111"});
  ExpectFinds(Detector::kCard, "card:4111111111111111.", {"4111111111111111"});
  ExpectFinds(Detector::kCard, "amex 3782 822463 10005", {"3782 822463 10005"});
  ExpectFinds(Detector::kCard, "mc 5555555555554444, disc 6011111111111117",
              {"5555555555554444", "6011111111111117"});
  ExpectFinds(Detector::kCard, "13 digits 4222222222222", {"4222222222222"});
  ExpectFinds(Detector::kCard, "2-series 2223003122003222", {"2223003122003222"});
  // A number right after the card is not swallowed with it.
  ExpectFinds(Detector::kCard, "4111 1111 1111 1111 2024-01-15", {"4111 1111 1111 1111"});
}

TEST(DetectCard, RejectsLuhnFalsePositives) {
  ExpectNone(Detector::kCard, "4111111111111112");           // checksum wrong
  ExpectNone(Detector::kCard, "order 4111 1111 1111 1112");  // checksum wrong, grouped
  EXPECT_TRUE(LuhnValid("1234567812345670"));
  ExpectNone(Detector::kCard, "id 1234567812345670");  // passes Luhn, but no card starts with 1
  EXPECT_TRUE(LuhnValid("7992739871300"));
  ExpectNone(Detector::kCard, "ref 7992739871300");       // ... nor with 7
  ExpectNone(Detector::kCard, "epoch ms 1705314600000");  // 13 digits, starts with 1
  ExpectNone(Detector::kCard, "41111111111111110000");    // 20 digits: some other number
  ExpectNone(Detector::kCard, "4111 1111 1111");          // 12 digits
  ExpectNone(Detector::kCard, "x4111111111111111");       // glued to a word
  ExpectNone(Detector::kCard, "4111111111111111abc");
  ExpectNone(Detector::kCard, "4111  1111  1111  1111");  // double spaces: not one number
}

TEST(DetectCard, FlagsExactlyTheLuhnValidOnesAmongSixteenDigitNumbers) {
  // Order-id-like numbers: about one in ten passes Luhn by chance; only those may be flagged.
  uint64_t x = 4000000000000000ULL;
  int flagged = 0;
  for (int k = 0; k < 2000; ++k) {
    x += 7919ULL * 104729ULL;
    std::string n = std::to_string(x);
    bool found = !Found("order " + n + " shipped", Only(Detector::kCard)).empty();
    EXPECT_EQ(found, LuhnValid(n)) << n;
    flagged += found;
  }
  EXPECT_GT(flagged, 100);
  EXPECT_LT(flagged, 300);
}

TEST(Luhn, KnownValues) {
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111x11111111111"));
}

TEST(DetectPhone, FindsInternationalAndNorthAmericanForms) {
  ExpectFinds(Detector::kPhone, "call +1 415 555 2671 now", {"+1 415 555 2671"});
  ExpectFinds(Detector::kPhone, "+14155552671", {"+14155552671"});
  ExpectFinds(Detector::kPhone, "UK +44 20 7946 0958.", {"+44 20 7946 0958"});
  ExpectFinds(Detector::kPhone, "UK +44 (0)20 7946 0958", {"+44 (0)20 7946 0958"});
  ExpectFinds(Detector::kPhone, "DE +49-30-123456", {"+49-30-123456"});
  ExpectFinds(Detector::kPhone, "(415) 555-2671", {"(415) 555-2671"});
  ExpectFinds(Detector::kPhone, "tel 415-555-2671,", {"415-555-2671"});
  ExpectFinds(Detector::kPhone, "415.555.2671", {"415.555.2671"});
  ExpectFinds(Detector::kPhone, "415 555 2671", {"415 555 2671"});
  ExpectFinds(Detector::kPhone, "1-415-555-2671", {"1-415-555-2671"});
}

TEST(DetectPhone, IgnoresDatesAmountsAndIds) {
  ExpectNone(Detector::kPhone, "2024-01-15");
  ExpectNone(Detector::kPhone, "at 10:30:00 on 15.01.2024");
  ExpectNone(Detector::kPhone, "order 4155552671");  // bare digits
  ExpectNone(Detector::kPhone, "415-555-267");
  ExpectNone(Detector::kPhone, "123-456-7890");          // no area code starts with 1
  ExpectNone(Detector::kPhone, "415-155-2671");          // nor an exchange
  ExpectNone(Detector::kPhone, "+12345");                // too short
  ExpectNone(Detector::kPhone, "+1234567890123456789");  // too long
  ExpectNone(Detector::kPhone, "total 1+2 = 3");
  ExpectNone(Detector::kPhone, "v415-555-2671");
}

TEST(DetectSsn, FindsValidNumbers) {
  ExpectFinds(Detector::kSsn, "SSN 123-45-6789.", {"123-45-6789"});
  ExpectFinds(Detector::kSsn, "ssn:078-05-1120", {"078-05-1120"});
}

TEST(DetectSsn, RejectsNumbersNeverIssuedAndOtherShapes) {
  for (std::string_view s : {"000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456",
                             "123-00-4567", "123-45-0000", "123-45-67890", "1123-45-6789",
                             "123456789", "123 45 6789", "a123-45-6789", "12-123-45-6789-1"}) {
    ExpectNone(Detector::kSsn, s);
  }
}

TEST(DetectIp, FindsIpv4AndIpv6) {
  ExpectFinds(Detector::kIp, "from 192.168.0.1, then 8.8.8.8.", {"192.168.0.1", "8.8.8.8"});
  ExpectFinds(Detector::kIp, "10.0.0.255/24", {"10.0.0.255"});
  ExpectFinds(Detector::kIp, "addr 2001:db8::8a2e:370:7334 ok", {"2001:db8::8a2e:370:7334"});
  ExpectFinds(Detector::kIp, "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
              {"2001:0db8:85a3:0000:0000:8a2e:0370:7334"});
  ExpectFinds(Detector::kIp, "link fe80::1.", {"fe80::1"});
  ExpectFinds(Detector::kIp, "mapped ::ffff:192.0.2.1", {"::ffff:192.0.2.1"});
  ExpectFinds(Detector::kIp, "[2001:db8::1]:443", {"2001:db8::1"});
}

TEST(DetectIp, IgnoresLookalikes) {
  for (std::string_view s :
       {"256.1.1.1", "1.2.3", "1.2.3.4.5", "at 10:30:00", "std::string", "a::b", "::1",
        "mac 00:1a:2b:3c:4d:5e", "1.2.3.4a", "fe80::1g", "ratio 3:2"}) {
    ExpectNone(Detector::kIp, s);
  }
}

TEST(FindPii, AllDetectorsTogetherInOrderWithoutOverlap) {
  std::string text =
      "Jane (jane.doe@example.com, +1 415 555 2671) paid with 4111 1111 1111 1111 from "
      "203.0.113.7; SSN 078-05-1120.";
  std::vector<PiiSpan> spans;
  FindPii(text, DetectorSet::All(), spans);
  ASSERT_EQ(spans.size(), 5u);
  std::vector<Detector> kinds;
  for (size_t k = 0; k < spans.size(); ++k) {
    kinds.push_back(spans[k].kind);
    if (k > 0) {
      EXPECT_LE(spans[k - 1].end, spans[k].begin);
    }
  }
  EXPECT_EQ(kinds, (std::vector<Detector>{Detector::kEmail, Detector::kPhone, Detector::kCard,
                                          Detector::kIp, Detector::kSsn}));
}

TEST(FindPii, DigitsInsideAnEmailBelongToTheEmail) {
  auto found = Found("4155552671@example.com and 192.168.1.1@example.com", DetectorSet::All());
  EXPECT_EQ(found, (Pieces{"4155552671@example.com", "192.168.1.1@example.com"}));
}

TEST(FindPii, OnlyTheRequestedDetectorsRun) {
  std::string text = "jane@example.com 4111111111111111";
  EXPECT_EQ(Found(text, Only(Detector::kCard)), (Pieces{"4111111111111111"}));
  EXPECT_EQ(Found(text, Only(Detector::kEmail)), (Pieces{"jane@example.com"}));
  EXPECT_TRUE(Found(text, DetectorSet()).empty());
}

TEST(FindPii, HandlesEdgesOfTheText) {
  EXPECT_TRUE(Found("", DetectorSet::All()).empty());
  EXPECT_TRUE(Found("@", DetectorSet::All()).empty());
  EXPECT_TRUE(Found("+", DetectorSet::All()).empty());
  EXPECT_TRUE(Found("(", DetectorSet::All()).empty());
  EXPECT_TRUE(Found("::", DetectorSet::All()).empty());
  EXPECT_EQ(Found("8.8.8.8", DetectorSet::All()), (Pieces{"8.8.8.8"}));
  EXPECT_EQ(Found("Zoë: 8.8.8.8 ✓", DetectorSet::All()), (Pieces{"8.8.8.8"}));
}

TEST(FindPii, RandomInputGivesOrderedSpansInsideTheText) {
  // Short texts dense in the characters the detectors look at, to reach the edge cases of every
  // scanner (run under the sanitizers, this also checks that no scanner reads past the text).
  const std::string alphabet = "0123456789abcdefxyz:.-@+() _/\n";
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    std::vector<PiiSpan> spans;
    FindPii(text, DetectorSet::All(), spans);
    size_t last_end = 0;
    for (const auto& s : spans) {
      ASSERT_LT(s.begin, s.end) << text;
      ASSERT_LE(s.end, text.size()) << text;
      ASSERT_LE(last_end, s.begin) << text;
      last_end = s.end;
    }
  }
}

}  // namespace
}  // namespace cdc::redact
