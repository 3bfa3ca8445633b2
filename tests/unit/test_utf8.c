/* base/utf8: the validator that guards every request body. */
#include <stdio.h>
#include <stdlib.h>

#include "base/utf8.h"
#include "px_test.h"

/* Checks s (n bytes, given as a string literal with explicit length) against
 * the expected offset of the first invalid sequence (-1: all valid). The bytes
 * are copied to an exact-size heap block so a read past n shows under ASan. */
static void expect_at(const char *s, size_t n, long want) {
  char *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  memcpy(copy, s, n);
  long got = px_utf8_invalid_at(copy, n);
  free(copy);
  if (got != want) {
    char hex[200] = "";
    for (size_t i = 0; i < n && i < 40; i++) snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02x ", (unsigned char)s[i]);
    fail_msg("invalid_at([%s], %zu) = %ld, want %ld", hex, n, got, want);
  }
}

#define AT(lit, want) expect_at(lit, sizeof(lit) - 1, want)

static void test_valid(void **state) {
  (void)state;
  AT("", -1);
  AT("plain ascii {\"a\":1}", -1);
  AT("caf\xc3\xa9", -1);                /* U+00E9 */
  AT("\xc2\x80", -1);                   /* U+0080, smallest 2-byte */
  AT("\xdf\xbf", -1);                   /* U+07FF */
  AT("\xe0\xa0\x80", -1);               /* U+0800, smallest 3-byte */
  AT("\xe2\x82\xac", -1);               /* euro sign */
  AT("\xed\x9f\xbf", -1);               /* U+D7FF, just below the surrogates */
  AT("\xee\x80\x80", -1);               /* U+E000, just above */
  AT("\xef\xbf\xbf", -1);               /* U+FFFF */
  AT("\xf0\x90\x80\x80", -1);           /* U+10000, smallest 4-byte */
  AT("\xf0\x9f\x98\x80", -1);           /* emoji */
  AT("\xf4\x8f\xbf\xbf", -1);           /* U+10FFFF, the last code point */
  AT("a\x00" "b", -1);                  /* NUL is valid UTF-8 (rejected elsewhere) */
  AT("\x7f", -1);
}

static void test_overlong(void **state) {
  (void)state;
  AT("\xc0\x80", 0);         /* NUL in two bytes */
  AT("\xc0\xaf", 0);         /* '/' */
  AT("\xc1\xbf", 0);
  AT("ab\xe0\x80\x80", 2);
  AT("\xe0\x9f\xbf", 0);     /* U+07FF in three bytes */
  AT("\xf0\x80\x80\x80", 0);
  AT("x\xf0\x8f\xbf\xbf", 1); /* U+FFFF in four bytes */
}

static void test_surrogates(void **state) {
  (void)state;
  AT("\xed\xa0\x80", 0); /* U+D800 */
  AT("\xed\xbf\xbf", 0); /* U+DFFF */
  AT("ok\xed\xb0\x80", 2);
  AT("\xed\xa0\xbd\xed\xb8\x80", 0); /* a CESU-8 encoded pair */
}

static void test_above_max(void **state) {
  (void)state;
  AT("\xf4\x90\x80\x80", 0); /* U+110000 */
  AT("\xf5\x80\x80\x80", 0);
  AT("\xf7\xbf\xbf\xbf", 0);
  AT("\xf8\x88\x80\x80\x80", 0); /* old 5-byte form */
  AT("\xfc\x84\x80\x80\x80\x80", 0);
  AT("\xfe", 0);
  AT("\xff", 0);
}

static void test_truncated(void **state) {
  (void)state;
  AT("\xc3", 0);
  AT("ab\xe2\x82", 2);
  AT("\xf0\x9f\x98", 0);
  AT("abc\xf0", 3);
  AT("\xe2\x82" "a", 0);      /* the sequence ends early, then ASCII */
  AT("\xe2" "ab", 0);
  AT("\xf0\x9f\x98" "\xf0\x9f\x98\x80", 0);
}

static void test_stray_continuation(void **state) {
  (void)state;
  AT("\x80", 0);
  AT("ab\xbf", 2);
  AT("\xc3\xa9\xa9", 2);
  AT("\xe2\x28\xa1", 0); /* second byte not a continuation */
  AT("\xe2\x82\x28", 0);
}

static void test_offset_is_first_bad(void **state) {
  (void)state;
  AT("\xc3\xa9\xc3\xa9\xff\xff", 4);
  AT("{\"userId\":\"\xff\"}", 11);
}

/* The length is what counts: bytes past n are never looked at. */
/* ASCII runs are checked eight bytes at a time: a bad byte at every
 * position of a 24-byte run is still found exactly there. */
static void test_bad_byte_in_ascii_run(void **state) {
  (void)state;
  for (size_t pos = 0; pos < 24; pos++) {
    char in[24];
    memset(in, 'a', sizeof in);
    in[pos] = (char)0xff;
    expect_at(in, sizeof in, (long)pos);
    in[pos] = (char)0xc3; /* a valid two-byte sequence where it fits */
    if (pos + 1 < sizeof in) {
      in[pos + 1] = (char)0xa9;
      expect_at(in, sizeof in, -1);
    } else {
      expect_at(in, sizeof in, (long)pos); /* truncated */
    }
  }
}

static void test_respects_length(void **state) {
  (void)state;
  expect_at("abc\xff", 3, -1);
  expect_at("\xe2\x82\xac", 2, 0);
  expect_at("\xff", 0, -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid),
    cmocka_unit_test(test_bad_byte_in_ascii_run),
    cmocka_unit_test(test_overlong),
    cmocka_unit_test(test_surrogates),
    cmocka_unit_test(test_above_max),
    cmocka_unit_test(test_truncated),
    cmocka_unit_test(test_stray_continuation),
    cmocka_unit_test(test_offset_is_first_bad),
    cmocka_unit_test(test_respects_length),
};

PX_TEST_MAIN(tests)
