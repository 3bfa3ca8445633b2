#include "segment/members.h"

#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

#include "store/key.h"

#define COUNT_CHUNK UINT32_MAX /* the key of a segment's member count */

static void chunk_key(px_key *k, uint32_t seg, uint32_t chunk) {
  px_key_init(k);
  px_key_u32(k, seg);
  px_key_u32(k, chunk);
}

/* The chunk's bitmap (empty when absent); NULL when it cannot be read. */
static roaring_bitmap_t *load_chunk(px_txn *txn, const px_store *st, uint32_t seg, uint32_t chunk, px_status *s) {
  px_key k;
  chunk_key(&k, seg, chunk);
  MDB_val v;
  *s = px_store_get(txn, st, PX_DB_MEMBERS, k.b, k.n, &v);
  if (*s == PX_NOT_FOUND) {
    *s = PX_OK;
    roaring_bitmap_t *b = roaring_bitmap_create();
    if (!b) *s = PX_NOMEM;
    return b;
  }
  if (*s != PX_OK) return NULL;
  roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe(v.mv_data, v.mv_size);
  if (!b) *s = PX_STORE;
  return b;
}

/* Writes the chunk back (deletes it when empty). */
static px_status store_chunk(px_txn *txn, const px_store *st, uint32_t seg, uint32_t chunk, roaring_bitmap_t *b) {
  px_key k;
  chunk_key(&k, seg, chunk);
  if (roaring_bitmap_is_empty(b)) {
    px_status s = px_store_del(txn, st, PX_DB_MEMBERS, k.b, k.n);
    return s == PX_NOT_FOUND ? PX_OK : s;
  }
  roaring_bitmap_run_optimize(b);
  size_t n = roaring_bitmap_portable_size_in_bytes(b);
  char *buf = malloc(n);
  if (!buf) return PX_NOMEM;
  roaring_bitmap_portable_serialize(b, buf);
  px_status s = px_store_put(txn, st, PX_DB_MEMBERS, k.b, k.n, buf, n, 0);
  free(buf);
  return s;
}

static px_status read_count(px_txn *txn, const px_store *st, uint32_t seg, uint64_t *n) {
  px_key k;
  chunk_key(&k, seg, COUNT_CHUNK);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_MEMBERS, k.b, k.n, &v);
  *n = s == PX_OK && v.mv_size == 8 ? px_get_u64(v.mv_data) : 0;
  return s == PX_NOT_FOUND ? PX_OK : s;
}

static px_status write_count(px_txn *txn, const px_store *st, uint32_t seg, uint64_t n) {
  px_key k, v;
  chunk_key(&k, seg, COUNT_CHUNK);
  px_key_init(&v);
  px_key_u64(&v, n);
  return px_store_put(txn, st, PX_DB_MEMBERS, k.b, k.n, v.b, 8, 0);
}

/* ---- single changes, deferred to the end of the transaction ----
 *
 * Events change memberships one at a time, many of them in the same chunks
 * within one transaction. Each changed chunk is kept decoded in a table
 * attached to the transaction (px_txn_defer) with its count delta, and
 * written once: when the transaction commits, or before anything in this
 * file reads the store in the same transaction (settle). */

typedef struct pend {
  uint64_t key; /* seg << 32 | chunk */
  roaring_bitmap_t *b;
  int64_t delta; /* members added minus removed */
} pend;

typedef struct pending {
  const px_store *st;
  pend *tab; /* open addressing; b == NULL: empty */
  size_t n, mask;
} pending;

static uint64_t pend_hash(uint64_t k) {
  k ^= k >> 33;
  k *= UINT64_C(0xff51afd7ed558ccd);
  return k ^ (k >> 33);
}

static void pend_clear(pending *p) {
  for (size_t i = 0; p->tab && i <= p->mask; i++) {
    if (p->tab[i].b) roaring_bitmap_free(p->tab[i].b); /* this CRoaring does not take NULL */
    p->tab[i].b = NULL;
  }
  p->n = 0;
}

static void pend_discard(void *arg) {
  pending *p = arg;
  pend_clear(p);
  free(p->tab);
  free(p);
}

static int pend_cmp(const void *a, const void *b) {
  uint64_t x = ((const pend *)a)->key, y = ((const pend *)b)->key;
  return x < y ? -1 : x > y;
}

/* Writes every changed chunk and count, then empties the table. */
static px_status pend_flush(px_txn *txn, void *arg) {
  pending *p = arg;
  if (!p->n) return PX_OK;
  pend *all = malloc(p->n * sizeof *all);
  if (!all) return PX_NOMEM;
  size_t n = 0;
  for (size_t i = 0; i <= p->mask; i++)
    if (p->tab[i].b) all[n++] = p->tab[i];
  qsort(all, n, sizeof *all, pend_cmp); /* chunks in key order, a segment's together */
  px_status s = PX_OK;
  int64_t delta = 0;
  for (size_t i = 0; i < n && s == PX_OK; i++) {
    uint32_t seg = (uint32_t)(all[i].key >> 32);
    s = store_chunk(txn, p->st, seg, (uint32_t)all[i].key, all[i].b);
    delta += all[i].delta;
    if (s == PX_OK && (i + 1 == n || (uint32_t)(all[i + 1].key >> 32) != seg)) {
      uint64_t count;
      if (delta && (s = read_count(txn, p->st, seg, &count)) == PX_OK)
        s = write_count(txn, p->st, seg, delta < 0 && (uint64_t)-delta > count ? 0 : count + (uint64_t)delta);
      delta = 0;
    }
  }
  free(all);
  pend_clear(p);
  return s;
}

static const px_txn_hook pend_hook = {pend_flush, pend_discard};

/* Writes what this transaction deferred, before reading the store. */
static px_status settle(px_txn *txn) {
  pending *p = px_txn_deferred(txn, &pend_hook);
  return p ? pend_flush(txn, p) : PX_OK;
}

static px_status pend_grow(pending *p) {
  size_t cap = p->tab ? 2 * (p->mask + 1) : 64;
  pend *tab = calloc(cap, sizeof *tab);
  if (!tab) return PX_NOMEM;
  for (size_t i = 0; p->tab && i <= p->mask; i++) {
    if (!p->tab[i].b) continue;
    size_t j = pend_hash(p->tab[i].key) & (cap - 1);
    while (tab[j].b) j = (j + 1) & (cap - 1);
    tab[j] = p->tab[i];
  }
  free(p->tab);
  p->tab = tab;
  p->mask = cap - 1;
  return PX_OK;
}

/* The transaction's pending entry for (seg, chunk), loaded if new. */
static px_status pend_get(px_txn *txn, const px_store *st, uint32_t seg, uint32_t chunk, pend **out) {
  pending *p = px_txn_deferred(txn, &pend_hook);
  if (!p) {
    if (!(p = calloc(1, sizeof *p))) return PX_NOMEM;
    p->st = st;
    px_status s = px_txn_defer(txn, &pend_hook, p);
    if (s != PX_OK) {
      free(p);
      return s;
    }
  }
  if ((!p->tab || 2 * (p->n + 1) > p->mask + 1) && pend_grow(p) != PX_OK) return PX_NOMEM;
  uint64_t key = (uint64_t)seg << 32 | chunk;
  size_t i = pend_hash(key) & p->mask;
  for (; p->tab[i].b; i = (i + 1) & p->mask)
    if (p->tab[i].key == key) return *out = &p->tab[i], PX_OK;
  px_status s;
  roaring_bitmap_t *b = load_chunk(txn, st, seg, chunk, &s);
  if (!b) return s;
  p->tab[i] = (pend){key, b, 0};
  p->n++;
  *out = &p->tab[i];
  return PX_OK;
}

px_status px_members_set(px_txn *txn, const px_store *st, uint32_t seg, uint64_t pid, int in, int *changed) {
  if (changed) *changed = 0;
  if (pid > PX_MEMBERS_MAX_PID) return PX_INVALID;
  pend *c = NULL;
  uint32_t low = (uint32_t)(pid & 0xffff);
  px_status s = pend_get(txn, st, seg, (uint32_t)(pid >> 16), &c);
  if (s != PX_OK || roaring_bitmap_contains(c->b, low) == !!in) return s;
  if (in) roaring_bitmap_add(c->b, low);
  else roaring_bitmap_remove(c->b, low);
  c->delta += in ? 1 : -1;
  if (changed) *changed = 1;
  return PX_OK;
}

px_status px_members_has(px_txn *txn, const px_store *st, uint32_t seg, uint64_t pid, int *in) {
  *in = 0;
  if (pid > PX_MEMBERS_MAX_PID) return PX_OK;
  px_status s = settle(txn);
  if (s != PX_OK) return s;
  roaring_bitmap_t *b = load_chunk(txn, st, seg, (uint32_t)(pid >> 16), &s);
  if (!b) return s;
  *in = roaring_bitmap_contains(b, (uint32_t)(pid & 0xffff));
  roaring_bitmap_free(b);
  return PX_OK;
}

px_status px_members_count(px_txn *txn, const px_store *st, uint32_t seg, uint64_t *n) {
  px_status s = settle(txn);
  return s == PX_OK ? read_count(txn, st, seg, n) : s;
}

/* Walks seg's chunks from chunk `from` in key order: fn gets each chunk's
 * number and bitmap (owned by the walk); a non-zero return stops it. */
typedef int (*chunk_fn)(void *arg, uint32_t chunk, const roaring_bitmap_t *b);

static px_status walk(px_txn *txn, const px_store *st, uint32_t seg, uint32_t from, chunk_fn fn, void *arg) {
  px_status settled = settle(txn);
  if (settled != PX_OK) return settled;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_MEMBERS), px_store_dbi(st, PX_DB_MEMBERS), &cur);
  if (rc) return px_store_status(rc);
  px_key start;
  chunk_key(&start, seg, from);
  MDB_val k = {start.n, start.b}, v;
  px_status s = PX_OK;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8 || px_get_u32(k.mv_data) != seg) break;
    uint32_t chunk = px_get_u32((const char *)k.mv_data + 4);
    if (chunk == COUNT_CHUNK) break;
    roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe(v.mv_data, v.mv_size);
    if (!b) {
      s = PX_STORE;
      break;
    }
    int stop = fn(arg, chunk, b);
    roaring_bitmap_free(b);
    if (stop) break;
  }
  mdb_cursor_close(cur);
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  return s;
}

typedef struct paging {
  uint64_t after, *out;
  size_t max, n;
} paging;

static int page_chunk(void *arg, uint32_t chunk, const roaring_bitmap_t *b) {
  paging *p = arg;
  uint64_t base = (uint64_t)chunk << 16;
  roaring_uint32_iterator_t *it = roaring_create_iterator(b);
  if (!it) return 1;
  if (p->after >= base) {
    if (p->after - base >= 0xffff) it->has_value = false;
    else roaring_move_uint32_iterator_equalorlarger(it, (uint32_t)(p->after - base) + 1);
  }
  for (; it->has_value && p->n < p->max; roaring_advance_uint32_iterator(it)) p->out[p->n++] = base + it->current_value;
  roaring_free_uint32_iterator(it);
  return p->n >= p->max;
}

px_status px_members_page(px_txn *txn, const px_store *st, uint32_t seg, uint64_t after, uint64_t *out, size_t max,
                          size_t *n) {
  paging p = {after, out, max, 0};
  *n = 0;
  if (!max || after >= PX_MEMBERS_MAX_PID) return PX_OK;
  px_status s = walk(txn, st, seg, (uint32_t)(after >> 16), page_chunk, &p);
  *n = p.n;
  return s;
}

/* Deletes every key of seg (chunks and count). */
static px_status drop_all(px_txn *txn, const px_store *st, uint32_t seg) {
  px_status settled = settle(txn);
  if (settled != PX_OK) return settled;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(px_txn_mdb(txn, PX_DB_MEMBERS), px_store_dbi(st, PX_DB_MEMBERS), &cur);
  if (rc) return px_store_status(rc);
  px_key start;
  chunk_key(&start, seg, 0);
  for (;;) { /* from the start each time: where a cursor rests after a delete is not worth relying on */
    MDB_val k = {start.n, start.b}, v;
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0) break;
    if (k.mv_size != 8 || px_get_u32(k.mv_data) != seg) break;
    if ((rc = mdb_cursor_del(cur, 0))) break;
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? PX_OK : px_store_status(rc);
}

px_status px_members_clear(px_txn *txn, const px_store *st, uint32_t seg) { return drop_all(txn, st, seg); }

px_status px_members_replace(px_txn *txn, const px_store *st, uint32_t seg, const uint64_t *pids, size_t n) {
  px_status s = drop_all(txn, st, seg);
  roaring_bitmap_t *b = roaring_bitmap_create();
  if (!b) return PX_NOMEM;
  for (size_t i = 0; i < n && s == PX_OK;) {
    if (pids[i] > PX_MEMBERS_MAX_PID || (i && pids[i] <= pids[i - 1])) {
      s = PX_INVALID;
      break;
    }
    uint32_t chunk = (uint32_t)(pids[i] >> 16);
    roaring_bitmap_clear(b);
    for (; i < n && pids[i] >> 16 == chunk; i++) {
      if (i && pids[i] <= pids[i - 1]) break;
      roaring_bitmap_add(b, (uint32_t)(pids[i] & 0xffff));
    }
    s = store_chunk(txn, st, seg, chunk, b);
  }
  roaring_bitmap_free(b);
  if (s == PX_OK) s = write_count(txn, st, seg, n);
  return s;
}

/* ---- set algebra ---- */

typedef struct combining {
  px_txn *txn;
  const px_store *st;
  const uint32_t *segs;
  const px_set_op *ops;
  int n;
  px_members_fn fn;
  void *arg;
  uint64_t count;
  px_status s;
  uint64_t *buf;
} combining;

/* The result's bitmap for one chunk, from each segment's chunk. */
static roaring_bitmap_t *combine_chunk(combining *c, uint32_t chunk) {
  roaring_bitmap_t *acc = load_chunk(c->txn, c->st, c->segs[0], chunk, &c->s);
  for (int i = 1; acc && i < c->n; i++) {
    roaring_bitmap_t *b = load_chunk(c->txn, c->st, c->segs[i], chunk, &c->s);
    if (!b) {
      roaring_bitmap_free(acc);
      return NULL;
    }
    if (c->ops[i - 1] == PX_SET_UNION) roaring_bitmap_or_inplace(acc, b);
    else if (c->ops[i - 1] == PX_SET_INTERSECT) roaring_bitmap_and_inplace(acc, b);
    else roaring_bitmap_andnot_inplace(acc, b);
    roaring_bitmap_free(b);
  }
  return acc;
}

/* The chunks any operand has, as a sorted set (a roaring bitmap of chunk numbers). */
static int note_chunk(void *arg, uint32_t chunk, const roaring_bitmap_t *b) {
  (void)b;
  roaring_bitmap_add(arg, chunk);
  return 0;
}

px_status px_members_combine(px_txn *txn, const px_store *st, const uint32_t *segs, const px_set_op *ops, int n,
                             px_members_fn fn, void *arg, uint64_t *count) {
  *count = 0;
  if (n < 1) return PX_INVALID;
  roaring_bitmap_t *chunks = roaring_bitmap_create();
  if (!chunks) return PX_NOMEM;
  combining c = {txn, st, segs, ops, n, fn, arg, 0, PX_OK, malloc(65536 * sizeof(uint64_t))};
  if (!c.buf) c.s = PX_NOMEM;
  for (int i = 0; i < n && c.s == PX_OK; i++) c.s = walk(txn, st, segs[i], 0, note_chunk, chunks);
  roaring_uint32_iterator_t *it = c.s == PX_OK ? roaring_create_iterator(chunks) : NULL;
  if (c.s == PX_OK && !it) c.s = PX_NOMEM;
  for (; it && it->has_value && c.s == PX_OK; roaring_advance_uint32_iterator(it)) {
    uint32_t chunk = it->current_value;
    roaring_bitmap_t *r = combine_chunk(&c, chunk);
    if (!r) break;
    size_t k = 0;
    roaring_uint32_iterator_t *ri = roaring_create_iterator(r);
    for (; ri && ri->has_value; roaring_advance_uint32_iterator(ri)) c.buf[k++] = ((uint64_t)chunk << 16) + ri->current_value;
    roaring_free_uint32_iterator(ri);
    roaring_bitmap_free(r);
    c.count += k;
    if (k && fn && fn(arg, c.buf, k)) break;
  }
  if (it) roaring_free_uint32_iterator(it);
  roaring_bitmap_free(chunks);
  free(c.buf);
  *count = c.count;
  return c.s;
}

/* ---- a profile's segments ---- */

static void psegs_key(px_key *k, uint64_t pid) {
  px_key_init(k);
  px_key_u64(k, pid);
}

static px_status psegs_room(px_psegs *p, size_t need) {
  if (need <= p->cap) return PX_OK;
  size_t c = p->cap ? p->cap * 2 : 16;
  if (c < need) c = need;
  uint32_t *ids = realloc(p->ids, c * sizeof *ids);
  if (!ids) return PX_NOMEM;
  p->ids = ids;
  p->cap = c;
  return PX_OK;
}

px_status px_psegs_load(px_txn *txn, const px_store *st, uint64_t pid, px_psegs *p) {
  p->n = 0;
  px_key k;
  psegs_key(&k, pid);
  MDB_val v;
  px_status s = px_store_get(txn, st, PX_DB_PSEGS, k.b, k.n, &v);
  if (s == PX_NOT_FOUND) return PX_OK;
  if (s != PX_OK) return s;
  if (v.mv_size % 4) return PX_STORE;
  size_t n = v.mv_size / 4;
  if ((s = psegs_room(p, n)) != PX_OK) return s;
  for (size_t i = 0; i < n; i++) {
    p->ids[i] = px_get_u32((const char *)v.mv_data + 4 * i);
    if (i && p->ids[i] <= p->ids[i - 1]) return PX_STORE;
  }
  p->n = n;
  return PX_OK;
}

px_status px_psegs_store(px_txn *txn, const px_store *st, uint64_t pid, const px_psegs *p) {
  px_key k;
  psegs_key(&k, pid);
  if (!p->n) {
    px_status s = px_store_del(txn, st, PX_DB_PSEGS, k.b, k.n);
    return s == PX_NOT_FOUND ? PX_OK : s;
  }
  /* Zeroed, though the loop fills them: gcc 12 with the sanitizers and no
   * build type cannot see that (-Wmaybe-uninitialized). */
  unsigned char small[256] = {0};
  unsigned char *b = p->n * 4 <= sizeof small ? small : calloc(p->n, 4);
  if (!b) return PX_NOMEM;
  for (size_t i = 0; i < p->n; i++) {
    uint32_t id = p->ids[i];
    b[4 * i] = (unsigned char)(id >> 24), b[4 * i + 1] = (unsigned char)(id >> 16);
    b[4 * i + 2] = (unsigned char)(id >> 8), b[4 * i + 3] = (unsigned char)id;
  }
  px_status s = px_store_put(txn, st, PX_DB_PSEGS, k.b, k.n, b, p->n * 4, 0);
  if (b != small) free(b);
  return s;
}

/* The index of the first id >= seg. */
static size_t psegs_find(const px_psegs *p, uint32_t seg) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->ids[mid] < seg) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int px_psegs_has(const px_psegs *p, uint32_t seg) {
  size_t i = psegs_find(p, seg);
  return i < p->n && p->ids[i] == seg;
}

px_status px_psegs_set(px_psegs *p, uint32_t seg, int in) {
  size_t i = psegs_find(p, seg);
  int has = i < p->n && p->ids[i] == seg;
  if (has == !!in) return PX_OK;
  if (in) {
    px_status s = psegs_room(p, p->n + 1);
    if (s != PX_OK) return s;
    memmove(p->ids + i + 1, p->ids + i, (p->n - i) * sizeof *p->ids);
    p->ids[i] = seg;
    p->n++;
  } else {
    memmove(p->ids + i, p->ids + i + 1, (p->n - i - 1) * sizeof *p->ids);
    p->n--;
  }
  return PX_OK;
}

void px_psegs_free(px_psegs *p) {
  free(p->ids);
  memset(p, 0, sizeof *p);
}

px_status px_members_change(px_txn *txn, const px_store *st, px_psegs *p, uint32_t seg, uint64_t pid, int in,
                            int *changed) {
  if (changed) *changed = 0;
  if (px_psegs_has(p, seg) == !!in) return PX_OK;
  px_status s = px_members_set(txn, st, seg, pid, in, NULL);
  if (s == PX_OK) s = px_psegs_set(p, seg, in);
  if (s == PX_OK && changed) *changed = 1;
  return s;
}
