/* Interactions with interned ids: see data.h. */
#include "reco/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct px_reco_data {
  px_reco_ids *users, *items;
  px_reco_interaction *x;
  size_t n, cap;
};

px_reco_data *px_reco_data_new(void) {
  px_reco_data *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->users = px_reco_ids_new();
  d->items = px_reco_ids_new();
  if (!d->users || !d->items) {
    px_reco_data_free(d);
    return NULL;
  }
  return d;
}

void px_reco_data_free(px_reco_data *d) {
  if (!d) return;
  px_reco_ids_free(d->users);
  px_reco_ids_free(d->items);
  free(d->x);
  free(d);
}

px_status px_reco_data_add(px_reco_data *d, const char *user, size_t user_n, const char *item, size_t item_n,
                           double weight, int64_t time_ms) {
  if (!isfinite(weight) || weight <= 0 || weight > 3.0e38) return PX_INVALID;
  if (d->n >= PX_RECO_MAX_INTERACTIONS) return PX_TOO_LARGE;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 4096;
    px_reco_interaction *x = realloc(d->x, cap * sizeof *x);
    if (!x) return PX_NOMEM;
    d->x = x;
    d->cap = cap;
  }
  uint32_t u, i;
  /* The item is checked first, so that a bad one adds no user. */
  if (!item_n || item_n > PX_RECO_MAX_ID_BYTES || memchr(item, 0, item_n)) return PX_INVALID;
  px_status st = px_reco_ids_intern(d->users, user, user_n, &u);
  if (st != PX_OK) return st;
  if ((st = px_reco_ids_intern(d->items, item, item_n, &i)) != PX_OK) return st;
  d->x[d->n++] = (px_reco_interaction){u, i, (float)weight, time_ms};
  return PX_OK;
}

const px_reco_interaction *px_reco_data_interactions(const px_reco_data *d, size_t *n) {
  *n = d->n;
  return d->x;
}

const px_reco_ids *px_reco_data_users(const px_reco_data *d) { return d->users; }
const px_reco_ids *px_reco_data_items(const px_reco_data *d) { return d->items; }

px_status px_reco_sort_items(px_reco_ids **items, px_reco_interaction *x, size_t n) {
  uint32_t ni = px_reco_ids_count(*items);
  uint32_t *map = malloc((ni ? ni : 1) * sizeof *map);
  px_reco_ids *sorted = NULL;
  px_status st = map ? px_reco_ids_sorted(*items, &sorted, map) : PX_NOMEM;
  if (st == PX_OK) {
    for (size_t i = 0; i < n; i++) x[i].item = map[x[i].item];
    px_reco_ids_free(*items);
    *items = sorted;
  }
  free(map);
  return st;
}

px_status px_reco_data_sort_items(px_reco_data *d) { return px_reco_sort_items(&d->items, d->x, d->n); }
