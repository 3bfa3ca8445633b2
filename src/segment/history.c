/* A profile's membership history (PX_DB_SEGHIST): each entered/left with
 * its time, cause and causing event, keyed so that a profile's changes are
 * adjacent and in time order. */
#include <stdio.h>
#include <string.h>

#include "segment/engine_int.h"
#include "store/key.h"

#define TAIL 20 /* key bytes after the profile id: time, cause + seq, segment */

/* The key of pid's change at time_ms (cause, seq, seg). */
static void history_key(px_key *k, uint64_t pid, int64_t time_ms, px_seg_cause cause, uint64_t seq, uint32_t seg) {
  px_key_init(k);
  px_key_u64(k, pid);
  px_key_i64(k, time_ms);
  px_key_u64(k, ((uint64_t)cause << 56) | (seq & ((UINT64_C(1) << 56) - 1)));
  px_key_u32(k, seg);
}

px_status eng_history_put(px_txn *txn, const px_store *st, uint64_t pid, int64_t time_ms, px_seg_cause cause,
                          uint64_t seq, uint32_t seg, int entered) {
  px_key k, v;
  history_key(&k, pid, time_ms, cause, seq, seg);
  px_key_init(&v);
  px_key_u8(&v, (uint8_t)(entered ? 1 : 0));
  px_key_u8(&v, (uint8_t)cause);
  px_key_u64(&v, seq);
  return px_store_put(txn, st, PX_DB_SEGHIST, k.b, k.n, v.b, v.n, 0);
}

/* The change at the cursor's position; 0 when the record is not pid's. */
static int read_change(uint64_t pid, const MDB_val *k, const MDB_val *v, px_seg_change *c) {
  if (k->mv_size != 8 + TAIL || px_get_u64(k->mv_data) != pid || v->mv_size != 10) return 0;
  const unsigned char *kb = k->mv_data, *vb = v->mv_data;
  *c = (px_seg_change){pid, px_get_i64(kb + 8), px_get_u32(kb + 24), vb[0], (px_seg_cause)vb[1], px_get_u64(vb + 2)};
  return 1;
}

px_status px_segment_history(px_txn *txn, const px_store *st, uint64_t pid, px_seg_change_fn fn, void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_SEGHIST), px_store_dbi(st, PX_DB_SEGHIST), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  px_seg_change c;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    if (!read_change(pid, &k, &v, &c) || fn(arg, &c)) break;
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

int px_seg_change_cmp(const px_seg_change *a, const px_seg_change *b) {
  px_key ka, kb;
  history_key(&ka, 0, a->time_ms, a->cause, a->seq, a->segment);
  history_key(&kb, 0, b->time_ms, b->cause, b->seq, b->segment);
  return memcmp(ka.b, kb.b, ka.n);
}

px_status px_segment_history_before(px_txn *txn, const px_store *st, uint64_t pid, const px_seg_change *at,
                                    int inclusive, px_seg_change_fn fn, void *arg) {
  px_key start;
  if (at) {
    history_key(&start, pid, at->time_ms, at->cause, at->seq, at->segment);
  } else { /* just past the profile's last key: the next profile id */
    px_key_init(&start);
    px_key_u64(&start, pid + 1);
  }
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_SEGHIST), px_store_dbi(st, PX_DB_SEGHIST), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k = {start.n, start.b}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  else if (rc == 0 && !(at && inclusive && k.mv_size == start.n && memcmp(k.mv_data, start.b, start.n) == 0))
    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  px_seg_change c;
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV))
    if (!read_change(pid, &k, &v, &c) || fn(arg, &c)) break;
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

typedef struct paging {
  px_seg_change *out;
  size_t max, n;
  int more;
} paging;

static int page_cb(void *arg, const px_seg_change *c) {
  paging *p = arg;
  if (p->n == p->max) return p->more = 1; /* one more exists: the page ends at the last one given */
  p->out[p->n++] = *c;
  return 0;
}

px_status px_segment_history_page(px_txn *txn, const px_store *st, uint64_t pid, const char *cursor, size_t max,
                                  px_seg_change *out, size_t *n, char next[PX_SEG_CURSOR_LEN + 1]) {
  *n = 0;
  next[0] = 0;
  px_seg_change at = {pid, 0, 0, 0, 0, 0};
  if (cursor && *cursor) { /* the key of the last change given, after the profile id, in hex */
    unsigned char tail[TAIL];
    if (strlen(cursor) != PX_SEG_CURSOR_LEN) return PX_INVALID;
    for (size_t i = 0; i < TAIL; i++) {
      int hi = unhex(cursor[2 * i]), lo = unhex(cursor[2 * i + 1]);
      if (hi < 0 || lo < 0) return PX_INVALID;
      tail[i] = (unsigned char)(hi << 4 | lo);
    }
    uint64_t cs = px_get_u64(tail + 8);
    at.time_ms = px_get_i64(tail);
    at.cause = (px_seg_cause)(cs >> 56);
    at.seq = cs & ((UINT64_C(1) << 56) - 1);
    at.segment = px_get_u32(tail + 16);
  }
  paging p = {out, max, 0, 0};
  px_status s = px_segment_history_before(txn, st, pid, cursor && *cursor ? &at : NULL, 0, page_cb, &p);
  *n = p.n;
  if (s == PX_OK && p.more && p.n) {
    const px_seg_change *last = &out[p.n - 1];
    px_key k;
    history_key(&k, pid, last->time_ms, last->cause, last->seq, last->segment);
    for (size_t i = 0; i < TAIL; i++) snprintf(next + 2 * i, 3, "%02x", k.b[8 + i]);
  }
  return s;
}
