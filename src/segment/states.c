/* A profile's aggregation states as one record (PX_DB_AGGS: profile id ->
 * entries in key order, each aggregation key u64be + length u32be + the
 * state's bytes): a profile's changed states are written with one put, and
 * read with one get, whatever their number. */
#include <stdlib.h>
#include <string.h>

#include "segment/engine_int.h"
#include "store/key.h"

#define ENTRY_HEAD 12

int eng_states_next(const unsigned char **p, const unsigned char *end, uint64_t *key, MDB_val *state) {
  if ((size_t)(end - *p) < ENTRY_HEAD) return 0;
  uint32_t n = px_get_u32(*p + 8);
  if ((size_t)(end - *p) - ENTRY_HEAD < n) return 0; /* damaged: the rest is not read */
  *key = px_get_u64(*p);
  state->mv_data = (void *)(*p + ENTRY_HEAD);
  state->mv_size = n;
  *p += ENTRY_HEAD + n;
  return 1;
}

static void pid_key(px_key *k, uint64_t pid) {
  px_key_init(k);
  px_key_u64(k, pid);
}

px_status eng_states_get(px_txn *txn, const px_store *st, uint64_t pid, MDB_val *rec) {
  px_key k;
  pid_key(&k, pid);
  px_status s = px_store_get(txn, st, PX_DB_AGGS, k.b, k.n, rec);
  if (s != PX_OK) rec->mv_size = 0, rec->mv_data = (void *)""; /* not NULL: callers add 0 to it */
  if (s == PX_NOT_FOUND) s = PX_OK;
  return s;
}

px_status eng_state_get(px_txn *txn, const px_store *st, uint64_t pid, uint64_t key, MDB_val *state) {
  MDB_val rec;
  px_status s = eng_states_get(txn, st, pid, &rec);
  state->mv_size = 0, state->mv_data = NULL;
  const unsigned char *p = rec.mv_data, *end = p + rec.mv_size;
  uint64_t k;
  MDB_val v;
  while (s == PX_OK && rec.mv_size && eng_states_next(&p, end, &k, &v))
    if (k == key) {
      *state = v;
      break;
    }
  return s;
}

static px_status append_entry(px_buf *b, uint64_t key, const void *data, size_t n) {
  if (n > UINT32_MAX) return PX_TOO_LARGE;
  unsigned char h[ENTRY_HEAD];
  for (int i = 0; i < 8; i++) h[i] = (unsigned char)(key >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) h[8 + i] = (unsigned char)(n >> (24 - 8 * i));
  px_status s = px_buf_append(b, h, sizeof h);
  return s == PX_OK ? px_buf_append(b, data, n) : s;
}

static int put_cmp(const void *a, const void *b) {
  uint64_t x = ((const eng_state_put *)a)->key, y = ((const eng_state_put *)b)->key;
  return x < y ? -1 : x > y;
}

px_status eng_states_write(px_txn *txn, const px_store *st, uint64_t pid, eng_state_put *puts, size_t n,
                           px_buf *scratch) {
  if (!n) return PX_OK;
  if (n > 1) qsort(puts, n, sizeof *puts, put_cmp);
  MDB_cursor *cur = px_txn_cursor(txn, st, PX_DB_AGGS);
  if (!cur) return PX_STORE;
  px_key k;
  pid_key(&k, pid);
  MDB_val key = {k.n, k.b}, old = {0, NULL};
  int rc = mdb_cursor_get(cur, &key, &old, MDB_SET_KEY);
  if (rc != 0 && rc != MDB_NOTFOUND) return px_store_status(rc);
  int existed = rc == 0;
  /* Merge the stored entries with the new ones, both in key order. */
  px_buf_reset(scratch);
  const unsigned char *p = existed ? old.mv_data : (const void *)"", *end = p + (existed ? old.mv_size : 0);
  uint64_t ok;
  MDB_val ov;
  int have = existed && eng_states_next(&p, end, &ok, &ov);
  size_t i = 0;
  px_status s = PX_OK;
  while (s == PX_OK && (have || i < n)) {
    if (have && (i == n || ok < puts[i].key)) {
      s = append_entry(scratch, ok, ov.mv_data, ov.mv_size);
      have = eng_states_next(&p, end, &ok, &ov);
      continue;
    }
    if (have && ok == puts[i].key) have = eng_states_next(&p, end, &ok, &ov); /* replaced */
    if (puts[i].state->len) s = append_entry(scratch, puts[i].key, puts[i].state->data, puts[i].state->len);
    i++;
  }
  if (s != PX_OK) return s;
  key.mv_size = k.n, key.mv_data = k.b;
  if (!scratch->len) rc = existed ? mdb_cursor_del(cur, 0) : 0;
  else {
    MDB_val nv = {scratch->len, scratch->data};
    rc = mdb_cursor_put(cur, &key, &nv, existed ? MDB_CURRENT : 0);
  }
  return px_store_status(rc);
}

px_status eng_states_drop(px_txn *txn, const px_store *st, const uint64_t *keys, size_t nkeys, px_buf *scratch) {
  if (!nkeys) return PX_OK;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_AGGS), px_store_dbi(st, PX_DB_AGGS), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k, v;
  px_status s = PX_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s == PX_OK;) {
    const unsigned char *p = v.mv_data, *end = p + v.mv_size;
    uint64_t key;
    MDB_val sv;
    int drop = 0;
    px_buf_reset(scratch);
    while (s == PX_OK && eng_states_next(&p, end, &key, &sv)) {
      int gone = 0;
      for (size_t i = 0; i < nkeys && !gone; i++) gone = keys[i] == key;
      if (gone) drop = 1;
      else s = append_entry(scratch, key, sv.mv_data, sv.mv_size);
    }
    if (s == PX_OK && drop) {
      /* The key as our own bytes: k points into the page, which a put of
       * a shorter value rewrites (LMDB deletes and re-adds the node). */
      unsigned char kb[16];
      if (k.mv_size > sizeof kb) {
        s = PX_STORE;
        break;
      }
      memcpy(kb, k.mv_data, k.mv_size);
      MDB_val own = {k.mv_size, kb}, nv = {scratch->len, scratch->data};
      rc = scratch->len ? mdb_cursor_put(cur, &own, &nv, MDB_CURRENT) : mdb_cursor_del(cur, 0);
      if (rc) break;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the record that followed it */
  }
  mdb_cursor_close(cur);
  if (s != PX_OK) return s;
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}
