/* base/timeutil: ISO 8601 parsing and formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "px_test.h"

/* 2024-05-01T10:00:00Z */
#define T0 1714557600000LL

static void expect_ms(const char *s, int64_t want) {
  int64_t got = -42;
  px_status st = px_time_parse_iso(s, &got);
  if (st != PX_OK) fail_msg("parse(\"%s\"): %s, want ok", s, px_status_str(st));
  if (got != want) fail_msg("parse(\"%s\"): %lld, want %lld", s, (long long)got, (long long)want);
}

static void expect_invalid(const char *s) {
  int64_t got = -42;
  px_status st = px_time_parse_iso(s, &got);
  if (st != PX_INVALID)
    fail_msg("parse(\"%s\"): %s (%lld), want invalid input", s, px_status_str(st), (long long)got);
}

static void test_parse_date_only(void **state) {
  (void)state;
  expect_ms("1970-01-01", 0);
  expect_ms("2024-05-01", 1714521600000LL);
  expect_ms("2000-01-01", 946684800000LL);
}

static void test_parse_date_time_utc(void **state) {
  (void)state;
  expect_ms("2024-05-01T10:00:00Z", T0);
  expect_ms("2024-05-01t10:00:00z", T0);
  expect_ms("2024-05-01 10:00:00Z", T0);
  expect_ms("2024-05-01T10:00Z", T0);
  expect_ms("1970-01-01T00:00:00Z", 0);
  expect_ms("2038-01-19T03:14:08Z", 2147483648000LL);
}

static void test_parse_without_zone_is_utc(void **state) {
  (void)state;
  expect_ms("2024-05-01T10:00:00", T0);
  expect_ms("2024-05-01T10:00", T0);
}

static void test_parse_offsets(void **state) {
  (void)state;
  expect_ms("2024-05-01T12:00:00+02:00", T0);
  expect_ms("2024-05-01T12:00:00+0200", T0);
  expect_ms("2024-05-01T12:00:00+02", T0);
  expect_ms("2024-05-01T04:30:00-05:30", T0);
  expect_ms("2024-05-01T10:00:00+00:00", T0);
  expect_ms("2024-05-01T10:00:00-00:00", T0);
  /* An offset can move the instant to another day. */
  expect_ms("2024-05-02T01:00:00+15:00", T0);
  expect_ms("2024-04-30T23:00:00-11:00", T0);
}

static void test_parse_fractional_seconds(void **state) {
  (void)state;
  expect_ms("2024-05-01T10:00:00.123Z", T0 + 123);
  expect_ms("2024-05-01T10:00:00.1Z", T0 + 100);
  expect_ms("2024-05-01T10:00:00.12Z", T0 + 120);
  expect_ms("2024-05-01T10:00:00,5Z", T0 + 500);
  expect_ms("2024-05-01T10:00:00.000Z", T0);
  /* Digits past milliseconds are truncated, never rounded up a second. */
  expect_ms("2024-05-01T10:00:00.123456789Z", T0 + 123);
  expect_ms("2024-05-01T10:00:00.999999Z", T0 + 999);
  expect_ms("2024-05-01T12:00:00.250+02:00", T0 + 250);
}

static void test_parse_before_epoch(void **state) {
  (void)state;
  expect_ms("1969-12-31T23:59:59.999Z", -1);
  expect_ms("1969-12-31T00:00:00Z", -86400000LL);
  expect_ms("0000-01-01T00:00:00Z", -62167219200000LL);
  expect_ms("9999-12-31T23:59:59.999Z", 253402300799999LL);
}

static void test_parse_leap_days(void **state) {
  (void)state;
  int64_t a, b;
  PX_ASSERT_OK(px_time_parse_iso("2024-02-29", &a));
  PX_ASSERT_OK(px_time_parse_iso("2024-03-01", &b));
  PX_ASSERT_INT_EQ(b - a, 86400000LL);
  PX_ASSERT_OK(px_time_parse_iso("2000-02-29", &a));
  PX_ASSERT_OK(px_time_parse_iso("1600-02-29", &a));
}

static void test_parse_invalid_dates(void **state) {
  (void)state;
  expect_invalid("2023-02-29");
  expect_invalid("2023-02-29T00:00:00Z");
  expect_invalid("1900-02-29");
  expect_invalid("2100-02-29");
  expect_invalid("2024-02-30");
  expect_invalid("2024-04-31");
  expect_invalid("2024-06-31");
  expect_invalid("2024-13-01");
  expect_invalid("2024-00-10");
  expect_invalid("2024-05-00");
  expect_invalid("2024-05-32");
}

static void test_parse_invalid_times(void **state) {
  (void)state;
  expect_invalid("2024-05-01T24:00:00Z");
  expect_invalid("2024-05-01T10:60:00Z");
  expect_invalid("2024-05-01T10:00:61Z");
  expect_invalid("2024-05-01T10:00:00.Z");
  expect_invalid("2024-05-01T10Z");
  expect_invalid("2024-05-01T10");
  expect_invalid("2024-05-01T1:00:00Z");
  expect_invalid("2024-05-01T10:00:0Z");
  expect_invalid("2024-05-01T");
}

static void test_parse_invalid_offsets(void **state) {
  (void)state;
  expect_invalid("2024-05-01T10:00:00+24:00");
  expect_invalid("2024-05-01T10:00:00+02:60");
  expect_invalid("2024-05-01T10:00:00+2");
  expect_invalid("2024-05-01T10:00:00+020");
  expect_invalid("2024-05-01T10:00:00+");
  expect_invalid("2024-05-01T10:00:00Z+02:00");
  expect_invalid("2024-05-01+02:00"); /* an offset needs a time */
}

/* Regression (fixed; src/base/timeutil.c:91-92): "+02:" (a colon and no minutes) is accepted
 * as +02:00; ISO 8601 has no such form.  */
static void test_parse_offset_dangling_colon(void **state) {
  (void)state;
  expect_invalid("2024-05-01T10:00:00+02:");
}

static void test_parse_garbage(void **state) {
  (void)state;
  expect_invalid("");
  expect_invalid("yesterday");
  expect_invalid("2024");
  expect_invalid("2024-05");
  expect_invalid("2024-5-1");
  expect_invalid("24-05-01");
  expect_invalid("2024/05/01");
  expect_invalid("20240501");
  expect_invalid(" 2024-05-01");
  expect_invalid("2024-05-01 ");
  expect_invalid("2024-05-01T10:00:00Zjunk");
  expect_invalid("2024-05-01T10:00:00.123Zx");
  expect_invalid("-2024-05-01");
  expect_invalid("+2024-05-01");
  expect_invalid("1714557600000");
}

static void expect_format(int64_t ms, const char *want) {
  char out[32];
  memset(out, 'x', sizeof out);
  px_time_format_iso(ms, out);
  if (strcmp(out, want) != 0) fail_msg("format(%lld): \"%s\", want \"%s\"", (long long)ms, out, want);
}

static void test_format(void **state) {
  (void)state;
  expect_format(0, "1970-01-01T00:00:00.000Z");
  expect_format(T0, "2024-05-01T10:00:00.000Z");
  expect_format(T0 + 123, "2024-05-01T10:00:00.123Z");
  expect_format(-1, "1969-12-31T23:59:59.999Z");
  expect_format(-1000, "1969-12-31T23:59:59.000Z");
  expect_format(-1001, "1969-12-31T23:59:58.999Z");
  expect_format(-86400000LL, "1969-12-31T00:00:00.000Z");
  expect_format(951782400000LL, "2000-02-29T00:00:00.000Z");
  expect_format(253402300799999LL, "9999-12-31T23:59:59.999Z");
  expect_format(-62167219200000LL, "0000-01-01T00:00:00.000Z");
}

static void round_trip(int64_t ms) {
  char out[32];
  px_time_format_iso(ms, out);
  PX_ASSERT_INT_EQ(strlen(out), 24);
  int64_t back = 0;
  px_status s = px_time_parse_iso(out, &back);
  if (s != PX_OK) fail_msg("format(%lld) = \"%s\" does not parse: %s", (long long)ms, out, px_status_str(s));
  if (back != ms) fail_msg("format(%lld) = \"%s\" parses back as %lld", (long long)ms, out, (long long)back);
}

static void test_format_round_trip(void **state) {
  (void)state;
  static const int64_t fixed[] = {0,  1,  -1,  999, -999, 1000, -1000, T0, T0 + 1,
                                  951782400000LL, 253402300799999LL, -62167219200000LL,
                                  4102444800000LL /* 2100-01-01 */};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) round_trip(fixed[i]);
  /* A deterministic sweep over years 0000-9999. */
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t ms = -62167219200000LL + (int64_t)(x % (uint64_t)(253402300799999LL + 62167219200000LL));
    round_trip(ms);
  }
}

/* Values outside years 0000-9999 cannot be written in this format; whatever
 * is written must still be a 24-character timestamp and must not overflow. */
static void test_format_extremes(void **state) {
  (void)state;
  static const int64_t v[] = {INT64_MAX, INT64_MIN + 1000000, -253402300800000LL, 253402300800000LL * 2};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    char out[32];
    px_time_format_iso(v[i], out);
    if (strlen(out) != 24) fail_msg("format(%lld) = \"%s\" (%zu chars)", (long long)v[i], out, strlen(out));
  }
}

/* Regression (fixed; src/base/timeutil.c:106): px_time_format_iso(INT64_MIN) negates
 * INT64_MIN (signed overflow, undefined behaviour; UBSan aborts here). */
static void test_format_int64_min(void **state) {
  (void)state;
  char out[32];
  px_time_format_iso(INT64_MIN, out);
  PX_ASSERT_INT_EQ(strlen(out), 24);
}

static void test_now(void **state) {
  (void)state;
  int64_t a = px_time_now_ms();
  PX_ASSERT_INT_CMP(a, >, 1700000000000LL); /* after 2023-11 */
  uint64_t m1 = px_time_mono_ns(), m2 = px_time_mono_ns();
  PX_ASSERT_INT_CMP(m2, >=, m1);
}

/* PICKAXE_NOW pins the clock's start. It is read once per process, so the
 * check runs in a child that sets it before its first reading. */
static void test_pinned_clock(void **state) {
  (void)state;
  pid_t child = fork();
  if (child == 0) {
    setenv("PICKAXE_NOW", "2011-12-10T00:00:00Z", 1);
    int64_t t = px_time_now_ms(), pinned = 1323475200000LL;
    _exit(t >= pinned && t < pinned + 60000 && px_time_now_ms() >= t ? 0 : 1);
  }
  int status = -1;
  assert_true(child > 0 && waitpid(child, &status, 0) == child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_date_only),
    cmocka_unit_test(test_pinned_clock),
    cmocka_unit_test(test_parse_date_time_utc),
    cmocka_unit_test(test_parse_without_zone_is_utc),
    cmocka_unit_test(test_parse_offsets),
    cmocka_unit_test(test_parse_fractional_seconds),
    cmocka_unit_test(test_parse_before_epoch),
    cmocka_unit_test(test_parse_leap_days),
    cmocka_unit_test(test_parse_invalid_dates),
    cmocka_unit_test(test_parse_invalid_times),
    cmocka_unit_test(test_parse_invalid_offsets),
    cmocka_unit_test(test_parse_offset_dangling_colon),
    cmocka_unit_test(test_parse_garbage),
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_format_round_trip),
    cmocka_unit_test(test_format_extremes),
    cmocka_unit_test(test_format_int64_min),
    cmocka_unit_test(test_now),
};

PX_TEST_MAIN(tests)
