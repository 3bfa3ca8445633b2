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
  /* The discount factor of t days is e^(-rate t), rate per day. */
  double rate = log1p(annual_discount) / PX_CLV_YEAR_DAYS, before = 0, sum = 0;
  for (int k = 1;; k++) {
    /* k * 30.4375 is exact (30.4375 = 487/16), so a horizon of whole
     * months ends on its last step without a sliver after it. */
    double end = fmin(k * PX_CLV_MONTH_DAYS, horizon_days);
    double e = px_bgnbd_expected(m, x, t_x, T, end / unit_days);
    if (isnan(e)) return NAN;
    sum += (e - before) * (rate > 0 ? exp(-rate * end) : 1);
    before = e;
    if (end >= horizon_days) break;
  }
  if (isinf(spend)) return INFINITY;
  return spend * sum;
}
