#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "identity/identity.h"
#include "store/key.h"

#define NEW_PROFILE UINT64_MAX /* the profile the event's unknown identifiers would form */
#define DROPPED (UINT64_MAX - 1) /* an identifier a new profile may not hold (over a maximum) */

typedef struct pident_val {
  int64_t first_seen;
  uint32_t source_id;
  uint32_t reserved;
} pident_val;

typedef struct resolver {
  px_txn *txn;
  const px_store *st;
  const px_config *cfg;
  const px_event *ev;
  const px_ident *ids;
  int n;
  uint64_t pid[PX_MAX_EVENT_IDENTS]; /* current profile of each identifier; NEW_PROFILE if none */
  int known[PX_MAX_EVENT_IDENTS];    /* stored already (else it joins its profile at the end) */
  px_resolution *out;
} resolver;

static void ident_key(px_key *k, const char *kind, const char *value) {
  px_key_init(k);
  px_key_str(k, kind, strlen(kind));
  px_key_bytes(k, value, strlen(value));
}

static void pident_key(px_key *k, uint64_t pid, const char *kind, const char *value) {
  px_key_init(k);
  px_key_u64(k, pid);
  px_key_str(k, kind, strlen(kind));
  if (value) px_key_bytes(k, value, strlen(value));
}

static px_status lookup(resolver *r, const px_ident *id, uint64_t *pid) {
  px_key k;
  ident_key(&k, r->cfg->kinds[id->kind].name, id->value);
  MDB_val v;
  px_status s = px_store_get(r->txn, r->st, PX_DB_IDENT, k.b, k.n, &v);
  if (s == PX_OK) *pid = px_get_u64(v.mv_data);
  return s;
}

/* How many identifiers of a kind a profile holds (counting stops past max). */
static px_status count_kind(resolver *r, uint64_t pid, const char *kind, uint32_t max,
                            uint32_t *out) {
  *out = 0;
  /* Identifiers of this event heading to pid are not stored yet: count them. */
  for (int i = 0; i < r->n; i++)
    if (r->pid[i] == pid && !r->known[i] && strcmp(r->cfg->kinds[r->ids[i].kind].name, kind) == 0)
      (*out)++;
  if (pid == NEW_PROFILE) return PX_OK;
  px_key k;
  pident_key(&k, pid, kind, NULL);
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(r->txn, PX_DB_PIDENTS), px_store_dbi(r->st, PX_DB_PIDENTS), &cur);
  if (rc) return px_store_status(rc);
  MDB_val key = {k.n, k.b}, v;
  for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0 && *out <= max;
       rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
    if (key.mv_size < k.n || memcmp(key.mv_data, k.b, k.n) != 0) break;
    (*out)++;
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

static void append_idents(px_buf *b, resolver *r, uint64_t only) {
  px_buf_puts(b, "[");
  int first = 1;
  for (int i = 0; i < r->n; i++) {
    if (only && r->pid[i] != only) continue;
    px_buf_printf(b, "%s{\"kind\":\"%s\",\"value\":", first ? "" : ",",
                  r->cfg->kinds[r->ids[i].kind].name);
    px_buf_json_str(b, r->ids[i].value, strlen(r->ids[i].value));
    px_buf_puts(b, "}");
    first = 0;
  }
  px_buf_puts(b, "]");
}

/* Appends an audit record and indexes it under each profile it touches. */
static px_status audit(resolver *r, const char *status, uint64_t survivor, uint64_t loser,
                       const char *reason, uint64_t only_new) {
  uint64_t mid;
  px_status s = px_store_next_id(r->txn, r->st, "merge", &mid);
  if (s != PX_OK) return s;
  px_buf b;
  px_buf_init(&b, 0);
  char t[32], sv[17], ls[17];
  px_time_format_iso(r->ev->received_ms, t);
  px_profile_id_format(survivor, sv);
  const char *cause = r->ev->type == PX_EV_ALIAS   ? "alias"
                      : r->ev->type == PX_EV_MERGE ? "probabilistic"
                                                   : "identifier";
  px_buf_printf(&b, "{\"id\":%llu,\"time\":\"%s\",\"status\":\"%s\",\"cause\":\"%s\",\"survivor\":\"%s\",",
                (unsigned long long)mid, t, status, cause, sv);
  if (loser && loser != NEW_PROFILE) {
    px_profile_id_format(loser, ls);
    px_buf_printf(&b, "\"loser\":\"%s\",", ls);
  } else {
    px_buf_puts(&b, "\"loser\":null,");
  }
  px_buf_printf(&b, "\"event\":{\"seq\":%llu,\"type\":\"%s\",\"messageId\":",
                (unsigned long long)r->ev->seq, px_event_type_name(r->ev->type));
  px_buf_json_str(&b, r->ev->message_id, strlen(r->ev->message_id));
  px_buf_puts(&b, "},\"identifiers\":");
  append_idents(&b, r, only_new);
  if (reason) {
    px_buf_puts(&b, ",\"reason\":");
    px_buf_json_str(&b, reason, strlen(reason));
  }
  const cJSON *match = r->ev->type == PX_EV_MERGE ? cJSON_GetObjectItemCaseSensitive(r->ev->root, "merge") : NULL;
  if (match) {
    /* The score and its explanation, as the linker wrote them. */
    px_buf_puts(&b, ",\"match\":");
    if (px_json_write(match, &b) != PX_OK) px_buf_puts(&b, "null");
  }
  px_buf_puts(&b, "}");
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, mid);
  s = b.data ? px_store_put(r->txn, r->st, PX_DB_MERGES, k.b, k.n, b.data, b.len, MDB_APPEND)
             : PX_NOMEM;
  px_buf_free(&b);
  uint64_t touched[2] = {survivor, loser};
  for (int i = 0; i < 2 && s == PX_OK; i++) {
    if (!touched[i] || touched[i] == NEW_PROFILE) continue;
    px_key_init(&k);
    px_key_u64(&k, touched[i]);
    px_key_u64(&k, mid);
    s = px_store_put(r->txn, r->st, PX_DB_PMERGES, k.b, k.n, "", 0, 0);
  }
  return s;
}

/* Would holding both profiles' identifiers break a per-kind maximum? Writes
 * the reason when it would. */
static px_status allowed(resolver *r, uint64_t a, uint64_t b, int *ok, char *why, size_t whyn) {
  *ok = 1;
  for (int k = 0; k < r->cfg->nkinds; k++) {
    const px_kind *kind = &r->cfg->kinds[k];
    if (!kind->max_per_profile) continue;
    uint32_t ca, cb;
    px_status s;
    if ((s = count_kind(r, a, kind->name, kind->max_per_profile, &ca)) != PX_OK ||
        (s = count_kind(r, b, kind->name, kind->max_per_profile, &cb)) != PX_OK)
      return s;
    if (ca + cb > kind->max_per_profile) {
      *ok = 0;
      snprintf(why, whyn, "max_per_profile: together the profiles would hold %u %s identifiers (max %u)",
               ca + cb, kind->name, kind->max_per_profile);
      return PX_OK;
    }
  }
  return PX_OK;
}

static px_status put_ident(resolver *r, uint64_t pid, const char *kind, const char *value,
                           const pident_val *pv) {
  px_key k;
  ident_key(&k, kind, value);
  px_key p;
  pident_key(&p, pid, kind, value);
  if (k.overflow || p.overflow) return PX_INVALID;
  px_key idk;
  px_key_init(&idk);
  px_key_u64(&idk, pid);
  px_status s = px_store_put(r->txn, r->st, PX_DB_IDENT, k.b, k.n, idk.b, 8, 0);
  if (s == PX_OK) s = px_store_put(r->txn, r->st, PX_DB_PIDENTS, p.b, p.n, pv, sizeof *pv, 0);
  return s;
}

typedef struct repoint {
  resolver *r;
  uint64_t survivor;
} repoint;

/* A moving identifier row (rest = kind NUL value): its ident entry follows. */
static px_status repoint_ident(void *arg, const void *rest, size_t rn, void *value, size_t vn,
                               const MDB_val *existing) {
  (void)value, (void)vn, (void)existing;
  repoint *rp = arg;
  px_key ik, idv;
  px_key_init(&ik);
  px_key_bytes(&ik, rest, rn);
  px_key_init(&idv);
  px_key_u64(&idv, rp->survivor);
  return px_store_put(rp->r->txn, rp->r->st, PX_DB_IDENT, ik.b, ik.n, idv.b, 8, 0);
}

/* Moves the loser's identifiers and merge index to the survivor. */
static px_status move_identity(resolver *r, uint64_t survivor, uint64_t loser) {
  repoint rp = {r, survivor};
  px_status s = px_store_move_prefix(r->txn, r->st, PX_DB_PIDENTS, loser, survivor, repoint_ident, &rp);
  if (s == PX_OK) s = px_store_move_prefix(r->txn, r->st, PX_DB_PMERGES, loser, survivor, NULL, NULL);
  return s;
}

static void redirect(resolver *r, uint64_t from, uint64_t to) {
  for (int i = 0; i < r->n; i++)
    if (r->pid[i] == from) r->pid[i] = to;
}

static px_status new_profile(resolver *r, uint64_t *pid) {
  px_status s = px_store_next_id(r->txn, r->st, "pid", pid);
  if (s == PX_OK) {
    r->out->created = 1;
    redirect(r, NEW_PROFILE, *pid);
  }
  return s;
}

px_status px_identity_resolve(px_txn *txn, const px_store *st, const px_config *cfg,
                              const px_event *ev, const px_ident *ids, int n, px_resolution *out) {
  memset(out, 0, sizeof *out);
  if (n <= 0) return PX_INVALID;
  resolver r = {txn, st, cfg, ev, ids, n < PX_MAX_EVENT_IDENTS ? n : PX_MAX_EVENT_IDENTS, {0}, {0}, out};
  px_status s;
  for (int i = 0; i < r.n; i++) {
    s = lookup(&r, &ids[i], &r.pid[i]);
    r.known[i] = s == PX_OK;
    if (s == PX_NOT_FOUND) r.pid[i] = NEW_PROFILE;
    else if (s != PX_OK) return s;
  }
  /* The highest-priority identifier decides where the event lands; the
   * profiles of the others join it where the rules allow. Refusals are
   * audited once the target is known. */
  uint64_t target = r.pid[0];
  struct {
    uint64_t pid;
    char why[160];
  } refused[PX_MAX_EVENT_IDENTS];
  int nrefused = 0;
  for (int i = 1; i < r.n; i++) {
    uint64_t other = r.pid[i];
    if (other == target) continue;
    int seen = 0;
    for (int j = 0; j < nrefused; j++) seen |= refused[j].pid == other;
    if (seen) continue;
    int ok;
    if ((s = allowed(&r, target, other, &ok, refused[nrefused].why, sizeof refused[0].why)) != PX_OK)
      return s;
    if (!ok) {
      refused[nrefused++].pid = other;
      continue;
    }
    if (target == NEW_PROFILE || other == NEW_PROFILE) {
      /* Unknown identifiers join the existing profile: no profiles merge. */
      uint64_t real = target == NEW_PROFILE ? other : target;
      redirect(&r, NEW_PROFILE, real);
      target = real;
      continue;
    }
    if (out->nmerges >= PX_MAX_EVENT_MERGES) break;
    uint64_t survivor = target < other ? target : other; /* ids grow with age */
    uint64_t loser = survivor == target ? other : target;
    if ((s = move_identity(&r, survivor, loser)) != PX_OK) return s;
    if ((s = audit(&r, "merged", survivor, loser, NULL, 0)) != PX_OK) return s;
    out->merges[out->nmerges].survivor = survivor;
    out->merges[out->nmerges].loser = loser;
    out->nmerges++;
    redirect(&r, loser, survivor);
    target = survivor;
  }
  /* A new profile obeys the maxima too: identifiers of a kind past its
   * maximum (the event's own, e.g. two e-mails with max 1) are not attached. */
  char dropped_why[160] = "";
  if (target == NEW_PROFILE) {
    for (int k = 0; k < cfg->nkinds; k++) {
      uint32_t max = cfg->kinds[k].max_per_profile, seen = 0;
      if (!max) continue;
      for (int i = 0; i < r.n; i++) {
        if (r.pid[i] != NEW_PROFILE || ids[i].kind != k || ++seen <= max) continue;
        r.pid[i] = DROPPED;
        snprintf(dropped_why, sizeof dropped_why,
                 "max_per_profile: a new profile may hold %u %s identifier%s", max, cfg->kinds[k].name,
                 max == 1 ? "" : "s");
      }
    }
  }
  if (target == NEW_PROFILE && (s = new_profile(&r, &target)) != PX_OK) return s;
  if (dropped_why[0]) {
    out->refused++;
    if ((s = audit(&r, "refused", target, 0, dropped_why, DROPPED)) != PX_OK) return s;
  }
  for (int j = 0; j < nrefused; j++) {
    uint64_t other = refused[j].pid;
    out->refused++;
    if ((s = audit(&r, "refused", target, other, refused[j].why,
                   other == NEW_PROFILE ? NEW_PROFILE : 0)) != PX_OK)
      return s;
  }
  /* Attach the identifiers that now belong to the target and are new to it. */
  for (int i = 0; i < r.n; i++) {
    /* Known identifiers are attached already (moved along by merges). */
    if (r.pid[i] != target || r.known[i]) continue;
    pident_val pv = {.first_seen = ev->timestamp_ms, .source_id = ev->source_id};
    if ((s = put_ident(&r, target, cfg->kinds[ids[i].kind].name, ids[i].value, &pv)) != PX_OK)
      return s;
    out->attached++;
  }
  out->profile_id = target;
  return PX_OK;
}

px_status px_identity_merge_pair(px_txn *txn, const px_store *st, const px_config *cfg, const px_event *ev,
                                 const px_ident ids[2], px_resolution *out) {
  memset(out, 0, sizeof *out);
  resolver r = {txn, st, cfg, ev, ids, 2, {0}, {0}, out};
  px_status s;
  for (int i = 0; i < 2; i++) {
    if ((s = lookup(&r, &ids[i], &r.pid[i])) != PX_OK) return s; /* PX_NOT_FOUND: nothing to merge */
    r.known[i] = 1;
  }
  out->profile_id = r.pid[0] < r.pid[1] ? r.pid[0] : r.pid[1];
  if (r.pid[0] == r.pid[1]) return PX_OK; /* one profile already */
  uint64_t survivor = out->profile_id, loser = survivor == r.pid[0] ? r.pid[1] : r.pid[0];
  int ok;
  char why[160];
  if ((s = allowed(&r, survivor, loser, &ok, why, sizeof why)) != PX_OK) return s;
  if (!ok) {
    out->refused = 1;
    return audit(&r, "refused", survivor, loser, why, 0);
  }
  if ((s = move_identity(&r, survivor, loser)) != PX_OK) return s;
  if ((s = audit(&r, "merged", survivor, loser, NULL, 0)) != PX_OK) return s;
  out->merges[0].survivor = survivor;
  out->merges[0].loser = loser;
  out->nmerges = 1;
  return PX_OK;
}

px_status px_identity_lookup(px_txn *txn, const px_store *st, const px_config *cfg,
                             const char *kind, const char *value, uint64_t *pid) {
  const px_kind *k = px_config_kind(cfg, kind, NULL);
  if (!k) return PX_NOT_FOUND;
  char norm[PX_IDENT_VALUE_MAX + 1];
  if (px_identity_normalize(cfg, k, value, norm) != PX_OK) return PX_NOT_FOUND;
  px_key key;
  ident_key(&key, kind, norm);
  if (key.overflow) return PX_NOT_FOUND;
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_IDENT, key.b, key.n, &v);
  if (s == PX_OK) *pid = px_get_u64(v.mv_data);
  return s;
}

px_status px_identity_each(px_txn *txn, const px_store *st, uint64_t pid, px_ident_fn fn,
                           void *arg) {
  /* The transaction's cursor: profiles read in id order (a backfill) find
   * theirs next to the last ones read. fn must not write the index. */
  MDB_cursor *cur = px_txn_cursor(txn, st, PX_DB_PIDENTS);
  if (!cur) return PX_STORE;
  int rc;
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 9 || px_get_u64(k.mv_data) != pid) break;
    const char *kind = (const char *)k.mv_data + 8;
    size_t kl = strnlen(kind, k.mv_size - 8);
    char value[PX_IDENT_VALUE_MAX + 1];
    size_t vl = k.mv_size - 8 - kl - 1;
    if (vl > PX_IDENT_VALUE_MAX) vl = PX_IDENT_VALUE_MAX;
    memcpy(value, kind + kl + 1, vl);
    value[vl] = 0;
    pident_val pv = {0};
    memcpy(&pv, v.mv_data, v.mv_size < sizeof pv ? v.mv_size : sizeof pv);
    if (fn(arg, kind, value, pv.first_seen, pv.source_id)) break;
  }
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

px_status px_identity_merges(px_txn *txn, const px_store *st, uint64_t pid, px_merge_fn fn,
                             void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_PMERGES), px_store_dbi(st, PX_DB_PMERGES), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid + 1);
  MDB_val k = {pre.n, pre.b}, v;
  /* Newest first: start just past the profile's range and walk back. */
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
  px_status s = PX_OK;
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
    if (k.mv_size != 16 || px_get_u64(k.mv_data) != pid) break;
    uint64_t mid = px_get_u64((char *)k.mv_data + 8);
    px_key mk;
    px_key_init(&mk);
    px_key_u64(&mk, mid);
    MDB_val rec;
    if ((s = px_store_get(txn, st, PX_DB_MERGES, mk.b, mk.n, &rec)) != PX_OK) break;
    if (fn(arg, mid, rec.mv_data, rec.mv_size)) break;
  }
  mdb_cursor_close(cur);
  if (s != PX_OK) return s;
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}
