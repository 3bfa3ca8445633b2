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

px_status px_profile_merge(px_txn *txn, const px_store *st, uint64_t survivor, uint64_t loser) {
  px_profile_rec a, b;
  px_status s = px_profile_get(txn, st, survivor, &a);
  if (s != PX_OK) return s;
  if ((s = px_profile_get(txn, st, loser, &b)) != PX_OK) return s;
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
  b.merged_into = survivor;
  if ((s = px_profile_put(txn, st, survivor, &a)) != PX_OK) return s;
  return px_profile_put(txn, st, loser, &b);
}
