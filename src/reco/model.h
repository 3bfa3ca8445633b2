/* The item-to-item model: for every item its K most similar items (cosine
 * of their users' weight vectors, shrunk for rare items), best first, and
 * every item's popularity. Trained from baskets (basket.h) in one pass;
 * read-only afterwards, so any number of threads may query one model
 * (recommend.h). Updates are full retrains: see docs/internals/reco.md. */
#ifndef PX_RECO_MODEL_H
#define PX_RECO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/basket.h"

#define PX_RECO_MAX_NEIGHBOURS 1000

typedef struct px_reco_model_opts {
  /* K, the neighbours kept per item (1..PX_RECO_MAX_NEIGHBOURS). */
  uint32_t neighbours;
  /* lambda >= 0 in sim(i, j) = co(i, j) / (sqrt(n_i n_j) + lambda), where
   * co(i, j) = sum over users of w_ui w_uj and n_i = sum of w_ui^2 (with
   * weights 1: the users who have both, and the users who have i). Pulls
   * the similarity of items few users have towards 0. */
  double shrink;
  /* q > 0: a neighbour adds w sim^q to a customer's score (recommend.h),
   * not w sim. q > 1 lets a few strong neighbours outweigh many weak
   * ones, which otherwise add up to popularity for customers with many
   * items ("locality", as in Aiolli's asymmetric similarity). */
  double locality;
  /* Training threads (0 or 1: this one; up to 16); the result does not
   * depend on them. */
  uint32_t threads;
} px_reco_model_opts;

/* K 50, lambda 5, q 3 (measured on Online Retail: docs/internals/reco.md), 1 thread. */
px_reco_model_opts px_reco_model_defaults(void);

typedef struct px_reco_neighbour {
  uint32_t item;
  float score; /* the similarity, in (0, 1] */
  float vote;  /* score^locality: what it adds to a customer's score per unit of weight */
} px_reco_neighbour;

/* What training saw and did. */
typedef struct px_reco_model_stats {
  size_t users;         /* users with a basket */
  size_t pairs;         /* distinct (user, item) pairs */
  size_t co_pairs;      /* ordered item pairs (i, j), i != j, bought together by anyone */
  size_t updates;       /* co-occurrence additions: sum over users of |basket| (|basket| - 1) */
  size_t neighbours;    /* (item, neighbour) entries kept */
  double seconds;       /* wall time of px_reco_model_train */
} px_reco_model_stats;

typedef struct px_reco_model px_reco_model;

/* opts may be NULL (the defaults). PX_INVALID for options out of range. */
px_status px_reco_model_train(const px_reco_baskets *b, const px_reco_model_opts *opts, px_reco_model **out);
void px_reco_model_free(px_reco_model *m); /* NULL is fine */

uint32_t px_reco_model_items(const px_reco_model *m);
const px_reco_model_stats *px_reco_model_stats_of(const px_reco_model *m);

/* The item's neighbours, best first (ties: lower item index first), at
 * most K; valid until the model is freed. PX_NOT_FOUND for an item index
 * the model does not have (*n is 0 then). An item nobody bought with
 * another has none. */
px_status px_reco_model_neighbours(const px_reco_model *m, uint32_t item, const px_reco_neighbour **out, size_t *n);

/* Items by popularity (the sum of their users' weights: with weights 1,
 * the number of users), most popular first, ties by index; only items
 * someone has. Valid until the model is freed. */
const uint32_t *px_reco_model_popular(const px_reco_model *m, size_t *n);
double px_reco_model_popularity(const px_reco_model *m, uint32_t item);

#endif
