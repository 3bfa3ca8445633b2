#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

void px_lat_add(px_lat *l, uint64_t ns) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    uint64_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) px_bench_die("out of memory for latency samples");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = ns;
}

void px_lat_merge(px_lat *dst, const px_lat *src) {
  for (size_t i = 0; i < src->n; i++) px_lat_add(dst, src->v[i]);
}

void px_lat_free(px_lat *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least pct% of samples <= it. */
static double rank_ms(const px_lat *l, double pct) {
  size_t k = (size_t)((pct / 100.0) * (double)l->n + 0.999999);
  if (k < 1) k = 1;
  if (k > l->n) k = l->n;
  return (double)l->v[k - 1] / 1e6;
}

void px_lat_summarize(px_lat *l, px_lat_summary *s) {
  memset(s, 0, sizeof *s);
  s->n = l->n;
  if (l->n == 0) return;
  qsort(l->v, l->n, sizeof *l->v, cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < l->n; i++) sum += (double)l->v[i];
  s->mean_ms = sum / (double)l->n / 1e6;
  s->p50_ms = rank_ms(l, 50);
  s->p90_ms = rank_ms(l, 90);
  s->p99_ms = rank_ms(l, 99);
  s->p999_ms = rank_ms(l, 99.9);
  s->max_ms = (double)l->v[l->n - 1] / 1e6;
}

void px_lat_print_json(FILE *f, const char *name, const px_lat_summary *s) {
  fprintf(f,
          "\"%s\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,"
          "\"p99_9\":%.4f,\"max\":%.4f}",
          name, s->n, s->mean_ms, s->p50_ms, s->p90_ms, s->p99_ms, s->p999_ms, s->max_ms);
}

void px_tally_merge(px_tally *dst, const px_tally *src) {
  for (size_t i = 0; i < sizeof dst->status / sizeof dst->status[0]; i++) dst->status[i] += src->status[i];
  for (size_t i = 0; i < PX_HTTP_NRC; i++) dst->err[i] += src->err[i];
}

uint64_t px_tally_responses(const px_tally *t) {
  uint64_t n = 0;
  for (size_t i = 0; i < sizeof t->status / sizeof t->status[0]; i++) n += t->status[i];
  return n;
}

uint64_t px_tally_errors(const px_tally *t) {
  uint64_t n = 0;
  for (size_t i = 1; i < PX_HTTP_NRC; i++) n += t->err[i];
  return n;
}

void px_tally_print_human(FILE *f, const px_tally *t) {
  int any = 0;
  for (size_t i = 0; i < sizeof t->status / sizeof t->status[0]; i++)
    if (t->status[i]) {
      fprintf(f, "%s%zu=%llu", any ? " " : "", i, (unsigned long long)t->status[i]);
      any = 1;
    }
  for (int i = 1; i < PX_HTTP_NRC; i++)
    if (t->err[i]) {
      fprintf(f, "%s%s=%llu", any ? " " : "", px_http_rc_name(i), (unsigned long long)t->err[i]);
      any = 1;
    }
  if (!any) fputs("none", f);
}

void px_tally_print_json(FILE *f, const px_tally *t) {
  fputs("\"status\":{", f);
  int any = 0;
  for (size_t i = 0; i < sizeof t->status / sizeof t->status[0]; i++)
    if (t->status[i]) {
      fprintf(f, "%s\"%zu\":%llu", any ? "," : "", i, (unsigned long long)t->status[i]);
      any = 1;
    }
  fputs("},\"errors\":{", f);
  any = 0;
  for (int i = 1; i < PX_HTTP_NRC; i++)
    if (t->err[i]) {
      fprintf(f, "%s\"%s\":%llu", any ? "," : "", px_http_rc_name(i), (unsigned long long)t->err[i]);
      any = 1;
    }
  fputs("}", f);
}
