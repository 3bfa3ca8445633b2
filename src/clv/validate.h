/* The classic calibration/holdout check of a BG/NBD fit (issue 5; Fader,
 * Hardie & Lee 2005): the model is fitted on the purchases up to the
 * calibration end and compared with what the same customers did
 * afterwards, up to the holdout end. Pure: takes a built summary (for each
 * customer's purchase days, also those after the calibration end) and a
 * fitted model, returns two tables.
 *
 * The customers are those of the summary: their first purchase is by the
 * calibration end. A customer whose first purchase is later is in neither
 * table (the model knows nothing of them). Repeat purchases are purchase
 * days after the first, as in the summary.
 *
 * (a) By calibration frequency x = 0, 1, ..., 6 and "7 or more": the
 *     number of customers, their mean number of repeat purchases in the
 *     holdout (calibration end, holdout end], and the mean the model
 *     expects, px_bgnbd_expected over the holdout's length.
 * (b) Cumulative repeat purchases over time, one point per unit (day or
 *     week) from the earliest first purchase (the start) to the holdout
 *     end (a last period shorter when the span is not a whole number of
 *     units): actual, every repeat purchase day up to the period's last
 *     day; and the model's, the sum over the customers of
 *     E[X(t)] (px_bgnbd_expected_new) for the t from their first purchase
 *     to the end of the period's last day. */
#ifndef PX_CLV_VALIDATE_H
#define PX_CLV_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "clv/btyd.h"
#include "clv/summary.h"

/* Calibration frequencies 0 .. PX_CLV_FREQ_BUCKETS - 2, and the rest. */
#define PX_CLV_FREQ_BUCKETS 8
/* The longest span from the earliest first purchase to the holdout end,
 * in days (54 years): beyond it PX_TOO_LARGE (a date is probably wrong).
 * E[X(t)] is computed once per day of the span, and its cost grows with
 * t. */
#define PX_CLV_MAX_DAYS 20000

typedef struct px_clv_holdout {
  int64_t calibration_end_day; /* the summary's, days since 1970-01-01 */
  int64_t holdout_end_day;     /* inclusive; after the calibration end */
  double unit_days;            /* the summary's: a whole number of days */
} px_clv_holdout;

typedef struct px_clv_freq_row {
  size_t customers;
  double actual;    /* mean repeat purchases in the holdout */
  double predicted; /* the model's mean */
} px_clv_freq_row;

typedef struct px_clv_validation {
  size_t customers;
  int64_t start_day;        /* the earliest first purchase */
  int64_t last_day;         /* the latest purchase of these customers, even after the holdout */
  double calibration_units; /* from the start to the end of the calibration end day */
  double holdout_units;     /* the holdout's length */
  px_clv_freq_row freq[PX_CLV_FREQ_BUCKETS];
  double actual_total, predicted_total; /* repeat purchases in the holdout, all customers */
  size_t periods;
  /* Per period (malloc'd, periods each): its end in units from the start
   * (1, 2, ..., the last possibly fractional), and the cumulative repeat
   * purchases up to it, actual and the model's. */
  double *t, *actual, *predicted;
} px_clv_validation;

/* Fills out from the n customers c that px_clv_summary_build(s) returned
 * last (their purchases through px_clv_summary_purchases) and the model m
 * fitted to them. PX_INVALID when n is 0, c does not match s, m is not a
 * model (parameters not finite and positive), the holdout end is not
 * after the calibration end or the unit is not a whole number of days
 * >= 1; PX_TOO_LARGE beyond PX_CLV_MAX_DAYS; PX_NOMEM. On an error out
 * holds nothing to free. A mean the model cannot give is NAN (see
 * px_bgnbd_expected). Takes O(purchases + days x distinct first days). */
px_status px_clv_validate(const px_clv_summary *s, const px_btyd_customer *c, size_t n, const px_bgnbd *m,
                          const px_clv_holdout *h, px_clv_validation *out);
/* Frees the curve of a filled validation (NULL or empty: nothing). */
void px_clv_validation_free(px_clv_validation *v);

#endif
