/* Queries on a trained model against the store (recs.h): a customer's
 * basket from their interaction states, read now; the catalog's stock,
 * read now for each candidate; the result as JSON. */
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "catalog/catalog.h"
#include "compute/compute.h"
#include "recs/recs_int.h"
#include "segment/members.h"

/* What the exclusion callback needs. */
typedef struct filter {
  const px_recs_model *m;
  px_txn *txn;
  const px_store *st;
  uint32_t exclude[PX_RECS_MAX_EXCLUDE]; /* opts->exclude the model knows */
  size_t n_exclude;
  px_status s; /* a store error met while filtering */
} filter;

/* The request's ids and the catalog's stock (the model's exclusions are the
 * request's exclude_bits). A product the catalog no longer has counts as
 * excluded with catalog_only. */
static int excluded(void *arg, uint32_t item) {
  filter *f = arg;
  for (size_t i = 0; i < f->n_exclude; i++)
    if (f->exclude[i] == item) return 1;
  const char *id = px_reco_ids_name(f->m->items, item);
  int available = 1;
  px_status s = px_catalog_available(f->txn, f->st, id, strlen(id), &available);
  if (s != PX_OK && s != PX_NOT_FOUND) {
    f->s = s;
    return 1;
  }
  return s == PX_NOT_FOUND ? f->m->def.catalog_only : !available;
}

static px_status start_filter(filter *f, const px_recs_model *m, px_txn *txn, const px_store *st,
                              const px_recs_opts *o, px_error *err) {
  *f = (filter){.m = m, .txn = txn, .st = st};
  if (o->n < 1 || o->n > PX_RECS_MAX_N)
    return px_error_set(err, PX_INVALID, "n", "must be a whole number from 1 to %d", PX_RECS_MAX_N);
  if (o->n_exclude > PX_RECS_MAX_EXCLUDE)
    return px_error_set(err, PX_INVALID, "exclude", "at most %d items", PX_RECS_MAX_EXCLUDE);
  for (size_t i = 0; i < o->n_exclude; i++) {
    uint32_t item;
    if (px_reco_ids_find(m->items, o->exclude[i], strlen(o->exclude[i]), &item) == PX_OK)
      f->exclude[f->n_exclude++] = item;
  }
  return PX_OK;
}

int px_recs_split_ids(char *list, const char **ids, size_t *n) {
  *n = 0;
  for (char *p = list; p;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    if (*p) {
      if (*n == PX_RECS_MAX_EXCLUDE) return 0;
      ids[(*n)++] = p;
    }
    p = comma ? comma + 1 : NULL;
  }
  return 1;
}

/* ---- a customer's basket ---- */

typedef struct basket {
  px_reco_item *items;
  int64_t *bought; /* the item's last purchase, NOT_BOUGHT when it was only viewed or carted */
  uint8_t *owned;  /* bought within the repurchase window (set by load_basket) */
  size_t n, cap;
} basket;

#define NOT_BOUGHT INT64_MIN

static void basket_free(basket *b) {
  free(b->items);
  free(b->bought);
  free(b->owned);
}

static px_status basket_add(basket *b, uint32_t item, double w, int64_t t, int64_t bought) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    px_reco_item *p = realloc(b->items, nc * sizeof *p);
    if (p) b->items = p;
    int64_t *q = realloc(b->bought, nc * sizeof *q);
    if (q) b->bought = q;
    uint8_t *o = realloc(b->owned, nc);
    if (o) b->owned = o;
    if (!p || !q || !o) return PX_NOMEM;
    b->cap = nc;
  }
  b->items[b->n] = (px_reco_item){item, (float)w, t};
  b->bought[b->n++] = bought;
  return PX_OK;
}

static int by_item(const void *a, const void *b) {
  uint32_t x = ((const px_reco_item *)a)->item, y = ((const px_reco_item *)b)->item;
  return x < y ? -1 : x > y;
}

/* One entry per item: the largest weight, the latest time of any tie, the
 * latest purchase. */
static px_status combine(basket *b) {
  typedef struct tagged {
    px_reco_item it; /* first: what by_item compares */
    int64_t bought;
  } tagged;
  tagged *t = malloc(b->n * sizeof *t);
  if (!t) return PX_NOMEM;
  for (size_t i = 0; i < b->n; i++) t[i] = (tagged){b->items[i], b->bought[i]};
  qsort(t, b->n, sizeof *t, by_item);
  size_t w = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (w && t[i].it.item == b->items[w - 1].item) {
      px_reco_item *o = &b->items[w - 1];
      if (t[i].it.weight > o->weight) o->weight = t[i].it.weight;
      if (t[i].it.last_ms > o->last_ms) o->last_ms = t[i].it.last_ms;
      if (t[i].bought > b->bought[w - 1]) b->bought[w - 1] = t[i].bought;
    } else {
      b->items[w] = t[i].it;
      b->bought[w++] = t[i].bought;
    }
  }
  b->n = w;
  free(t);
  return PX_OK;
}

/* The profile's items the model knows, with their weights and times, and
 * which it owns at now_ms: bought, and not longer ago than the repurchase
 * window (counted from the last purchase, whatever views came after). */
static px_status load_basket(const px_recs_model *m, px_txn *txn, const px_store *st, uint64_t pid, int64_t now_ms,
                             basket *b) {
  MDB_val states[PX_RECS_MAX_INTERACTIONS];
  px_status s = px_ctrait_states(txn, st, pid, m->keys, m->def.n_in, states);
  size_t kinds = 0;
  for (size_t i = 0; i < m->def.n_in && s == PX_OK; i++) {
    size_t pos = 0, before = b->n;
    int purchase = m->def.in[i].kind == PX_RECS_PURCHASE;
    px_agg_item it;
    while ((s = px_agg_items_next(states[i].mv_data, states[i].mv_size, &pos, &it)) == PX_OK) {
      uint32_t item;
      if (px_reco_ids_find(m->items, it.id, it.n, &item) != PX_OK) continue; /* new since training */
      if ((s = basket_add(b, item, m->def.in[i].weight, it.last_ms, purchase ? it.last_ms : NOT_BOUGHT)) != PX_OK)
        break;
    }
    if (s == PX_NOT_FOUND) s = PX_OK;
    kinds += b->n > before;
  }
  if (s == PX_OK && kinds > 1) s = combine(b);
  int64_t window = m->def.repurchase_ms;
  for (size_t k = 0; s == PX_OK && k < b->n; k++)
    b->owned[k] =
        b->bought[k] != NOT_BOUGHT && !(window > 0 && b->bought[k] < now_ms && now_ms - b->bought[k] > window);
  return s;
}

/* ---- output ---- */

static void put_model(const px_recs_model *m, px_buf *out) {
  char at[32];
  px_time_format_iso(m->stats.trained_ms, at);
  px_buf_printf(out, ",\"model\":{\"trained_at\":\"%s\"}}", at);
}

/* A score (a float) in 9 significant digits, which read back to the same
 * float: one printf, where the shortest-double search takes up to three
 * and a strtod each (a tenth of a request's time, measured). */
static void put_score(px_buf *out, float f) { px_buf_printf(out, "%.9g", (double)f); }

static px_status put_item(const px_recs_model *m, px_txn *txn, const px_store *st, const px_reco_rec *r,
                          int reasons, px_buf *out) {
  const char *id = px_reco_ids_name(m->items, r->item);
  px_buf_puts(out, "{\"id\":");
  px_buf_json_str(out, id, strlen(id));
  px_buf_puts(out, ",\"score\":");
  put_score(out, r->score);
  if (reasons) {
    px_buf_printf(out, ",\"source\":\"%s\",\"reasons\":[", r->popular ? "popular" : "similar");
    for (int k = 0; k < r->n_reasons; k++) {
      const char *from = px_reco_ids_name(m->items, r->reason[k]);
      px_buf_puts(out, k ? ",{\"id\":" : "{\"id\":");
      px_buf_json_str(out, from, strlen(from));
      px_buf_puts(out, ",\"score\":");
      put_score(out, r->reason_score[k]);
      px_buf_putc(out, '}');
    }
    px_buf_putc(out, ']');
  }
  MDB_val product;
  px_status s = px_catalog_get(txn, st, id, strlen(id), &product);
  if (s == PX_OK) {
    px_buf_puts(out, ",\"product\":");
    px_buf_append(out, product.mv_data, product.mv_size);
  } else if (s != PX_NOT_FOUND) {
    return s;
  }
  return px_buf_putc(out, '}');
}

static px_status put_items(const px_recs_model *m, px_txn *txn, const px_store *st, const px_reco_rec *r, size_t n,
                           int reasons, px_buf *out) {
  px_status s = px_buf_puts(out, ",\"items\":[");
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    if (i) px_buf_putc(out, ',');
    s = put_item(m, txn, st, &r[i], reasons, out);
  }
  return s == PX_OK ? px_buf_putc(out, ']') : s;
}

/* ---- the queries ---- */

/* The fallback segment: opts->segment (one of the definition's), else the
 * first of the definition's the profile is in; -1: overall popularity. */
static px_status fallback_segment(const px_recs_model *m, px_txn *txn, const px_store *st, uint64_t pid,
                                  const px_recs_opts *o, int *k, px_error *err) {
  *k = -1;
  if (o->segment) {
    for (size_t i = 0; i < m->def.n_segments; i++)
      if (strcmp(m->def.segments[i], o->segment) == 0) {
        if (m->seg_id[i]) *k = (int)i;
        return PX_OK;
      }
    return px_error_set(err, PX_INVALID, "segment", "not one of the definition's fallback_segments");
  }
  if (!m->def.n_segments) return PX_OK;
  px_psegs p = {0};
  px_status s = px_psegs_load(txn, st, pid, &p);
  for (size_t i = 0; s == PX_OK && i < m->def.n_segments && *k < 0; i++)
    if (m->seg_id[i] && px_psegs_has(&p, m->seg_id[i])) *k = (int)i;
  px_psegs_free(&p);
  return s;
}

px_status px_recs_for_profile(const px_recs_model *m, px_reco_query *q, px_txn *txn, const px_store *st,
                              uint64_t pid, const px_recs_opts *o, px_buf *out, px_error *err) {
  filter f;
  px_status s = start_filter(&f, m, txn, st, o, err);
  if (s != PX_OK) return s;
  int seg = -1;
  if ((s = fallback_segment(m, txn, st, pid, o, &seg, err)) != PX_OK) return s;
  basket b = {0};
  px_reco_rec recs[PX_RECS_MAX_N];
  size_t got = 0;
  if ((s = load_basket(m, txn, st, pid, o->now_ms, &b)) == PX_OK) {
    px_reco_request r = {
        .items = b.items, .n_items = b.n, .owned = b.owned, .n = o->n, .now_ms = o->now_ms,
        .max_items = m->def.recent_items, .exclude_bits = m->excluded,
        .exclude = excluded, .exclude_arg = &f,
        .category = m->category, .max_per_category = m->def.max_per_category,
        .popular = seg >= 0 ? m->seg_popular[seg] : NULL, .popular_score = seg >= 0 ? m->seg_score[seg] : NULL,
        .n_popular = seg >= 0 ? m->seg_n[seg] : 0};
    s = px_reco_recommend(q, &r, recs, &got);
  }
  basket_free(&b);
  if (s == PX_OK) s = f.s;
  if (s != PX_OK) return s;
  int fell_back = 0;
  for (size_t i = 0; i < got; i++) fell_back |= recs[i].popular;
  px_buf_printf(out, "{\"profile\":\"%016llx\"", (unsigned long long)pid);
  if ((s = put_items(m, txn, st, recs, got, 1, out)) != PX_OK) return s;
  px_buf_puts(out, ",\"fallback\":");
  if (!fell_back) {
    px_buf_puts(out, "null");
  } else if (seg < 0) {
    px_buf_puts(out, "\"overall\"");
  } else {
    px_buf_puts(out, "{\"segment\":");
    px_buf_json_str(out, m->def.segments[seg], strlen(m->def.segments[seg]));
    px_buf_putc(out, '}');
  }
  put_model(m, out);
  return PX_OK;
}

px_status px_recs_similar(const px_recs_model *m, px_reco_query *q, px_txn *txn, const px_store *st,
                          const char *item, size_t item_n, const px_recs_opts *o, px_buf *out, px_error *err) {
  filter f;
  px_status s = start_filter(&f, m, txn, st, o, err);
  if (s != PX_OK) return s;
  uint32_t idx;
  if (px_reco_ids_find(m->items, item, item_n, &idx) != PX_OK) return PX_NOT_FOUND;
  px_reco_request r = {.n = o->n, .now_ms = o->now_ms, .exclude_bits = m->excluded, .exclude = excluded,
                       .exclude_arg = &f, .category = m->category, .max_per_category = m->def.max_per_category};
  px_reco_rec recs[PX_RECS_MAX_N];
  size_t got = 0;
  s = px_reco_similar(q, idx, &r, recs, &got);
  if (s == PX_OK) s = f.s;
  if (s != PX_OK) return s;
  px_buf_puts(out, "{\"item\":");
  px_buf_json_str(out, item, item_n);
  if ((s = put_items(m, txn, st, recs, got, 0, out)) != PX_OK) return s;
  put_model(m, out);
  return PX_OK;
}
