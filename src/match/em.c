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

int px_em_group(px_em_model *mdl, const int *member, int n, double changed) {
  int g = mdl->ngroups;
  if (g >= PX_EM_MAX_GROUPS || n < 1) return -1;
  for (int i = 0; i < n; i++)
    if (member[i] < 0 || member[i] >= mdl->nfields || mdl->group[member[i]]) return -1;
  for (int i = 0; i < n; i++) mdl->group[member[i]] = (unsigned char)(g + 1);
  mdl->changed[g] = changed;
  mdl->ngroups = g + 1;
  return 0;
}

static double log_sum(double a, double b) {
  double top = fmax(a, b);
  return top + log(exp(a - top) + exp(b - top));
}

/* log P(vector | match) and log P(vector | non-match); per group (may be
 * NULL) the log chance, for a match, that the group changed. */
static void likelihoods(const px_em_model *mdl, const unsigned char *v, double *lm, double *lu, double *changed) {
  double gm[PX_EM_MAX_GROUPS] = {0}, gu[PX_EM_MAX_GROUPS] = {0};
  int present[PX_EM_MAX_GROUPS] = {0};
  *lm = *lu = 0;
  for (int f = 0; f < mdl->nfields; f++) {
    if (!v[f] || v[f] >= mdl->nlevels[f]) continue;
    double m = log(clamp(mdl->m[f][v[f]])), u = log(clamp(mdl->u[f][v[f]]));
    *lu += u;
    int g = mdl->group[f] - 1;
    if (g < 0) {
      *lm += m;
    } else {
      gm[g] += m, gu[g] += u;
      present[g] = 1;
    }
  }
  for (int g = 0; g < mdl->ngroups; g++) {
    double c = clamp(mdl->changed[g]), kept = log(1 - c) + gm[g], moved = log(c) + gu[g];
    double both = present[g] ? log_sum(kept, moved) : 0;
    *lm += both;
    if (changed) changed[g] = present[g] ? moved - both : 1; /* 1: no evidence (log of a chance is <= 0) */
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
    double moved[PX_EM_MAX_GROUPS] = {0}, matched[PX_EM_MAX_GROUPS] = {0};
    double gsum = 0, total_count = 0, lambda = clamp(mdl->lambda);
    ll = 0;
    for (size_t i = 0; i < n; i++) {
      const unsigned char *v = vectors + i * (size_t)F;
      double lm, lu, lc[PX_EM_MAX_GROUPS], r[PX_EM_MAX_GROUPS + 1], c = counts ? counts[i] : 1.0;
      likelihoods(mdl, v, &lm, &lu, lc);
      double a = log(lambda) + lm, b = log(1 - lambda) + lu;
      double total = log_sum(a, b); /* log(P_M + P_U), safely */
      double g = exp(a - total);
      ll += c * total;
      gsum += c * g;
      total_count += c;
      r[0] = 0; /* r[k + 1]: chance that group k changed, given a match */
      for (int k = 0; k < mdl->ngroups; k++) {
        r[k + 1] = lc[k] > 0 ? 0 : exp(lc[k]);
        if (lc[k] <= 0) moved[k] += c * g * r[k + 1], matched[k] += c * g;
      }
      for (int f = 0; f < F; f++) {
        if (!v[f] || v[f] >= mdl->nlevels[f]) continue;
        /* A changed group's members are drawn as for non-matches: they count towards u. */
        double x = r[mdl->group[f]];
        m[f][v[f]] += c * g * (1 - x);
        u[f][v[f]] += c * (1 - g + g * x);
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
    for (int k = 0; k < mdl->ngroups; k++)
      if (matched[k] > 0) mdl->changed[k] = fmax(PX_EM_CHANGED_MIN, clamp(moved[k] / matched[k]));
    if (ll - prev < tol) {
      iter++;
      break;
    }
    prev = ll;
  }
  if (loglik) *loglik = ll;
  return iter;
}

double px_em_group_parts(const px_em_model *mdl, const unsigned char *present, double *parts,
                         unsigned char *levels) {
  double w = 0, sum[PX_EM_MAX_GROUPS] = {0};
  int any[PX_EM_MAX_GROUPS] = {0};
  for (int f = 0; f < mdl->nfields; f++) {
    int g = mdl->group[f] - 1;
    w += parts[f];
    if (g >= 0 && present[f]) sum[g] += parts[f], any[g] = 1;
  }
  for (int g = 0; g < mdl->ngroups; g++) {
    double c = clamp(mdl->changed[g]), kept = log2(1 - c) + sum[g], moved = log2(c);
    double both = fmax(kept, moved) + log2(1 + exp2(-fabs(kept - moved))); /* log2((1 - c) 2^S + c) */
    double *part = &parts[mdl->nfields + g];
    int level = !any[g] ? PX_EM_GROUP_NULL : kept >= moved ? PX_EM_GROUP_KEPT : PX_EM_GROUP_CHANGED;
    if (levels) levels[g] = (unsigned char)level;
    if (level == PX_EM_GROUP_NULL) {
      *part = 0;
      continue;
    }
    if (level == PX_EM_GROUP_KEPT) {
      *part = both - sum[g];
    } else {
      for (int f = 0; f < mdl->nfields; f++)
        if (mdl->group[f] == g + 1) parts[f] = 0;
      *part = both;
    }
    w += both - sum[g];
  }
  return w;
}

double px_em_weight(const px_em_model *mdl, const unsigned char *v, double *parts) {
  double own[PX_EM_MAX_FIELDS + PX_EM_MAX_GROUPS], *p = parts ? parts : own;
  unsigned char present[PX_EM_MAX_FIELDS];
  for (int f = 0; f < mdl->nfields; f++) {
    present[f] = v[f] && v[f] < mdl->nlevels[f];
    p[f] = present[f] ? log2(clamp(mdl->m[f][v[f]]) / clamp(mdl->u[f][v[f]])) : 0;
  }
  return px_em_group_parts(mdl, present, p, NULL);
}

double px_em_probability(const px_em_model *mdl, const unsigned char *v) {
  double lm, lu, lambda = clamp(mdl->lambda);
  likelihoods(mdl, v, &lm, &lu, NULL);
  double a = log(lambda) + lm, b = log(1 - lambda) + lu;
  return 1.0 / (1.0 + exp(b - a));
}
