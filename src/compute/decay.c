/* Decayed scores (PX_AGG_DECAY): per term of the spec, the sum of the
 * weights of its events, each halving every half-life since the event.
 * Kept per term as (S, t, h): the sum as of time t (the latest event's, or
 * a merge's), and the half-life, so that the value at any later time is
 * sum_k S_k 2^(-(now - t_k) / h_k) without the spec (px_rule_value's
 * decay_at reads the state's bytes alone). Layout: 'D', n (u8), then n
 * terms of S (f64), t (i64), h (i64), little-endian. Events dated after
 * now count from now (a decayed score does not look ahead). See
 * docs/internals/compute.md. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "compute/compute_int.h"

#define TAG 'D'
#define HDR 2
#define TERM 24

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

typedef struct term {
  double s;
  int64_t t, h;
} term;

static term get_term(const uint8_t *p, int k) {
  const uint8_t *q = p + HDR + (size_t)k * TERM;
  term x;
  uint64_t bits = get64(q);
  memcpy(&x.s, &bits, sizeof x.s);
  x.t = (int64_t)get64(q + 8);
  x.h = (int64_t)get64(q + 16);
  return x;
}

static void put_term(uint8_t *p, int k, const term *x) {
  uint8_t *q = p + HDR + (size_t)k * TERM;
  uint64_t bits;
  memcpy(&bits, &x->s, sizeof bits);
  put64(q, bits);
  put64(q + 8, (uint64_t)x->t);
  put64(q + 16, (uint64_t)x->h);
}

/* S as of a later time t (no growth before its own time). */
static double at(const term *x, int64_t t) {
  if (x->t == INT64_MIN || t <= x->t) return x->s; /* an empty term is 0 */
  return x->s * exp2(-((double)t - (double)x->t) / (double)x->h);
}

/* A sum that stays finite, as the state must. */
static double finite_sum(double a, double b) {
  double r = a + b;
  return isinf(r) ? DBL_MAX : r;
}

static int valid(const void *p, size_t n) {
  const uint8_t *b = p;
  if (n == 0) return 1;
  if (n < HDR || b[0] != TAG || n != HDR + (size_t)b[1] * TERM) return 0;
  for (int k = 0; k < b[1]; k++) {
    term x = get_term(b, k);
    if (!(x.s >= 0 && isfinite(x.s)) || x.h <= 0) return 0;
  }
  return 1;
}

double cmp_decay_at(const void *state, int64_t t_ms) {
  const uint8_t *b = state;
  double v = 0;
  for (int k = 0; k < b[1]; k++) {
    term x = get_term(b, k);
    v = finite_sum(v, at(&x, t_ms));
  }
  return v;
}

/* A state of the spec's shape: n empty terms with their half-lives. */
static px_status blank(const px_decay_spec *d, px_buf *state) {
  uint8_t b[HDR + PX_DECAY_MAX_TERMS * TERM];
  b[0] = TAG;
  b[1] = (uint8_t)d->n;
  for (int k = 0; k < d->n; k++) {
    term x = {0, INT64_MIN, d->t[k].half_life_ms};
    put_term(b, k, &x);
  }
  px_buf_reset(state);
  return px_buf_append(state, b, HDR + (size_t)d->n * TERM);
}

/* Whether the state's terms are the spec's (same count and half-lives). */
static int fits(const px_decay_spec *d, const void *p, size_t n) {
  const uint8_t *b = p;
  if (!valid(p, n) || n == 0 || b[1] != d->n) return 0;
  for (int k = 0; k < d->n; k++)
    if (get_term(b, k).h != d->t[k].half_life_ms) return 0;
  return 1;
}

static int term_of(const px_decay_spec *d, const char *event) {
  int any = -1;
  for (int k = 0; k < d->n; k++) {
    if (strcmp(d->t[k].event, event) == 0) return k;
    if (strcmp(d->t[k].event, "*") == 0) any = k;
  }
  return any;
}

px_status cmp_decay_observe(const px_rule_agg *a, px_buf *state, const char *event, int64_t ts, int64_t now,
                            int *changed) {
  const px_decay_spec *d = a->decay;
  if (!d || d->n < 1 || d->n > PX_DECAY_MAX_TERMS) return PX_INVALID;
  int k = term_of(d, event);
  if (k < 0) return PX_OK;
  if (state->len == 0) {
    px_status st = blank(d, state);
    if (st != PX_OK) return st;
  } else if (!fits(d, state->data, state->len)) {
    return PX_STORE;
  }
  if (ts > now) ts = now;
  term x = get_term((const uint8_t *)state->data, k);
  double w = d->t[k].weight;
  if (x.t == INT64_MIN || ts >= x.t) {
    x.s = finite_sum(at(&x, ts), w); /* x.s is 0 while the term is empty */
    x.t = ts;
  } else {
    x.s = finite_sum(x.s, w * exp2(-((double)x.t - (double)ts) / (double)x.h));
  }
  put_term((uint8_t *)state->data, k, &x);
  if (changed) *changed = PX_AGG_TAKEN | PX_AGG_REWRITTEN;
  return PX_OK;
}

px_status cmp_decay_merge(const px_rule_agg *a, px_buf *into, const void *other, size_t n) {
  if (n == 0) return into->len == 0 || fits(a->decay, into->data, into->len) ? PX_OK : PX_STORE;
  if (!fits(a->decay, other, n)) return PX_STORE;
  if (into->len == 0) {
    px_buf_reset(into);
    return px_buf_append(into, other, n);
  }
  if (!fits(a->decay, into->data, into->len)) return PX_STORE;
  for (int k = 0; k < a->decay->n; k++) {
    term x = get_term((const uint8_t *)into->data, k), y = get_term(other, k);
    if (y.t == INT64_MIN) continue;
    if (x.t == INT64_MIN) {
      x = y;
    } else {
      int64_t t = x.t > y.t ? x.t : y.t;
      x.s = finite_sum(at(&x, t), at(&y, t));
      x.t = t;
    }
    put_term((uint8_t *)into->data, k, &x);
  }
  return PX_OK;
}

static double decay_at(const void *arg, int64_t t_ms) { return cmp_decay_at(arg, t_ms); }

px_status cmp_decay_value(const void *state, size_t n, int64_t now, px_rule_value *out, int64_t *until) {
  if (!valid(state, n)) return PX_STORE;
  out->type = PX_RV_NUM;
  out->n = n ? cmp_decay_at(state, now) : 0;
  out->trend = -1;
  if (out->n > 0) {
    out->decay_at = decay_at;
    out->decay_arg = state;
  }
  if (until) *until = INT64_MAX; /* comparisons find their own flip (rule/eval.c) */
  return PX_OK;
}

px_status cmp_decay_check(const px_rule_agg *a, const void *state, size_t n) {
  return n == 0 || fits(a->decay, state, n) ? PX_OK : PX_STORE;
}
