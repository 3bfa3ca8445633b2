#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "identity/identity.h"
#include "profile/profile.h"
#include "profile/profile_int.h"
#include "store/key.h"

px_status px_profile_get(px_txn *txn, const px_store *st, uint64_t pid, px_profile_rec *out) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_PROFILES, k.b, k.n, &v);
  if (s != PX_OK) return s;
  if (v.mv_size < sizeof *out) return PX_STORE;
  memcpy(out, v.mv_data, sizeof *out); /* the counts that follow are read by render */
  return PX_OK;
}

px_status px_profile_live(px_txn *txn, const px_store *st, uint64_t pid, uint64_t *live) {
  for (int hops = 0; hops < 10000; hops++) {
    px_profile_rec r;
    px_status s = px_profile_get(txn, st, pid, &r);
    if (s != PX_OK) return s;
    if (!r.merged_into) {
      *live = pid;
      return PX_OK;
    }
    pid = r.merged_into;
  }
  return PX_STORE;
}

px_status px_profile_find(px_txn *txn, const px_store *st, const px_config *cfg, const char *ref,
                          uint64_t *pid) {
  const char *colon = strchr(ref, ':');
  px_status s;
  if (colon) {
    char kind[PX_KIND_NAME_MAX];
    size_t kn = (size_t)(colon - ref);
    if (kn == 0 || kn >= sizeof kind) return PX_NOT_FOUND;
    memcpy(kind, ref, kn);
    kind[kn] = 0;
    s = px_identity_lookup(txn, st, cfg, kind, colon + 1, pid);
  } else {
    s = px_profile_id_parse(ref, pid) ? PX_OK : PX_NOT_FOUND;
  }
  return s == PX_OK ? px_profile_live(txn, st, *pid, pid) : s;
}

void px_obs_observe(px_obs *o, int64_t ts, uint64_t seq) {
  if (o->count == 0) {
    o->first = o->last = ts;
    o->last_seq = seq;
  } else {
    if (ts < o->first) o->first = ts;
    if (ts > o->last || (ts == o->last && seq > o->last_seq)) {
      o->last = ts;
      o->last_seq = seq;
    }
  }
  o->count++;
}

void px_obs_combine(px_obs *into, const px_obs *from) {
  if (from->first < into->first) into->first = from->first;
  if (from->last > into->last || (from->last == into->last && from->last_seq > into->last_seq)) {
    into->last = from->last;
    into->last_seq = from->last_seq;
  }
  into->count += from->count;
}

void px_trait_key(px_key *k, uint64_t entity, const char *name, uint64_t hash, uint32_t source) {
  px_key_init(k);
  px_key_u64(k, entity);
  px_key_str(k, name, strlen(name));
  px_key_u64(k, hash);
  px_key_u32(k, source);
}

typedef struct trait_arg {
  const px_buf *rec; /* px_obs (zero) + the value's JSON */
  const px_event *ev;
} trait_arg;

/* The row's observation, updated by one more sighting; the value's JSON
 * follows (the same as the stored one: the key holds its hash). */
static size_t observe_row(const void *old, size_t oldn, void *out, size_t cap, void *arg) {
  const trait_arg *a = arg;
  px_obs o = {0};
  if (old && oldn >= sizeof o) memcpy(&o, old, sizeof o);
  px_obs_observe(&o, a->ev->timestamp_ms, a->ev->seq);
  memcpy(out, a->rec->data, cap);
  memcpy(out, &o, sizeof o);
  return cap;
}

static px_status observe_trait(px_txn *txn, const px_store *st, uint64_t entity, const cJSON *t,
                               const px_event *ev) {
  px_buf rec;
  px_buf_init(&rec, 0);
  px_obs o = {0};
  px_status s = px_buf_append(&rec, &o, sizeof o); /* the observation goes in front */
  if (s == PX_OK) s = px_json_write(t, &rec);
  if (s == PX_OK) {
    px_key k;
    px_trait_key(&k, entity, t->string, XXH3_64bits(rec.data + sizeof o, rec.len - sizeof o), ev->source_id);
    trait_arg a = {&rec, ev};
    s = k.overflow ? PX_INVALID : px_store_rmw(txn, st, PX_DB_TRAITS, k.b, k.n, rec.len, observe_row, &a);
  }
  px_buf_free(&rec);
  return s;
}

/* Observes every trait of obj; keys also present in skip were seen already. */
static px_status observe_traits(px_txn *txn, const px_store *st, uint64_t entity,
                                const cJSON *obj, const cJSON *skip, const px_event *ev) {
  if (!obj) return PX_OK;
  for (const cJSON *t = obj->child; t; t = t->next) {
    if (skip && cJSON_GetObjectItemCaseSensitive(skip, t->string)) continue;
    px_status s = observe_trait(txn, st, entity, t, ev);
    if (s != PX_OK) return s;
  }
  return PX_OK;
}

typedef struct add_arg {
  uint64_t by;
} add_arg;

static void add_to_row(void *value, int existed, void *arg) {
  (void)existed;
  uint64_t n;
  memcpy(&n, value, 8);
  n += ((const add_arg *)arg)->by;
  memcpy(value, &n, 8);
}

px_status px_counts_add_row(px_txn *txn, const px_store *st, uint64_t pid, char cls, const char *name,
                            size_t n, uint64_t by) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  px_key_u8(&k, (uint8_t)cls);
  px_key_bytes(&k, name, n);
  if (k.overflow) return PX_INVALID;
  add_arg a = {by};
  return px_store_update(txn, st, PX_DB_COUNTS, k.b, k.n, 8, add_to_row, &a);
}

static px_status link_account(px_txn *txn, const px_store *st, uint64_t pid, const px_event *ev) {
  px_key gk;
  px_key_init(&gk);
  px_key_u8(&gk, 'g');
  px_key_bytes(&gk, ev->group_id, strlen(ev->group_id));
  MDB_val v;
  uint64_t aid;
  px_status s = px_store_get(txn, st, PX_DB_ACCOUNTS, gk.b, gk.n, &v);
  if (s == PX_OK) {
    aid = px_get_u64(v.mv_data);
  } else if (s == PX_NOT_FOUND) {
    if ((s = px_store_next_id(txn, st, "account", &aid)) != PX_OK) return s;
    aid |= PX_ACCOUNT_BIT;
    px_key ik, idv;
    px_key_init(&ik);
    px_key_u8(&ik, 'i');
    px_key_u64(&ik, aid);
    px_key_init(&idv);
    px_key_u64(&idv, aid);
    if ((s = px_store_put(txn, st, PX_DB_ACCOUNTS, gk.b, gk.n, idv.b, 8, 0)) != PX_OK ||
        (s = px_store_put(txn, st, PX_DB_ACCOUNTS, ik.b, ik.n, ev->group_id, strlen(ev->group_id), 0)) != PX_OK)
      return s;
  } else {
    return s;
  }
  if ((s = observe_traits(txn, st, aid, ev->traits, NULL, ev)) != PX_OK) return s;
  px_key lk;
  px_key_init(&lk);
  px_key_u64(&lk, pid);
  px_key_u64(&lk, aid);
  px_obs o = {0};
  s = px_store_get(txn, st, PX_DB_LINKS, lk.b, lk.n, &v);
  if (s == PX_OK && v.mv_size == sizeof o) memcpy(&o, v.mv_data, sizeof o);
  else if (s != PX_NOT_FOUND) return s;
  px_obs_observe(&o, ev->timestamp_ms, ev->seq);
  return px_store_put(txn, st, PX_DB_LINKS, lk.b, lk.n, &o, sizeof o, 0);
}

typedef struct apply_arg {
  const px_event *ev;
  char cls;       /* the event's name is counted in this class, if it has one */
  size_t name_n;
  int spilled;    /* the name did not fit in the record: count it in a row */
} apply_arg;

static size_t apply_to_record(const void *old, size_t oldn, void *out, size_t cap, void *arg) {
  apply_arg *a = arg;
  const px_event *ev = a->ev;
  px_profile_rec r;
  size_t tail = 0;
  int existed = old && oldn >= sizeof r && oldn <= cap;
  if (existed) {
    memcpy(out, old, oldn);
    memcpy(&r, old, sizeof r);
    tail = oldn - sizeof r;
  } else {
    memset(&r, 0, sizeof r);
    r.version = 1;
    r.created_ms = ev->received_ms;
    r.first_seen = r.last_seen = ev->timestamp_ms;
  }
  if (ev->timestamp_ms < r.first_seen) r.first_seen = ev->timestamp_ms;
  if (ev->timestamp_ms > r.last_seen) r.last_seen = ev->timestamp_ms;
  r.events++;
  if ((unsigned)ev->type < 8) r.by_type[ev->type]++;
  memcpy(out, &r, sizeof r);
  unsigned char *t = (unsigned char *)out + sizeof r;
  if (a->cls && !px_counts_add(t, &tail, cap - sizeof r, a->cls, ev->name, a->name_n, 1)) a->spilled = 1;
  return sizeof r + tail;
}

uint64_t px_profile_name_hash(const char *name) { return XXH3_64bits(name, strlen(name)) | 1; }

px_status px_profile_apply(px_txn *txn, const px_store *st, uint64_t pid, const px_event *ev) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  apply_arg a = {ev, 0, 0, 0};
  if (ev->name) {
    a.cls = ev->type == PX_EV_TRACK ? 'e' : ev->type == PX_EV_PAGE ? 'p' : 's';
    a.name_n = strlen(ev->name);
  }
  px_status s = px_store_rmw(txn, st, PX_DB_PROFILES, k.b, k.n, PX_PROFILE_VALUE_MAX, apply_to_record, &a);
  if (s != PX_OK) return s;
  if (a.spilled && (s = px_counts_add_row(txn, st, pid, a.cls, ev->name, a.name_n, 1)) != PX_OK) return s;

  px_key_init(&k);
  px_key_u64(&k, pid);
  px_key_i64(&k, ev->timestamp_ms);
  px_key_u64(&k, ev->seq);
  /* The type, then the name's hash (px_profile_events_since). */
  uint8_t row[9] = {(uint8_t)ev->type};
  size_t row_n = 1;
  if (ev->name) {
    uint64_t h = px_profile_name_hash(ev->name);
    memcpy(row + 1, &h, sizeof h);
    row_n = sizeof row;
  }
  if ((s = px_store_put(txn, st, PX_DB_TIMELINE, k.b, k.n, row, row_n, 0)) != PX_OK) return s;

  if ((s = observe_traits(txn, st, pid, ev->type == PX_EV_IDENTIFY ? ev->traits : NULL, NULL, ev)) != PX_OK)
    return s;
  if ((s = observe_traits(txn, st, pid, ev->context_traits,
                          ev->type == PX_EV_IDENTIFY ? ev->traits : NULL, ev)) != PX_OK)
    return s;
  if (ev->type == PX_EV_GROUP && ev->group_id) return link_account(txn, st, pid, ev);
  return PX_OK;
}
