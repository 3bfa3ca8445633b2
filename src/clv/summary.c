/* The BTYD summary step: see summary.h. Purchases are kept per customer
 * (a hash from id to index), then each customer's days are sorted and
 * folded. */
#include "clv/summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/timeutil.h"

typedef px_clv_purchase purchase;

typedef struct cust {
  char *id;
  purchase *p;
  size_t n, cap;
} cust;

struct px_clv_summary {
  int64_t end_day;
  double unit;
  cust *c;
  size_t n, cap;
  size_t *slot; /* open addressing: customer index + 1, 0 empty */
  size_t mask;
  px_btyd_customer *out;
  const char **ids;
  size_t *src; /* out[k] is customer c[src[k]] */
  size_t built; /* customers in out; 0 after an add */
};

px_clv_summary *px_clv_summary_new(int64_t calibration_end_day, double unit_days) {
  if (!(unit_days > 0)) return NULL;
  px_clv_summary *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->end_day = calibration_end_day;
  s->unit = unit_days;
  return s;
}

void px_clv_summary_free(px_clv_summary *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->c[i].id);
    free(s->c[i].p);
  }
  free(s->c);
  free(s->slot);
  free(s->out);
  free(s->ids);
  free(s->src);
  free(s);
}

static size_t home(const px_clv_summary *s, const char *id, size_t n) { return (size_t)XXH3_64bits(id, n) & s->mask; }

static px_status grow_slots(px_clv_summary *s) {
  size_t cap = s->slot ? 2 * (s->mask + 1) : 1024;
  size_t *slot = calloc(cap, sizeof *slot);
  if (!slot) return PX_NOMEM;
  free(s->slot);
  s->slot = slot;
  s->mask = cap - 1;
  for (size_t i = 0; i < s->n; i++) {
    size_t h = home(s, s->c[i].id, strlen(s->c[i].id));
    while (s->slot[h]) h = (h + 1) & s->mask;
    s->slot[h] = i + 1;
  }
  return PX_OK;
}

/* The customer named by id (created when new). */
static cust *find(px_clv_summary *s, const char *id, size_t n, px_status *st) {
  if ((!s->slot || 2 * (s->n + 1) > s->mask + 1) && (*st = grow_slots(s)) != PX_OK) return NULL;
  size_t h = home(s, id, n);
  for (; s->slot[h]; h = (h + 1) & s->mask) {
    cust *c = &s->c[s->slot[h] - 1];
    if (strlen(c->id) == n && memcmp(c->id, id, n) == 0) return c;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    cust *nc = realloc(s->c, cap * sizeof *nc);
    if (!nc) return *st = PX_NOMEM, NULL;
    s->c = nc;
    s->cap = cap;
  }
  cust *c = &s->c[s->n];
  memset(c, 0, sizeof *c);
  if (!(c->id = malloc(n + 1))) return *st = PX_NOMEM, NULL;
  memcpy(c->id, id, n);
  c->id[n] = 0;
  s->slot[h] = ++s->n;
  return c;
}

px_status px_clv_summary_add(px_clv_summary *s, const char *customer, size_t n, int64_t day, double amount) {
  if (!n || memchr(customer, 0, n) || !isfinite(amount)) return PX_INVALID; /* ids are C strings */
  px_status st = PX_OK;
  cust *c = find(s, customer, n, &st);
  if (!c) return st;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 4;
    purchase *p = realloc(c->p, cap * sizeof *p);
    if (!p) return PX_NOMEM;
    c->p = p;
    c->cap = cap;
  }
  c->p[c->n++] = (purchase){day, amount};
  s->built = 0; /* the days may no longer be sorted */
  return PX_OK;
}

static int by_day(const void *a, const void *b) {
  int64_t x = ((const purchase *)a)->day, y = ((const purchase *)b)->day;
  return x < y ? -1 : x > y;
}

int px_clv_customer_of(const px_clv_purchase *p, size_t n, int64_t end_day, double unit_days, px_btyd_customer *out) {
  if (!n || p[0].day > end_day) return 0;
  int64_t first = p[0].day, last = first;
  double x = 0, spend = 0;
  for (size_t j = 0; j < n && p[j].day <= end_day;) { /* a day's purchases are one */
    int64_t d = p[j].day;
    double amount = 0;
    for (; j < n && p[j].day == d; j++) amount += p[j].amount;
    if (d == first) continue; /* the first purchase is not a repeat */
    x++;
    spend += amount;
    last = d;
  }
  *out = (px_btyd_customer){x, (double)(last - first) / unit_days, (double)(end_day - first) / unit_days,
                            x > 0 ? spend / x : 0};
  return 1;
}

px_status px_clv_summary_build(px_clv_summary *s, const px_btyd_customer **out, const char *const **ids,
                               size_t *n) {
  free(s->out);
  free(s->ids);
  free(s->src);
  s->out = malloc((s->n ? s->n : 1) * sizeof *s->out);
  s->ids = malloc((s->n ? s->n : 1) * sizeof *s->ids);
  s->src = malloc((s->n ? s->n : 1) * sizeof *s->src);
  s->built = 0;
  if (!s->out || !s->ids || !s->src) return PX_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < s->n; i++) {
    cust *c = &s->c[i];
    qsort(c->p, c->n, sizeof *c->p, by_day);
    if (!px_clv_customer_of(c->p, c->n, s->end_day, s->unit, &s->out[k])) continue; /* only after the period */
    s->src[k] = i;
    s->ids[k++] = c->id;
  }
  s->built = k;
  *out = s->out;
  *ids = s->ids;
  *n = k;
  return PX_OK;
}

const px_clv_purchase *px_clv_summary_purchases(const px_clv_summary *s, size_t k, size_t *n) {
  if (k >= s->built) return NULL;
  const cust *c = &s->c[s->src[k]];
  *n = c->n;
  return c->p;
}

static int digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

px_status px_clv_parse_day(const char *s, size_t n, int64_t *day) {
  char buf[64];
  if (n == 8 && digits(s, 8)) { /* YYYYMMDD */
    snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT00:00:00Z", s, s + 4, s + 6);
  } else if (n == 10 && s[4] == '-' && s[7] == '-') {
    snprintf(buf, sizeof buf, "%.10sT00:00:00Z", s);
  } else if (n < sizeof buf) {
    memcpy(buf, s, n);
    buf[n] = 0;
  } else {
    return PX_INVALID;
  }
  int64_t ms;
  px_status st = px_time_parse_iso(buf, &ms);
  if (st != PX_OK) return st;
  *day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  return PX_OK;
}
