/* clv/summary: the BTYD summary step. Rebuilds the published CDNOW summary
 * (../shared/data/cdnow/cdnow_customers_summary_with_transactions.csv:
 * x, t_x, T in weeks, zbar) from the raw purchases (CDNOW_sample.txt), and
 * checks the rules on a hand-made case. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clv/summary.h"
#include "px_test.h"

/* The shared data directory: $PX_SHARED_DATA, or ../shared/data beside
 * the repository this file is in. */
static const char *shared_data(void) {
  static char dir[4096];
  const char *env = getenv("PX_SHARED_DATA");
  if (env) return env;
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *cut = strstr(dir, "/tests/unit/");
  if (!cut) return NULL;
  snprintf(cut, sizeof dir - (size_t)(cut - dir), "/../shared/data");
  return dir;
}

static char *read_shared(const char *name) {
  const char *d = shared_data();
  if (!d) return NULL;
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", d, name);
  size_t n;
  return px_test_read_file(path, &n);
}

static int64_t day(const char *s) {
  int64_t d;
  PX_ASSERT_OK(px_clv_parse_day(s, strlen(s), &d));
  return d;
}

static void test_rules_by_hand(void **state) {
  (void)state;
  px_clv_summary *s = px_clv_summary_new(day("2024-01-31"), 7);
  assert_non_null(s);
  /* a: first 1 Jan; 1 Jan again (same day: one purchase, not a repeat);
   * repeats 8 Jan (10 + 20 on the day) and 15 Jan; 5 Feb is after the end. */
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("2024-01-08"), 10));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("20240101"), 5));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("2024-01-01T23:00:00Z"), 7));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("2024-01-08"), 20));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("2024-01-15"), 6));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day("2024-02-05"), 100));
  PX_ASSERT_OK(px_clv_summary_add(s, "b", 1, day("2024-01-31"), 3)); /* on the end day: counted */
  PX_ASSERT_OK(px_clv_summary_add(s, "c", 1, day("2024-02-01"), 3)); /* only after the end: left out */
  PX_ASSERT_INT_EQ(px_clv_summary_add(s, "", 0, day("2024-01-01"), 3), PX_INVALID);
  PX_ASSERT_INT_EQ(px_clv_summary_add(s, "d", 1, day("2024-01-01"), NAN), PX_INVALID);
  PX_ASSERT_INT_EQ(px_clv_summary_add(s, "e\0f", 3, day("2024-01-01"), 1), PX_INVALID);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_STR_EQ(ids[0], "a");
  assert_true(c[0].x == 2 && fabs(c[0].t_x - 2) < 1e-12 && fabs(c[0].T - 30.0 / 7) < 1e-12 && c[0].m == 18);
  PX_ASSERT_STR_EQ(ids[1], "b");
  assert_true(c[1].x == 0 && c[1].t_x == 0 && c[1].T == 0 && c[1].m == 0);
  px_clv_summary_free(s);
  px_clv_summary_free(NULL);
  assert_null(px_clv_summary_new(0, 0));
  int64_t d;
  PX_ASSERT_INT_EQ(px_clv_parse_day("2024-13-01", 10, &d), PX_INVALID);
  PX_ASSERT_INT_EQ(px_clv_parse_day("soon", 4, &d), PX_INVALID);
  PX_ASSERT_INT_EQ(day("19700101"), 0);
  PX_ASSERT_INT_EQ(day("1969-12-31"), -1);
}

/* The published summary, rebuilt from the raw file to within 0.005 (it is
 * printed with two decimals). */
#define TOL (0.005 + 1e-9) /* half the last printed digit: 22.345 is printed 22.35 */

static void test_cdnow_summary(void **state) {
  (void)state;
  char *raw = read_shared("cdnow/CDNOW_sample.txt");
  char *want = read_shared("cdnow/cdnow_customers_summary_with_transactions.csv");
  if (!raw || !want) {
    free(raw);
    free(want);
    skip();
  }
  px_clv_summary *s = px_clv_summary_new(day("1997-09-30"), 7);
  char id[32], date[16];
  double cds, dollars;
  int used;
  for (char *p = raw; sscanf(p, "%*s %31s %15s %lf %lf%n", id, date, &cds, &dollars, &used) == 4; p += used)
    PX_ASSERT_OK(px_clv_summary_add(s, id, strlen(id), day(date), dollars));
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  PX_ASSERT_INT_EQ(n, 2357);
  size_t rows = 0;
  char *line = strchr(want, '\n') + 1; /* past the header */
  for (long wid; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    double x, t_x, T, zbar;
    if (sscanf(line, "%ld,%lf,%lf,%lf,%lf", &wid, &x, &t_x, &T, &zbar) != 5) continue;
    /* The sample's ids are 1..2357 in file order, written with leading zeros. */
    assert_true((size_t)wid <= n && atol(ids[wid - 1]) == wid);
    const px_btyd_customer *g = &c[wid - 1];
    if (g->x != x || fabs(g->t_x - t_x) > TOL || fabs(g->T - T) > TOL || fabs(g->m - zbar) > TOL)
      fail_msg("customer %ld: got x %g t_x %.4f T %.4f m %.4f, published %g %.2f %.2f %.2f", wid, g->x, g->t_x, g->T,
               g->m, x, t_x, T, zbar);
    rows++;
  }
  PX_ASSERT_INT_EQ(rows, 2357);
  px_clv_summary_free(s);
  free(raw);
  free(want);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rules_by_hand),
    cmocka_unit_test(test_cdnow_summary),
};

PX_TEST_MAIN(tests)
