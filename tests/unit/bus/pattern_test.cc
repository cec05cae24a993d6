// The EventBridge pattern language, operator by operator, written from the EventBridge user
// guide ("Content filtering in Amazon EventBridge event patterns", "Arrays in event patterns")
// and Event Ruler's README, with AWS's actual behaviour where it differs from its docs.

#include <gtest/gtest.h>

#include "bus/matcher.h"

namespace cdc {
namespace {

// Whether `event` matches `pattern`; a pattern that does not compile fails the test.
bool M(const std::string& pattern, const std::string& event) {
  auto m = CompileMatcher({{"r", pattern}});
  EXPECT_TRUE(m.ok()) << pattern << ": " << m.status().ToString();
  if (!m.ok()) return false;
  std::vector<uint32_t> out;
  Status s = (*m)->Match(event, out);
  EXPECT_TRUE(s.ok()) << event << ": " << s.ToString();
  return out.size() == 1;
}

std::string Reason(const std::string& pattern) {
  Status s = ValidatePattern(pattern);
  const std::string prefix = "Event pattern is not valid. Reason: ";
  if (s.ok()) return "OK";
  EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << s.message();
  return s.message().substr(prefix.size());
}

// The sample event of the user guide's content-filtering page, extended.
const std::string kEc2 = R"({
  "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "012345679012", "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
    "source-ip6": "2001:db8::ff00:42:8329", "instance-id": "i-000000aaaaaa00000",
    "state": "running", "FileName": "photo.PNG", "service": "EventBridge",
    "note": null, "empty": "", "flag": false, "big": 12345678901234567890,
    "tags": ["alpha", "beta", 7],
    "nested": {"deep": {"leaf": "x"}},
    "items": [{"sku": "a1", "qty": 1}, {"sku": "b2", "qty": 5}]
  }
})";

// ---- exact values ------------------------------------------------------------------------------

TEST(PatternExact, StringsNumbersBooleansNull) {
  EXPECT_TRUE(M(R"({"source":["aws.ec2"]})", kEc2));
  EXPECT_FALSE(M(R"({"source":["aws.EC2"]})", kEc2));     // case-sensitive
  EXPECT_TRUE(M(R"({"source":["x","aws.ec2"]})", kEc2));  // a list is an OR
  EXPECT_TRUE(M(R"({"detail":{"c-count":[5]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"flag":[false]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"flag":[true]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"flag":["false"]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"empty":[""]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"state":[""]}})", kEc2));
}

TEST(PatternExact, NumbersCompareByValue) {
  EXPECT_TRUE(M(R"({"a":[100]})", R"({"a":1e2})"));
  EXPECT_TRUE(M(R"({"a":[1e2]})", R"({"a":100})"));
  EXPECT_TRUE(M(R"({"a":[300]})", R"({"a":300.0})"));
  EXPECT_TRUE(M(R"({"a":[0]})", R"({"a":-0})"));
  EXPECT_TRUE(M(R"({"a":[-1.5]})", R"({"a":-15e-1})"));
  EXPECT_FALSE(M(R"({"a":[100]})", R"({"a":"100"})"));
  EXPECT_FALSE(M(R"({"a":["100"]})", R"({"a":100})"));
  EXPECT_FALSE(M(R"({"a":[100]})", R"({"a":100.000001})"));
  // Integers a double cannot hold (account ids) compare by digits.
  EXPECT_TRUE(M(R"({"detail":{"big":[12345678901234567890]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"big":[12345678901234567891]}})", kEc2));
}

TEST(PatternExact, NullIsNotMissing) {
  EXPECT_TRUE(M(R"({"detail":{"note":[null]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"missing":[null]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"note":[""]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"empty":[null]}})", kEc2));
}

// ---- prefix, suffix, equals-ignore-case -------------------------------------------------------

TEST(PatternPrefix, MatchesStringStarts) {
  EXPECT_TRUE(M(R"({"time":[{"prefix":"2017-10-02"}]})", kEc2));
  EXPECT_FALSE(M(R"({"time":[{"prefix":"2017-10-03"}]})", kEc2));
  EXPECT_TRUE(M(R"({"time":[{"prefix":""}]})", kEc2));                  // any string
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"prefix":"5"}]}})", kEc2));  // strings only
  EXPECT_FALSE(M(R"({"detail":{"note":[{"prefix":""}]}})", kEc2));
  EXPECT_FALSE(M(R"({"a":[{"prefix":"abcd"}]})", R"({"a":"abc"})"));
}

TEST(PatternPrefix, IgnoreCase) {
  const char* p = R"({"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}})";
  EXPECT_TRUE(M(p, kEc2));
  EXPECT_TRUE(M(p, R"({"detail":{"service":"EVENTBRIDGE"}})"));
  EXPECT_FALSE(M(p, R"({"detail":{"service":"Event"}})"));
}

TEST(PatternSuffix, MatchesStringEnds) {
  EXPECT_TRUE(M(R"({"source":[{"suffix":"ec2"}]})", kEc2));
  EXPECT_FALSE(M(R"({"source":[{"suffix":"EC2"}]})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"FileName":[{"suffix":".png"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"FileName":[{"suffix":{"equals-ignore-case":".jpg"}}]}})", kEc2));
}

TEST(PatternEqualsIgnoreCase, WholeValue) {
  EXPECT_TRUE(M(R"({"source":[{"equals-ignore-case":"AWS.EC2"}]})", kEc2));
  EXPECT_FALSE(M(R"({"source":[{"equals-ignore-case":"AWS.EC"}]})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"equals-ignore-case":"5"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"a":[{"equals-ignore-case":"ÉTÉ"}]})", R"({"a":"été"})"));
}

// ---- wildcard ---------------------------------------------------------------------------------

TEST(PatternWildcard, Stars) {
  EXPECT_TRUE(M(R"({"source":[{"wildcard":"aws.*"}]})", kEc2));
  EXPECT_TRUE(M(R"({"source":[{"wildcard":"*ec2"}]})", kEc2));
  EXPECT_TRUE(M(R"({"source":[{"wildcard":"a*.*2"}]})", kEc2));
  EXPECT_TRUE(M(R"({"source":[{"wildcard":"*"}]})", kEc2));
  EXPECT_FALSE(M(R"({"source":[{"wildcard":"*ec3"}]})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"wildcard":"*"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"a":[{"wildcard":"dir/*/*.png"}]})", R"({"a":"dir/x/y.png"})"));
  EXPECT_FALSE(M(R"({"a":[{"wildcard":"dir/*/*.png"}]})", R"({"a":"dir/x.jpg"})"));
  EXPECT_FALSE(M(R"({"a":[{"wildcard":"ab*ba"}]})", R"({"a":"aba"})"));  // no overlap
  EXPECT_TRUE(M(R"({"a":[{"wildcard":"ab*ba"}]})", R"({"a":"abba"})"));
  EXPECT_FALSE(M(R"({"a":[{"wildcard":"abc"}]})", R"({"a":"abcd"})"));
}

TEST(PatternWildcard, Escapes) {
  // In JSON text "\\*" is the two characters \* : an escaped, literal asterisk.
  EXPECT_TRUE(M(R"({"a":[{"wildcard":"a\\*b"}]})", R"({"a":"a*b"})"));
  EXPECT_FALSE(M(R"({"a":[{"wildcard":"a\\*b"}]})", R"({"a":"axb"})"));
  EXPECT_TRUE(M(R"({"a":[{"wildcard":"a\\\\b"}]})", R"({"a":"a\\b"})"));
  EXPECT_TRUE(M(R"({"a":[{"wildcard":"a\\\\*"}]})", R"({"a":"a\\anything"})"));
  EXPECT_EQ(Reason(R"({"a":[{"wildcard":"a\\b"}]})"), "Invalid escape character at pos 2");
  EXPECT_EQ(Reason(R"({"a":[{"wildcard":"ab\\"}]})"), "Invalid escape character at pos 3");
  EXPECT_EQ(Reason(R"({"key":[{"wildcard":"abc**def"}]})"),
            "Consecutive wildcard characters at pos 4");
  EXPECT_EQ(Reason(R"({"a":[{"wildcard":5}]})"), "wildcard match pattern must be a string");
}

TEST(PatternWildcard, ComplexityLimit) {
  EXPECT_EQ(Reason(R"({"a":[{"wildcard":"*a*b*c*"}]})"), "OK");
  EXPECT_EQ(Reason(R"({"a":[{"wildcard":"*a*b*c*"},{"wildcard":"*d*e*f*"}]})"),
            "Rule is too complex - try using fewer wildcard characters or fewer repeating "
            "character sequences after a wildcard character");
  PatternOptions loose;
  loose.max_wildcard_complexity = 100;
  EXPECT_TRUE(
      ValidatePattern(R"({"a":[{"wildcard":"*a*b*c*"},{"wildcard":"*d*e*f*"}]})", loose).ok());
}

// ---- anything-but -----------------------------------------------------------------------------

TEST(PatternAnythingBut, SingleValues) {
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":"running"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":"initializing"}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"anything-but":5}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"anything-but":5.0}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"c-count":[{"anything-but":6}]}})", kEc2));
  // Type-aware: the number 5 is not the string "5".
  EXPECT_TRUE(M(R"({"detail":{"c-count":[{"anything-but":"5"}]}})", kEc2));
}

TEST(PatternAnythingBut, Lists) {
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":["stopped","running"]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"x-limit":[{"anything-but":[100,301.8]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"x-limit":[{"anything-but":[100,200,300]}]}})", kEc2));
}

TEST(PatternAnythingBut, NestedOperators) {
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":{"prefix":"run"}}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":{"prefix":"init"}}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":{"suffix":"ing"}}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":{"suffix":"ed"}}]}})", kEc2));
  EXPECT_FALSE(
      M(R"({"detail":{"state":[{"anything-but":{"equals-ignore-case":"RUNNING"}}]}})", kEc2));
  EXPECT_TRUE(
      M(R"({"detail":{"state":[{"anything-but":{"equals-ignore-case":["A","B"]}}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":{"wildcard":"r*g"}}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":{"wildcard":"s*d"}}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":{"prefix":["x","ru"]}}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"state":[{"anything-but":{"suffix":["x","y"]}}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"state":[{"anything-but":{"wildcard":["x*","*ing"]}}]}})", kEc2));
}

TEST(PatternAnythingBut, NeverMatchesAMissingFieldButMatchesNull) {
  EXPECT_FALSE(M(R"({"detail":{"missing":[{"anything-but":"x"}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"missing":[{"anything-but":{"prefix":"x"}}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"note":[{"anything-but":"x"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"note":[{"anything-but":{"suffix":"x"}}]}})", kEc2));
}

TEST(PatternAnythingBut, ArraysMatchWhenAnyElementIsNotExcluded) {
  EXPECT_TRUE(M(R"({"detail":{"tags":[{"anything-but":"alpha"}]}})", kEc2));
  EXPECT_FALSE(M(R"({"a":[{"anything-but":["x","y"]}]})", R"({"a":["x","y"]})"));
  EXPECT_FALSE(M(R"({"a":[{"anything-but":"x"}]})", R"({"a":[]})"));
}

TEST(PatternAnythingBut, Errors) {
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":["a",1]}]})"),
            "Inside anything but list, either all values are number or string, mixed type is "
            "not supported");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":[true]}]})"),
            "Inside anything but list, start|null|boolean is not supported.");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":null}]})"),
            "Value of anything-but must be an array or single string/number value.");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":{"numeric":[">",1]}}]})"),
            "Unsupported anything-but pattern: numeric");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":{"prefix":""}}]})"), "Null prefix/suffix not allowed");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":{"prefix":5}}]})"),
            "prefix/suffix match pattern must be a string");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":{"equals-ignore-case":[5]}}]})"),
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
            "supported.");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":{}}]})"), "Anything-But expression name not found");
  EXPECT_EQ(Reason(R"({"a":[{"anything-but":"x","prefix":"y"}]})"),
            "Too many elements in numeric expression");
}

// ---- numeric ----------------------------------------------------------------------------------

TEST(PatternNumeric, Comparisons) {
  EXPECT_TRUE(M(R"({"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"c-count":[{"numeric":[">=",5,"<",6]}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"numeric":[">",5]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"d-count":[{"numeric":["<",10]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"d-count":[{"numeric":["<=",3]}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"d-count":[{"numeric":["<",3]}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"x-limit":[{"numeric":["=",301.80001]}]}})", kEc2));
}

TEST(PatternNumeric, EdgeCases) {
  EXPECT_TRUE(M(R"({"a":[{"numeric":["=",100]}]})", R"({"a":1e2})"));
  EXPECT_TRUE(M(R"({"a":[{"numeric":["<",0]}]})", R"({"a":-0.5})"));
  EXPECT_TRUE(M(R"({"a":[{"numeric":[">",-10,"<",-1]}]})", R"({"a":-5})"));
  EXPECT_FALSE(M(R"({"a":[{"numeric":[">",-10,"<",-1]}]})", R"({"a":-1})"));
  EXPECT_TRUE(M(R"({"a":[{"numeric":[">=",-1e9,"<=",5e9]}]})", R"({"a":5000000000})"));
  EXPECT_TRUE(M(R"({"a":[{"numeric":[">",1e10]}]})", R"({"a":1.5e10})"));  // beyond 5e9
  EXPECT_TRUE(M(R"({"a":[{"numeric":[">",0.1]}]})", R"({"a":0.1000001})"));
  EXPECT_FALSE(M(R"({"a":[{"numeric":[">",0]}]})", R"({"a":"5"})"));  // JSON numbers only
  EXPECT_FALSE(M(R"({"a":[{"numeric":[">",0]}]})", R"({"a":true})"));
  EXPECT_FALSE(M(R"({"a":[{"numeric":[">",0]}]})", R"({"a":null})"));
  EXPECT_TRUE(M(R"({"a":[{"numeric":[">",10]}]})", R"({"a":[1,2,30]})"));
}

TEST(PatternNumeric, Errors) {
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">",0,">",5]}]})"), "Bad numeric range operator: >");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":["<",5,">",0]}]})"),
            "Too many elements in numeric expression");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">",5,"<",5]}]})"), "Bottom must be less than top");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":["!=",5]}]})"), "Unrecognized numeric range operator: !=");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">","5"]}]})"), "Value of > must be numeric");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":["=","5"]}]})"), "Value of equals must be numeric");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[5]}]})"), "Invalid member in numeric match: 5");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[]}]})"), "Invalid member in numeric match: ]");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":5}]})"), "Value of numeric must be an array.");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">",0,5,1]}]})"), "Bad value in numeric range: 5");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">",0,"<",5,"<",6]}]})"),
            "Too many terms in numeric range expression");
  EXPECT_EQ(Reason(R"({"a":[{"numeric":[">",1e400]}]})"), "Cannot compare number : 1e400");
}

// ---- cidr -------------------------------------------------------------------------------------

TEST(PatternCidr, IPv4) {
  EXPECT_TRUE(M(R"({"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"source-ip":[{"cidr":"10.0.0.0/8"}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"source-ip":[{"cidr":"10.0.0.99/24"}]}})", kEc2));  // host bits
  EXPECT_TRUE(M(R"({"a":[{"cidr":"0.0.0.0/0"}]})", R"({"a":"255.255.255.255"})"));
  EXPECT_FALSE(M(R"({"a":[{"cidr":"10.0.0.0/24"}]})", R"({"a":"not an ip"})"));
  EXPECT_FALSE(M(R"({"a":[{"cidr":"10.0.0.0/24"}]})", R"({"a":167772161})"));  // numbers aren't
  EXPECT_FALSE(M(R"({"a":[{"cidr":"10.0.0.0/24"}]})", R"({"a":"::ffff:10.0.0.1"})"));
}

TEST(PatternCidr, IPv6Forms) {
  const char* p = R"({"a":[{"cidr":"2001:db8::/32"}]})";
  EXPECT_TRUE(M(p, R"({"a":"2001:db8::1"})"));
  EXPECT_TRUE(M(p, R"({"a":"2001:0DB8:0000:0000:0000:0000:0000:0001"})"));
  EXPECT_TRUE(M(p, R"({"a":"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"})"));
  EXPECT_FALSE(M(p, R"({"a":"2001:db9::"})"));
  EXPECT_FALSE(M(p, R"({"a":"10.0.0.1"})"));  // the other family never matches
  EXPECT_TRUE(M(R"({"detail":{"source-ip6":[{"cidr":"2001:db8::ff00:0:0/96"}]}})", kEc2));
  EXPECT_TRUE(M(R"({"a":[{"cidr":"::/0"}]})", R"({"a":"::1"})"));
  EXPECT_TRUE(M(R"({"a":[{"cidr":"fe80::1:0/112"}]})", R"({"a":"FE80:0:0:0:0:0:1:ABCD"})"));
  EXPECT_FALSE(M(R"({"a":[{"cidr":"fe80::1:0/112"}]})", R"({"a":"fe80::2:1"})"));
}

TEST(PatternCidr, Errors) {
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.0"}]})"), "Malformed CIDR, one '/' required");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.0/"}]})"), "Malformed CIDR, one '/' required");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.0/x"}]})"),
            "Malformed CIDR, mask bits must be an integer");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.0/-1"}]})"),
            "Malformed CIDR, mask bits must not be negative");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.0/32"}]})"), "IPv4 mask bits must be < 32");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"::/128"}]})"), "IPv6 mask bits must be < 128");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"10.0.0.256/8"}]})"), "Invalid IP address: 10.0.0.256");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"host/8"}]})"), "Nonstandard IP address: host");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":"1:2:3/8"}]})"), "Invalid IP address: 1:2:3");
  EXPECT_EQ(Reason(R"({"a":[{"cidr":5}]})"), "prefix match pattern must be a string");
}

// ---- exists -----------------------------------------------------------------------------------

TEST(PatternExists, TrueAndFalse) {
  EXPECT_TRUE(M(R"({"detail":{"c-count":[{"exists":true}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"c-count":[{"exists":false}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"missing":[{"exists":false}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"missing":[{"exists":true}]}})", kEc2));
  // A present null is present.
  EXPECT_TRUE(M(R"({"detail":{"note":[{"exists":true}]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"note":[{"exists":false}]}})", kEc2));
  // Exists only looks at leaves: an object-valued field or an empty array does not exist.
  EXPECT_FALSE(M(R"({"detail":{"nested":[{"exists":true}]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"nested":[{"exists":false}]}})", kEc2));
  EXPECT_TRUE(M(R"({"a":[{"exists":false}]})", R"({"a":[]})"));
  // exists:false on a whole missing subtree.
  EXPECT_TRUE(M(R"({"nope":{"x":[{"exists":false}]}})", kEc2));
  EXPECT_EQ(Reason(R"({"a":[{"exists":"yes"}]})"),
            "exists match pattern must be either true or false.");
}

TEST(PatternExists, CombinedWithValues) {
  // exists:false OR a value: either the field is absent or it has that value.
  const char* p = R"({"a":[{"exists":false},"x"]})";
  EXPECT_TRUE(M(p, R"({"b":1})"));
  EXPECT_TRUE(M(p, R"({"a":"x"})"));
  EXPECT_FALSE(M(p, R"({"a":"y"})"));
}

// ---- structure: nesting, dotted keys, arrays, $or ---------------------------------------------

TEST(PatternStructure, NestedObjectsAndDottedKeys) {
  EXPECT_TRUE(M(R"({"detail":{"nested":{"deep":{"leaf":["x"]}}}})", kEc2));
  EXPECT_TRUE(M(R"({"detail.nested.deep.leaf":["x"]})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"nested.deep":{"leaf":["x"]}}})", kEc2));
  EXPECT_TRUE(M(R"({"a":{"b":["c"]}})", R"({"a.b":"c"})"));  // dotted key in the event
  EXPECT_FALSE(M(R"({"detail":{"nested":["x"]}})", kEc2));
}

TEST(PatternStructure, ArraysOnBothSides) {
  EXPECT_TRUE(M(R"({"detail":{"tags":["beta"]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"tags":[7]}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"tags":["zeta","alpha"]}})", kEc2));
  EXPECT_FALSE(M(R"({"detail":{"tags":["zeta","gamma"]}})", kEc2));
  EXPECT_TRUE(M(R"({"resources":[{"prefix":"arn:aws:ec2:"}]})", kEc2));
  EXPECT_TRUE(M(R"({"a":["x"]})", R"({"a":[["y"],["x"]]})"));  // nested arrays flatten
  EXPECT_FALSE(M(R"({"a":["x"]})", R"({"a":[]})"));
}

TEST(PatternStructure, ArraysOfObjectsStayConsistent) {
  EXPECT_TRUE(M(R"({"detail":{"items":{"sku":["b2"]}}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"items":{"sku":["b2"],"qty":[5]}}})", kEc2));
  // Both fields must come from the same element of the array.
  EXPECT_FALSE(M(R"({"detail":{"items":{"sku":["a1"],"qty":[5]}}})", kEc2));
  EXPECT_TRUE(M(R"({"detail":{"items":{"sku":["a1"],"qty":[{"numeric":["<",2]}]}}})", kEc2));
  const std::string employees = R"({"employees":[
      {"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"},
      {"firstName":"Peter","lastName":"Jones"}]})";
  EXPECT_TRUE(M(R"({"employees":{"firstName":["Anna"]}})", employees));
  EXPECT_FALSE(M(R"({"employees":{"firstName":["Anna"],"lastName":["Jones"]}})", employees));
  EXPECT_TRUE(M(R"({"employees":{"firstName":["Anna"],"lastName":["Smith"]}})", employees));
  // Fields in different arrays combine freely.
  EXPECT_TRUE(M(R"({"a":{"x":[1]},"b":{"y":[2]}})", R"({"a":[{"x":0},{"x":1}],"b":[{"y":2}]})"));
}

TEST(PatternOr, TopLevelAndNested) {
  const char* p = R"({"source":["aws.ec2"],"$or":[
      {"detail":{"c-count":[{"numeric":[">",10]}]}},
      {"detail":{"state":["running"]}}]})";
  EXPECT_TRUE(M(p, kEc2));
  const char* q = R"({"detail":{"$or":[{"c-count":[{"numeric":[">",10]}]},
                                       {"d-count":[{"numeric":["<",1]}]}]}})";
  EXPECT_FALSE(M(q, kEc2));
  // $or inside $or.
  const char* r = R"({"$or":[{"source":["x"]},
                             {"detail":{"state":["running"]},
                              "$or":[{"detail":{"c-count":[1]}},{"detail":{"d-count":[3]}}]}]})";
  EXPECT_TRUE(M(r, kEc2));
  const char* r2 = R"({"$or":[{"source":["x"]},
                              {"detail":{"state":["running"]},
                               "$or":[{"detail":{"c-count":[1]}},{"detail":{"d-count":[4]}}]}]})";
  EXPECT_FALSE(M(r2, kEc2));
  // Parallel $ors are an AND of ORs.
  const char* par = R"({"$or":[{"a":[1]},{"b":[1]}],"c":{"$or":[{"d":[1]},{"e":[1]}]}})";
  EXPECT_TRUE(M(par, R"({"b":1,"c":{"e":1}})"));
  EXPECT_FALSE(M(par, R"({"b":1,"c":{"f":1}})"));
}

TEST(PatternOr, MatchesOnceWhenSeveralBranchesMatch) {
  auto m = CompileMatcher({{"r", R"({"$or":[{"a":[1]},{"b":[1]}]})"}});
  ASSERT_TRUE(m.ok());
  std::vector<uint32_t> out;
  ASSERT_TRUE((*m)->Match(R"({"a":1,"b":1})", out).ok());
  EXPECT_EQ(out, std::vector<uint32_t>{0});
}

TEST(PatternOr, InvalidOrFallsBackToAFieldName) {
  // A "$or" that is not AWS's OR operator is read as an ordinary field name.
  EXPECT_TRUE(M(R"({"$or":{"a":["x"]}})", R"({"$or":{"a":"x"}})"));
  EXPECT_EQ(Reason(R"({"$or":[{"a":["x"]}]})"), "Unrecognized match type a");
  // Reserved names inside a branch make it not an OR; the field-name reading then decides.
  EXPECT_EQ(Reason(R"({"$or":[{"numeric":["x"]},{"b":["y"]}]})"),
            "Unrecognized numeric range operator: x");
  EXPECT_EQ(Reason(R"({"$or":[{"prefix":["x"]},{"b":["y"]}]})"),
            "prefix match pattern must be a string");
  EXPECT_TRUE(M(R"({"$or":[{"prefix":"x"},{"suffix":"y"}]})", R"({"$or":"xay"})"));
}

TEST(PatternOr, CombinationLimit) {
  // 11 * 11 * 11 = 1331 combinations.
  std::string branch = "[";
  for (int i = 0; i < 11; ++i)
    branch += std::string(i ? "," : "") + "{\"f\":[" + std::to_string(i) + "]}";
  branch += "]";
  std::string p =
      R"({"a":{"$or":)" + branch + R"(},"b":{"$or":)" + branch + R"(},"c":{"$or":)" + branch + "}}";
  PatternOptions big;
  big.max_pattern_chars = 100000;
  Status s = ValidatePattern(p, big);
  EXPECT_EQ(s.message(),
            "Event pattern is not valid. Reason: Event pattern contains more than 1000 rule "
            "combinations");
  big.max_or_combinations = 2000;
  EXPECT_TRUE(ValidatePattern(p, big).ok());
}

// ---- validation -------------------------------------------------------------------------------

TEST(PatternValidation, AwsReasons) {
  EXPECT_EQ(Reason(R"({"source":"aws.ec2"})"), R"("source" must be an object or an array)");
  EXPECT_EQ(Reason(R"({"source":5})"), R"("source" must be an object or an array)");
  EXPECT_EQ(Reason(R"({"source":[]})"), "Empty arrays are not allowed");
  EXPECT_EQ(Reason(R"({"detail":{}})"), "Empty objects are not allowed");
  EXPECT_EQ(Reason(R"({"a":[["x"]]})"), "Match value must be String, number, true, false, or null");
  EXPECT_EQ(Reason(R"({"a":[{}]})"), "Match expression name not found");
  EXPECT_EQ(Reason(R"({"a":[{"NUMERIC":[">",1]}]})"), "Unrecognized match type NUMERIC");
  EXPECT_EQ(Reason(R"({"a":[{"prefix":"x","suffix":"y"}]})"),
            "Only one key allowed in match expression");
  EXPECT_EQ(Reason(R"({"a":[{"prefix":5}]})"), "prefix match pattern must be a string");
  EXPECT_EQ(Reason(R"({"a":[{"suffix":null}]})"), "suffix match pattern must be a string");
  EXPECT_EQ(Reason(R"({"a":[{"prefix":{"wildcard":"x"}}]})"),
            "Unsupported prefix pattern: wildcard");
  EXPECT_EQ(Reason(R"({"a":[{"equals-ignore-case":1}]})"),
            "equals-ignore-case match pattern must be a string");
  EXPECT_EQ(Reason(R"({"a":[{"exactly":1}]})"), "exact match pattern must be a string");
  // Not AWS's OR (a branch is not an object), so "$or" is a field and {"a":...} an operator.
  EXPECT_EQ(Reason(R"({"$or":[{"a":["x"]},"b"]})"), "Unrecognized match type a");
  EXPECT_EQ(Reason("[]"), "Filter is not an object");
  EXPECT_EQ(Reason(R"("x")"), "Filter is not an object");
  EXPECT_EQ(Reason(R"({"a":["x"]} extra)"), "malformed JSON");
}

TEST(PatternValidation, ExactlyOperator) {
  EXPECT_TRUE(M(R"({"a":[{"exactly":"x"}]})", R"({"a":"x"})"));
  EXPECT_FALSE(M(R"({"a":[{"exactly":"x"}]})", R"({"a":"X"})"));
}

TEST(PatternValidation, SizeLimit) {
  std::string p = R"({"a":[")" + std::string(2100, 'x') + R"("]})";
  EXPECT_EQ(Reason(p), "Event pattern is longer than 2048 characters");
  PatternOptions big;
  big.max_pattern_chars = 4096;
  EXPECT_TRUE(ValidatePattern(p, big).ok());
  // Characters, not bytes.
  std::string accented;
  for (int i = 0; i < 1000; ++i) accented += "é";
  EXPECT_EQ(Reason(R"({"a":[")" + accented + R"("]})"), "OK");
}

TEST(PatternValidation, LastWriteWinsLikeAws) {
  // A field constrained inside and outside a $or keeps the value written last in the document.
  const char* p = R"({"a":["1"],"$or":[{"a":["2"]},{"b":["3"]}]})";
  EXPECT_TRUE(M(p, R"({"a":"2"})"));
  EXPECT_FALSE(M(p, R"({"a":"1"})"));
  EXPECT_TRUE(M(p, R"({"a":"1","b":"3"})"));
}

}  // namespace
}  // namespace cdc
