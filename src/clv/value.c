/* Customer lifetime value over a horizon: see value.h. */
#include "clv/value.h"

#include <math.h>
#include <stddef.h>

double px_clv_value(const px_bgnbd *m, const px_gamma_gamma *g, double x, double t_x, double T, double mean,
                    double horizon_days, double unit_days, double annual_discount) {
  if (!m || !g || !(horizon_days > 0 && horizon_days <= PX_CLV_MAX_HORIZON_DAYS) ||
      !(isfinite(unit_days) && unit_days > 0) || !(isfinite(annual_discount) && annual_discount >= 0))
    return NAN;
  double spend = px_gamma_gamma_expected_spend(g, x, mean);
  if (isnan(spend)) return NAN;
  /* The discount factor of t days is e^(-rate t), rate per day. The
   * months' ends go to px_bgnbd_expected_many 16 at a time (the same
   * numbers as one call each, cheaper). */
  double rate = log1p(annual_discount) / PX_CLV_YEAR_DAYS, before = 0, sum = 0;
  double ends[16], t[16], e[16];
  int done = 0;
  for (int k = 1; !done;) {
    size_t n = 0;
    for (; n < 16 && !done; n++, k++) {
      /* k * 30.4375 is exact (30.4375 = 487/16), so a horizon of whole
       * months ends on its last step without a sliver after it. */
      ends[n] = fmin(k * PX_CLV_MONTH_DAYS, horizon_days);
      t[n] = ends[n] / unit_days;
      done = ends[n] >= horizon_days;
    }
    px_bgnbd_expected_many(m, x, t_x, T, t, n, e);
    for (size_t i = 0; i < n; i++) {
      if (isnan(e[i])) return NAN;
      sum += (e[i] - before) * (rate > 0 ? exp(-rate * ends[i]) : 1);
      before = e[i];
    }
  }
  if (isinf(spend)) return INFINITY;
  return spend * sum;
}
