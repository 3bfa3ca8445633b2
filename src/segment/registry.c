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
  }
  for (size_t i = 0; i < e->nctraits; i++) px_ctrait_free(&e->ctraits[i].t);
  for (size_t i = 0; i < e->nslots; i++) px_buf_free(&e->slots[i].state);
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
  clear(e);
  free(e->sources);
  free(e->spill);
  px_psegs_free(&e->psegs);
  free(e);
}

int eng_seg_find(const px_engine *e, const char *name) {
  for (size_t i = 0; i < e->nsegs; i++)
    if (strcmp(e->segs[i].name, name) == 0) return (int)i;
  return -1;
}

int eng_ctrait_find(const px_engine *e, const char *name) {
  for (size_t i = 0; i < e->nctraits; i++)
    if (strcmp(e->ctraits[i].t.name, name) == 0) return (int)i;
  return -1;
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
  px_buf_init(&s->state, 0);
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

/* Canonical text, scanned for the profile data it reads. Errs towards
 * reading more (a where clause outside an aggregation would count as
 * traits): that costs evaluations, never a missed change. */
static const char *const keywords[] = {"and", "or", "not", "in", "is", "null", "true", "false", "contains",
                                       "starts", "ends", "with", "before", "after", "ago", "no", "at", "least",
                                       "most", "event", "events", "where", "of", "segment", "to", "last",
                                       "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"};

static int is_word_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_word(char c) { return is_word_start(c) || (c >= '0' && c <= '9'); }

static size_t skip_string(const char *t, size_t i) { /* t[i] == '"' */
  for (i++; t[i] && t[i] != '"'; i++)
    if (t[i] == '\\' && t[i + 1]) i++;
  return t[i] ? i + 1 : i;
}

static size_t skip_name(const char *t, size_t i) {
  if (t[i] == '"') return skip_string(t, i);
  while (is_word(t[i])) i++;
  return i;
}

static size_t skip_path(const char *t, size_t i) {
  i = skip_name(t, i);
  while (t[i] == '.') i = skip_name(t, i + 1);
  return i;
}

static size_t skip_spaces(const char *t, size_t i) {
  while (t[i] == ' ') i++;
  return i;
}

static unsigned scan_reads(const char *t) {
  unsigned reads = 0;
  size_t i = 0;
  while (t[i]) {
    char c = t[i];
    if (c == '"') {
      i = skip_string(t, i);
    } else if (c >= '0' && c <= '9') {
      while (is_word(t[i]) || t[i] == '.' || ((t[i] == '+' || t[i] == '-') && (t[i - 1] == 'e' || t[i - 1] == 'E')))
        i++;
    } else if (is_word_start(c)) {
      size_t w0 = i;
      while (is_word(t[i])) i++;
      size_t wn = i - w0;
      const char *w = t + w0;
#define IS(s) (wn == strlen(s) && memcmp(w, s, wn) == 0)
      if (t[i] == '(') { /* an aggregation: its where reads the event, not the profile */
        px_agg_fn fn;
        char fname[32];
        snprintf(fname, sizeof fname, "%.*s", (int)(wn < 31 ? wn : 31), w);
        if (px_agg_fn_parse(fname, &fn) == PX_OK) {
          int depth = 0;
          for (; t[i]; i++) {
            if (t[i] == '"') i = skip_string(t, i) - 1;
            else if (t[i] == '(') depth++;
            else if (t[i] == ')' && --depth == 0) break;
          }
          if (t[i]) i++;
          continue;
        }
        if (IS("ln") || IS("log1p") || IS("days_since")) continue; /* a scalar function: its argument is read on */
        reads |= READ_TRAITS;
      } else if (t[i] == '.') {
        if (IS("computed")) reads |= READ_COMPUTED;
        else if (IS("identifier")) reads |= READ_IDENT;
        else if (IS("profile")) reads |= READ_PROFILE;
        else if (!IS("score")) reads |= READ_TRAITS; /* trait, account, consent, a dotted trait */
        i = skip_path(t, i + 1);
      } else if (IS("first_seen") || IS("last_seen")) {
        reads |= READ_PROFILE;
      } else if (IS("has")) {
        reads |= READ_IDENT;
        i = skip_spaces(t, i);
        if (strncmp(t + i, "identifier ", 11) == 0) i = skip_spaces(t, i + 11);
        i = skip_path(t, i);
      } else if (IS("consented")) {
        reads |= READ_TRAITS;
        i = skip_spaces(t, i);
        if (strncmp(t + i, "to ", 3) == 0) i = skip_path(t, skip_spaces(t, i + 3));
      } else {
        int kw = 0;
        for (size_t k = 0; k < sizeof keywords / sizeof *keywords && !kw; k++) kw = IS(keywords[k]);
        if (!kw) {
          reads |= READ_TRAITS; /* a bare trait name */
          i = skip_path(t, i);
        }
      }
#undef IS
    } else {
      i++;
    }
  }
  return reads;
}

unsigned eng_rule_reads(const px_rule *r) {
  char *text = malloc(PX_RULE_MAX_BYTES * 4);
  if (!text) return READ_TRAITS | READ_IDENT | READ_PROFILE | READ_COMPUTED;
  unsigned reads = px_rule_print(r, text, PX_RULE_MAX_BYTES * 4) == PX_OK
                       ? scan_reads(text)
                       : READ_TRAITS | READ_IDENT | READ_PROFILE | READ_COMPUTED;
  free(text);
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
      g->reads = eng_rule_reads(r);
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
      else e->slots[c->slot].computed = 1;
    }
    cJSON_Delete(body);
  }
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  return s;
}

px_status eng_reload(px_txn *txn, const px_store *st, px_engine *e) {
  clear(e);
  uint64_t gen;
  px_status s = px_def_generation(txn, st, &gen);
  size_t cap = 0;
  if (s == PX_OK) s = load_segments(txn, st, e, &cap);
  if (s == PX_OK) s = load_ctraits(txn, st, e, &cap);
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
