/* match/compare: string comparisons against published values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "match/block.h"
#include "match/cluster.h"
#include "match/compare.h"
#include "match/em.h"
#include "match/levels.h"
#include "px_test.h"

static void close_to(double got, double want, const char *what) {
  if (fabs(got - want) > 0.00005) fail_msg("%s: %.6f, want %.4f", what, got, want);
}

#define J(a, b) px_match_jaro(a, strlen(a), b, strlen(b))
#define JW(a, b) px_match_jaro_winkler(a, strlen(a), b, strlen(b))
#define L(a, b, max) px_match_levenshtein(a, strlen(a), b, strlen(b), max)

static void test_jaro_winkler(void **state) {
  (void)state;
  /* Winkler's examples (as in his 1990 paper and most references). */
  close_to(J("MARTHA", "MARHTA"), 0.9444, "jaro MARTHA");
  close_to(JW("MARTHA", "MARHTA"), 0.9611, "jw MARTHA");
  close_to(J("DWAYNE", "DUANE"), 0.8222, "jaro DWAYNE");
  close_to(JW("DWAYNE", "DUANE"), 0.8400, "jw DWAYNE");
  close_to(J("DIXON", "DICKSONX"), 0.7667, "jaro DIXON");
  close_to(JW("DIXON", "DICKSONX"), 0.8133, "jw DIXON");
  close_to(J("abc", "abc"), 1.0, "equal");
  close_to(J("", ""), 1.0, "both empty");
  close_to(J("abc", ""), 0.0, "one empty");
  close_to(J("abc", "xyz"), 0.0, "nothing in common");
  close_to(JW("abc", "xyz"), 0.0, "no prefix boost below 0.7");
  close_to(J("MARTHA", "MARHTA"), J("MARHTA", "MARTHA"), "symmetric");
  /* Long strings use the heap, with the same result. */
  char *a = malloc(600), *b = malloc(600);
  for (int i = 0; i < 600; i++) a[i] = (char)('a' + i % 26), b[i] = (char)('a' + (i + (i % 50 == 0)) % 26);
  double d = px_match_jaro(a, 600, b, 600);
  PX_ASSERT_TRUE(d > 0.9 && d < 1.0);
  free(a);
  free(b);
}

static void test_levenshtein(void **state) {
  (void)state;
  PX_ASSERT_UINT_EQ(L("kitten", "sitting", 10), 3);
  PX_ASSERT_UINT_EQ(L("kitten", "sitting", 2), 3); /* past max: max + 1 */
  PX_ASSERT_UINT_EQ(L("flaw", "lawn", 5), 2);
  PX_ASSERT_UINT_EQ(L("", "abc", 5), 3);
  PX_ASSERT_UINT_EQ(L("abc", "", 1), 2);
  PX_ASSERT_UINT_EQ(L("same", "same", 0), 0);
  PX_ASSERT_UINT_EQ(L("waller", "waler", 1), 1);
  PX_ASSERT_UINT_EQ(L("19081209", "19081290", 2), 2);
  PX_ASSERT_UINT_EQ(L("a", "b", 0), 1);
}

#define LV(f, a, b) px_cmp_level(f, a, strlen(a), b, strlen(b))

static void test_levels(void **state) {
  (void)state;
  char buf[64];
  px_cmp_field jw = {PX_CMP_JARO_WINKLER, {0.92, 0.88}, 2};
  PX_ASSERT_INT_EQ(px_cmp_levels(&jw), 5);
  PX_ASSERT_INT_EQ(LV(&jw, "", "martha"), 0);
  PX_ASSERT_INT_EQ(LV(&jw, "martha", "martha"), 1);
  PX_ASSERT_INT_EQ(LV(&jw, "martha", "marhta"), 2); /* 0.961 */
  PX_ASSERT_INT_EQ(LV(&jw, "dwayne", "duane"), 4);  /* 0.84: below both */
  PX_ASSERT_INT_EQ(LV(&jw, "jon", "john"), 2);      /* 0.933 */
  PX_ASSERT_STR_EQ(px_cmp_level_name(&jw, 2, buf, sizeof buf), "jaro_winkler>=0.92");
  PX_ASSERT_STR_EQ(px_cmp_level_name(&jw, 0, buf, sizeof buf), "null");
  PX_ASSERT_STR_EQ(px_cmp_level_name(&jw, 4, buf, sizeof buf), "different");

  px_cmp_field lev = {PX_CMP_LEVENSHTEIN, {1, 2}, 2};
  PX_ASSERT_INT_EQ(LV(&lev, "waller", "waler"), 2);
  PX_ASSERT_INT_EQ(LV(&lev, "4011", "4110"), 3); /* two edits */
  PX_ASSERT_INT_EQ(LV(&lev, "4011", "2999"), 4);
  PX_ASSERT_STR_EQ(px_cmp_level_name(&lev, 3, buf, sizeof buf), "levenshtein<=2");

  px_cmp_field date = {PX_CMP_DATE, {1, 31, 366}, 3};
  PX_ASSERT_INT_EQ(LV(&date, "1908-12-09", "1908-12-10"), 2);
  PX_ASSERT_INT_EQ(LV(&date, "2024-02-28", "2024-03-01"), 3); /* two days: 2024 is a leap year */
  PX_ASSERT_INT_EQ(LV(&date, "2023-02-28", "2023-03-01"), 2); /* one day: 2023 is not */
  PX_ASSERT_INT_EQ(LV(&date, "1999-02-19", "1998-05-19"), 4);
  PX_ASSERT_INT_EQ(LV(&date, "1999-02-19", "1979-02-19"), 5);
  PX_ASSERT_INT_EQ(LV(&date, "1999-02-19", "unknown"), 5); /* not a date: only exactness counts */

  px_cmp_field num = {PX_CMP_NUMBER, {0.01, 0.1}, 2};
  PX_ASSERT_INT_EQ(LV(&num, "100", "100.5"), 2);
  PX_ASSERT_INT_EQ(LV(&num, "100", "95"), 3);
  PX_ASSERT_INT_EQ(LV(&num, "100", "50"), 4);
  PX_ASSERT_INT_EQ(LV(&num, "0", "0.0"), 2);

  px_cmp_field exact = {PX_CMP_EXACT, {0}, 0};
  PX_ASSERT_INT_EQ(px_cmp_levels(&exact), 3);
  PX_ASSERT_INT_EQ(LV(&exact, "qld", "qld"), 1);
  PX_ASSERT_INT_EQ(LV(&exact, "qld", "nsw"), 2);
}

/* A small deterministic generator for the synthetic pairs. */
static uint64_t rng = 88172645463325252ull;
static double uniform(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static int draw(const double *p, int k) { /* a level 1..k from probabilities p[1..k] */
  double x = uniform(), acc = 0;
  for (int l = 1; l < k; l++)
    if (x < (acc += p[l])) return l;
  return k;
}

/* EM recovers known m, u and lambda from unlabelled synthetic pairs:
 * three fields, three informative levels each, 10% matches, 5% missing. */
static void test_em_recovers_known_parameters(void **state) {
  (void)state;
  enum { N = 200000, F = 3 };
  const double m[F][4] = {{0, 0.90, 0.07, 0.03}, {0, 0.80, 0.15, 0.05}, {0, 0.85, 0.05, 0.10}};
  const double u[F][4] = {{0, 0.02, 0.08, 0.90}, {0, 0.05, 0.15, 0.80}, {0, 0.01, 0.04, 0.95}};
  const double lambda = 0.10;
  unsigned char *v = malloc((size_t)N * F);
  for (size_t i = 0; i < N; i++) {
    int match = uniform() < lambda;
    for (int f = 0; f < F; f++)
      v[i * F + f] = uniform() < 0.05 ? 0 : (unsigned char)draw(match ? m[f] : u[f], 3);
  }
  int nlevels[F] = {4, 4, 4};
  px_em_model mdl;
  px_em_init(&mdl, F, nlevels, 0.01);
  double ll;
  int iters = px_em_fit(&mdl, v, N, 500, 1e-6, &ll);
  PX_ASSERT_INT_CMP(iters, <, 500);
  if (fabs(mdl.lambda - lambda) > 0.005) fail_msg("lambda %.4f, want %.2f", mdl.lambda, lambda);
  for (int f = 0; f < F; f++)
    for (int l = 1; l <= 3; l++) {
      if (fabs(mdl.m[f][l] - m[f][l]) > 0.02) fail_msg("m[%d][%d] = %.4f, want %.2f", f, l, mdl.m[f][l], m[f][l]);
      if (fabs(mdl.u[f][l] - u[f][l]) > 0.02) fail_msg("u[%d][%d] = %.4f, want %.2f", f, l, mdl.u[f][l], u[f][l]);
    }
  /* Weights: all exact is strong evidence for, all different against;
   * a missing field adds nothing; parts add up to the weight. */
  unsigned char same[F] = {1, 1, 1}, differ[F] = {3, 3, 3}, partial[F] = {1, 0, 3};
  double parts[F];
  double w = px_em_weight(&mdl, same, parts);
  PX_ASSERT_TRUE(w > 10);
  close_to(parts[0] + parts[1] + parts[2], w, "parts add up");
  PX_ASSERT_TRUE(px_em_weight(&mdl, differ, NULL) < -5);
  px_em_weight(&mdl, partial, parts);
  close_to(parts[1], 0.0, "a missing field");
  PX_ASSERT_TRUE(px_em_probability(&mdl, same) > 0.99);
  PX_ASSERT_TRUE(px_em_probability(&mdl, differ) < 0.001);
  free(v);
}

/* A group of three fields (of five) that, for one match in five, is replaced as a
 * whole (drawn as for a non-match): EM recovers that chance along with m,
 * u and lambda; the group's part of the weight is log2((1-c) 2^S + c), so
 * an all-different group costs about log2(c) once, not three times over. */
static void test_em_group_changed(void **state) {
  (void)state;
  enum { N = 200000, F = 5 };
  const double m[F][4] = {{0, 0.90, 0.07, 0.03}, {0, 0.80, 0.15, 0.05}, {0, 0.85, 0.10, 0.05}, {0, 0.90, 0.05, 0.05},
                          {0, 0.80, 0.15, 0.05}};
  const double u[F][4] = {{0, 0.02, 0.08, 0.90}, {0, 0.05, 0.15, 0.80}, {0, 0.01, 0.04, 0.95}, {0, 0.05, 0.15, 0.80},
                          {0, 0.02, 0.03, 0.95}};
  const double lambda = 0.10, changed = 0.20;
  unsigned char *v = malloc((size_t)N * F);
  for (size_t i = 0; i < N; i++) {
    int match = uniform() < lambda, moved = match && uniform() < changed;
    for (int f = 0; f < F; f++)
      v[i * F + f] = uniform() < 0.05 ? 0 : (unsigned char)draw(match && !(moved && f > 1) ? m[f] : u[f], 3);
  }
  int nlevels[F] = {4, 4, 4, 4, 4}, members[3] = {2, 3, 4};
  px_em_model mdl;
  px_em_init(&mdl, F, nlevels, 0.01);
  PX_ASSERT_INT_EQ(px_em_group(&mdl, members, 3, 0.5), 0);
  PX_ASSERT_INT_EQ(px_em_group(&mdl, members, 1, 0.5), -1); /* a field in one group at most */
  PX_ASSERT_INT_EQ(px_em_fit(&mdl, v, N, 500, 1e-6, NULL) < 500, 1);
  if (fabs(mdl.lambda - lambda) > 0.005) fail_msg("lambda %.4f, want %.2f", mdl.lambda, lambda);
  if (fabs(mdl.changed[0] - changed) > 0.02) fail_msg("changed %.4f, want %.2f", mdl.changed[0], changed);
  for (int f = 0; f < F; f++)
    for (int l = 1; l <= 3; l++) {
      if (fabs(mdl.m[f][l] - m[f][l]) > 0.02) fail_msg("m[%d][%d] = %.4f, want %.2f", f, l, mdl.m[f][l], m[f][l]);
      if (fabs(mdl.u[f][l] - u[f][l]) > 0.02) fail_msg("u[%d][%d] = %.4f, want %.2f", f, l, mdl.u[f][l], u[f][l]);
    }
  /* Parts (fields, then the group) add up; a changed group is one part. */
  unsigned char differ[F] = {1, 1, 3, 3, 3}, same[F] = {1, 1, 1, 1, 1}, none[F] = {1, 1, 0, 0, 0};
  double parts[F + 1];
  double w = px_em_weight(&mdl, differ, parts);
  close_to(parts[0] + parts[1] + parts[2] + parts[3] + parts[4] + parts[5], w, "parts add up (changed)");
  close_to(parts[2] + parts[3] + parts[4], 0, "members of a changed group");
  double s = 0;
  for (int f = 2; f < F; f++) s += log2(mdl.m[f][3] / mdl.u[f][3]);
  close_to(parts[5], log2((1 - mdl.changed[0]) * exp2(s) + mdl.changed[0]), "the group's part");
  PX_ASSERT_TRUE(parts[5] > log2(mdl.changed[0]) && parts[5] < log2(mdl.changed[0]) + 0.1);
  w = px_em_weight(&mdl, same, parts);
  close_to(parts[0] + parts[1] + parts[2] + parts[3] + parts[4] + parts[5], w, "parts add up (kept)");
  close_to(parts[2], log2(mdl.m[2][1] / mdl.u[2][1]), "a kept group's member");
  PX_ASSERT_TRUE(parts[5] < 0 && parts[5] > log2(1 - mdl.changed[0]) - 1e-9);
  w = px_em_weight(&mdl, none, parts);
  close_to(parts[5], 0, "a group with no values");
  close_to(w, parts[0] + parts[1], "only the fields with a value");
  /* Probability agrees with the weight and the prior. */
  double prior = log2(mdl.lambda / (1 - mdl.lambda));
  close_to(px_em_probability(&mdl, differ), 1 / (1 + exp2(-(px_em_weight(&mdl, differ, NULL) + prior))), "probability");
  /* The floor: EM on data without moves keeps the chance at PX_EM_CHANGED_MIN. */
  for (size_t i = 0; i < N; i++) {
    int match = uniform() < lambda;
    for (int f = 0; f < F; f++) v[i * F + f] = uniform() < 0.05 ? 0 : (unsigned char)draw(match ? m[f] : u[f], 3);
  }
  px_em_init(&mdl, F, nlevels, 0.01);
  px_em_group(&mdl, members, 3, 0.1);
  px_em_fit(&mdl, v, N, 500, 1e-6, NULL);
  close_to(mdl.changed[0], PX_EM_CHANGED_MIN, "changed at its floor");
  free(v);
}

static void test_blocking(void **state) {
  (void)state;
  const char *recs[] = {"smith", "4000", "ann",  "smith", "4001", "anne", "smyth", "4000", "ann",
                        "jones", "5000", "bob",  "jones", "5000", "rob",  "",      "4000", "sue"};
  px_block_rule rules[] = {{{0}, {0}, 1}, {{1}, {0}, 1}, {{2}, {2}, 1}}; /* surname; postcode; first 2 of first name */
  px_block_pairs p;
  PX_ASSERT_OK(px_block(recs, 6, 3, rules, 3, 100, &p));
  const uint32_t want[][2] = {{0, 1}, {0, 2}, {0, 5}, {1, 2}, {2, 5}, {3, 4}}; /* sorted, each once */
  PX_ASSERT_UINT_EQ(p.n, 6);
  for (size_t i = 0; i < p.n; i++) {
    PX_ASSERT_UINT_EQ(p.a[i], want[i][0]);
    PX_ASSERT_UINT_EQ(p.b[i], want[i][1]);
  }
  PX_ASSERT_UINT_EQ(p.skipped_blocks, 0);
  px_block_free(&p);
  /* Blocks over the limit are left out, and counted. */
  PX_ASSERT_OK(px_block(recs, 6, 3, rules, 3, 2, &p));
  PX_ASSERT_UINT_EQ(p.n, 2);
  PX_ASSERT_UINT_EQ(p.a[0], 0);
  PX_ASSERT_UINT_EQ(p.b[0], 1);
  PX_ASSERT_UINT_EQ(p.a[1], 3);
  PX_ASSERT_UINT_EQ(p.b[1], 4);
  PX_ASSERT_UINT_EQ(p.skipped_blocks, 2);
  px_block_free(&p);
  /* Two parts in one rule: surname and postcode together. */
  px_block_rule both = {{0, 1}, {0, 0}, 2};
  PX_ASSERT_OK(px_block(recs, 6, 3, &both, 1, 100, &p));
  PX_ASSERT_UINT_EQ(p.n, 1); /* jones 5000 */
  px_block_free(&p);
}

static void test_clusters(void **state) {
  (void)state;
  /* A chain 0-1-2-3-4 whose weakest link is 2-3, and a separate pair 5-6. */
  const uint32_t a[] = {0, 1, 2, 3, 5}, b[] = {1, 2, 3, 4, 6};
  const double w[] = {10, 9, 1, 8, 5};
  px_clusters c;
  PX_ASSERT_OK(px_cluster(8, a, b, w, 5, 0, &c)); /* no limit: one chain */
  const uint32_t all[] = {0, 0, 0, 0, 0, 5, 5, 7};
  for (int i = 0; i < 8; i++) PX_ASSERT_UINT_EQ(c.id[i], all[i]);
  PX_ASSERT_UINT_EQ(c.clusters, 3);
  PX_ASSERT_UINT_EQ(c.refused, 0);
  px_clusters_free(&c);
  /* At most 3 a cluster: split where the link is weakest. */
  PX_ASSERT_OK(px_cluster(8, a, b, w, 5, 3, &c));
  const uint32_t split[] = {0, 0, 0, 3, 3, 5, 5, 7};
  for (int i = 0; i < 8; i++) PX_ASSERT_UINT_EQ(c.id[i], split[i]);
  PX_ASSERT_UINT_EQ(c.clusters, 4);
  PX_ASSERT_UINT_EQ(c.refused, 1);
  px_clusters_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_jaro_winkler), cmocka_unit_test(test_levenshtein),
                                     cmocka_unit_test(test_levels), cmocka_unit_test(test_em_recovers_known_parameters),
                                     cmocka_unit_test(test_em_group_changed), cmocka_unit_test(test_blocking),
                                     cmocka_unit_test(test_clusters)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
