#include "score/rfm.h"

#include <math.h>
#include <stdlib.h>

static int ascending(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* The values at the 20%, 40%, 60% and 80% positions of v sorted. */
static void quintiles(double *v, size_t n, double cut[4]) {
  qsort(v, n, sizeof *v, ascending);
  for (int k = 0; k < 4; k++) cut[k] = v[n * (size_t)(k + 1) / 5 < n ? n * (size_t)(k + 1) / 5 : n - 1];
}

px_status px_rfm_cuts_of(const px_rfm_input *in, size_t n, px_rfm_cuts *out) {
  if (!n) return PX_INVALID;
  double *v = malloc(n * sizeof *v);
  if (!v) return PX_NOMEM;
  px_status s = PX_OK;
  for (int measure = 0; measure < 3 && s == PX_OK; measure++) {
    for (size_t i = 0; i < n; i++) {
      v[i] = measure == 0 ? -in[i].recency_days : measure == 1 ? in[i].frequency : in[i].monetary;
      if (isnan(v[i])) s = PX_INVALID;
    }
    if (s == PX_OK) quintiles(v, n, measure == 0 ? out->r : measure == 1 ? out->f : out->m);
  }
  free(v);
  out->n = n;
  return s;
}

static int score(const double cut[4], double v) {
  int s = 1;
  for (int k = 0; k < 4; k++) s += v > cut[k];
  return s;
}

px_rfm_score px_rfm_score_of(const px_rfm_cuts *c, const px_rfm_input *x) {
  px_rfm_score s = {score(c->r, -x->recency_days), score(c->f, x->frequency), score(c->m, x->monetary), 0, NULL};
  s.fm = (s.f + s.m + 1) / 2;
  s.cell = px_rfm_cell(s.r, s.fm);
  return s;
}

/* Rows: recency score 5 down to 1; columns: frequency-monetary 1 to 5. Each
 * cell of the grid has exactly one name (docs/internals/score.md). */
static const char *const cells[5][5] = {
    {"new", "potential_loyalist", "potential_loyalist", "champions", "champions"},
    {"promising", "potential_loyalist", "potential_loyalist", "loyal", "champions"},
    {"about_to_sleep", "about_to_sleep", "needs_attention", "loyal", "loyal"},
    {"hibernating", "hibernating", "at_risk", "at_risk", "at_risk"},
    {"lost", "lost", "at_risk", "cannot_lose", "cannot_lose"},
};

const char *px_rfm_cell(int r, int fm) {
  if (r < 1 || r > 5 || fm < 1 || fm > 5) return NULL;
  return cells[5 - r][fm - 1];
}

static const char *const names[PX_RFM_NCELLS] = {"champions",       "loyal",          "potential_loyalist", "new",
                                                 "promising",       "needs_attention", "about_to_sleep",    "at_risk",
                                                 "cannot_lose",     "hibernating",    "lost"};

const char *px_rfm_cell_at(int i) { return i >= 0 && i < PX_RFM_NCELLS ? names[i] : NULL; }
