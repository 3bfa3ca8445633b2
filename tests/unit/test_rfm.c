/* score/rfm: quintile scores and the named cells. */
#include <math.h>
#include <string.h>

#include "px_test.h"
#include "score/rfm.h"

/* Ten customers: recency 1..10 days, frequency 1..10, monetary 10..100. */
static void test_quintile_scores(void **state) {
  (void)state;
  px_rfm_input in[10];
  for (int i = 0; i < 10; i++) in[i] = (px_rfm_input){i + 1, i + 1, 10.0 * (i + 1)};
  px_rfm_cuts c;
  PX_ASSERT_OK(px_rfm_cuts_of(in, 10, &c));
  PX_ASSERT_INT_EQ(c.n, 10);
  /* Boundaries at the 20/40/60/80% positions of the sorted values. */
  const double fcut[4] = {3, 5, 7, 9}, rcut[4] = {-8, -6, -4, -2};
  for (int k = 0; k < 4; k++) {
    assert_true(c.f[k] == fcut[k]);
    assert_true(c.m[k] == 10 * fcut[k]);
    assert_true(c.r[k] == rcut[k]);
  }
  /* Recency: the most recent is 5; a value tied with a boundary is in the lower fifth. */
  const int want_r[10] = {5, 4, 4, 3, 3, 2, 2, 1, 1, 1}, want_f[10] = {1, 1, 1, 2, 2, 3, 3, 4, 4, 5};
  for (int i = 0; i < 10; i++) {
    px_rfm_score s = px_rfm_score_of(&c, &in[i]);
    if (s.r != want_r[i] || s.f != want_f[i] || s.m != want_f[i])
      fail_msg("customer %d: r%d f%d m%d, want r%d f%d m%d", i, s.r, s.f, s.m, want_r[i], want_f[i], want_f[i]);
    PX_ASSERT_INT_EQ(s.fm, want_f[i]);
  }
  /* The most recent customer buys least: "new". The oldest buys most: "cannot_lose". */
  PX_ASSERT_STR_EQ(px_rfm_score_of(&c, &in[0]).cell, "new");
  PX_ASSERT_STR_EQ(px_rfm_score_of(&c, &in[9]).cell, "cannot_lose");
}

static void test_ties_fall_low(void **state) {
  (void)state;
  /* Most customers ordered once: they all score 1, not 5. */
  const double f[10] = {1, 1, 1, 1, 1, 1, 1, 2, 3, 4};
  px_rfm_input in[10];
  for (int i = 0; i < 10; i++) in[i] = (px_rfm_input){5, f[i], 20};
  px_rfm_cuts c;
  PX_ASSERT_OK(px_rfm_cuts_of(in, 10, &c));
  const int want[10] = {1, 1, 1, 1, 1, 1, 1, 4, 4, 5};
  for (int i = 0; i < 10; i++) PX_ASSERT_INT_EQ(px_rfm_score_of(&c, &in[i]).f, want[i]);
  /* Everyone alike: everyone in the lowest fifth of every measure. */
  px_rfm_score s = px_rfm_score_of(&c, &in[0]);
  PX_ASSERT_INT_EQ(s.r, 1);
  PX_ASSERT_INT_EQ(s.m, 1);
  /* One customer: scores 1, a cell all the same. */
  PX_ASSERT_OK(px_rfm_cuts_of(in, 1, &c));
  PX_ASSERT_STR_EQ(px_rfm_score_of(&c, &in[0]).cell, "lost");
  PX_ASSERT_STATUS(px_rfm_cuts_of(in, 0, &c), PX_INVALID);
  in[3].monetary = NAN;
  PX_ASSERT_STATUS(px_rfm_cuts_of(in, 10, &c), PX_INVALID);
}

static void test_cells(void **state) {
  (void)state;
  static const char *const names[] = {"champions", "loyal", "potential_loyalist", "new", "promising",
                                      "needs_attention", "about_to_sleep", "at_risk", "cannot_lose",
                                      "hibernating", "lost"};
  int seen[11] = {0};
  for (int r = 1; r <= 5; r++)
    for (int fm = 1; fm <= 5; fm++) {
      const char *cell = px_rfm_cell(r, fm);
      int found = 0;
      for (int k = 0; k < 11; k++)
        if (cell && strcmp(cell, names[k]) == 0) seen[k]++, found = 1;
      if (!found) fail_msg("r%d fm%d: %s is not a named cell", r, fm, cell ? cell : "NULL");
    }
  for (int k = 0; k < 11; k++)
    if (!seen[k]) fail_msg("%s names no cell of the grid", names[k]);
  PX_ASSERT_STR_EQ(px_rfm_cell(5, 5), "champions");
  PX_ASSERT_STR_EQ(px_rfm_cell(5, 1), "new");
  PX_ASSERT_STR_EQ(px_rfm_cell(4, 1), "promising");
  PX_ASSERT_STR_EQ(px_rfm_cell(3, 3), "needs_attention");
  PX_ASSERT_STR_EQ(px_rfm_cell(1, 5), "cannot_lose");
  PX_ASSERT_STR_EQ(px_rfm_cell(2, 4), "at_risk");
  PX_ASSERT_STR_EQ(px_rfm_cell(2, 1), "hibernating");
  PX_ASSERT_STR_EQ(px_rfm_cell(1, 1), "lost");
  assert_null(px_rfm_cell(0, 3));
  assert_null(px_rfm_cell(3, 6));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quintile_scores),
      cmocka_unit_test(test_ties_fall_low),
      cmocka_unit_test(test_cells),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
