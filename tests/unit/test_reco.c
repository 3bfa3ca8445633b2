/* reco: ids, baskets, the item-to-item model and its queries, on hand-made
 * baskets whose similarities are worked out in the comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"
#include "reco/basket.h"
#include "reco/data.h"
#include "reco/ids.h"
#include "reco/model.h"
#include "reco/recommend.h"

#define DAY 86400000LL

static void close_to(double got, double want, double tol, const char *what) {
  if (!(fabs(got - want) <= tol)) fail_msg("%s: %.9g, want %.9g (within %g)", what, got, want, tol);
}

/* Interactions written "user item [weight [day]]" one per string. */
static px_reco_data *data_of(const char *const *rows, size_t n) {
  px_reco_data *d = px_reco_data_new();
  assert_non_null(d);
  for (size_t i = 0; i < n; i++) {
    char u[64], it[64];
    double w = 1;
    long long day = -1;
    int got = sscanf(rows[i], "%63s %63s %lf %lld", u, it, &w, &day);
    assert_true(got >= 2);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), w, day >= 0 ? day * DAY : PX_RECO_NO_TIME));
  }
  return d;
}

typedef struct fixture {
  px_reco_data *d;
  px_reco_baskets *b;
  px_reco_model *m;
  px_reco_query *q;
} fixture;

static void train(fixture *f, const char *const *rows, size_t n, const px_reco_basket_opts *bo,
                  const px_reco_model_opts *mo) {
  f->d = data_of(rows, n);
  size_t nx;
  const px_reco_interaction *x = px_reco_data_interactions(f->d, &nx);
  PX_ASSERT_OK(px_reco_baskets_build(x, nx, NULL, 0, px_reco_ids_count(px_reco_data_users(f->d)),
                                     px_reco_ids_count(px_reco_data_items(f->d)), bo, &f->b));
  PX_ASSERT_OK(px_reco_model_train(f->b, mo, &f->m));
  PX_ASSERT_OK(px_reco_query_new(f->m, &f->q));
}

static void done(fixture *f) {
  px_reco_query_free(f->q);
  px_reco_model_free(f->m);
  px_reco_baskets_free(f->b);
  px_reco_data_free(f->d);
}

static uint32_t item(const fixture *f, const char *id) {
  uint32_t i;
  PX_ASSERT_OK(px_reco_ids_find(px_reco_data_items(f->d), id, strlen(id), &i));
  return i;
}

static const char *name(const fixture *f, uint32_t i) { return px_reco_ids_name(px_reco_data_items(f->d), i); }

/* The user's basket as a request's items. */
static void user_items(const fixture *f, const char *id, px_reco_request *r) {
  uint32_t u;
  PX_ASSERT_OK(px_reco_ids_find(px_reco_data_users(f->d), id, strlen(id), &u));
  r->items = f->b->items + f->b->start[u];
  r->n_items = f->b->start[u + 1] - f->b->start[u];
}

/* The result's items as "A B C". */
static const char *list(const fixture *f, const px_reco_rec *r, size_t n) {
  static char out[512];
  out[0] = 0;
  for (size_t k = 0; k < n; k++) {
    if (k) strcat(out, " ");
    strcat(out, name(f, r[k].item));
  }
  return out;
}

static void test_ids(void **state) {
  (void)state;
  px_reco_ids *d = px_reco_ids_new();
  uint32_t i;
  PX_ASSERT_OK(px_reco_ids_intern(d, "b", 1, &i));
  PX_ASSERT_INT_EQ(i, 0);
  PX_ASSERT_OK(px_reco_ids_intern(d, "a", 1, &i));
  PX_ASSERT_INT_EQ(i, 1);
  PX_ASSERT_OK(px_reco_ids_intern(d, "b", 1, &i));
  PX_ASSERT_INT_EQ(i, 0);
  PX_ASSERT_INT_EQ(px_reco_ids_intern(d, "", 0, &i), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_ids_intern(d, "x\0y", 3, &i), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_ids_find(d, "c", 1, &i), PX_NOT_FOUND);
  /* Many ids: the table grows and every index stays. */
  char s[32];
  for (int k = 0; k < 5000; k++) {
    snprintf(s, sizeof s, "id-%d", k);
    PX_ASSERT_OK(px_reco_ids_intern(d, s, strlen(s), &i));
    PX_ASSERT_INT_EQ(i, k + 2);
  }
  for (int k = 0; k < 5000; k += 7) {
    snprintf(s, sizeof s, "id-%d", k);
    PX_ASSERT_OK(px_reco_ids_find(d, s, strlen(s), &i));
    PX_ASSERT_STR_EQ(px_reco_ids_name(d, i), s);
  }
  PX_ASSERT_INT_EQ(px_reco_ids_count(d), 5002);
  PX_ASSERT_NULL(px_reco_ids_name(d, 5002));
  px_reco_ids_free(d);
  px_reco_ids_free(NULL);
}

/* u1 {A, B}, u2 {A, B, C}, u3 {A, C}, u4 {B}: n_A = 3, n_B = 3, n_C = 2,
 * co(A, B) = 2, co(A, C) = 2, co(B, C) = 1. */
static const char *const BASKETS[] = {"u1 A", "u1 B", "u2 A", "u2 B", "u2 C", "u3 A", "u3 C", "u4 B"};

static void test_similarity_by_hand(void **state) {
  (void)state;
  fixture f;
  px_reco_model_opts mo = px_reco_model_defaults();
  mo.shrink = 0;
  train(&f, BASKETS, 8, NULL, &mo);
  const px_reco_neighbour *nb;
  size_t n;
  /* lambda 0: sim(A, C) = 2 / sqrt(3 * 2), sim(A, B) = 2 / 3, sim(B, C) = 1 / sqrt(6). */
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "A"), &nb, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_STR_EQ(name(&f, nb[0].item), "C");
  close_to(nb[0].score, 2 / sqrt(6), 1e-6, "sim(A, C)");
  PX_ASSERT_STR_EQ(name(&f, nb[1].item), "B");
  close_to(nb[1].score, 2.0 / 3, 1e-6, "sim(A, B)");
  close_to(nb[1].vote, pow(2.0 / 3, 3), 1e-6, "sim(A, B)^3");
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "B"), &nb, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_STR_EQ(name(&f, nb[0].item), "A");
  PX_ASSERT_STR_EQ(name(&f, nb[1].item), "C");
  close_to(nb[1].score, 1 / sqrt(6), 1e-6, "sim(B, C)");
  const px_reco_model_stats *s = px_reco_model_stats_of(f.m);
  PX_ASSERT_INT_EQ(s->users, 4);
  PX_ASSERT_INT_EQ(s->pairs, 8);
  PX_ASSERT_INT_EQ(s->co_pairs, 6);
  PX_ASSERT_INT_EQ(s->updates, 2 + 6 + 2 + 0);
  /* Popularity: A and B have 3 users (A first: lower index), C 2. */
  size_t np;
  const uint32_t *pop = px_reco_model_popular(f.m, &np);
  PX_ASSERT_INT_EQ(np, 3);
  PX_ASSERT_STR_EQ(name(&f, pop[0]), "A");
  PX_ASSERT_STR_EQ(name(&f, pop[1]), "B");
  PX_ASSERT_STR_EQ(name(&f, pop[2]), "C");
  close_to(px_reco_model_popularity(f.m, item(&f, "C")), 2, 0, "popularity of C");
  PX_ASSERT_INT_EQ(px_reco_model_neighbours(f.m, 3, &nb, &n), PX_NOT_FOUND);
  PX_ASSERT_INT_EQ(n, 0);
  done(&f);

  /* lambda 1: sim(A, B) = 2 / (3 + 1), sim(A, C) = 2 / (sqrt(6) + 1). */
  mo.shrink = 1;
  train(&f, BASKETS, 8, NULL, &mo);
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "A"), &nb, &n));
  close_to(nb[0].score, 2 / (sqrt(6) + 1), 1e-6, "shrunk sim(A, C)");
  close_to(nb[1].score, 0.5, 1e-6, "shrunk sim(A, B)");
  done(&f);
}

/* Weights: u1 has A twice (1 and 3), B once (2); u2 has A (1) and B (1).
 * max: w(u1, A) = 3, co(A, B) = 3*2 + 1*1 = 7, n_A = 9 + 1, n_B = 4 + 1,
 * sim = 7 / sqrt(50). sum: w(u1, A) = 4, co = 9, n_A = 17, sim = 9 / sqrt(85). */
static void test_weights_combine(void **state) {
  (void)state;
  const char *rows[] = {"u1 A 1", "u1 B 2", "u1 A 3", "u2 A 1", "u2 B 1"};
  fixture f;
  px_reco_model_opts mo = px_reco_model_defaults();
  mo.shrink = 0;
  train(&f, rows, 5, NULL, &mo);
  const px_reco_neighbour *nb;
  size_t n;
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "A"), &nb, &n));
  close_to(nb[0].score, 7 / sqrt(50), 1e-6, "max");
  PX_ASSERT_INT_EQ(f.b->start[1] - f.b->start[0], 2); /* u1: A and B once each */
  close_to(f.b->items[0].weight, 3, 0, "u1's weight for A");
  done(&f);
  px_reco_basket_opts bo = {.combine = PX_RECO_COMBINE_SUM};
  train(&f, rows, 5, &bo, &mo);
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "A"), &nb, &n));
  close_to(nb[0].score, 9 / sqrt(85), 1e-6, "sum");
  done(&f);
}

/* Decay: a purchase one half-life before the latest weighs half. */
static void test_decay(void **state) {
  (void)state;
  const char *rows[] = {"u1 A 1 100", "u1 B 1 130", "u1 A 1 70", "u2 C 2 40"};
  fixture f;
  px_reco_basket_opts bo = {.half_life_days = 30};
  train(&f, rows, 4, &bo, NULL);
  PX_ASSERT_INT_EQ(f.b->now_ms, 130 * DAY);
  const px_reco_item *u1 = f.b->items + f.b->start[0];
  close_to(u1[0].weight, 0.5, 1e-6, "A (30 days: the later of two)");
  PX_ASSERT_INT_EQ(u1[0].last_ms, 100 * DAY);
  close_to(u1[1].weight, 1, 0, "B");
  close_to(f.b->items[f.b->start[1]].weight, 2 * exp2(-3), 1e-6, "C, 90 days");
  done(&f);
  /* A given reference time. */
  bo.now_ms = 160 * DAY;
  train(&f, rows, 4, &bo, NULL);
  close_to(f.b->items[1].weight, 0.5, 1e-6, "B at day 160");
  done(&f);
}

/* X was bought with Y1..Y5 by one user each, all alike: equal similarities,
 * ordered by index; K 3 keeps the three lowest. */
static void test_top_k_ties(void **state) {
  (void)state;
  const char *rows[] = {"a X", "a Y1", "b X", "b Y2", "c X", "c Y3", "d X", "d Y4", "e X", "e Y5",
                        "f Y4", "f Z", "g Y4", "g Z"};
  fixture f;
  px_reco_model_opts mo = px_reco_model_defaults();
  mo.neighbours = 3;
  train(&f, rows, 14, NULL, &mo);
  const px_reco_neighbour *nb;
  size_t n;
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "X"), &nb, &n));
  PX_ASSERT_INT_EQ(n, 3);
  /* sim(X, Y) = 1 / (sqrt(5 * 1) + 5) for Y1..Y3, Y5; Y4 has 3 users: 1 / (sqrt(15) + 5). */
  PX_ASSERT_STR_EQ(name(&f, nb[0].item), "Y1");
  PX_ASSERT_STR_EQ(name(&f, nb[1].item), "Y2");
  PX_ASSERT_STR_EQ(name(&f, nb[2].item), "Y3");
  close_to(nb[0].score, 1 / (sqrt(5) + 5), 1e-6, "sim(X, Y1)");
  assert_true(nb[0].score == nb[2].score);
  /* Y4: Z (2 together of 3 and 2) before X. */
  PX_ASSERT_OK(px_reco_model_neighbours(f.m, item(&f, "Y4"), &nb, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_STR_EQ(name(&f, nb[0].item), "Z");
  PX_ASSERT_STR_EQ(name(&f, nb[1].item), "X");
  done(&f);
}

/* Random baskets: every item's neighbours are sorted (score down, index
 * up), at most K, and two threads give exactly what one does. */
static void test_threads_same_result(void **state) {
  (void)state;
  px_reco_data *d = px_reco_data_new();
  uint64_t s = 42;
  char u[32], it[32];
  for (int k = 0; k < 20000; k++) {
    uint64_t user = px_test_next(&s) % 700, a = px_test_next(&s) % 400;
    uint64_t i = (user * 7 + (a * a) % 97) % 400; /* users lean to some items */
    snprintf(u, sizeof u, "u%llu", (unsigned long long)user);
    snprintf(it, sizeof it, "i%llu", (unsigned long long)i);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), 1 + (double)(px_test_next(&s) % 3), 0));
  }
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  uint32_t nu = px_reco_ids_count(px_reco_data_users(d)), ni = px_reco_ids_count(px_reco_data_items(d));
  px_reco_baskets *b;
  PX_ASSERT_OK(px_reco_baskets_build(x, n, NULL, 0, nu, ni, NULL, &b));
  px_reco_model_opts mo = px_reco_model_defaults();
  mo.neighbours = 20;
  px_reco_model *one, *two;
  PX_ASSERT_OK(px_reco_model_train(b, &mo, &one));
  mo.threads = 2;
  PX_ASSERT_OK(px_reco_model_train(b, &mo, &two));
  for (uint32_t i = 0; i < ni; i++) {
    const px_reco_neighbour *p, *q;
    size_t np, nq;
    PX_ASSERT_OK(px_reco_model_neighbours(one, i, &p, &np));
    PX_ASSERT_OK(px_reco_model_neighbours(two, i, &q, &nq));
    PX_ASSERT_INT_EQ(np, nq);
    PX_ASSERT_INT_CMP(np, <=, 20);
    assert_memory_equal(p, q, np * sizeof *p);
    for (size_t k = 0; k < np; k++) {
      assert_true(p[k].score > 0 && p[k].score <= 1.000001f && p[k].item != i);
      if (k) assert_true(p[k - 1].score > p[k].score || (p[k - 1].score == p[k].score && p[k - 1].item < p[k].item));
    }
  }
  PX_ASSERT_INT_EQ(px_reco_model_stats_of(one)->co_pairs, px_reco_model_stats_of(two)->co_pairs);
  px_reco_model_free(one);
  px_reco_model_free(two);
  px_reco_baskets_free(b);
  px_reco_data_free(d);
}

/* Updates are retrains: data appended after a first training, retrained,
 * gives the model trained on everything at once. */
static void test_retrain_after_append(void **state) {
  (void)state;
  const char *first[] = {"u1 A", "u1 B", "u2 A", "u2 C"};
  const char *later[] = {"u3 B", "u3 C", "u1 C", "u4 D", "u4 A"};
  const char *all[] = {"u1 A", "u1 B", "u2 A", "u2 C", "u3 B", "u3 C", "u1 C", "u4 D", "u4 A"};
  fixture f, g;
  train(&f, first, 4, NULL, NULL);
  px_reco_data *d = f.d;
  for (int k = 0; k < 5; k++) {
    char u[8], it[8];
    sscanf(later[k], "%7s %7s", u, it);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), 1, PX_RECO_NO_TIME));
  }
  px_reco_query_free(f.q);
  px_reco_model_free(f.m);
  px_reco_baskets_free(f.b);
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  PX_ASSERT_OK(px_reco_baskets_build(x, n, NULL, 0, px_reco_ids_count(px_reco_data_users(d)),
                                     px_reco_ids_count(px_reco_data_items(d)), NULL, &f.b));
  PX_ASSERT_OK(px_reco_model_train(f.b, NULL, &f.m));
  PX_ASSERT_OK(px_reco_query_new(f.m, &f.q));
  train(&g, all, 9, NULL, NULL);
  PX_ASSERT_INT_EQ(px_reco_model_items(f.m), px_reco_model_items(g.m));
  for (uint32_t i = 0; i < px_reco_model_items(f.m); i++) {
    const px_reco_neighbour *p, *q;
    size_t np, nq;
    PX_ASSERT_OK(px_reco_model_neighbours(f.m, i, &p, &np));
    PX_ASSERT_OK(px_reco_model_neighbours(g.m, i, &q, &nq));
    PX_ASSERT_INT_EQ(np, nq);
    assert_memory_equal(p, q, np * sizeof *p);
  }
  done(&f);
  done(&g);
}

/* The catalogue of the recommendation tests: u1 has A and B; the others
 * make C, D and E neighbours of A and B, and F popular on its own. */
static const char *const SHOP[] = {
    "u1 A 1 10", "u1 B 1 50",                                    /* the customer */
    "u2 A 1 1",  "u2 C 1 1", "u2 D 1 1", "u3 A 1 1", "u3 C 1 1", /* C goes with A */
    "u4 B 1 1",  "u4 D 1 1", "u5 B 1 1", "u5 E 1 1",            /* D, E with B */
    "u6 F 1 1",  "u7 F 1 1", "u8 F 1 1", "u9 F 1 1", "u10 A 1 1"};

static void shop(fixture *f) {
  px_reco_model_opts mo = px_reco_model_defaults();
  mo.shrink = 0;
  mo.locality = 1;
  train(f, SHOP, sizeof SHOP / sizeof *SHOP, NULL, &mo);
}

static void test_recommend_scores_and_reasons(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  px_reco_request r = {.n = 3, .now_ms = 60 * DAY};
  user_items(&f, "u1", &r);
  px_reco_rec out[8];
  size_t got;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_INT_EQ(got, 3);
  /* n_A = 4, n_B = 3, n_C = 2, n_D = 2, n_E = 1. C: sim(A, C) = 2/sqrt(8);
   * D: sim(A, D) + sim(B, D) = 1/sqrt(8) + 1/sqrt(6); E: sim(B, E) = 1/sqrt(3). */
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E");
  close_to(out[0].score, 1 / sqrt(8) + 1 / sqrt(6), 1e-6, "D");
  PX_ASSERT_INT_EQ(out[0].n_reasons, 2);
  PX_ASSERT_STR_EQ(name(&f, out[0].reason[0]), "B"); /* 1/sqrt(6) > 1/sqrt(8) */
  close_to(out[0].reason_score[0], 1 / sqrt(6), 1e-6, "D because of B");
  PX_ASSERT_STR_EQ(name(&f, out[0].reason[1]), "A");
  PX_ASSERT_INT_EQ(out[1].n_reasons, 1);
  PX_ASSERT_STR_EQ(name(&f, out[1].reason[0]), "A");
  assert_false(out[0].popular);
  /* Six wanted: the neighbours run out after three; popularity fills
   * (F, then nothing else: A and B are u1's). */
  r.n = 6;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E F");
  assert_true(out[3].popular && out[3].n_reasons == 0);
  close_to(out[3].score, 4, 0, "F's popularity");
  r.no_fallback = 1;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E");
  /* Recency: with a 10-day half-life at day 60, A (day 10) counts 1/32
   * and B (day 50) 1/2: E (from B alone) leads, C (from A alone) is last. */
  r.half_life_days = 10;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E D C");
  close_to(out[0].score, 0.5 / sqrt(3), 1e-6, "E, from B at half weight");
  done(&f);
}

/* max_items: the customer's most recent items score, all stay owned. */
static void test_recent_items_only(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  px_reco_request r = {.n = 3, .max_items = 1};
  user_items(&f, "u1", &r);
  px_reco_rec out[4];
  size_t got;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E D F"); /* from B (day 50) alone; A stays owned */
  /* Ties at the cut: taken in the order given. */
  px_reco_item two[] = {{item(&f, "B"), 1, 5 * DAY}, {item(&f, "A"), 1, 5 * DAY}};
  r.items = two;
  r.n_items = 2;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E D F");
  done(&f);

  /* Against the same request made of the chosen items, with the others
   * excluded: a long basket with many equal times. */
  px_reco_data *d = px_reco_data_new();
  uint64_t s = 9;
  char u[32], it[32];
  for (int k = 0; k < 30000; k++) {
    uint64_t user = px_test_next(&s) % 500, i = (user * 3 + px_test_next(&s) % 60) % 800;
    snprintf(u, sizeof u, "u%llu", (unsigned long long)user);
    snprintf(it, sizeof it, "i%llu", (unsigned long long)i);
    PX_ASSERT_OK(px_reco_data_add(d, u, strlen(u), it, strlen(it), 1, (int64_t)(px_test_next(&s) % 20) * DAY));
  }
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  uint32_t nu = px_reco_ids_count(px_reco_data_users(d)), ni = px_reco_ids_count(px_reco_data_items(d));
  px_reco_baskets *b;
  px_reco_model *m;
  px_reco_query *q;
  PX_ASSERT_OK(px_reco_baskets_build(x, n, NULL, 0, nu, ni, NULL, &b));
  PX_ASSERT_OK(px_reco_model_train(b, NULL, &m));
  PX_ASSERT_OK(px_reco_query_new(m, &q));
  px_reco_item basket[400], chosen[400];
  uint64_t *bits = calloc((ni + 63) / 64, sizeof *bits);
  px_reco_rec a[20], c[20];
  for (int round = 0; round < 50; round++) {
    size_t nb = 50 + px_test_next(&s) % 300, keep = 1 + px_test_next(&s) % 60;
    for (size_t k = 0; k < nb; k++) /* distinct items, times with many ties */
      basket[k] = (px_reco_item){(uint32_t)((k * 2 + round) % ni), 1, (int64_t)(px_test_next(&s) % 6) * DAY};
    /* The expected choice: by time, newest first, ties in the given order. */
    size_t nc = 0;
    memset(bits, 0, (ni + 63) / 64 * sizeof *bits);
    for (int64_t t = 5; t >= 0; t--)
      for (size_t k = 0; k < nb; k++)
        if (basket[k].last_ms == t * DAY && nc < keep) chosen[nc++] = basket[k];
    for (size_t k = 0; k < nb; k++) {
      int in = 0;
      for (size_t e = 0; e < nc; e++) in |= chosen[e].item == basket[k].item;
      if (!in) bits[basket[k].item >> 6] |= 1ULL << (basket[k].item & 63);
    }
    px_reco_request ra = {.items = basket, .n_items = nb, .n = 20, .max_items = keep, .no_fallback = 1};
    px_reco_request rc = {.items = chosen, .n_items = nc, .n = 20, .exclude_bits = bits, .no_fallback = 1};
    size_t ga, gc;
    PX_ASSERT_OK(px_reco_recommend(q, &ra, a, &ga));
    PX_ASSERT_OK(px_reco_recommend(q, &rc, c, &gc));
    PX_ASSERT_INT_EQ(ga, gc);
    for (size_t k = 0; k < ga; k++) {
      PX_ASSERT_INT_EQ(a[k].item, c[k].item);
      assert_true(a[k].score == c[k].score);
    }
  }
  free(bits);
  px_reco_query_free(q);
  px_reco_model_free(m);
  px_reco_baskets_free(b);
  px_reco_data_free(d);
}

static void test_new_customer_gets_popular(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  px_reco_request r = {.n = 3};
  px_reco_rec out[4];
  size_t got;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  /* A 4 users, F 4 (A first: lower index), then B 3. */
  PX_ASSERT_STR_EQ(list(&f, out, got), "A F B");
  assert_true(out[0].popular && out[1].popular);
  /* A caller's list (e.g. popular in the customer's segment) instead. */
  uint32_t seg[] = {item(&f, "E"), item(&f, "C"), 999};
  r.popular = seg;
  r.n_popular = 3;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E C");
  done(&f);
}

static int no_c(void *arg, uint32_t it) { return it == *(uint32_t *)arg; }

static void test_exclusions(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  px_reco_request r = {.n = 10, .now_ms = 60 * DAY};
  user_items(&f, "u1", &r);
  px_reco_rec out[10];
  size_t got;
  /* Owned items never come back without a window. */
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E F");
  /* A window of 30 days: A (day 10, 50 days ago) may come back, B (10 days
   * ago) not; A is a neighbour of B (u1 bought both: sim 1/sqrt(12)). */
  r.repurchase_ms = 30 * DAY;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E A F");
  r.repurchase_ms = 60 * DAY; /* both recent enough: neither */
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E F");
  r.repurchase_ms = 0;
  /* Out of stock: a bitmap (D and F), and a callback (C). */
  uint64_t bits[1] = {0};
  bits[0] |= 1ULL << item(&f, "D");
  bits[0] |= 1ULL << item(&f, "F");
  r.exclude_bits = bits;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "C E");
  uint32_t c = item(&f, "C");
  r.exclude = no_c;
  r.exclude_arg = &c;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E");
  /* The same exclusions hold for the popularity baseline. */
  PX_ASSERT_OK(px_reco_popular(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "E");
  r.exclude_bits = NULL;
  r.exclude = NULL;
  PX_ASSERT_OK(px_reco_popular(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "F C D E"); /* F 4, then C and D 2 each, E 1 */
  /* Many queries on one query object: stamps never leak between them. */
  for (int k = 0; k < 1000; k++) PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D C E F");
  done(&f);
}

static void test_category_diversity(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  /* Categories by item index: C and D in 7, the rest their own. */
  uint32_t cat[6];
  for (uint32_t i = 0; i < 6; i++) cat[i] = 100 + i;
  cat[item(&f, "C")] = cat[item(&f, "D")] = 7;
  px_reco_request r = {.n = 3, .category = cat, .max_per_category = 1};
  user_items(&f, "u1", &r);
  px_reco_rec out[6];
  size_t got;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D E F"); /* C held back: E and F first */
  r.n = 5;
  PX_ASSERT_OK(px_reco_recommend(f.q, &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D E F C"); /* then C, when nothing else is left */
  done(&f);
}

static void test_similar(void **state) {
  (void)state;
  fixture f;
  shop(&f);
  px_reco_request r = {.n = 2};
  px_reco_rec out[4];
  size_t got;
  /* A's neighbours: C 2/sqrt(8), D 1/sqrt(8), B 1/sqrt(12). */
  PX_ASSERT_OK(px_reco_similar(f.q, item(&f, "A"), &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "C D");
  close_to(out[0].score, 2 / sqrt(8), 1e-6, "sim(A, C)");
  PX_ASSERT_STR_EQ(name(&f, out[0].reason[0]), "A");
  uint64_t bits[1] = {1ULL << item(&f, "C")};
  r.exclude_bits = bits;
  r.n = 4;
  PX_ASSERT_OK(px_reco_similar(f.q, item(&f, "A"), &r, out, &got));
  PX_ASSERT_STR_EQ(list(&f, out, got), "D B");
  PX_ASSERT_INT_EQ(px_reco_similar(f.q, 99, &r, out, &got), PX_NOT_FOUND);
  /* F was never bought with anything. */
  PX_ASSERT_OK(px_reco_similar(f.q, item(&f, "F"), &r, out, &got));
  PX_ASSERT_INT_EQ(got, 0);
  r.n = PX_RECO_MAX_RESULTS + 1;
  PX_ASSERT_INT_EQ(px_reco_recommend(f.q, &r, out, &got), PX_INVALID);
  done(&f);
}

static void test_bad_input(void **state) {
  (void)state;
  px_reco_data *d = px_reco_data_new();
  PX_ASSERT_INT_EQ(px_reco_data_add(d, "u", 1, "i", 1, 0, 0), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_data_add(d, "u", 1, "i", 1, NAN, 0), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_data_add(d, "u", 1, "", 0, 1, 0), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_data_add(d, "", 0, "i", 1, 1, 0), PX_INVALID);
  PX_ASSERT_INT_EQ(px_reco_ids_count(px_reco_data_users(d)), 0); /* a bad item adds no user */
  PX_ASSERT_OK(px_reco_data_add(d, "u", 1, "i", 1, 2.5, 7));
  size_t n;
  const px_reco_interaction *x = px_reco_data_interactions(d, &n);
  PX_ASSERT_INT_EQ(n, 1);
  px_reco_baskets *b;
  PX_ASSERT_INT_EQ(px_reco_baskets_build(x, n, NULL, 0, 0, 1, NULL, &b), PX_INVALID); /* user 0 out of range */
  PX_ASSERT_OK(px_reco_baskets_build(x, n, NULL, 0, 1, 1, NULL, &b));
  px_reco_model_opts mo = px_reco_model_defaults();
  px_reco_model *m;
  mo.neighbours = 0;
  PX_ASSERT_INT_EQ(px_reco_model_train(b, &mo, &m), PX_INVALID);
  mo = px_reco_model_defaults();
  mo.shrink = -1;
  PX_ASSERT_INT_EQ(px_reco_model_train(b, &mo, &m), PX_INVALID);
  mo = px_reco_model_defaults();
  mo.locality = 0;
  PX_ASSERT_INT_EQ(px_reco_model_train(b, &mo, &m), PX_INVALID);
  /* One user, one item: a model with no neighbours, one popular item. */
  PX_ASSERT_OK(px_reco_model_train(b, NULL, &m));
  const px_reco_neighbour *nb;
  PX_ASSERT_OK(px_reco_model_neighbours(m, 0, &nb, &n));
  PX_ASSERT_INT_EQ(n, 0);
  px_reco_model_free(m);
  px_reco_baskets_free(b);
  /* Nothing at all. */
  PX_ASSERT_OK(px_reco_baskets_build(x, 0, NULL, 0, 0, 0, NULL, &b));
  PX_ASSERT_OK(px_reco_model_train(b, NULL, &m));
  px_reco_query *q;
  PX_ASSERT_OK(px_reco_query_new(m, &q));
  px_reco_request r = {.n = 5};
  px_reco_rec out[5];
  PX_ASSERT_OK(px_reco_recommend(q, &r, out, &n));
  PX_ASSERT_INT_EQ(n, 0);
  px_reco_query_free(q);
  px_reco_model_free(m);
  px_reco_baskets_free(b);
  px_reco_data_free(d);
  px_reco_data_free(NULL);
  px_reco_model_free(NULL);
  px_reco_baskets_free(NULL);
  px_reco_query_free(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ids),
    cmocka_unit_test(test_similarity_by_hand),
    cmocka_unit_test(test_weights_combine),
    cmocka_unit_test(test_decay),
    cmocka_unit_test(test_top_k_ties),
    cmocka_unit_test(test_threads_same_result),
    cmocka_unit_test(test_retrain_after_append),
    cmocka_unit_test(test_recommend_scores_and_reasons),
    cmocka_unit_test(test_recent_items_only),
    cmocka_unit_test(test_new_customer_gets_popular),
    cmocka_unit_test(test_exclusions),
    cmocka_unit_test(test_category_diversity),
    cmocka_unit_test(test_similar),
    cmocka_unit_test(test_bad_input),
};

PX_TEST_MAIN(tests)
