/* score/kmeans: segment discovery by k-means, on seeded synthetic data. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "score/kmeans.h"

static void close_to(double got, double want, double tol, const char *what) {
  if (!(fabs(got - want) <= tol)) fail_msg("%s: %.9g, want %.9g (within %g)", what, got, want, tol);
}

static double gauss(uint64_t *s) { return sqrt(-2 * log(px_test_unif(s))) * cos(2 * M_PI * px_test_unif(s)); }

/* Blob centres: at least 14 apart, spread 1 around them. */
static const double CENTRE[4][3] = {{0, 0, 0}, {20, 0, 10}, {0, 20, 20}, {20, 20, -10}};

/* nb blobs (nb <= 4) of per points each in d = 3 dimensions; blob[i] says which. */
static double *blobs(int nb, size_t per, int d, uint64_t seed, int *blob) {
  double *x = malloc(nb * per * (size_t)d * sizeof *x);
  uint64_t s = seed;
  for (size_t i = 0; i < nb * per; i++) {
    int b = (int)(i % (size_t)nb); /* interleaved: blob order is not row order */
    blob[i] = b;
    for (int f = 0; f < d; f++) {
      x[i * (size_t)d + f] = CENTRE[b][f] + gauss(&s);
    }
  }
  return x;
}

/* Every blob maps onto one cluster and no two blobs share one. */
static void assert_recovers(const px_kmeans_model *m, const int *blob, size_t n, int nb) {
  int map[16];
  for (int b = 0; b < nb; b++) map[b] = -1;
  for (size_t i = 0; i < n; i++) {
    int got = (int)m->labels[i];
    if (map[blob[i]] < 0) map[blob[i]] = got;
    if (map[blob[i]] != got) fail_msg("point %zu of blob %d in cluster %d, its blob is in %d", i, blob[i], got, map[blob[i]]);
  }
  for (int a = 0; a < nb; a++)
    for (int b = a + 1; b < nb; b++)
      if (map[a] == map[b]) fail_msg("blobs %d and %d share cluster %d", a, b, map[a]);
}

static void test_blobs_chosen_k(void **state) {
  (void)state;
  int nb = 4, d = 3;
  size_t per = 250, n = nb * per;
  int *blob = malloc(n * sizeof *blob);
  double *x = blobs(nb, per, d, 7, blob);
  px_kmeans_opts o = {.seed = 42};
  px_kmeans_model m;
  px_error err;
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &o, &m, &err));
  PX_ASSERT_INT_EQ(m.k, nb);
  PX_ASSERT_INT_EQ(m.chosen, 1);
  PX_ASSERT_INT_EQ(m.kmax_tried, 8);
  for (int k = 2; k <= 8; k++)
    if (k != nb && m.tried[k] >= m.tried[nb]) fail_msg("silhouette at k=%d %.4f >= at k=%d %.4f", k, m.tried[k], nb, m.tried[nb]);
  PX_ASSERT_TRUE(m.silhouette > 0.7);
  PX_ASSERT_UINT_EQ(m.silhouette_n, n); /* n <= the sample size: exact */
  assert_recovers(&m, blob, n, nb);
  for (int c = 0; c < m.k; c++) PX_ASSERT_UINT_EQ(m.size[c], per);

  /* Choosing k gives what asking for that k gives. */
  px_kmeans_model g;
  px_kmeans_opts og = {.k = nb, .seed = 42};
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &og, &g, NULL));
  PX_ASSERT_TRUE(memcmp(g.labels, m.labels, n * sizeof *m.labels) == 0);
  PX_ASSERT_TRUE(g.inertia == m.inertia && g.silhouette == m.silhouette);
  px_kmeans_free(&g);

  /* With a silhouette sample smaller than n, and restarts on a sample of
   * 200 points refined on all (the fit sample), by another seed. */
  og = (px_kmeans_opts){.k = nb, .seed = 3, .silhouette_sample = 300, .fit_sample = 200};
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &og, &g, NULL));
  PX_ASSERT_INT_EQ(g.chosen, 0);
  PX_ASSERT_UINT_EQ(g.silhouette_n, 300);
  assert_recovers(&g, blob, n, nb);
  close_to(g.silhouette, m.silhouette, 0.03, "sampled silhouette near the exact one");
  close_to(g.inertia, m.inertia, 1e-6 * m.inertia, "same partition, same inertia");
  px_kmeans_free(&g);
  og = (px_kmeans_opts){.seed = 5, .fit_sample = 150};
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &og, &g, NULL));
  PX_ASSERT_INT_EQ(g.k, nb);
  assert_recovers(&g, blob, n, nb);

  /* Assigning new points: each blob's centre goes to its blob's cluster. */
  for (int b = 0; b < nb; b++) {
    PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, CENTRE[b]), (int)m.labels[(size_t)b]); /* row b is of blob b */
  }
  int32_t *lab = malloc(n * sizeof *lab);
  PX_ASSERT_UINT_EQ(px_kmeans_assign(&m, x, n, lab), 0);
  for (size_t i = 0; i < n; i++) PX_ASSERT_INT_EQ(lab[i], (int32_t)m.labels[i]);
  double bad[3] = {1, NAN, 2};
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, bad), -1);
  free(lab);
  px_kmeans_free(&m);
  px_kmeans_free(&g);
  free(x);
  free(blob);
}

static void test_determinism(void **state) {
  (void)state;
  /* Structureless data, where the result does depend on the seed. */
  size_t n = 3000;
  int d = 4;
  double *x = malloc(n * (size_t)d * sizeof *x);
  uint64_t s = 99;
  for (size_t i = 0; i < n * (size_t)d; i++) x[i] = px_test_unif(&s);
  px_kmeans_opts o = {.seed = 1234, .kmax = 6, .n_init = 2, .silhouette_sample = 500};
  px_kmeans_model a, b, c;
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &o, &a, NULL));
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &o, &b, NULL));
  PX_ASSERT_INT_EQ(a.k, b.k);
  PX_ASSERT_TRUE(memcmp(a.labels, b.labels, n * sizeof *a.labels) == 0);
  PX_ASSERT_TRUE(memcmp(a.center, b.center, (size_t)a.k * d * sizeof *a.center) == 0);
  PX_ASSERT_TRUE(a.silhouette == b.silhouette && a.inertia == b.inertia);
  for (int k = 2; k <= 6; k++) PX_ASSERT_TRUE(a.tried[k] == b.tried[k]);
  /* Another seed gives another answer somewhere (a check that the seed is used). */
  o.seed = 4321;
  PX_ASSERT_OK(px_kmeans_fit(x, n, d, &o, &c, NULL));
  int differs = c.k != a.k || c.inertia != a.inertia;
  for (int k = 2; k <= 6; k++) differs |= a.tried[k] != c.tried[k];
  PX_ASSERT_TRUE(differs);
  px_kmeans_free(&a);
  px_kmeans_free(&b);
  px_kmeans_free(&c);
  free(x);
}

static void test_standardize(void **state) {
  (void)state;
  /* Feature 1: 1..4 (mean 2.5, sd sqrt(1.25)); feature 2 by log1p: t = 0..3 (mean 1.5). */
  double x[4 * 2];
  for (int i = 0; i < 4; i++) x[i * 2] = i + 1, x[i * 2 + 1] = expm1(i);
  unsigned char logs[2] = {0, 1};
  px_kmeans_opts o = {.k = 1, .log1p = logs};
  px_kmeans_model m;
  PX_ASSERT_OK(px_kmeans_fit(x, 4, 2, &o, &m, NULL));
  close_to(m.mean[0], 2.5, 1e-12, "mean");
  close_to(m.sd[0], sqrt(1.25), 1e-12, "sd");
  close_to(m.mean[1], 1.5, 1e-12, "mean of log1p");
  close_to(m.sd[1], sqrt(1.25), 1e-12, "sd of log1p");
  PX_ASSERT_INT_EQ(m.constants, 0);
  close_to(m.center[0], 0, 1e-12, "one cluster: z 0");
  close_to(m.center_orig[0], 2.5, 1e-12, "back to original units");
  close_to(m.center_orig[1], expm1(1.5), 1e-12, "back through expm1");
  close_to(m.member_mean[1], (0 + (M_E - 1) + expm1(2) + expm1(3)) / 4, 1e-9, "members' arithmetic mean");
  close_to(m.inertia, 8, 1e-9, "z-scores have unit variance: inertia n d");
  px_kmeans_free(&m);

  /* Two clusters: the back-transform is the inverse of the transform. */
  double y[6 * 2] = {1, 0, 2, 1, 3, 0, 101, 1000, 102, 999, 103, 1001};
  o.k = 2;
  PX_ASSERT_OK(px_kmeans_fit(y, 6, 2, &o, &m, NULL));
  for (int c = 0; c < 2; c++) {
    close_to(m.center_orig[c * 2], m.mean[0] + m.center[c * 2] * m.sd[0], 1e-9, "identity feature");
    close_to(m.center_orig[c * 2 + 1], expm1(m.mean[1] + m.center[c * 2 + 1] * m.sd[1]), 1e-9, "log feature");
  }
  int hi = m.center_orig[0] > 50 ? 0 : 1;
  close_to(m.center_orig[hi * 2], 102, 1e-9, "high cluster, feature 1");
  close_to(m.center_orig[hi * 2 + 1], expm1((log1p(1000) + log1p(999) + log1p(1001)) / 3), 1e-6,
           "high cluster, feature 2: geometric-style centre");
  close_to(m.member_mean[hi * 2 + 1], 1000, 1e-9, "member mean");
  close_to(m.overall_mean[0], 52, 1e-9, "overall mean");
  double row[2] = {100, 500};
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, row), hi);
  row[1] = -1; /* negative in a log1p feature: fit would refuse it */
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, row), -1);
  px_kmeans_free(&m);

  /* New points go through the same transform: on a line, the nearest centre
   * in original units is the nearest in z (4 is nearer 0 than 10, 5.5 nearer 10). */
  double line[9] = {0, 0, 0, 10, 10, 10, 12, 12, 12}, p4 = 4, p55 = 5.5, p11 = 11.2;
  o = (px_kmeans_opts){.k = 3};
  PX_ASSERT_OK(px_kmeans_fit(line, 9, 1, &o, &m, NULL));
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, &p4), (int)m.labels[0]);
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, &p55), (int)m.labels[3]);
  PX_ASSERT_INT_EQ(px_kmeans_assign_one(&m, &p11), (int)m.labels[6]);
  px_kmeans_free(&m);
}

static void test_empty_cluster(void **state) {
  (void)state;
  /* Starting centres 5, 100 and -100: everyone goes to 5 and the two
   * others are refilled with the points farthest from it, 12 (distance 7)
   * then 11 (6); then 0 1 2 10 | 12 | 11 gives centres 3.25, 12, 11, and
   * 0 1 2 | 12 | 10 11 is stable. Worked through in docs/internals/score.md. */
  double z[6] = {0, 1, 2, 10, 11, 12}, c[3] = {5, 100, -100}, inertia = 0;
  uint32_t lab[6];
  int iters = 0;
  PX_ASSERT_OK(px_kmeans_lloyd(z, 6, 1, 3, c, lab, 100, 0, &inertia, &iters));
  uint32_t want[6] = {0, 0, 0, 2, 2, 1};
  for (int i = 0; i < 6; i++) PX_ASSERT_UINT_EQ(lab[i], want[i]);
  close_to(c[0], 1, 1e-12, "c0");
  close_to(c[1], 12, 1e-12, "c1");
  close_to(c[2], 10.5, 1e-12, "c2");
  close_to(inertia, 2.5, 1e-12, "inertia");
  PX_ASSERT_INT_EQ(iters, 3);

  /* Two distinct points cannot fill three clusters. */
  double two[4] = {1, 1, 5, 5}, c3[3] = {1, 9, -9};
  PX_ASSERT_STATUS(px_kmeans_lloyd(two, 4, 1, 3, c3, lab, 100, 0, NULL, NULL), PX_INVALID);
}

static void test_silhouette_by_hand(void **state) {
  (void)state;
  /* 0 1 | 4 5: a = 1 everywhere; b = 4.5 for the outer points, 3.5 for the inner. */
  double x[5] = {0, 1, 4, 5, 10}, s[5];
  uint32_t lab[5] = {0, 0, 1, 1, 2};
  double want = ((1 - 1 / 4.5) + (1 - 1 / 3.5)) / 2;
  close_to(px_kmeans_silhouette(x, 4, 1, lab, 2, s), want, 1e-12, "two clusters");
  close_to(s[0], 1 - 1 / 4.5, 1e-12, "s(0)");
  close_to(s[1], 1 - 1 / 3.5, 1e-12, "s(1)");
  /* With 10 alone in a third cluster: s(10) = 0, and 5's nearest other cluster is still 0 1 (4.5 < 5). */
  close_to(px_kmeans_silhouette(x, 5, 1, lab, 3, s), (2 * (1 - 1 / 4.5) + 2 * (1 - 1 / 3.5)) / 5, 1e-12, "singleton");
  close_to(s[4], 0, 0, "singleton s");
  /* 2-D, a point placed badly: (0,0) (0,2) | (3,0) with (0,2) labelled with (3,0). */
  double y[6] = {0, 0, 0, 2, 3, 0};
  uint32_t bad[3] = {0, 1, 1};
  double r13 = sqrt(13);
  double s1 = (2 - r13) / r13; /* a = sqrt(13) to (3,0), b = 2 to (0,0): negative */
  close_to(px_kmeans_silhouette(y, 3, 2, bad, 2, s), (0 + s1 + (3 - r13) / r13) / 3, 1e-12, "misplaced point");
  PX_ASSERT_TRUE(s[1] < 0);
  close_to(px_kmeans_silhouette(x, 4, 1, lab, 1, NULL), 0, 0, "k = 1");
}

static void test_degenerate(void **state) {
  (void)state;
  px_kmeans_model m;
  px_error err;
  double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  px_kmeans_opts o = {.k = 5};
  PX_ASSERT_STATUS(px_kmeans_fit(x, 4, 2, &o, &m, &err), PX_INVALID); /* n < k */
  PX_ASSERT_STR_EQ(err.field, "k");
  PX_ASSERT_NULL(m.labels);
  px_kmeans_free(&m);
  PX_ASSERT_STATUS(px_kmeans_fit(x, 0, 2, NULL, &m, &err), PX_INVALID);
  PX_ASSERT_STATUS(px_kmeans_fit(x, 4, 0, NULL, &m, &err), PX_INVALID);
  o.k = 0, o.kmax = 1;
  PX_ASSERT_STATUS(px_kmeans_fit(x, 4, 2, &o, &m, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "kmax");

  /* Non-finite values and negatives under log1p, with the row named. */
  double nanx[4] = {1, 2, NAN, 4};
  PX_ASSERT_STATUS(px_kmeans_fit(nanx, 2, 2, NULL, &m, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "row 1, feature 1: not a finite number");
  unsigned char logs[2] = {0, 1};
  double neg[4] = {1, 2, 3, -0.5};
  o = (px_kmeans_opts){.log1p = logs};
  PX_ASSERT_STATUS(px_kmeans_fit(neg, 2, 2, &o, &m, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "row 1, feature 2: negative in a log1p feature");

  /* Identical points: k chosen gives one cluster of everyone; k = 2 cannot be filled. */
  double same[10 * 2];
  for (int i = 0; i < 20; i++) same[i] = i % 2 ? 3 : 7;
  PX_ASSERT_OK(px_kmeans_fit(same, 10, 2, NULL, &m, &err));
  PX_ASSERT_INT_EQ(m.k, 1);
  PX_ASSERT_UINT_EQ(m.size[0], 10);
  PX_ASSERT_INT_EQ(m.constants, 2);
  close_to(m.center_orig[0], 7, 0, "constant back-transformed");
  close_to(m.silhouette, 0, 0, "no silhouette");
  px_kmeans_free(&m);
  o = (px_kmeans_opts){.k = 2};
  PX_ASSERT_STATUS(px_kmeans_fit(same, 10, 2, &o, &m, &err), PX_INVALID);
  PX_ASSERT_STR_CONTAINS(err.reason, "fewer than 2 distinct");

  /* One point, k chosen: k = 1. Three distinct points, k chosen: k = 2 at most. */
  PX_ASSERT_OK(px_kmeans_fit(x, 1, 2, NULL, &m, &err));
  PX_ASSERT_INT_EQ(m.k, 1);
  px_kmeans_free(&m);
  double three[6 * 1] = {0, 0, 0, 10, 10, 20};
  PX_ASSERT_OK(px_kmeans_fit(three, 6, 1, NULL, &m, &err));
  PX_ASSERT_INT_CMP(m.kmax_tried, ==, 3); /* k = 4 cannot be filled: the search stops */
  PX_ASSERT_INT_CMP(m.k, >=, 2);
  px_kmeans_free(&m);

  /* A constant feature plays no part and is reported. */
  double withc[6 * 2] = {1, 44, 2, 44, 3, 44, 101, 44, 102, 44, 103, 44};
  const char *names[2] = {"revenue", "country"};
  PX_ASSERT_OK(px_kmeans_fit(withc, 6, 2, NULL, &m, &err));
  PX_ASSERT_INT_EQ(m.k, 2);
  PX_ASSERT_INT_EQ(m.constants, 1);
  close_to(m.sd[1], 0, 0, "constant sd");
  close_to(m.center[1], 0, 0, "constant z");
  close_to(m.center_orig[1], 44, 0, "constant centre");
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_kmeans_describe(&m, names, NULL, 0, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "constant, left out: country (always 44)\n");
  PX_ASSERT_STR_CONTAINS(b.data, "cluster 0: 3 customers (50.0%): ");
  px_buf_free(&b);
  px_kmeans_free(&m);
  px_kmeans_free(NULL);
}

/* A model built by hand, so the words are known exactly. */
static void test_describe(void **state) {
  (void)state;
  unsigned char logs[3] = {1, 0, 0};
  double mean[3] = {5, 40, 3}, sd[3] = {1, 30, 2}, overall[3] = {310, 45, 3.4};
  size_t size[3] = {500, 300, 200};
  double center[9] = {1.8, -1.1, 0.9, -0.2, 0.3, 0.1, -0.7, 2.4, -0.3};
  double orig[9] = {0}, member[9] = {1240, 12, 8.2, 280, 50, 3.6, 35.5, 210, 2.75};
  px_kmeans_model m = {.d = 3, .k = 3, .n = 1000, .log1p = logs, .mean = mean, .sd = sd, .size = size,
                       .center = center, .center_orig = orig, .member_mean = member, .overall_mean = overall,
                       .silhouette = 0.4242, .silhouette_n = 1000};
  const char *names[3] = {"revenue", "recency", "orders"};
  px_kmeans_hint hints[] = {
      {"recency", "long since the last order", "recent buyers", "days"},
      {"orders", "frequent orders", "few orders", NULL},
      {"unused", "x", "y", "z"},
  };
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_kmeans_describe(&m, names, hints, 3, &b));
  PX_ASSERT_STR_EQ(b.data,
                   "3 clusters of 1,000 customers (silhouette 0.42, exact)\n"
                   "cluster 0: 500 customers (50.0%): high revenue (z +1.8, mean 1,240), "
                   "recent buyers (z -1.1, mean 12 days), frequent orders (z +0.9, mean 8.2)\n"
                   "cluster 1: 300 customers (30.0%): close to average on every feature\n"
                   "cluster 2: 200 customers (20.0%): long since the last order (z +2.4, mean 210 days), "
                   "low revenue (z -0.7, mean 35.5)\n");
  px_buf_reset(&b);
  PX_ASSERT_OK(px_kmeans_describe_cluster(&m, 2, NULL, NULL, 0, &b));
  PX_ASSERT_STR_EQ(b.data, "high feature 2 (z +2.4, mean 210), low feature 1 (z -0.7, mean 35.5)");
  PX_ASSERT_STATUS(px_kmeans_describe_cluster(&m, 3, NULL, NULL, 0, &b), PX_INVALID);

  m.chosen = 1, m.kmax_tried = 8, m.silhouette_n = 200, m.n = 1234567;
  px_buf_reset(&b);
  PX_ASSERT_OK(px_kmeans_describe(&m, names, hints, 3, &b));
  PX_ASSERT_STR_CONTAINS(b.data, "3 clusters of 1,234,567 customers, chosen by silhouette (0.42; k = 2..8 tried, on a sample of 200)\n");

  /* JSON: parses, and carries what the text says. */
  px_buf_reset(&b);
  PX_ASSERT_OK(px_kmeans_json(&m, names, hints, 3, &b));
  cJSON *j = cJSON_Parse(b.data);
  if (!j) fail_msg("not JSON: %s", b.data);
  PX_ASSERT_INT_EQ(cJSON_GetObjectItem(j, "k")->valueint, 3);
  PX_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "chosen")));
  cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "features"), 0);
  PX_ASSERT_STR_EQ(cJSON_GetObjectItem(f0, "name")->valuestring, "revenue");
  PX_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(f0, "log1p")));
  cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "clusters"), 0);
  PX_ASSERT_INT_EQ(cJSON_GetObjectItem(c0, "size")->valueint, 500);
  close_to(cJSON_GetArrayItem(cJSON_GetObjectItem(c0, "center_z"), 1)->valuedouble, -1.1, 1e-12, "json z");
  PX_ASSERT_STR_CONTAINS(cJSON_GetObjectItem(c0, "description")->valuestring, "recent buyers (z -1.1, mean 12 days)");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tried")), 7);
  cJSON_Delete(j);
  px_buf_free(&b);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blobs_chosen_k),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_standardize),
      cmocka_unit_test(test_empty_cluster),
      cmocka_unit_test(test_silhouette_by_hand),
      cmocka_unit_test(test_degenerate),
      cmocka_unit_test(test_describe),
  };
  return px_test_main(argc, argv, __FILE__, tests, sizeof tests / sizeof tests[0]);
}
