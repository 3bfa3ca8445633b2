/* px-recs: the platform's recommendations in-process (issue 6). Opens a
 * data directory read-only (one with a recommendations definition applied,
 * e.g. by bench/run-recs.sh), trains the model from the store once
 * (px_recs_train, as `pickaxe serve` does at start), then asks for every
 * live profile's N recommendations, PASSES times over all of them, each
 * query run as the server runs one: a read transaction begun,
 * px_recs_for_profile (the customer's interaction states read, scored on
 * the model, the catalog's stock read per candidate, the answer written as
 * JSON), the transaction aborted. Each query is timed on its own
 * (CLOCK_MONOTONIC); per pass and over all passes: p50, p90, p99, p99.9 and
 * max in microseconds. --warmup passes first, not measured (the store's
 * pages in memory, as on a server that has been running).
 *
 * Profiles come in profile-id order every pass; looking a customer up by
 * reference (user_id:N) is left out, as is HTTP (px-read measures those).
 * One thread. Unlike most bench tools this one links the pickaxe library: it
 * times library functions, not the server. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "common.h"
#include "profile/profile.h"
#include "recs/recs.h"
#include "store/store.h"

typedef struct config {
  const char *data;
  int passes, warmup, json;
  size_t n;
} config;

typedef struct pids {
  uint64_t *v;
  size_t n, cap;
} pids;

typedef struct figures {
  double p50, p90, p99, p999, max, mean;
} figures;

static void usage(void) {
  fputs("usage: px-recs --data DIR [--passes 5] [--warmup 1] [--n 10] [--json]\n", stderr);
  exit(2);
}

static void parse(int argc, char **argv, config *c) {
  *c = (config){.passes = 5, .warmup = 1, .n = 10};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--data")) c->data = px_arg_value(argc, argv, &i);
    else if (!strcmp(a, "--passes")) c->passes = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 1000);
    else if (!strcmp(a, "--warmup")) c->warmup = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1000);
    else if (!strcmp(a, "--n")) c->n = (size_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, PX_RECS_MAX_N);
    else if (!strcmp(a, "--json")) c->json = 1;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else px_bench_die("unknown argument '%s' (try --help)", a);
  }
  if (!c->data) usage();
}

static int collect(void *arg, uint64_t pid, const px_profile_rec *rec) {
  (void)rec;
  pids *p = arg;
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 4096;
    if (!(p->v = realloc(p->v, p->cap * sizeof *p->v))) px_bench_die("out of memory");
  }
  p->v[p->n++] = pid;
  return 0;
}

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of n durations (ns; sorted here), in µs. */
static figures summarize(uint64_t *ns, size_t n) {
  qsort(ns, n, sizeof *ns, by_value);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)ns[i];
  figures f;
  double *at[] = {&f.p50, &f.p90, &f.p99, &f.p999};
  const double q[] = {0.50, 0.90, 0.99, 0.999};
  for (int k = 0; k < 4; k++) {
    size_t rank = (size_t)ceil(q[k] * (double)n);
    *at[k] = (double)ns[(rank ? rank : 1) - 1] / 1e3;
  }
  f.max = (double)ns[n - 1] / 1e3;
  f.mean = sum / (double)n / 1e3;
  return f;
}

/* One query as the server runs it; its duration in ns. */
static uint64_t query(px_store *st, const px_recs_model *m, px_reco_query *q, uint64_t pid, size_t n, px_buf *out) {
  px_buf_reset(out);
  uint64_t t0 = px_now_ns();
  px_txn *txn = NULL;
  px_error err;
  px_error_clear(&err);
  px_recs_opts o = {.n = n, .now_ms = px_time_now_ms()};
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s == PX_OK) s = px_recs_for_profile(m, q, txn, st, pid, &o, out, &err);
  px_store_abort(txn);
  uint64_t t1 = px_now_ns();
  if (s != PX_OK) px_bench_die("profile %016llx: %s %s", (unsigned long long)pid, px_status_str(s), err.reason);
  return t1 - t0;
}

static void print_figures(const char *name, const figures *f) {
  printf("\"%s\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p99_9\":%.2f,\"max\":%.2f,\"mean\":%.2f}", name, f->p50,
         f->p90, f->p99, f->p999, f->max, f->mean);
}

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  config c;
  parse(argc, argv, &c);
  px_store *st = NULL;
  px_store_opts so = {.read_only = 1};
  px_status s = px_store_open(c.data, &so, &st);
  if (s != PX_OK) px_bench_die("cannot open %s: %s", c.data, px_status_str(s));

  /* Training, then the profiles. */
  px_txn *txn = NULL;
  px_recs_model *m = NULL;
  pids p = {0};
  uint64_t t0 = px_now_ns();
  s = px_recs_train(st, px_time_now_ms(), &m);
  double train_wall = (double)(px_now_ns() - t0) / 1e9;
  if (s == PX_OK && (s = px_store_begin(st, PX_TXN_READ, &txn)) == PX_OK) s = px_profile_each_live(txn, st, collect, &p);
  px_store_abort(txn);
  if (s == PX_NOT_FOUND) px_bench_die("%s has no recommendations definition (pickaxe apply it first)", c.data);
  if (s != PX_OK) px_bench_die("training: %s", px_status_str(s));
  if (!p.n) px_bench_die("%s has no profiles", c.data);
  const px_recs_stats *ts = px_recs_model_stats(m);

  px_reco_query *q = NULL;
  if ((s = px_recs_query_new(m, &q)) != PX_OK) px_bench_die("query: %s", px_status_str(s));
  px_buf out;
  px_buf_init(&out, 0);
  size_t total = (size_t)c.passes * p.n, bytes = 0;
  uint64_t *all = malloc(total * sizeof *all), *pass = malloc(p.n * sizeof *pass);
  figures *per = malloc((size_t)c.passes * sizeof *per);
  if (!all || !pass || !per) px_bench_die("out of memory");
  for (int w = 0; w < c.warmup; w++)
    for (size_t i = 0; i < p.n; i++) query(st, m, q, p.v[i], c.n, &out);
  for (int r = 0; r < c.passes; r++) {
    for (size_t i = 0; i < p.n; i++) {
      all[(size_t)r * p.n + i] = pass[i] = query(st, m, q, p.v[i], c.n, &out);
      bytes += out.len;
    }
    per[r] = summarize(pass, p.n);
  }
  figures f = summarize(all, total);

  if (c.json) {
    printf("{\"tool\":\"px-recs\",\"profiles\":%zu,\"customers\":%zu,\"items\":%zu,\"pairs\":%zu,\"neighbours\":%zu,"
           "\"train_s\":%.4f,\"train_seconds\":{\"read\":%.4f,\"train\":%.4f,\"catalog\":%.4f},\"n\":%zu,"
           "\"passes\":%d,\"queries\":%zu,\"mean_bytes\":%.0f,",
           ts->profiles, ts->customers, ts->items, ts->pairs, ts->neighbours, train_wall, ts->read_s, ts->train_s,
           ts->catalog_s, c.n, c.passes, total, (double)bytes / (double)total);
    print_figures("query_us", &f);
    printf(",\"per_pass_us\":[");
    for (int r = 0; r < c.passes; r++) {
      printf(r ? ",{" : "{");
      printf("\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}", per[r].p50, per[r].p99, per[r].max);
    }
    printf("]}\n");
  } else {
    printf("px-recs: trained on %zu customers (%zu profiles), %zu items, %zu pairs in %.3f s "
           "(read %.3f, train %.3f, catalog %.3f)\n",
           ts->customers, ts->profiles, ts->items, ts->pairs, train_wall, ts->read_s, ts->train_s, ts->catalog_s);
    for (int r = 0; r < c.passes; r++)
      printf("  pass %d: %zu queries, p50 %.1f us, p99 %.1f us, max %.1f us\n", r + 1, p.n, per[r].p50, per[r].p99,
             per[r].max);
    printf("  all %zu queries of %zu recommendations (read txn + query + JSON, %.0f bytes on average): "
           "p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us, mean %.1f us\n",
           total, c.n, (double)bytes / (double)total, f.p50, f.p90, f.p99, f.p999, f.max, f.mean);
  }
  free(all);
  free(pass);
  free(per);
  free(p.v);
  px_buf_free(&out);
  px_reco_query_free(q);
  px_recs_model_free(m);
  px_store_close(st);
  return 0;
}
