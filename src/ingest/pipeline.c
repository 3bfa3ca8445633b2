#include "ingest/pipeline.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "identity/identity.h"
#include "profile/profile.h"
#include "segment/engine.h"
#include "store/key.h"

px_status px_pipeline_prepare(const px_config *cfg, cJSON *item, const px_event_ctx *ctx,
                              px_event *ev, px_error *err) {
  px_status s = px_event_from_json(item, ctx, ev, err);
  if (s != PX_OK || ev->type == PX_EV_MERGE) return s; /* a merge names its profiles itself */
  /* Extracted here, on the request's thread, so the writer need not. */
  px_ident ids[PX_MAX_EVENT_IDENTS];
  int blocked;
  int n = px_identity_extract(cfg, ev, ids, PX_MAX_EVENT_IDENTS, &blocked);
  if (n == 0) {
    px_event_free(ev);
    return px_error_set(err, PX_INVALID, "userId",
                        "no usable identifier: userId/anonymousId are blocked or invalid values");
  }
  if (!(ev->idents = cJSON_malloc((size_t)n * sizeof *ids))) { /* with the tree: in its arena */
    px_event_free(ev);
    return PX_NOMEM;
  }
  memcpy(ev->idents, ids, (size_t)n * sizeof *ids);
  ev->nidents = n;
  ev->nblocked = blocked;
  ev->idents_version = cfg->version;
  return PX_OK;
}

static void add_counter(px_txn *txn, const px_store *st, const char *name, int64_t delta,
                        px_status *s) {
  if (*s != PX_OK || delta == 0) return;
  uint64_t v;
  if ((*s = px_store_counter(txn, st, name, &v)) == PX_OK)
    *s = px_store_set_counter(txn, st, name, (uint64_t)((int64_t)v + delta));
}

/* A probabilistic merge: its two identifiers, normalized under cfg, name
 * the profiles to join. One that is unknown or no longer valid under the
 * configuration leaves the event logged with nothing to apply. */
static px_status derive_merge(px_txn *txn, const px_store *st, const px_config *cfg, const px_event *ev) {
  const cJSON *mg = cJSON_GetObjectItemCaseSensitive(ev->root, "merge");
  px_ident ids[2];
  static const char *const sides[] = {"a", "b"};
  for (int i = 0; i < 2; i++) {
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(mg, sides[i]);
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(side, "kind"));
    const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(side, "value"));
    const px_kind *pk = kind && value ? px_config_kind(cfg, kind, &ids[i].kind) : NULL;
    if (!pk || px_identity_normalize(cfg, pk, value, ids[i].value) != PX_OK) return PX_OK;
  }
  px_resolution res;
  px_status s = px_identity_merge_pair(txn, st, cfg, ev, ids, &res);
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s == PX_OK && res.nmerges) s = px_profile_merge(txn, st, res.merges[0].survivor, res.merges[0].loser);
  if (s == PX_OK && res.nmerges) s = px_segment_merge(txn, st, cfg, res.merges[0].survivor, res.merges[0].loser, ev);
  if (s == PX_OK && res.nmerges) s = px_segment_apply(txn, st, cfg, res.merges[0].survivor, ev, PX_SEG_MERGED);
  add_counter(txn, st, "profiles", -res.nmerges, &s);
  add_counter(txn, st, "merges", res.nmerges, &s);
  return s;
}

px_status px_pipeline_derive(px_txn *txn, const px_store *st, const px_config *cfg,
                             const px_event *ev, px_metrics *m) {
  if (ev->type == PX_EV_MERGE) return derive_merge(txn, st, cfg, ev);
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
  for (int i = 0; i < res.nmerges && s == PX_OK; i++) {
    s = px_profile_merge(txn, st, res.merges[i].survivor, res.merges[i].loser);
    if (s == PX_OK) s = px_segment_merge(txn, st, cfg, res.merges[i].survivor, res.merges[i].loser, ev);
  }
  add_counter(txn, st, "profiles", (res.created ? 1 : 0) - res.nmerges, &s);
  add_counter(txn, st, "merges", res.nmerges, &s);
  if (s == PX_OK) s = px_profile_apply(txn, st, res.profile_id, ev);
  /* Segments and computed traits, in the same transaction. */
  if (s == PX_OK) {
    unsigned flags = (res.nmerges ? PX_SEG_MERGED : 0) | (res.created ? PX_SEG_NEW : 0) |
                     (res.attached ? PX_SEG_IDENTS : 0);
    if (ev->type == PX_EV_IDENTIFY || ev->type == PX_EV_GROUP || ev->type == PX_EV_ALIAS || ev->context_traits ||
        ev->message_traits)
      flags |= PX_SEG_TRAITS;
    s = px_segment_apply(txn, st, cfg, res.profile_id, ev, flags);
  }
  if (m && res.refused) atomic_fetch_add(&m->merges_refused, (uint64_t)res.refused);
  return s;
}

static uint64_t dedup_hash(const px_event *ev) {
  return px_dedup_hash(ev->source_id, ev->message_id, strlen(ev->message_id));
}

/* The dedup table's verification: is the logged event at seq (possibly
 * logged earlier in this same transaction) the message ev? */
typedef struct same_arg {
  px_txn *txn;
  const px_store *st;
  const px_event *ev;
} same_arg;

static px_status same_message(void *arg, uint64_t seq, int *same) {
  const same_arg *a = arg;
  *same = 0;
  px_key sk;
  px_key_init(&sk);
  px_key_u64(&sk, seq);
  MDB_val rec;
  px_status s = px_store_get(a->txn, a->st, PX_DB_EVENTS, sk.b, sk.n, &rec);
  if (s == PX_NOT_FOUND) return PX_OK; /* left by a transaction that did not commit */
  if (s != PX_OK) return s;
  px_event old;
  if ((s = px_event_decode(rec.mv_data, rec.mv_size, seq, &old)) != PX_OK) return s;
  *same = old.source_id == a->ev->source_id && old.message_id && strcmp(old.message_id, a->ev->message_id) == 0;
  px_event_free(&old);
  return PX_OK;
}

px_status px_pipeline_catch_up(px_txn *txn, const px_store *st, const px_config *cfg, uint64_t max,
                               uint64_t *done) {
  uint64_t applied, last, n = 0;
  /* Each event is applied under the configuration it was logged under
   * (cfg when that is the one; otherwise loaded from the log's history). */
  px_config old;
  int have_old = 0;
  px_dedup *dd;
  px_status s = px_store_dedup(txn, &dd);
  if (s == PX_OK) s = px_store_counter(txn, st, "applied", &applied);
  if (s == PX_OK) s = px_store_counter(txn, st, "seq", &last);
  while (s == PX_OK && applied < last && (!max || n < max)) {
    px_key sk;
    px_key_init(&sk);
    px_key_u64(&sk, applied + 1);
    MDB_val rec;
    px_event ev;
    if ((s = px_store_get(txn, st, PX_DB_EVENTS, sk.b, sk.n, &rec)) != PX_OK) break;
    if ((s = px_event_decode(rec.mv_data, rec.mv_size, applied + 1, &ev)) != PX_OK) break;
    s = px_dedup_insert(dd, dedup_hash(&ev), applied + 1);
    const px_config *use = cfg;
    if (s == PX_OK && ev.config_version != cfg->version) {
      if (!have_old || old.version != ev.config_version) {
        if (have_old) px_config_free(&old);
        have_old = 0;
        s = px_config_load_version(txn, st, ev.config_version, &old, NULL);
        if (s == PX_OK) {
          have_old = 1;
        } else if (s == PX_NOT_FOUND) { /* history missing: the current rules, rather than no progress */
          px_log(PX_LOG_WARN, "msg=\"configuration version not found; using the current one\" version=%llu",
                 (unsigned long long)ev.config_version);
          s = PX_OK;
        }
      }
      use = have_old ? &old : cfg;
    }
    if (s == PX_OK) s = px_pipeline_derive(txn, st, use, &ev, NULL);
    px_event_free(&ev);
    if (s == PX_OK) applied++, n++;
  }
  if (have_old) px_config_free(&old);
  if (s == PX_OK && n) s = px_store_set_counter(txn, st, "applied", applied);
  if (done) *done = n;
  return s;
}

px_status px_pipeline_log_many(px_txn *txn, const px_store *st, const px_config *cfg, px_event *evs,
                               size_t n, uint8_t *dup) {
  uint64_t seq = 0, earlier;
  px_dedup *dd = NULL;
  px_status s = px_store_dedup(txn, &dd);
  if (s == PX_OK) s = px_store_counter(txn, st, "seq", &seq);
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    px_event *ev = &evs[i];
    px_key sk;
    ev->seq = seq + 1;
    px_key_init(&sk);
    px_key_u64(&sk, ev->seq);
    /* One probe both checks and records the (source, messageId) pair. */
    same_arg same = {txn, st, ev};
    if ((s = px_dedup_check_insert(dd, dedup_hash(ev), ev->seq, same_message, &same, &earlier)) != PX_OK)
      break;
    dup[i] = earlier != 0;
    if (dup[i]) continue;
    seq++;
    /* The record says which configuration it is applied under, for replays. */
    memcpy(ev->rec + offsetof(px_event_rec, config_version), &cfg->version, sizeof cfg->version);
    ev->config_version = cfg->version;
    s = px_store_put(txn, st, PX_DB_EVENTS, sk.b, sk.n, ev->rec, ev->rec_len, MDB_APPEND);
  }
  if (s == PX_OK) s = px_store_set_counter(txn, st, "seq", seq);
  return s;
}

px_status px_pipeline_ingest_many(px_txn *txn, const px_store *st, const px_config *cfg,
                                  px_event *evs, size_t n, uint8_t *dup, px_metrics *m) {
  /* Another process may have logged events this state has not applied yet. */
  px_status s = px_pipeline_catch_up(txn, st, cfg, 0, NULL);
  if (s == PX_OK) s = px_pipeline_log_many(txn, st, cfg, evs, n, dup);
  uint64_t last = 0;
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    if (dup[i]) continue;
    s = px_pipeline_derive(txn, st, cfg, &evs[i], m);
    last = evs[i].seq;
  }
  if (s == PX_OK && last) s = px_store_set_counter(txn, st, "applied", last);
  return s;
}

px_status px_pipeline_apply_logged(px_txn *txn, const px_store *st, const px_config *cfg,
                                   const px_event *evs, size_t n, const uint8_t *dup) {
  uint64_t applied, first = 0, last = 0;
  for (size_t i = 0; i < n; i++) {
    if (dup[i]) continue;
    if (!first) first = evs[i].seq;
    last = evs[i].seq;
  }
  px_status s = px_store_counter(txn, st, "applied", &applied);
  if (s != PX_OK || !last || applied >= last) return s; /* nothing new, or applied by another writer */
  if (applied + 1 < first) return PX_BEHIND; /* others' events first: catch-up's work */
  for (size_t i = 0; i < n && s == PX_OK; i++)
    if (!dup[i] && evs[i].seq > applied) s = px_pipeline_derive(txn, st, cfg, &evs[i], NULL);
  if (s == PX_OK) s = px_store_set_counter(txn, st, "applied", last);
  return s;
}

px_status px_pipeline_ingest(px_txn *txn, const px_store *st, const px_config *cfg, px_event *ev,
                             int *duplicate, px_metrics *m) {
  uint8_t dup = 0;
  px_status s = px_pipeline_ingest_many(txn, st, cfg, ev, 1, &dup, m);
  *duplicate = dup;
  return s;
}

px_status px_pipeline_catch_up_all(px_store *st, px_progress_fn progress, void *arg, px_error *err) {
  px_config cfg;
  uint64_t total = 0, done = 0, n;
  px_txn *txn;
  px_status s = px_store_begin(st, 0, &txn);
  if (s != PX_OK) return s;
  uint64_t applied = 0, last = 0;
  if ((s = px_config_load(txn, st, &cfg, err)) == PX_OK) {
    px_store_counter(txn, st, "applied", &applied);
    px_store_counter(txn, st, "seq", &last);
    total = last > applied ? last - applied : 0;
  }
  px_store_abort(txn);
  if (s != PX_OK) return s;
  /* In chunks: each commit lets other writers in, and they catch up too. */
  do {
    if ((s = px_store_begin(st, 1, &txn)) != PX_OK) break;
    s = px_pipeline_catch_up(txn, st, &cfg, 50000, &n);
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
    done += n;
    if (s == PX_OK && progress) progress(arg, done, total);
  } while (s == PX_OK && n > 0);
  px_config_free(&cfg);
  return s;
}

px_status px_pipeline_replay(px_store *st, px_progress_fn progress, void *arg, px_error *err) {
  /* One transaction: readers keep the old state until the new one is
   * complete, and other writers wait (the state is memory-mapped, so a
   * transaction of any size fits). */
  px_txn *txn;
  px_config cfg;
  px_status s = px_store_begin(st, 1, &txn);
  if (s != PX_OK) return s;
  if ((s = px_config_load(txn, st, &cfg, err)) != PX_OK) {
    px_store_abort(txn);
    return s;
  }
  uint64_t total = 0, done = 0, n = 0;
  s = px_store_counter(txn, st, "seq", &total);
  if (s == PX_OK) s = px_store_clear_derived(txn, st);
  do {
    if (s == PX_OK) s = px_pipeline_catch_up(txn, st, &cfg, 10000, &n);
    done += n;
    if (s == PX_OK && progress) progress(arg, done, total);
  } while (s == PX_OK && n > 0);
  px_config_free(&cfg);
  if (s != PX_OK) {
    px_store_abort(txn);
    return s;
  }
  return px_store_commit(txn);
}
