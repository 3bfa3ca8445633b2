/* clv/validate and clv/chart: the calibration/holdout tables on a small
 * hand-made purchase set, computed by hand, and the SVG picture of them.
 *
 * The model is r = 2, alpha = 10, a = 2, b = 1 (days), for which the
 * BG/NBD expectations have closed forms (the hypergeometric function's
 * first and third parameters are equal): a customer alive after x repeats
 * in T expects (2 + x) t / (alpha + T + t) purchases in the next t, a new
 * one 2 t / (alpha + t), and P(alive) = 1 / (1 + 2/x ((alpha + T) /
 * (alpha + t_x))^(2 + x)) for x > 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clv/chart.h"
#include "clv/summary.h"
#include "clv/validate.h"
#include "px_test.h"

#define ASSERT_NEAR(got, want, tol)                                                        \
  do {                                                                                     \
    double g_ = (got), w_ = (want), t_ = (tol);                                            \
    if (!(fabs(g_ - w_) <= t_)) fail_msg("%s: got %.12g, want %.12g (+/- %g)", #got, g_, w_, t_); \
  } while (0)

static const px_bgnbd model = {2, 10, 2, 1, 0};

static double e_alive(double x, double T, double t) { return (2 + x) * t / (10 + T + t); }
static double p_alive(double x, double t_x, double T) {
  return x == 0 ? 1 : 1 / (1 + 2 / x * pow((10 + T) / (10 + t_x), 2 + x));
}
static double e_new(double t) { return 2 * t / (10 + t); }

static int64_t day0(void) {
  int64_t d;
  PX_ASSERT_OK(px_clv_parse_day("2024-01-01", 10, &d));
  return d;
}

/* Days from 2024-01-01. Calibration end: day 10; holdout end: day 20.
 *   a: 0, 3, 3, 7 | 12, 15, 15 | 25   x 2, t_x 7, T 10; holdout 2
 *   b: 2                              x 0, T 8; holdout 0
 *   c: 5 | 11                         x 0, T 5; holdout 1
 *   d: 10 | 20 (the holdout end)      x 0, T 0; holdout 1
 *   e: 1, 2, ..., 9 | 13              x 8, t_x 8, T 9; holdout 1
 *   f: 30; g: 12 (first after the calibration end: left out) */
static px_clv_summary *purchases(double unit) {
  static const struct {
    const char *id;
    int day;
  } p[] = {{"a", 15}, {"a", 0}, {"a", 3}, {"a", 3}, {"a", 7}, {"b", 2}, {"a", 12}, {"c", 5}, {"c", 11},
           {"d", 10}, {"d", 20}, {"e", 1}, {"e", 2}, {"e", 3}, {"e", 4}, {"e", 5}, {"e", 6}, {"e", 7},
           {"e", 8}, {"e", 9}, {"e", 13}, {"f", 30}, {"g", 12}, {"a", 15}, {"a", 25}};
  px_clv_summary *s = px_clv_summary_new(day0() + 10, unit);
  assert_non_null(s);
  for (size_t i = 0; i < sizeof p / sizeof *p; i++)
    PX_ASSERT_OK(px_clv_summary_add(s, p[i].id, 1, day0() + p[i].day, 1));
  return s;
}

static void test_purchases_accessor(void **state) {
  (void)state;
  px_clv_summary *s = purchases(1);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n, np;
  PX_ASSERT_NULL(px_clv_summary_purchases(s, 0, &np)); /* not built yet */
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  PX_ASSERT_UINT_EQ(n, 5);
  PX_ASSERT_STR_EQ(ids[0], "a");
  const px_clv_purchase *p = px_clv_summary_purchases(s, 0, &np);
  assert_non_null(p);
  PX_ASSERT_UINT_EQ(np, 8); /* all of them, sorted, a day's purchases separate */
  const int want[] = {0, 3, 3, 7, 12, 15, 15, 25};
  for (size_t i = 0; i < np; i++) PX_ASSERT_INT_EQ(p[i].day - day0(), want[i]);
  PX_ASSERT_NULL(px_clv_summary_purchases(s, 5, &np));
  PX_ASSERT_OK(px_clv_summary_add(s, "a", 1, day0() + 1, 1)); /* unsorted again */
  PX_ASSERT_NULL(px_clv_summary_purchases(s, 0, &np));
  px_clv_summary_free(s);
}

static void test_tables_by_hand(void **state) {
  (void)state;
  px_clv_summary *s = purchases(1);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  px_clv_holdout h = {day0() + 10, day0() + 20, 1};
  px_clv_validation v;
  PX_ASSERT_OK(px_clv_validate(s, c, n, &model, &h, &v));
  PX_ASSERT_UINT_EQ(v.customers, 5);
  PX_ASSERT_INT_EQ(v.start_day, day0());
  PX_ASSERT_INT_EQ(v.last_day, day0() + 25);
  ASSERT_NEAR(v.calibration_units, 11, 0);
  ASSERT_NEAR(v.holdout_units, 10, 0);

  /* (a) by calibration frequency */
  const size_t want_n[PX_CLV_FREQ_BUCKETS] = {3, 0, 1, 0, 0, 0, 0, 1};
  for (int b = 0; b < PX_CLV_FREQ_BUCKETS; b++) PX_ASSERT_UINT_EQ(v.freq[b].customers, want_n[b]);
  ASSERT_NEAR(v.freq[0].actual, 2.0 / 3, 1e-15);
  double e0 = (e_alive(0, 8, 10) + e_alive(0, 5, 10) + e_alive(0, 0, 10)) / 3; /* 20/28, 20/25, 20/20 */
  ASSERT_NEAR(v.freq[0].predicted, e0, 1e-10);
  ASSERT_NEAR(v.freq[2].actual, 2, 0);
  double ea = p_alive(2, 7, 10) * e_alive(2, 10, 10);
  ASSERT_NEAR(v.freq[2].predicted, ea, 1e-10);
  ASSERT_NEAR(v.freq[7].actual, 1, 0); /* "7+": e has 8 */
  double ee = p_alive(8, 8, 9) * e_alive(8, 9, 10);
  ASSERT_NEAR(v.freq[7].predicted, ee, 1e-10);
  for (int b = 1; b < 7; b++)
    if (b != 2) PX_ASSERT_TRUE(isnan(v.freq[b].actual) && isnan(v.freq[b].predicted));
  ASSERT_NEAR(v.actual_total, 5, 0);
  ASSERT_NEAR(v.predicted_total, 3 * e0 + ea + ee, 1e-10);

  /* (b) cumulative, by day: period k ends with day k - 1. Repeat days:
   * a 3, 7, 12, 15; c 11; d 20; e 2..9, 13. First days: a 0, e 1, b 2,
   * c 5, d 10. */
  PX_ASSERT_UINT_EQ(v.periods, 21);
  const int repeat_days[] = {3, 7, 12, 15, 11, 20, 2, 3, 4, 5, 6, 7, 8, 9, 13};
  const int first_days[] = {0, 1, 2, 5, 10};
  for (size_t k = 0; k < v.periods; k++) {
    int last = (int)k;
    double actual = 0, model_sum = 0;
    for (size_t i = 0; i < sizeof repeat_days / sizeof *repeat_days; i++) actual += repeat_days[i] <= last;
    for (size_t i = 0; i < sizeof first_days / sizeof *first_days; i++)
      if (first_days[i] <= last) model_sum += e_new(last - first_days[i]);
    ASSERT_NEAR(v.t[k], (double)k + 1, 0);
    ASSERT_NEAR(v.actual[k], actual, 0);
    ASSERT_NEAR(v.predicted[k], model_sum, 1e-9);
  }
  ASSERT_NEAR(v.actual[10], 10, 0);  /* by the calibration end: x summed */
  ASSERT_NEAR(v.actual[20], 15, 0);  /* and with the holdout's 5 */
  px_clv_validation_free(&v);
  px_clv_validation_free(&v); /* twice: nothing left */
  px_clv_validation_free(NULL);
  px_clv_summary_free(s);
}

/* Weeks: periods of 7 days from the start, the last one shorter. */
static void test_weeks(void **state) {
  (void)state;
  px_clv_summary *s = purchases(7);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  px_bgnbd weekly = {2, 10.0 / 7, 2, 1, 0}; /* the same model, alpha in weeks */
  px_clv_holdout h = {day0() + 10, day0() + 22, 7};
  px_clv_validation v;
  PX_ASSERT_OK(px_clv_validate(s, c, n, &weekly, &h, &v));
  ASSERT_NEAR(v.calibration_units, 11.0 / 7, 1e-15);
  ASSERT_NEAR(v.holdout_units, 12.0 / 7, 1e-15);
  PX_ASSERT_UINT_EQ(v.periods, 4); /* days 0-6, 7-13, 14-20, 21-22 */
  ASSERT_NEAR(v.t[0], 1, 0);
  ASSERT_NEAR(v.t[3], 23.0 / 7, 1e-15);
  ASSERT_NEAR(v.actual[0], 6, 0);  /* a 3; e 2..6 */
  ASSERT_NEAR(v.actual[1], 13, 0); /* a 7, 12; c 11; e 7, 8, 9, 13 */
  ASSERT_NEAR(v.actual[2], 15, 0); /* a 15, d 20 */
  ASSERT_NEAR(v.actual[3], 15, 0); /* none on days 21, 22 */
  /* The last period ends with day 22: E[X] in weeks of the same days. */
  double want = e_new(22) + e_new(21) + e_new(20) + e_new(17) + e_new(12);
  ASSERT_NEAR(v.predicted[3], want, 1e-9);
  ASSERT_NEAR(v.predicted[0], e_new(6) + e_new(5) + e_new(4) + e_new(1), 1e-9);
  /* The holdout: d's day-20 purchase is in it, and so is a 12-day horizon. */
  ASSERT_NEAR(v.actual_total, 5, 0);
  ASSERT_NEAR(v.freq[0].predicted, (e_alive(0, 8, 12) + e_alive(0, 5, 12) + e_alive(0, 0, 12)) / 3, 1e-10);
  px_clv_validation_free(&v);
  px_clv_summary_free(s);
}

static void test_invalid(void **state) {
  (void)state;
  px_clv_summary *s = purchases(1);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  px_clv_validation v;
  px_clv_holdout h = {day0() + 10, day0() + 20, 1};
  px_bgnbd bad = {2, 10, 0, 1, 0};
  PX_ASSERT_STATUS(px_clv_validate(s, c, 0, &model, &h, &v), PX_INVALID);
  PX_ASSERT_STATUS(px_clv_validate(s, c, n + 1, &model, &h, &v), PX_INVALID); /* c is not s's */
  PX_ASSERT_STATUS(px_clv_validate(s, c, n, &bad, &h, &v), PX_INVALID);
  PX_ASSERT_STATUS(px_clv_validate(NULL, c, n, &model, &h, &v), PX_INVALID);
  px_clv_holdout early = {day0() + 10, day0() + 10, 1}, half = {day0() + 10, day0() + 20, 1.5};
  PX_ASSERT_STATUS(px_clv_validate(s, c, n, &model, &early, &v), PX_INVALID);
  PX_ASSERT_STATUS(px_clv_validate(s, c, n, &model, &half, &v), PX_INVALID);
  px_clv_holdout far = {day0() + 10, day0() + PX_CLV_MAX_DAYS, 1};
  PX_ASSERT_STATUS(px_clv_validate(s, c, n, &model, &far, &v), PX_TOO_LARGE);
  far.unit_days = 7; /* days, whatever the unit */
  PX_ASSERT_STATUS(px_clv_validate(s, c, n, &model, &far, &v), PX_TOO_LARGE);
  far.holdout_end_day--; /* the last day that fits */
  PX_ASSERT_OK(px_clv_validate(s, c, n, &model, &far, &v));
  PX_ASSERT_UINT_EQ(v.periods, (PX_CLV_MAX_DAYS + 6) / 7);
  px_clv_validation_free(&v);
  far.unit_days = 1;
  PX_ASSERT_OK(px_clv_validate(s, c, n, &model, &far, &v));
  PX_ASSERT_UINT_EQ(v.periods, PX_CLV_MAX_DAYS);
  px_clv_validation_free(&v);
  px_clv_summary_free(s);
}

/* Counts the occurrences of needle in hay. */
static size_t count(const char *hay, const char *needle) {
  size_t k = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) k++;
  return k;
}

static void test_chart_svg(void **state) {
  (void)state;
  px_clv_summary *s = purchases(1);
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  PX_ASSERT_OK(px_clv_summary_build(s, &c, &ids, &n));
  px_clv_holdout h = {day0() + 10, day0() + 20, 1};
  px_clv_validation v;
  PX_ASSERT_OK(px_clv_validate(s, c, n, &model, &h, &v));
  px_buf b;
  px_buf_init(&b, 1 << 20);
  PX_ASSERT_OK(px_clv_chart_svg(&v, "shop <A&B> \"test\"", "day", "2024-01-01", &b));
  PX_ASSERT_TRUE(strncmp(b.data, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
  PX_ASSERT_TRUE(b.len > 7 && strcmp(b.data + b.len - 7, "</svg>\n") == 0);
  PX_ASSERT_STR_CONTAINS(b.data, "shop &lt;A&amp;B&gt; &quot;test&quot;");
  PX_ASSERT_TRUE(!strstr(b.data, "<A&B>"));
  PX_ASSERT_STR_CONTAINS(b.data, "<g id=\"by-frequency\">");
  PX_ASSERT_STR_CONTAINS(b.data, "<g id=\"cumulative\">");
  PX_ASSERT_STR_CONTAINS(b.data, "calibration end");
  PX_ASSERT_STR_CONTAINS(b.data, "days since 2024-01-01");
  PX_ASSERT_STR_CONTAINS(b.data, ">7+<");
  PX_ASSERT_UINT_EQ(count(b.data, "<polyline"), 2); /* actual and predicted */
  PX_ASSERT_TRUE(!strstr(b.data, "nan") && !strstr(b.data, "inf"));
  /* Elements open and close in pairs. */
  PX_ASSERT_UINT_EQ(count(b.data, "<text"), count(b.data, "</text>"));
  PX_ASSERT_UINT_EQ(count(b.data, "<g "), count(b.data, "</g>"));
  /* A cap too small is an error, not a cut picture. */
  px_buf small;
  px_buf_init(&small, 1000);
  PX_ASSERT_STATUS(px_clv_chart_svg(&v, "t", "day", "2024-01-01", &small), PX_TOO_LARGE);
  px_clv_validation empty = {0};
  PX_ASSERT_STATUS(px_clv_chart_svg(&empty, "t", "day", "2024-01-01", &small), PX_INVALID);
  px_buf_free(&small);
  px_buf_free(&b);
  px_clv_validation_free(&v);
  px_clv_summary_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_purchases_accessor),
    cmocka_unit_test(test_tables_by_hand),
    cmocka_unit_test(test_weeks),
    cmocka_unit_test(test_invalid),
    cmocka_unit_test(test_chart_svg),
};

PX_TEST_MAIN(tests)
