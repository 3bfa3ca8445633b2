/* pickaxe clv fit|predict|validate: the BTYD summary of a purchases file
 * and the BG/NBD and Gamma-Gamma fits (src/clv), then the parameters
 * (fit), per-customer predictions as CSV (predict) or the calibration/
 * holdout check as tables and an SVG chart (validate). The three share the
 * reading and fitting (load). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "cli/cli.h"
#include "clv/btyd.h"
#include "clv/chart.h"
#include "clv/input.h"
#include "clv/summary.h"
#include "clv/validate.h"
#include "clv/value.h"

#define MAX_INPUT ((size_t)4 << 30)
#define MAX_CHART ((size_t)64 << 20)

static const char *help =
    "usage: pickaxe clv fit|predict|validate --csv FILE --customer COL --date COL --amount COL\n"
    "                 --calibration-end DATE [--unit day|week] [--delimiter C|whitespace] [--no-header] ...\n"
    "  Summarizes the purchases in FILE per customer (same-day purchases combined; the first\n"
    "  purchase is not a repeat) up to the calibration end (inclusive), and fits the BG/NBD model\n"
    "  of repeat purchases and the Gamma-Gamma model of spend. COL is a header name, or a column\n"
    "  number from 1 (--no-header). Dates: YYYYMMDD, YYYY-MM-DD or ISO 8601 times.\n"
    "\n"
    "pickaxe clv fit ... [--json]\n"
    "  Prints the parameters and log-likelihoods; --json prints {\"customers\":...,\n"
    "  \"bgnbd\":{\"r\",\"alpha\",\"a\",\"b\",\"loglik\"},\"gamma_gamma\":{\"p\",\"q\",\"gamma\",\"loglik\"}}.\n"
    "\n"
    "pickaxe clv predict ... [--horizon DAYS] [--discount RATE] [--output FILE]\n"
    "  Writes CSV, one row per customer in order of first appearance: customer, frequency,\n"
    "  recency, T (in the unit), monetary_value (mean repeat spend), p_alive, expected_purchases\n"
    "  over the horizon (default 365 days), expected_spend (per purchase) and clv (the expected\n"
    "  spend over the horizon, month by month, discounted at RATE a year, default 0.1).\n"
    "\n"
    "pickaxe clv validate ... --holdout-end DATE [--json] [--chart FILE.svg]\n"
    "  Fits on the calibration period and compares with the purchases after it, up to the\n"
    "  holdout end: repeat purchases in the holdout by calibration frequency (0..6, 7+), actual\n"
    "  and predicted, and cumulative repeat purchases by unit from the first purchase, actual and\n"
    "  predicted. --chart draws both as an SVG picture.\n"
    "\n"
    "pickaxe clv refresh|show|models [--data DIR]: the same models on the stored purchase events\n"
    "  (pickaxe clv refresh --help).\n";

typedef struct clv_args {
  const char *cmd; /* "clv fit", for messages */
  const char *path, *end, *unit, *delim;
  px_clv_input in;
  int json;
  const char *horizon, *discount, *output; /* predict */
  const char *holdout_end, *chart;         /* validate */
  int64_t end_day, holdout_day;
  double unit_days;
} clv_args;

/* A read and fitted file. */
typedef struct loaded {
  px_clv_summary *s;
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  px_bgnbd m;
  px_gamma_gamma g;
  int have_gg;
} loaded;

typedef struct bad_ctx {
  const char *path;
  size_t n;
} bad_ctx;

static void report_bad(void *arg, long line, const char *reason) {
  bad_ctx *b = arg;
  fprintf(stderr, "clv: %s:%ld: %s; skipped\n", b->path, line, reason);
  b->n++;
}

/* The options every command takes; 1 when argv[*i] was one. */
static int common_opt(int argc, char **argv, int *i, clv_args *a) {
  if (px_cli_opt(argc, argv, i, "--csv", &a->path) || px_cli_opt(argc, argv, i, "--customer", &a->in.customer) ||
      px_cli_opt(argc, argv, i, "--date", &a->in.date) || px_cli_opt(argc, argv, i, "--amount", &a->in.amount) ||
      px_cli_opt(argc, argv, i, "--calibration-end", &a->end) || px_cli_opt(argc, argv, i, "--unit", &a->unit) ||
      px_cli_opt(argc, argv, i, "--delimiter", &a->delim))
    return 1;
  if (!strcmp(argv[*i], "--no-header")) return a->in.no_header = 1;
  return 0;
}

/* Checks the common options: PX_EXIT_OK, or the exit code after saying why. */
static int check_common(clv_args *a) {
  if (!a->path || !a->in.customer || !a->in.date || !a->in.amount || !a->end) {
    fputs(help, stderr);
    return px_cli_fail(PX_EXIT_USAGE, "%s: --csv, --customer, --date, --amount and --calibration-end are required",
                       a->cmd);
  }
  a->unit_days = !strcmp(a->unit, "day") ? 1 : !strcmp(a->unit, "week") ? 7 : 0;
  if (!a->unit_days) return px_cli_fail(PX_EXIT_USAGE, "%s: --unit is day or week, not %s", a->cmd, a->unit);
  if (a->delim && !strcmp(a->delim, "whitespace")) a->in.whitespace = 1;
  else if (a->delim && strlen(a->delim) == 1) a->in.delimiter = a->delim[0];
  else if (a->delim) return px_cli_fail(PX_EXIT_USAGE, "%s: --delimiter is one character or whitespace", a->cmd);
  if (px_clv_parse_day(a->end, strlen(a->end), &a->end_day) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "%s: --calibration-end: not a date: %s", a->cmd, a->end);
  return PX_EXIT_OK;
}

static void unload(loaded *l) {
  px_clv_summary_free(l->s);
  l->s = NULL;
}

/* Reads the file, builds the summary and fits both models (Gamma-Gamma
 * when it can: have_gg). PX_EXIT_OK, or the exit code after saying why
 * (l holds nothing then). */
static int load(const clv_args *a, loaded *l) {
  memset(l, 0, sizeof *l);
  size_t n;
  char *data = px_cli_read_file(a->path, MAX_INPUT, &n);
  if (!data) return px_cli_fail(PX_EXIT_FAIL, "%s: cannot read %s", a->cmd, a->path);
  l->s = px_clv_summary_new(a->end_day, a->unit_days);
  bad_ctx bad = {a->path, 0};
  px_status st = l->s ? px_clv_read(l->s, &a->in, data, n, report_bad, &bad) : PX_NOMEM;
  free(data);
  if (bad.n) fprintf(stderr, "%s: %zu records skipped\n", a->cmd, bad.n);
  if (st == PX_NOT_FOUND) {
    unload(l);
    return px_cli_fail(PX_EXIT_USAGE, "%s: %s: no such column among --customer %s, --date %s, --amount %s", a->cmd,
                       a->path, a->in.customer, a->in.date, a->in.amount);
  }
  if (st == PX_OK) st = px_clv_summary_build(l->s, &l->c, &l->ids, &l->n);
  if (st == PX_OK && !l->n) st = PX_NOT_FOUND;
  if (st == PX_OK) st = px_bgnbd_fit(l->c, l->n, &l->m);
  if (st == PX_OK) l->have_gg = px_gamma_gamma_fit(l->c, l->n, &l->g) == PX_OK;
  if (st == PX_OK) return PX_EXIT_OK;
  unload(l);
  if (st == PX_NOT_FOUND)
    return px_cli_fail(PX_EXIT_FAIL, "%s: %s: no purchase up to the calibration end", a->cmd, a->path);
  if (st == PX_INVALID) /* the summary is valid by construction: BG/NBD needs repeat buyers */
    return px_cli_fail(PX_EXIT_FAIL, "%s: %s: no customer with a repeat purchase up to the calibration end", a->cmd,
                       a->path);
  if (st == PX_NOT_CONVERGED)
    return px_cli_fail(PX_EXIT_FAIL,
                       "%s: %s: the BG/NBD fit did not converge (the likelihood keeps rising towards a boundary: "
                       "customers too alike to tell the models apart)",
                       a->cmd, a->path);
  return px_cli_fail(PX_EXIT_FAIL, "%s: %s", a->cmd, px_status_str(st));
}

static void print_bgnbd_json(FILE *f, const px_bgnbd *m) {
  fprintf(f, "\"bgnbd\":{\"r\":%.9g,\"alpha\":%.9g,\"a\":%.9g,\"b\":%.9g,\"loglik\":%.9g}", m->r, m->alpha, m->a,
          m->b, m->loglik);
}

static void print_bgnbd_text(FILE *f, const px_bgnbd *m) {
  fprintf(f, "BG/NBD: r %.6f, alpha %.6f, a %.6f, b %.6f; log-likelihood %.4f\n", m->r, m->alpha, m->a, m->b,
          m->loglik);
}

/* ---- fit ---- */

static void print_fit(const loaded *l, int json) {
  if (json) {
    printf("{\"customers\":%zu,", l->n);
    print_bgnbd_json(stdout, &l->m);
    if (l->have_gg)
      printf(",\"gamma_gamma\":{\"p\":%.9g,\"q\":%.9g,\"gamma\":%.9g,\"loglik\":%.9g}}\n", l->g.p, l->g.q,
             l->g.gamma, l->g.loglik);
    else
      printf(",\"gamma_gamma\":null}\n");
    return;
  }
  printf("customers: %zu\n", l->n);
  print_bgnbd_text(stdout, &l->m);
  if (l->have_gg)
    printf("Gamma-Gamma: p %.6f, q %.6f, gamma %.6f; log-likelihood %.4f\n", l->g.p, l->g.q, l->g.gamma,
           l->g.loglik);
  else
    printf("Gamma-Gamma: not fitted (no positive mean repeat spend, a negative one, or no convergence)\n");
}

static int fit(int argc, char **argv) {
  clv_args a = {.cmd = "clv fit", .unit = "day"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (common_opt(argc, argv, &i, &a)) continue;
    if (!strcmp(argv[i], "--json")) a.json = 1;
    else return px_cli_fail(PX_EXIT_USAGE, "clv fit: unknown argument %s", argv[i]);
  }
  int rc = check_common(&a);
  loaded l;
  if (rc != PX_EXIT_OK || (rc = load(&a, &l)) != PX_EXIT_OK) return rc;
  print_fit(&l, a.json);
  unload(&l);
  return PX_EXIT_OK;
}

/* ---- predict ---- */

/* A number option: 1 when s is all of a finite number in [lo, hi]. */
static int number_in(const char *s, double lo, double hi, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *s && !*end && isfinite(*v) && *v >= lo && *v <= hi;
}

/* A CSV field: quoted when it holds a delimiter, a quote or a line end. */
static void put_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  putc('"', f);
  for (; *s; s++) {
    if (*s == '"') putc('"', f);
    putc(*s, f);
  }
  putc('"', f);
}

/* ",v", or "," alone for a number the models could not give. */
static void put_number(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, ",%.9g", v);
  else putc(',', f);
}

static void write_predictions(FILE *f, const loaded *l, double horizon, double discount, double unit_days) {
  fputs("customer,frequency,recency,T,monetary_value,p_alive,expected_purchases,expected_spend,clv\n", f);
  for (size_t i = 0; i < l->n; i++) {
    const px_btyd_customer *c = &l->c[i];
    put_field(f, l->ids[i]);
    fprintf(f, ",%.9g,%.9g,%.9g,%.9g", c->x, c->t_x, c->T, c->m);
    put_number(f, px_bgnbd_p_alive(&l->m, c->x, c->t_x, c->T));
    put_number(f, px_bgnbd_expected(&l->m, c->x, c->t_x, c->T, horizon / unit_days));
    /* Without a spend model (nobody with a positive mean repeat spend, or
     * a negative one: returns) there is no spend or value to give. */
    put_number(f, l->have_gg ? px_gamma_gamma_expected_spend(&l->g, c->x, c->m) : NAN);
    put_number(f, l->have_gg ? px_clv_value(&l->m, &l->g, c->x, c->t_x, c->T, c->m, horizon, unit_days, discount)
                             : NAN);
    putc('\n', f);
  }
}

static int predict(int argc, char **argv) {
  clv_args a = {.cmd = "clv predict", .unit = "day", .horizon = "365", .discount = "0.1"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (common_opt(argc, argv, &i, &a) || px_cli_opt(argc, argv, &i, "--horizon", &a.horizon) ||
        px_cli_opt(argc, argv, &i, "--discount", &a.discount) || px_cli_opt(argc, argv, &i, "--output", &a.output))
      continue;
    return px_cli_fail(PX_EXIT_USAGE, "clv predict: unknown argument %s", argv[i]);
  }
  int rc = check_common(&a);
  if (rc != PX_EXIT_OK) return rc;
  double horizon, discount;
  if (!number_in(a.horizon, 1e-9, PX_CLV_MAX_HORIZON_DAYS, &horizon))
    return px_cli_fail(PX_EXIT_USAGE, "clv predict: --horizon is a number of days above 0, up to %.0f, not %s",
                       PX_CLV_MAX_HORIZON_DAYS, a.horizon);
  if (!number_in(a.discount, 0, 1000, &discount))
    return px_cli_fail(PX_EXIT_USAGE,
                       "clv predict: --discount is an annual rate from 0 (0.1 for 10%% a year), not %s",
                       a.discount);
  loaded l;
  if ((rc = load(&a, &l)) != PX_EXIT_OK) return rc;
  if (!l.have_gg)
    fprintf(stderr, "clv predict: %s: no Gamma-Gamma fit (no positive mean repeat spend, a negative one, or no "
                    "convergence): expected_spend and clv are left empty\n",
            a.path);
  FILE *f = a.output ? fopen(a.output, "w") : stdout;
  if (!f) {
    unload(&l);
    return px_cli_fail(PX_EXIT_FAIL, "clv predict: cannot write %s", a.output);
  }
  write_predictions(f, &l, horizon, discount, a.unit_days);
  unload(&l);
  int failed = ferror(f);
  if (a.output ? fclose(f) != 0 : fflush(f) != 0) failed = 1;
  if (failed) return px_cli_fail(PX_EXIT_FAIL, "clv predict: cannot write %s", a.output ? a.output : "stdout");
  return PX_EXIT_OK;
}

/* ---- validate ---- */

static void day_str(int64_t day, char out[32]) {
  px_time_format_iso(day * 86400000, out);
  out[10] = 0;
}

/* A number for JSON: null when the model could not give it. */
static void json_num(double v) {
  if (isfinite(v)) printf("%.9g", v);
  else fputs("null", stdout);
}

static void print_validation_json(const clv_args *a, const loaded *l, const px_clv_validation *v) {
  char start[32], end[32], hold[32];
  day_str(v->start_day, start);
  day_str(a->end_day, end);
  day_str(a->holdout_day, hold);
  printf("{\"customers\":%zu,\"unit\":\"%s\",\"start\":\"%s\",\"calibration_end\":\"%s\",\"holdout_end\":\"%s\","
         "\"calibration_length\":%.9g,\"holdout_length\":%.9g,",
         v->customers, a->unit, start, end, hold, v->calibration_units, v->holdout_units);
  print_bgnbd_json(stdout, &l->m);
  printf(",\"by_frequency\":[");
  for (int b = 0; b < PX_CLV_FREQ_BUCKETS; b++) {
    printf("%s{\"frequency\":\"%d%s\",\"customers\":%zu,\"actual\":", b ? "," : "", b,
           b == PX_CLV_FREQ_BUCKETS - 1 ? "+" : "", v->freq[b].customers);
    json_num(v->freq[b].actual);
    printf(",\"predicted\":");
    json_num(v->freq[b].predicted);
    printf("}");
  }
  printf("],\"holdout\":{\"actual\":%.9g,\"predicted\":", v->actual_total);
  json_num(v->predicted_total);
  printf("},\"cumulative\":[");
  for (size_t k = 0; k < v->periods; k++) {
    printf("%s{\"t\":%.9g,\"actual\":%.9g,\"predicted\":", k ? "," : "", v->t[k], v->actual[k]);
    json_num(v->predicted[k]);
    printf("}");
  }
  printf("]}\n");
}

/* A table cell: the number, or "-" for none. */
static void cell(double v, int width, int prec) {
  if (isfinite(v)) printf(" %*.*f", width, prec, v);
  else printf(" %*s", width, "-");
}

static void print_validation_text(const clv_args *a, const loaded *l, const px_clv_validation *v) {
  char start[32], end[32], hold[32];
  day_str(v->start_day, start);
  day_str(a->end_day, end);
  day_str(a->holdout_day, hold);
  printf("customers: %zu\n", v->customers);
  printf("calibration: %s to %s (%.4g %ss); holdout: to %s (%.4g %ss)\n", start, end, v->calibration_units, a->unit,
         hold, v->holdout_units, a->unit);
  print_bgnbd_text(stdout, &l->m);
  printf("\nrepeat purchases in the holdout by calibration frequency (mean per customer)\n");
  printf("%-9s %9s %9s %9s\n", "frequency", "customers", "actual", "predicted");
  for (int b = 0; b < PX_CLV_FREQ_BUCKETS; b++) {
    char name[8];
    snprintf(name, sizeof name, "%d%s", b, b == PX_CLV_FREQ_BUCKETS - 1 ? "+" : "");
    printf("%-9s %9zu", name, v->freq[b].customers);
    cell(v->freq[b].actual, 9, 3);
    cell(v->freq[b].predicted, 9, 3);
    putchar('\n');
  }
  printf("%-9s %9zu", "all", v->customers);
  cell(v->actual_total / (double)v->customers, 9, 3);
  cell(v->predicted_total / (double)v->customers, 9, 3);
  printf("\n\nrepeat purchases in the holdout: actual %.0f, predicted %.1f", v->actual_total, v->predicted_total);
  if (v->actual_total > 0 && isfinite(v->predicted_total))
    printf(" (%+.1f%%)", 100 * (v->predicted_total - v->actual_total) / v->actual_total);
  printf("\n\ncumulative repeat purchases by %s since %s (the calibration ends at %.4g)\n", a->unit, start,
         v->calibration_units);
  printf("%9s %11s %11s\n", a->unit, "actual", "predicted");
  for (size_t k = 0; k < v->periods; k++) {
    printf("%9.4g %11.0f", v->t[k], v->actual[k]);
    cell(v->predicted[k], 11, 1);
    putchar('\n');
  }
}

/* Writes the chart to a->chart: PX_EXIT_OK or the exit code after saying why. */
static int write_chart(const clv_args *a, const px_clv_validation *v) {
  char start[32], end[32], hold[32], title[512];
  day_str(v->start_day, start);
  day_str(a->end_day, end);
  day_str(a->holdout_day, hold);
  const char *base = strrchr(a->path, '/');
  snprintf(title, sizeof title, "%s: BG/NBD calibration to %s, holdout to %s", base ? base + 1 : a->path, end, hold);
  px_buf b;
  px_buf_init(&b, MAX_CHART);
  px_status st = px_clv_chart_svg(v, title, a->unit, start, &b);
  FILE *f = st == PX_OK ? fopen(a->chart, "w") : NULL;
  int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
  if (f && fclose(f) != 0) ok = 0;
  px_buf_free(&b);
  if (st != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "clv validate: chart: %s", px_status_str(st));
  if (!ok) return px_cli_fail(PX_EXIT_FAIL, "clv validate: cannot write %s", a->chart);
  return PX_EXIT_OK;
}

static int validate(int argc, char **argv) {
  clv_args a = {.cmd = "clv validate", .unit = "day"};
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (common_opt(argc, argv, &i, &a) || px_cli_opt(argc, argv, &i, "--holdout-end", &a.holdout_end) ||
        px_cli_opt(argc, argv, &i, "--chart", &a.chart))
      continue;
    if (!strcmp(argv[i], "--json")) a.json = 1;
    else return px_cli_fail(PX_EXIT_USAGE, "clv validate: unknown argument %s", argv[i]);
  }
  int rc = check_common(&a);
  if (rc != PX_EXIT_OK) return rc;
  if (!a.holdout_end) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "clv validate: --holdout-end is required");
  if (px_clv_parse_day(a.holdout_end, strlen(a.holdout_end), &a.holdout_day) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "clv validate: --holdout-end: not a date: %s", a.holdout_end);
  px_clv_holdout h = {a.end_day, a.holdout_day, a.unit_days};
  if (a.holdout_day <= a.end_day)
    return px_cli_fail(PX_EXIT_USAGE, "clv validate: --holdout-end (%s) must be after --calibration-end (%s)",
                       a.holdout_end, a.end);
  loaded l;
  if ((rc = load(&a, &l)) != PX_EXIT_OK) return rc;
  px_clv_validation v;
  px_status st = px_clv_validate(l.s, l.c, l.n, &l.m, &h, &v);
  if (st == PX_TOO_LARGE) { /* the earliest first purchase is T before the calibration end */
    double longest = 0;
    for (size_t i = 0; i < l.n; i++) longest = fmax(longest, l.c[i].T);
    char first[32];
    day_str(a.end_day - (int64_t)llround(longest * a.unit_days), first);
    unload(&l);
    return px_cli_fail(PX_EXIT_FAIL,
                       "clv validate: %s: from the first purchase (%s) to the holdout end is more than %d days: "
                       "is a date wrong?",
                       a.path, first, PX_CLV_MAX_DAYS);
  }
  if (st != PX_OK) {
    unload(&l);
    return px_cli_fail(PX_EXIT_FAIL, "clv validate: %s", px_status_str(st));
  }
  if (v.last_day < h.holdout_end_day) {
    char last[32], hold[32];
    day_str(v.last_day, last);
    day_str(h.holdout_end_day, hold);
    fprintf(stderr, "clv validate: %s: the last purchase is on %s, before the holdout end (%s): the actual "
                    "counts may stop short of the holdout\n",
            a.path, last, hold);
  }
  if (a.chart) rc = write_chart(&a, &v);
  if (rc == PX_EXIT_OK && a.json) print_validation_json(&a, &l, &v);
  else if (rc == PX_EXIT_OK) print_validation_text(&a, &l, &v);
  px_clv_validation_free(&v);
  unload(&l);
  if (fflush(stdout) != 0 && rc == PX_EXIT_OK) rc = px_cli_fail(PX_EXIT_FAIL, "clv validate: cannot write stdout");
  return rc;
}

int px_cmd_clv(int argc, char **argv) {
  if (argc < 2 || px_cli_is_help(argv[1]))
    return fputs(help, argc < 2 ? stderr : stdout), argc < 2 ? PX_EXIT_USAGE : PX_EXIT_OK;
  if (!strcmp(argv[1], "fit")) return fit(argc, argv);
  if (!strcmp(argv[1], "predict")) return predict(argc, argv);
  if (!strcmp(argv[1], "validate")) return validate(argc, argv);
  /* The models fitted on the stored purchase events (cmd_clv_store.c). */
  if (!strcmp(argv[1], "refresh") || !strcmp(argv[1], "show") || !strcmp(argv[1], "models"))
    return px_cmd_clv_store(argc, argv);
  return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "clv: unknown command %s", argv[1]);
}
