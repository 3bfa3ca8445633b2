#include "match/em.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR 1e-6 /* no probability is exactly 0 or 1: weights stay finite */

static double clamp(double p) { return p < FLOOR ? FLOOR : p > 1 - FLOOR ? 1 - FLOOR : p; }

void px_em_init(px_em_model *mdl, int nfields, const int *nlevels, double lambda) {
  memset(mdl, 0, sizeof *mdl);
  mdl->nfields = nfields;
  mdl->lambda = lambda;
  for (int f = 0; f < nfields; f++) {
    int k = nlevels[f] - 1; /* informative levels: 1..k, 1 the closest */
    mdl->nlevels[f] = nlevels[f];
    double msum = 0, usum = 0;
    for (int l = 1; l <= k; l++) {
      mdl->m[f][l] = pow(0.2, l - 1);   /* matches: mostly exact */
      mdl->u[f][l] = pow(0.2, k - l);   /* non-matches: mostly different */
      msum += mdl->m[f][l];
      usum += mdl->u[f][l];
    }
    for (int l = 1; l <= k; l++) mdl->m[f][l] /= msum, mdl->u[f][l] /= usum;
  }
}

/* log P(vector | match) and log P(vector | non-match). */
static void likelihoods(const px_em_model *mdl, const unsigned char *v, double *lm, double *lu) {
  *lm = *lu = 0;
  for (int f = 0; f < mdl->nfields; f++) {
    if (!v[f] || v[f] >= mdl->nlevels[f]) continue;
    *lm += log(clamp(mdl->m[f][v[f]]));
    *lu += log(clamp(mdl->u[f][v[f]]));
  }
}

int px_em_fit(px_em_model *mdl, const unsigned char *vectors, size_t n, int max_iter, double tol, double *loglik) {
  return px_em_fit_counts(mdl, vectors, NULL, n, max_iter, tol, loglik);
}

int px_em_fit_counts(px_em_model *mdl, const unsigned char *vectors, const double *counts, size_t n, int max_iter,
                     double tol, double *loglik) {
  int F = mdl->nfields, iter = 0;
  double prev = -INFINITY, ll = 0;
  for (; iter < max_iter && n; iter++) {
    double m[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS] = {{0}}, u[PX_EM_MAX_FIELDS][PX_EM_MAX_LEVELS] = {{0}};
    double gsum = 0, total_count = 0, lambda = clamp(mdl->lambda);
    ll = 0;
    for (size_t i = 0; i < n; i++) {
      const unsigned char *v = vectors + i * (size_t)F;
      double lm, lu, c = counts ? counts[i] : 1.0;
      likelihoods(mdl, v, &lm, &lu);
      double a = log(lambda) + lm, b = log(1 - lambda) + lu, top = fmax(a, b);
      double total = top + log(exp(a - top) + exp(b - top)); /* log(P_M + P_U), safely */
      double g = exp(a - total);
      ll += c * total;
      gsum += c * g;
      total_count += c;
      for (int f = 0; f < F; f++) {
        if (!v[f] || v[f] >= mdl->nlevels[f]) continue;
        m[f][v[f]] += c * g;
        u[f][v[f]] += c * (1 - g);
      }
    }
    mdl->lambda = clamp(total_count > 0 ? gsum / total_count : mdl->lambda);
    for (int f = 0; f < F; f++) {
      double ms = 0, us = 0;
      for (int l = 1; l < mdl->nlevels[f]; l++) ms += m[f][l], us += u[f][l];
      for (int l = 1; l < mdl->nlevels[f]; l++) {
        if (ms > 0) mdl->m[f][l] = clamp(m[f][l] / ms);
        if (us > 0) mdl->u[f][l] = clamp(u[f][l] / us);
      }
    }
    if (ll - prev < tol) {
      iter++;
      break;
    }
    prev = ll;
  }
  if (loglik) *loglik = ll;
  return iter;
}

double px_em_weight(const px_em_model *mdl, const unsigned char *v, double *parts) {
  double w = 0;
  for (int f = 0; f < mdl->nfields; f++) {
    double p = 0;
    if (v[f] && v[f] < mdl->nlevels[f]) p = log2(clamp(mdl->m[f][v[f]]) / clamp(mdl->u[f][v[f]]));
    if (parts) parts[f] = p;
    w += p;
  }
  return w;
}

double px_em_probability(const px_em_model *mdl, const unsigned char *v) {
  double lm, lu, lambda = clamp(mdl->lambda);
  likelihoods(mdl, v, &lm, &lu);
  double a = log(lambda) + lm, b = log(1 - lambda) + lu;
  return 1.0 / (1.0 + exp(b - a));
}
