/* The calibration/holdout check: see validate.h. One pass over each
 * customer's sorted purchase days gives the holdout counts and a histogram
 * of repeat days by period; the model's cumulative curve is a convolution
 * of the number of customers by first-purchase day with E[X(t)] by lag in
 * days, so E[X(t)] is computed once per day of the span. */
#include "clv/validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int positive(double v) { return isfinite(v) && v > 0; }

void px_clv_validation_free(px_clv_validation *v) {
  if (!v) return;
  free(v->t);
  free(v->actual);
  free(v->predicted);
  v->t = v->actual = v->predicted = NULL;
  v->periods = 0;
}

/* The earliest first purchase into *start and the latest purchase into
 * *last; 0 when a customer has no purchases in s, starts after the
 * calibration end or has no count of repeat purchases (c is not s's). */
static int find_start(const px_clv_summary *s, const px_btyd_customer *c, size_t n, int64_t end,
                      int64_t *start, int64_t *last) {
  *start = INT64_MAX;
  *last = INT64_MIN;
  for (size_t k = 0; k < n; k++) {
    size_t np;
    const px_clv_purchase *p = px_clv_summary_purchases(s, k, &np);
    if (!p || !np || p[0].day > end || !(c[k].x >= 0 && c[k].x <= 1e15)) return 0;
    if (p[0].day < *start) *start = p[0].day;
    if (p[np - 1].day > *last) *last = p[np - 1].day;
  }
  return 1;
}

/* One customer's repeat purchase days up to the holdout end: each counted
 * in its period's slot of hist; returns those in the holdout. */
static double count_days(const px_clv_purchase *p, size_t np, const px_clv_holdout *h, int64_t start,
                         int64_t unit, double *hist) {
  double in_holdout = 0;
  for (size_t j = 1; j < np; j++) {
    int64_t d = p[j].day;
    if (d == p[j - 1].day) continue; /* a day's purchases are one */
    if (d > h->holdout_end_day) break;
    hist[(d - start) / unit] += 1;
    if (d > h->calibration_end_day) in_holdout += 1;
  }
  return in_holdout;
}

/* The model's cumulative curve: for each period, the sum over first-purchase
 * days f (by offset from the start, cnt[f] customers each) of cnt[f] times
 * E[X] from f to the period's last day (lag[] by days). */
static void model_curve(px_clv_validation *v, const size_t *cnt, size_t nf, const double *lag, int64_t span,
                        int64_t unit) {
  for (size_t k = 0; k < v->periods; k++) {
    int64_t last = (int64_t)(k + 1) * unit - 1;
    if (last > span - 1) last = span - 1;
    v->t[k] = (double)(last + 1) / (double)unit;
    double sum = 0;
    for (size_t f = 0; f < nf && (int64_t)f <= last; f++)
      if (cnt[f]) sum += (double)cnt[f] * lag[last - (int64_t)f];
    v->predicted[k] = sum;
  }
}

px_status px_clv_validate(const px_clv_summary *s, const px_btyd_customer *c, size_t n, const px_bgnbd *m,
                          const px_clv_holdout *h, px_clv_validation *out) {
  if (!s || !c || !n || !m || !h || !out || !positive(m->r) || !positive(m->alpha) || !positive(m->a) ||
      !positive(m->b))
    return PX_INVALID;
  double u = h->unit_days;
  if (!(u >= 1 && u <= 1e6 && u == floor(u)) || h->holdout_end_day <= h->calibration_end_day) return PX_INVALID;
  int64_t start, last, unit = (int64_t)u;
  if (!find_start(s, c, n, h->calibration_end_day, &start, &last)) return PX_INVALID;
  /* Days since the start, first day 0, up to the holdout end (inclusive). */
  if (h->holdout_end_day - start >= PX_CLV_MAX_DAYS) return PX_TOO_LARGE;
  int64_t span = h->holdout_end_day - start + 1;
  size_t nf = (size_t)(h->calibration_end_day - start + 1); /* possible first days */
  px_clv_validation v = {0};
  v.customers = n;
  v.start_day = start;
  v.last_day = last;
  v.periods = (size_t)((span + unit - 1) / unit);
  v.calibration_units = (double)nf / u;
  v.holdout_units = (double)(h->holdout_end_day - h->calibration_end_day) / u;
  v.t = malloc(v.periods * sizeof *v.t);
  v.actual = calloc(v.periods, sizeof *v.actual);
  v.predicted = malloc(v.periods * sizeof *v.predicted);
  size_t *cnt = calloc(nf, sizeof *cnt);
  double *lag = malloc((size_t)span * sizeof *lag);
  if (!v.t || !v.actual || !v.predicted || !cnt || !lag) {
    free(cnt);
    free(lag);
    px_clv_validation_free(&v);
    return PX_NOMEM;
  }
  double sum_actual[PX_CLV_FREQ_BUCKETS] = {0}, sum_pred[PX_CLV_FREQ_BUCKETS] = {0};
  for (size_t k = 0; k < n; k++) {
    size_t np;
    const px_clv_purchase *p = px_clv_summary_purchases(s, k, &np);
    cnt[p[0].day - start]++;
    double held = count_days(p, np, h, start, unit, v.actual);
    double want = px_bgnbd_expected(m, c[k].x, c[k].t_x, c[k].T, v.holdout_units);
    size_t b = c[k].x >= PX_CLV_FREQ_BUCKETS - 1 ? PX_CLV_FREQ_BUCKETS - 1 : (size_t)c[k].x;
    v.freq[b].customers++;
    sum_actual[b] += held;
    sum_pred[b] += want;
    v.actual_total += held;
    v.predicted_total += want;
  }
  for (size_t b = 0; b < PX_CLV_FREQ_BUCKETS; b++) {
    double k = (double)v.freq[b].customers;
    v.freq[b].actual = k > 0 ? sum_actual[b] / k : NAN;
    v.freq[b].predicted = k > 0 ? sum_pred[b] / k : NAN;
  }
  for (size_t k = 1; k < v.periods; k++) v.actual[k] += v.actual[k - 1];
  /* E[X(t)] by lag: a first purchase on day f and a period ending on day
   * e give t = (e - f) / unit, as T in the summary. */
  for (int64_t d = 0; d < span; d++) lag[d] = px_bgnbd_expected_new(m, (double)d / u);
  model_curve(&v, cnt, nf, lag, span, unit);
  free(cnt);
  free(lag);
  *out = v;
  return PX_OK;
}
