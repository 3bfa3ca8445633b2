/* Fuzz target: the inputs of pickaxe recommend (src/reco): the split spec
 * (px_reco_split_parse) and the interactions file (px_reco_read), then
 * training, queries and the evaluation on what was read. The first byte
 * picks the reading (header or numbered columns, a time and a weight
 * column, a skip rule, the delimiter); the input's first line, up to 64
 * bytes, is the split spec, the rest the file. Checks: an accepted spec
 * prints back to one that parses the same; the counts of the reading add
 * up and interactions are in range; neighbours are sorted similarities in
 * (0, 1]; recommendations are distinct and never the user's own items;
 * metrics lie in [0, 1]. */
#include <math.h>

#include "fuzz_common.h"
#include "reco/basket.h"
#include "reco/eval.h"
#include "reco/input.h"
#include "reco/model.h"
#include "reco/recommend.h"
#include "reco/split.h"

#define MAX_TRAIN 4000 /* interactions: keep each input fast */

static void check_split(const char *spec, px_reco_split *s, int *ok) {
  px_error err;
  px_error_clear(&err);
  px_status st = px_reco_split_parse(spec, s, &err);
  *ok = st == PX_OK;
  FUZZ_CHECK(st == PX_OK || st == PX_INVALID, "status %s", px_status_str(st));
  if (!*ok) {
    FUZZ_CHECK(err.reason[0], "no reason for \"%s\"", spec);
    return;
  }
  char text[64];
  px_reco_split_format(s, text);
  px_reco_split back;
  FUZZ_CHECK(px_reco_split_parse(text, &back, &err) == PX_OK, "\"%s\" printed as \"%s\" does not parse", spec, text);
  FUZZ_CHECK(back.kind == s->kind, "kind of \"%s\"", spec);
  if (s->kind == PX_RECO_SPLIT_TIME) FUZZ_CHECK(back.time_ms == s->time_ms, "time of \"%s\" via \"%s\"", spec, text);
  else FUZZ_CHECK(fabs(back.fraction - s->fraction) <= 1e-5 * s->fraction, "fraction of \"%s\"", spec);
}

static void check_model(const px_reco_baskets *b, const px_reco_model *m) {
  for (uint32_t i = 0; i < b->n_items; i++) {
    const px_reco_neighbour *nb;
    size_t n;
    FUZZ_CHECK(px_reco_model_neighbours(m, i, &nb, &n) == PX_OK, "item %u", i);
    for (size_t k = 0; k < n; k++) {
      FUZZ_CHECK(nb[k].item < b->n_items && nb[k].item != i, "neighbour %u of %u", nb[k].item, i);
      FUZZ_CHECK(nb[k].score > 0 && nb[k].score <= 1.0001f, "similarity %g", nb[k].score);
      if (k) FUZZ_CHECK(nb[k - 1].score > nb[k].score || (nb[k - 1].score == nb[k].score && nb[k - 1].item < nb[k].item),
                        "order at %zu of %u", k, i);
    }
  }
  px_reco_query *q;
  FUZZ_CHECK(px_reco_query_new(m, &q) == PX_OK, "query");
  px_reco_rec out[8];
  for (uint32_t u = 0; u < b->n_users && u < 64; u++) {
    px_reco_request r = {.items = b->items + b->start[u], .n_items = b->start[u + 1] - b->start[u], .n = 8,
                         .max_items = u % 3, .now_ms = b->now_ms, .repurchase_ms = u % 5 == 4 ? 86400000 : 0};
    size_t got;
    FUZZ_CHECK(px_reco_recommend(q, &r, out, &got) == PX_OK && got <= 8, "recommend %u", u);
    for (size_t k = 0; k < got; k++) {
      size_t own = px_reco_baskets_find(b, u, out[k].item);
      FUZZ_CHECK(own == SIZE_MAX || (r.repurchase_ms && b->items[own].last_ms != PX_RECO_NO_TIME &&
                                     b->now_ms - b->items[own].last_ms > r.repurchase_ms),
                 "user %u's own item %u", u, out[k].item);
      for (size_t e = 0; e < k; e++) FUZZ_CHECK(out[e].item != out[k].item, "item %u twice", out[k].item);
    }
  }
  px_reco_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  uint8_t mode = data[0];
  const char *rest = (const char *)data + 1;
  size_t n = size - 1, line = 0;
  while (line < n && line < 64 && rest[line] != '\n') line++;
  char spec[65];
  memcpy(spec, rest, line);
  spec[line] = 0;
  px_reco_split split;
  int split_ok;
  check_split(spec, &split, &split_ok);
  if (line < n) line++; /* the newline */
  char *file = fuzz_copy((const uint8_t *)rest + line, n - line, 0);

  px_reco_input in = {.no_header = mode & 1, .delimiter = (mode >> 5) == 1 ? ';' : (mode >> 5) == 2 ? '\t' : 0};
  in.user = in.no_header ? "1" : "u";
  in.item = in.no_header ? "2" : "i";
  if (mode & 2) in.time = in.no_header ? "3" : "t";
  if (mode & 4) in.weight = in.no_header ? "4" : "w";
  if (mode & 8) in.skip[in.n_skip++] = (px_reco_skip){in.no_header ? "1" : "u", "C"};
  px_reco_data *d = px_reco_data_new();
  FUZZ_CHECK(d, "no data");
  px_reco_read_stats rs = {0};
  px_error err;
  px_error_clear(&err);
  px_status st = px_reco_read(d, &in, file, n - line, NULL, NULL, &rs, &err);
  FUZZ_CHECK(st == PX_OK || st == PX_NOT_FOUND || st == PX_INVALID, "read: %s", px_status_str(st));
  size_t nx;
  const px_reco_interaction *x = px_reco_data_interactions(d, &nx);
  uint32_t nu = px_reco_ids_count(px_reco_data_users(d)), ni = px_reco_ids_count(px_reco_data_items(d));
  if (st == PX_OK) {
    FUZZ_CHECK(rs.records == rs.added + rs.no_id + rs.skipped + rs.bad, "records %zu != %zu + %zu + %zu + %zu",
               rs.records, rs.added, rs.no_id, rs.skipped, rs.bad);
    FUZZ_CHECK(nx == rs.added, "interactions %zu, added %zu", nx, rs.added);
  }
  for (size_t i = 0; i < nx; i++) {
    FUZZ_CHECK(x[i].user < nu && x[i].item < ni, "interaction %zu out of range", i);
    FUZZ_CHECK(x[i].weight > 0 && isfinite(x[i].weight), "weight %g", x[i].weight);
    FUZZ_CHECK(in.time || x[i].time_ms == PX_RECO_NO_TIME, "a time without a time column");
  }

  if (nx && nx <= MAX_TRAIN) {
    px_reco_basket_opts bo = {.half_life_days = (mode & 16) && in.time ? 7 : 0,
                              .combine = (mode & 16) ? PX_RECO_COMBINE_SUM : PX_RECO_COMBINE_MAX};
    px_reco_baskets *b;
    px_reco_model *m;
    FUZZ_CHECK(px_reco_baskets_build(x, nx, NULL, 0, nu, ni, &bo, &b) == PX_OK, "baskets");
    px_reco_model_opts mo = px_reco_model_defaults();
    mo.neighbours = 1 + mode % 7;
    FUZZ_CHECK(px_reco_model_train(b, &mo, &m) == PX_OK, "train");
    check_model(b, m);
    px_reco_model_free(m);
    px_reco_baskets_free(b);
    if (split_ok) {
      px_reco_eval_opts o = {.split = split, .seed = mode, .k = 3, .basket = bo, .model = mo};
      px_reco_eval e;
      st = px_reco_evaluate(x, nx, nu, ni, &o, &e);
      FUZZ_CHECK(st == PX_OK || st == PX_NOT_FOUND || (st == PX_INVALID && split.kind == PX_RECO_SPLIT_TIME && !in.time),
                 "evaluate: %s", px_status_str(st));
      if (st != PX_INVALID) FUZZ_CHECK(e.train + e.test == nx, "parts %zu + %zu of %zu", e.train, e.test, nx);
      if (st == PX_OK) {
        const px_reco_scores *s[2] = {&e.model, &e.popularity};
        for (int k = 0; k < 2; k++)
          FUZZ_CHECK(s[k]->precision >= 0 && s[k]->precision <= 1 && s[k]->recall >= 0 && s[k]->recall <= 1 &&
                         s[k]->ndcg >= 0 && s[k]->ndcg <= 1 + 1e-12 && s[k]->map >= 0 && s[k]->map <= 1 + 1e-12 &&
                         s[k]->coverage >= 0 && s[k]->coverage <= 1,
                     "metrics out of [0, 1]");
      }
    }
  }
  px_reco_data_free(d);
  free(file);
  return 0;
}
