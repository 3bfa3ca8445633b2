/* Customer lifetime value over a horizon (issue 5): the Gamma-Gamma
 * expected spend per purchase times the BG/NBD expected repeat purchases
 * over the horizon, each month's purchases discounted to today. A pure
 * function over btyd.h; depends on nothing else.
 *
 *   CLV = S * sum_k [E(t_k) - E(t_{k-1})] (1 + d)^(-t_k / 365.25)
 *
 * with S = px_gamma_gamma_expected_spend(g, x, mean), E(t) =
 * px_bgnbd_expected(m, x, t_x, T, t / unit_days), t_0 = 0 and t_k =
 * min(k * 30.4375, horizon_days) days (months of 365.25 / 12 days; the last
 * step shorter when the horizon is not a whole number of months), and d
 * the annual discount rate. Each month's purchases are discounted from the
 * month's end, so CLV is slightly conservative against a continuous
 * discount; with d = 0 it is exactly S * E(horizon).
 *
 * Cost: one px_bgnbd_expected per month of the horizon (and one exp),
 * which is nearly all of it: about 2.5 us for a 12-month horizon on the
 * CDNOW fit, in weeks or days, where the twelve px_bgnbd_expected calls
 * alone take about as long (0.2 us each; x86-64 at -O2, one core). So
 * 1,000,000 customers take about 2.5 s of one core, and a faster
 * px_bgnbd_expected is a faster CLV. */
#ifndef PX_CLV_VALUE_H
#define PX_CLV_VALUE_H

#include "clv/btyd.h"

/* The longest horizon px_clv_value takes: 100 years (1,200 monthly steps). */
#define PX_CLV_MAX_HORIZON_DAYS 36525.0
/* A month of the discounting steps, and a year, in days. */
#define PX_CLV_MONTH_DAYS 30.4375
#define PX_CLV_YEAR_DAYS 365.25

/* The discounted value of a customer's purchases over the next
 * horizon_days days. x, t_x, T are in the model's unit, unit_days days
 * each (1 or 7; any finite positive number works); mean is the customer's
 * mean repeat spend (0 when x == 0, where the population mean is used);
 * annual_discount is the yearly rate (0.1 for 10%), 0 for none.
 *
 * NAN for invalid input: m or g NULL or with parameters that are not
 * finite and positive, a customer px_bgnbd_expected rejects (x not a whole
 * number >= 0, not 0 <= t_x <= T), mean negative or not finite,
 * horizon_days not in (0, PX_CLV_MAX_HORIZON_DAYS], unit_days not finite
 * and positive, annual_discount negative or not finite; also NAN where
 * px_bgnbd_expected is (horizons beyond 1e5 (alpha + T) units with very
 * large parameters). INFINITY when the expected spend is infinite
 * (p x + q <= 1, see px_gamma_gamma_expected_spend). Thread-safe. */
double px_clv_value(const px_bgnbd *m, const px_gamma_gamma *g, double x, double t_x, double T, double mean,
                    double horizon_days, double unit_days, double annual_discount);

#endif
