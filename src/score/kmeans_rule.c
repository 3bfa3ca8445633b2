/* A fitted k-means cluster as a condition in the rule language: "nearer to
 * centroid c than to any other", which stays true or false as a profile's
 * features change, so a discovered cluster can be kept as a live segment.
 *
 * In standardized units z_f = (t_f - mean_f) / sd_f (t_f the feature after
 * its transform), |z - c|^2 < |z - j|^2 expands to
 *   sum_f 2 z_f (j_f - c_f) < sum_f (j_f^2 - c_f^2),
 * linear in t_f: sum_f w_f t_f < b with w_f = 2 (j_f - c_f) / sd_f and
 * b = sum_f (j_f^2 - c_f^2) + sum_f w_f mean_f. One inequality per other
 * centroid j; constant features (sd 0) play no part. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "score/kmeans.h"

/* The shortest text that reads back as v. */
static void shortest(char *out, size_t cap, double v) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, cap, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

px_status px_kmeans_nearest_rule(const px_kmeans_model *m, int c, const char *const *terms, px_buf *out) {
  if (!m || c < 0 || c >= m->k || m->k < 2 || !terms) return PX_INVALID;
  px_status s = PX_OK;
  int first_ineq = 1;
  for (int j = 0; j < m->k && s == PX_OK; j++) {
    if (j == c) continue;
    const double *cc = m->center + (size_t)c * (size_t)m->d, *cj = m->center + (size_t)j * (size_t)m->d;
    double b = 0;
    int nterms = 0;
    if (!first_ineq) s = px_buf_puts(out, " and ");
    first_ineq = 0;
    for (int f = 0; f < m->d && s == PX_OK; f++) {
      if (m->sd[f] == 0) continue;
      double w = 2 * (cj[f] - cc[f]) / m->sd[f];
      b += cj[f] * cj[f] - cc[f] * cc[f] + w * m->mean[f];
      if (w == 0) continue;
      char num[40];
      shortest(num, sizeof num, nterms ? fabs(w) : w);
      s = px_buf_printf(out, "%s%s * %s", nterms ? (w < 0 ? " - " : " + ") : "", num, terms[f]);
      nterms++;
    }
    char num[40];
    shortest(num, sizeof num, b);
    if (s == PX_OK) s = nterms ? px_buf_printf(out, " < %s", num) : px_buf_printf(out, "0 < %s", num);
  }
  return s;
}
