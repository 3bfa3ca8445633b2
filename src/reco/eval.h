/* Offline evaluation: split the interactions (split.h), train the model on
 * the training part, and for every evaluated user rank k items they did
 * not have in training, by the model and by the popularity baseline; the
 * mean metrics (metrics.h) and the catalog coverage of each.
 *
 * The evaluated users are those with interactions in both parts and at
 * least one relevant item; a user's relevant items are the test part's
 * items they did not have in the training part (items they had again are
 * not new, and the recommenders exclude them). Relevant items the training
 * part never saw stay relevant (no recommender can find them: they lower
 * recall for both). Coverage is the share of the training part's items
 * recommended to at least one evaluated user. */
#ifndef PX_RECO_EVAL_H
#define PX_RECO_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/basket.h"
#include "reco/model.h"
#include "reco/split.h"

#define PX_RECO_MAX_K 1000

typedef struct px_reco_eval_opts {
  px_reco_split split;
  uint64_t seed;                /* for the random splits */
  size_t k;                     /* the cutoff, 1..PX_RECO_MAX_K */
  px_reco_basket_opts basket;   /* how the training part's baskets are built */
  px_reco_model_opts model;    /* start from px_reco_model_defaults() */
  size_t max_items;             /* the requests' max_items (recommend.h): 0 scores from all */
} px_reco_eval_opts;

typedef struct px_reco_scores {
  double precision, recall, ndcg, map, coverage; /* means over the evaluated users */
  size_t items_recommended;                      /* distinct, over all evaluated users */
} px_reco_scores;

typedef struct px_reco_eval {
  px_reco_scores model, popularity;
  size_t train, test;              /* interactions in each part */
  size_t train_users, train_items; /* with a training interaction */
  size_t test_users;               /* with a test interaction */
  size_t cold_users;               /* of which without a training interaction (not evaluated) */
  size_t nothing_new_users;        /* of which every test item was in training (not evaluated) */
  size_t users;                    /* evaluated */
  size_t relevant;                 /* relevant (user, item) pairs of the evaluated users */
  size_t relevant_unknown;         /* of which the item is not in the training part */
  double split_s, train_s, rank_s; /* wall times: splitting, baskets + training, ranking + scoring */
  px_reco_model_stats stats;       /* of the trained model */
} px_reco_eval;

/* PX_INVALID for options out of range or a time split over interactions
 * without times; PX_NOT_FOUND when no user can be evaluated. */
px_status px_reco_evaluate(const px_reco_interaction *x, size_t n, uint32_t n_users, uint32_t n_items,
                           const px_reco_eval_opts *o, px_reco_eval *out);

#endif
