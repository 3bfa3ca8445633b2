/* Splitting interactions into a training and a test part for offline
 * evaluation (eval.h):
 *
 * - time:DATE   interactions before DATE (YYYY-MM-DD: its midnight UTC,
 *               or an ISO 8601 time) train, the rest test. Needs times.
 * - random:F    a fraction F (0 < F < 1) of the distinct (user, item)
 *               pairs, drawn at random, with all their interactions, test.
 * - user:F      per user, round(F n_u) of the user's n_u distinct items
 *               (halves up), drawn at random, test; at most n_u - 1, so
 *               everyone keeps one item to be recommended from (the
 *               stratified split of most published tables).
 *
 * The random splits draw from a generator seeded with the caller's seed
 * (splitmix64): the same interactions and seed give the same split. */
#ifndef PX_RECO_SPLIT_H
#define PX_RECO_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/data.h"

typedef enum px_reco_split_kind {
  PX_RECO_SPLIT_TIME = 1,
  PX_RECO_SPLIT_RANDOM = 2,
  PX_RECO_SPLIT_USER = 3
} px_reco_split_kind;

typedef struct px_reco_split {
  px_reco_split_kind kind;
  int64_t time_ms; /* time: the first test time */
  double fraction; /* random, user: in (0, 1) */
} px_reco_split;

/* Reads "time:DATE", "random:F" or "user:F" (NUL-terminated). PX_INVALID
 * with err->reason when it is not one. */
px_status px_reco_split_parse(const char *spec, px_reco_split *out, px_error *err);
/* Writes the split back as text (out holds 64). */
void px_reco_split_format(const px_reco_split *s, char out[64]);

/* part[i] = 0 (train) or 1 (test) for each of the n interactions.
 * PX_INVALID for a time split over an interaction without a time, or an
 * index out of range. */
px_status px_reco_split_apply(const px_reco_interaction *x, size_t n, uint32_t n_users, uint32_t n_items,
                              const px_reco_split *s, uint64_t seed, uint8_t *part);

#endif
