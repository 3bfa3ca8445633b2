/* pickaxe clv refresh|show|models: CLV fitted on the stored purchases and
 * scored on every customer, on demand (read and fit in a read transaction,
 * then the writes in one write transaction: a running server sees all of
 * them or none), and the models kept (segment/clv_refresh.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "segment/clv_refresh.h"

static const char help[] =
    "usage: pickaxe clv refresh [--data DIR] [--json]   refit on the stored purchases, score every customer\n"
    "       pickaxe clv show [--data DIR] [--json]      the definition, the current model, the last refresh\n"
    "       pickaxe clv models [--data DIR] [--json]    the fitted models kept, newest first\n"
    "\n"
    "CLV is configured with pickaxe apply FILE.json holding {\"clv\": {\"event\": \"Order Completed\",\n"
    "\"revenue\": \"revenue\", \"unit\": \"week\", \"horizon\": \"365d\", \"discount_rate\": 0.1,\n"
    "\"refresh_every\": \"24h\"}}. A refresh summarizes each profile's purchase events up to now,\n"
    "fits the BG/NBD and Gamma-Gamma models, keeps the fit as a new model version and writes\n"
    "p_alive, expected_purchases_90d, expected_spend, clv and clv_model on every customer\n"
    "(rules read them as score.clv, ...). A running server also refits every refresh_every.\n";

static void progress(void *arg, uint64_t done, uint64_t total) {
  (void)arg;
  if (!isatty(2)) return;
  fprintf(stderr, "\rclv: %llu/%llu profiles", (unsigned long long)done, (unsigned long long)total);
  if (done == total) fputc('\n', stderr);
}

static double number(const cJSON *o, const char *name) {
  return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static const char *string(const cJSON *o, const char *name) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
  return s ? s : "";
}

static void print_model(const cJSON *m) {
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "bgnbd"), *g = cJSON_GetObjectItemCaseSensitive(m, "gamma_gamma");
  printf("model %.0f: fitted %s on %.0f customers (%.0f repeat), unit %s, calibration end %s\n", number(m, "version"),
         string(m, "fitted_at"), number(m, "customers"), number(m, "repeat_customers"), string(m, "unit"),
         string(m, "calibration_end"));
  printf("  BG/NBD: r %.6f, alpha %.6f, a %.6f, b %.6f; log-likelihood %.4f\n", number(b, "r"), number(b, "alpha"),
         number(b, "a"), number(b, "b"), number(b, "loglik"));
  if (cJSON_IsObject(g))
    printf("  Gamma-Gamma: p %.6f, q %.6f, gamma %.6f; log-likelihood %.4f\n", number(g, "p"), number(g, "q"),
           number(g, "gamma"), number(g, "loglik"));
  else
    printf("  Gamma-Gamma: not fitted (no expected spend or clv)\n");
}

/* The status JSON (px_clv_status) for people. */
static void print_status(const cJSON *j) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "definition");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(j, "last_refresh");
  const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "next_refresh_at"));
  printf("clv: purchases are \"%s\" events, amount in %s; unit %s; value over %s at %g%%/year; refit every %s\n",
         string(d, "event"), string(d, "revenue"), string(d, "unit"), string(d, "horizon"),
         100 * number(d, "discount_rate"), string(d, "refresh_every"));
  if (cJSON_IsObject(m)) print_model(m);
  else printf("no model fitted yet\n");
  if (!cJSON_IsObject(last)) {
    printf("never refreshed\n");
  } else {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(last, "totals");
    printf("refreshed at %s: %.0f customers of %.0f profiles, %.0f purchases", string(last, "refreshed_at"),
           number(last, "customers"), number(last, "profiles"), number(last, "purchases"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(last, "fitted")))
      printf("; %.0f scores changed, %.0f removed; total clv %.2f, expected purchases in 90 days %.1f\n",
             number(last, "changed"), number(last, "removed"), number(t, "clv"), number(t, "expected_purchases_90d"));
    else
      printf("; not fitted: %s\n", string(last, "reason"));
  }
  printf("next refresh: %s\n", next ? next : "on demand only");
}

static int run(px_store *st, const char *cmd, int json) {
  int refresh = !strcmp(cmd, "refresh");
  px_txn *txn;
  px_clv_summary_out m = {0};
  px_status s = PX_OK;
  if (refresh) { /* read and fit, then write: a running server's writer waits only for the writes */
    px_clv_run *run = NULL;
    if ((s = px_store_begin(st, PX_TXN_READ, &txn)) == PX_OK) {
      s = px_clv_prepare(txn, st, px_time_now_ms(), progress, NULL, &run, &m);
      px_store_abort(txn);
    }
    px_config cfg;
    if (s == PX_OK && (s = px_store_begin(st, PX_TXN_WRITE, &txn)) == PX_OK) {
      if ((s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
        s = px_clv_apply(txn, st, &cfg, run, px_time_now_ms(), &m);
        px_config_free(&cfg);
      }
      s = s == PX_OK ? px_store_commit(txn) : (px_store_abort(txn), s);
    }
    px_clv_run_free(run);
  }
  if (s == PX_OK) s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s == PX_INVALID)
    return px_cli_fail(PX_EXIT_FAIL, "clv refresh: the computed trait %s it reads was deleted or changed: apply the clv "
                                     "definition again", PX_CLV_TRAIT);
  if (s != PX_OK && s != PX_NOT_FOUND) return px_cli_fail(PX_EXIT_FAIL, "clv: %s", px_status_str(s));
  px_buf out;
  px_buf_init(&out, 0);
  if (s == PX_OK) {
    s = !strcmp(cmd, "models") ? px_clv_models(txn, st, &out) : px_clv_status(txn, st, &out);
    px_store_abort(txn);
  }
  int rc = PX_EXIT_OK;
  if (s == PX_NOT_FOUND) {
    rc = px_cli_fail(3, "clv: not configured; apply a file with {\"clv\": {\"event\": \"Order Completed\"}} "
                        "(pickaxe apply)");
  } else if (s != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "clv: %s", px_status_str(s));
  } else if (json) {
    printf("%s\n", out.data);
  } else {
    cJSON *j = cJSON_Parse(out.data);
    if (!strcmp(cmd, "models")) {
      const cJSON *x;
      cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "models")) print_model(x);
    } else {
      print_status(j);
    }
    cJSON_Delete(j);
  }
  if (rc == PX_EXIT_OK && refresh && !m.fitted)
    rc = px_cli_fail(PX_EXIT_FAIL, "clv refresh: no model fitted: %s; the last model and scores stay",
                     px_clv_unfitted_reason(m.fit_status));
  px_buf_free(&out);
  return rc;
}

int px_cmd_clv_store(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA;
  int json = 0;
  for (int i = 2; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else return px_cli_fail(PX_EXIT_USAGE, "clv %s: unexpected argument %s", argv[1], argv[i]);
  }
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  int rc = run(st, argv[1], json);
  px_store_close(st);
  return rc;
}
