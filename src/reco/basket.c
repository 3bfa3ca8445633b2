/* Baskets from interactions: see basket.h. Two counting sorts (by item,
 * then stably by user) leave each user's interactions sorted by item in
 * O(interactions + users + items); repeated items are then combined. */
#include "reco/basket.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define DAY_MS 86400000.0

void px_reco_baskets_free(px_reco_baskets *b) {
  if (!b) return;
  free(b->start);
  free(b->items);
  free(b);
}

static int chosen(const uint8_t *part, uint8_t want, size_t i) { return !part || part[i] == want; }

/* The interaction's weight after decay to now (no decay without a time). */
static double decayed(const px_reco_interaction *x, double half_life_days, int64_t now) {
  if (half_life_days <= 0 || x->time_ms == PX_RECO_NO_TIME || now == PX_RECO_NO_TIME) return x->weight;
  double age = x->time_ms < now ? (double)(now - x->time_ms) / DAY_MS : 0;
  return x->weight * exp2(-age / half_life_days);
}

px_status px_reco_baskets_build(const px_reco_interaction *x, size_t n, const uint8_t *part, uint8_t want,
                                uint32_t n_users, uint32_t n_items, const px_reco_basket_opts *opts,
                                px_reco_baskets **out) {
  px_reco_basket_opts o = opts ? *opts : (px_reco_basket_opts){0};
  if (o.now_ms == 0) o.now_ms = PX_RECO_NO_TIME;
  if (!isfinite(o.half_life_days) || o.half_life_days < 0) return PX_INVALID;
  size_t m = 0;
  int64_t latest = PX_RECO_NO_TIME;
  for (size_t i = 0; i < n; i++) {
    if (!chosen(part, want, i)) continue;
    if (x[i].user >= n_users || x[i].item >= n_items || !(x[i].weight > 0)) return PX_INVALID;
    if (x[i].time_ms != PX_RECO_NO_TIME && (latest == PX_RECO_NO_TIME || x[i].time_ms > latest))
      latest = x[i].time_ms;
    m++;
  }
  if (o.now_ms == PX_RECO_NO_TIME) o.now_ms = latest;

  px_status st = PX_NOMEM;
  px_reco_baskets *b = calloc(1, sizeof *b);
  size_t *by_item = calloc((size_t)n_items + 1, sizeof *by_item);
  size_t *order = malloc((m ? m : 1) * sizeof *order);
  px_reco_item *tmp = malloc((m ? m : 1) * sizeof *tmp);
  if (!b || !by_item || !order || !tmp) goto out;
  b->n_users = n_users;
  b->n_items = n_items;
  b->now_ms = latest == PX_RECO_NO_TIME ? PX_RECO_NO_TIME : o.now_ms;
  if (!(b->start = calloc((size_t)n_users + 1, sizeof *b->start))) goto out;

  /* By item (stable), then by user (stable): each user's run is sorted by item. */
  for (size_t i = 0; i < n; i++)
    if (chosen(part, want, i)) by_item[x[i].item + 1]++;
  for (uint32_t k = 0; k < n_items; k++) by_item[k + 1] += by_item[k];
  for (size_t i = 0; i < n; i++)
    if (chosen(part, want, i)) order[by_item[x[i].item]++] = i;
  size_t *at = b->start; /* first the counts, then the positions */
  for (size_t k = 0; k < m; k++) at[x[order[k]].user + 1]++;
  for (uint32_t u = 0; u < n_users; u++) at[u + 1] += at[u];
  for (size_t k = 0; k < m; k++) {
    const px_reco_interaction *e = &x[order[k]];
    tmp[at[e->user]++] = (px_reco_item){e->item, (float)decayed(e, o.half_life_days, o.now_ms), e->time_ms};
  }
  /* at[u] is now the end of user u's run, the start of u + 1's. */

  /* Combine repeated items, in place, and record the new starts. */
  size_t w = 0, from = 0;
  for (uint32_t u = 0; u < n_users; u++) {
    size_t end = at[u];
    b->start[u] = w;
    for (size_t k = from; k < end; k++) {
      if (w > b->start[u] && tmp[w - 1].item == tmp[k].item) {
        px_reco_item *p = &tmp[w - 1];
        double v = o.combine == PX_RECO_COMBINE_SUM ? (double)p->weight + tmp[k].weight
                                                     : fmax(p->weight, tmp[k].weight);
        p->weight = (float)fmin(v, FLT_MAX);
        if (p->last_ms == PX_RECO_NO_TIME || (tmp[k].last_ms != PX_RECO_NO_TIME && tmp[k].last_ms > p->last_ms))
          p->last_ms = tmp[k].last_ms;
      } else {
        tmp[w++] = tmp[k];
      }
    }
    from = end;
  }
  b->start[n_users] = w;
  /* Decayed weights can underflow to 0: keep them positive. */
  for (size_t k = 0; k < w; k++)
    if (!(tmp[k].weight > 0)) tmp[k].weight = FLT_MIN;
  px_reco_item *items = realloc(tmp, (w ? w : 1) * sizeof *items);
  b->items = items ? items : tmp;
  tmp = NULL;
  *out = b;
  b = NULL;
  st = PX_OK;
out:
  px_reco_baskets_free(b);
  free(by_item);
  free(order);
  free(tmp);
  return st;
}

size_t px_reco_baskets_find(const px_reco_baskets *b, uint32_t u, uint32_t item) {
  if (u >= b->n_users) return SIZE_MAX;
  size_t lo = b->start[u], hi = b->start[u + 1];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->items[mid].item < item) lo = mid + 1;
    else hi = mid;
  }
  return lo < b->start[u + 1] && b->items[lo].item == item ? lo : SIZE_MAX;
}
