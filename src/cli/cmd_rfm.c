/* pickaxe rfm refresh|show: RFM scores of every customer, refreshed on
 * demand in one write transaction (a running server sees all of it or
 * none), and the last refresh's summary (segment/rfm_refresh.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "segment/rfm_refresh.h"

static const char rfm_help[] =
    "usage: pickaxe rfm refresh [--data DIR] [--json]   score every customer now\n"
    "       pickaxe rfm show [--data DIR] [--json]      the definition and the last refresh\n"
    "\n"
    "RFM is configured with pickaxe apply FILE.json holding {\"rfm\": {\"recency\": TRAIT,\n"
    "\"frequency\": TRAIT, \"monetary\": TRAIT, \"refresh_every\": \"24h\"}}: three computed\n"
    "traits (the last purchase's time, the number of orders, the revenue). A refresh\n"
    "scores every customer with a last purchase 1-5 on each measure by quintiles, names\n"
    "their cell (champions ... lost), stores the scores on the profile (rules read them\n"
    "as score.rfm_r, score.rfm_cell, ...) and re-evaluates the segments of customers\n"
    "whose scores changed. A running server also refreshes every refresh_every.\n"
    "Prints the population, the quintile boundaries and the customers per cell.\n";

static void progress(void *arg, uint64_t done, uint64_t total) {
  (void)arg;
  if (!isatty(2)) return;
  fprintf(stderr, "\rrfm: %llu/%llu profiles", (unsigned long long)done, (unsigned long long)total);
  if (done == total) fputc('\n', stderr);
}

static void print_cuts(const char *what, const cJSON *a, const char *unit) {
  printf("%s", what);
  const cJSON *x;
  int k = 0;
  cJSON_ArrayForEach(x, a) printf("%s%.15g", k++ ? " / " : " ", x->valuedouble);
  printf("%s\n", unit);
}

/* The status JSON (px_rfm_status) for people. */
static void print_text(const cJSON *j) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "definition");
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(j, "last_refresh");
  const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "next_refresh_at"));
  printf("rfm: recency %s, frequency %s, monetary %s (computed traits), refresh every %s\n",
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "recency")),
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "frequency")),
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "monetary")),
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "refresh_every")));
  if (!cJSON_IsObject(last)) {
    printf("never refreshed\n");
  } else {
    const cJSON *cuts = cJSON_GetObjectItemCaseSensitive(last, "cuts");
    printf("refreshed at %s: %.0f customers scored of %.0f profiles (%.0f changed, %.0f removed)\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "refreshed_at")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "population")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "profiles")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "changed")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "removed")));
    if (cJSON_IsObject(cuts)) {
      printf("quintile boundaries:\n");
      print_cuts("  recency  ", cJSON_GetObjectItemCaseSensitive(cuts, "recency_days"), " days");
      print_cuts("  frequency", cJSON_GetObjectItemCaseSensitive(cuts, "frequency"), "");
      print_cuts("  monetary ", cJSON_GetObjectItemCaseSensitive(cuts, "monetary"), "");
    }
    printf("customers per cell:\n");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(last, "cells")) printf("  %-20s %8.0f\n", c->string,
                                                                                 c->valuedouble);
  }
  printf("next refresh: %s\n", next ? next : "on demand only");
}

/* Refreshes (when asked) and prints the status. */
static int run(px_store *st, int refresh, int json) {
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  px_status s = px_store_begin(st, refresh ? PX_TXN_WRITE : PX_TXN_READ, &txn);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "rfm: %s", px_status_str(s));
  px_config cfg;
  int have_cfg = 0;
  if (refresh && (s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
    have_cfg = 1;
    px_rfm_summary m;
    s = px_rfm_refresh(txn, st, &cfg, px_time_now_ms(), progress, NULL, &m, &err);
  }
  px_buf out;
  px_buf_init(&out, 0);
  if (s == PX_OK) s = px_rfm_status(txn, st, &out);
  if (s == PX_OK && refresh) s = px_store_commit(txn);
  else px_store_abort(txn);
  if (have_cfg) px_config_free(&cfg);
  int rc = PX_EXIT_OK;
  if (s == PX_NOT_FOUND) {
    rc = px_cli_fail(3, "rfm: not configured; apply a file with {\"rfm\": {\"recency\": TRAIT, \"frequency\": TRAIT, "
                        "\"monetary\": TRAIT}} (pickaxe apply)");
  } else if (s == PX_INVALID) {
    rc = px_cli_fail(PX_EXIT_FAIL, "rfm: %s: %s", err.field, err.reason);
  } else if (s != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "rfm: %s", px_status_str(s));
  } else if (json) {
    printf("%s\n", out.data);
  } else {
    cJSON *j = cJSON_Parse(out.data);
    print_text(j);
    cJSON_Delete(j);
  }
  px_buf_free(&out);
  return rc;
}

int px_cmd_rfm(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *cmd = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(rfm_help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "rfm: unknown option %s", argv[i]);
    else if (cmd) return px_cli_fail(PX_EXIT_USAGE, "rfm: unexpected argument %s", argv[i]);
    else cmd = argv[i];
  }
  if (!cmd) return fputs(rfm_help, stderr), PX_EXIT_USAGE;
  if (strcmp(cmd, "refresh") && strcmp(cmd, "show"))
    return fputs(rfm_help, stderr), px_cli_fail(PX_EXIT_USAGE, "rfm: unknown command %s (refresh, show)", cmd);
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  int rc = run(st, !strcmp(cmd, "refresh"), json);
  px_store_close(st);
  return rc;
}
