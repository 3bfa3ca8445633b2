/* Purchase days (PX_AGG_DAILY): per UTC day on which matching events
 * happened, how many there were, how many had no numeric property, and the
 * property's sum. What a BTYD summary needs of a customer's purchases
 * (same-day purchases combined), kept as events arrive so that the CLV
 * refresh reads one state per profile instead of every purchase event.
 * Layout: 'Y', the number of days n (u32), then n entries of day (i32),
 * events (u32), without the property (u32), sum (f64), little-endian,
 * ascending by day. At most PX_AGG_MAX_ENTRIES days: an event on a further
 * new day is not kept (flagged: byte 1 of the header's count's high bit).
 * See docs/internals/compute.md. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/timeutil.h"
#include "compute/compute_int.h"

#define TAG 'Y'
#define HDR 5
#define ENT 20
#define DAY_MS 86400000LL
#define FULL 0x80000000u /* in the count: a day was left out at the cap */

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static double getf(const uint8_t *p) {
  uint64_t b = 0;
  for (int i = 7; i >= 0; i--) b = b << 8 | p[i];
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static void putf(uint8_t *p, double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(b >> (8 * i));
}

static size_t count_of(const uint8_t *b) { return get32(b + 1) & ~FULL; }

static int valid(const void *p, size_t n) {
  const uint8_t *b = p;
  if (n == 0) return 1;
  if (n < HDR || b[0] != TAG || n != HDR + count_of(b) * ENT || count_of(b) > PX_AGG_MAX_ENTRIES) return 0;
  for (size_t i = 0; i < count_of(b); i++) {
    const uint8_t *e = b + HDR + i * ENT;
    if (i && (int32_t)get32(e) <= (int32_t)get32(e - ENT)) return 0;
    if (!isfinite(getf(e + 12))) return 0;
  }
  return 1;
}

px_status px_agg_daily_count(const void *state, size_t n, size_t *days, int *capped) {
  if (!valid(state, n)) return PX_STORE;
  *days = n ? count_of(state) : 0;
  if (capped) *capped = n && (get32((const uint8_t *)state + 1) & FULL);
  return PX_OK;
}

px_status px_agg_daily_day(const void *state, size_t n, size_t i, px_agg_day *out) {
  if (!valid(state, n) || n == 0 || i >= count_of(state)) return PX_STORE;
  const uint8_t *e = (const uint8_t *)state + HDR + i * ENT;
  out->day = (int32_t)get32(e);
  out->events = get32(e + 4);
  out->without = get32(e + 8);
  out->sum = getf(e + 12);
  return PX_OK;
}

/* Sums that stay finite (as the state must), and counts that stay put at
 * their top. */
static double finite_sum(double a, double b) {
  double r = a + b;
  return isinf(r) ? copysign(DBL_MAX, r) : r;
}

static uint32_t uadd(uint32_t a, uint32_t b) { return a > UINT32_MAX - b ? UINT32_MAX : a + b; }

/* Adds (events, without, sum) to day d of the state in place or as a new
 * entry; *added says a new day. */
static px_status add(px_buf *state, int32_t d, uint32_t events, uint32_t without, double sum, int *added) {
  *added = 0;
  if (state->len == 0) {
    uint8_t h[HDR] = {TAG, 0, 0, 0, 0};
    px_status st = px_buf_append(state, h, HDR);
    if (st != PX_OK) return st;
  }
  uint8_t *b = (uint8_t *)state->data;
  size_t n = count_of(b), lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if ((int32_t)get32(b + HDR + mid * ENT) < d) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n && (int32_t)get32(b + HDR + lo * ENT) == d) {
    uint8_t *e = b + HDR + lo * ENT;
    put32(e + 4, uadd(get32(e + 4), events));
    put32(e + 8, uadd(get32(e + 8), without));
    putf(e + 12, finite_sum(getf(e + 12), sum));
    return PX_OK;
  }
  if (n == PX_AGG_MAX_ENTRIES) {
    put32(b + 1, get32(b + 1) | FULL);
    return PX_OK;
  }
  uint8_t e[ENT];
  put32(e, (uint32_t)d);
  put32(e + 4, events);
  put32(e + 8, without);
  putf(e + 12, sum);
  px_status st = px_buf_append(state, e, ENT); /* grows the buffer; then shift into place */
  if (st != PX_OK) return st;
  b = (uint8_t *)state->data;
  memmove(b + HDR + (lo + 1) * ENT, b + HDR + lo * ENT, (n - lo) * ENT);
  memcpy(b + HDR + lo * ENT, e, ENT);
  put32(b + 1, (get32(b + 1) & FULL) | (uint32_t)(n + 1));
  *added = 1;
  return PX_OK;
}

px_status cmp_daily_observe(px_buf *state, int64_t ts, int have, double amount, int *changed) {
  if (!valid(state->data, state->len)) return PX_STORE;
  int added;
  px_status st = add(state, (int32_t)px_time_day(ts), 1, have ? 0 : 1, have ? amount : 0, &added);
  if (st == PX_OK && changed) *changed = PX_AGG_TAKEN | PX_AGG_REWRITTEN;
  return st;
}

px_status cmp_daily_merge(px_buf *into, const void *other, size_t n) {
  if (!valid(into->data, into->len) || !valid(other, n)) return PX_STORE;
  const uint8_t *o = other;
  for (size_t i = 0; n && i < count_of(o); i++) {
    const uint8_t *e = o + HDR + i * ENT;
    int added;
    px_status st = add(into, (int32_t)get32(e), get32(e + 4), get32(e + 8), getf(e + 12), &added);
    if (st != PX_OK) return st;
  }
  if (n && (get32(o + 1) & FULL) && into->len) put32((uint8_t *)into->data + 1, get32((uint8_t *)into->data + 1) | FULL);
  return PX_OK;
}

/* The value: the number of days up to now's day; it changes when a
 * future-dated day comes due. */
px_status cmp_daily_value(const void *state, size_t n, int64_t now, px_rule_value *out, int64_t *until) {
  if (!valid(state, n)) return PX_STORE;
  int64_t today = px_time_day(now), next = INT64_MAX;
  size_t k = 0;
  for (size_t i = 0; n && i < count_of(state); i++) {
    int32_t d = (int32_t)get32((const uint8_t *)state + HDR + i * ENT);
    if (d <= today) k++;
    else if (next == INT64_MAX) next = (int64_t)d * DAY_MS;
  }
  out->type = PX_RV_NUM;
  out->n = (double)k;
  if (until) *until = next;
  return PX_OK;
}

px_status cmp_daily_check(const void *state, size_t n) { return valid(state, n) ? PX_OK : PX_STORE; }
