/* score/kmeans_rule: a cluster as a rule ("nearer to centroid c than to any
 * other"), compiled by the rule module and evaluated on the points, agrees
 * with px_kmeans_assign_one everywhere but at near-ties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "px_test.h"
#include "rule/rule.h"
#include "score/kmeans.h"

#define D 4


/* The env: traits f0..f3 are the row's features. */
static const double *g_row;
static px_status get(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *vu) {
  (void)arg, (void)vu;
  memset(out, 0, sizeof *out);
  if (ns == PX_NS_TRAIT && name[0] == 'f' && name[1] >= '0' && name[1] < '0' + D && !name[2])
    out->type = PX_RV_NUM, out->n = g_row[name[1] - '0'];
  return PX_OK;
}
static px_status in_segment(void *arg, const char *name, int *in) {
  (void)arg, (void)name;
  return *in = 0, PX_OK;
}
static px_status aggregate(void *arg, int i, px_rule_value *out, int64_t *vu) {
  (void)arg, (void)i, (void)vu;
  return memset(out, 0, sizeof *out), PX_OK;
}

/* Squared standardized distances from row to every centroid, as fit sees them. */
static void distances(const px_kmeans_model *m, const double *row, double *dist) {
  for (int c = 0; c < m->k; c++) {
    dist[c] = 0;
    for (int f = 0; f < m->d; f++) {
      if (m->sd[f] == 0) continue;
      double t = m->log1p[f] ? log1p(row[f]) : row[f];
      double z = (t - m->mean[f]) / m->sd[f] - m->center[(size_t)c * (size_t)m->d + f];
      dist[c] += z * z;
    }
  }
}

static void check_agreement(int k, int with_log, uint64_t seed) {
  size_t n = 600;
  double *x = malloc(n * D * sizeof *x);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) {
    x[i * D + 0] = 10 * px_test_unif(&s);          /* plain */
    x[i * D + 1] = exp(8 * px_test_unif(&s)) - 1;  /* long tail, >= 0: log1p */
    x[i * D + 2] = 7;                      /* constant: plays no part */
    x[i * D + 3] = -50 + 3 * px_test_unif(&s);     /* negative values are fine unlogged */
  }
  unsigned char logs[D] = {0, (unsigned char)with_log, 0, 0};
  px_kmeans_opts o = {.k = k, .seed = seed, .log1p = logs};
  px_kmeans_model m;
  px_error err;
  PX_ASSERT_OK(px_kmeans_fit(x, n, D, &o, &m, &err));
  PX_ASSERT_INT_EQ(m.constants, 1);
  const char *terms[D] = {"f0", with_log ? "log1p(f1)" : "f1", "f2", "f3"};
  px_rule *rules[8];
  for (int c = 0; c < k; c++) {
    px_buf b;
    px_buf_init(&b, 0);
    PX_ASSERT_OK(px_kmeans_nearest_rule(&m, c, terms, &b));
    PX_ASSERT_TRUE(strstr(b.data, "f2") == NULL); /* the constant feature is left out */
    PX_ASSERT_TRUE(strstr(b.data, "f0") != NULL);
    px_rule_error e;
    if (px_rule_compile(b.data, b.len, PX_RULE_PROFILE, &rules[c], &e) != PX_OK)
      fail_msg("cluster %d: %s: %s", c, b.data, e.message);
    px_buf_free(&b);
  }
  /* The fitted points, then fresh ones. */
  size_t agree = 0, ties = 0;
  for (size_t i = 0; i < 2 * n; i++) {
    double fresh[D] = {12 * px_test_unif(&s) - 1, exp(9 * px_test_unif(&s)) - 1, 7, -51 + 5 * px_test_unif(&s)};
    const double *row = i < n ? x + i * D : fresh;
    int want = px_kmeans_assign_one(&m, row);
    PX_ASSERT_INT_CMP(want, >=, 0);
    double dist[8], best = INFINITY, second = INFINITY;
    distances(&m, row, dist);
    for (int c = 0; c < k; c++) {
      if (dist[c] < best) second = best, best = dist[c];
      else if (dist[c] < second) second = dist[c];
    }
    if (second - best < 1e-9 * (1 + best)) { /* a near-tie: either answer is fair */
      ties++;
      continue;
    }
    if (i < n) PX_ASSERT_INT_EQ(m.labels[i], want);
    g_row = row;
    px_rule_env env = {NULL, 0, get, in_segment, aggregate};
    for (int c = 0; c < k; c++) {
      int in = -1;
      int64_t until;
      PX_ASSERT_OK(px_rule_eval(rules[c], &env, &in, &until));
      if (in != (c == want)) fail_msg("point %zu: rule of cluster %d says %d, nearest is %d", i, c, in, want);
    }
    agree++;
  }
  PX_ASSERT_INT_CMP(agree, >, 2 * n - 5);
  (void)ties;
  /* A point with a feature missing (or negative under log1p) is in no cluster. */
  double missing_row[D] = {NAN, 1, 7, -50};
  double negative_row[D] = {5, -2, 7, -50};
  for (int c = 0; c < k; c++) {
    px_rule_env env = {NULL, 0, get, in_segment, aggregate};
    int in = -1;
    int64_t until;
    g_row = missing_row; /* NaN from the env is null */
    PX_ASSERT_OK(px_rule_eval(rules[c], &env, &in, &until));
    PX_ASSERT_INT_EQ(in, 0);
    if (with_log) {
      g_row = negative_row;
      PX_ASSERT_OK(px_rule_eval(rules[c], &env, &in, &until));
      PX_ASSERT_INT_EQ(in, 0);
    }
  }
  for (int c = 0; c < k; c++) px_rule_free(rules[c]);
  px_kmeans_free(&m);
  free(x);
}

static void test_rule_agrees_with_assign(void **state) {
  (void)state;
  check_agreement(2, 0, 1);
  check_agreement(3, 1, 2);
  check_agreement(5, 1, 3);
  check_agreement(8, 0, 4);
}

static void test_rule_text(void **state) {
  (void)state;
  /* Two clusters on one feature, points 0 1 | 9 10: the boundary is at 5. */
  double x[] = {0, 1, 9, 10, 1, 0};
  double two[12]; /* with a constant second feature, row by row */
  for (int i = 0; i < 6; i++) two[2 * i] = x[i], two[2 * i + 1] = 3;
  px_kmeans_opts o = {.k = 2};
  px_kmeans_model m;
  PX_ASSERT_OK(px_kmeans_fit(two, 6, 2, &o, &m, NULL));
  const char *terms[] = {"computed.orders", "trait.\"x y\""};
  px_buf b;
  px_buf_init(&b, 0);
  /* cluster 0 is the larger: 0 1 1 0; nearer to it means orders < 5 */
  PX_ASSERT_OK(px_kmeans_nearest_rule(&m, 0, terms, &b));
  px_rule *r;
  px_rule_error e;
  PX_ASSERT_OK(px_rule_compile(b.data, b.len, PX_RULE_PROFILE, &r, &e));
  char canon[256];
  PX_ASSERT_OK(px_rule_print(r, canon, sizeof canon));
  px_rule_free(r);
  /* w = 2 (j - c) / sd with j, c the standardized centres; the bound b/w = 5 */
  double sd = m.sd[0], w = 2 * (m.center[2] - m.center[0]) / sd;
  char want[256];
  snprintf(want, sizeof want, "%.17g * computed.orders < %.17g", w, 5 * w);
  double got_w, got_b;
  PX_ASSERT_INT_EQ(sscanf(canon, "%lf * computed.orders < %lf", &got_w, &got_b), 2);
  if (fabs(got_w - w) > 1e-12 * fabs(w) || fabs(got_b / got_w - 5) > 1e-12) fail_msg("%s, want %s", canon, want);
  /* errors */
  PX_ASSERT_STATUS(px_kmeans_nearest_rule(&m, 2, terms, &b), PX_INVALID);
  PX_ASSERT_STATUS(px_kmeans_nearest_rule(&m, -1, terms, &b), PX_INVALID);
  PX_ASSERT_STATUS(px_kmeans_nearest_rule(&m, 0, NULL, &b), PX_INVALID);
  px_buf_free(&b);
  px_kmeans_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rule_agrees_with_assign),
    cmocka_unit_test(test_rule_text),
};

PX_TEST_MAIN(tests)
