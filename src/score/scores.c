#include "score/scores.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/key.h"

#define HEADER 9 /* type u8 + since i64be */

static int key_of(px_key *k, uint64_t pid, const char *name) {
  size_t n = strlen(name);
  if (!n || n >= PX_SCORE_NAME_MAX) return 0;
  px_key_init(k);
  px_key_u64(k, pid);
  px_key_bytes(k, name, n);
  return !k->overflow;
}

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double double_of(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* A stored value into out (PX_STORE when malformed). */
static px_status decode(const void *p, size_t n, px_score *out) {
  const unsigned char *b = p;
  memset(out, 0, sizeof *out);
  if (n < HEADER) return PX_STORE;
  out->since_ms = px_get_i64(b + 1);
  if (b[0] == PX_SCORE_NUM && n == HEADER + 8) {
    out->type = PX_SCORE_NUM;
    out->n = double_of(px_get_u64(b + HEADER));
    return PX_OK;
  }
  if (b[0] == PX_SCORE_STR) {
    out->type = PX_SCORE_STR;
    out->s = (const char *)b + HEADER;
    out->len = n - HEADER;
    return PX_OK;
  }
  return PX_STORE;
}

static int same(const px_score *a, const px_score *b) {
  if (a->type != b->type) return 0;
  if (a->type == PX_SCORE_NUM) return bits_of(a->n) == bits_of(b->n);
  return a->len == b->len && (!a->len || memcmp(a->s, b->s, a->len) == 0);
}

px_status px_score_put(px_txn *txn, const px_store *st, uint64_t pid, const char *name, const px_score *v,
                       int *changed) {
  if (changed) *changed = 0;
  px_key k;
  if (!key_of(&k, pid, name)) return PX_INVALID;
  if (v->type == PX_SCORE_NUM ? !isfinite(v->n) : v->type != PX_SCORE_STR || v->len > PX_SCORE_STR_MAX)
    return PX_INVALID;
  MDB_val old;
  px_score cur;
  px_status s = px_store_get(txn, st, PX_DB_SCORES, k.b, k.n, &old);
  if (s == PX_OK && decode(old.mv_data, old.mv_size, &cur) == PX_OK && same(&cur, v)) return PX_OK;
  if (s != PX_OK && s != PX_NOT_FOUND) return s;
  px_buf b;
  px_buf_init(&b, HEADER + PX_SCORE_STR_MAX);
  px_key h;
  px_key_init(&h);
  px_key_u8(&h, (uint8_t)v->type);
  px_key_i64(&h, v->since_ms);
  if (v->type == PX_SCORE_NUM) px_key_u64(&h, bits_of(v->n));
  s = px_buf_append(&b, h.b, h.n);
  if (s == PX_OK && v->type == PX_SCORE_STR) s = px_buf_append(&b, v->s, v->len);
  if (s == PX_OK) s = px_store_put(txn, st, PX_DB_SCORES, k.b, k.n, b.data, b.len, 0);
  px_buf_free(&b);
  if (s == PX_OK && changed) *changed = 1;
  return s;
}

px_status px_score_read(px_txn *txn, const px_store *st, uint64_t pid, const char *name, px_score *out) {
  memset(out, 0, sizeof *out);
  px_key k;
  if (!key_of(&k, pid, name)) return PX_NOT_FOUND;
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_SCORES, k.b, k.n, &v);
  return s == PX_OK ? decode(v.mv_data, v.mv_size, out) : s;
}

px_status px_score_del(px_txn *txn, const px_store *st, uint64_t pid, const char *name) {
  px_key k;
  if (!key_of(&k, pid, name)) return PX_NOT_FOUND;
  return px_store_del(txn, st, PX_DB_SCORES, k.b, k.n);
}

px_status px_score_each(px_txn *txn, const px_store *st, uint64_t pid, px_score_fn fn, void *arg) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_SCORES), px_store_dbi(st, PX_DB_SCORES), &cur);
  if (rc) return px_store_status(rc);
  px_key pre;
  px_key_init(&pre);
  px_key_u64(&pre, pid);
  MDB_val k = {pre.n, pre.b}, v;
  px_status s = PX_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size <= 8 || px_get_u64(k.mv_data) != pid) break;
    char name[PX_SCORE_NAME_MAX];
    px_score sc;
    if (k.mv_size - 8 >= sizeof name || (s = decode(v.mv_data, v.mv_size, &sc)) != PX_OK) {
      s = PX_STORE;
      break;
    }
    memcpy(name, (const char *)k.mv_data + 8, k.mv_size - 8);
    name[k.mv_size - 8] = 0;
    if (fn(arg, name, &sc)) break;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  return s;
}

/* Whether id is among the n ascending ids. */
static int has(const uint64_t *ids, size_t n, uint64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ids[mid] == id) return 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

px_status px_score_holders(px_txn *txn, const px_store *st, px_score_match_fn match, void *arg, const uint64_t *except,
                           size_t nexcept, uint64_t **pids, size_t *n) {
  *pids = NULL;
  *n = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_SCORES), px_store_dbi(st, PX_DB_SCORES), &cur);
  if (rc) return px_store_status(rc);
  MDB_val k, v;
  size_t cap = 0;
  px_status s = PX_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && s == PX_OK; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size <= 8) continue;
    uint64_t pid = px_get_u64(k.mv_data);
    if (pid == PX_SCORE_GLOBAL || (*n && (*pids)[*n - 1] == pid) ||
        !match(arg, (const char *)k.mv_data + 8, k.mv_size - 8) || has(except, nexcept, pid))
      continue;
    if (*n == cap) {
      size_t nc = cap ? cap * 2 : 64;
      uint64_t *p = realloc(*pids, nc * sizeof *p);
      if (!p) {
        s = PX_NOMEM;
        break;
      }
      *pids = p;
      cap = nc;
    }
    (*pids)[(*n)++] = pid;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  if (s != PX_OK) free(*pids), *pids = NULL, *n = 0;
  return s;
}

px_status px_score_get(px_txn *txn, const px_store *st, uint64_t pid, const char *name, px_rule_value *out,
                       px_buf *scratch) {
  memset(out, 0, sizeof *out);
  px_score sc;
  px_status s = px_score_read(txn, st, pid, name, &sc);
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  if (sc.type == PX_SCORE_NUM) {
    out->type = PX_RV_NUM;
    out->n = sc.n;
    return PX_OK;
  }
  out->type = PX_RV_STR;
  out->len = sc.len;
  if (!scratch) {
    out->s = sc.s;
    return PX_OK;
  }
  px_buf_reset(scratch);
  if ((s = px_buf_append(scratch, sc.s, sc.len)) != PX_OK) return s;
  out->s = scratch->data;
  return PX_OK;
}
