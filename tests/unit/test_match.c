/* match/compare: string comparisons against published values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "match/compare.h"
#include "px_test.h"

static void close_to(double got, double want, const char *what) {
  if (fabs(got - want) > 0.00005) fail_msg("%s: %.6f, want %.4f", what, got, want);
}

#define J(a, b) px_match_jaro(a, strlen(a), b, strlen(b))
#define JW(a, b) px_match_jaro_winkler(a, strlen(a), b, strlen(b))
#define L(a, b, max) px_match_levenshtein(a, strlen(a), b, strlen(b), max)

static void test_jaro_winkler(void **state) {
  (void)state;
  /* Winkler's examples (as in his 1990 paper and most references). */
  close_to(J("MARTHA", "MARHTA"), 0.9444, "jaro MARTHA");
  close_to(JW("MARTHA", "MARHTA"), 0.9611, "jw MARTHA");
  close_to(J("DWAYNE", "DUANE"), 0.8222, "jaro DWAYNE");
  close_to(JW("DWAYNE", "DUANE"), 0.8400, "jw DWAYNE");
  close_to(J("DIXON", "DICKSONX"), 0.7667, "jaro DIXON");
  close_to(JW("DIXON", "DICKSONX"), 0.8133, "jw DIXON");
  close_to(J("abc", "abc"), 1.0, "equal");
  close_to(J("", ""), 1.0, "both empty");
  close_to(J("abc", ""), 0.0, "one empty");
  close_to(J("abc", "xyz"), 0.0, "nothing in common");
  close_to(JW("abc", "xyz"), 0.0, "no prefix boost below 0.7");
  close_to(J("MARTHA", "MARHTA"), J("MARHTA", "MARTHA"), "symmetric");
  /* Long strings use the heap, with the same result. */
  char *a = malloc(600), *b = malloc(600);
  for (int i = 0; i < 600; i++) a[i] = (char)('a' + i % 26), b[i] = (char)('a' + (i + (i % 50 == 0)) % 26);
  double d = px_match_jaro(a, 600, b, 600);
  PX_ASSERT_TRUE(d > 0.9 && d < 1.0);
  free(a);
  free(b);
}

static void test_levenshtein(void **state) {
  (void)state;
  PX_ASSERT_UINT_EQ(L("kitten", "sitting", 10), 3);
  PX_ASSERT_UINT_EQ(L("kitten", "sitting", 2), 3); /* past max: max + 1 */
  PX_ASSERT_UINT_EQ(L("flaw", "lawn", 5), 2);
  PX_ASSERT_UINT_EQ(L("", "abc", 5), 3);
  PX_ASSERT_UINT_EQ(L("abc", "", 1), 2);
  PX_ASSERT_UINT_EQ(L("same", "same", 0), 0);
  PX_ASSERT_UINT_EQ(L("waller", "waler", 1), 1);
  PX_ASSERT_UINT_EQ(L("19081209", "19081290", 2), 2);
  PX_ASSERT_UINT_EQ(L("a", "b", 0), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_jaro_winkler), cmocka_unit_test(test_levenshtein)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
