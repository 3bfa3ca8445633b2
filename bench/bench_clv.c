/* px-clv: customer lifetime value at scale (issue 5). Simulates N customers
 * from BG/NBD and Gamma-Gamma with known parameters, then times
 *   (a) the fits: px_bgnbd_fit and px_gamma_gamma_fit on all N, printing the
 *       fitted parameters next to the true ones;
 *   (b) scoring all N on --threads threads: P(alive), expected purchases in
 *       the next 90 days, conditional expected spend and (when
 *       src/clv/value.h is there) px_clv_value over 365 days at 10% a year;
 *       then each of those alone on one thread, per customer, and the
 *       expected purchases at 12 monthly horizons in one
 *       px_bgnbd_expected_many call.
 * Wall times (CLOCK_MONOTONIC). Unlike the other bench tools this one links
 * the pickaxe library: it times library functions, not the server.
 *
 * The simulation (seeded: the same flags give the same customers): a
 * calibration period of 39 weeks (days 0..272, the last day included, as
 * the summary step's calibration end); each customer's first purchase on a
 * day uniform over the first 12 weeks, at a uniform time of day; purchase
 * rate lambda ~ Gamma(r, alpha) per week and dropout probability p ~
 * Beta(a, b) after each repeat purchase; purchase times continuous
 * (exponential gaps). --times day (the default) records them as whole days
 * as the summary step does: same-day purchases combine into one (amounts
 * added; the first day's extra purchases are not repeats), x counts the
 * later purchase days, t_x and T run from the first day to the last
 * purchase day and to day 272. --times exact keeps the continuous times
 * (x every repeat purchase, T to the end of day 272): the model exactly,
 * and no two customers alike. In --unit (weeks by default). Each
 * purchase's amount is Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer;
 * m the mean of the repeat purchases' (days'). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "clv/btyd.h"
#include "common.h"

#if defined(__has_include)
#if __has_include("clv/value.h")
#include "clv/value.h"
#define HAVE_CLV_VALUE 1
#endif
#endif
#ifndef HAVE_CLV_VALUE
#define HAVE_CLV_VALUE 0
#endif

#define PERIOD_DAYS 273 /* 39 weeks: days 0..272 */
#define BIRTH_DAYS 84   /* first purchases over the first 12 weeks */
#define MONTHS 12       /* px_bgnbd_expected_many's horizons */
#define MAX_THREADS 64

/* CDNOW-like truth, in weeks (Fader, Hardie & Lee 2005). */
static const px_bgnbd TRUE_BG = {0.243, 4.414, 0.793, 2.426, 0};
static const px_gamma_gamma TRUE_GG = {6.25, 3.74, 15.44, 0};

typedef struct config {
  size_t n;
  unsigned long seed;
  int threads, exact, breakdown, json;
  double unit_days; /* 7: weeks, 1: days */
} config;

static const double HORIZON_DAYS = 90, CLV_DAYS = 365, DISCOUNT = 0.10;

static void usage(void) {
  fputs("usage: px-clv [--customers N] [--seed N] [--threads N] [--unit week|day]\n"
        "              [--times day|exact] [--no-breakdown] [--json]\n",
        stderr);
  exit(2);
}

static void parse(int argc, char **argv, config *c) {
  *c = (config){.n = 1000000, .seed = 1, .threads = 2, .breakdown = 1, .unit_days = 7};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--customers")) {
      c->n = (size_t)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, 100000000);
    } else if (!strcmp(a, "--seed")) {
      c->seed = (unsigned long)px_arg_ll(a, px_arg_value(argc, argv, &i), 0, 1L << 31);
    } else if (!strcmp(a, "--threads")) {
      c->threads = (int)px_arg_ll(a, px_arg_value(argc, argv, &i), 1, MAX_THREADS);
    } else if (!strcmp(a, "--unit") || !strcmp(a, "--times")) {
      const char *v = px_arg_value(argc, argv, &i);
      int unit = !strcmp(a, "--unit");
      if (unit && (!strcmp(v, "week") || !strcmp(v, "day"))) c->unit_days = !strcmp(v, "week") ? 7 : 1;
      else if (!unit && (!strcmp(v, "day") || !strcmp(v, "exact"))) c->exact = !strcmp(v, "exact");
      else px_bench_die("%s: %s, got '%s'", a, unit ? "week or day" : "day or exact", v);
    } else if (!strcmp(a, "--no-breakdown")) {
      c->breakdown = 0;
    } else if (!strcmp(a, "--json")) {
      c->json = 1;
    } else {
      usage();
    }
  }
}

/* The true BG/NBD parameters in the chosen unit: alpha is a time. */
static px_bgnbd truth_in(const config *c) {
  px_bgnbd m = TRUE_BG;
  m.alpha *= 7 / c->unit_days;
  return m;
}

/* One customer, times in days; the rng draws in a fixed order. */
static px_btyd_customer simulate_one(gsl_rng *g, int exact) {
  double lambda = gsl_ran_gamma(g, TRUE_BG.r, 1 / TRUE_BG.alpha) / 7; /* per day */
  double p = gsl_ran_beta(g, TRUE_BG.a, TRUE_BG.b);
  double nu = gsl_ran_gamma(g, TRUE_GG.q, 1 / TRUE_GG.gamma);
  long birth = (long)gsl_rng_uniform_int(g, BIRTH_DAYS), last = birth, x = 0;
  double first = (double)birth + gsl_rng_uniform(g), t = first, t_last = first, spend = 0;
  while (lambda > 0) {
    t += gsl_ran_exponential(g, 1 / lambda);
    if (t >= PERIOD_DAYS) break;
    long day = (long)t;
    double amount = gsl_ran_gamma(g, TRUE_GG.p, 1 / nu);
    if (exact || day > birth) spend += amount;
    if (exact || day > last) x++, last = day, t_last = t;
    if (gsl_rng_uniform(g) < p) break; /* drops out right after this purchase */
  }
  double m = x ? spend / (double)x : 0;
  if (exact) return (px_btyd_customer){(double)x, t_last - first, PERIOD_DAYS - first, m};
  return (px_btyd_customer){(double)x, (double)(last - birth), (double)(PERIOD_DAYS - 1 - birth), m};
}

static px_btyd_customer *simulate(const config *c) {
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  px_btyd_customer *cs = malloc(c->n * sizeof *cs);
  if (!g || !cs) px_bench_die("out of memory");
  gsl_rng_set(g, c->seed);
  for (size_t i = 0; i < c->n; i++) {
    cs[i] = simulate_one(g, c->exact);
    cs[i].t_x /= c->unit_days;
    cs[i].T /= c->unit_days;
  }
  gsl_rng_free(g);
  return cs;
}

/* ---- Scoring ---- */

enum { P_ALIVE = 1, EXPECTED = 2, SPEND = 4, CLV = 8, MANY = 16, PARTS = 5 };

typedef struct score {
  double v[PARTS]; /* P(alive), expected, spend, CLV, the 12 months' expected summed */
} score;

typedef struct score_job {
  const config *cfg;
  const px_btyd_customer *c;
  const px_bgnbd *m;
  const px_gamma_gamma *g;
  score *out;
  size_t lo, hi;
  int parts;
} score_job;

static void *score_range(void *arg) {
  const score_job *j = arg;
  double t = HORIZON_DAYS / j->cfg->unit_days, months[MONTHS], e[MONTHS];
  for (int k = 0; k < MONTHS; k++) months[k] = (k + 1) * (365.25 / 12) / j->cfg->unit_days;
  for (size_t i = j->lo; i < j->hi; i++) {
    const px_btyd_customer *c = &j->c[i];
    double *v = j->out[i].v;
    if (j->parts & P_ALIVE) v[0] = px_bgnbd_p_alive(j->m, c->x, c->t_x, c->T);
    if (j->parts & EXPECTED) v[1] = px_bgnbd_expected(j->m, c->x, c->t_x, c->T, t);
    if (j->parts & SPEND) v[2] = px_gamma_gamma_expected_spend(j->g, c->x, c->m);
#if HAVE_CLV_VALUE
    if (j->parts & CLV)
      v[3] = px_clv_value(j->m, j->g, c->x, c->t_x, c->T, c->m, CLV_DAYS, j->cfg->unit_days, DISCOUNT);
#endif
    if (j->parts & MANY) {
      px_bgnbd_expected_many(j->m, c->x, c->t_x, c->T, months, MONTHS, e);
      v[4] = 0;
      for (int k = 0; k < MONTHS; k++) v[4] += e[k];
    }
  }
  return NULL;
}

/* Scores every customer's parts on threads threads; the wall seconds. */
static double score_all(const config *cfg, const px_btyd_customer *c, const px_bgnbd *m,
                        const px_gamma_gamma *g, score *out, int threads, int parts) {
  pthread_t tid[MAX_THREADS];
  score_job job[MAX_THREADS];
  uint64_t t0 = px_now_ns();
  for (int k = 0; k < threads; k++) {
    job[k] = (score_job){cfg, c, m, g, out, cfg->n * (size_t)k / (size_t)threads,
                         cfg->n * (size_t)(k + 1) / (size_t)threads, parts};
    if (k > 0 && pthread_create(&tid[k], NULL, score_range, &job[k]) != 0)
      px_bench_die("cannot start a thread");
  }
  score_range(&job[0]);
  for (int k = 1; k < threads; k++) pthread_join(tid[k], NULL);
  return (double)(px_now_ns() - t0) / 1e9;
}

/* ---- Reporting ---- */

static int by_key(const void *pa, const void *pb) {
  const px_btyd_customer *a = pa, *b = pb;
  if (a->x != b->x) return a->x < b->x ? -1 : 1;
  if (a->t_x != b->t_x) return a->t_x < b->t_x ? -1 : 1;
  return (a->T > b->T) - (a->T < b->T);
}

/* How many customers differ in (x, t_x, T), and how many bought again. */
static size_t distinct_keys(const px_btyd_customer *c, size_t n, size_t *repeat) {
  px_btyd_customer *s = malloc(n * sizeof *s);
  if (!s) px_bench_die("out of memory");
  memcpy(s, c, n * sizeof *s);
  qsort(s, n, sizeof *s, by_key);
  size_t d = 0;
  *repeat = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || by_key(&s[i], &s[i - 1])) d++;
    if (s[i].x > 0) ++*repeat;
  }
  free(s);
  return d;
}

typedef struct result {
  double sim_s, bg_s, gg_s, score_s, part_ns[PARTS], mean[PARTS];
  size_t distinct, repeat, nan;
  px_bgnbd bg;
  px_gamma_gamma gg;
} result;

/* Means of the headline parts (P(alive), expected, spend, CLV); NaNs counted. */
static void means_of(const score *out, size_t n, result *r) {
  for (int k = 0; k < 4; k++) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
      if (isnan(out[i].v[k])) r->nan++;
      else sum += out[i].v[k];
    }
    r->mean[k] = sum / (double)n;
  }
}

static void print_text(const config *c, const result *r) {
  const px_bgnbd t = truth_in(c);
  printf("px-clv: %zu customers simulated in %.2f s (seed %lu, unit %s, times %s): %zu bought again, "
         "%zu distinct (x, t_x, T)\n",
         c->n, r->sim_s, c->seed, c->unit_days == 7 ? "week" : "day", c->exact ? "exact" : "day",
         r->repeat, r->distinct);
  printf("  fit          %.3f s: BG/NBD %.3f s, Gamma-Gamma %.3f s\n", r->bg_s + r->gg_s, r->bg_s, r->gg_s);
  printf("  BG/NBD       r %.4f (true %.4g)  alpha %.4f (%.4g)  a %.4f (%.4g)  b %.4f (%.4g)  loglik %.2f\n",
         r->bg.r, t.r, r->bg.alpha, t.alpha, r->bg.a, t.a, r->bg.b, t.b, r->bg.loglik);
  printf("  Gamma-Gamma  p %.4f (true %.4g)  q %.4f (%.4g)  gamma %.4f (%.4g)\n", r->gg.p, TRUE_GG.p, r->gg.q,
         TRUE_GG.q, r->gg.gamma, TRUE_GG.gamma);
  printf("  score        %.3f s on %d thread%s (%.3f us a customer): P(alive), expected purchases in %.0f "
         "days, expected spend%s\n",
         r->score_s, c->threads, c->threads == 1 ? "" : "s", r->score_s / (double)c->n * 1e6, HORIZON_DAYS,
         HAVE_CLV_VALUE ? ", CLV (365 days, 10% a year)" : " (no CLV: src/clv/value.h missing)");
  if (c->breakdown) {
    printf("  one thread   P(alive) %.0f ns, expected %.0f ns, spend %.0f ns", r->part_ns[0], r->part_ns[1],
           r->part_ns[2]);
    if (HAVE_CLV_VALUE) printf(", CLV %.0f ns", r->part_ns[3]);
    printf(" a customer; expected at %d monthly horizons in one call %.0f ns\n", MONTHS, r->part_ns[4]);
  }
  printf("  means        P(alive) %.6f, expected %.6f, spend %.4f, CLV %.4f; NaN %zu\n", r->mean[0], r->mean[1],
         r->mean[2], r->mean[3], r->nan);
}

static void print_json(const config *c, const result *r) {
  printf("{\"tool\":\"px-clv\",\"customers\":%zu,\"seed\":%lu,\"unit\":\"%s\",\"times\":\"%s\",\"threads\":%d,"
         "\"repeat_buyers\":%zu,\"distinct\":%zu,\"simulate_s\":%.4f,\"fit_s\":%.4f,\"bgnbd_fit_s\":%.4f,"
         "\"gg_fit_s\":%.4f,\"score_s\":%.4f,\"score_us\":%.4f,\"p_alive_ns\":%.1f,\"expected_ns\":%.1f,"
         "\"spend_ns\":%.1f,\"clv_ns\":%.1f,\"expected_months_ns\":%.1f,\"clv\":%s,"
         "\"bgnbd\":{\"r\":%.6f,\"alpha\":%.6f,\"a\":%.6f,\"b\":%.6f,\"loglik\":%.4f},"
         "\"gamma_gamma\":{\"p\":%.6f,\"q\":%.6f,\"gamma\":%.6f},\"mean_p_alive\":%.8f,"
         "\"mean_expected\":%.8f,\"mean_spend\":%.6f,\"mean_clv\":%.6f,\"nan\":%zu}\n",
         c->n, c->seed, c->unit_days == 7 ? "week" : "day", c->exact ? "exact" : "day", c->threads, r->repeat,
         r->distinct, r->sim_s, r->bg_s + r->gg_s, r->bg_s, r->gg_s, r->score_s,
         r->score_s / (double)c->n * 1e6, r->part_ns[0], r->part_ns[1], r->part_ns[2], r->part_ns[3],
         r->part_ns[4], HAVE_CLV_VALUE ? "true" : "false", r->bg.r, r->bg.alpha, r->bg.a, r->bg.b,
         r->bg.loglik, r->gg.p, r->gg.q, r->gg.gamma, r->mean[0], r->mean[1], r->mean[2], r->mean[3], r->nan);
}

static double seconds_since(uint64_t t0) { return (double)(px_now_ns() - t0) / 1e9; }

int main(int argc, char **argv) {
  px_bench_set_prog(argv[0]);
  config cfg;
  parse(argc, argv, &cfg);
  result r = {0};

  uint64_t t0 = px_now_ns();
  px_btyd_customer *c = simulate(&cfg);
  r.sim_s = seconds_since(t0);

  t0 = px_now_ns();
  px_status s = px_bgnbd_fit(c, cfg.n, &r.bg);
  r.bg_s = seconds_since(t0);
  if (s != PX_OK) px_bench_die("px_bgnbd_fit: %s", px_status_str(s));
  t0 = px_now_ns();
  s = px_gamma_gamma_fit(c, cfg.n, &r.gg);
  r.gg_s = seconds_since(t0);
  if (s != PX_OK) px_bench_die("px_gamma_gamma_fit: %s", px_status_str(s));

  score *out = calloc(cfg.n, sizeof *out);
  if (!out) px_bench_die("out of memory");
  int all = P_ALIVE | EXPECTED | SPEND | (HAVE_CLV_VALUE ? CLV : 0);
  r.score_s = score_all(&cfg, c, &r.bg, &r.gg, out, cfg.threads, all);
  means_of(out, cfg.n, &r);
  for (int k = 0; cfg.breakdown && k < PARTS; k++)
    if ((all | MANY) & (1 << k))
      r.part_ns[k] = score_all(&cfg, c, &r.bg, &r.gg, out, 1, 1 << k) / (double)cfg.n * 1e9;

  r.distinct = distinct_keys(c, cfg.n, &r.repeat);
  if (cfg.json) print_json(&cfg, &r);
  else print_text(&cfg, &r);
  free(out);
  free(c);
  return r.nan ? 1 : 0;
}
