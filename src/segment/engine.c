/* The segment engine per profile: aggregation states, evaluation through
 * the rule env, membership changes with their history, due times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "identity/identity.h"
#include "profile/profile.h"
#include "score/scores.h"
#include "segment/engine_int.h"
#include "segment/members.h"
#include "store/key.h"

const char *px_seg_cause_name(px_seg_cause c) {
  switch (c) {
    case PX_SEG_CAUSE_EVENT: return "event";
    case PX_SEG_CAUSE_TIME: return "time";
    case PX_SEG_CAUSE_BACKFILL: return "backfill";
    case PX_SEG_CAUSE_DELETED: return "deleted";
    case PX_SEG_CAUSE_SCORE: return "score";
  }
  return "unknown";
}

/* ---- aggregation states ---- */

/* Reads every stored state of the profile (its one record) into the slots
 * not loaded yet, so that later loads cost nothing. States of aggregations
 * no longer defined are passed over. */
static px_status read_states(eng_run *r) {
  px_engine *e = r->e;
  MDB_val rec;
  px_status s = eng_states_get(r->txn, r->st, r->pid, &rec);
  const unsigned char *p = rec.mv_data, *end = p + rec.mv_size;
  uint64_t key;
  MDB_val v;
  while (s == PX_OK && rec.mv_size && eng_states_next(&p, end, &key, &v)) {
    int i = eng_slot_find(e, key);
    if (i < 0 || (e->sflags[i] & SL_LOADED)) continue;
    px_buf_reset(&e->states[i]);
    s = px_buf_append(&e->states[i], v.mv_data, v.mv_size);
    e->sflags[i] |= SL_LOADED;
  }
  if (s != PX_OK) return s;
  for (size_t i = 0; i < e->nslots; i++)
    if (!(e->sflags[i] & SL_LOADED)) {
      e->states[i].len = 0; /* states are bytes, never read as text: no need to touch the buffer itself */
      e->sflags[i] |= SL_LOADED;
    }
  e->states_read = 1;
  return PX_OK;
}

px_status eng_load_slot(eng_run *r, int i) {
  return r->e->states_read || (r->e->sflags[i] & SL_LOADED) ? PX_OK : read_states(r);
}

void eng_reset_slots(px_engine *e) {
  if (e->nslots) memset(e->sflags, 0, e->nslots);
  e->states_read = 0;
  e->ntmemo = 0;
  e->tmemo_used = 0;
}

px_status eng_store_slots(eng_run *r) {
  px_engine *e = r->e;
  size_t n = 0;
  for (size_t i = 0; i < e->nslots; i++)
    if (e->sflags[i] & SL_DIRTY) {
      e->puts[n++] = (eng_state_put){e->slots[i].key, &e->states[i]};
      e->sflags[i] &= (unsigned char)~SL_DIRTY;
    }
  return eng_states_write(r->txn, r->st, r->pid, e->puts, n, &e->rec);
}

/* ---- the rule env ---- */

/* A copy of n bytes that lives until the evaluation ends. */
static const char *keep(px_engine *e, const char *p, size_t n) {
  if (n <= sizeof e->arena - e->arena_used) {
    char *d = e->arena + e->arena_used;
    memcpy(d, p, n);
    e->arena_used += n;
    return d;
  }
  if (e->nspill == e->capspill) {
    size_t nc = e->capspill ? e->capspill * 2 : 8;
    char **sp = realloc(e->spill, nc * sizeof *sp);
    if (!sp) return NULL;
    e->spill = sp;
    e->capspill = nc;
  }
  char *d = malloc(n ? n : 1);
  if (!d) return NULL;
  memcpy(d, p, n);
  return e->spill[e->nspill++] = d;
}

static void forget(px_engine *e) {
  for (size_t i = 0; i < e->nspill; i++) free(e->spill[i]);
  e->nspill = 0;
  e->arena_used = 0;
}

static void from_cjson(px_engine *e, const cJSON *j, px_rule_value *out) {
  memset(out, 0, sizeof *out);
  if (cJSON_IsBool(j)) {
    out->type = PX_RV_BOOL;
    out->b = cJSON_IsTrue(j);
  } else if (cJSON_IsNumber(j)) {
    out->type = PX_RV_NUM;
    out->n = j->valuedouble;
  } else if (cJSON_IsString(j)) {
    size_t n = strlen(j->valuestring);
    if ((out->s = keep(e, j->valuestring, n))) out->type = PX_RV_STR, out->len = n;
  }
}

/* A trait's golden JSON as a rule value. Strings without escapes point
 * into the store; objects and arrays are null. */
static void from_json(px_engine *e, const char *json, size_t n, px_rule_value *out) {
  memset(out, 0, sizeof *out);
  if (!n) return;
  if (json[0] == '"' && n >= 2 && !memchr(json, '\\', n)) {
    out->type = PX_RV_STR;
    out->s = json + 1;
    out->len = n - 2;
  } else if (json[0] == 't' || json[0] == 'f') {
    out->type = PX_RV_BOOL;
    out->b = json[0] == 't';
  } else if (json[0] == '-' || (json[0] >= '0' && json[0] <= '9')) {
    char num[64];
    if (n < sizeof num) {
      memcpy(num, json, n);
      num[n] = 0;
      out->type = PX_RV_NUM;
      out->n = strtod(num, NULL);
    }
  } else if (json[0] == '"') {
    cJSON *j = cJSON_ParseWithLength(json, n);
    from_cjson(e, j, out);
    cJSON_Delete(j);
  }
}

static px_status sources(eng_run *r) {
  px_engine *e = r->e;
  uint64_t serial = px_txn_serial(r->txn);
  if (e->sources_serial == serial) return PX_OK;
  free(e->sources);
  e->sources = NULL;
  e->nsources = 0;
  px_status s = px_source_list(r->txn, r->st, &e->sources, &e->nsources);
  if (s == PX_OK) e->sources_serial = serial;
  return s;
}

static px_status read_trait(eng_run *r, uint64_t entity, const char *name, px_rule_value *out);

/* The trait `name` of entity, read once per run (e->tmemo). */
static px_status trait(eng_run *r, uint64_t entity, const char *name, px_rule_value *out) {
  px_engine *e = r->e;
  for (int i = 0; i < e->ntmemo; i++)
    if (e->tmemo[i].entity == entity && strcmp(e->tmemo[i].name, name) == 0) return *out = e->tmemo[i].v, PX_OK;
  px_status s = read_trait(r, entity, name, out);
  if (s != PX_OK || e->ntmemo == (int)(sizeof e->tmemo / sizeof *e->tmemo)) return s;
  /* The name (it may be the caller's buffer) and a string value are copied. */
  size_t nn = strlen(name) + 1, vn = out->type == PX_RV_STR ? out->len : 0;
  if (nn + vn > sizeof e->tmemo_buf - e->tmemo_used) return s; /* no room: not kept */
  struct eng_tmemo *m = &e->tmemo[e->ntmemo++];
  char *p = e->tmemo_buf + e->tmemo_used;
  memcpy(p, name, nn);
  m->entity = entity;
  m->name = p;
  m->v = *out;
  if (out->type == PX_RV_STR) {
    if (vn) memcpy(p + nn, out->s, vn);
    m->v.s = p + nn;
  }
  e->tmemo_used += nn + vn;
  return s;
}

/* The trait itself, or a member path inside a trait holding an object
 * (`address.city` with traits {"address":{...}}). */
static px_status read_trait(eng_run *r, uint64_t entity, const char *name, px_rule_value *out) {
  memset(out, 0, sizeof *out);
  px_status s = sources(r);
  const char *json;
  size_t n;
  if (s == PX_OK) s = px_profile_trait(r->txn, r->st, r->cfg, r->e->sources, r->e->nsources, entity, name, &json, &n);
  if (s == PX_OK) {
    from_json(r->e, json, n, out);
    return PX_OK;
  }
  if (s != PX_NOT_FOUND) return s;
  const char *dot = strchr(name, '.');
  if (!dot || (size_t)(dot - name) >= PX_RULE_NAME_MAX) return PX_OK;
  char head[PX_RULE_NAME_MAX];
  memcpy(head, name, (size_t)(dot - name));
  head[dot - name] = 0;
  s = px_profile_trait(r->txn, r->st, r->cfg, r->e->sources, r->e->nsources, entity, head, &json, &n);
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  cJSON *root = cJSON_ParseWithLength(json, n);
  const cJSON *j = root;
  for (const char *p = dot + 1; j && *p;) {
    const char *end = strchr(p, '.');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char member[PX_RULE_NAME_MAX];
    if (len >= sizeof member) {
      j = NULL;
      break;
    }
    memcpy(member, p, len);
    member[len] = 0;
    j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, member) : NULL;
    p += len + (end ? 1 : 0);
  }
  from_cjson(r->e, j, out);
  cJSON_Delete(root);
  return PX_OK;
}

typedef struct ident_find {
  const char *kind;
  char value[PX_IDENT_VALUE_MAX + 1];
  int found;
} ident_find;

static int ident_cb(void *arg, const char *kind, const char *value, int64_t first_seen, uint32_t source_id) {
  (void)first_seen, (void)source_id;
  ident_find *f = arg;
  if (strcmp(kind, f->kind) != 0) return 0;
  snprintf(f->value, sizeof f->value, "%s", value);
  f->found = 1;
  return 1;
}

static px_status profile_rec(eng_run *r) {
  if (r->have_rec) return PX_OK;
  px_profile_rec rec;
  px_status s = px_profile_get(r->txn, r->st, r->pid, &rec);
  if (s != PX_OK) return s;
  r->first_seen = rec.first_seen;
  r->last_seen = rec.last_seen;
  r->events = rec.events;
  r->have_rec = 1;
  return PX_OK;
}

/* An aggregation's value at the run's now, computed once per profile run
 * (segments reading the same computed trait share it). */
static px_status slot_value(eng_run *r, int i, px_rule_value *out, int64_t *until) {
  eng_slot *sl = &r->e->slots[i];
  if (!(r->e->sflags[i] & SL_VALUE)) {
    px_status s = eng_load_slot(r, i);
    const px_buf *st = &r->e->states[i];
    if (s == PX_OK) s = px_agg_value(sl->agg, st->data, st->len, r->now, &sl->value, &sl->value_until, NULL);
    if (s != PX_OK) return s;
    r->e->sflags[i] |= SL_VALUE;
  }
  *out = sl->value;
  if (until) *until = sl->value_until;
  return PX_OK;
}

static px_status env_get(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *until) {
  eng_run *r = arg;
  memset(out, 0, sizeof *out);
  switch (ns) {
    case PX_NS_TRAIT: return trait(r, r->pid, name, out);
    case PX_NS_CONSENT: { /* the trait "consent": {"PURPOSE": true} */
      char path[PX_RULE_NAME_MAX + 8];
      snprintf(path, sizeof path, "consent.%s", name);
      px_status s = trait(r, r->pid, path, out);
      if (s == PX_OK && out->type != PX_RV_BOOL) memset(out, 0, sizeof *out);
      return s;
    }
    case PX_NS_ACCOUNT: {
      uint64_t aid;
      px_status s = px_profile_account(r->txn, r->st, r->pid, &aid);
      if (s == PX_NOT_FOUND) return PX_OK;
      return s == PX_OK ? trait(r, aid, name, out) : s;
    }
    case PX_NS_IDENTIFIER: {
      ident_find f = {name, "", 0};
      px_status s = px_identity_each(r->txn, r->st, r->pid, ident_cb, &f);
      if (s == PX_OK && f.found) {
        size_t n = strlen(f.value);
        if ((out->s = keep(r->e, f.value, n))) out->type = PX_RV_STR, out->len = n;
      }
      return s;
    }
    case PX_NS_PROFILE: {
      px_status s = profile_rec(r);
      if (s != PX_OK) return s;
      if (strcmp(name, "first_seen") == 0) out->type = PX_RV_TIME, out->t = r->first_seen;
      else if (strcmp(name, "last_seen") == 0) out->type = PX_RV_TIME, out->t = r->last_seen;
      else if (strcmp(name, "events") == 0) out->type = PX_RV_NUM, out->n = (double)r->events;
      return PX_OK;
    }
    case PX_NS_COMPUTED: {
      int slot = -1;
      for (int k = 0; k < r->seg->ncslots && slot < 0; k++) /* the rule's own string: resolved at load */
        if (r->seg->cnames[k] == name) slot = r->seg->cslots[k];
      if (slot < 0) {
        int c = eng_ctrait_find(r->e, name);
        if (c < 0) return PX_OK;
        slot = r->e->ctraits[c].slot;
      }
      return slot_value(r, slot, out, until);
    }
    case PX_NS_SCORE: return px_score_get(r->txn, r->st, r->pid, name, out, NULL); /* points into the store */
  }
  return PX_OK;
}

static px_status env_in_segment(void *arg, const char *name, int *in) {
  eng_run *r = arg;
  *in = 0;
  int i = eng_seg_find(r->e, name);
  if (i < 0) return PX_OK;
  const eng_seg *g = &r->e->segs[i];
  *in = r->backfill && g->target ? g->bf_in : px_psegs_has(&r->e->psegs, g->id);
  return PX_OK;
}

static px_status env_aggregate(void *arg, int i, px_rule_value *out, int64_t *until) {
  eng_run *r = arg;
  return slot_value(r, r->seg->slots[i], out, until);
}

px_status eng_eval(eng_run *r, const eng_seg *g, int *in, int64_t *until) {
  r->seg = g;
  px_rule_env env = {r, r->now, env_get, env_in_segment, env_aggregate};
  px_status s = px_rule_eval(g->rule, &env, in, until);
  forget(r->e);
  return s;
}

/* ---- due times ---- */

static void due_key(px_key *k, int64_t due, uint64_t pid) {
  px_key_init(k);
  px_key_u8(k, 'd');
  px_key_i64(k, due);
  px_key_u64(k, pid);
}

static void pdue_key(px_key *k, uint64_t pid) {
  px_key_init(k);
  px_key_u8(k, 'p');
  px_key_u64(k, pid);
}

px_status eng_due_of(px_txn *txn, const px_store *st, uint64_t pid, int64_t *due) {
  px_key k;
  pdue_key(&k, pid);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_DUE, k.b, k.n, &v);
  *due = s == PX_OK && v.mv_size == 8 ? px_get_i64(v.mv_data) : INT64_MAX;
  return s == PX_NOT_FOUND ? PX_OK : s;
}

static px_status unschedule(px_txn *txn, const px_store *st, uint64_t pid, int64_t due) {
  if (due == INT64_MAX) return PX_OK;
  px_key k;
  due_key(&k, due, pid);
  px_status s = px_store_del(txn, st, PX_DB_DUE, k.b, k.n);
  pdue_key(&k, pid);
  if (s == PX_OK || s == PX_NOT_FOUND) s = px_store_del(txn, st, PX_DB_DUE, k.b, k.n);
  return s == PX_NOT_FOUND ? PX_OK : s;
}

/* r->due: the profile's due time as stored, read once per run. */
static px_status known_due(eng_run *r) {
  if (r->due_known) return PX_OK;
  if (r->e && eng_cache_due(r->txn, r->e, r->pid, &r->due)) return r->due_known = 1, PX_OK;
  px_status s = eng_due_of(r->txn, r->st, r->pid, &r->due);
  r->due_known = s == PX_OK;
  return s;
}

static px_status reschedule(eng_run *r, int64_t until, int all) {
  px_status s = known_due(r);
  if (s != PX_OK) return s;
  int64_t old = r->due, due = all || until < old ? until : old;
  if (due == old) return PX_OK;
  r->due_known = 0;
  if ((s = unschedule(r->txn, r->st, r->pid, old)) != PX_OK) return s;
  if (due != INT64_MAX) {
    px_key k, v;
    due_key(&k, due, r->pid);
    if ((s = px_store_put(r->txn, r->st, PX_DB_DUE, k.b, k.n, "", 0, 0)) != PX_OK) return s;
    pdue_key(&k, r->pid);
    px_key_init(&v);
    px_key_i64(&v, due);
    if ((s = px_store_put(r->txn, r->st, PX_DB_DUE, k.b, k.n, v.b, v.n, 0)) != PX_OK) return s;
  }
  r->due = due;
  r->due_known = 1;
  return PX_OK;
}

px_status eng_schedule(px_txn *txn, const px_store *st, uint64_t pid, int64_t until, int all) {
  eng_run r = {.txn = txn, .st = st, .pid = pid};
  return reschedule(&r, until, all);
}

px_status px_segment_next_due(px_txn *txn, const px_store *st, int64_t *due_ms) {
  *due_ms = INT64_MAX;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_DUE), px_store_dbi(st, PX_DB_DUE), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k = {1, "d"}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && k.mv_size == 17 && *(const char *)k.mv_data == 'd') *due_ms = px_get_i64((const char *)k.mv_data + 1);
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

/* ---- processing one profile ---- */

/* ---- a profile with nothing yet ----
 *
 * A new profile's first event can only have changed the segments that
 * read what it brought (aggregations it fed, traits, identifiers, profile
 * fields): every other segment has the result it has for a profile with
 * nothing, the same for every new profile. Those results are computed once
 * per registry (in evaluation order, in segment reading the blank result)
 * and used as long as they do not depend on the time. */

typedef struct blank_ctx {
  px_engine *e;
  const eng_seg *seg;
  int64_t now;
} blank_ctx;

static px_status blank_agg(const blank_ctx *b, int slot, px_rule_value *out, int64_t *until) {
  return px_agg_value(b->e->slots[slot].agg, NULL, 0, b->now, out, until, NULL);
}

static px_status blank_get(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *until) {
  const blank_ctx *b = arg;
  memset(out, 0, sizeof *out);
  int c = ns == PX_NS_COMPUTED ? eng_ctrait_find(b->e, name) : -1;
  return c < 0 ? PX_OK : blank_agg(b, b->e->ctraits[c].slot, out, until); /* anything else: nothing */
}

static px_status blank_in_segment(void *arg, const char *name, int *in) {
  const blank_ctx *b = arg;
  int i = eng_seg_find(b->e, name);
  *in = i >= 0 && b->e->blank_in[i];
  return PX_OK;
}

static px_status blank_aggregate(void *arg, int i, px_rule_value *out, int64_t *until) {
  const blank_ctx *b = arg;
  return blank_agg(b, b->seg->slots[i], out, until);
}

static void compute_blank(px_engine *e, int64_t now) {
  blank_ctx b = {e, NULL, now};
  px_rule_env env = {&b, now, blank_get, blank_in_segment, blank_aggregate};
  for (size_t i = 0; i < e->nsegs; i++) {
    int in = 0;
    int64_t until = INT64_MAX;
    b.seg = &e->segs[i];
    px_status s = px_rule_eval(e->segs[i].rule, &env, &in, &until);
    e->blank_in[i] = s == PX_OK && in;
    e->blank_const[i] = s == PX_OK && until == INT64_MAX;
  }
  e->blank_ready = 1;
}

/* An aggregation's value as it was before an event, for telling whether
 * the event changed it (strings copied: the state changes under them). */
typedef struct before {
  px_rule_value v;
  int64_t until;
  char s[128];
  int ok; /* 0: not comparable (a longer string) */
} before;

static px_status value_before(eng_run *r, int i, int64_t t, before *b) {
  const px_buf *st = &r->e->states[i];
  px_status s = px_agg_value(r->e->slots[i].agg, st->data, st->len, t, &b->v, &b->until, NULL);
  b->ok = s == PX_OK && (b->v.type != PX_RV_STR || b->v.len <= sizeof b->s);
  if (b->ok && b->v.type == PX_RV_STR) {
    memcpy(b->s, b->v.s, b->v.len);
    b->v.s = b->s;
  }
  return s;
}

static px_status same_value(eng_run *r, int i, const before *b, int *same) {
  px_rule_value v;
  int64_t until;
  px_status s = slot_value(r, i, &v, &until);
  *same = 0;
  if (s != PX_OK || v.type != b->v.type || until != b->until) return s;
  switch (v.type) {
    case PX_RV_NULL: *same = 1; break;
    case PX_RV_BOOL: *same = v.b == b->v.b; break;
    case PX_RV_NUM: *same = v.n == b->v.n; break;
    case PX_RV_TIME: *same = v.t == b->v.t; break;
    case PX_RV_STR: *same = v.len == b->v.len && memcmp(v.s, b->v.s, v.len) == 0; break;
  }
  return PX_OK;
}

/* Observes ev (when given) on the aggregations, expires them (time), and
 * re-evaluates what may have changed: all segments, or those whose
 * aggregations took the event, that read what flags say changed, or that
 * read a segment that changed. */
/* The first index from i on whose byte is not 0 (n if none): a run
 * visits only the segments marked, eight bytes at a time past the rest. */
static size_t next_marked(const unsigned char *need, size_t i, size_t n) {
  while (i + 8 <= n) {
    uint64_t w;
    memcpy(&w, need + i, 8);
    if (w) break;
    i += 8;
  }
  while (i < n && !need[i]) i++;
  return i;
}

/* What a run re-evaluates. */
enum {
  RUN_EVENT, /* an event: what it may have changed */
  RUN_NEW,   /* an event that created the profile: that, and what differs from a blank profile */
  RUN_TIME,  /* time passed to the profile's due time: what compares with now or read a value that changed */
  RUN_ALL,   /* everything (a merge, a score change) */
};

static px_status run_profile(eng_run *r, const px_event *ev, unsigned flags, int mode, px_seg_cause cause,
                             uint64_t seq) {
  int all = mode == RUN_ALL;
  px_engine *e = r->e;
  eng_reset_slots(e);
  px_status s = eng_cache_enter(r);
  int psegs_changed = 0;
  if (ev && ev->type == PX_EV_TRACK && ev->name) {
    const eng_event *named = eng_event_find(e, ev->name);
    int nnamed = named ? named->n : 0;
    for (int j = 0; j < nnamed + e->nany && s == PX_OK; j++) {
      int i = j < nnamed ? named->slots[j] : e->any_slots[j - nnamed];
      eng_slot *sl = &e->slots[i];
      if ((s = eng_load_slot(r, i)) != PX_OK) break;
      /* Several segments read it and its value may well stay (a most
       * frequent category, a distinct count): keep the value before, and
       * wake the readers only if the event changed it. */
      before b;
      int compare = sl->nreaders > 1 && sl->agg->fn != PX_AGG_COUNT && sl->agg->fn != PX_AGG_SUM;
      if (compare && (s = value_before(r, i, r->now, &b)) != PX_OK) break;
      int ch = 0;
      s = px_agg_observe(sl->agg, &e->states[i], ev->name, ev->timestamp_ms, ev->seq, ev->properties, r->now, &ch);
      e->sflags[i] = (unsigned char)((e->sflags[i] & ~SL_VALUE) | (ch & PX_AGG_REWRITTEN ? SL_DIRTY : 0));
      if (s == PX_OK && (ch & PX_AGG_TAKEN)) {
        int same = 0;
        if (compare && b.ok) s = same_value(r, i, &b, &same);
        if (!same) e->sflags[i] |= SL_TAKEN;
      }
    }
    for (int j = 0; j < nnamed + e->nany; j++) { /* what reads a state that took the event */
      int i = j < nnamed ? named->slots[j] : e->any_slots[j - nnamed];
      const eng_slot *sl = &e->slots[i];
      for (int k = 0; (e->sflags[i] & SL_TAKEN) && k < sl->nreaders; k++) e->need[sl->readers[k]] = 1;
    }
  }
  /* A time run evaluates only some segments; those it leaves change
   * only when a value they read does: the next due time is also no later
   * than the first instant a read value may change. */
  int64_t until_values = INT64_MAX;
  if (mode == RUN_TIME) {
    /* Nothing changed before the due time (it is the earliest instant
     * any result could): a reader must run if its value is not what it
     * was the millisecond before. */
    for (size_t i = 0; i < e->nslots && s == PX_OK; i++) {
      eng_slot *sl = &e->slots[i];
      if ((s = eng_load_slot(r, (int)i)) != PX_OK || !e->states[i].len) continue;
      before b = {.ok = 0};
      if (sl->nreaders && (s = value_before(r, (int)i, r->now - 1, &b)) != PX_OK) break;
      int ch = 0, same = 0;
      s = px_agg_expire(sl->agg, &e->states[i], r->now, &ch);
      e->sflags[i] = (unsigned char)((e->sflags[i] & ~SL_VALUE) | (ch & PX_AGG_REWRITTEN ? SL_DIRTY : 0));
      if (s != PX_OK || !sl->nreaders) continue;
      px_rule_value v;
      int64_t u;
      if ((s = slot_value(r, (int)i, &v, &u)) != PX_OK) break;
      if (u < until_values) until_values = u;
      if (b.ok) s = same_value(r, (int)i, &b, &same);
      for (int k = 0; s == PX_OK && !same && k < sl->nreaders; k++) e->need[sl->readers[k]] = 1;
    }
    for (int k = 0; k < e->ntime; k++) e->need[e->time_segs[k]] = 1;
  }
  if (mode == RUN_NEW) { /* 1: evaluate; 2: what a profile with nothing is in */
    if (!e->blank_ready) compute_blank(e, r->now);
    for (size_t i = 0; i < e->nsegs; i++)
      e->need[i] |= (unsigned char)(!e->blank_const[i] ? 1 : e->blank_in[i] ? 2 : 0);
  }
  int64_t until_all = INT64_MAX;
  if (all) memset(e->need, 1, e->nsegs);
  for (int k = 0; k < e->nalways; k++) e->need[e->always[k]] = 1;
  for (int k = 0; (flags & PX_SEG_IDENTS) && k < e->nident; k++) e->need[e->ident_readers[k]] = 1;
  for (int k = 0; (flags & PX_SEG_TRAITS) && k < e->ntrait; k++) e->need[e->trait_readers[k]] = 1;
  for (size_t i = next_marked(e->need, 0, e->nsegs); i < e->nsegs && s == PX_OK;
       i = next_marked(e->need, i + 1, e->nsegs)) {
    int in = 1, changed = 0; /* need 2: what every profile with nothing yet is in */
    int64_t until = INT64_MAX;
    eng_seg *g = &e->segs[i];
    int evaluate = e->need[i] & 1;
    e->need[i] = 0;
    if (evaluate && (s = eng_eval(r, g, &in, &until)) != PX_OK) break;
    if ((s = px_members_change(r->txn, r->st, &e->psegs, g->id, r->pid, in, &changed)) != PX_OK) break;
    if (changed) { /* those reading it come later in the order */
      psegs_changed = 1;
      for (int k = 0; k < g->ndependents; k++) e->need[g->dependents[k]] = 1;
      s = eng_history_put(r->txn, r->st, r->pid, r->now, cause, seq, g->id, in);
    }
    if (until < until_all) until_all = until;
  }
  if (s != PX_OK) memset(e->need, 0, e->nsegs); /* stopped early: nothing carries over */
  /* Every result is known after a full run and for a new profile (its
   * unevaluated segments hold for ever): the due time is exactly the
   * earliest. Otherwise it can only come earlier. */
  if (until_values < until_all) until_all = until_values;
  if (s == PX_OK && e->nsegs) s = reschedule(r, until_all, mode == RUN_ALL || mode == RUN_NEW);
  if (s == PX_OK) s = eng_cache_leave(r, psegs_changed);
  return s;
}

/* Processes the profile's time-based changes due at or before now, each at
 * its due time. */
static px_status run_due(eng_run *r, int64_t now, uint64_t max_steps) {
  px_status s = PX_OK;
  for (uint64_t n = 0; s == PX_OK && n < max_steps; n++) {
    if ((s = known_due(r)) != PX_OK || r->due > now) break;
    int64_t due = r->due;
    r->due_known = 0;
    if ((s = unschedule(r->txn, r->st, r->pid, due)) != PX_OK) break;
    r->due = INT64_MAX;
    r->due_known = 1;
    r->now = due;
    r->have_rec = 0;
    s = run_profile(r, NULL, 0, RUN_TIME, PX_SEG_CAUSE_TIME, 0);
  }
  return s;
}

px_status px_segment_apply(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid, const px_event *ev,
                           unsigned flags) {
  px_status s = flags & PX_SEG_NEW ? px_members_set(txn, st, PX_MEMBERS_LIVE, pid, 1, NULL) : PX_OK;
  px_engine *e;
  if (s == PX_OK) s = eng_get(txn, st, &e);
  if (s != PX_OK || (!e->nsegs && !e->nslots)) return s; /* nothing defined: nothing more to do */
  eng_run r = {.e = e, .txn = txn, .st = st, .cfg = cfg, .pid = pid};
  if (e->nsegs && (s = run_due(&r, ev->received_ms, 1000)) != PX_OK) return s;
  r.now = ev->received_ms;
  r.have_rec = 0;
  int mode = flags & PX_SEG_MERGED ? RUN_ALL : flags & PX_SEG_NEW ? RUN_NEW : RUN_EVENT;
  return run_profile(&r, ev, flags, mode, PX_SEG_CAUSE_EVENT, ev->seq);
}

px_status px_segment_merge(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t survivor, uint64_t loser,
                           const px_event *ev) {
  px_status s = px_members_set(txn, st, PX_MEMBERS_LIVE, loser, 0, NULL);
  px_engine *e;
  if (s == PX_OK) s = eng_get(txn, st, &e);
  if (s != PX_OK || (!e->nsegs && !e->nslots)) return s;
  /* Both profiles as the store has them: their cached runs written first. */
  if ((s = eng_cache_evict(txn, st, e, survivor)) != PX_OK || (s = eng_cache_evict(txn, st, e, loser)) != PX_OK)
    return s;
  /* The loser's record, copied out first, then deleted. */
  MDB_val rec;
  px_buf bytes;
  px_buf_init(&bytes, 0);
  if ((s = eng_states_get(txn, st, loser, &rec)) == PX_OK && rec.mv_size) {
    if ((s = px_buf_append(&bytes, rec.mv_data, rec.mv_size)) == PX_OK) {
      px_key lk;
      px_key_init(&lk);
      px_key_u64(&lk, loser);
      s = px_store_del(txn, st, PX_DB_AGGS, lk.b, lk.n);
    }
  }
  eng_run r = {.e = e, .txn = txn, .st = st, .cfg = cfg, .pid = survivor, .now = ev->received_ms};
  eng_reset_slots(e);
  const unsigned char *p = (const unsigned char *)bytes.data, *end = p + bytes.len;
  uint64_t key;
  MDB_val v;
  while (s == PX_OK && bytes.len && eng_states_next(&p, end, &key, &v)) {
    int j = eng_slot_find(e, key);
    if (j >= 0 && (s = eng_load_slot(&r, j)) == PX_OK &&
        (s = px_agg_merge(e->slots[j].agg, &e->states[j], v.mv_data, v.mv_size)) == PX_OK)
      e->sflags[j] |= SL_DIRTY;
  }
  if (s == PX_OK) s = eng_store_slots(&r);
  px_buf_free(&bytes);
  /* The loser leaves everything; the survivor is re-evaluated next. */
  if (s == PX_OK) s = px_psegs_load(txn, st, loser, &e->psegs);
  for (size_t i = 0; i < e->psegs.n && s == PX_OK; i++) {
    uint32_t id = e->psegs.ids[i];
    if ((s = px_members_set(txn, st, id, loser, 0, NULL)) == PX_OK)
      s = eng_history_put(txn, st, loser, ev->received_ms, PX_SEG_CAUSE_EVENT, ev->seq, id, 0);
  }
  e->psegs.n = 0;
  if (s == PX_OK) s = px_psegs_store(txn, st, loser, &e->psegs);
  int64_t due;
  if (s == PX_OK) s = eng_due_of(txn, st, loser, &due);
  if (s == PX_OK) s = unschedule(txn, st, loser, due);
  return s;
}

px_status px_segment_sweep(px_txn *txn, const px_store *st, const px_config *cfg, int64_t now_ms, uint64_t max,
                           uint64_t *done) {
  uint64_t n = 0;
  px_engine *e;
  px_status s = eng_get(txn, st, &e);
  while (s == PX_OK && (!max || n < max)) {
    int64_t due;
    if ((s = px_segment_next_due(txn, st, &due)) != PX_OK || due > now_ms) break;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_DUE), px_store_dbi(st, PX_DB_DUE), &cur);
    if (rc) {
      s = px_store_status(rc);
      break;
    }
    MDB_val k = {1, "d"}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    uint64_t pid = rc == 0 && k.mv_size == 17 ? px_get_u64((const char *)k.mv_data + 9) : 0;
    mdb_cursor_close(cur);
    if (!pid) break;
    eng_run r = {.e = e, .txn = txn, .st = st, .cfg = cfg, .pid = pid};
    if (!e->nsegs) { /* nothing left to evaluate: drop the entry */
      s = unschedule(txn, st, pid, due);
    } else {
      /* One step (the earliest due); a later due of the same profile comes
       * round again in due order. */
      s = run_due(&r, due, 1);
    }
    n++;
  }
  if (done) *done = n;
  return s;
}

px_status px_ctrait_get(px_txn *txn, const px_store *st, const char *name, px_ctrait *out) {
  px_def d;
  px_status s = px_def_get(txn, st, PX_DEF_CTRAIT, name, &d);
  if (s != PX_OK) return s;
  cJSON *body = cJSON_Parse(d.body);
  s = body && px_ctrait_parse(body, out, NULL) == PX_OK ? PX_OK : PX_STORE;
  cJSON_Delete(body);
  px_def_free(&d);
  return s;
}

px_status px_ctrait_value(px_txn *txn, const px_store *st, uint64_t pid, const char *name, int64_t now_ms,
                          px_buf *scratch, px_rule_value *out) {
  memset(out, 0, sizeof *out);
  /* Readers have no registry of their own: the definition is read here. */
  px_ctrait t;
  px_status s = px_ctrait_get(txn, st, name, &t);
  if (s != PX_OK) return s;
  s = px_ctrait_value_of(txn, st, pid, &t, now_ms, scratch, out);
  px_ctrait_free(&t);
  return s;
}

px_status px_ctrait_value_of(px_txn *txn, const px_store *st, uint64_t pid, const px_ctrait *t, int64_t now_ms,
                             px_buf *scratch, px_rule_value *out) {
  memset(out, 0, sizeof *out);
  uint64_t key;
  px_status s = px_ctrait_state_key(t, &key);
  if (s != PX_OK) return s;
  MDB_val v;
  s = eng_state_get(txn, st, pid, key, &v);
  return s == PX_OK ? px_agg_value(&t->agg, v.mv_data, v.mv_size, now_ms, out, NULL, scratch) : s;
}

px_status px_ctrait_state_key(const px_ctrait *t, uint64_t *key) {
  char text[PX_RULE_MAX_BYTES];
  px_status s = px_rule_agg_print(&t->agg, text, sizeof text);
  if (s == PX_OK) *key = XXH64(text, strlen(text), 0);
  return s;
}

/* The states of keys[0..n) in a profile's record into out. */
static void pick_states(const MDB_val *rec, const uint64_t *keys, size_t n, MDB_val *out) {
  for (size_t i = 0; i < n; i++) out[i].mv_size = 0, out[i].mv_data = NULL;
  const unsigned char *p = rec->mv_data, *end = p + rec->mv_size;
  uint64_t k;
  MDB_val v;
  while (rec->mv_size && eng_states_next(&p, end, &k, &v))
    for (size_t i = 0; i < n; i++)
      if (keys[i] == k) out[i] = v;
}

px_status px_ctrait_states(px_txn *txn, const px_store *st, uint64_t pid, const uint64_t *keys, size_t n,
                           MDB_val *out) {
  MDB_val rec;
  px_status s = eng_states_get(txn, st, pid, &rec);
  pick_states(&rec, keys, n, out);
  return s;
}

px_status px_ctrait_states_each(px_txn *txn, const px_store *st, const uint64_t *keys, size_t n,
                                px_ctrait_states_fn fn, void *arg) {
  MDB_val *out = malloc((n ? n : 1) * sizeof *out);
  if (!out) return PX_NOMEM;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_AGGS), px_store_dbi(st, PX_DB_AGGS), &cur);
  if (rc) {
    free(out);
    return px_store_status(rc);
  }
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) continue;
    pick_states(&v, keys, n, out);
    if (fn(arg, px_get_u64(k.mv_data), out)) break;
  }
  mdb_cursor_close(cur);
  free(out);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

/* ---- re-evaluation when a score changed ---- */

px_status px_segment_reads_score(px_txn *txn, const px_store *st, const char *const *names, size_t n,
                                 int *reads) {
  *reads = 0;
  px_engine *e;
  px_status s = eng_get(txn, st, &e);
  for (size_t i = 0; s == PX_OK && i < e->nsegs && !*reads; i++)
    for (int j = 0, nr = px_rule_nrefs(e->segs[i].rule); j < nr && !*reads; j++) {
      px_rule_ns ns;
      const char *name = px_rule_ref_at(e->segs[i].rule, j, &ns);
      for (size_t k = 0; ns == PX_NS_SCORE && k < n && !*reads; k++) *reads = strcmp(name, names[k]) == 0;
    }
  return s;
}

px_status px_segment_reevaluate(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t pid, int64_t now_ms) {
  px_engine *e;
  px_status s = eng_get(txn, st, &e);
  if (s != PX_OK || !e->nsegs) return s;
  eng_run r = {.e = e, .txn = txn, .st = st, .cfg = cfg, .pid = pid};
  if ((s = run_due(&r, now_ms, 1000)) != PX_OK) return s; /* time-based changes first, at their due time */
  r.now = now_ms;
  r.have_rec = 0;
  return run_profile(&r, NULL, 0, RUN_ALL, PX_SEG_CAUSE_SCORE, 0);
}
