/* The engine's registry: definitions from the log, compiled, with their
 * aggregations shared under stable keys, in evaluation order. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "segment/engine_int.h"

static void clear(px_engine *e) {
  for (size_t i = 0; i < e->nsegs; i++) {
    px_rule_free(e->segs[i].rule);
    free(e->segs[i].slots);
    free(e->segs[i].deps);
    free(e->segs[i].cslots);
    free(e->segs[i].cnames);
    free(e->segs[i].dependents);
  }
  free(e->always);
  free(e->ident_readers);
  free(e->trait_readers);
  free(e->time_segs);
  free(e->need);
  free(e->blank_in);
  free(e->blank_const);
  e->always = e->ident_readers = e->trait_readers = e->time_segs = NULL;
  e->need = e->blank_in = e->blank_const = NULL;
  e->nalways = e->nident = e->ntrait = e->ntime = e->blank_ready = 0;
  for (size_t i = 0; i < e->nevents; i++) free(e->events[i].slots);
  eng_map *maps[] = {&e->seg_names, &e->ctrait_names, &e->event_names};
  for (size_t i = 0; i < 3; i++) {
    free(maps[i]->keys);
    free(maps[i]->vals);
    memset(maps[i], 0, sizeof *maps[i]);
  }
  free(e->events);
  free(e->any_slots);
  free(e->slot_index);
  e->events = NULL;
  e->any_slots = NULL;
  e->slot_index = NULL;
  e->slot_mask = 0;
  e->nevents = 0;
  e->nany = 0;
  for (size_t i = 0; i < e->nctraits; i++) px_ctrait_free(&e->ctraits[i].t);
  for (size_t i = 0; i < e->nslots; i++) {
    if (e->states) px_buf_free(&e->states[i]);
    free(e->slots[i].readers);
  }
  free(e->states);
  free(e->sflags);
  free(e->puts);
  e->states = NULL;
  e->sflags = NULL;
  e->puts = NULL;
  free(e->segs);
  free(e->ctraits);
  free(e->slots);
  e->segs = NULL;
  e->ctraits = NULL;
  e->slots = NULL;
  e->nsegs = e->nctraits = e->nslots = 0;
}

static void destroy(void *p) {
  px_engine *e = p;
  eng_cache_free(e);
  clear(e);
  free(e->sources);
  free(e->spill);
  px_buf_free(&e->rec);
  px_psegs_free(&e->psegs);
  free(e);
}

/* ---- names to indexes ---- */

static size_t map_home(const eng_map *m, const char *key) { return (size_t)XXH64(key, strlen(key), 0) & m->mask; }

/* An empty map for n keys (at most half full). */
static px_status map_init(eng_map *m, size_t n) {
  size_t cap = 8;
  while (cap < 2 * n) cap *= 2;
  m->keys = calloc(cap, sizeof *m->keys);
  m->vals = malloc(cap * sizeof *m->vals);
  m->mask = cap - 1;
  return m->keys && m->vals ? PX_OK : PX_NOMEM;
}

/* Adds key (kept by pointer) unless present. */
static void map_put(eng_map *m, const char *key, int val) {
  size_t i = map_home(m, key);
  for (; m->keys[i]; i = (i + 1) & m->mask)
    if (strcmp(m->keys[i], key) == 0) return;
  m->keys[i] = key;
  m->vals[i] = val;
}

static int map_get(const eng_map *m, const char *key) {
  if (!m->keys) return -1;
  for (size_t i = map_home(m, key); m->keys[i]; i = (i + 1) & m->mask)
    if (strcmp(m->keys[i], key) == 0) return m->vals[i];
  return -1;
}

int eng_seg_find(const px_engine *e, const char *name) { return map_get(&e->seg_names, name); }
int eng_ctrait_find(const px_engine *e, const char *name) { return map_get(&e->ctrait_names, name); }

static size_t slot_home(uint64_t key, size_t mask) { return (size_t)(key ^ key >> 29) & mask; }

int eng_slot_find(const px_engine *e, uint64_t key) {
  if (!e->slot_index) return -1;
  for (size_t i = slot_home(key, e->slot_mask); e->slot_index[i]; i = (i + 1) & e->slot_mask)
    if (e->slots[e->slot_index[i] - 1].key == key) return e->slot_index[i] - 1;
  return -1;
}

const eng_event *eng_event_find(const px_engine *e, const char *name) {
  int i = map_get(&e->event_names, name);
  return i < 0 ? NULL : &e->events[i];
}

/* The slot of an aggregation, added if new; -1 when out of memory. */
static int slot_of(px_engine *e, size_t *cap, const px_rule_agg *a) {
  char text[PX_RULE_MAX_BYTES];
  if (px_rule_agg_print(a, text, sizeof text) != PX_OK) return -1;
  uint64_t key = XXH64(text, strlen(text), 0);
  for (size_t i = 0; i < e->nslots; i++)
    if (e->slots[i].key == key) return (int)i;
  if (e->nslots == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    eng_slot *p = realloc(e->slots, nc * sizeof *p);
    if (!p) return -1;
    e->slots = p;
    *cap = nc;
  }
  eng_slot *s = &e->slots[e->nslots];
  memset(s, 0, sizeof *s);
  s->key = key;
  s->agg = a;
  return (int)e->nslots++;
}

px_status eng_order(size_t n, const char *const *names, const char *const *const *reads, const int *nreads,
                    int *order, const char **cycle) {
  /* Depth-first, iteratively: 0 unseen, 1 on the path, 2 done. */
  unsigned char *mark = calloc(n ? n : 1, 1);
  int *stack = malloc((n ? n : 1) * sizeof *stack), *next = calloc(n ? n : 1, sizeof *next);
  px_status s = mark && stack && next ? PX_OK : PX_NOMEM;
  size_t no = 0;
  for (size_t root = 0; root < n && s == PX_OK; root++) {
    if (mark[root]) continue;
    int sp = 0;
    stack[sp++] = (int)root;
    mark[root] = 1;
    while (sp && s == PX_OK) {
      int v = stack[sp - 1];
      if (next[v] < nreads[v]) {
        const char *dep = reads[v][next[v]++];
        for (size_t w = 0; w < n; w++) {
          if (strcmp(names[w], dep) != 0) continue;
          if (mark[w] == 1) {
            if (cycle) *cycle = names[w];
            s = PX_INVALID;
          } else if (!mark[w]) {
            mark[w] = 1;
            stack[sp++] = (int)w;
          }
          break;
        }
      } else {
        mark[v] = 2;
        order[no++] = v;
        sp--;
      }
    }
  }
  free(mark);
  free(stack);
  free(next);
  return s;
}

/* What a rule reads besides aggregations and segments, from its references. */
static unsigned rule_reads(const px_rule *r) {
  unsigned reads = 0;
  for (int i = 0, n = px_rule_nrefs(r); i < n; i++) {
    px_rule_ns ns;
    px_rule_ref_at(r, i, &ns);
    switch (ns) {
      case PX_NS_TRAIT:
      case PX_NS_ACCOUNT:
      case PX_NS_CONSENT: reads |= READ_TRAITS; break;
      case PX_NS_IDENTIFIER: reads |= READ_IDENT; break;
      case PX_NS_PROFILE: reads |= READ_PROFILE; break;
      case PX_NS_COMPUTED: reads |= READ_COMPUTED; break;
      case PX_NS_SCORE: break; /* changes only by a refresh, which re-evaluates */
    }
  }
  return reads;
}

static px_status load_segments(px_txn *txn, const px_store *st, px_engine *e, size_t *capslots) {
  px_def *defs;
  size_t n;
  px_status s = px_def_list(txn, st, PX_DEF_SEGMENT, &defs, &n);
  if (s != PX_OK) return s;
  eng_seg *segs = calloc(n ? n : 1, sizeof *segs);
  if (!segs) s = PX_NOMEM;
  size_t ns = 0;
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    cJSON *body = cJSON_Parse(defs[i].body);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "rule"));
    px_rule *r = NULL;
    if (text && px_rule_compile(text, strlen(text), PX_RULE_PROFILE, &r, NULL) == PX_OK) {
      eng_seg *g = &segs[ns++];
      g->id = defs[i].id;
      snprintf(g->name, sizeof g->name, "%s", defs[i].name);
      g->rule = r;
      g->reads = rule_reads(r);
    } /* a stored rule that no longer compiles is left out (never: define checks) */
    cJSON_Delete(body);
  }
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  if (s != PX_OK) {
    free(segs);
    return s;
  }
  /* Evaluation order. */
  size_t m = ns ? ns : 1;
  const char **names = calloc(m, sizeof *names);
  const char ***reads = calloc(m, sizeof *reads);
  int *nreads = calloc(m, sizeof *nreads), *order = calloc(m, sizeof *order);
  if (!names || !reads || !nreads || !order) s = PX_NOMEM;
  for (size_t i = 0; i < ns && s == PX_OK; i++) {
    names[i] = segs[i].name;
    int nr = px_rule_nsegments(segs[i].rule);
    if (!(reads[i] = calloc((size_t)nr + 1, sizeof **reads))) {
      s = PX_NOMEM;
      break;
    }
    nreads[i] = nr;
    for (int k = 0; k < nr; k++) reads[i][k] = px_rule_segment_at(segs[i].rule, k);
  }
  if (s == PX_OK && eng_order(ns, names, (const char *const *const *)reads, nreads, order, NULL) != PX_OK) {
    for (size_t i = 0; i < ns; i++) order[i] = (int)i; /* a cycle (defined by hand): any order */
  }
  if (s == PX_OK) {
    e->segs = calloc(ns ? ns : 1, sizeof *e->segs);
    if (!e->segs) s = PX_NOMEM;
    for (size_t i = 0; i < ns && s == PX_OK; i++) e->segs[i] = segs[order[i]];
    if (s == PX_OK) e->nsegs = ns;
  }
  for (size_t i = 0; i < ns && reads; i++) free(reads[i]);
  free(names);
  free(reads);
  free(nreads);
  free(order);
  if (s != PX_OK) {
    for (size_t i = 0; i < ns; i++) px_rule_free(segs[i].rule);
    free(segs);
    return s;
  }
  free(segs);
  if ((s = map_init(&e->seg_names, e->nsegs)) != PX_OK) return s;
  for (size_t i = 0; i < e->nsegs; i++) map_put(&e->seg_names, e->segs[i].name, (int)i);
  /* Aggregation slots and dependency indexes. */
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) {
    eng_seg *g = &e->segs[i];
    int na = px_rule_naggs(g->rule), nd = px_rule_nsegments(g->rule);
    g->slots = malloc((size_t)(na ? na : 1) * sizeof *g->slots);
    g->deps = malloc((size_t)(nd ? nd : 1) * sizeof *g->deps);
    if (!g->slots || !g->deps) return PX_NOMEM;
    for (int k = 0; k < na; k++)
      if ((g->slots[k] = slot_of(e, capslots, px_rule_agg_at(g->rule, k))) < 0) return PX_NOMEM;
    for (int k = 0; k < nd; k++) g->deps[k] = eng_seg_find(e, px_rule_segment_at(g->rule, k));
    g->ndeps = nd;
  }
  return s;
}

static px_status load_ctraits(px_txn *txn, const px_store *st, px_engine *e, size_t *capslots) {
  px_def *defs;
  size_t n;
  px_status s = px_def_list(txn, st, PX_DEF_CTRAIT, &defs, &n);
  if (s != PX_OK) return s;
  e->ctraits = calloc(n ? n : 1, sizeof *e->ctraits);
  if (!e->ctraits) s = PX_NOMEM;
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    cJSON *body = cJSON_Parse(defs[i].body);
    eng_ctrait *c = &e->ctraits[e->nctraits];
    if (body && px_ctrait_parse(body, &c->t, NULL) == PX_OK) {
      c->id = defs[i].id;
      e->nctraits++;
      if ((c->slot = slot_of(e, capslots, &c->t.agg)) < 0) s = PX_NOMEM;
    }
    cJSON_Delete(body);
  }
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  return s;
}

/* Name maps and per-segment links that need every definition loaded: the
 * computed traits' names, each segment's computed-trait slots, and the
 * slots each event name feeds. */
static px_status link_defs(px_engine *e) {
  e->states = calloc(e->nslots ? e->nslots : 1, sizeof *e->states);
  e->sflags = calloc(e->nslots ? e->nslots : 1, 1);
  e->puts = calloc(e->nslots ? e->nslots : 1, sizeof *e->puts);
  if (!e->states || !e->sflags || !e->puts) return PX_NOMEM;
  for (size_t i = 0; i < e->nslots; i++) px_buf_init(&e->states[i], 0);
  px_status s = map_init(&e->ctrait_names, e->nctraits);
  for (size_t i = 0; i < e->nctraits && s == PX_OK; i++) map_put(&e->ctrait_names, e->ctraits[i].t.name, (int)i);
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) {
    eng_seg *g = &e->segs[i];
    int n = px_rule_nrefs(g->rule);
    g->cslots = malloc((size_t)(n ? n : 1) * sizeof *g->cslots);
    g->cnames = malloc((size_t)(n ? n : 1) * sizeof *g->cnames);
    if (!g->cslots || !g->cnames) return PX_NOMEM;
    for (int k = 0; k < n; k++) {
      px_rule_ns ns;
      const char *name = px_rule_ref_at(g->rule, k, &ns);
      int c = ns == PX_NS_COMPUTED ? eng_ctrait_find(e, name) : -1;
      if (c < 0) continue;
      g->cnames[g->ncslots] = name;
      g->cslots[g->ncslots++] = e->ctraits[c].slot;
    }
  }
  /* Who is re-evaluated for what (engine.c, run_profile). */
  size_t m = e->nsegs ? e->nsegs : 1;
  e->always = malloc(m * sizeof *e->always);
  e->ident_readers = malloc(m * sizeof *e->ident_readers);
  e->trait_readers = malloc(m * sizeof *e->trait_readers);
  e->time_segs = malloc(m * sizeof *e->time_segs);
  e->need = calloc(m, 1);
  e->blank_in = calloc(m, 1);
  e->blank_const = calloc(m, 1);
  if (!e->always || !e->ident_readers || !e->trait_readers || !e->time_segs || !e->need || !e->blank_in ||
      !e->blank_const)
    return PX_NOMEM;
  for (size_t i = 0; i < e->nsegs; i++) {
    eng_seg *g = &e->segs[i];
    if (g->reads & READ_PROFILE) e->always[e->nalways++] = (int)i;
    if (g->reads & READ_IDENT) e->ident_readers[e->nident++] = (int)i;
    if (g->reads & READ_TRAITS) e->trait_readers[e->ntrait++] = (int)i;
    if (px_rule_reads_now(g->rule)) e->time_segs[e->ntime++] = (int)i;
    for (int k = 0; k < g->ndeps; k++) {
      if (g->deps[k] < 0) continue;
      eng_seg *d = &e->segs[g->deps[k]];
      int *p = realloc(d->dependents, (size_t)(d->ndependents + 1) * sizeof *p);
      if (!p) return PX_NOMEM;
      d->dependents = p;
      d->dependents[d->ndependents++] = (int)i;
    }
  }
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) { /* each slot's readers */
    const eng_seg *g = &e->segs[i];
    int na = px_rule_naggs(g->rule);
    for (int k = 0; k < na + g->ncslots && s == PX_OK; k++) {
      eng_slot *sl = &e->slots[k < na ? g->slots[k] : g->cslots[k - na]];
      if (sl->nreaders && sl->readers[sl->nreaders - 1] == (int)i) continue;
      int *p = realloc(sl->readers, (size_t)(sl->nreaders + 1) * sizeof *p);
      if (!p) return PX_NOMEM;
      sl->readers = p;
      sl->readers[sl->nreaders++] = (int)i;
    }
  }
  size_t cap = 8;
  while (cap < 2 * e->nslots) cap *= 2;
  if (s == PX_OK && !(e->slot_index = calloc(cap, sizeof *e->slot_index))) s = PX_NOMEM;
  e->slot_mask = cap - 1;
  for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
    size_t j = slot_home(e->slots[i].key, e->slot_mask);
    while (e->slot_index[j]) j = (j + 1) & e->slot_mask;
    e->slot_index[j] = (int)i + 1;
  }
  if (s == PX_OK) s = map_init(&e->event_names, e->nslots);
  if (s == PX_OK && !(e->events = calloc(e->nslots ? e->nslots : 1, sizeof *e->events))) s = PX_NOMEM;
  if (s == PX_OK && !(e->any_slots = malloc((e->nslots ? e->nslots : 1) * sizeof *e->any_slots))) s = PX_NOMEM;
  for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
    const char *name = e->slots[i].agg->event;
    if (!name[0]) {
      e->any_slots[e->nany++] = (int)i;
      continue;
    }
    int v = map_get(&e->event_names, name);
    if (v < 0) {
      v = (int)e->nevents++;
      e->events[v].name = name;
      if (!(e->events[v].slots = malloc(e->nslots * sizeof *e->events[v].slots))) return PX_NOMEM;
      map_put(&e->event_names, name, v);
    }
    e->events[v].slots[e->events[v].n++] = (int)i;
  }
  return s;
}

px_status eng_reload(px_txn *txn, const px_store *st, px_engine *e) {
  px_status flushed = eng_cache_flush(txn, e); /* cached runs are in terms of the old slots */
  if (flushed != PX_OK) return flushed;
  eng_pcache kept = e->cache;
  eng_cache_free(e); /* spare entries are sized for the old slots */
  e->cache.txn = kept.txn; /* still deferred with this transaction */
  e->cache.st = kept.st;
  clear(e);
  uint64_t gen;
  px_status s = px_def_generation(txn, st, &gen);
  size_t cap = 0;
  if (s == PX_OK) s = load_segments(txn, st, e, &cap);
  if (s == PX_OK) s = load_ctraits(txn, st, e, &cap);
  if (s == PX_OK) s = link_defs(e);
  if (s != PX_OK) {
    clear(e);
    e->gen = UINT64_MAX;
    e->serial = 0;
    return s;
  }
  e->gen = gen;
  e->serial = px_txn_serial(txn);
  return PX_OK;
}

px_status eng_get(px_txn *txn, const px_store *st, px_engine **out) {
  px_engine *e = px_store_ext(st);
  uint64_t serial = px_txn_serial(txn);
  if (e && e->serial == serial) { /* checked in this transaction already */
    *out = e;
    return PX_OK;
  }
  if (!e) {
    if (!(e = calloc(1, sizeof *e))) return PX_NOMEM;
    e->gen = UINT64_MAX;
    px_buf_init(&e->rec, 0);
    px_store_set_ext(st, e, destroy);
  }
  uint64_t gen;
  px_status s = px_def_generation(txn, st, &gen);
  if (s != PX_OK) return s;
  if (gen != e->gen && (s = eng_reload(txn, st, e)) != PX_OK) return s;
  e->serial = serial;
  *out = e;
  return PX_OK;
}
