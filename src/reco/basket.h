/* Baskets: per user, the distinct items of their interactions, each with
 * one weight and the time of its last interaction. What training reads
 * (every user's basket), what a recommendation is scored from (one
 * customer's basket) and what the splits group by.
 *
 * A user's weight for an item combines the weights of their interactions
 * with it: by default the largest (PX_RECO_COMBINE_MAX: buying an item ten
 * times is not ten times the evidence that it goes with the rest of the
 * basket, and with typed weights the strongest kind of interaction counts:
 * a purchase outweighs a view of the same item), or their sum. With a
 * half-life, each interaction's weight first decays by
 * 2^-(age / half-life), age taken at the reference time. */
#ifndef PX_RECO_BASKET_H
#define PX_RECO_BASKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/data.h"

typedef enum px_reco_combine { PX_RECO_COMBINE_MAX = 0, PX_RECO_COMBINE_SUM = 1 } px_reco_combine;

typedef struct px_reco_basket_opts {
  px_reco_combine combine;
  double half_life_days; /* 0: no decay */
  int64_t now_ms;        /* the reference time for decay; PX_RECO_NO_TIME (or 0): the latest interaction */
} px_reco_basket_opts;

/* One item of a user's basket. */
typedef struct px_reco_item {
  uint32_t item;
  float weight;    /* > 0 */
  int64_t last_ms; /* the latest interaction with it (PX_RECO_NO_TIME: none had a time) */
} px_reco_item;

/* Users' baskets, items sorted by index: user u's are items[start[u]] up
 * to items[start[u + 1]] (exclusive). Every field is the caller's to read. */
typedef struct px_reco_baskets {
  uint32_t n_users, n_items; /* index ranges (users or items may have nothing) */
  size_t *start;             /* n_users + 1 */
  px_reco_item *items;       /* start[n_users] of them: the distinct (user, item) pairs */
  int64_t now_ms;            /* the reference time used (PX_RECO_NO_TIME when no interaction has a time) */
} px_reco_baskets;

/* Builds the baskets of the interactions x[i] whose part[i] is want (all
 * of them when part is NULL). Indexes must be below n_users and n_items
 * (PX_INVALID otherwise); opts may be NULL (the defaults). */
px_status px_reco_baskets_build(const px_reco_interaction *x, size_t n, const uint8_t *part, uint8_t want,
                                uint32_t n_users, uint32_t n_items, const px_reco_basket_opts *opts,
                                px_reco_baskets **out);
void px_reco_baskets_free(px_reco_baskets *b); /* NULL is fine */

/* The position of item in user u's basket (an index into items), or
 * SIZE_MAX when the user does not have it. */
size_t px_reco_baskets_find(const px_reco_baskets *b, uint32_t u, uint32_t item);

#endif
