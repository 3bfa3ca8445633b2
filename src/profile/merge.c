#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "profile/profile_int.h"
#include "store/key.h"

/* Rows present under both profiles are combined, never dropped. */
static px_status combine_obs(void *arg, const void *rest, size_t rn, void *value, size_t vn,
                             const MDB_val *existing) {
  (void)arg, (void)rest, (void)rn;
  if (existing && existing->mv_size >= sizeof(px_obs) && vn >= sizeof(px_obs)) {
    px_obs a, b;
    memcpy(&a, existing->mv_data, sizeof a);
    memcpy(&b, value, sizeof b);
    px_obs_combine(&a, &b);
    memcpy(value, &a, sizeof a);
  }
  return PX_OK;
}

static px_status combine_counter(void *arg, const void *rest, size_t rn, void *value, size_t vn,
                                 const MDB_val *existing) {
  (void)arg, (void)rest, (void)rn;
  if (existing && existing->mv_size == 8 && vn == 8) {
    uint64_t a, b;
    memcpy(&a, existing->mv_data, 8);
    memcpy(&b, value, 8);
    a += b;
    memcpy(value, &a, 8);
  }
  return PX_OK;
}

/* A profile's stored value (record, then counts) copied out of the store. */
typedef struct value {
  unsigned char b[PX_PROFILE_VALUE_MAX];
  size_t n;
} value;

static px_status get_value(px_txn *txn, const px_store *st, uint64_t pid, value *out, px_profile_rec *r) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_PROFILES, k.b, k.n, &v);
  if (s != PX_OK) return s;
  if (v.mv_size < sizeof *r || v.mv_size > sizeof out->b) return PX_STORE;
  memcpy(out->b, v.mv_data, v.mv_size);
  out->n = v.mv_size;
  memcpy(r, out->b, sizeof *r);
  return PX_OK;
}

static px_status put_value(px_txn *txn, const px_store *st, uint64_t pid, value *v, const px_profile_rec *r) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  memcpy(v->b, r, sizeof *r);
  return px_store_put(txn, st, PX_DB_PROFILES, k.b, k.n, v->b, v->n, 0);
}

px_status px_profile_merge(px_txn *txn, const px_store *st, uint64_t survivor, uint64_t loser) {
  px_profile_rec a, b;
  value va, vb;
  px_status s = get_value(txn, st, survivor, &va, &a);
  if (s != PX_OK) return s;
  if ((s = get_value(txn, st, loser, &vb, &b)) != PX_OK) return s;
  if ((s = px_store_move_prefix(txn, st, PX_DB_TRAITS, loser, survivor, combine_obs, NULL)) != PX_OK ||
      (s = px_store_move_prefix(txn, st, PX_DB_TIMELINE, loser, survivor, NULL, NULL)) != PX_OK ||
      (s = px_store_move_prefix(txn, st, PX_DB_COUNTS, loser, survivor, combine_counter, NULL)) != PX_OK ||
      (s = px_store_move_prefix(txn, st, PX_DB_LINKS, loser, survivor, combine_obs, NULL)) != PX_OK)
    return s;
  if (b.created_ms < a.created_ms) a.created_ms = b.created_ms;
  if (b.first_seen < a.first_seen) a.first_seen = b.first_seen;
  if (b.last_seen > a.last_seen) a.last_seen = b.last_seen;
  a.events += b.events;
  for (int t = 0; t < 8; t++) a.by_type[t] += b.by_type[t];
  /* The loser's name counts join the survivor's record, or its rows. */
  size_t tail = va.n - sizeof a;
  px_count c;
  for (size_t off = 0, next; (next = px_counts_next(vb.b + sizeof b, vb.n - sizeof b, off, &c)) != 0; off = next) {
    if (!px_counts_add(va.b + sizeof a, &tail, PX_COUNTS_INLINE, c.cls, c.name, c.n, c.count) &&
        (s = px_counts_add_row(txn, st, survivor, c.cls, c.name, c.n, c.count)) != PX_OK)
      return s;
  }
  va.n = sizeof a + tail;
  b.merged_into = survivor;
  vb.n = sizeof b; /* everything it counted is the survivor's now */
  if ((s = put_value(txn, st, survivor, &va, &a)) != PX_OK) return s;
  return put_value(txn, st, loser, &vb, &b);
}
