/* State version 2: layouts for the aggregations whose state grows with the
 * events it holds, searched and edited in place instead of decoded and
 * re-encoded whole:
 *
 * - event lists: windowed count, sum, avg, min and max. Fixed-width entries
 *   in (ts, seq) order, so a lookup is a binary search on the bytes, an
 *   in-order event is an append, and what leaves the window is cut from the
 *   front. Sum and avg keep a running double-double total, so their value
 *   needs no pass over the entries.
 * - value sets: distinct, all time or windowed. The 64-bit hash of each
 *   distinct value with its latest current occurrence, sorted by hash, and
 *   the future-dated occurrences apart until they become current.
 *
 * Layouts and the reasoning: docs/internals/compute.md. Observe and value
 * trust the order of the entries (a state whose order was corrupted gives
 * wrong values, never a crash: every access is bounds-checked against the
 * lengths in the header, which are checked against the size);
 * px_agg_check verifies everything. */
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#include "compute/compute_int.h"

#define FAST_VERSION 2

/* ---- bytes ---- */

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static double getf(const uint8_t *p) {
  uint64_t u = get64(p);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static void putf(uint8_t *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  put64(p, u);
}

static int64_t sat_sub(int64_t a, int64_t b) { return a < INT64_MIN + b ? INT64_MIN : a - b; }
static int64_t sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

static int64_t window_of(const px_rule_agg *a) {
  return a->window_ms > PX_AGG_MAX_WINDOW_MS ? PX_AGG_MAX_WINDOW_MS : a->window_ms;
}

/* Double-double accumulation (Knuth's TwoSum): hi + lo carries ~106 bits,
 * so adding and later removing the same amounts leaves no residue. */
static void dd_add(double *hi, double *lo, double x) {
  double s = *hi + x, bp = s - *hi;
  double e = (*hi - (s - bp)) + (x - bp) + *lo;
  double h = s + e;
  *lo = e - (h - s);
  *hi = h;
}

int cmp_fast_kind(const px_rule_agg *a) {
  if (a->fn == PX_AGG_DISTINCT) return CMP_FAST_SET;
  if (a->window_ms > 0 && (a->fn == PX_AGG_COUNT || cmp_uses_num(a->fn))) return CMP_FAST_LIST;
  return 0;
}

/* ---- the header ---- */

typedef struct fview {
  uint8_t *p; /* the state's bytes (const when only read) */
  size_t len;
  uint8_t flags;
  size_t n;   /* list: entries; set: values */
  size_t nf;  /* set: future-dated occurrences */
  size_t hdr; /* bytes before the first entry */
  size_t w;   /* list: bytes per entry */
  int set;    /* a value set (else an event list) */
} fview;

enum { SET_VAL = 16, SET_FUT = 24 };

static int sumlike(px_agg_fn fn) { return fn == PX_AGG_SUM || fn == PX_AGG_AVG; }

static void shape(const px_rule_agg *a, int kind, fview *v) {
  if (kind == CMP_FAST_LIST) {
    v->hdr = 3 + 4 + (sumlike(a->fn) ? 16 : 0);
    v->w = a->fn == PX_AGG_COUNT ? 16 : 24;
  } else {
    v->hdr = 3 + 4 + 4;
    v->w = SET_VAL;
    v->set = 1;
  }
}

/* Reads the header of len bytes (len 0: the empty state) and checks the
 * lengths it gives against len. */
static px_status view(const px_rule_agg *a, int kind, const void *p, size_t len, fview *v) {
  memset(v, 0, sizeof *v);
  shape(a, kind, v);
  v->p = (uint8_t *)p;
  v->len = len;
  if (!len) return PX_OK;
  const uint8_t *b = p;
  int windowed = a->window_ms > 0;
  if (len < v->hdr || b[0] != FAST_VERSION || b[1] != (uint8_t)a->fn || (b[2] & ~(CMP_WINDOWED | CMP_APPROXIMATE)) ||
      !!(b[2] & CMP_WINDOWED) != windowed)
    return PX_STORE;
  v->flags = b[2];
  v->n = get32(b + 3);
  if (kind == CMP_FAST_LIST) {
    if (v->n > PX_AGG_MAX_ENTRIES || len != v->hdr + v->n * v->w) return PX_STORE;
  } else {
    v->nf = get32(b + 7);
    if (v->n > PX_AGG_MAX_VALUES || v->nf > PX_AGG_MAX_ENTRIES || len != v->hdr + v->n * SET_VAL + v->nf * SET_FUT)
      return PX_STORE;
  }
  return PX_OK;
}

/* Makes state an empty state of a's layout when it has no bytes yet. */
static px_status start(const px_rule_agg *a, px_buf *state, fview *v) {
  if (state->len) return PX_OK;
  px_status st = px_buf_reserve(state, v->hdr + 1);
  if (st != PX_OK) return st;
  uint8_t *b = (uint8_t *)state->data;
  memset(b, 0, v->hdr);
  b[0] = FAST_VERSION, b[1] = (uint8_t)a->fn, b[2] = a->window_ms > 0 ? CMP_WINDOWED : 0;
  state->len = v->hdr;
  state->data[state->len] = 0;
  v->p = b;
  v->len = state->len;
  v->flags = b[2];
  return PX_OK;
}

/* Writes the counts and flags back; a state left with nothing is empty. */
static void finish(px_buf *state, fview *v) {
  if (!v->n && !v->nf) {
    px_buf_reset(state);
    return;
  }
  uint8_t *b = (uint8_t *)state->data;
  b[2] = v->flags;
  put32(b + 3, (uint32_t)v->n);
  if (v->set) put32(b + 7, (uint32_t)v->nf);
  state->len = v->len;
  state->data[state->len] = 0;
}

/* Opens a gap of n bytes at off (the buffer may move). */
static px_status gap(px_buf *state, fview *v, size_t off, size_t n) {
  px_status st = px_buf_reserve(state, n + 1);
  if (st != PX_OK) return st;
  v->p = (uint8_t *)state->data;
  memmove(v->p + off + n, v->p + off, v->len - off);
  v->len += n;
  state->len = v->len;
  return PX_OK;
}

static void cut(fview *v, size_t off, size_t n) {
  memmove(v->p + off, v->p + off + n, v->len - off - n);
  v->len -= n;
}

/* ---- event lists ---- */

static const uint8_t *lent(const fview *v, size_t i) { return v->p + v->hdr + i * v->w; }

/* The first entry at or after (ts, seq). */
static size_t list_lower(const fview *v, int64_t ts, uint64_t seq) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const uint8_t *e = lent(v, mid);
    if (cmp_time_cmp((int64_t)get64(e), get64(e + 8), ts, seq) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The first entry with ts > t. */
static size_t list_after(const fview *v, int64_t t) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((int64_t)get64(lent(v, mid)) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void list_total(const fview *v, double *hi, double *lo) {
  *hi = getf(v->p + 7);
  *lo = getf(v->p + 15);
}

static void list_set_total(fview *v, double hi, double lo) {
  putf(v->p + 7, hi);
  putf(v->p + 15, lo);
}

/* Drops the first k entries. */
static void list_drop(const px_rule_agg *a, fview *v, size_t k) {
  if (!k) return;
  if (sumlike(a->fn)) {
    double hi, lo;
    list_total(v, &hi, &lo);
    if (k == v->n) hi = lo = 0;
    else
      for (size_t i = 0; i < k; i++) dd_add(&hi, &lo, -getf(lent(v, i) + 16));
    list_set_total(v, hi, lo);
  }
  cut(v, v->hdr, k * v->w);
  v->n -= k;
}

/* What left the window at now goes; then the oldest go beyond the cap. */
static int list_compact(const px_rule_agg *a, fview *v, int prune, int64_t now) {
  size_t k = prune ? list_after(v, sat_sub(now, window_of(a))) : 0;
  if (v->n - k > PX_AGG_MAX_ENTRIES) {
    k = v->n - PX_AGG_MAX_ENTRIES;
    v->flags |= CMP_APPROXIMATE;
  }
  list_drop(a, v, k);
  return k > 0;
}

static px_status list_observe(const px_rule_agg *a, px_buf *state, const cmp_entry *e, int64_t now, int *taken,
                              int *rewritten) {
  fview v;
  px_status st = view(a, CMP_FAST_LIST, state->data, state->len, &v);
  if (st != PX_OK || (st = start(a, state, &v)) != PX_OK) return st;
  size_t i = list_lower(&v, e->ts, e->seq);
  if (i == v.n || get64(lent(&v, i)) != (uint64_t)e->ts || get64(lent(&v, i) + 8) != e->seq) {
    size_t off = v.hdr + i * v.w;
    if ((st = gap(state, &v, off, v.w)) != PX_OK) return st;
    put64(v.p + off, (uint64_t)e->ts);
    put64(v.p + off + 8, e->seq);
    if (v.w == 24) putf(v.p + off + 16, e->num);
    v.n++;
    if (sumlike(a->fn)) {
      double hi, lo;
      list_total(&v, &hi, &lo);
      dd_add(&hi, &lo, e->num);
      list_set_total(&v, hi, lo);
    }
    *taken = 1;
  }
  *rewritten = list_compact(a, &v, 1, now) || *taken;
  if (*rewritten) finish(state, &v);
  return PX_OK;
}

static px_status list_value(const px_rule_agg *a, const fview *v, int64_t now, px_rule_value *out, int64_t *until) {
  int64_t w = window_of(a);
  size_t lo = list_after(v, sat_sub(now, w)), hi = list_after(v, now);
  if (lo > hi) lo = hi;
  *until = INT64_MAX;
  if (lo < hi) *until = sat_add((int64_t)get64(lent(v, lo)), w); /* the oldest counted leaves */
  if (hi < v->n && (int64_t)get64(lent(v, hi)) < *until) *until = (int64_t)get64(lent(v, hi)); /* a future one enters */
  size_t n = hi - lo;
  if (a->fn == PX_AGG_COUNT) {
    out->type = PX_RV_NUM;
    out->n = (double)n;
    out->trend = hi == v->n ? -1 : 0; /* nothing future-dated to come in: it can only fall */
    return PX_OK;
  }
  if (!n) {
    if (a->fn == PX_AGG_SUM) out->type = PX_RV_NUM, out->n = 0;
    return PX_OK;
  }
  double x = 0, xl = 0;
  if (sumlike(a->fn)) {
    if (v->n - n < n) { /* fewer to take out of the total than to add up */
      list_total(v, &x, &xl);
      for (size_t i = 0; i < lo; i++) dd_add(&x, &xl, -getf(lent(v, i) + 16));
      for (size_t i = hi; i < v->n; i++) dd_add(&x, &xl, -getf(lent(v, i) + 16));
    } else {
      for (size_t i = lo; i < hi; i++) dd_add(&x, &xl, getf(lent(v, i) + 16));
    }
    x += xl;
    if (a->fn == PX_AGG_AVG) x /= (double)n;
  } else {
    x = getf(lent(v, lo) + 16);
    for (size_t i = lo + 1; i < hi; i++) {
      double y = getf(lent(v, i) + 16);
      if (a->fn == PX_AGG_MIN ? y < x : y > x) x = y;
    }
  }
  out->type = PX_RV_NUM;
  out->n = x;
  return PX_OK;
}

static px_status list_merge(const px_rule_agg *a, px_buf *into, const fview *B) {
  fview A;
  px_status st = view(a, CMP_FAST_LIST, into->data, into->len, &A);
  if (st != PX_OK || (st = start(a, into, &A)) != PX_OK) return st;
  px_buf m;
  px_buf_init(&m, into->max == SIZE_MAX ? 0 : into->max);
  if ((st = px_buf_reserve(&m, A.hdr + (A.n + B->n) * A.w + 1)) != PX_OK) return st;
  uint8_t *o = (uint8_t *)m.data + A.hdr;
  size_t i = 0, j = 0, n = 0;
  while (i < A.n || j < B->n) {
    int c = i == A.n ? 1
            : j == B->n ? -1
                        : cmp_time_cmp((int64_t)get64(lent(&A, i)), get64(lent(&A, i) + 8), (int64_t)get64(lent(B, j)),
                                       get64(lent(B, j) + 8));
    const uint8_t *src = c <= 0 ? lent(&A, i) : lent(B, j);
    if (c <= 0) i++;
    if (c >= 0) j++; /* the same event on both sides counts once */
    memcpy(o, src, A.w);
    o += A.w;
    n++;
  }
  memcpy(m.data, A.p, A.hdr);
  fview M = A;
  M.p = (uint8_t *)m.data;
  M.n = n;
  M.len = A.hdr + n * A.w;
  M.flags = A.flags | (B->flags & CMP_APPROXIMATE);
  m.len = M.len;
  if (sumlike(a->fn)) { /* the total again, from the entries */
    double hi = 0, lo = 0;
    for (size_t k = 0; k < n; k++) dd_add(&hi, &lo, getf(lent(&M, k) + 16));
    list_set_total(&M, hi, lo);
  }
  list_compact(a, &M, 0, 0);
  finish(&m, &M);
  px_buf_free(into);
  *into = m;
  return PX_OK;
}

/* ---- value sets ---- */

static const uint8_t *sval(const fview *v, size_t i) { return v->p + v->hdr + i * SET_VAL; }
static const uint8_t *sfut(const fview *v, size_t i) { return v->p + v->hdr + v->n * SET_VAL + i * SET_FUT; }

static size_t set_find(const fview *v, uint64_t h) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (get64(sval(v, mid)) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* A current occurrence of the value hashed h at ts. */
static px_status set_fold(const px_rule_agg *a, px_buf *state, fview *v, uint64_t h, int64_t ts, int *taken,
                          int *rewritten) {
  size_t i = set_find(v, h);
  if (i < v->n && get64(sval(v, i)) == h) {
    if (a->window_ms > 0 && ts > (int64_t)get64(sval(v, i) + 8)) {
      put64(v->p + v->hdr + i * SET_VAL + 8, (uint64_t)ts); /* stays in the window longer */
      *taken = *rewritten = 1;
    }
    return PX_OK;
  }
  if (v->n >= PX_AGG_MAX_VALUES) {
    if (!(v->flags & CMP_APPROXIMATE)) v->flags |= CMP_APPROXIMATE, *rewritten = 1;
    return PX_OK;
  }
  size_t off = v->hdr + i * SET_VAL;
  px_status st = gap(state, v, off, SET_VAL);
  if (st != PX_OK) return st;
  put64(v->p + off, h);
  put64(v->p + off + 8, (uint64_t)ts);
  v->n++;
  *taken = *rewritten = 1;
  return PX_OK;
}

/* At now: future occurrences that became current join the set (as do the
 * oldest beyond the cap, early); windowed, values whose latest occurrence
 * left the window go. */
static px_status set_compact(const px_rule_agg *a, px_buf *state, fview *v, int prune, int64_t now, int *taken,
                             int *rewritten) {
  px_status st = PX_OK;
  while (v->nf && st == PX_OK) {
    int64_t ts = (int64_t)get64(sfut(v, 0));
    int early = v->nf > PX_AGG_MAX_ENTRIES;
    if (!early && (!prune || ts > now)) break;
    if (early) v->flags |= CMP_APPROXIMATE;
    uint64_t h = get64(sfut(v, 0) + 16);
    cut(v, (size_t)(sfut(v, 0) - v->p), SET_FUT);
    v->nf--;
    *rewritten = 1;
    if (!prune || a->window_ms <= 0 || ts > sat_sub(now, window_of(a))) st = set_fold(a, state, v, h, ts, taken, rewritten);
  }
  if (st != PX_OK || !prune || a->window_ms <= 0) return st;
  int64_t edge = sat_sub(now, window_of(a));
  size_t k = 0;
  for (size_t i = 0; i < v->n; i++) {
    if ((int64_t)get64(sval(v, i) + 8) <= edge) continue;
    if (k != i) memcpy(v->p + v->hdr + k * SET_VAL, sval(v, i), SET_VAL);
    k++;
  }
  if (k != v->n) {
    cut(v, v->hdr + k * SET_VAL, (v->n - k) * SET_VAL);
    v->n = k;
    *rewritten = 1;
  }
  return PX_OK;
}

static px_status set_observe(const px_rule_agg *a, px_buf *state, const cmp_entry *e, int64_t now, int *taken,
                             int *rewritten) {
  fview v;
  px_status st = view(a, CMP_FAST_SET, state->data, state->len, &v);
  if (st != PX_OK || (st = start(a, state, &v)) != PX_OK) return st;
  uint64_t h = XXH64(e->val.p, e->val.n, 0);
  if (e->ts > now) { /* counts from its time on: kept apart until then */
    size_t lo = 0, hi = v.nf;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (cmp_time_cmp((int64_t)get64(sfut(&v, mid)), get64(sfut(&v, mid) + 8), e->ts, e->seq) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo == v.nf || get64(sfut(&v, lo)) != (uint64_t)e->ts || get64(sfut(&v, lo) + 8) != e->seq) {
      size_t off = (size_t)(sfut(&v, lo) - v.p);
      if ((st = gap(state, &v, off, SET_FUT)) != PX_OK) return st;
      put64(v.p + off, (uint64_t)e->ts);
      put64(v.p + off + 8, e->seq);
      put64(v.p + off + 16, h);
      v.nf++;
      *taken = *rewritten = 1;
    }
  } else {
    st = set_fold(a, state, &v, h, e->ts, taken, rewritten);
  }
  if (st == PX_OK) st = set_compact(a, state, &v, 1, now, taken, rewritten);
  if (st == PX_OK && *rewritten) finish(state, &v);
  return st;
}

static px_status set_value(const px_rule_agg *a, const fview *v0, int64_t now, px_rule_value *out, int64_t *until) {
  px_buf copy;
  px_buf_init(&copy, 0);
  fview v = *v0;
  px_status st = PX_OK;
  if (v.nf && (int64_t)get64(sfut(&v, 0)) <= now) { /* occurrences that became current since: fold a copy */
    int t = 0, r = 0;
    if ((st = px_buf_append(&copy, v.p, v.len)) == PX_OK) {
      v.p = (uint8_t *)copy.data;
      st = set_compact(a, &copy, &v, 1, now, &t, &r);
    }
  }
  *until = v.nf ? (int64_t)get64(sfut(&v, 0)) : INT64_MAX;
  size_t n = v.n;
  if (st == PX_OK && a->window_ms > 0) {
    int64_t w = window_of(a), edge = sat_sub(now, w);
    n = 0;
    for (size_t i = 0; i < v.n; i++) {
      int64_t ts = (int64_t)get64(sval(&v, i) + 8);
      if (ts <= edge) continue;
      n++;
      if (sat_add(ts, w) < *until) *until = sat_add(ts, w);
    }
  }
  out->type = PX_RV_NUM;
  out->n = (double)n;
  px_buf_free(&copy);
  return st;
}

static px_status set_merge(const px_rule_agg *a, px_buf *into, const fview *B) {
  fview A;
  px_status st = view(a, CMP_FAST_SET, into->data, into->len, &A);
  if (st != PX_OK || (st = start(a, into, &A)) != PX_OK) return st;
  px_buf m;
  px_buf_init(&m, into->max == SIZE_MAX ? 0 : into->max);
  if ((st = px_buf_reserve(&m, A.hdr + (A.n + B->n) * SET_VAL + (A.nf + B->nf) * SET_FUT + 1)) != PX_OK) return st;
  uint8_t *o = (uint8_t *)m.data + A.hdr;
  size_t i = 0, j = 0, n = 0, nf = 0;
  uint8_t flags = A.flags | (B->flags & CMP_APPROXIMATE);
  while (i < A.n || j < B->n) {
    uint64_t ha = i < A.n ? get64(sval(&A, i)) : UINT64_MAX, hb = j < B->n ? get64(sval(B, j)) : UINT64_MAX;
    int c = i == A.n ? 1 : j == B->n ? -1 : ha < hb ? -1 : ha > hb;
    uint64_t h = c <= 0 ? ha : hb;
    int64_t ts = c < 0 ? (int64_t)get64(sval(&A, i) + 8) : c > 0 ? (int64_t)get64(sval(B, j) + 8) : 0;
    if (c == 0) {
      int64_t ta = (int64_t)get64(sval(&A, i) + 8), tb = (int64_t)get64(sval(B, j) + 8);
      ts = ta > tb ? ta : tb;
    }
    if (c <= 0) i++;
    if (c >= 0) j++;
    if (n == PX_AGG_MAX_VALUES) {
      flags |= CMP_APPROXIMATE;
      continue;
    }
    put64(o, h);
    put64(o + 8, (uint64_t)ts);
    o += SET_VAL;
    n++;
  }
  i = j = 0;
  while (i < A.nf || j < B->nf) {
    int c = i == A.nf ? 1
            : j == B->nf ? -1
                         : cmp_time_cmp((int64_t)get64(sfut(&A, i)), get64(sfut(&A, i) + 8), (int64_t)get64(sfut(B, j)),
                                        get64(sfut(B, j) + 8));
    const uint8_t *src = c <= 0 ? sfut(&A, i) : sfut(B, j);
    if (c <= 0) i++;
    if (c >= 0) j++;
    memcpy(o, src, SET_FUT);
    o += SET_FUT;
    nf++;
  }
  memcpy(m.data, A.p, A.hdr);
  fview M = A;
  M.p = (uint8_t *)m.data;
  M.n = n;
  M.nf = nf;
  M.flags = flags;
  M.len = m.len = (size_t)(o - M.p);
  int t = 0, r = 0;
  st = set_compact(a, &m, &M, 0, 0, &t, &r); /* beyond the cap only */
  if (st == PX_OK) {
    finish(&m, &M);
    px_buf_free(into);
    *into = m;
  } else {
    px_buf_free(&m);
  }
  return st;
}

/* ---- the entry points (agg.c dispatches here for cmp_fast_kind) ---- */

px_status cmp_fast_observe(const px_rule_agg *a, px_buf *state, const cmp_entry *e, int64_t now, int *changed) {
  int taken = 0, rewritten = 0;
  px_status st = cmp_fast_kind(a) == CMP_FAST_LIST ? list_observe(a, state, e, now, &taken, &rewritten)
                                                   : set_observe(a, state, e, now, &taken, &rewritten);
  if (st == PX_OK && changed) *changed = (taken ? PX_AGG_TAKEN : 0) | (taken || rewritten ? PX_AGG_REWRITTEN : 0);
  return st;
}

px_status cmp_fast_expire(const px_rule_agg *a, px_buf *state, int64_t now, int *changed) {
  int kind = cmp_fast_kind(a), taken = 0, rewritten = 0;
  fview v;
  px_status st = view(a, kind, state->data, state->len, &v);
  if (st != PX_OK || !state->len) return st;
  if (kind == CMP_FAST_LIST) rewritten = list_compact(a, &v, 1, now);
  else st = set_compact(a, state, &v, 1, now, &taken, &rewritten);
  if (st == PX_OK && rewritten) {
    finish(state, &v);
    if (changed) *changed = PX_AGG_REWRITTEN;
  }
  return st;
}

px_status cmp_fast_value(const px_rule_agg *a, const void *state, size_t n, int64_t now, px_rule_value *out,
                         int64_t *valid_until) {
  int kind = cmp_fast_kind(a);
  fview v;
  int64_t until = INT64_MAX;
  px_status st = view(a, kind, state, n, &v);
  if (st == PX_OK) st = kind == CMP_FAST_LIST ? list_value(a, &v, now, out, &until) : set_value(a, &v, now, out, &until);
  if (st == PX_OK && valid_until) *valid_until = until;
  return st;
}

px_status cmp_fast_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n) {
  int kind = cmp_fast_kind(a);
  fview B;
  /* Merges are rare: both sides are checked in full. */
  px_status st = cmp_fast_check(a, into->data, into->len);
  if (st == PX_OK) st = cmp_fast_check(a, other, n);
  if (st == PX_OK) st = view(a, kind, other, n, &B);
  if (st != PX_OK || !n) return st;
  return kind == CMP_FAST_LIST ? list_merge(a, into, &B) : set_merge(a, into, &B);
}

px_status cmp_fast_check(const px_rule_agg *a, const void *state, size_t n) {
  int kind = cmp_fast_kind(a);
  fview v;
  px_status st = view(a, kind, state, n, &v);
  if (st != PX_OK || !n) return st;
  if (!v.n && !v.nf) return PX_STORE; /* nothing held is written as the empty state */
  if (kind == CMP_FAST_LIST) {
    for (size_t i = 1; i < v.n; i++)
      if (cmp_time_cmp((int64_t)get64(lent(&v, i - 1)), get64(lent(&v, i - 1) + 8), (int64_t)get64(lent(&v, i)),
                       get64(lent(&v, i) + 8)) >= 0)
        return PX_STORE;
    return PX_OK;
  }
  for (size_t i = 1; i < v.n; i++)
    if (get64(sval(&v, i - 1)) >= get64(sval(&v, i))) return PX_STORE;
  for (size_t i = 1; i < v.nf; i++)
    if (cmp_time_cmp((int64_t)get64(sfut(&v, i - 1)), get64(sfut(&v, i - 1) + 8), (int64_t)get64(sfut(&v, i)),
                     get64(sfut(&v, i) + 8)) >= 0)
      return PX_STORE;
  return PX_OK;
}
