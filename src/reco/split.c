/* Training/test splits: see split.h. */
#include "reco/split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "reco/basket.h"
#include "reco/input.h"

static px_status parse_fraction(const char *s, double *f, px_error *err) {
  char *end;
  *f = strtod(s, &end);
  if (!*s || *end || !isfinite(*f) || *f <= 0 || *f >= 1)
    return px_error_set(err, PX_INVALID, "split", "the fraction must be a number between 0 and 1 (exclusive), not %.40s",
                        s);
  return PX_OK;
}

px_status px_reco_split_parse(const char *spec, px_reco_split *out, px_error *err) {
  memset(out, 0, sizeof *out);
  if (!strncmp(spec, "time:", 5)) {
    out->kind = PX_RECO_SPLIT_TIME;
    if (px_reco_parse_time(spec + 5, strlen(spec + 5), &out->time_ms) != PX_OK)
      return px_error_set(err, PX_INVALID, "split", "not a date or ISO 8601 time: %.40s", spec + 5);
    return PX_OK;
  }
  if (!strncmp(spec, "random:", 7)) {
    out->kind = PX_RECO_SPLIT_RANDOM;
    return parse_fraction(spec + 7, &out->fraction, err);
  }
  if (!strncmp(spec, "user:", 5)) {
    out->kind = PX_RECO_SPLIT_USER;
    return parse_fraction(spec + 5, &out->fraction, err);
  }
  return px_error_set(err, PX_INVALID, "split", "time:DATE, random:FRACTION or user:FRACTION, not %.40s", spec);
}

void px_reco_split_format(const px_reco_split *s, char out[64]) {
  char iso[32];
  switch (s->kind) {
    case PX_RECO_SPLIT_TIME:
      px_time_format_iso(s->time_ms, iso);
      if (s->time_ms % 86400000 == 0) iso[10] = 0; /* a date */
      snprintf(out, 64, "time:%s", iso);
      return;
    case PX_RECO_SPLIT_RANDOM: snprintf(out, 64, "random:%.6g", s->fraction); return;
    case PX_RECO_SPLIT_USER: snprintf(out, 64, "user:%.6g", s->fraction); return;
  }
  snprintf(out, 64, "none");
}

/* splitmix64: a seeded stream. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0, without modulo bias. */
static size_t below(uint64_t *s, size_t bound) {
  uint64_t b = bound, limit = -b % b; /* 2^64 mod b */
  for (;;) {
    uint64_t r = next(s);
    if (r >= limit) return (size_t)(r % b);
  }
}

/* Marks h of the n positions idx[0..n) at random: a partial Fisher-Yates
 * shuffle, the first h afterwards are the chosen. */
static void choose(uint64_t *rng, size_t *idx, size_t n, size_t h, uint8_t *flag) {
  for (size_t k = 0; k < h; k++) {
    size_t j = k + below(rng, n - k);
    size_t t = idx[k];
    idx[k] = idx[j];
    idx[j] = t;
    flag[idx[k]] = 1;
  }
}

px_status px_reco_split_apply(const px_reco_interaction *x, size_t n, uint32_t n_users, uint32_t n_items,
                              const px_reco_split *s, uint64_t seed, uint8_t *part) {
  if (s->kind == PX_RECO_SPLIT_TIME) {
    for (size_t i = 0; i < n; i++) {
      if (x[i].time_ms == PX_RECO_NO_TIME) return PX_INVALID;
      part[i] = x[i].time_ms >= s->time_ms;
    }
    return PX_OK;
  }
  if ((s->kind != PX_RECO_SPLIT_RANDOM && s->kind != PX_RECO_SPLIT_USER) || !(s->fraction > 0 && s->fraction < 1))
    return PX_INVALID;
  px_reco_baskets *b;
  px_status st = px_reco_baskets_build(x, n, NULL, 0, n_users, n_items, NULL, &b);
  if (st != PX_OK) return st;
  size_t pairs = b->start[n_users];
  uint8_t *flag = calloc(pairs ? pairs : 1, 1);
  size_t *idx = malloc((pairs ? pairs : 1) * sizeof *idx);
  if (!flag || !idx) {
    st = PX_NOMEM;
    goto out;
  }
  uint64_t rng = seed;
  if (s->kind == PX_RECO_SPLIT_RANDOM) {
    for (size_t p = 0; p < pairs; p++) idx[p] = p;
    choose(&rng, idx, pairs, (size_t)floor(s->fraction * (double)pairs + 0.5), flag);
  } else {
    for (uint32_t u = 0; u < n_users; u++) {
      size_t from = b->start[u], nu = b->start[u + 1] - from;
      if (nu < 2) continue;
      size_t h = (size_t)floor(s->fraction * (double)nu + 0.5);
      if (h > nu - 1) h = nu - 1;
      for (size_t k = 0; k < nu; k++) idx[k] = from + k;
      choose(&rng, idx, nu, h, flag);
    }
  }
  for (size_t i = 0; i < n; i++) part[i] = flag[px_reco_baskets_find(b, x[i].user, x[i].item)];
out:
  free(flag);
  free(idx);
  px_reco_baskets_free(b);
  return st;
}
