/* Training a model from the store (recs.h): every live profile's
 * interaction states (computed traits of function items) become the
 * interactions of src/reco, which trains the item-to-item model; then the
 * popularity within each fallback segment, and from the catalog the
 * categories and the rule's exclusions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/timeutil.h"
#include "catalog/catalog.h"
#include "compute/compute.h"
#include "reco/basket.h"
#include "recs/recs_int.h"
#include "segment/def.h"
#include "segment/members.h"

#define DAY_MS 86400000.0

static double now_s(void) { return (double)px_time_mono_ns() / 1e9; }

void px_recs_model_free(px_recs_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->npool; i++) px_reco_query_free(m->pool[i]);
  for (size_t i = 0; i < PX_RECS_MAX_SEGMENTS; i++) free(m->seg_popular[i]), free(m->seg_score[i]);
  px_reco_model_free(m->model);
  px_reco_ids_free(m->items);
  free(m->category);
  free(m->excluded);
  px_recs_def_free(&m->def);
  free(m);
}

const px_recs_stats *px_recs_model_stats(const px_recs_model *m) { return &m->stats; }

px_status px_recs_query_new(const px_recs_model *m, px_reco_query **out) {
  return px_reco_query_new(m->model, out);
}

/* The state keys of the interactions' computed traits. */
static px_status trait_keys(px_txn *txn, const px_store *st, px_recs_model *m) {
  px_status s = PX_OK;
  for (size_t i = 0; i < m->def.n_in && s == PX_OK; i++) {
    char name[32];
    snprintf(name, sizeof name, PX_RECS_TRAIT_PREFIX "%zu", i);
    px_ctrait t;
    if ((s = px_ctrait_get(txn, st, name, &t)) == PX_NOT_FOUND) return PX_STORE;
    if (s != PX_OK) return s;
    s = t.agg.fn == PX_AGG_ITEMS ? px_ctrait_state_key(&t, &m->keys[i]) : PX_STORE;
    px_ctrait_free(&t);
  }
  return s;
}

/* ---- reading the interactions ---- */

typedef struct reader {
  px_txn *txn;
  const px_store *st;
  px_recs_model *m;
  px_reco_interaction *x;
  size_t n, cap;
  uint16_t *segs; /* per customer: bit k when in fallback segment k */
  size_t segs_cap;
  px_psegs psegs;
  px_status s;
} reader;

static px_status push(reader *r, uint32_t user, uint32_t item, double w, int64_t t) {
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 4096;
    px_reco_interaction *p = realloc(r->x, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    r->x = p;
    r->cap = nc;
  }
  r->x[r->n++] = (px_reco_interaction){user, item, (float)w, t};
  return PX_OK;
}

static px_status note_segments(reader *r, uint64_t pid, uint32_t user) {
  px_recs_model *m = r->m;
  if (!m->def.n_segments) return PX_OK;
  if (user >= r->segs_cap) {
    size_t nc = r->segs_cap ? r->segs_cap * 2 : 4096;
    uint16_t *p = realloc(r->segs, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    r->segs = p;
    r->segs_cap = nc;
  }
  uint16_t bits = 0;
  px_status s = px_psegs_load(r->txn, r->st, pid, &r->psegs);
  for (size_t k = 0; s == PX_OK && k < m->def.n_segments; k++)
    if (m->seg_id[k] && px_psegs_has(&r->psegs, m->seg_id[k])) bits |= (uint16_t)(1u << k);
  r->segs[user] = bits;
  return s;
}

static int read_profile(void *arg, uint64_t pid, const MDB_val *states) {
  reader *r = arg;
  px_recs_model *m = r->m;
  uint32_t user = (uint32_t)m->stats.customers;
  size_t before = r->n;
  for (size_t i = 0; i < m->def.n_in && r->s == PX_OK; i++) {
    size_t pos = 0;
    px_agg_item it;
    while ((r->s = px_agg_items_next(states[i].mv_data, states[i].mv_size, &pos, &it)) == PX_OK) {
      uint32_t item;
      if ((r->s = px_reco_ids_intern(m->items, it.id, it.n, &item)) != PX_OK) break;
      if ((r->s = push(r, user, item, m->def.in[i].weight, it.last_ms)) != PX_OK) break;
    }
    if (r->s == PX_NOT_FOUND) r->s = PX_OK;
  }
  if (r->s == PX_OK && r->n > before) {
    m->stats.customers++;
    r->s = note_segments(r, pid, user);
  }
  return r->s != PX_OK;
}

/* ---- popularity within the fallback segments ---- */

typedef struct ranked {
  uint32_t item;
  double score;
} ranked;

static int by_score(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->item < y->item ? -1 : x->item > y->item;
}

/* The members' summed weights per item, best first (ties: lower index). */
static px_status segment_popularity(px_recs_model *m, const px_reco_baskets *b, const uint16_t *segs) {
  size_t ni = b->n_items;
  ranked *r = malloc((ni ? ni : 1) * sizeof *r);
  if (!r) return PX_NOMEM;
  px_status s = PX_OK;
  for (size_t k = 0; k < m->def.n_segments && s == PX_OK; k++) {
    if (!m->seg_id[k]) continue;
    for (size_t i = 0; i < ni; i++) r[i] = (ranked){(uint32_t)i, 0};
    for (uint32_t u = 0; u < b->n_users; u++)
      if (segs[u] >> k & 1)
        for (size_t e = b->start[u]; e < b->start[u + 1]; e++) r[b->items[e].item].score += b->items[e].weight;
    size_t n = 0;
    for (size_t i = 0; i < ni; i++)
      if (r[i].score > 0) r[n++] = r[i];
    qsort(r, n, sizeof *r, by_score);
    if (n > PX_RECS_SEGMENT_TOP) n = PX_RECS_SEGMENT_TOP;
    if (!(m->seg_popular[k] = malloc((n ? n : 1) * sizeof *m->seg_popular[k])) ||
        !(m->seg_score[k] = malloc((n ? n : 1) * sizeof *m->seg_score[k])))
      s = PX_NOMEM;
    for (size_t i = 0; s == PX_OK && i < n; i++) {
      m->seg_popular[k][i] = r[i].item;
      m->seg_score[k][i] = (float)r[i].score;
    }
    m->seg_n[k] = n;
  }
  free(r);
  return s;
}

/* ---- the catalog: categories and exclusions ---- */

typedef struct catalog_pass {
  px_recs_model *m;
  px_rule *rule;
  px_reco_ids *cats; /* category paths "A > B" */
  uint64_t *seen;    /* items the catalog has */
  px_buf path;
} catalog_pass;

static void set_bit(uint64_t *b, uint32_t i) { b[i >> 6] |= 1ULL << (i & 63); }

/* The product's category path as "A > B" into p->path (empty: none), and
 * the product object with category so written, for the exclude rule. */
static px_status category_of(catalog_pass *p, cJSON *product) {
  px_buf_reset(&p->path);
  cJSON *c = cJSON_GetObjectItemCaseSensitive(product, "category"), *part;
  int k = 0;
  px_status s = px_buf_reserve(&p->path, 1); /* an empty path is "" too */
  cJSON_ArrayForEach(part, c) {
    if (!cJSON_IsString(part) || s != PX_OK) continue;
    if (k++) s = px_buf_puts(&p->path, " > ");
    if (s == PX_OK) s = px_buf_puts(&p->path, part->valuestring);
  }
  if (s != PX_OK) return s;
  p->path.data[p->path.len] = 0;
  if (c && p->rule) {
    cJSON *flat = cJSON_CreateString(p->path.len ? p->path.data : "");
    if (!flat || !cJSON_ReplaceItemInObjectCaseSensitive(product, "category", flat)) {
      cJSON_Delete(flat);
      return PX_NOMEM;
    }
  }
  return PX_OK;
}

static px_status catalog_product(void *arg, const char *id, size_t idn, unsigned flags, const char *json, size_t jn) {
  (void)flags;
  catalog_pass *p = arg;
  px_recs_model *m = p->m;
  m->stats.catalog++;
  uint32_t item;
  if (px_reco_ids_find(m->items, id, idn, &item) != PX_OK) return PX_OK; /* nobody has it */
  set_bit(p->seen, item);
  if (!m->category && !p->rule) return PX_OK;
  cJSON *product = cJSON_ParseWithLength(json, jn);
  if (!product) return PX_STORE;
  px_status s = category_of(p, product);
  if (s == PX_OK && m->category && p->path.len) {
    /* A path longer than an id may be is numbered by its hash (64 bits). */
    char hashed[24];
    const char *key = p->path.data;
    size_t kn = p->path.len;
    if (kn > PX_RECO_MAX_ID_BYTES)
      kn = (size_t)snprintf(hashed, sizeof hashed, "#%016llx", (unsigned long long)XXH64(key, kn, 0)), key = hashed;
    uint32_t cat;
    if ((s = px_reco_ids_intern(p->cats, key, kn, &cat)) == PX_OK) m->category[item] = cat;
  }
  int hit = 0;
  if (s == PX_OK && p->rule && (s = px_rule_eval_event(p->rule, "product", product, &hit)) == PX_OK && hit)
    set_bit(m->excluded, item);
  cJSON_Delete(product);
  return s;
}

static px_status read_catalog(px_txn *txn, const px_store *st, px_recs_model *m) {
  uint32_t ni = px_reco_ids_count(m->items);
  size_t words = ((size_t)ni + 63) / 64 + 1;
  catalog_pass p = {.m = m};
  px_buf_init(&p.path, 0);
  px_status s = PX_OK;
  if (!(m->excluded = calloc(words, sizeof *m->excluded)) || !(p.seen = calloc(words, sizeof *p.seen))) s = PX_NOMEM;
  if (s == PX_OK && m->def.max_per_category) {
    /* Items the catalog gives no category keep one of their own, above
     * the catalog's categories' numbers, so the cap never groups them. */
    if (!(m->category = malloc((ni ? ni : 1) * sizeof *m->category)) || !(p.cats = px_reco_ids_new())) s = PX_NOMEM;
    for (uint32_t i = 0; s == PX_OK && i < ni; i++) m->category[i] = UINT32_MAX - i;
  }
  if (s == PX_OK && m->def.exclude) {
    px_rule_error re;
    s = px_rule_compile(m->def.exclude, strlen(m->def.exclude), PX_RULE_EVENT, &p.rule, &re);
    if (s == PX_INVALID) s = PX_STORE; /* checked when defined */
  }
  if (s == PX_OK) s = px_catalog_each(txn, st, catalog_product, &p);
  for (uint32_t i = 0; s == PX_OK && m->def.catalog_only && i < ni; i++)
    if (!(p.seen[i >> 6] >> (i & 63) & 1)) set_bit(m->excluded, i);
  for (uint32_t i = 0; s == PX_OK && i < ni; i++) m->stats.excluded += m->excluded[i >> 6] >> (i & 63) & 1;
  px_rule_free(p.rule);
  px_reco_ids_free(p.cats);
  free(p.seen);
  px_buf_free(&p.path);
  return s;
}

/* ---- training ---- */

static px_status segment_ids(px_txn *txn, const px_store *st, px_recs_model *m) {
  for (size_t k = 0; k < m->def.n_segments; k++) {
    px_def d;
    px_status s = px_def_get(txn, st, PX_DEF_SEGMENT, m->def.segments[k], &d);
    if (s == PX_NOT_FOUND) continue; /* not (yet) defined: skipped */
    if (s != PX_OK) return s;
    m->seg_id[k] = d.id;
    px_def_free(&d);
  }
  return PX_OK;
}

/* Everything training needs from the store, in one read transaction: the
 * definition, the interactions (items numbered by their ids, as
 * px_reco_read numbers a file's: results depend on the data, not on the
 * order profiles were made in, and equal the offline library's on the
 * same data) and the catalog. Fitting then runs with no snapshot held. */
static px_status read_store(px_txn *txn, const px_store *st, px_recs_model *m, reader *r) {
  double t0 = now_s();
  px_status s = px_recs_def_get(txn, st, &m->def, &m->stats.def_updated_ms);
  if (s == PX_OK) s = trait_keys(txn, st, m);
  if (s == PX_OK) s = segment_ids(txn, st, m);
  if (s == PX_OK && !(m->items = px_reco_ids_new())) s = PX_NOMEM;
  uint64_t live = 0;
  if (s == PX_OK && (s = px_store_counter(txn, st, "profiles", &live)) == PX_OK) m->stats.profiles = (size_t)live;
  if (s == PX_OK) s = px_ctrait_states_each(txn, st, m->keys, m->def.n_in, read_profile, r);
  if (s == PX_OK) s = r->s;
  if (s == PX_OK) s = px_reco_sort_items(&m->items, r->x, r->n);
  double t1 = now_s();
  m->stats.read_s = t1 - t0;
  if (s == PX_OK) s = read_catalog(txn, st, m);
  m->stats.catalog_s = now_s() - t1;
  return s;
}

px_status px_recs_train(px_store *st, int64_t now_ms, px_recs_model **out) {
  *out = NULL;
  double t0 = now_s();
  px_recs_model *m = calloc(1, sizeof *m);
  if (!m) return PX_NOMEM;
  m->stats.trained_ms = now_ms;
  reader r = {.st = st, .m = m};
  px_status s = px_store_begin(st, PX_TXN_READ, &r.txn);
  if (s == PX_OK) s = read_store(r.txn, st, m, &r);
  px_store_abort(r.txn);
  px_psegs_free(&r.psegs);
  double t1 = now_s();
  px_reco_baskets *b = NULL;
  if (s == PX_OK) {
    px_reco_basket_opts bo = {PX_RECO_COMBINE_MAX, (double)m->def.half_life_ms / DAY_MS, now_ms};
    s = px_reco_baskets_build(r.x, r.n, NULL, 0, (uint32_t)m->stats.customers, px_reco_ids_count(m->items), &bo,
                              &b);
  }
  free(r.x);
  if (s == PX_OK) {
    px_reco_model_opts mo = {m->def.neighbours, m->def.shrinkage, m->def.locality, 2};
    s = px_reco_model_train(b, &mo, &m->model);
  }
  if (s == PX_OK) s = segment_popularity(m, b, r.segs);
  if (b) m->stats.pairs = b->start[b->n_users];
  free(r.segs);
  px_reco_baskets_free(b);
  m->stats.train_s = now_s() - t1;
  m->stats.total_s = now_s() - t0;
  if (s != PX_OK) {
    px_recs_model_free(m);
    return s;
  }
  m->stats.items = px_reco_ids_count(m->items);
  m->stats.neighbours = px_reco_model_stats_of(m->model)->neighbours;
  *out = m;
  return PX_OK;
}

px_status px_recs_stats_json(const px_recs_stats *s, px_buf *out) {
  char at[32], def[32];
  px_time_format_iso(s->trained_ms, at);
  px_time_format_iso(s->def_updated_ms, def);
  return px_buf_printf(out,
                       "{\"trained_at\":\"%s\",\"definition_updated_at\":\"%s\",\"profiles\":%zu,\"customers\":%zu,"
                       "\"items\":%zu,\"pairs\":%zu,\"neighbours\":%zu,\"catalog_products\":%zu,\"excluded_items\":%zu,"
                       "\"seconds\":{\"read\":%.3f,\"train\":%.3f,\"catalog\":%.3f,\"total\":%.3f}}",
                       at, def, s->profiles, s->customers, s->items, s->pairs, s->neighbours, s->catalog, s->excluded,
                       s->read_s, s->train_s, s->catalog_s, s->total_s);
}
