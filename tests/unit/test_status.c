/* base/status, base/rand, base/log: the small pieces everything uses. */
#include <ctype.h>
#include <stdio.h>

#include "base/rand.h"
#include "base/status.h"
#include "px_test.h"

static void test_numbers_are_stable(void **state) {
  (void)state;
  /* Numbers are part of the contract (never reused). */
  PX_ASSERT_INT_EQ(PX_OK, 0);
  PX_ASSERT_INT_EQ(PX_NOT_FOUND, 1);
  PX_ASSERT_INT_EQ(PX_INVALID, 2);
  PX_ASSERT_INT_EQ(PX_TOO_LARGE, 6);
  PX_ASSERT_INT_EQ(PX_BAD_JSON, 7);
  PX_ASSERT_INT_EQ(PX_BAD_UTF8, 8);
  PX_ASSERT_INT_EQ(PX_OVERLOADED, 11);
  PX_ASSERT_INT_EQ(PX_DUPLICATE, 12);
  PX_ASSERT_INT_EQ(PX_BLOCKED, 14);
  PX_ASSERT_INT_EQ(PX_USAGE, 17);
  PX_ASSERT_INT_EQ(PX_BEHIND, 19);
  PX_ASSERT_INT_EQ(PX_NOT_CONVERGED, 20);
}

static void test_every_status_has_a_distinct_text(void **state) {
  (void)state;
  const char *seen[64] = {0};
  int n = 0;
#define CHECK(name, num, text)                                  \
  do {                                                          \
    PX_ASSERT_STR_EQ(px_status_str(PX_##name), text);           \
    for (int i = 0; i < n; i++)                                 \
      if (strcmp(seen[i], text) == 0) fail_msg("%s reused", text); \
    seen[n++] = text;                                           \
  } while (0);
  PX_STATUS_MAP(CHECK)
#undef CHECK
  PX_ASSERT_STR_EQ(px_status_str((px_status)9999), "unknown status");
}

static void test_error_set_and_clear(void **state) {
  (void)state;
  px_error e;
  px_error_clear(&e);
  PX_ASSERT_STR_EQ(e.field, "");
  PX_ASSERT_STR_EQ(e.reason, "");
  PX_ASSERT_INT_EQ(e.offset, -1);
  PX_ASSERT_STATUS(px_error_set(&e, PX_INVALID, "batch[3].userId", "must be %s", "a string"),
                   PX_INVALID);
  PX_ASSERT_STR_EQ(e.field, "batch[3].userId");
  PX_ASSERT_STR_EQ(e.reason, "must be a string");
  PX_ASSERT_STATUS(px_error_set(&e, PX_TOO_LARGE, NULL, "x"), PX_TOO_LARGE);
  PX_ASSERT_STR_EQ(e.field, "");
  /* A NULL error is allowed everywhere. */
  PX_ASSERT_STATUS(px_error_set(NULL, PX_BAD_JSON, "f", "r"), PX_BAD_JSON);
  px_error_clear(NULL);
}

static void test_error_truncates(void **state) {
  (void)state;
  px_error e;
  char longf[400];
  memset(longf, 'f', sizeof longf - 1);
  longf[sizeof longf - 1] = 0;
  px_error_set(&e, PX_INVALID, longf, "%s", longf);
  PX_ASSERT_INT_EQ(strlen(e.field), sizeof e.field - 1);
  PX_ASSERT_INT_EQ(strlen(e.reason), sizeof e.reason - 1);
}

static void test_uuid(void **state) {
  (void)state;
  char a[37], b[37];
  px_rand_uuid(a);
  px_rand_uuid(b);
  PX_ASSERT_INT_EQ(strlen(a), 36);
  PX_ASSERT_INT_NE(strcmp(a, b), 0);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      PX_ASSERT_INT_EQ(a[i], '-');
    } else if (!isxdigit((unsigned char)a[i]) || isupper((unsigned char)a[i])) {
      fail_msg("%s: char %d is not lower-case hex", a, i);
    }
  }
  PX_ASSERT_INT_EQ(a[14], '4'); /* version 4 */
  if (!strchr("89ab", a[19])) fail_msg("%s: variant nibble %c", a, a[19]);
}

static void test_token_and_hex(void **state) {
  (void)state;
  char t[41];
  px_rand_token(t, 40);
  PX_ASSERT_INT_EQ(strlen(t), 40);
  for (int i = 0; i < 40; i++)
    if (!isalnum((unsigned char)t[i])) fail_msg("token %s: char %d", t, i);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_numbers_are_stable),
    cmocka_unit_test(test_every_status_has_a_distinct_text),
    cmocka_unit_test(test_error_set_and_clear),
    cmocka_unit_test(test_error_truncates),
    cmocka_unit_test(test_uuid),
    cmocka_unit_test(test_token_and_hex),
};

PX_TEST_MAIN(tests)
