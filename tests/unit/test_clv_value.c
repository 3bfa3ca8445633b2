/* clv/value: customer lifetime value over a horizon with a discount rate.
 * Checked against the undiscounted identity (spend times expected
 * purchases), monotonicity in the rate, a case computed by hand from a
 * closed form of the BG/NBD expectation, a customer without repeats, and
 * invalid input. */
#include <math.h>

#include "clv/value.h"
#include "px_test.h"

#define ASSERT_NEAR(got, want, tol)                                                        \
  do {                                                                                     \
    double g_ = (got), w_ = (want), t_ = (tol);                                            \
    if (!(fabs(g_ - w_) <= t_)) fail_msg("%s: got %.12g, want %.12g (+/- %g)", #got, g_, w_, t_); \
  } while (0)

#define ASSERT_NAN(v)                                                                      \
  do {                                                                                     \
    double v_ = (v);                                                                       \
    if (!isnan(v_)) fail_msg("%s: got %.12g, want NaN", #v, v_);                           \
  } while (0)

/* The published CDNOW fits (weeks; Fader, Hardie & Lee 2005). */
static const px_bgnbd cdnow = {0.242593, 4.413532, 0.792886, 2.425752, 0};
static const px_gamma_gamma cdnow_gg = {6.2496, 3.7442, 15.4435, 0};

/* Without discounting the monthly steps telescope: spend times the expected
 * purchases over the whole horizon, whatever the steps. */
static void test_zero_discount_is_spend_times_expected(void **state) {
  (void)state;
  const double cases[][4] = {
      {2, 30.43, 38.86, 22.35}, {0, 0, 38.86, 0}, {7, 29.43, 38.86, 73.74}, {1, 1.71, 12, 11.77}};
  const double horizons[] = {1, 30.4375, 45, 273, 365, 365.25, 1000};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (size_t h = 0; h < sizeof horizons / sizeof *horizons; h++) {
      const double *c = cases[i];
      double want = px_gamma_gamma_expected_spend(&cdnow_gg, c[0], c[3]) *
                    px_bgnbd_expected(&cdnow, c[0], c[1], c[2], horizons[h] / 7);
      double got = px_clv_value(&cdnow, &cdnow_gg, c[0], c[1], c[2], c[3], horizons[h], 7, 0);
      ASSERT_NEAR(got, want, 1e-12 * want);
    }
  /* The published 39-week expectation for x = 2, t_x = 30.43, T = 38.86
   * (1.226) times that customer's expected spend. */
  double spend = px_gamma_gamma_expected_spend(&cdnow_gg, 2, 22.345);
  ASSERT_NEAR(px_clv_value(&cdnow, &cdnow_gg, 2, 30.43, 38.86, 22.345, 273, 7, 0) / spend, 1.226, 5e-4);
}

/* A higher rate is worth less, never more, and never negative. */
static void test_discount_lowers_value(void **state) {
  (void)state;
  const double rates[] = {0, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 10};
  for (int days = 0; days < 2; days++) {
    double before = INFINITY;
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
      double v = px_clv_value(&cdnow, &cdnow_gg, 2, 30.43, 38.86, 22.35, days ? 3650 : 365, 7, rates[i]);
      if (!(v < before && v > 0)) fail_msg("rate %g: %.12g after %.12g", rates[i], v, before);
      before = v;
    }
  }
  /* Within one month discounting changes little: at most the month's
   * factor (1.1^(-1/12)). */
  double flat = px_clv_value(&cdnow, &cdnow_gg, 2, 30.43, 38.86, 22.35, 30, 7, 0);
  double disc = px_clv_value(&cdnow, &cdnow_gg, 2, 30.43, 38.86, 22.35, 30, 7, 0.1);
  ASSERT_NEAR(disc / flat, pow(1.1, -30 / 365.25), 1e-12);
}

/* With r = 2, a = 2, b = 1 the hypergeometric function in the BG/NBD
 * expectation collapses (its first and third parameters are equal) and a
 * customer without repeats over T days expects E(t) = 2 t / (alpha + T + t)
 * purchases in the next t. With alpha = 10, T = 10, days, a horizon of two
 * months (60.875 days) at 10% a year:
 *   E1 = E(30.4375) = 60.875 / 50.4375, E2 = E(60.875) = 121.75 / 80.875,
 *   spend = p gamma / (q - 1) = 2 * 10 / 2 = 10,
 *   CLV = 10 [E1 1.1^(-1/12) + (E2 - E1) 1.1^(-1/6)] = 14.911576666202947. */
static void test_by_hand(void **state) {
  (void)state;
  px_bgnbd m = {2, 10, 2, 1, 0};
  px_gamma_gamma g = {2, 3, 10, 0};
  ASSERT_NEAR(px_clv_value(&m, &g, 0, 0, 10, 0, 60.875, 1, 0.1), 14.911576666202947, 1e-9);
  /* The same in weeks: x, t_x, T and alpha in weeks give the same value. */
  px_bgnbd mw = {2, 10.0 / 7, 2, 1, 0};
  ASSERT_NEAR(px_clv_value(&mw, &g, 0, 0, 10.0 / 7, 0, 60.875, 7, 0.1), 14.911576666202947, 1e-9);
  /* A horizon of 1.5 months: a full month, then a half one. */
  double e1 = 2 * 30.4375 / (20 + 30.4375), e2 = 2 * 45.65625 / (20 + 45.65625);
  ASSERT_NEAR(px_clv_value(&m, &g, 0, 0, 10, 0, 45.65625, 1, 0.1),
              10 * (e1 * pow(1.1, -1.0 / 12) + (e2 - e1) * pow(1.1, -0.125)), 1e-9);
}

/* A customer without repeat purchases: the population's mean spend, and
 * the mean passed in is not used. */
static void test_no_repeats(void **state) {
  (void)state;
  double pop = cdnow_gg.p * cdnow_gg.gamma / (cdnow_gg.q - 1);
  ASSERT_NEAR(px_gamma_gamma_expected_spend(&cdnow_gg, 0, 0), pop, 1e-12);
  double v = px_clv_value(&cdnow, &cdnow_gg, 0, 0, 38.86, 0, 365, 7, 0.1);
  ASSERT_NEAR(px_clv_value(&cdnow, &cdnow_gg, 0, 0, 38.86, 55, 365, 7, 0.1), v, 0);
  double flat = px_clv_value(&cdnow, &cdnow_gg, 0, 0, 38.86, 0, 365, 7, 0);
  ASSERT_NEAR(flat, pop * px_bgnbd_expected(&cdnow, 0, 0, 38.86, 365.0 / 7), 1e-12 * flat);
  PX_ASSERT_TRUE(v > 0 && v < flat);
  /* A new customer (T = 0) expects more than one seen for 39 weeks
   * without coming back. */
  PX_ASSERT_TRUE(px_clv_value(&cdnow, &cdnow_gg, 0, 0, 0, 0, 365, 7, 0.1) > v);
}

static void test_invalid_input(void **state) {
  (void)state;
  const px_bgnbd *m = &cdnow;
  const px_gamma_gamma *g = &cdnow_gg;
  px_bgnbd bad_m = {0, 4.4, 0.79, 2.4, 0};
  px_gamma_gamma bad_g = {6.25, NAN, 15.4, 0};
  ASSERT_NAN(px_clv_value(NULL, g, 2, 30, 38, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, NULL, 2, 30, 38, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(&bad_m, g, 2, 30, 38, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, &bad_g, 2, 30, 38, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 1.5, 30, 38, 20, 365, 7, 0.1)); /* x is a count */
  ASSERT_NAN(px_clv_value(m, g, -1, 0, 38, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 39, 38, 20, 365, 7, 0.1)); /* t_x > T */
  ASSERT_NAN(px_clv_value(m, g, 2, 30, NAN, 20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, -20, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, INFINITY, 365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 0, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, -365, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, NAN, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, PX_CLV_MAX_HORIZON_DAYS * 1.01, 7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, 0, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, -7, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, INFINITY, 0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, 7, -0.1));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, 7, NAN));
  ASSERT_NAN(px_clv_value(m, g, 2, 30, 38, 20, 365, 7, INFINITY));
  /* The longest horizon is accepted. */
  double v = px_clv_value(m, g, 2, 30, 38, 20, PX_CLV_MAX_HORIZON_DAYS, 7, 0.1);
  PX_ASSERT_TRUE(isfinite(v) && v > 0);
  /* A spend the Gamma-Gamma posterior leaves undefined (p x + q <= 1). */
  px_gamma_gamma wide = {0.5, 0.4, 10, 0};
  PX_ASSERT_TRUE(isinf(px_clv_value(m, &wide, 0, 0, 38, 0, 365, 7, 0.1)));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_zero_discount_is_spend_times_expected),
    cmocka_unit_test(test_discount_lowers_value),
    cmocka_unit_test(test_by_hand),
    cmocka_unit_test(test_no_repeats),
    cmocka_unit_test(test_invalid_input),
};

PX_TEST_MAIN(tests)
