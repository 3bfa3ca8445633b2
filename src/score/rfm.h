/* RFM: recency, frequency and monetary value scored 1-5 by quintiles over
 * all customers, and the standard named cells (champions ... lost). The
 * inputs come from computed traits (days since the last purchase, distinct
 * orders, revenue); this module only ranks and names. See
 * docs/internals/score.md. */
#ifndef PX_SCORE_RFM_H
#define PX_SCORE_RFM_H

#include <stddef.h>

#include "base/status.h"

typedef struct px_rfm_input {
  double recency_days; /* since the last purchase: fewer is better */
  double frequency;    /* distinct orders */
  double monetary;     /* revenue (refunds and cancellations already netted) */
} px_rfm_input;

/* Quintile boundaries of each measure over a population: a value above
 * boundary k (k = 0..3) is past the (k+1)-th fifth. Recency is ranked
 * reversed (more recent is higher), so its boundaries are of -recency. */
typedef struct px_rfm_cuts {
  double r[4], f[4], m[4];
  size_t n; /* customers they were taken from */
} px_rfm_cuts;

/* The boundaries over n customers (n >= 1; NaN measures are PX_INVALID). */
px_status px_rfm_cuts_of(const px_rfm_input *in, size_t n, px_rfm_cuts *out);

typedef struct px_rfm_score {
  int r, f, m; /* 1-5 each: 5 the best fifth */
  int fm;      /* (f + m) / 2 rounded half up: the cells' second axis */
  const char *cell;
} px_rfm_score;

/* A customer's scores: 1 plus the number of boundaries its value is
 * strictly above (a value tied with a boundary falls in the lower fifth). */
px_rfm_score px_rfm_score_of(const px_rfm_cuts *c, const px_rfm_input *x);

/* The named cell of recency score r and frequency-monetary score fm (1-5):
 * "champions", "loyal", "potential_loyalist", "new", "promising",
 * "needs_attention", "about_to_sleep", "at_risk", "cannot_lose",
 * "hibernating" or "lost". NULL outside 1-5. */
const char *px_rfm_cell(int r, int fm);

/* The eleven cell names, i = 0..PX_RFM_NCELLS-1, best first: champions,
 * loyal, potential_loyalist, new, promising, needs_attention,
 * about_to_sleep, at_risk, cannot_lose, hibernating, lost. NULL outside. */
#define PX_RFM_NCELLS 11
const char *px_rfm_cell_at(int i);

#endif
