/* Recommendations from a trained model (model.h): per customer, scored
 * from the customer's items; per item, its neighbours; and the popularity
 * baseline. Each query runs on a px_reco_query, the per-thread scratch
 * space for one model (a few arrays over the items): one per thread, many
 * per model. */
#ifndef PX_RECO_RECOMMEND_H
#define PX_RECO_RECOMMEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/basket.h"
#include "reco/model.h"

/* At most this many of the customer's items are named as a reason. */
#define PX_RECO_REASONS 3
/* At most this many results a query (PX_INVALID beyond). */
#define PX_RECO_MAX_RESULTS 10000

typedef struct px_reco_rec {
  uint32_t item;
  float score;          /* sum over the customer's items i of w_i sim(i, item)^q (q: the model's locality);
                           similar: the similarity; popular: the popularity */
  uint8_t popular;      /* 1: from the popularity fallback (no reasons) */
  uint8_t n_reasons;    /* the customer's items that contributed most, largest first */
  uint32_t reason[PX_RECO_REASONS];
  float reason_score[PX_RECO_REASONS]; /* each one's w_i sim(i, item)^q */
} px_reco_rec;

/* 1 when item must not be recommended (out of stock, a rule). */
typedef int (*px_reco_exclude_fn)(void *arg, uint32_t item);

typedef struct px_reco_request {
  /* The customer's items (a basket: distinct items; any order). Items
   * the model does not know add nothing, and cannot be recommended. */
  const px_reco_item *items;
  size_t n_items;
  size_t n; /* results wanted (<= PX_RECO_MAX_RESULTS) */
  /* The customer's items are never recommended, except, with
   * repurchase_ms > 0, those last bought more than repurchase_ms before
   * now_ms (consumables: they may come back). */
  int64_t now_ms;
  int64_t repurchase_ms;
  /* Which of the items the customer owns (bought), one flag per item of
   * items; NULL: all of them. Items not owned (viewed, added to a cart)
   * only score, and may be recommended. */
  const uint8_t *owned;
  /* > 0: each of the customer's items weighs w 2^-(age / half-life), age
   * from its last_ms to now_ms (recent items count most). */
  double half_life_days;
  /* > 0: score from at most this many of the customer's items, the most
   * recent (by last_ms; ties in the order given). Bounds the work for
   * customers with thousands of items (wholesalers); they still all count
   * as owned. */
  size_t max_items;
  /* Items never recommended: bit i of exclude_bits (item i at word i / 64,
   * bit i % 64; (items + 63) / 64 words), and/or those the callback says;
   * either may be NULL. */
  const uint64_t *exclude_bits;
  px_reco_exclude_fn exclude;
  void *exclude_arg;
  /* Category diversity (off when max_per_category is 0 or category NULL):
   * at most max_per_category results of one category (category[item], one
   * entry per item of the model) as long as other candidates remain; those
   * held back come last. */
  const uint32_t *category;
  uint32_t max_per_category;
  /* The fallback when the customer's items give fewer than n candidates
   * (a new customer: all of them): items in this order (e.g. the
   * popularity within the customer's segment); NULL: the model's overall
   * popularity. no_fallback: none. */
  const uint32_t *popular;
  const float *popular_score; /* popular's scores (its popularity in the segment), or NULL: the model's */
  size_t n_popular;
  int no_fallback;
} px_reco_request;

typedef struct px_reco_query px_reco_query;

/* The model must outlive the query. */
px_status px_reco_query_new(const px_reco_model *m, px_reco_query **out);
void px_reco_query_free(px_reco_query *q); /* NULL is fine */

/* Up to r->n recommendations for the customer into out (room for r->n),
 * best first (ties: lower item index first), *got of them: the neighbours
 * of the customer's items scored by summed similarity, then the fallback.
 * Fewer than r->n only when the catalog runs out. */
px_status px_reco_recommend(px_reco_query *q, const px_reco_request *r, px_reco_rec *out, size_t *got);

/* The popularity baseline: the fallback list alone, with the same
 * exclusions (the customer's items, the window, the excluded items). */
px_status px_reco_popular(px_reco_query *q, const px_reco_request *r, px_reco_rec *out, size_t *got);

/* Item's neighbours ("bought together"), best first, without the items
 * r excludes (r->exclude_bits, r->exclude, r->category caps; r->items are
 * left out too, with the repurchase window); r->n of them at most (no
 * fallback). PX_NOT_FOUND for an item the model does not have. */
px_status px_reco_similar(px_reco_query *q, uint32_t item, const px_reco_request *r, px_reco_rec *out,
                          size_t *got);

#endif
