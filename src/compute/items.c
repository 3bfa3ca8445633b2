/* Items (PX_AGG_ITEMS): per distinct item id read from the property (a
 * string as it is, a number as its text), the latest matching event's time
 * and how many matching events named it. Kept as events arrive so that the
 * recommendation trainer reads one state per profile instead of every
 * event. A property path may hold one array step ("products[].product_id"):
 * each element's member is an item, and an event names an item once.
 *
 * Layout, little-endian:
 *   u8 'I'  u8 flags (1: capped)  u32 k (1 .. PX_AGG_MAX_ENTRIES)
 *   k x u32 offset: where record i starts, counted from the first record
 *                   (0 for the first, then each where the one before ends)
 *   k x record: i64 last_ms, u32 count (>= 1), u8 id length - 1, the id;
 *               ascending by id (bytewise, a prefix first), no repeats
 * at most PX_AGG_MAX_ENTRY_BYTES in all; no items is the empty state (0
 * bytes). The offsets make a lookup a binary search; a new item is a
 * memmove of the records after it and an add to their offsets. At the cap
 * a new item takes the place of the oldest (earliest last_ms) if it is
 * more recent, else it is dropped; either way the state is flagged.
 *
 * Trust: observe and value check the header and that the offsets tile the
 * records exactly (every access is then in bounds), not the order of the
 * ids nor the counts; check, merge and px_agg_items_count check everything,
 * and px_agg_items_next checks as it goes. See docs/internals/compute.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/compute_int.h"

_Static_assert(PX_AGG_VALUE_MAX <= 256, "an id's length is stored in one byte");
_Static_assert(PX_AGG_MAX_ENTRY_BYTES <= UINT32_MAX, "offsets are 32 bits");

#define TAG 'I'
#define HDR 6    /* tag, flags, k */
#define OFF 4    /* an offset */
#define FIX 13   /* a record before its id: last_ms, count, length - 1 */
#define CAPPED 1 /* flag: an item was dropped or made way at the cap */

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return (int64_t)v;
}

static void put64(uint8_t *p, int64_t x) {
  uint64_t v = (uint64_t)x;
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t uadd(uint32_t a, uint32_t b) { return a > UINT32_MAX - b ? UINT32_MAX : a + b; }

/* ---- reading a state ---- */

static size_t rec_size(const uint8_t *r) { return FIX + (size_t)r[12] + 1; }
static size_t id_len(const uint8_t *r) { return (size_t)r[12] + 1; }
static const uint8_t *recs_of(const uint8_t *b, size_t k) { return b + HDR + OFF * k; }
static const uint8_t *rec_of(const uint8_t *b, size_t k, size_t i) {
  return recs_of(b, k) + get32(b + HDR + OFF * i);
}

static int id_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return (an > bn) - (an < bn);
}

static int rec_cmp(const uint8_t *x, const uint8_t *y) { return id_cmp(x + FIX, id_len(x), y + FIX, id_len(y)); }

/* The header of a non-empty state: tag, flags, k, sizes. */
static int header(const uint8_t *b, size_t n, size_t *k) {
  if (n < HDR || n > PX_AGG_MAX_ENTRY_BYTES || b[0] != TAG || (b[1] & ~CAPPED)) return 0;
  *k = get32(b + 2);
  return *k >= 1 && *k <= PX_AGG_MAX_ENTRIES && HDR + OFF * *k <= n;
}

/* The header, and the offsets tiling the records exactly: the first at 0,
 * each record ending where the next one starts, the last at the end. Every
 * record is then in bounds. Each record is checked on its own (no chain of
 * dependent loads through the records). *k = 0 for the empty state. */
static int shape(const void *state, size_t n, size_t *k) {
  const uint8_t *b = state;
  *k = 0;
  if (n == 0) return 1;
  size_t m;
  if (!header(b, n, &m)) return 0;
  const uint8_t *r = recs_of(b, m), *ix = b + HDR;
  size_t area = n - HDR - OFF * m;
  if (get32(ix) != 0) return 0;
  for (size_t i = 0; i < m; i++) {
    size_t at = get32(ix + OFF * i), end = i + 1 < m ? get32(ix + OFF * (i + 1)) : area;
    if (end > area || end < at + FIX || end - at != rec_size(r + at)) return 0;
  }
  *k = m;
  return 1;
}

/* The shape, counts of at least 1, and the ids in strictly ascending order. */
static int valid(const void *state, size_t n, size_t *k) {
  if (!shape(state, n, k)) return 0;
  for (size_t i = 0; i < *k; i++) {
    const uint8_t *r = rec_of(state, *k, i);
    if (get32(r + 8) == 0 || (i && rec_cmp(rec_of(state, *k, i - 1), r) >= 0)) return 0;
  }
  return 1;
}

/* Where id goes among the k items: its index if there (*found), else the
 * index it would take. */
static size_t find(const uint8_t *b, size_t k, const uint8_t *id, size_t n, int *found) {
  size_t lo = 0, hi = k;
  *found = 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const uint8_t *r = rec_of(b, k, mid);
    int c = id_cmp(r + FIX, id_len(r), id, n);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* ---- editing a state in place (room reserved by the caller) ---- */

/* Inserts a record for id at index pos of a state with its header. */
static void insert_at(px_buf *s, size_t pos, const uint8_t *id, size_t n, int64_t last, uint32_t count) {
  uint8_t *b = (uint8_t *)s->data, *ix = b + HDR;
  size_t k = get32(b + 2), rs = FIX + n, area = s->len - HDR - OFF * k;
  size_t at = pos < k ? get32(ix + OFF * pos) : area;
  uint8_t *recs = b + HDR + OFF * k, *nrecs = recs + OFF;
  memmove(nrecs + at + rs, recs + at, area - at); /* the records after it, then those before */
  memmove(nrecs, recs, at);
  uint8_t *r = nrecs + at;
  put64(r, last);
  put32(r + 8, count);
  r[12] = (uint8_t)(n - 1);
  memcpy(r + FIX, id, n);
  memmove(ix + OFF * (pos + 1), ix + OFF * pos, OFF * (k - pos));
  put32(ix + OFF * pos, (uint32_t)at);
  for (size_t i = pos + 1; i <= k; i++) put32(ix + OFF * i, get32(ix + OFF * i) + (uint32_t)rs);
  put32(b + 2, (uint32_t)(k + 1));
  s->len += OFF + rs;
  s->data[s->len] = 0;
}

/* Removes item pos. */
static void remove_at(px_buf *s, size_t pos) {
  uint8_t *b = (uint8_t *)s->data, *ix = b + HDR;
  size_t k = get32(b + 2), area = s->len - HDR - OFF * k;
  uint8_t *recs = b + HDR + OFF * k, *nrecs = recs - OFF;
  size_t at = get32(ix + OFF * pos), rs = rec_size(recs + at);
  memmove(ix + OFF * pos, ix + OFF * (pos + 1), OFF * (k - pos - 1));
  for (size_t i = pos; i + 1 < k; i++) put32(ix + OFF * i, get32(ix + OFF * i) - (uint32_t)rs);
  memmove(nrecs, recs, at); /* the records before it, then those after */
  memmove(nrecs + at, recs + at + rs, area - at - rs);
  put32(b + 2, (uint32_t)(k - 1));
  s->len -= OFF + rs;
  s->data[s->len] = 0;
}

/* At the cap, for a new item of rs record bytes last seen at last: removes
 * the oldest items (earliest last_ms; among equals the first by id) until
 * it fits, if only items older than it have to go; 0 (nothing removed)
 * when they would not be enough. */
static int make_room(px_buf *s, int64_t last, size_t rs) {
  const uint8_t *b = (const uint8_t *)s->data;
  size_t k = get32(b + 2), older = 0, freed = 0, oldest = 0;
  int64_t t = INT64_MAX;
  for (size_t i = 0; i < k; i++) { /* walked in record order: the records are contiguous */
    const uint8_t *r = rec_of(b, k, i);
    int64_t u = get64(r);
    if (u < last) older++, freed += OFF + rec_size(r);
    if (u < t) t = u, oldest = i;
  }
  if (k + 1 - older > PX_AGG_MAX_ENTRIES || s->len + OFF + rs - freed > PX_AGG_MAX_ENTRY_BYTES) return 0;
  for (;;) { /* the oldest is older than last: it goes; another one too while it does not fit */
    remove_at(s, oldest);
    if (--k + 1 <= PX_AGG_MAX_ENTRIES && s->len + OFF + rs <= PX_AGG_MAX_ENTRY_BYTES) return 1;
    b = (const uint8_t *)s->data;
    oldest = 0;
    t = get64(rec_of(b, k, 0));
    for (size_t i = 1; i < k; i++) {
      int64_t u = get64(rec_of(b, k, i));
      if (u < t) t = u, oldest = i;
    }
  }
}

/* Adds (last, count) to item id, or inserts it (the cap permitting). *taken
 * says the item is counted. */
static void add(px_buf *s, const uint8_t *id, size_t n, int64_t last, uint32_t count, int *taken) {
  if (s->len == 0) { /* room for the header is reserved too */
    memset(s->data, 0, HDR);
    s->data[0] = TAG;
    s->len = HDR;
    s->data[s->len] = 0;
  }
  uint8_t *b = (uint8_t *)s->data;
  size_t k = get32(b + 2);
  int found;
  size_t pos = find(b, k, id, n, &found);
  if (found) {
    uint8_t *r = b + HDR + OFF * k + get32(b + HDR + OFF * pos);
    if (last > get64(r)) put64(r, last);
    put32(r + 8, uadd(get32(r + 8), count));
    *taken = 1;
    return;
  }
  size_t rs = FIX + n;
  if (k + 1 > PX_AGG_MAX_ENTRIES || s->len + OFF + rs > PX_AGG_MAX_ENTRY_BYTES) {
    b[1] |= CAPPED;
    if (!make_room(s, last, rs)) return;
    b = (uint8_t *)s->data;
    pos = find(b, get32(b + 2), id, n, &found);
  }
  insert_at(s, pos, id, n, last, count);
  *taken = 1;
}

/* ---- reading an event ---- */

/* An item id read from an event: p (n bytes), or with p NULL the number's
 * text in num. */
typedef struct id_ref {
  const uint8_t *p;
  size_t n;
  char num[40];
} id_ref;

static const uint8_t *ref_bytes(const id_ref *r) { return r->p ? r->p : (const uint8_t *)r->num; }

static int ref_cmp(const void *x, const void *y) {
  const id_ref *a = x, *b = y;
  return id_cmp(ref_bytes(a), a->n, ref_bytes(b), b->n);
}

/* A string as it is (1 to PX_AGG_VALUE_MAX bytes), a finite number as its
 * text (an integer below 2^53 without a fraction: 85123 is "85123"); 0 for
 * anything else. */
static int id_of(const cJSON *v, id_ref *out) {
  if (cJSON_IsString(v) && v->valuestring) {
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > PX_AGG_VALUE_MAX) return 0;
    out->p = (const uint8_t *)v->valuestring;
    out->n = n;
    return 1;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
  double x = v->valuedouble;
  if (x == 0) x = 0; /* -0 is 0 */
  if (x == floor(x) && fabs(x) < 9007199254740992.0) snprintf(out->num, sizeof out->num, "%lld", (long long)x);
  else px_num_shortest(x, out->num);
  out->p = NULL;
  out->n = strlen(out->num);
  return 1;
}

#define SMALL 16 /* ids read without allocating */

/* The distinct item ids of an event (ascending) into *ids (small, or a new
 * array the caller frees when it is not small); *m their number. */
static px_status read_ids(const px_rule_agg *a, const cJSON *props, id_ref *small, id_ref **ids, size_t *m) {
  const char *path = a->property, *step = strstr(path, "[]");
  *ids = small;
  *m = 0;
  if (!step) {
    *m = (size_t)id_of(cmp_lookup(props, path, strlen(path)), small);
    return PX_OK;
  }
  if (step[2] != '.') return PX_OK; /* not a valid path (definitions are checked) */
  const cJSON *arr = cmp_lookup(props, path, (size_t)(step - path));
  const char *member = step + 3;
  size_t len = strlen(member), cnt = 0;
  if (!cJSON_IsArray(arr)) return PX_OK;
  for (const cJSON *e = arr->child; e; e = e->next) cnt++;
  if (cnt > SMALL && !(*ids = malloc(cnt * sizeof **ids))) return PX_NOMEM;
  for (const cJSON *e = arr->child; e; e = e->next)
    if (id_of(cmp_lookup(e, member, len), &(*ids)[*m])) ++*m;
  if (*m > 1) { /* an item named twice in one event counts once */
    qsort(*ids, *m, sizeof **ids, ref_cmp);
    size_t u = 1;
    for (size_t i = 1; i < *m; i++)
      if (ref_cmp(&(*ids)[u - 1], &(*ids)[i]) != 0) (*ids)[u++] = (*ids)[i];
    *m = u;
  }
  return PX_OK;
}

/* ---- the API (dispatched to by agg.c) ---- */

px_status cmp_items_observe(const px_rule_agg *a, px_buf *state, const char *event, int64_t ts,
                            const cJSON *properties, int *changed) {
  size_t k;
  if (!shape(state->data, state->len, &k)) return PX_STORE;
  id_ref small[SMALL], *ids;
  size_t m;
  px_status st = read_ids(a, properties, small, &ids, &m);
  if (st != PX_OK || m == 0) goto out;
  if (a->where) {
    int ok = 0;
    st = px_rule_eval_event(a->where, event, properties, &ok);
    if (st != PX_OK || !ok) goto out;
  }
  /* Room for every new item at once, so that nothing fails half-way; the
   * state never grows past the byte cap. */
  size_t grow = state->len ? 0 : HDR;
  for (size_t i = 0; i < m; i++) grow += OFF + FIX + ids[i].n;
  if (grow > PX_AGG_MAX_ENTRY_BYTES - state->len) grow = PX_AGG_MAX_ENTRY_BYTES - state->len;
  if ((st = px_buf_reserve(state, grow)) != PX_OK) goto out;
  uint8_t flags = state->len ? (uint8_t)state->data[1] : 0;
  int taken = 0;
  for (size_t i = 0; i < m; i++) add(state, ref_bytes(&ids[i]), ids[i].n, ts, 1, &taken);
  if (changed)
    *changed = (taken ? PX_AGG_TAKEN | PX_AGG_REWRITTEN : 0) | ((uint8_t)state->data[1] != flags ? PX_AGG_REWRITTEN : 0);
out:
  if (ids != small) free(ids);
  return st;
}

/* One item of a merge: from either side, with both sides' figures. */
typedef struct mitem {
  const uint8_t *id;
  size_t n;
  int64_t last;
  uint32_t count;
} mitem;

typedef struct age {
  int64_t last;
  size_t i;
} age;

static int by_age(const void *x, const void *y) {
  const age *a = x, *b = y;
  if (a->last != b->last) return a->last < b->last ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

/* Leaves out of m (k items, *bytes in all) the oldest until within the
 * caps (earliest last_ms, among equals the first by id, as observe does);
 * they get n = 0. */
static px_status apply_cap(mitem *m, size_t k, size_t *bytes) {
  age *o = malloc(k * sizeof *o);
  if (!o) return PX_NOMEM;
  for (size_t i = 0; i < k; i++) o[i] = (age){m[i].last, i};
  qsort(o, k, sizeof *o, by_age);
  for (size_t j = 0, left = k; left > PX_AGG_MAX_ENTRIES || *bytes > PX_AGG_MAX_ENTRY_BYTES; j++, left--) {
    *bytes -= OFF + FIX + m[o[j].i].n;
    m[o[j].i].n = 0;
  }
  free(o);
  return PX_OK;
}

px_status cmp_items_merge(px_buf *into, const void *other, size_t n) {
  size_t ka, kb;
  if (!valid(into->data, into->len, &ka) || !valid(other, n, &kb)) return PX_STORE;
  if (kb == 0) return PX_OK;
  if (ka == 0) { /* into is empty: other as it is */
    px_status st = px_buf_reserve(into, n);
    return st == PX_OK ? px_buf_append(into, other, n) : st;
  }
  const uint8_t *A = (const uint8_t *)into->data, *B = other;
  mitem *m = malloc((ka + kb) * sizeof *m);
  if (!m) return PX_NOMEM;
  size_t i = 0, j = 0, k = 0, bytes = HDR;
  while (i < ka || j < kb) {
    const uint8_t *ra = i < ka ? rec_of(A, ka, i) : NULL, *rb = j < kb ? rec_of(B, kb, j) : NULL;
    int c = !ra ? 1 : !rb ? -1 : rec_cmp(ra, rb);
    const uint8_t *r = c <= 0 ? ra : rb;
    mitem x = {r + FIX, id_len(r), get64(r), get32(r + 8)};
    if (c == 0) {
      int64_t lb = get64(rb);
      if (lb > x.last) x.last = lb;
      x.count = uadd(x.count, get32(rb + 8));
    }
    i += c <= 0, j += c >= 0;
    m[k++] = x;
    bytes += OFF + FIX + x.n;
  }
  uint8_t flags = (A[1] | B[1]) & CAPPED;
  px_status st = PX_OK;
  if (k > PX_AGG_MAX_ENTRIES || bytes > PX_AGG_MAX_ENTRY_BYTES) {
    flags |= CAPPED;
    st = apply_cap(m, k, &bytes);
  }
  px_buf out;
  px_buf_init(&out, into->max == SIZE_MAX ? 0 : into->max);
  if (st == PX_OK) st = px_buf_reserve(&out, bytes);
  if (st == PX_OK) {
    uint8_t *b = (uint8_t *)out.data;
    size_t kept = 0, pos = 0;
    for (size_t x = 0; x < k; x++) kept += m[x].n != 0;
    b[0] = TAG, b[1] = flags;
    put32(b + 2, (uint32_t)kept);
    uint8_t *ix = b + HDR, *recs = b + HDR + OFF * kept;
    for (size_t x = 0; x < k; x++) {
      if (!m[x].n) continue;
      put32(ix, (uint32_t)pos);
      ix += OFF;
      uint8_t *r = recs + pos;
      put64(r, m[x].last);
      put32(r + 8, m[x].count);
      r[12] = (uint8_t)(m[x].n - 1);
      memcpy(r + FIX, m[x].id, m[x].n);
      pos += FIX + m[x].n;
    }
    out.len = bytes;
    out.data[out.len] = 0;
    px_buf_free(into);
    *into = out;
  } else {
    px_buf_free(&out);
  }
  free(m);
  return st;
}

/* The value: the number of items (future-dated ones included: an item is
 * named, whenever it was); it never changes with time alone. */
px_status cmp_items_value(const void *state, size_t n, px_rule_value *out, int64_t *until) {
  size_t k;
  if (!shape(state, n, &k)) return PX_STORE;
  out->type = PX_RV_NUM;
  out->n = (double)k;
  if (until) *until = INT64_MAX;
  return PX_OK;
}

px_status cmp_items_check(const void *state, size_t n) {
  size_t k;
  return valid(state, n, &k) ? PX_OK : PX_STORE;
}

/* ---- readers of the raw state ---- */

px_status px_agg_items_count(const void *state, size_t n, size_t *items, int *capped) {
  size_t k;
  if (!valid(state, n, &k)) return PX_STORE;
  *items = k;
  if (capped) *capped = n && (((const uint8_t *)state)[1] & CAPPED);
  return PX_OK;
}

/* Record i's start and size, if it lies within the area's bytes. */
static int rec_in(const uint8_t *b, size_t k, size_t area, size_t i, size_t *at, size_t *sz) {
  *at = get32(b + HDR + OFF * i);
  if (*at > area || area - *at < FIX) return 0;
  *sz = rec_size(recs_of(b, k) + *at);
  return area - *at >= *sz;
}

px_status px_agg_items_next(const void *state, size_t n, size_t *pos, px_agg_item *out) {
  const uint8_t *b = state;
  size_t k, i = *pos, at, sz, pat, psz;
  if (n == 0) return PX_NOT_FOUND;
  if (!header(b, n, &k)) return PX_STORE;
  size_t area = n - HDR - OFF * k;
  const uint8_t *recs = recs_of(b, k);
  if (i >= k) { /* the end: the last record must end the state */
    if (i == k && (!rec_in(b, k, area, k - 1, &pat, &psz) || pat + psz != area)) return PX_STORE;
    return PX_NOT_FOUND;
  }
  if (!rec_in(b, k, area, i, &at, &sz) || get32(recs + at + 8) == 0) return PX_STORE;
  if (i == 0 ? at != 0
             : !rec_in(b, k, area, i - 1, &pat, &psz) || pat + psz != at || rec_cmp(recs + pat, recs + at) >= 0)
    return PX_STORE;
  const uint8_t *r = recs + at;
  out->id = (const char *)r + FIX;
  out->n = id_len(r);
  out->last_ms = get64(r);
  out->count = get32(r + 8);
  *pos = i + 1;
  return PX_OK;
}
