#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "profile/profile_int.h"
#include "store/key.h"

typedef enum combine { KEEP_BOTH, OBS, COUNTER } combine;

/* Re-keys every row of db under loser to survivor; rows that exist under
 * both are combined. */
static px_status move_rows(MDB_txn *txn, const px_store *st, px_db db, uint64_t survivor,
                           uint64_t loser, combine how) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, px_store_dbi(st, db), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, loser);
  MDB_val k = {pre.n, pre.b}, v;
  px_status s = PX_OK;
  char *buf = NULL;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
    if (k.mv_size < 8 || px_get_u64(k.mv_data) != loser) break;
    px_key ok, nk;
    px_key_init(&ok);
    px_key_bytes(&ok, k.mv_data, k.mv_size);
    px_key_init(&nk);
    px_key_u64(&nk, survivor);
    px_key_bytes(&nk, (char *)k.mv_data + 8, k.mv_size - 8);
    s = PX_NOMEM;
    free(buf);
    if (!(buf = malloc(v.mv_size ? v.mv_size : 1))) break;
    memcpy(buf, v.mv_data, v.mv_size);
    size_t vn = v.mv_size;
    MDB_val old;
    s = px_store_get(txn, st, db, nk.b, nk.n, &old);
    if (s == PX_OK && how == OBS && old.mv_size >= sizeof(px_obs) && vn >= sizeof(px_obs)) {
      px_obs a, b;
      memcpy(&a, old.mv_data, sizeof a);
      memcpy(&b, buf, sizeof b);
      px_obs_combine(&a, &b);
      memcpy(buf, &a, sizeof a);
    } else if (s == PX_OK && how == COUNTER && old.mv_size == 8 && vn == 8) {
      uint64_t a, b;
      memcpy(&a, old.mv_data, 8);
      memcpy(&b, buf, 8);
      a += b;
      memcpy(buf, &a, 8);
    } else if (s != PX_OK && s != PX_NOT_FOUND) {
      break;
    }
    if ((s = px_store_put(txn, st, db, nk.b, nk.n, buf, vn, 0)) != PX_OK) break;
    /* The put may have moved the cursor's page: delete by key, then re-seek. */
    k.mv_size = ok.n;
    k.mv_data = ok.b;
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET)) != 0 || (rc = mdb_cursor_del(cur, 0)) != 0) {
      s = px_store_status(rc);
      break;
    }
    k.mv_size = pre.n;
    k.mv_data = pre.b;
  }
  free(buf);
  mdb_cursor_close(cur);
  if (s != PX_OK) return s;
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

px_status px_profile_merge(MDB_txn *txn, const px_store *st, uint64_t survivor, uint64_t loser) {
  px_profile_rec a, b;
  px_status s = px_profile_get(txn, st, survivor, &a);
  if (s != PX_OK) return s;
  if ((s = px_profile_get(txn, st, loser, &b)) != PX_OK) return s;
  if ((s = move_rows(txn, st, PX_DB_TRAITS, survivor, loser, OBS)) != PX_OK ||
      (s = move_rows(txn, st, PX_DB_TIMELINE, survivor, loser, KEEP_BOTH)) != PX_OK ||
      (s = move_rows(txn, st, PX_DB_COUNTS, survivor, loser, COUNTER)) != PX_OK ||
      (s = move_rows(txn, st, PX_DB_LINKS, survivor, loser, OBS)) != PX_OK)
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
