/* The byte encoding of an aggregation's state: versioned, varints, decoded
 * defensively (any malformed input is PX_STORE, never a crash or a large
 * allocation). Layout: docs/internals/compute.md. */
#include <stdlib.h>
#include <string.h>

#include "compute/compute_int.h"

int cmp_uses_num(px_agg_fn fn) {
  return fn == PX_AGG_SUM || fn == PX_AGG_AVG || fn == PX_AGG_MIN || fn == PX_AGG_MAX;
}

int cmp_uses_val(const px_rule_agg *a) {
  if (a->fn == PX_AGG_DISTINCT || a->fn == PX_AGG_MOST_FREQUENT) return 1;
  return (a->fn == PX_AGG_FIRST || a->fn == PX_AGG_LAST) && a->property[0];
}

int cmp_slice_cmp(cmp_slice a, cmp_slice b) {
  uint32_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  if (c) return c;
  return (a.n > b.n) - (a.n < b.n);
}

void cmp_state_init(cmp_state *s, px_agg_fn fn, int windowed) {
  memset(s, 0, offsetof(cmp_state, vals_small));
  s->fn = (uint8_t)fn;
  s->flags = windowed ? CMP_WINDOWED : 0;
  s->vals = s->vals_small;
  s->capvals = sizeof s->vals_small / sizeof s->vals_small[0];
  s->ents = s->ents_small;
  s->capents = sizeof s->ents_small / sizeof s->ents_small[0];
}

void cmp_state_free(cmp_state *s) {
  if (s->vals != s->vals_small) free(s->vals);
  if (s->ents != s->ents_small) free(s->ents);
  s->vals = s->vals_small;
  s->ents = s->ents_small;
}

static px_status grow(void **arr, void *small, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return PX_OK;
  size_t c = *cap * 2;
  if (c < need) c = need;
  void *p = *arr == small ? malloc(c * size) : realloc(*arr, c * size);
  if (!p) return PX_NOMEM;
  if (*arr == small) memcpy(p, small, *cap * size);
  *arr = p;
  *cap = c;
  return PX_OK;
}

px_status cmp_ents_grow(cmp_state *s, size_t more) {
  return grow((void **)&s->ents, s->ents_small, &s->capents, s->nents + more, sizeof *s->ents);
}

px_status cmp_vals_grow(cmp_state *s, size_t more) {
  return grow((void **)&s->vals, s->vals_small, &s->capvals, s->nvals + more, sizeof *s->vals);
}

size_t cmp_entry_size(const cmp_state *s, const cmp_entry *e) {
  size_t n = 20; /* ts and seq varints at most */
  if (cmp_uses_num((px_agg_fn)s->fn)) n += 8;
  if (e->val.p) n += 2 + e->val.n;
  return n;
}

/* ---- decoding ---- */

typedef struct rd {
  const uint8_t *p, *end;
} rd;

static int get_u8(rd *r, uint8_t *v) {
  if (r->p >= r->end) return 0;
  *v = *r->p++;
  return 1;
}

static int get_varint(rd *r, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return 0;
    uint8_t b = *r->p++;
    if (shift == 63 && b > 1) return 0;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 1;
    }
  }
  return 0;
}

static int get_zigzag(rd *r, int64_t *v) {
  uint64_t u;
  if (!get_varint(r, &u)) return 0;
  *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
  return 1;
}

static int get_f64(rd *r, double *v) {
  if (r->end - r->p < 8) return 0;
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = u << 8 | r->p[i];
  r->p += 8;
  memcpy(v, &u, 8);
  return 1;
}

/* A stored value: length, tag and bytes. */
static int get_value(rd *r, cmp_slice *v) {
  uint64_t n;
  if (!get_varint(r, &n) || n < 1 || n > PX_AGG_VALUE_MAX || (uint64_t)(r->end - r->p) < n) return 0;
  uint8_t tag = r->p[0];
  if (tag == 'f' || tag == 't') {
    if (n != 1) return 0;
  } else if (tag == 'n') {
    if (n < 2) return 0;
  } else if (tag != 's') {
    return 0;
  }
  v->p = r->p;
  v->n = (uint32_t)n;
  r->p += n;
  return 1;
}

static px_status decode_alltime(const px_rule_agg *a, rd *r, cmp_state *s) {
  uint64_t k;
  switch (a->fn) {
    case PX_AGG_DECAY:
    case PX_AGG_DAILY:
    case PX_AGG_ITEMS: return PX_STORE; /* not this codec's (decay.c, daily.c, items.c) */
    case PX_AGG_COUNT:
      if (!get_varint(r, &s->n)) return PX_STORE;
      return PX_OK;
    case PX_AGG_SUM:
    case PX_AGG_AVG:
      if (!get_varint(r, &s->n) || !get_f64(r, &s->x)) return PX_STORE;
      return PX_OK;
    case PX_AGG_MIN:
    case PX_AGG_MAX:
      if (!get_varint(r, &s->n)) return PX_STORE;
      if (s->n && !get_f64(r, &s->x)) return PX_STORE;
      return PX_OK;
    case PX_AGG_FIRST:
    case PX_AGG_LAST:
      if (!get_varint(r, &s->n) || s->n > 1) return PX_STORE;
      if (!s->n) return PX_OK;
      if (!get_zigzag(r, &s->ts) || !get_varint(r, &s->seq)) return PX_STORE;
      if (cmp_uses_val(a) && !get_value(r, &s->val)) return PX_STORE;
      return PX_OK;
    case PX_AGG_DISTINCT:
    case PX_AGG_MOST_FREQUENT:
      if (!get_varint(r, &k) || k > PX_AGG_MAX_VALUES || k > (uint64_t)(r->end - r->p)) return PX_STORE;
      if (cmp_vals_grow(s, (size_t)k) != PX_OK) return PX_NOMEM;
      for (size_t i = 0; i < k; i++) {
        cmp_value *v = &s->vals[i];
        memset(v, 0, sizeof *v);
        if (!get_value(r, &v->val)) return PX_STORE;
        if (i && cmp_slice_cmp(s->vals[i - 1].val, v->val) >= 0) return PX_STORE;
        if (a->fn == PX_AGG_MOST_FREQUENT &&
            (!get_varint(r, &v->count) || !v->count || !get_zigzag(r, &v->ts) || !get_varint(r, &v->seq)))
          return PX_STORE;
        s->nvals = i + 1;
      }
      return PX_OK;
  }
  return PX_STORE;
}

px_status cmp_decode(const px_rule_agg *a, const void *p, size_t n, cmp_state *s) {
  int windowed = a->window_ms > 0;
  cmp_state_init(s, a->fn, windowed);
  if (n == 0) return PX_OK;
  rd r = {p, (const uint8_t *)p + n};
  uint8_t ver, fn, flags;
  if (!get_u8(&r, &ver) || ver != PX_AGG_STATE_VERSION || !get_u8(&r, &fn) || fn != (uint8_t)a->fn ||
      !get_u8(&r, &flags) || (flags & ~(CMP_WINDOWED | CMP_APPROXIMATE)) ||
      !!(flags & CMP_WINDOWED) != windowed)
    return PX_STORE;
  s->flags = flags;
  px_status st = PX_OK;
  if (!windowed && (st = decode_alltime(a, &r, s)) != PX_OK) return st;
  uint64_t m;
  if (!get_varint(&r, &m) || m > PX_AGG_MAX_ENTRIES || m > (uint64_t)(r.end - r.p) / 2) return PX_STORE;
  if (cmp_ents_grow(s, (size_t)m) != PX_OK) return PX_NOMEM;
  int num = cmp_uses_num(a->fn), val = cmp_uses_val(a);
  for (size_t i = 0; i < m; i++) {
    cmp_entry *e = &s->ents[i];
    memset(e, 0, sizeof *e);
    if (i == 0) {
      if (!get_zigzag(&r, &e->ts)) return PX_STORE;
    } else {
      uint64_t d;
      int64_t prev = s->ents[i - 1].ts;
      /* room up to INT64_MAX, computed modulo 2^64 (exact for any prev) */
      if (!get_varint(&r, &d) || d > (uint64_t)INT64_MAX - (uint64_t)prev) return PX_STORE;
      e->ts = (int64_t)((uint64_t)prev + d);
    }
    if (!get_varint(&r, &e->seq)) return PX_STORE;
    if (num && !get_f64(&r, &e->num)) return PX_STORE;
    if (val && !get_value(&r, &e->val)) return PX_STORE;
    if (i && cmp_time_cmp(s->ents[i - 1].ts, s->ents[i - 1].seq, e->ts, e->seq) >= 0) return PX_STORE;
    s->nents = i + 1;
    s->ent_bytes += cmp_entry_size(s, e);
  }
  if (s->ent_bytes > PX_AGG_MAX_ENTRY_BYTES || r.p != r.end) return PX_STORE;
  return PX_OK;
}

/* ---- encoding ---- */

/* Writes go to a cursor into room reserved up front (sizes bounded below). */
static uint8_t *put_varint(uint8_t *o, uint64_t v) {
  while (v >= 0x80) *o++ = (uint8_t)(v | 0x80), v >>= 7;
  *o++ = (uint8_t)v;
  return o;
}

static uint8_t *put_zigzag(uint8_t *o, int64_t v) { return put_varint(o, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

static uint8_t *put_f64(uint8_t *o, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  for (int i = 0; i < 8; i++) *o++ = (uint8_t)(u >> (8 * i));
  return o;
}

static uint8_t *put_value(uint8_t *o, cmp_slice v) {
  o = put_varint(o, v.n);
  memcpy(o, v.p, v.n);
  return o + v.n;
}

static int is_empty(const cmp_state *s) {
  return s->n == 0 && s->nvals == 0 && s->nents == 0;
}

size_t cmp_encode_bound(const cmp_state *s) {
  if (is_empty(s)) return 0; /* no events: the empty state */
  /* Header and all-time part, values, entries (ent_bytes counts each
   * entry's worst case). */
  size_t bound = 3 + 10 + 8 + 10 + 10 + 2 + PX_AGG_VALUE_MAX + 10 + 10 + s->ent_bytes;
  for (size_t i = 0; i < s->nvals; i++) bound += 2 + s->vals[i].val.n + 30;
  return bound;
}

size_t cmp_encode(const cmp_state *s, uint8_t *out) {
  if (is_empty(s)) return 0;
  uint8_t *o = out;
  *o++ = PX_AGG_STATE_VERSION, *o++ = s->fn, *o++ = s->flags;
  int num = cmp_uses_num((px_agg_fn)s->fn);
  if (!(s->flags & CMP_WINDOWED)) {
    switch ((px_agg_fn)s->fn) {
      case PX_AGG_DECAY:
      case PX_AGG_DAILY:
      case PX_AGG_ITEMS: break; /* not this codec's (decay.c, daily.c, items.c) */
      case PX_AGG_COUNT: o = put_varint(o, s->n); break;
      case PX_AGG_SUM:
      case PX_AGG_AVG: o = put_f64(put_varint(o, s->n), s->x); break;
      case PX_AGG_MIN:
      case PX_AGG_MAX:
        o = put_varint(o, s->n);
        if (s->n) o = put_f64(o, s->x);
        break;
      case PX_AGG_FIRST:
      case PX_AGG_LAST:
        o = put_varint(o, s->n);
        if (s->n) {
          o = put_varint(put_zigzag(o, s->ts), s->seq);
          if (s->val.p) o = put_value(o, s->val);
        }
        break;
      case PX_AGG_DISTINCT:
      case PX_AGG_MOST_FREQUENT:
        o = put_varint(o, s->nvals);
        for (size_t i = 0; i < s->nvals; i++) {
          o = put_value(o, s->vals[i].val);
          if (s->fn == PX_AGG_MOST_FREQUENT)
            o = put_varint(put_zigzag(put_varint(o, s->vals[i].count), s->vals[i].ts), s->vals[i].seq);
        }
        break;
    }
  }
  o = put_varint(o, s->nents);
  for (size_t i = 0; i < s->nents; i++) {
    const cmp_entry *e = &s->ents[i];
    o = i == 0 ? put_zigzag(o, e->ts) : put_varint(o, (uint64_t)e->ts - (uint64_t)s->ents[i - 1].ts);
    o = put_varint(o, e->seq);
    if (num) o = put_f64(o, e->num);
    if (e->val.p) o = put_value(o, e->val);
  }
  return (size_t)(o - out);
}
