/* Offline evaluation: see eval.h. */
#include "reco/eval.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reco/metrics.h"
#include "reco/recommend.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sums of per-user metrics, and the items recommended. */
typedef struct tally {
  double precision, recall, ndcg, ap;
  uint8_t *seen; /* per item */
  size_t distinct;
} tally;

static void count(tally *t, const px_reco_rec *recs, size_t n, uint32_t *ranked, const uint32_t *relevant,
                  size_t n_relevant, size_t k) {
  for (size_t r = 0; r < n; r++) {
    ranked[r] = recs[r].item;
    if (!t->seen[recs[r].item]) {
      t->seen[recs[r].item] = 1;
      t->distinct++;
    }
  }
  px_reco_metrics m;
  px_reco_metrics_at(ranked, n, relevant, n_relevant, k, &m);
  t->precision += m.precision;
  t->recall += m.recall;
  t->ndcg += m.ndcg;
  t->ap += m.ap;
}

static void mean(const tally *t, size_t users, size_t items, px_reco_scores *s) {
  double u = (double)users;
  *s = (px_reco_scores){t->precision / u, t->recall / u, t->ndcg / u, t->ap / u,
                        items ? (double)t->distinct / (double)items : 0, t->distinct};
}

px_status px_reco_evaluate(const px_reco_interaction *x, size_t n, uint32_t n_users, uint32_t n_items,
                           const px_reco_eval_opts *o, px_reco_eval *out) {
  memset(out, 0, sizeof *out);
  if (o->k < 1 || o->k > PX_RECO_MAX_K) return PX_INVALID;
  px_status st = PX_NOMEM;
  px_reco_baskets *train = NULL, *test = NULL;
  px_reco_model *model = NULL;
  px_reco_query *q = NULL;
  tally tm = {0}, tp = {0};
  uint8_t *part = malloc(n ? n : 1);
  px_reco_rec *recs = malloc(o->k * sizeof *recs);
  uint32_t *ranked = malloc(o->k * sizeof *ranked);
  uint32_t *relevant = malloc((n_items ? n_items : 1) * sizeof *relevant);
  tm.seen = calloc(n_items ? n_items : 1, 1);
  tp.seen = calloc(n_items ? n_items : 1, 1);
  if (!part || !recs || !ranked || !relevant || !tm.seen || !tp.seen) goto out;

  double t0 = now_s();
  if ((st = px_reco_split_apply(x, n, n_users, n_items, &o->split, o->seed, part)) != PX_OK) goto out;
  for (size_t i = 0; i < n; i++) out->test += part[i];
  out->train = n - out->test;
  double t1 = now_s();
  out->split_s = t1 - t0;

  if ((st = px_reco_baskets_build(x, n, part, 0, n_users, n_items, &o->basket, &train)) != PX_OK ||
      (st = px_reco_baskets_build(x, n, part, 1, n_users, n_items, NULL, &test)) != PX_OK ||
      (st = px_reco_model_train(train, &o->model, &model)) != PX_OK || (st = px_reco_query_new(model, &q)) != PX_OK)
    goto out;
  out->stats = *px_reco_model_stats_of(model);
  out->train_users = out->stats.users;
  px_reco_model_popular(model, &out->train_items);
  double t2 = now_s();
  out->train_s = t2 - t1;

  /* The time recommendations are made at: the split's time, else the latest training interaction. */
  int64_t now = o->split.kind == PX_RECO_SPLIT_TIME ? o->split.time_ms : train->now_ms;
  for (uint32_t u = 0; u < n_users; u++) {
    const px_reco_item *ti = test->items + test->start[u], *hi = train->items + train->start[u];
    size_t nt = test->start[u + 1] - test->start[u], nh = train->start[u + 1] - train->start[u];
    if (!nt) continue;
    out->test_users++;
    if (!nh) {
      out->cold_users++;
      continue;
    }
    /* Relevant: the test items not in the training basket (both sorted by item). */
    size_t nr = 0, a = 0;
    for (size_t b = 0; b < nt; b++) {
      while (a < nh && hi[a].item < ti[b].item) a++;
      if (a < nh && hi[a].item == ti[b].item) continue;
      relevant[nr++] = ti[b].item;
      out->relevant_unknown += px_reco_model_popularity(model, ti[b].item) == 0;
    }
    if (!nr) {
      out->nothing_new_users++;
      continue;
    }
    out->users++;
    out->relevant += nr;
    px_reco_request r = {.items = hi, .n_items = nh, .n = o->k, .now_ms = now, .max_items = o->max_items};
    size_t got;
    if ((st = px_reco_recommend(q, &r, recs, &got)) != PX_OK) goto out;
    count(&tm, recs, got, ranked, relevant, nr, o->k);
    if ((st = px_reco_popular(q, &r, recs, &got)) != PX_OK) goto out;
    count(&tp, recs, got, ranked, relevant, nr, o->k);
  }
  out->rank_s = now_s() - t2;
  if (!out->users) {
    st = PX_NOT_FOUND;
    goto out;
  }
  mean(&tm, out->users, out->train_items, &out->model);
  mean(&tp, out->users, out->train_items, &out->popularity);
  st = PX_OK;
out:
  px_reco_query_free(q);
  px_reco_model_free(model);
  px_reco_baskets_free(train);
  px_reco_baskets_free(test);
  free(part);
  free(recs);
  free(ranked);
  free(relevant);
  free(tm.seen);
  free(tp.seen);
  return st;
}
