/* pickaxe clv fit: the BTYD summary of a purchases file, the BG/NBD and
 * Gamma-Gamma fits (src/clv). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "clv/btyd.h"
#include "clv/input.h"
#include "clv/summary.h"

#define MAX_INPUT ((size_t)4 << 30)

static const char *help =
    "usage: pickaxe clv fit --csv FILE --customer COL --date COL --amount COL --calibration-end DATE\n"
    "                       [--unit day|week] [--delimiter C|whitespace] [--no-header] [--json]\n"
    "  Summarizes the purchases in FILE per customer (same-day purchases combined; the first\n"
    "  purchase is not a repeat) up to the calibration end (inclusive), fits the BG/NBD model of\n"
    "  repeat purchases and the Gamma-Gamma model of spend, and prints the parameters and\n"
    "  log-likelihoods. COL is a header name, or a column number from 1 (--no-header).\n"
    "  Dates: YYYYMMDD, YYYY-MM-DD or ISO 8601 times. --json prints {\"customers\":...,\n"
    "  \"bgnbd\":{\"r\",\"alpha\",\"a\",\"b\",\"loglik\"},\"gamma_gamma\":{\"p\",\"q\",\"gamma\",\"loglik\"}}.\n";

typedef struct bad_ctx {
  const char *path;
  size_t n;
} bad_ctx;

static void report_bad(void *arg, long line, const char *reason) {
  bad_ctx *b = arg;
  fprintf(stderr, "clv: %s:%ld: %s; skipped\n", b->path, line, reason);
  b->n++;
}

static void print_fit(const px_bgnbd *m, const px_gamma_gamma *g, int have_gg, size_t n, int json) {
  if (json) {
    printf("{\"customers\":%zu,\"bgnbd\":{\"r\":%.9g,\"alpha\":%.9g,\"a\":%.9g,\"b\":%.9g,\"loglik\":%.9g},", n, m->r,
           m->alpha, m->a, m->b, m->loglik);
    if (have_gg)
      printf("\"gamma_gamma\":{\"p\":%.9g,\"q\":%.9g,\"gamma\":%.9g,\"loglik\":%.9g}}\n", g->p, g->q, g->gamma,
             g->loglik);
    else
      printf("\"gamma_gamma\":null}\n");
    return;
  }
  printf("customers: %zu\n", n);
  printf("BG/NBD: r %.6f, alpha %.6f, a %.6f, b %.6f; log-likelihood %.4f\n", m->r, m->alpha, m->a, m->b, m->loglik);
  if (have_gg)
    printf("Gamma-Gamma: p %.6f, q %.6f, gamma %.6f; log-likelihood %.4f\n", g->p, g->q, g->gamma, g->loglik);
  else
    printf("Gamma-Gamma: not fitted (no customer with a repeat purchase)\n");
}

static int fit(int argc, char **argv) {
  const char *path = NULL, *end = NULL, *unit = "day", *delim = NULL;
  px_clv_input in = {0};
  int json = 0;
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--csv", &path) || px_cli_opt(argc, argv, &i, "--customer", &in.customer) ||
        px_cli_opt(argc, argv, &i, "--date", &in.date) || px_cli_opt(argc, argv, &i, "--amount", &in.amount) ||
        px_cli_opt(argc, argv, &i, "--calibration-end", &end) || px_cli_opt(argc, argv, &i, "--unit", &unit) ||
        px_cli_opt(argc, argv, &i, "--delimiter", &delim))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--no-header")) in.no_header = 1;
    else return px_cli_fail(PX_EXIT_USAGE, "clv fit: unknown argument %s", argv[i]);
  }
  if (!path || !in.customer || !in.date || !in.amount || !end)
    return fputs(help, stderr),
           px_cli_fail(PX_EXIT_USAGE, "clv fit: --csv, --customer, --date, --amount and --calibration-end are required");
  double unit_days = !strcmp(unit, "day") ? 1 : !strcmp(unit, "week") ? 7 : 0;
  if (!unit_days) return px_cli_fail(PX_EXIT_USAGE, "clv fit: --unit is day or week, not %s", unit);
  if (delim && !strcmp(delim, "whitespace")) in.whitespace = 1;
  else if (delim && strlen(delim) == 1) in.delimiter = delim[0];
  else if (delim) return px_cli_fail(PX_EXIT_USAGE, "clv fit: --delimiter is one character or whitespace");
  int64_t end_day;
  if (px_clv_parse_day(end, strlen(end), &end_day) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "clv fit: --calibration-end: not a date: %s", end);
  size_t n;
  char *data = px_cli_read_file(path, MAX_INPUT, &n);
  if (!data) return px_cli_fail(PX_EXIT_FAIL, "clv fit: cannot read %s", path);
  px_clv_summary *s = px_clv_summary_new(end_day, unit_days);
  bad_ctx bad = {path, 0};
  px_status st = s ? px_clv_read(s, &in, data, n, report_bad, &bad) : PX_NOMEM;
  free(data);
  if (st == PX_NOT_FOUND) {
    px_clv_summary_free(s);
    return px_cli_fail(PX_EXIT_USAGE, "clv fit: %s: no such column among --customer %s, --date %s, --amount %s", path,
                       in.customer, in.date, in.amount);
  }
  const px_btyd_customer *c;
  const char *const *ids;
  size_t nc = 0;
  if (st == PX_OK) st = px_clv_summary_build(s, &c, &ids, &nc);
  if (st == PX_OK && !nc) st = PX_NOT_FOUND;
  px_bgnbd m;
  px_gamma_gamma g;
  if (st == PX_OK) st = px_bgnbd_fit(c, nc, &m);
  int have_gg = st == PX_OK && px_gamma_gamma_fit(c, nc, &g) == PX_OK;
  if (st == PX_OK) print_fit(&m, &g, have_gg, nc, json);
  px_clv_summary_free(s);
  if (bad.n) fprintf(stderr, "clv fit: %zu records skipped\n", bad.n);
  if (st == PX_NOT_FOUND) return px_cli_fail(PX_EXIT_FAIL, "clv fit: %s: no purchase up to the calibration end", path);
  if (st == PX_INVALID) /* the summary is valid by construction: BG/NBD needs repeat buyers */
    return px_cli_fail(PX_EXIT_FAIL, "clv fit: %s: no customer with a repeat purchase up to the calibration end", path);
  if (st == PX_NOT_CONVERGED)
    return px_cli_fail(PX_EXIT_FAIL,
                       "clv fit: %s: the BG/NBD fit did not converge (the likelihood keeps rising towards a boundary: "
                       "customers too alike to tell the models apart)",
                       path);
  if (st != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "clv fit: %s", px_status_str(st));
  return PX_EXIT_OK;
}

int px_cmd_clv(int argc, char **argv) {
  if (argc < 2 || px_cli_is_help(argv[1])) return fputs(help, argc < 2 ? stderr : stdout), argc < 2 ? PX_EXIT_USAGE : PX_EXIT_OK;
  if (!strcmp(argv[1], "fit")) return fit(argc, argv);
  return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "clv: unknown command %s", argv[1]);
}
