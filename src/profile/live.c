/* Walking every live profile: a cursor over PX_DB_PROFILES that skips the
 * profiles merged into another. */
#include <string.h>

#include "profile/profile.h"
#include "store/key.h"

px_status px_profile_each_live(px_txn *txn, const px_store *st, px_profile_fn fn, void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(st, PX_DB_PROFILES), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec r;
    if (k.mv_size != 8 || v.mv_size < sizeof r) continue; /* the record, then its name counts */
    memcpy(&r, v.mv_data, sizeof r);
    if (!r.merged_into && fn(arg, px_get_u64(k.mv_data), &r)) break;
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}
