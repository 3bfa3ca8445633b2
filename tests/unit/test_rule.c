/* rule: the rule language: parsing and canonical printing, every error
 * message with its line and column, type checking, evaluation against a
 * fake profile and on event properties, `until`, aggregation dedup. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/timeutil.h"
#include "px_test.h"
#include "rule/rule.h"

#define DAY 86400000LL

static px_rule *compile_kind(const char *src, px_rule_kind kind) {
  px_rule *r = NULL;
  px_rule_error err;
  px_status s = px_rule_compile(src, strlen(src), kind, &r, &err);
  if (s != PX_OK) fail_msg("%s: line %d, column %d: %s", src, err.line, err.column, err.message);
  return r;
}
static px_rule *compile(const char *src) { return compile_kind(src, PX_RULE_PROFILE); }

static char *canon_kind(const char *src, px_rule_kind kind) {
  static char buf[8192];
  px_rule *r = compile_kind(src, kind);
  PX_ASSERT_OK(px_rule_print(r, buf, sizeof buf));
  px_rule_free(r);
  return buf;
}

/* ---- parsing and printing ---- */

static const struct {
  const char *src, *canonical;
} printed[] = {
    /* the three, and absence */
    {"country = \"United Kingdom\" and at least 2 events \"Order Completed\" in last 90 days",
     "country = \"United Kingdom\" and count(event \"Order Completed\" in last 90 days) >= 2"},
    {"count(event \"Product Purchased\" where category = \"garden\" and quantity > 10 in last 30 days) >= 1\n"
     "  and not in segment \"wholesale\"",
     "count(event \"Product Purchased\" where category = \"garden\" and quantity > 10 in last 30 days) >= 1 and not in "
     "segment \"wholesale\""},
    {"has email and consented to \"email_marketing\" and last_seen before 30 days ago",
     "has email and consent.email_marketing and last_seen before 30 days ago"},
    {"no event \"Order Completed\" in last 60 days", "count(event \"Order Completed\" in last 60 days) = 0"},
    {"at most 3 events in last 1 week", "count(event in last 1 week) <= 3"},
    /* namespaces and names */
    {"trait.country = \"x\"", "country = \"x\""},
    {"trait.\"first name\" = \"Jo\" and trait.and = 1 and trait.a.b = 2", "trait.\"first name\" = \"Jo\" and trait.and = 1 and a.b = 2"},
    {"computed.orders_90d >= 2 and score.rfm_recency <= 30 and account.plan = \"enterprise\"",
     "computed.orders_90d >= 2 and score.rfm_recency <= 30 and account.plan = \"enterprise\""},
    {"has identifier email and has \"loyalty card\" and identifier.phone starts with \"+44\"",
     "has email and has \"loyalty card\" and identifier.phone starts with \"+44\""},
    {"consent.email and profile.events > 3 and profile.first_seen after \"2024-01-01\"",
     "consent.email and profile.events > 3 and first_seen after \"2024-01-01\""},
    {"first_seen > \"2024-01-01\" and last_seen <= 2 days ago",
     "first_seen after \"2024-01-01\" and last_seen <= 2 days ago"},
    /* spacing, parentheses, precedence */
    {"(a=1)and((b=2)or(c=3))", "a = 1 and (b = 2 or c = 3)"},
    {"a = 1 or b = 2 and c = 3", "a = 1 or b = 2 and c = 3"},
    {"(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"},
    {"a and (b and c) and (d or (e or f))", "a and b and c and (d or e or f)"},
    {"not not a", "not not a"},
    {"not (a = 1 and b)", "not (a = 1 and b)"},
    {"x - (y - z) = (x - y) - z", "x - (y - z) = x - y - z"},
    {"x * (y + 1) / 2 >= -3", "x * (y + 1) / 2 >= -3"},
    {"- -x = 2 - -3 and -(x + 1) = 1.50", "--x = 2 - -3 and -(x + 1) = 1.5"},
    {"x = 1e20 and y = 0.1 and z = 1e-7", "x = 1e+20 and y = 0.1 and z = 1e-07"},
    {"(a = true) = false", "(a = true) = false"},
    /* operators */
    {"a in [\"x\", \"y\"] and b not in [1, -2] and c in [true]",
     "a in [\"x\", \"y\"] and b not in [1, -2] and c in [true]"},
    {"a contains \"x\" and a starts with \"y\" and a ends with \"z\"",
     "a contains \"x\" and a starts with \"y\" and a ends with \"z\""},
    {"a is null or a is not null", "a is null or a is not null"},
    {"a != 1 and a < 1 and a <= 1 and a > 1 and a >= 1", "a != 1 and a < 1 and a <= 1 and a > 1 and a >= 1"},
    {"signup before \"2024-01-01\" and signup after 3 days ago", "signup before \"2024-01-01\" and signup after 3 days ago"},
    {"last_seen in [\"2024-01-01\"]", "last_seen in [\"2024-01-01\"]"},
    /* strings */
    {"a = \"q\\\"b\\\\s\\/\\n\\t\\r\\u00e9\\ud83d\\ude00\\u0001\"", "a = \"q\\\"b\\\\s/\\n\\t\\r\xc3\xa9\xf0\x9f\x98\x80\\u0001\""},
    /* aggregations */
    {"sum(revenue of event \"Order Completed\" in last 365 days) > 100",
     "sum(revenue of event \"Order Completed\" in last 365 days) > 100"},
    {"avg(price of event) > 1 and min(\"unit price\" of event) > 0 and max(product.price of event \"x\") < 9",
     "avg(price of event) > 1 and min(\"unit price\" of event) > 0 and max(product.price of event \"x\") < 9"},
    {"first(channel of event) = \"web\" and last(\"event\" of event) = 1 and distinct(sku of event in last 7 days) > 2 "
     "and most_frequent(category of event) = \"garden\"",
     "first(channel of event) = \"web\" and last(\"event\" of event) = 1 and distinct(sku of event in last 1 week) > 2 "
     "and most_frequent(category of event) = \"garden\""},
    {"count(event in last 24 hours) > 0 and count(event in last 90 minutes) > 0 and count(event in last 2 days) > 0",
     "count(event in last 1 day) > 0 and count(event in last 90 minutes) > 0 and count(event in last 2 days) > 0"},
    {"count(event where event = \"a\" or property.event in [\"b\"] and not gift in last 30 days) > 0",
     "count(event where event = \"a\" or property.event in [\"b\"] and not gift in last 30 days) > 0"},
    /* scalar functions */
    {"ln(x) > 1 and log1p( computed.revenue ) < 2 * ln(2)", "ln(x) > 1 and log1p(computed.revenue) < 2 * ln(2)"},
    {"days_since(last_seen) >= 30 and days_since(\"2024-01-01\") > 0 and -0.5 * days_since(computed.last) + 1 < 0",
     "days_since(last_seen) >= 30 and days_since(\"2024-01-01\") > 0 and -0.5 * days_since(computed.last) + 1 < 0"},
    {"ln(((x + 1) * 2)) = -ln(-x) and log1p(days_since(3 days ago)) > 0",
     "ln((x + 1) * 2) = -ln(-x) and log1p(days_since(3 days ago)) > 0"},
    {"count = 1 and ln = 2 and trait.days_since = 3", "count = 1 and ln = 2 and days_since = 3"},
    {"# a comment\ncountry = \"UK\" # another\n", "country = \"UK\""},
    {"true", "true"},
};

static void test_print_round_trip(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof printed / sizeof printed[0]; i++) {
    char first[8192];
    strcpy(first, canon_kind(printed[i].src, PX_RULE_PROFILE));
    PX_ASSERT_STR_EQ(first, printed[i].canonical);
    PX_ASSERT_STR_EQ(canon_kind(first, PX_RULE_PROFILE), first);
  }
  /* event rules */
  PX_ASSERT_STR_EQ(canon_kind("category = \"garden\" and quantity>10", PX_RULE_EVENT), "category = \"garden\" and quantity > 10");
  PX_ASSERT_STR_EQ(canon_kind("property.\"a b\" = 1 and property.x = 2 and event = \"e\"", PX_RULE_EVENT),
                   "property.\"a b\" = 1 and x = 2 and event = \"e\"");
}

static void test_print_too_small(void **state) {
  (void)state;
  px_rule *r = compile("country = \"United Kingdom\"");
  char buf[8] = "xxxxxxx";
  PX_ASSERT_STATUS(px_rule_print(r, buf, sizeof buf), PX_TOO_LARGE);
  PX_ASSERT_STR_EQ(buf, "");
  char ok[27];
  PX_ASSERT_OK(px_rule_print(r, ok, sizeof ok));
  PX_ASSERT_STR_EQ(ok, "country = \"United Kingdom\"");
  px_rule_free(r);
  px_rule_free(NULL);
}

/* ---- errors ---- */

static const struct {
  px_rule_kind kind;
  const char *src;
  int line, column;
  const char *message;
} errors[] = {
    {PX_RULE_PROFILE, "a = 1 and", 1, 10, "expected a condition after 'and', found the end of the rule"},
    {PX_RULE_PROFILE, "", 1, 1, "expected a condition, found the end of the rule"},
    {PX_RULE_PROFILE, "a = and", 1, 5, "expected a value after '=', found 'and'"},
    {PX_RULE_PROFILE, "a = null", 1, 5, "expected a value after '=', found 'null' (write 'is null' to test for a missing value)"},
    {PX_RULE_PROFILE, "a = 1 )", 1, 7, "expected 'and', 'or' or the end of the rule after '1', found ')'"},
    {PX_RULE_PROFILE, "(a = 1", 1, 7, "expected ')' after '1', found the end of the rule"},
    {PX_RULE_PROFILE, "a in 3", 1, 6, "expected '[' and a list of values after 'in', found '3'"},
    {PX_RULE_PROFILE, "a in [x]", 1, 7, "expected a string, number, true or false in the list after '[', found 'x'"},
    {PX_RULE_PROFILE, "a in [1 2]", 1, 9, "expected ',' or ']' after '1', found '2'"},
    {PX_RULE_PROFILE, "a is 3", 1, 6, "expected 'null' or 'not null' after 'is', found '3'"},
    {PX_RULE_PROFILE, "a is not 3", 1, 10, "expected 'null' after 'not', found '3'"},
    {PX_RULE_PROFILE, "a starts \"x\"", 1, 10, "expected 'with' after 'starts', found \"x\""},
    {PX_RULE_PROFILE, "trait x", 1, 7, "expected '.' and a name after 'trait', found 'x'"},
    {PX_RULE_PROFILE, "trait.", 1, 7, "expected a name after '.', found the end of the rule"},
    {PX_RULE_PROFILE, "trait.\"\"", 1, 7, "a name cannot be empty"},
    {PX_RULE_PROFILE, "foo(event)", 1, 1, "unknown function 'foo': expected count, sum, avg, min, max, first, last, distinct, most_frequent, ln, log1p or days_since"},
    {PX_RULE_PROFILE, "ln(\"x\") > 0", 1, 4, "expected a number in ln(...), found a string"},
    {PX_RULE_PROFILE, "log1p(last_seen) > 0", 1, 7, "expected a number in log1p(...), found a time"},
    {PX_RULE_PROFILE, "days_since(1) > 0", 1, 12, "expected a time in days_since(...), found a number"},
    {PX_RULE_PROFILE, "days_since(\"soon\") > 0", 1, 12, "expected a date like \"2024-01-01\" in days_since(...), found \"soon\""},
    {PX_RULE_PROFILE, "ln(x > 0", 1, 6, "expected ')' after 'x', found '>'"},
    {PX_RULE_PROFILE, "ln() > 0", 1, 4, "expected a number after '(', found ')'"},
    {PX_RULE_PROFILE, "days_since() > 0", 1, 12, "expected a time after '(', found ')'"},
    {PX_RULE_EVENT, "days_since(date) > 1", 1, 1, "an event rule cannot depend on the current time, found 'days_since'"},
    {PX_RULE_PROFILE, "count(x of event)", 1, 7, "expected 'event' after '(', found 'x'"},
    {PX_RULE_PROFILE, "sum(event \"x\")", 1, 5, "expected a property and 'of' after '(', found 'event'"},
    {PX_RULE_PROFILE, "sum(x event \"x\")", 1, 7, "expected 'of' after 'x', found 'event'"},
    {PX_RULE_PROFILE, "count(event \"x\" where a = 1 in 3 days)", 1, 32, "expected 'last' after 'in', found '3'"},
    {PX_RULE_PROFILE, "count(event \"x\" in last x)", 1, 25, "expected a number of minutes, hours, days or weeks after 'last', found 'x'"},
    {PX_RULE_PROFILE, "count(event \"x\" in last 1.5 days)", 1, 25, "expected a whole number of minutes, hours, days or weeks, found '1.5'"},
    {PX_RULE_PROFILE, "count(event \"x\" in last 0 days)", 1, 25, "a duration must be at least 1 minute, found '0'"},
    {PX_RULE_PROFILE, "count(event \"x\" in last 3 parsecs)", 1, 27, "expected a time unit (minutes, hours, days or weeks) after '3', found 'parsecs'"},
    {PX_RULE_PROFILE, "count(event \"x\" in last 40000 days)", 1, 25, "a duration can be at most 36500 days"},
    {PX_RULE_PROFILE, "count(event \"x\" where 1) > 0", 1, 23, "expected a condition after 'where', found a number"},
    {PX_RULE_PROFILE, "count(event \"x\" > 0", 1, 17, "expected ')' after \"x\", found '>'"},
    {PX_RULE_PROFILE, "last_seen before 3 days", 1, 24, "expected 'ago' (a duration goes after 'in last' or before 'ago') after 'days', found the end of the rule"},
    {PX_RULE_PROFILE, "in \"x\"", 1, 4, "expected 'segment' after 'in', found \"x\""},
    {PX_RULE_PROFILE, "in segment x", 1, 12, "expected a segment name in double quotes after 'segment', found 'x'"},
    {PX_RULE_PROFILE, "in segment \"\"", 1, 12, "a name cannot be empty"},
    {PX_RULE_PROFILE, "has and", 1, 5, "expected an identifier kind after 'has', found 'and'"},
    {PX_RULE_PROFILE, "has \"\"", 1, 5, "a name cannot be empty"},
    {PX_RULE_PROFILE, "consented \"x\"", 1, 11, "expected 'to' after 'consented', found \"x\""},
    {PX_RULE_PROFILE, "consented to 3", 1, 14, "expected a consent purpose after 'to', found '3'"},
    {PX_RULE_PROFILE, "no x", 1, 4, "expected 'event' after 'no', found 'x'"},
    {PX_RULE_PROFILE, "at 3 events", 1, 4, "expected 'least' or 'most' after 'at', found '3'"},
    {PX_RULE_PROFILE, "at least x events", 1, 10, "expected a whole number after 'least', found 'x'"},
    {PX_RULE_PROFILE, "at least 2 x", 1, 12, "expected 'event' after '2', found 'x'"},
    {PX_RULE_PROFILE, "profile.foo = 1", 1, 9, "unknown profile field 'foo': expected first_seen, last_seen or events"},
    {PX_RULE_PROFILE, "property.x = 1", 1, 1, "an event's name and properties can only be read in an aggregation's where, found 'property'"},
    {PX_RULE_PROFILE, "event = \"x\"", 1, 1, "an event's name and properties can only be read in an aggregation's where, found 'event'"},
    {PX_RULE_PROFILE, "a = \"x", 1, 5, "unterminated string: expected a closing '\"'"},
    {PX_RULE_PROFILE, "a = \"\\q\"", 1, 6, "invalid escape in a string: expected \\\", \\\\, \\/, \\n, \\t, \\r or \\uXXXX"},
    {PX_RULE_PROFILE, "a = \"\\u12\"", 1, 6, "invalid \\u escape: expected 4 hex digits"},
    {PX_RULE_PROFILE, "a = \"\\ud800\"", 1, 6, "invalid \\u escape: unpaired surrogate"},
    {PX_RULE_PROFILE, "a = \"\\u0000\"", 1, 6, "\\u0000 is not allowed in a string"},
    {PX_RULE_PROFILE, "a = 1e", 1, 5, "malformed number '1e'"},
    {PX_RULE_PROFILE, "a = 1e999", 1, 5, "number out of range '1e999'"},
    {PX_RULE_PROFILE, "a @ 1", 1, 3, "unexpected character '@'"},
    {PX_RULE_PROFILE, "a = 1 \xe2\x82\xac" "", 1, 7, "unexpected character '\xe2\x82\xac" "'"},
    {PX_RULE_PROFILE, "a = \"x\ty\"", 1, 7, "control character in a string (write \\n, \\t or \\uXXXX)"},
    {PX_RULE_PROFILE, "1 = 1 and 2", 1, 11, "expected a condition after 'and', found a number"},
    {PX_RULE_PROFILE, "1 and a", 1, 1, "expected a condition before 'and', found a number"},
    {PX_RULE_PROFILE, "not 3", 1, 5, "expected a condition after 'not', found a number"},
    {PX_RULE_PROFILE, "1 + 2", 1, 1, "the rule must be a condition (true or false), found a number"},
    {PX_RULE_PROFILE, "a = 1 and \"x\"", 1, 11, "expected a condition after 'and', found a string"},
    {PX_RULE_PROFILE, "1 = \"x\"", 1, 5, "expected a number after '=', found a string"},
    {PX_RULE_PROFILE, "(a = 1) < true", 1, 2, "expected a number, string or time before '<', found a condition"},
    {PX_RULE_PROFILE, "true < 1", 1, 1, "expected a number, string or time before '<', found a condition"},
    {PX_RULE_PROFILE, "\"x\" + 1", 1, 1, "expected a number before '+', found a string"},
    {PX_RULE_PROFILE, "1 - \"x\"", 1, 5, "expected a number after '-', found a string"},
    {PX_RULE_PROFILE, "-\"x\" = 1", 1, 2, "expected a number after '-', found a string"},
    {PX_RULE_PROFILE, "a contains 1", 1, 12, "expected a string after 'contains', found a number"},
    {PX_RULE_PROFILE, "1 contains a", 1, 1, "expected a string before 'contains', found a number"},
    {PX_RULE_PROFILE, "a + 1 in [\"x\"]", 1, 11, "expected a number in the list, found a string"},
    {PX_RULE_PROFILE, "last_seen before \"yesterday\"", 1, 18, "expected a date like \"2024-01-01\" after 'before', found \"yesterday\""},
    {PX_RULE_PROFILE, "last_seen before 1", 1, 18, "expected a time after 'before', found a number"},
    {PX_RULE_PROFILE, "1 after a", 1, 1, "expected a time before 'after', found a number"},
    {PX_RULE_PROFILE, "identifier.email after a", 1, 1, "expected a time before 'after', found a string"},
    {PX_RULE_PROFILE, "count(event where 1) > 0", 1, 19, "expected a condition after 'where', found a number"},
    {PX_RULE_EVENT, "trait.x = 1", 1, 1, "an event rule can only read the event's name and properties, found 'trait'"},
    {PX_RULE_EVENT, "count(event) > 0", 1, 1, "an event rule cannot use aggregations, found 'count('"},
    {PX_RULE_EVENT, "in segment \"x\"", 1, 1, "an event rule can only read the event's name and properties, found 'in'"},
    {PX_RULE_EVENT, "last_seen before 3 days ago", 1, 1, "an event rule can only read the event's name and properties, found 'last_seen'"},
    {PX_RULE_EVENT, "x after 3 days ago", 1, 16, "an event rule cannot depend on the current time, found 'ago'"},
    {PX_RULE_EVENT, "has email", 1, 1, "an event rule can only read the event's name and properties, found 'has'"},
    {PX_RULE_EVENT, "no event \"x\"", 1, 1, "an event rule can only read the event's name and properties, found 'no'"},
    {PX_RULE_EVENT, "\"x\"", 1, 1, "the rule must be a condition (true or false), found a string"},
    {PX_RULE_EVENT, "event starts with 1", 1, 19, "expected a string after 'starts with', found a number"},
    {PX_RULE_PROFILE, "1 < true", 1, 5, "expected a number, string or time after '<', found a condition"},
    {PX_RULE_PROFILE, "a = 1 and\n  b = \n", 3, 1, "expected a value after '=', found the end of the rule"},
    {PX_RULE_PROFILE, "a = 1\nand \"\xc3\xa9t\xc3\xa9\" = b \xe2\x82\xac", 2, 15, "unexpected character '\xe2\x82\xac'"},
    {PX_RULE_PROFILE, "a = \"\xff\"", 1, 6, "invalid UTF-8 in the rule"},
    {PX_RULE_PROFILE, "a = 1 \x01", 1, 7, "unexpected control character 0x01"},
    {PX_RULE_PROFILE, "a = 12345678901234567890123456789012345678901234567890123456789012345678901234567890", 1, 5,
     "number too long (at most 79 characters)"},
};

static void test_error_messages(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
    px_rule *r = (px_rule *)1;
    px_rule_error err;
    px_status s = px_rule_compile(errors[i].src, strlen(errors[i].src), errors[i].kind, &r, &err);
    if (s != PX_INVALID) fail_msg("%s: %s, want invalid", errors[i].src, px_status_str(s));
    PX_ASSERT_NULL(r);
    if (err.line != errors[i].line || err.column != errors[i].column || strcmp(err.message, errors[i].message))
      fail_msg("%s:\n got  %d:%d: %s\n want %d:%d: %s", errors[i].src, err.line, err.column, err.message,
               errors[i].line, errors[i].column, errors[i].message);
  }
  /* A NUL inside the text (the length says where the rule ends). */
  px_rule *r;
  px_rule_error err;
  PX_ASSERT_STATUS(px_rule_compile("a = \0b", 6, PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "unexpected character NUL");
  PX_ASSERT_INT_EQ(err.column, 5);
  /* err may be NULL */
  PX_ASSERT_STATUS(px_rule_compile("a =", 3, PX_RULE_PROFILE, &r, NULL), PX_INVALID);
}

static void test_limits(void **state) {
  (void)state;
  px_rule *r;
  px_rule_error err;
  size_t n = PX_RULE_MAX_BYTES + 1;
  char *big = malloc(n + 64);
  memset(big, ' ', n);
  big[0] = 'a', big[1] = '=', big[2] = '1';
  PX_ASSERT_STATUS(px_rule_compile(big, n, PX_RULE_PROFILE, &r, &err), PX_TOO_LARGE);
  PX_ASSERT_STR_EQ(err.message, "the rule is longer than 16384 bytes");
  PX_ASSERT_INT_EQ(err.line, 1);
  PX_ASSERT_OK(px_rule_compile(big, n - 1, PX_RULE_PROFILE, &r, &err));
  px_rule_free(r);

  /* nesting: 64 levels of parentheses are fine, 65 are not */
  char *p = big;
  for (int i = 0; i < 64; i++) *p++ = '(';
  p += sprintf(p, "a");
  for (int i = 0; i < 64; i++) *p++ = ')';
  *p = 0;
  PX_ASSERT_OK(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err));
  px_rule_free(r);
  memmove(big + 1, big, strlen(big) + 1);
  big[0] = '(';
  strcat(big, ")");
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "nested too deeply (at most 64 levels)");
  PX_ASSERT_INT_EQ(err.column, 65);
  /* not, minus and operator chains count too */
  p = big;
  for (int i = 0; i < 70; i++) p += sprintf(p, "not ");
  strcpy(p, "a");
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "nested too deeply (at most 64 levels)");
  p = big + sprintf(big, "a = 1");
  for (int i = 0; i < 70; i++) p += sprintf(p, " + 1");
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "nested too deeply (at most 64 levels)");
  /* long and/or chains are flat */
  p = big + sprintf(big, "a = 0");
  for (int i = 1; i < 500; i++) p += sprintf(p, " or a = %d", i);
  PX_ASSERT_OK(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err));
  px_rule_free(r);

  /* aggregations and segments per rule */
  p = big + sprintf(big, "true");
  for (int i = 0; i < PX_RULE_MAX_AGGS; i++) p += sprintf(p, " and count(event \"e%d\") > 0", i);
  PX_ASSERT_OK(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err));
  PX_ASSERT_INT_EQ(px_rule_naggs(r), PX_RULE_MAX_AGGS);
  px_rule_free(r);
  sprintf(p, " and count(event \"x\" where a = 1) > 0");
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "too many aggregations in one rule (at most 32)");
  p = big + sprintf(big, "true");
  for (int i = 0; i <= PX_RULE_MAX_SEGMENTS; i++) p += sprintf(p, " and in segment \"s%d\"", i);
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "too many segments in one rule (at most 32)");

  /* names */
  p = big + sprintf(big, "trait.\"");
  memset(p, 'n', PX_RULE_NAME_MAX);
  strcpy(p + PX_RULE_NAME_MAX, "\" = 1");
  PX_ASSERT_STATUS(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.message, "name longer than 255 bytes");
  PX_ASSERT_INT_EQ(err.column, 7);
  strcpy(p + PX_RULE_NAME_MAX - 1, "\" = 1");
  PX_ASSERT_OK(px_rule_compile(big, strlen(big), PX_RULE_PROFILE, &r, &err));
  px_rule_free(r);
  free(big);
}

/* ---- evaluation against a fake profile ---- */

typedef struct fake_val {
  px_rule_ns ns;
  const char *name;
  px_rule_value v;
  int64_t valid_until;
} fake_val;

typedef struct fake {
  fake_val vals[16];
  int nvals;
  const char *segments[4];
  px_rule_value aggs[8];
  int64_t agg_until[8];
  int calls;
  px_status fail;
} fake;

static px_status fake_get(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *vu) {
  fake *f = arg;
  f->calls++;
  if (f->fail) return f->fail;
  PX_ASSERT_INT_EQ(*vu, INT64_MAX);
  for (int i = 0; i < f->nvals; i++)
    if (f->vals[i].ns == ns && strcmp(f->vals[i].name, name) == 0) {
      *out = f->vals[i].v;
      if (f->vals[i].valid_until) *vu = f->vals[i].valid_until;
      return PX_OK;
    }
  out->type = PX_RV_NULL;
  return PX_OK;
}

static px_status fake_in_segment(void *arg, const char *name, int *in) {
  fake *f = arg;
  *in = 0;
  for (int i = 0; i < 4 && f->segments[i]; i++)
    if (strcmp(f->segments[i], name) == 0) *in = 1;
  return PX_OK;
}

static px_status fake_aggregate(void *arg, int i, px_rule_value *out, int64_t *vu) {
  fake *f = arg;
  *out = f->aggs[i];
  *vu = f->agg_until[i] ? f->agg_until[i] : INT64_MAX;
  return PX_OK;
}

static px_rule_value S(const char *s) { return (px_rule_value){.type = PX_RV_STR, .s = s, .len = strlen(s)}; }
static px_rule_value N(double n) { return (px_rule_value){.type = PX_RV_NUM, .n = n}; }
static px_rule_value B(int b) { return (px_rule_value){.type = PX_RV_BOOL, .b = b}; }
static px_rule_value TM(int64_t t) { return (px_rule_value){.type = PX_RV_TIME, .t = t}; }

static const int64_t NOW = 1717200000000LL; /* 2024-06-01 */

static fake *fake_profile(void) {
  static fake f;
  memset(&f, 0, sizeof f);
  fake_val v[] = {
      {PX_NS_TRAIT, "country", S("United Kingdom"), 0},
      {PX_NS_TRAIT, "age", N(41), 0},
      {PX_NS_TRAIT, "vip", B(1), 0},
      {PX_NS_TRAIT, "name", {.type = PX_RV_STR, .s = "Jo Bloggs-and-more", .len = 9}, 0}, /* not NUL-terminated */
      {PX_NS_TRAIT, "signup", S("2024-01-15T10:00:00Z"), 0},
      {PX_NS_TRAIT, "nick", S("Jo Bloggs"), 0},
      {PX_NS_COMPUTED, "orders_90d", N(3), NOW + 5 * DAY},
      {PX_NS_SCORE, "rfm_recency", N(12), 0},
      {PX_NS_ACCOUNT, "plan", S("enterprise"), 0},
      {PX_NS_CONSENT, "email_marketing", B(1), 0},
      {PX_NS_CONSENT, "sms", B(0), 0},
      {PX_NS_IDENTIFIER, "email", S("jo@example.com"), 0},
      {PX_NS_PROFILE, "last_seen", TM(NOW - 40 * DAY), 0},
      {PX_NS_PROFILE, "first_seen", S("2023-01-01"), 0},
      {PX_NS_PROFILE, "events", N(17), 0},
  };
  memcpy(f.vals, v, sizeof v);
  f.nvals = (int)(sizeof v / sizeof v[0]);
  f.segments[0] = "wholesale";
  return &f;
}

static int eval_with(fake *f, const char *src, int64_t *until) {
  px_rule *r = compile(src);
  px_rule_env env = {f, NOW, fake_get, fake_in_segment, fake_aggregate};
  int res = -1;
  int64_t u = 0;
  PX_ASSERT_OK(px_rule_eval(r, &env, &res, &u));
  px_rule_free(r);
  if (until) *until = u;
  return res;
}

#define EXPECT(f, src, want)                                                           \
  do {                                                                                 \
    int got_ = eval_with(f, src, NULL);                                                \
    if (got_ != (want)) fail_msg("%s: got %d, want %d", src, got_, (int)(want));       \
  } while (0)

static void test_eval_profile(void **state) {
  (void)state;
  fake *f = fake_profile();
  EXPECT(f, "country = \"United Kingdom\"", 1);
  EXPECT(f, "trait.country != \"France\"", 1);
  EXPECT(f, "age >= 41 and age < 42 and age + 1 = 42 and age * 2 / 4 = 20.5 and -age = -41", 1);
  EXPECT(f, "age / 0 = 1 or age / 0 != 1", 0); /* division by zero is null */
  EXPECT(f, "vip and not (vip = false)", 1);
  EXPECT(f, "country", 0); /* a string as a condition: only true is true */
  EXPECT(f, "name = \"Jo Bloggs\" and name = nick and name starts with \"Jo\" and name ends with \"gs\"", 1);
  EXPECT(f, "name contains \"Blog\" and not (name contains \"more\") and name contains \"\"", 1);
  EXPECT(f, "name < \"Jo Bloggs!\" and name > \"Jo\" and name <= nick and name >= nick", 1);
  EXPECT(f, "country in [\"France\", \"United Kingdom\"] and age not in [1, 2] and age in [41]", 1);
  EXPECT(f, "country not in [\"United Kingdom\"]", 0);
  /* missing values: comparisons are false, not flips them */
  EXPECT(f, "missing = 1 or missing != 1 or missing < 1 or missing in [1] or missing not in [1]", 0);
  EXPECT(f, "missing contains \"a\" or missing starts with \"\"", 0);
  EXPECT(f, "not (missing = 1) and missing is null and country is not null and not (country is null)", 1);
  EXPECT(f, "missing", 0);
  EXPECT(f, "not missing", 1);
  /* cross-type comparisons are false */
  EXPECT(f, "age = \"41\" or age != \"41\" or country > 3 or vip = 1 or age contains \"4\"", 0);
  /* namespaces */
  EXPECT(f, "computed.orders_90d >= 2 and score.rfm_recency <= 30 and account.plan = \"enterprise\"", 1);
  EXPECT(f, "consent.email_marketing and consented to \"email_marketing\" and not consent.sms and not consent.push", 1);
  EXPECT(f, "has email and has identifier email and not has phone and identifier.email ends with \"example.com\"", 1);
  EXPECT(f, "profile.events = 17 and first_seen before \"2023-06-01\" and first_seen = \"2023-01-01T00:00:00Z\"", 1);
  EXPECT(f, "last_seen before 30 days ago and not (last_seen after 30 days ago) and last_seen after 50 days ago", 1);
  EXPECT(f, "signup after \"2024-01-01\" and signup before \"2024-02-01\" and signup in [\"2024-01-15T10:00:00Z\"]", 1);
  EXPECT(f, "signup before last_seen and country before \"2024-01-01\"", 0); /* country is not a date */
  EXPECT(f, "in segment \"wholesale\" and not in segment \"retail\"", 1);
  /* scalar functions: undefined or not a number is null */
  EXPECT(f, "ln(age) > 3.7135 and ln(age) < 3.7136 and log1p(age) > 3.7376 and log1p(age) < 3.7377", 1);
  EXPECT(f, "log1p(0) = 0 and ln(1) = 0 and log1p(age - 41) = 0 and ln(profile.events + 3) > 2.99", 1);
  EXPECT(f, "ln(0) is null and ln(-1) is null and log1p(-0.5) is null and ln(country) is null and ln(missing) is null", 1);
  EXPECT(f, "ln(age) < 0 or ln(0) < 1 or ln(0) >= 1 or log1p(-1) = 0", 0);
  EXPECT(f, "days_since(last_seen) = 40 and days_since(first_seen) = 517 and days_since(signup) = 137", 1);
  EXPECT(f, "days_since(3 days ago) = 3 and days_since(\"2024-06-11\") = -10 and days_since(\"2024-06-01T00:00:01Z\") = -1", 1);
  EXPECT(f, "days_since(age) is null and days_since(country) is null and days_since(missing) is null", 1);
  EXPECT(f, "log1p(days_since(last_seen)) > 3.71 and log1p(days_since(last_seen)) < 3.72", 1);
  /* the examples */
  f->aggs[0] = N(2);
  EXPECT(f, "country = \"United Kingdom\" and at least 2 events \"Order Completed\" in last 90 days", 1);
  f->aggs[0] = N(1);
  EXPECT(f, "country = \"United Kingdom\" and at least 2 events \"Order Completed\" in last 90 days", 0);
  EXPECT(f, "count(event \"Product Purchased\" where category = \"garden\" and quantity > 10 in last 30 days) >= 1 "
            "and not in segment \"wholesale\"", 0);
  EXPECT(f, "has email and consented to \"email_marketing\" and last_seen before 30 days ago", 1);
  f->aggs[0] = N(0);
  EXPECT(f, "no event \"Order Completed\" in last 60 days", 1);
  f->aggs[0] = (px_rule_value){.type = PX_RV_NULL};
  EXPECT(f, "avg(price of event) > 0 or avg(price of event) <= 0", 0);
  f->aggs[0] = S("garden");
  EXPECT(f, "most_frequent(category of event) = \"garden\"", 1);
  /* a callback's error is returned */
  px_rule *r = compile("age = 1 or country = \"x\"");
  f->fail = PX_STORE;
  px_rule_env env = {f, NOW, fake_get, fake_in_segment, fake_aggregate};
  int res;
  int64_t until;
  PX_ASSERT_STATUS(px_rule_eval(r, &env, &res, &until), PX_STORE);
  px_rule_free(r);
  /* short-circuit: the right side is not read when the left decides */
  f->fail = PX_OK;
  f->calls = 0;
  EXPECT(f, "age = 1 and country = \"x\"", 0);
  PX_ASSERT_INT_EQ(f->calls, 1);
  /* kinds must match */
  r = compile_kind("x = 1", PX_RULE_EVENT);
  PX_ASSERT_STATUS(px_rule_eval(r, &env, &res, &until), PX_INVALID);
  px_rule_free(r);
  r = compile("x = 1");
  PX_ASSERT_STATUS(px_rule_eval_event(r, "e", NULL, &res), PX_INVALID);
  px_rule_free(r);
}

static void test_eval_event(void **state) {
  (void)state;
  cJSON *props = cJSON_Parse("{\"category\":\"garden\",\"quantity\":12,\"gift\":true,\"tags\":[1],"
                             "\"product\":{\"price\":9.5,\"name\":\"Rake\"},\"date\":\"2024-03-01\",\"none\":null}");
  static const struct {
    const char *src;
    int want;
  } cases[] = {
      {"category = \"garden\" and quantity > 10", 1},
      {"category = \"garden\" and quantity > 12", 0},
      {"property.category = \"garden\" and property.quantity = 12", 1},
      {"gift and not (gift = false)", 1},
      {"product.price < 10 and product.name starts with \"Ra\" and property.product.price * 2 = 19", 1},
      {"product.missing is null and missing is null and none is null and tags is null and product is null", 1},
      {"event = \"Product Purchased\" and event starts with \"Product\"", 1},
      {"date after \"2024-02-01\" and date before \"2024-04-01\"", 1},
      {"category in [\"garden\", \"home\"] and quantity not in [1, 2]", 1},
      {"quantity = \"12\"", 0},
      {"category.x = 1 or quantity.y is not null", 0},
      {"ln(quantity) > 2.48 and ln(quantity) < 2.49 and log1p(product.price) < 2.36 and ln(category) is null", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    px_rule *r = compile_kind(cases[i].src, PX_RULE_EVENT);
    int res = -1;
    PX_ASSERT_OK(px_rule_eval_event(r, "Product Purchased", props, &res));
    if (res != cases[i].want) fail_msg("%s: got %d, want %d", cases[i].src, res, cases[i].want);
    px_rule_free(r);
  }
  /* no properties, no name */
  px_rule *r = compile_kind("event = \"x\" or category is null", PX_RULE_EVENT);
  int res = -1;
  PX_ASSERT_OK(px_rule_eval_event(r, NULL, NULL, &res));
  PX_ASSERT_INT_EQ(res, 1);
  px_rule_free(r);
  cJSON_Delete(props);
}

/* The aggregation's where, as the compute module uses it. */
static void test_aggregations(void **state) {
  (void)state;
  px_rule *r = compile("count(event \"Order Completed\" in last 90 days) >= 2 and "
                       "sum(revenue of event \"Order Completed\" where currency = \"GBP\" in last 52 weeks) > 100 or "
                       "at least 2 events \"Order Completed\" in last 2160 hours and "
                       "sum(revenue of event \"Order Completed\" where (currency = \"GBP\") in last 364 days) < 1000 and "
                       "no events \"Order Completed\" in last 90 days and "
                       "count(event \"Order Completed\") > 0 and count(event) > 0 and "
                       "in segment \"a\" and in segment \"b\" and not in segment \"a\"");
  PX_ASSERT_INT_EQ(px_rule_naggs(r), 4);
  const px_rule_agg *a = px_rule_agg_at(r, 0), *b = px_rule_agg_at(r, 1);
  PX_ASSERT_INT_EQ(a->fn, PX_AGG_COUNT);
  PX_ASSERT_STR_EQ(a->event, "Order Completed");
  PX_ASSERT_STR_EQ(a->property, "");
  PX_ASSERT_NULL(a->where);
  PX_ASSERT_INT_EQ(a->window_ms, 90 * DAY);
  PX_ASSERT_INT_EQ(b->fn, PX_AGG_SUM);
  PX_ASSERT_STR_EQ(b->property, "revenue");
  PX_ASSERT_INT_EQ(b->window_ms, 364 * DAY);
  PX_ASSERT_TRUE(b->where != NULL);
  PX_ASSERT_INT_EQ(px_rule_get_kind(b->where), PX_RULE_EVENT);
  PX_ASSERT_INT_EQ(px_rule_agg_at(r, 2)->window_ms, 0);
  PX_ASSERT_STR_EQ(px_rule_agg_at(r, 3)->event, "");
  PX_ASSERT_NULL(px_rule_agg_at(r, 4));
  PX_ASSERT_INT_EQ(px_rule_nsegments(r), 2);
  PX_ASSERT_STR_EQ(px_rule_segment_at(r, 1), "b");
  PX_ASSERT_NULL(px_rule_segment_at(r, 2));
  char buf[512];
  PX_ASSERT_OK(px_rule_agg_print(b, buf, sizeof buf));
  PX_ASSERT_STR_EQ(buf, "sum(revenue of event \"Order Completed\" where currency = \"GBP\" in last 52 weeks)");
  PX_ASSERT_OK(px_rule_print(b->where, buf, sizeof buf));
  PX_ASSERT_STR_EQ(buf, "currency = \"GBP\"");
  cJSON *props = cJSON_Parse("{\"currency\":\"GBP\",\"revenue\":20}");
  int res = 0;
  PX_ASSERT_OK(px_rule_eval_event(b->where, "Order Completed", props, &res));
  PX_ASSERT_INT_EQ(res, 1);
  cJSON_Delete(props);
  /* equality across rules, as a key for sharing */
  px_rule *r2 = compile("sum(revenue of event \"Order Completed\" where currency = \"GBP\" in last 364 days) > 1");
  PX_ASSERT_TRUE(px_rule_agg_equal(b, px_rule_agg_at(r2, 0)));
  PX_ASSERT_TRUE(!px_rule_agg_equal(a, px_rule_agg_at(r2, 0)));
  px_rule_free(r2);
  r2 = compile("sum(revenue of event \"Order Completed\" where currency = \"EUR\" in last 364 days) > 1");
  PX_ASSERT_TRUE(!px_rule_agg_equal(b, px_rule_agg_at(r2, 0)));
  px_rule_free(r2);
  PX_ASSERT_STR_EQ(px_rule_agg_fn_name(PX_AGG_MOST_FREQUENT), "most_frequent");
  px_rule_free(r);
}

/* ---- until ---- */

static void test_until(void **state) {
  (void)state;
  fake *f = fake_profile(); /* last_seen = NOW - 40 days */
  int64_t u;
  /* already true and stays true */
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen before 30 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, INT64_MAX);
  /* false now, true once last_seen + 50 days has passed */
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen before 50 days ago", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY + 1);
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen <= 50 days ago", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY);
  /* true now, false once the window has passed */
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen after 50 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen >= 50 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY + 1);
  /* the time on the left */
  PX_ASSERT_INT_EQ(eval_with(f, "50 days ago < last_seen", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "40 days ago = last_seen", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 1);
  PX_ASSERT_INT_EQ(eval_with(f, "41 days ago != last_seen", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + DAY);
  /* under not and or: not keeps the instant; or/and take the earliest read */
  PX_ASSERT_INT_EQ(eval_with(f, "not (last_seen after 50 days ago)", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 10 * DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen after 45 days ago or computed.orders_90d > 100", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 5 * DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "computed.orders_90d > 100 or last_seen after 45 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 5 * DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "not (computed.orders_90d > 100 or last_seen after 48 days ago)", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 5 * DAY);
  /* a decided and does not read the rest, whose instants cannot matter */
  PX_ASSERT_INT_EQ(eval_with(f, "country = \"France\" and last_seen after 45 days ago", &u), 0);
  PX_ASSERT_INT_EQ(u, INT64_MAX);
  /* aggregates */
  f->aggs[0] = N(2);
  f->agg_until[0] = NOW + 3 * DAY;
  PX_ASSERT_INT_EQ(eval_with(f, "not (count(event \"o\" in last 90 days) >= 2) or last_seen after 45 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, NOW + 3 * DAY);
  /* a falling count (a windowed count: trend -1) against a fixed number:
   * lost, or decided by 0, it stays so and does not need waking */
  static const struct {
    double n;
    const char *rule;
    int result, waits;
  } falling[] = {
      {1, "count(event \"o\" in last 90 days) >= 2", 0, 0},  /* below: stays below */
      {2, "count(event \"o\" in last 90 days) >= 2", 1, 1},  /* may fall below */
      {2, "count(event \"o\" in last 90 days) > 2", 0, 0},   /* equal: can only go below */
      {2, "count(event \"o\" in last 90 days) <= 2", 1, 0},
      {2, "count(event \"o\" in last 90 days) < 2", 0, 1},   /* may become true */
      {2, "count(event \"o\" in last 90 days) = 2", 1, 1},
      {3, "count(event \"o\" in last 90 days) = 2", 0, 1},
      {1, "count(event \"o\" in last 90 days) != 2", 1, 0},
      {0, "count(event \"o\" in last 90 days) = 0", 1, 0},   /* "no event": 0 stays 0 */
      {1, "2 <= count(event \"o\" in last 90 days)", 0, 0},  /* the count on the right */
      {3, "2 < count(event \"o\" in last 90 days)", 1, 1},
      {1, "count(event \"o\" in last 90 days) + 1 >= 3", 0, 1}, /* arithmetic: no longer known to fall */
  };
  for (size_t i = 0; i < sizeof falling / sizeof *falling; i++) {
    f->aggs[0] = N(falling[i].n);
    f->aggs[0].trend = -1;
    f->agg_until[0] = NOW + 3 * DAY;
    PX_ASSERT_INT_EQ(eval_with(f, falling[i].rule, &u), falling[i].result);
    if (u != (falling[i].waits ? NOW + 3 * DAY : INT64_MAX))
      fail_msg("%s with the count at %g: until %lld", falling[i].rule, falling[i].n, (long long)u);
  }
  /* not known to fall (trend 0): the count's until stands */
  f->aggs[0] = N(1);
  PX_ASSERT_INT_EQ(eval_with(f, "count(event \"o\" in last 90 days) >= 2", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 3 * DAY);
  /* against another value that moves with time: not settled */
  f->aggs[0].trend = -1;
  f->aggs[1] = N(5);
  f->agg_until[1] = NOW + 2 * DAY;
  PX_ASSERT_INT_EQ(eval_with(f, "count(event \"o\" in last 90 days) >= count(event \"p\" in last 9 days)", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + 2 * DAY);
  f->aggs[1] = (px_rule_value){0};
  f->agg_until[1] = 0;
  /* a time that never moves */
  PX_ASSERT_INT_EQ(eval_with(f, "last_seen before \"2030-01-01\" and 3 days ago after 4 days ago", &u), 1);
  PX_ASSERT_INT_EQ(u, INT64_MAX);
  /* missing time: false for ever */
  PX_ASSERT_INT_EQ(eval_with(f, "trait.gone before 3 days ago", &u), 0);
  PX_ASSERT_INT_EQ(u, INT64_MAX);
  /* days_since changes at whole days after the time */
  PX_ASSERT_INT_EQ(eval_with(f, "days_since(last_seen) >= 41", &u), 0);
  PX_ASSERT_INT_EQ(u, NOW + DAY);
  PX_ASSERT_INT_EQ(eval_with(f, "days_since(signup) * 2 < 275", &u), 1); /* signup: 137 days 14 hours ago */
  PX_ASSERT_INT_EQ(u, NOW + 10 * 3600000LL);
  PX_ASSERT_INT_EQ(eval_with(f, "days_since(missing) > 1", &u), 0);
  PX_ASSERT_INT_EQ(u, INT64_MAX);
  /* brute force: the result holds for every instant before until */
  static const char *const rules[] = {
      "last_seen before 45 days ago",         "not (last_seen after 42 days ago)",
      "last_seen = 41 days ago or last_seen >= 39 days ago", "last_seen != 40 days ago",
      "signup before 138 days ago and not (last_seen <= 41 days ago)",
      "days_since(last_seen) >= 42",          "log1p(days_since(signup)) * 2 < ln(20000)",
      "days_since(signup) - days_since(last_seen) != 97",
  };
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    px_rule *r = compile(rules[i]);
    px_rule_env env = {f, NOW, fake_get, fake_in_segment, fake_aggregate};
    int res, res2;
    int64_t until, until2;
    PX_ASSERT_OK(px_rule_eval(r, &env, &res, &until));
    for (int step = 0; step < 200 && env.now_ms < NOW + 20 * DAY; step++) {
      int64_t next = env.now_ms + DAY / 4;
      for (env.now_ms += 1; env.now_ms < next; env.now_ms += 3600000) {
        PX_ASSERT_OK(px_rule_eval(r, &env, &res2, &until2));
        if (env.now_ms < until && res2 != res)
          fail_msg("%s: changed at %lld before until %lld", rules[i], (long long)env.now_ms, (long long)until);
        if (env.now_ms >= until) res = res2, until = until2;
      }
    }
    px_rule_free(r);
  }
}

/* ---- references (pickaxe discover's features) ---- */

static void test_reference(void **state) {
  (void)state;
  static const struct {
    const char *src;
    px_rule_ns ns;
    const char *name;
  } ok[] = {
      {"country", PX_NS_TRAIT, "country"},
      {"trait.\"first name\"", PX_NS_TRAIT, "first name"},
      {" address.city ", PX_NS_TRAIT, "address.city"},
      {"computed.orders", PX_NS_COMPUTED, "orders"},
      {"score.rfm_recency", PX_NS_SCORE, "rfm_recency"},
      {"account.employees", PX_NS_ACCOUNT, "employees"},
      {"last_seen", PX_NS_PROFILE, "last_seen"},
      {"profile.first_seen", PX_NS_PROFILE, "first_seen"},
      {"profile.events", PX_NS_PROFILE, "events"},
      {"identifier.email", PX_NS_IDENTIFIER, "email"},
      {"ln", PX_NS_TRAIT, "ln"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    px_rule_ns ns = (px_rule_ns)-1;
    char name[PX_RULE_NAME_MAX];
    px_rule_error err;
    px_status s = px_rule_reference(ok[i].src, strlen(ok[i].src), &ns, name, &err);
    if (s != PX_OK) fail_msg("%s: %s", ok[i].src, err.message);
    PX_ASSERT_INT_EQ(ns, ok[i].ns);
    PX_ASSERT_STR_EQ(name, ok[i].name);
  }
  static const struct {
    const char *src;
    int column;
    const char *message;
  } bad[] = {
      {"", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or profile.events, "
              "found the end of the rule"},
      {"3", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or profile.events, "
               "found '3'"},
      {"count(event)", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                          "profile.events, found 'count'"},
      {"ln(x)", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                   "profile.events, found 'ln'"},
      {"computed.orders + 1", 17, "expected the end of the reference after 'orders', found '+'"},
      {"computed", 9, "expected '.' and a name after 'computed', found the end of the rule"},
      {"profile.foo", 9, "unknown profile field 'foo': expected first_seen, last_seen or events"},
      {"and", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                 "profile.events, found 'and'"},
      {"has email", 1, "expected a trait, computed.NAME, score.NAME, account.NAME, first_seen, last_seen or "
                       "profile.events, found 'has'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    px_rule_ns ns;
    char name[PX_RULE_NAME_MAX];
    px_rule_error err;
    PX_ASSERT_STATUS(px_rule_reference(bad[i].src, strlen(bad[i].src), &ns, name, &err), PX_INVALID);
    if (err.column != bad[i].column || strcmp(err.message, bad[i].message))
      fail_msg("%s:\n got  %d: %s\n want %d: %s", bad[i].src, err.column, err.message, bad[i].column, bad[i].message);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_print_round_trip), cmocka_unit_test(test_print_too_small),
    cmocka_unit_test(test_error_messages),   cmocka_unit_test(test_limits),
    cmocka_unit_test(test_eval_profile),     cmocka_unit_test(test_eval_event),
    cmocka_unit_test(test_aggregations),     cmocka_unit_test(test_until),
    cmocka_unit_test(test_reference),
};

PX_TEST_MAIN(tests)
