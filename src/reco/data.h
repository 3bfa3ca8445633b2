/* Interactions from implicit feedback (purchases, views, cart additions):
 * (user, item, weight, time), with string ids mapped to dense indexes
 * (ids.h). What training, the splits and the evaluation read. */
#ifndef PX_RECO_DATA_H
#define PX_RECO_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "reco/ids.h"

/* An interaction without a time: it counts as happening at the reference
 * time (no decay, never outside a repurchase window). */
#define PX_RECO_NO_TIME INT64_MIN
/* At most this many interactions in one px_reco_data (PX_TOO_LARGE). */
#define PX_RECO_MAX_INTERACTIONS ((size_t)1 << 31)

typedef struct px_reco_interaction {
  uint32_t user, item; /* dense indexes */
  float weight;        /* > 0: e.g. 1 for a purchase; views and cart additions lighter */
  int64_t time_ms;     /* Unix milliseconds, or PX_RECO_NO_TIME */
} px_reco_interaction;

typedef struct px_reco_data px_reco_data;

px_reco_data *px_reco_data_new(void);
void px_reco_data_free(px_reco_data *d); /* NULL is fine */

/* Appends one interaction, interning both ids. PX_INVALID for a bad id
 * (ids.h) or a weight that is not a finite number > 0 (nothing is added
 * then); PX_TOO_LARGE past the limits. */
px_status px_reco_data_add(px_reco_data *d, const char *user, size_t user_n, const char *item, size_t item_n,
                           double weight, int64_t time_ms);

/* Renumbers the items of interactions x[0..n) in byte order of their ids
 * (px_reco_ids_sorted), replacing *items with the sorted dictionary. */
px_status px_reco_sort_items(px_reco_ids **items, px_reco_interaction *x, size_t n);
/* The same for d's items; px_reco_read does it once read. */
px_status px_reco_data_sort_items(px_reco_data *d);

/* Everything added so far, in order; valid until the next add or the free. */
const px_reco_interaction *px_reco_data_interactions(const px_reco_data *d, size_t *n);
/* The user and item dictionaries (indexes of the interactions). */
const px_reco_ids *px_reco_data_users(const px_reco_data *d);
const px_reco_ids *px_reco_data_items(const px_reco_data *d);

#endif
