#include "ingest/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"
#include "profile/profile.h"
#include "store/key.h"

px_status px_pipeline_prepare(const px_config *cfg, cJSON *item, const px_event_ctx *ctx,
                              px_event *ev, px_error *err) {
  px_status s = px_event_from_json(item, ctx, ev, err);
  if (s != PX_OK) return s;
  /* Extracted here, on the request's thread, so the writer need not. */
  px_ident ids[PX_MAX_EVENT_IDENTS];
  int blocked;
  int n = px_identity_extract(cfg, ev, ids, PX_MAX_EVENT_IDENTS, &blocked);
  if (n == 0) {
    px_event_free(ev);
    return px_error_set(err, PX_INVALID, "userId",
                        "no usable identifier: userId/anonymousId are blocked or invalid values");
  }
  if (!(ev->idents = malloc((size_t)n * sizeof *ids))) {
    px_event_free(ev);
    return PX_NOMEM;
  }
  memcpy(ev->idents, ids, (size_t)n * sizeof *ids);
  ev->nidents = n;
  ev->nblocked = blocked;
  ev->idents_version = cfg->version;
  return PX_OK;
}

static void add_counter(MDB_txn *txn, const px_store *st, const char *name, int64_t delta,
                        px_status *s) {
  if (*s != PX_OK || delta == 0) return;
  uint64_t v;
  if ((*s = px_store_counter(txn, st, name, &v)) == PX_OK)
    *s = px_store_set_counter(txn, st, name, (uint64_t)((int64_t)v + delta));
}

px_status px_pipeline_derive(MDB_txn *txn, const px_store *st, const px_config *cfg,
                             const px_event *ev, px_metrics *m) {
  px_ident ids[PX_MAX_EVENT_IDENTS];
  int blocked = 0, n;
  if (ev->idents && ev->idents_version == cfg->version) {
    n = ev->nidents; /* extracted by prepare under the same configuration */
    blocked = ev->nblocked;
    memcpy(ids, ev->idents, (size_t)n * sizeof *ids);
  } else {
    n = px_identity_extract(cfg, ev, ids, PX_MAX_EVENT_IDENTS, &blocked);
  }
  if (ev->type == PX_EV_ALIAS && ev->previous_id && n < PX_MAX_EVENT_IDENTS) {
    /* Segment's alias: previousId is an earlier userId or an anonymousId. */
    uint64_t pid;
    int k;
    const char *kind = px_identity_lookup(txn, st, cfg, "user_id", ev->previous_id, &pid) == PX_OK
                           ? "user_id"
                           : "anonymous_id";
    const px_kind *pk = px_config_kind(cfg, kind, &k);
    if (pk && px_identity_normalize(cfg, pk, ev->previous_id, ids[n].value) == PX_OK) {
      ids[n].kind = k;
      int dup = 0;
      for (int i = 0; i < n; i++) dup |= ids[i].kind == k && strcmp(ids[i].value, ids[n].value) == 0;
      if (!dup) n++;
    }
  }
  if (m) atomic_fetch_add(&m->identifiers_blocked, (uint64_t)blocked);
  if (n == 0) return PX_OK; /* logged, but nothing to attach it to (config changed since) */
  px_resolution res;
  px_status s = px_identity_resolve(txn, st, cfg, ev, ids, n, &res);
  if (s != PX_OK) return s;
  for (int i = 0; i < res.nmerges && s == PX_OK; i++)
    s = px_profile_merge(txn, st, res.merges[i].survivor, res.merges[i].loser);
  add_counter(txn, st, "profiles", (res.created ? 1 : 0) - res.nmerges, &s);
  add_counter(txn, st, "merges", res.nmerges, &s);
  if (s == PX_OK) s = px_profile_apply(txn, st, res.profile_id, ev);
  if (m && res.refused) atomic_fetch_add(&m->merges_refused, (uint64_t)res.refused);
  return s;
}

px_status px_pipeline_ingest_many(MDB_txn *txn, const px_store *st, const px_config *cfg,
                                  px_event *evs, size_t n, uint8_t *dup, px_metrics *m) {
  uint64_t seq;
  px_status s = px_store_counter(txn, st, "seq", &seq);
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    px_event *ev = &evs[i];
    px_key dk, sk;
    px_key_init(&dk);
    px_key_u32(&dk, ev->source_id);
    px_key_bytes(&dk, ev->message_id, strlen(ev->message_id));
    if (dk.overflow) return PX_INVALID;
    ev->seq = seq + 1;
    px_key_init(&sk);
    px_key_u64(&sk, ev->seq);
    /* One put both checks and records the (source, messageId) pair. */
    s = px_store_put(txn, st, PX_DB_DEDUP, dk.b, dk.n, sk.b, sk.n, MDB_NOOVERWRITE);
    dup[i] = s == PX_EXISTS;
    if (dup[i]) {
      s = PX_OK;
      continue;
    }
    if (s != PX_OK) break;
    seq++;
    if ((s = px_store_put(txn, st, PX_DB_EVENTS, sk.b, sk.n, ev->rec, ev->rec_len, MDB_APPEND)) != PX_OK)
      break;
    s = px_pipeline_derive(txn, st, cfg, ev, m);
  }
  if (s == PX_OK) s = px_store_set_counter(txn, st, "seq", seq);
  return s;
}

px_status px_pipeline_ingest(MDB_txn *txn, const px_store *st, const px_config *cfg, px_event *ev,
                             int *duplicate, px_metrics *m) {
  uint8_t dup = 0;
  px_status s = px_pipeline_ingest_many(txn, st, cfg, ev, 1, &dup, m);
  *duplicate = dup;
  return s;
}

px_status px_pipeline_replay(px_store *st, px_progress_fn progress, void *arg, px_error *err) {
  MDB_txn *txn;
  px_config cfg;
  uint64_t total = 0, done = 0;
  px_status s = px_store_begin(st, 1, &txn);
  if (s != PX_OK) return s;
  if ((s = px_config_load(txn, st, &cfg, err)) != PX_OK) {
    px_store_abort(txn);
    return s;
  }
  MDB_cursor *cur = NULL;
  int rc = 0;
  if ((s = px_store_count(txn, st, PX_DB_EVENTS, &total)) != PX_OK ||
      (s = px_store_clear_derived(txn, st)) != PX_OK ||
      (s = px_store_status(mdb_cursor_open(txn, px_store_dbi(st, PX_DB_EVENTS), &cur))) != PX_OK)
    goto out;
  MDB_val key, val;
  for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    px_event ev;
    if ((s = px_event_decode(val.mv_data, val.mv_size, px_get_u64(key.mv_data), &ev)) != PX_OK)
      goto out;
    s = px_pipeline_derive(txn, st, &cfg, &ev, NULL);
    px_event_free(&ev);
    if (s != PX_OK) goto out;
    if (++done % 10000 == 0 && progress) progress(arg, done, total);
  }
  if (rc != MDB_NOTFOUND) {
    s = px_store_status(rc);
    goto out;
  }
  mdb_cursor_close(cur);
  cur = NULL;
  s = px_store_commit(txn);
  txn = NULL;
  if (s == PX_OK && progress) progress(arg, done, total);
out:
  if (cur) mdb_cursor_close(cur);
  px_store_abort(txn);
  px_config_free(&cfg);
  return s;
}
