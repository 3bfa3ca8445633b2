/* Defining, changing and deleting segments and computed traits, with the
 * backfill over every live profile that a new definition needs. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "segment/engine_int.h"
#include "segment/members.h"
#include "store/key.h"

typedef struct pid_list {
  uint64_t *ids;
  size_t n, cap;
} pid_list;

static px_status push(pid_list *l, uint64_t id) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 1024;
    uint64_t *p = realloc(l->ids, nc * sizeof *p);
    if (!p) return PX_NOMEM;
    l->ids = p;
    l->cap = nc;
  }
  l->ids[l->n++] = id;
  return PX_OK;
}

/* Every live profile id, ascending (PX_MEMBERS_LIVE). */
static int take_ids(void *arg, const uint64_t *pids, size_t n) {
  pid_list *l = arg;
  for (size_t i = 0; i < n; i++)
    if (push(l, pids[i]) != PX_OK) return 1;
  return 0;
}

static px_status live_profiles(px_txn *txn, const px_store *st, pid_list *out) {
  uint32_t live = PX_MEMBERS_LIVE;
  uint64_t n;
  px_status s = px_members_combine(txn, st, &live, NULL, 1, take_ids, out, &n);
  return s == PX_OK && out->n != n ? PX_NOMEM : s;
}

/* Replaying the new aggregations over one profile's events. */
typedef struct replay {
  eng_run *r;
  const unsigned char *fresh;
  const uint64_t *name_hash; /* per slot: its event name's timeline hash (0: any event) */
  const unsigned char *bare; /* per slot: a count with no property and no where, which needs
                                nothing of the event but its name and time */
  px_timeline_walk timeline; /* kept from one profile to the next (ended by the caller) */
} replay;

static px_status replay_row(void *arg, const px_timeline_row *row) {
  replay *p = arg;
  px_engine *e = p->r->e;
  if (row->type != PX_EV_TRACK) return PX_OK;
  int wanted = 0, decode = 0;
  for (size_t i = 0; i < e->nslots; i++) {
    if (!p->fresh[i] || (row->name_hash && p->name_hash[i] && p->name_hash[i] != row->name_hash)) continue;
    wanted = 1;
    decode |= !p->bare[i] || !p->name_hash[i] || !row->name_hash;
  }
  if (!wanted) return PX_OK;
  px_status s = PX_OK;
  if (!decode) { /* counts of this name: its name and time are all they take */
    for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
      const px_rule_agg *a = e->slots[i].agg;
      if (p->fresh[i] && p->name_hash[i] == row->name_hash)
        s = px_agg_observe(a, &e->states[i], a->event, row->time_ms, row->seq, NULL, p->r->now, NULL);
    }
    return s;
  }
  px_key ek;
  px_key_init(&ek);
  px_key_u64(&ek, row->seq);
  MDB_val rec;
  px_event ev;
  if ((s = px_store_get(p->r->txn, p->r->st, PX_DB_EVENTS, ek.b, ek.n, &rec)) != PX_OK) return s;
  if ((s = px_event_decode(rec.mv_data, rec.mv_size, row->seq, &ev)) != PX_OK) return s;
  for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
    const px_rule_agg *a = e->slots[i].agg;
    if (!p->fresh[i] || ev.type != PX_EV_TRACK || !ev.name || (a->event[0] && strcmp(a->event, ev.name) != 0)) continue;
    s = px_agg_observe(a, &e->states[i], ev.name, ev.timestamp_ms, row->seq, ev.properties, p->r->now, NULL);
  }
  px_event_free(&ev);
  return s;
}

/* The new aggregations' states of one profile, from its events: only those
 * recent enough for some fresh aggregation's window, and only the ones of
 * a fresh aggregation's event name are read from the log. */
static px_status replay_aggs(eng_run *r, replay *p) {
  px_engine *e = r->e;
  int64_t oldest = INT64_MAX;
  for (size_t i = 0; i < e->nslots; i++) {
    if (!p->fresh[i]) continue;
    px_buf_reset(&e->states[i]);
    e->sflags[i] |= SL_LOADED | SL_DIRTY;
    int64_t t = px_agg_oldest(e->slots[i].agg, r->now);
    if (t < oldest) oldest = t;
  }
  return px_profile_events_since(r->txn, r->st, r->pid, oldest, &p->timeline, replay_row, p);
}

/* Recomputes the fresh aggregations and the target segments over every
 * live profile at now. */
static px_status backfill(px_txn *txn, const px_store *st, const px_config *cfg, px_engine *e,
                          const unsigned char *fresh, int64_t now, px_segment_progress_fn progress, void *arg) {
  int any_fresh = 0, any_target = 0;
  for (size_t i = 0; i < e->nslots; i++) any_fresh |= fresh[i];
  for (size_t i = 0; i < e->nsegs; i++) any_target |= e->segs[i].target;
  if (!any_fresh && !any_target) return PX_OK;
  px_status flushed = eng_cache_flush(txn, e); /* the states and lists below are read from the store */
  if (flushed != PX_OK) return flushed;
  pid_list all = {0};
  pid_list *members = calloc(e->nsegs ? e->nsegs : 1, sizeof *members);
  px_status s = members ? live_profiles(txn, st, &all) : PX_NOMEM;
  /* Profiles in id order: each profile's states are at or just after the
   * last one's page (the transaction's cursor on them stays near). */
  eng_run r = {.e = e, .txn = txn, .st = st, .cfg = cfg, .now = now, .backfill = 1};
  /* A target without members yet (a new segment): a profile out of it
   * changes nothing, and its list of segments need not be read. */
  unsigned char *had = calloc(e->nsegs ? e->nsegs : 1, 1);
  uint64_t *name_hash = calloc(e->nslots ? e->nslots : 1, sizeof *name_hash);
  unsigned char *bare = calloc(e->nslots ? e->nslots : 1, 1);
  if ((!had || !name_hash || !bare) && s == PX_OK) s = PX_NOMEM;
  for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
    const px_rule_agg *a = e->slots[i].agg;
    name_hash[i] = a->event[0] ? px_profile_name_hash(a->event) : 0;
    bare[i] = a->fn == PX_AGG_COUNT && !a->property[0] && !a->where;
  }
  replay rp = {&r, fresh, name_hash, bare, {0}};
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) {
    uint64_t count = 0;
    if (e->segs[i].target) s = px_members_count(txn, st, e->segs[i].id, &count);
    had[i] = count > 0;
  }
  for (size_t p = 0; p < all.n && s == PX_OK; p++) {
    r.pid = all.ids[p];
    r.have_rec = r.due_known = 0;
    eng_reset_slots(e);
    if (any_fresh && (s = replay_aggs(&r, &rp)) != PX_OK) break;
    for (size_t i = 0; any_fresh && i < e->nslots; i++) /* nothing stored to delete (eng_states_drop) */
      if (fresh[i] && !e->states[i].len) e->sflags[i] &= (unsigned char)~SL_DIRTY;
    int64_t until_all = INT64_MAX;
    int psegs_changed = 0, psegs_read = 0;
    for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) {
      eng_seg *g = &e->segs[i];
      if (!g->target) continue;
      int in = 0;
      int64_t until = INT64_MAX;
      if (!psegs_read && g->ndeps) { /* in segment reads the list */
        if ((s = px_psegs_load(txn, st, r.pid, &e->psegs)) != PX_OK) break;
        psegs_read = 1;
      }
      if ((s = eng_eval(&r, g, &in, &until)) != PX_OK) break;
      g->bf_in = in;
      if (until < until_all) until_all = until;
      if (!psegs_read && !in && !had[i]) continue;
      if (!psegs_read) {
        if ((s = px_psegs_load(txn, st, r.pid, &e->psegs)) != PX_OK) break;
        psegs_read = 1;
      }
      if (in != px_psegs_has(&e->psegs, g->id)) {
        psegs_changed = 1;
        if ((s = px_psegs_set(&e->psegs, g->id, in)) == PX_OK)
          s = eng_history_put(txn, st, r.pid, now, PX_SEG_CAUSE_BACKFILL, 0, g->id, in);
      }
      if (s == PX_OK && in) s = push(&members[i], r.pid);
    }
    if (s == PX_OK && psegs_changed) s = px_psegs_store(txn, st, r.pid, &e->psegs);
    if (s == PX_OK) s = eng_store_slots(&r);
    /* Only ever earlier than what is scheduled (not all segments ran). */
    if (s == PX_OK && any_target && until_all != INT64_MAX) s = eng_schedule(txn, st, r.pid, until_all, 0);
    if (progress && ((p + 1) % 1000 == 0)) progress(arg, p + 1, all.n);
  }
  px_timeline_walk_end(&rp.timeline);
  free(had);
  free(name_hash);
  free(bare);
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++)
    if (e->segs[i].target) s = px_members_replace(txn, st, e->segs[i].id, members[i].ids, members[i].n);
  if (s == PX_OK && progress) progress(arg, all.n, all.n);
  for (size_t i = 0; i < e->nsegs; i++) {
    e->segs[i].target = 0;
    if (members) free(members[i].ids);
  }
  free(members);
  free(all.ids);
  return s;
}

/* Marks as targets the segments `pick` selects and, transitively, those
 * reading a target (segs are in dependency order). */
static void mark_targets(px_engine *e, int (*pick)(const eng_seg *, const void *), const void *arg) {
  for (size_t i = 0; i < e->nsegs; i++) {
    eng_seg *g = &e->segs[i];
    g->target = pick(g, arg);
    for (int k = 0; !g->target && k < g->ndeps; k++) g->target = g->deps[k] >= 0 && e->segs[g->deps[k]].target;
    for (int k = 0; !g->target && k < px_rule_nsegments(g->rule); k++) {
      int j = eng_seg_find(e, px_rule_segment_at(g->rule, k));
      g->target = j >= 0 && e->segs[j].target;
    }
  }
}

static int pick_named(const eng_seg *g, const void *name) { return strcmp(g->name, name) == 0; }
static int pick_reader(const eng_seg *g, const void *name) {
  for (int k = 0; k < px_rule_nsegments(g->rule); k++)
    if (strcmp(px_rule_segment_at(g->rule, k), name) == 0) return 1;
  return 0;
}
static int pick_computed(const eng_seg *g, const void *unused) {
  (void)unused;
  return (g->reads & READ_COMPUTED) != 0;
}

/* Keys of the aggregations that have states already. */
typedef struct keyset {
  uint64_t *keys;
  size_t n;
} keyset;

static px_status keys_of(const px_engine *e, keyset *k) {
  k->n = e->nslots;
  k->keys = malloc((e->nslots ? e->nslots : 1) * sizeof *k->keys);
  if (!k->keys) return PX_NOMEM;
  for (size_t i = 0; i < e->nslots; i++) k->keys[i] = e->slots[i].key;
  return PX_OK;
}

/* After a definition changed: reload, drop the states of aggregations no
 * longer used, backfill what is new, and make the next transaction reload
 * (this one may still abort). */
static px_status refresh(px_txn *txn, const px_store *st, const px_config *cfg, px_engine *e, const keyset *old,
                         int (*pick)(const eng_seg *, const void *), const void *arg, int64_t now,
                         px_segment_progress_fn progress, void *parg) {
  px_status s = eng_reload(txn, st, e);
  unsigned char *fresh = s == PX_OK ? calloc(e->nslots ? e->nslots : 1, 1) : NULL;
  if (s == PX_OK && !fresh) s = PX_NOMEM;
  for (size_t i = 0; s == PX_OK && i < e->nslots; i++) {
    fresh[i] = 1;
    for (size_t j = 0; j < old->n && fresh[i]; j++) fresh[i] = old->keys[j] != e->slots[i].key;
  }
  uint64_t *dropped = s == PX_OK ? malloc((old->n ? old->n : 1) * sizeof *dropped) : NULL;
  size_t ndropped = 0;
  if (s == PX_OK && !dropped) s = PX_NOMEM;
  for (size_t j = 0; s == PX_OK && j < old->n; j++)
    if (eng_slot_find(e, old->keys[j]) < 0) dropped[ndropped++] = old->keys[j];
  /* So the store holds states only of defined aggregations, and a fresh
   * one has none anywhere. */
  if (s == PX_OK) s = eng_states_drop(txn, st, dropped, ndropped, &e->rec);
  free(dropped);
  if (s == PX_OK) {
    mark_targets(e, pick, arg);
    s = backfill(txn, st, cfg, e, fresh, now, progress, parg);
  }
  free(fresh);
  e->gen = UINT64_MAX;
  return s;
}

static px_status rule_fail(px_rule_error *err, int line, int column, const char *fmt, const char *a) {
  if (err) {
    err->line = line;
    err->column = column;
    snprintf(err->message, sizeof err->message, fmt, a);
  }
  return PX_INVALID;
}

#define RULE_PRINT_MAX (4 * PX_RULE_MAX_BYTES) /* room for a rule's canonical text (sugar spelled out) */

/* Whether the stored definition's rule says what r says (both printed in
 * canonical form): then a new text is no change. */
static int same_rule(const px_def *before, const px_rule *r) {
  cJSON *body = cJSON_Parse(before->body);
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "rule"));
  px_rule *old = NULL;
  char *a = malloc(2 * RULE_PRINT_MAX), *b = a ? a + RULE_PRINT_MAX : NULL;
  int same = a && text && px_rule_compile(text, strlen(text), PX_RULE_PROFILE, &old, NULL) == PX_OK &&
             px_rule_print(old, a, RULE_PRINT_MAX) == PX_OK && px_rule_print(r, b, RULE_PRINT_MAX) == PX_OK &&
             strcmp(a, b) == 0;
  px_rule_free(old);
  free(a);
  cJSON_Delete(body);
  return same;
}

/* Would segment `name` reading what r reads close a cycle? */
static px_status check_cycle(const px_engine *e, const char *name, const px_rule *r, px_rule_error *err) {
  size_t n = e->nsegs + 1;
  const char **names = calloc(n, sizeof *names);
  const char ***reads = calloc(n, sizeof *reads);
  int *nreads = calloc(n, sizeof *nreads), *order = calloc(n, sizeof *order);
  px_status s = names && reads && nreads && order ? PX_OK : PX_NOMEM;
  size_t m = 0;
  for (size_t i = 0; i < e->nsegs && s == PX_OK; i++) {
    if (strcmp(e->segs[i].name, name) == 0) continue;
    names[m] = e->segs[i].name;
    nreads[m] = px_rule_nsegments(e->segs[i].rule);
    if (!(reads[m] = calloc((size_t)nreads[m] + 1, sizeof **reads))) s = PX_NOMEM;
    for (int k = 0; s == PX_OK && k < nreads[m]; k++) reads[m][k] = px_rule_segment_at(e->segs[i].rule, k);
    m++;
  }
  if (s == PX_OK) {
    names[m] = name;
    nreads[m] = px_rule_nsegments(r);
    if (!(reads[m] = calloc((size_t)nreads[m] + 1, sizeof **reads))) s = PX_NOMEM;
    for (int k = 0; s == PX_OK && k < nreads[m]; k++) reads[m][k] = px_rule_segment_at(r, k);
    m++;
  }
  const char *cycle = NULL;
  if (s == PX_OK && eng_order(m, names, (const char *const *const *)reads, nreads, order, &cycle) == PX_INVALID)
    s = rule_fail(err, 0, 0, "segments would read each other in a cycle (through segment \"%s\")", cycle);
  for (size_t i = 0; reads && i < n; i++) free(reads[i]);
  free(names);
  free(reads);
  free(nreads);
  free(order);
  return s;
}

px_status px_segment_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *name,
                            const char *rule_text, int64_t now_ms, px_segment_progress_fn progress, void *arg,
                            px_rule_error *err) {
  if (!px_def_name_ok(name))
    return rule_fail(err, 0, 0, "%s", "a segment name is 1-127 characters of A-Z a-z 0-9 _ - . (no leading dot)");
  px_rule *r;
  px_status s = px_rule_compile(rule_text, strlen(rule_text), PX_RULE_PROFILE, &r, err);
  if (s != PX_OK) return s;
  px_engine *e;
  keyset old = {0};
  px_buf body;
  px_buf_init(&body, 0);
  if ((s = eng_get(txn, st, &e)) == PX_OK && (s = eng_reload(txn, st, e)) == PX_OK)
    s = check_cycle(e, name, r, err);
  if (s == PX_OK) s = keys_of(e, &old);
  px_def before, d;
  int had = 0, created = 0;
  if (s == PX_OK) {
    px_status g = px_def_get(txn, st, PX_DEF_SEGMENT, name, &before);
    had = g == PX_OK;
    if (g != PX_OK && g != PX_NOT_FOUND) s = g;
  }
  int same = s == PX_OK && had && same_rule(&before, r); /* other spacing, quoting or sugar */
  px_rule_free(r);
  if (same) {
    px_def_free(&before);
    free(old.keys);
    return PX_OK;
  }
  if (s == PX_OK) {
    px_buf_puts(&body, "{\"rule\":");
    px_buf_json_str(&body, rule_text, strlen(rule_text));
    s = px_buf_putc(&body, '}');
  }
  if (s == PX_OK) s = px_def_put(txn, st, PX_DEF_SEGMENT, name, body.data, body.len, now_ms, &d, &created);
  if (s == PX_TOO_LARGE) /* the body fits (a rule is at most 16 KB): the ids ran out */
    rule_fail(err, 0, 0, "%s", "no segment id left: 2,147,483,647 segments have been created");
  if (s == PX_OK) {
    int unchanged = had && d.version == before.version;
    px_def_free(&d);
    if (!unchanged) s = refresh(txn, st, cfg, e, &old, pick_named, name, now_ms, progress, arg);
  }
  if (had) px_def_free(&before);
  free(old.keys);
  px_buf_free(&body);
  return s;
}

px_status px_segment_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms) {
  px_engine *e;
  keyset old = {0};
  px_status s = eng_get(txn, st, &e);
  if (s == PX_OK) s = eng_reload(txn, st, e);
  int i = s == PX_OK ? eng_seg_find(e, name) : -1;
  if (s == PX_OK && i < 0) s = PX_NOT_FOUND;
  uint32_t id = i >= 0 ? e->segs[i].id : 0;
  /* Its members leave. */
  uint64_t after = 0, page[1024];
  for (size_t n = 1; s == PX_OK && n;) {
    if ((s = px_members_page(txn, st, id, after, page, 1024, &n)) != PX_OK) break;
    for (size_t k = 0; k < n && s == PX_OK; k++) {
      if ((s = px_psegs_load(txn, st, page[k], &e->psegs)) != PX_OK || (s = px_psegs_set(&e->psegs, id, 0)) != PX_OK ||
          (s = px_psegs_store(txn, st, page[k], &e->psegs)) != PX_OK)
        break;
      s = eng_history_put(txn, st, page[k], now_ms, PX_SEG_CAUSE_DELETED, 0, id, 0);
    }
    if (n) after = page[n - 1];
  }
  if (s == PX_OK) s = px_members_clear(txn, st, id);
  if (s == PX_OK) s = keys_of(e, &old);
  if (s == PX_OK) s = px_def_del(txn, st, PX_DEF_SEGMENT, name);
  if (s == PX_OK) s = refresh(txn, st, cfg, e, &old, pick_reader, name, now_ms, NULL, NULL);
  free(old.keys);
  return s;
}

px_status px_ctrait_define(px_txn *txn, const px_store *st, const px_config *cfg, const char *json, size_t n,
                           int64_t now_ms, px_segment_progress_fn progress, void *arg, px_error *err) {
  cJSON *j = cJSON_ParseWithLength(json, n);
  if (!j) return px_error_set(err, PX_INVALID, NULL, "the definition is not JSON");
  px_ctrait t;
  px_status s = px_ctrait_parse(j, &t, err);
  cJSON_Delete(j);
  if (s != PX_OK) return s;
  if (!px_def_name_ok(t.name)) {
    px_ctrait_free(&t);
    return px_error_set(err, PX_INVALID, "name", "a computed trait name is at most 127 bytes of A-Z a-z 0-9 _ - .");
  }
  px_engine *e;
  keyset old = {0};
  px_def before, d;
  int had = 0, created = 0;
  if ((s = eng_get(txn, st, &e)) == PX_OK && (s = eng_reload(txn, st, e)) == PX_OK) s = keys_of(e, &old);
  if (s == PX_OK) {
    px_status g = px_def_get(txn, st, PX_DEF_CTRAIT, t.name, &before);
    had = g == PX_OK;
    if (g != PX_OK && g != PX_NOT_FOUND) s = g;
  }
  if (s == PX_OK) s = px_def_put(txn, st, PX_DEF_CTRAIT, t.name, json, n, now_ms, &d, &created);
  if (s == PX_OK) {
    int unchanged = had && d.version == before.version;
    px_def_free(&d);
    if (!unchanged) s = refresh(txn, st, cfg, e, &old, pick_computed, NULL, now_ms, progress, arg);
  }
  if (had) px_def_free(&before);
  free(old.keys);
  px_ctrait_free(&t);
  return s;
}

px_status px_ctrait_delete(px_txn *txn, const px_store *st, const px_config *cfg, const char *name, int64_t now_ms) {
  px_engine *e;
  keyset old = {0};
  px_status s = eng_get(txn, st, &e);
  if (s == PX_OK) s = eng_reload(txn, st, e);
  if (s == PX_OK) s = keys_of(e, &old);
  if (s == PX_OK) s = px_def_del(txn, st, PX_DEF_CTRAIT, name);
  if (s == PX_OK) s = refresh(txn, st, cfg, e, &old, pick_computed, NULL, now_ms, NULL, NULL);
  free(old.keys);
  return s;
}
