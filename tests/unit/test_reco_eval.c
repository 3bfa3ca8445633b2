/* reco: reading interactions files, the split specs and splits, the
 * ranking metrics and the offline evaluation, on cases worked out by hand
 * in the comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"
#include "reco/basket.h"
#include "reco/data.h"
#include "reco/eval.h"
#include "reco/input.h"
#include "reco/metrics.h"
#include "reco/split.h"

#define DAY 86400000LL

static void close_to(double got, double want, double tol, const char *what) {
  if (!(fabs(got - want) <= tol)) fail_msg("%s: %.9g, want %.9g (within %g)", what, got, want, tol);
}

/* ---- metrics ---- */

static void test_metrics_by_hand(void **state) {
  (void)state;
  /* Items are numbers; relevant {2, 5, 9}; ranked 1 2 3 4 5: hits at ranks
   * 2 and 5. */
  const uint32_t relevant[] = {2, 5, 9}, ranked[] = {1, 2, 3, 4, 5};
  px_reco_metrics m;
  px_reco_metrics_at(ranked, 5, relevant, 3, 5, &m);
  PX_ASSERT_INT_EQ(m.hits, 2);
  close_to(m.precision, 2.0 / 5, 1e-12, "P@5");
  close_to(m.recall, 2.0 / 3, 1e-12, "R@5");
  /* AP@5 = (1/2 + 2/5) / min(5, 3). */
  close_to(m.ap, (0.5 + 0.4) / 3, 1e-12, "AP@5");
  /* DCG = 1/log2(3) + 1/log2(6); IDCG = 1 + 1/log2(3) + 1/log2(4). */
  close_to(m.ndcg, (1 / log2(3) + 1 / log2(6)) / (1 + 1 / log2(3) + 0.5), 1e-12, "nDCG@5");
  close_to(m.ndcg, 0.477623, 1e-6, "nDCG@5 (number)");

  /* k = 2: one hit, at rank 2; m = min(2, 3) = 2. */
  px_reco_metrics_at(ranked, 5, relevant, 3, 2, &m);
  close_to(m.precision, 0.5, 1e-12, "P@2");
  close_to(m.recall, 1.0 / 3, 1e-12, "R@2");
  close_to(m.ap, 0.5 / 2, 1e-12, "AP@2");
  close_to(m.ndcg, (1 / log2(3)) / (1 + 1 / log2(3)), 1e-12, "nDCG@2");

  /* Fewer ranked than k: precision still over k. One relevant item found
   * first: recall, AP and nDCG are 1. */
  const uint32_t one[] = {9};
  px_reco_metrics_at(one, 1, relevant + 2, 1, 3, &m);
  close_to(m.precision, 1.0 / 3, 1e-12, "P@3 of one");
  close_to(m.recall, 1, 0, "R");
  close_to(m.ap, 1, 0, "AP");
  close_to(m.ndcg, 1, 1e-12, "nDCG");
  /* Nothing relevant, or k 0: all 0. */
  px_reco_metrics_at(ranked, 5, relevant, 0, 5, &m);
  close_to(m.precision + m.recall + m.ap + m.ndcg, 0, 0, "no relevant");
  px_reco_metrics_at(ranked, 5, relevant, 3, 0, &m);
  close_to(m.precision + m.recall + m.ap + m.ndcg, 0, 0, "k 0");
  /* Every rank a hit: all 1 (relevant larger than k: recall is k/|rel|). */
  const uint32_t all[] = {2, 5, 9};
  px_reco_metrics_at(all, 3, relevant, 3, 3, &m);
  close_to(m.precision + m.ap + m.ndcg + m.recall, 4, 1e-12, "perfect");
  px_reco_metrics_at(all, 2, relevant, 3, 2, &m);
  close_to(m.ap, 1, 1e-12, "AP over min(k, |rel|)");
  close_to(m.ndcg, 1, 1e-12, "nDCG over min(k, |rel|)");
  close_to(m.recall, 2.0 / 3, 1e-12, "R@2 of 3");
}

/* ---- split specs ---- */

static void test_split_parse(void **state) {
  (void)state;
  px_reco_split s;
  px_error err;
  char text[64];
  PX_ASSERT_OK(px_reco_split_parse("time:2011-10-01", &s, &err));
  PX_ASSERT_INT_EQ(s.kind, PX_RECO_SPLIT_TIME);
  PX_ASSERT_INT_EQ(s.time_ms, 1317427200000LL);
  px_reco_split_format(&s, text);
  PX_ASSERT_STR_EQ(text, "time:2011-10-01");
  PX_ASSERT_OK(px_reco_split_parse("time:20111001", &s, &err));
  PX_ASSERT_INT_EQ(s.time_ms, 1317427200000LL);
  PX_ASSERT_OK(px_reco_split_parse("time:2011-10-01T12:00:00Z", &s, &err));
  px_reco_split_format(&s, text);
  PX_ASSERT_STR_EQ(text, "time:2011-10-01T12:00:00.000Z");
  PX_ASSERT_OK(px_reco_split_parse("user:0.25", &s, &err));
  PX_ASSERT_INT_EQ(s.kind, PX_RECO_SPLIT_USER);
  close_to(s.fraction, 0.25, 0, "user fraction");
  px_reco_split_format(&s, text);
  PX_ASSERT_STR_EQ(text, "user:0.25");
  PX_ASSERT_OK(px_reco_split_parse("random:.1", &s, &err));
  PX_ASSERT_INT_EQ(s.kind, PX_RECO_SPLIT_RANDOM);
  const char *bad[] = {"",        "time:",      "time:soon",  "time:2011-13-01", "user:0",  "user:1",
                       "user:1.5", "user:-0.2", "user:0.2x",  "random:",         "random:nan", "user:inf",
                       "users:0.2", "TIME:2011-10-01", "leave-one-out"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    px_error_clear(&err);
    if (px_reco_split_parse(bad[i], &s, &err) != PX_INVALID) fail_msg("\"%s\" accepted", bad[i]);
    assert_true(err.reason[0] != 0);
  }
  px_error_clear(&err);
  px_reco_split_parse("user:2", &s, &err);
  PX_ASSERT_STR_CONTAINS(err.reason, "between 0 and 1");
}

/* ---- splits ---- */

/* n interactions of 300 users over 200 items, some repeated, days 0..99. */
static px_reco_data *random_data(uint64_t seed, size_t n) {
  px_reco_data *d = px_reco_data_new();
  uint64_t s = seed;
  char u[32], it[32];
  for (size_t k = 0; k < n; k++) {
    uint64_t user = px_test_next(&s) % 300, i = (user + px_test_next(&s) % 40) % 200;
    snprintf(u, sizeof u, "u%llu", (unsigned long long)user);
    snprintf(it, sizeof it, "i%llu", (unsigned long long)i);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), 1, (int64_t)(px_test_next(&s) % 100) * DAY));
  }
  return d;
}

static void test_splits_deterministic(void **state) {
  (void)state;
  px_reco_data *d = random_data(3, 6000);
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  uint32_t nu = px_reco_ids_count(px_reco_data_users(d)), ni = px_reco_ids_count(px_reco_data_items(d));
  uint8_t *a = malloc(n), *b = malloc(n);
  px_reco_split s;
  px_error err;
  const char *specs[] = {"user:0.25", "random:0.3"};
  for (int k = 0; k < 2; k++) {
    PX_ASSERT_OK(px_reco_split_parse(specs[k], &s, &err));
    PX_ASSERT_OK(px_reco_split_apply(x, n, nu, ni, &s, 7, a));
    PX_ASSERT_OK(px_reco_split_apply(x, n, nu, ni, &s, 7, b));
    assert_memory_equal(a, b, n); /* same seed, same split */
    PX_ASSERT_OK(px_reco_split_apply(x, n, nu, ni, &s, 8, b));
    assert_true(memcmp(a, b, n) != 0); /* another seed, another split */
    /* Pairs split whole: every interaction of a (user, item) pair is on one side. */
    px_reco_baskets *all, *test;
    PX_ASSERT_OK(px_reco_baskets_build(x, n, NULL, 0, nu, ni, NULL, &all));
    PX_ASSERT_OK(px_reco_baskets_build(x, n, a, 1, nu, ni, NULL, &test));
    for (size_t i = 0; i < n; i++)
      PX_ASSERT_INT_EQ(a[i], px_reco_baskets_find(test, x[i].user, x[i].item) != SIZE_MAX);
    size_t pairs = all->start[nu], held = test->start[nu];
    if (k == 0) {
      /* Per user: round(0.25 n_u), halves up, at most n_u - 1. */
      for (uint32_t u = 0; u < nu; u++) {
        size_t nu_ = all->start[u + 1] - all->start[u], h = (size_t)floor(0.25 * (double)nu_ + 0.5);
        if (h + 1 > nu_) h = nu_ ? nu_ - 1 : 0;
        PX_ASSERT_INT_EQ(test->start[u + 1] - test->start[u], h);
      }
    } else {
      PX_ASSERT_INT_EQ(held, (size_t)floor(0.3 * (double)pairs + 0.5));
    }
    px_reco_baskets_free(all);
    px_reco_baskets_free(test);
  }
  /* Time: before the date trains, from it on tests. */
  PX_ASSERT_OK(px_reco_split_parse("time:1970-02-20", &s, &err)); /* day 50 */
  PX_ASSERT_OK(px_reco_split_apply(x, n, nu, ni, &s, 0, a));
  for (size_t i = 0; i < n; i++) PX_ASSERT_INT_EQ(a[i], x[i].time_ms >= 50 * DAY);
  /* Interactions without times cannot be split by time. */
  px_reco_data *nt = px_reco_data_new();
  PX_ASSERT_OK(px_reco_data_add(nt, "u", 1, "i", 1, 1, PX_RECO_NO_TIME));
  const px_reco_interaction *y = px_reco_data_interactions(nt, &n);
  PX_ASSERT_INT_EQ(px_reco_split_apply(y, n, 1, 1, &s, 0, a), PX_INVALID);
  px_reco_data_free(nt);
  free(a);
  free(b);
  px_reco_data_free(d);
}

/* ---- the evaluation ---- */

/* Before day 10 (training): u1 {A, B}, u2 {A, C}, u3 {B, C}, u4 {A},
 * u6 {C}. From day 10 (test): u1 C (relevant {C}), u2 A (nothing new),
 * u4 B and D (relevant {B, D}; D unknown to training), u5 A (no
 * training: cold). Evaluated: u1 and u4, at k 2.
 *
 * Training: n_A 3, n_B 2, n_C 3; co 1 for each pair. lambda 0, q 1:
 * sim(A, B) = 1/sqrt(6), sim(A, C) = 1/3, sim(B, C) = 1/sqrt(6).
 * u1 {A, B}: model [C] (A, B owned; nothing else), popularity [C].
 *   P 1/2, R 1, AP 1, nDCG 1 for both.
 * u4 {A}: model [B (0.408), C (0.333)]: hit at rank 1: P 1/2, R 1/2,
 *   AP 1/2 (over min(2, 2)), nDCG 1 / (1 + 1/log2 3).
 *   popularity A 3, C 3, B 2 -> [C, B]: hit at rank 2: P 1/2, R 1/2,
 *   AP (1/2)/2, nDCG (1/log2 3) / (1 + 1/log2 3).
 * Coverage: {B, C} of the 3 training items for both. */
static void test_evaluate_by_hand(void **state) {
  (void)state;
  const char *rows[] = {"u1 A 1", "u1 B 1", "u2 A 2", "u2 C 2", "u3 B 3", "u3 C 3", "u4 A 4", "u6 C 5",
                        "u1 C 11", "u2 A 12", "u4 B 12", "u4 D 12", "u5 A 13"};
  px_reco_data *d = px_reco_data_new();
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    char u[8], it[8];
    long long day;
    assert_int_equal(sscanf(rows[i], "%7s %7s %lld", u, it, &day), 3);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), 1, day * DAY));
  }
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  px_reco_eval_opts o = {.k = 2, .model = px_reco_model_defaults()};
  o.model.shrink = 0;
  o.model.locality = 1;
  px_error err;
  PX_ASSERT_OK(px_reco_split_parse("time:1970-01-11", &o.split, &err));
  px_reco_eval e;
  PX_ASSERT_OK(px_reco_evaluate(x, n, px_reco_ids_count(px_reco_data_users(d)),
                                px_reco_ids_count(px_reco_data_items(d)), &o, &e));
  PX_ASSERT_INT_EQ(e.train, 8);
  PX_ASSERT_INT_EQ(e.test, 5);
  PX_ASSERT_INT_EQ(e.train_users, 5);
  PX_ASSERT_INT_EQ(e.train_items, 3);
  PX_ASSERT_INT_EQ(e.test_users, 4);
  PX_ASSERT_INT_EQ(e.cold_users, 1);
  PX_ASSERT_INT_EQ(e.nothing_new_users, 1);
  PX_ASSERT_INT_EQ(e.users, 2);
  PX_ASSERT_INT_EQ(e.relevant, 3);
  PX_ASSERT_INT_EQ(e.relevant_unknown, 1);
  double g = 1 / log2(3);
  close_to(e.model.precision, 0.5, 1e-12, "model P@2");
  close_to(e.model.recall, 0.75, 1e-12, "model R@2");
  close_to(e.model.map, 0.75, 1e-12, "model MAP@2");
  close_to(e.model.ndcg, (1 + 1 / (1 + g)) / 2, 1e-9, "model nDCG@2");
  close_to(e.model.coverage, 2.0 / 3, 1e-12, "model coverage");
  close_to(e.popularity.precision, 0.5, 1e-12, "popularity P@2");
  close_to(e.popularity.recall, 0.75, 1e-12, "popularity R@2");
  close_to(e.popularity.map, (1 + 0.25) / 2, 1e-12, "popularity MAP@2");
  close_to(e.popularity.ndcg, (1 + g / (1 + g)) / 2, 1e-9, "popularity nDCG@2");
  close_to(e.popularity.coverage, 2.0 / 3, 1e-12, "popularity coverage");
  PX_ASSERT_INT_EQ(e.model.items_recommended, 2);

  /* No user with new items in both parts: PX_NOT_FOUND. */
  PX_ASSERT_OK(px_reco_split_parse("time:1970-03-01", &o.split, &err));
  PX_ASSERT_INT_EQ(px_reco_evaluate(x, n, px_reco_ids_count(px_reco_data_users(d)),
                                    px_reco_ids_count(px_reco_data_items(d)), &o, &e),
                   PX_NOT_FOUND);
  o.k = 0;
  PX_ASSERT_INT_EQ(px_reco_evaluate(x, n, 6, 4, &o, &e), PX_INVALID);
  px_reco_data_free(d);
}

/* A user split on random data: deterministic, and the model finds more
 * than popularity where users lean to items near their own. */
static void test_evaluate_user_split(void **state) {
  (void)state;
  px_reco_data *d = random_data(11, 20000);
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  uint32_t nu = px_reco_ids_count(px_reco_data_users(d)), ni = px_reco_ids_count(px_reco_data_items(d));
  px_reco_eval_opts o = {.k = 10, .seed = 5, .model = px_reco_model_defaults()};
  px_error err;
  PX_ASSERT_OK(px_reco_split_parse("user:0.25", &o.split, &err));
  px_reco_eval a, b;
  PX_ASSERT_OK(px_reco_evaluate(x, n, nu, ni, &o, &a));
  PX_ASSERT_OK(px_reco_evaluate(x, n, nu, ni, &o, &b));
  close_to(a.model.ndcg, b.model.ndcg, 0, "the same run twice");
  PX_ASSERT_INT_EQ(a.relevant, b.relevant);
  PX_ASSERT_INT_EQ(a.users, nu);
  PX_ASSERT_INT_EQ(a.cold_users, 0);
  assert_true(a.model.precision > a.popularity.precision);
  assert_true(a.model.precision > 0 && a.model.precision <= 1 && a.model.coverage <= 1);
  px_reco_data_free(d);
}

/* ---- reading ---- */

static const char CSV[] =
    "InvoiceNo,StockCode,Quantity,InvoiceDate,CustomerID\n"
    "1,A,2,2011-01-01 10:00:00,17850.0\n"
    "C2,A,-1,2011-01-02 10:00:00,17850.0\n" /* cancelled: --skip InvoiceNo=C */
    "3,B,1,2011-01-03,\n"                   /* no user */
    "4,,1,2011-01-03,123\n"                 /* no item */
    "5,C,1,yesterday,123\n"                 /* line 6: not a time */
    "6,D,0,20110105,123\n"
    "\"7\",E,3,20110105,\"124\"\n"
    "8,F\n"; /* line 9: too few fields */

typedef struct bad_log {
  long lines[8];
  int n;
} bad_log;

static void on_bad(void *arg, long line, const char *reason) {
  bad_log *b = arg;
  assert_true(reason && *reason);
  if (b->n < 8) b->lines[b->n++] = line;
}

static void test_read_csv(void **state) {
  (void)state;
  px_reco_input in = {.user = "CustomerID", .item = "StockCode", .time = "InvoiceDate", .n_skip = 1};
  in.skip[0] = (px_reco_skip){"InvoiceNo", "C"};
  px_reco_data *d = px_reco_data_new();
  px_reco_read_stats st;
  bad_log bad = {{0}, 0};
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_reco_read(d, &in, CSV, strlen(CSV), on_bad, &bad, &st, &err));
  PX_ASSERT_INT_EQ(st.records, 8);
  PX_ASSERT_INT_EQ(st.added, 3);
  PX_ASSERT_INT_EQ(st.skipped, 1);
  PX_ASSERT_INT_EQ(st.no_id, 2);
  PX_ASSERT_INT_EQ(st.bad, 2);
  PX_ASSERT_INT_EQ(bad.n, 2);
  PX_ASSERT_INT_EQ(bad.lines[0], 6);
  PX_ASSERT_INT_EQ(bad.lines[1], 9);
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  PX_ASSERT_STR_EQ(px_reco_ids_name(px_reco_data_users(d), x[0].user), "17850.0");
  PX_ASSERT_STR_EQ(px_reco_ids_name(px_reco_data_items(d), x[2].item), "E");
  PX_ASSERT_STR_EQ(px_reco_ids_name(px_reco_data_users(d), x[2].user), "124");
  PX_ASSERT_INT_EQ(x[0].time_ms, 1293876000000LL); /* 2011-01-01T10:00:00Z */
  PX_ASSERT_INT_EQ(x[1].time_ms, 1294185600000LL); /* 20110105 */
  close_to(x[0].weight, 1, 0, "weight without a weight column");
  px_reco_data_free(d);

  /* With Quantity as the weight, D's 0 is bad; E weighs 3. */
  in.weight = "Quantity";
  d = px_reco_data_new();
  PX_ASSERT_OK(px_reco_read(d, &in, CSV, strlen(CSV), NULL, NULL, &st, &err));
  PX_ASSERT_INT_EQ(st.added, 2);
  PX_ASSERT_INT_EQ(st.bad, 3);
  x = px_reco_data_interactions(d, &n);
  close_to(x[1].weight, 3, 0, "E's weight");
  px_reco_data_free(d);

  /* Columns by number, no header, no time. */
  px_reco_input num = {.user = "5", .item = "2", .no_header = 1};
  d = px_reco_data_new();
  PX_ASSERT_OK(px_reco_read(d, &num, CSV, strlen(CSV), NULL, NULL, &st, &err));
  PX_ASSERT_INT_EQ(st.records, 9); /* the header is a record: user CustomerID, item StockCode */
  PX_ASSERT_INT_EQ(st.added, 6);
  x = px_reco_data_interactions(d, &n);
  PX_ASSERT_INT_EQ(x[0].time_ms, PX_RECO_NO_TIME);
  px_reco_data_free(d);

  /* A column that is not there. */
  in.time = "When";
  d = px_reco_data_new();
  px_error_clear(&err);
  PX_ASSERT_INT_EQ(px_reco_read(d, &in, CSV, strlen(CSV), NULL, NULL, &st, &err), PX_NOT_FOUND);
  PX_ASSERT_STR_EQ(err.field, "time");
  PX_ASSERT_STR_EQ(err.reason, "When");
  in.time = NULL;
  in.skip[0].column = "Nope";
  PX_ASSERT_INT_EQ(px_reco_read(d, &in, CSV, strlen(CSV), NULL, NULL, &st, &err), PX_NOT_FOUND);
  PX_ASSERT_STR_EQ(err.field, "skip");
  /* An empty file has no header: every column is missing. */
  PX_ASSERT_INT_EQ(px_reco_read(d, &in, "", 0, NULL, NULL, &st, &err), PX_NOT_FOUND);
  px_reco_data_free(d);
}

static void test_parse_time(void **state) {
  (void)state;
  int64_t ms;
  PX_ASSERT_OK(px_reco_parse_time("2010-12-01 08:26:00", 19, &ms));
  PX_ASSERT_INT_EQ(ms, 1291191960000LL);
  PX_ASSERT_OK(px_reco_parse_time("2010-12-01", 10, &ms));
  PX_ASSERT_INT_EQ(ms, 1291161600000LL);
  PX_ASSERT_OK(px_reco_parse_time("20101201", 8, &ms));
  PX_ASSERT_INT_EQ(ms, 1291161600000LL);
  PX_ASSERT_OK(px_reco_parse_time("2010-12-01T09:26:00+01:00", 25, &ms));
  PX_ASSERT_INT_EQ(ms, 1291191960000LL);
  PX_ASSERT_INT_EQ(px_reco_parse_time("", 0, &ms), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_parse_time("2010-12-01\0", 11, &ms), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_parse_time("12/01/2010", 10, &ms), PX_INVALID);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_metrics_by_hand),
    cmocka_unit_test(test_split_parse),
    cmocka_unit_test(test_splits_deterministic),
    cmocka_unit_test(test_evaluate_by_hand),
    cmocka_unit_test(test_evaluate_user_split),
    cmocka_unit_test(test_read_csv),
    cmocka_unit_test(test_parse_time),
};

PX_TEST_MAIN(tests)
