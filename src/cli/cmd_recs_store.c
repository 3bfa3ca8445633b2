/* pickaxe recommend user|similar|model --data DIR: the platform's
 * recommendations (src/recs) against the store, as the API serves them:
 * the model is trained from the stored interactions in a read
 * transaction (what the server keeps in memory and retrains every
 * refresh_every), then queried in the same transaction. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "profile/profile.h"
#include "recs/recs.h"

static const char help[] =
    "usage: pickaxe recommend user REF [--data DIR] [--n 10] [--exclude ITEM,...] [--segment NAME] [--json]\n"
    "       pickaxe recommend similar ITEM [--data DIR] [--n 10] [--exclude ITEM,...] [--json]\n"
    "       pickaxe recommend model [--data DIR] [--json]\n"
    "\n"
    "Without --csv, recommendations come from the data directory's customers, as GET\n"
    "/v1/recommendations/{ref} and /v1/items/{id}/similar serve them: the model is trained from\n"
    "the interactions of the definition applied with pickaxe apply {\"recommendations\": ...}\n"
    "(docs/internals/recs.md), then queried; out-of-stock products (pickaxe product) are left\n"
    "out. REF is a profile id or KIND:VALUE (user_id:42). model prints the training's figures.\n";

static double num(const cJSON *o, const char *name) {
  return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* One line per item: rank, id, score, the product's name, the reasons. */
static void print_items(const char *json) {
  cJSON *j = cJSON_Parse(json);
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items"), *it;
  int rank = 0;
  cJSON_ArrayForEach(it, items) {
    const cJSON *product = cJSON_GetObjectItemCaseSensitive(it, "product");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(product, "name"));
    const char *source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "source"));
    printf("%3d  %-16s %10.4g  %s", ++rank, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id")),
           num(it, "score"), name ? name : "");
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(it, "reasons"), *r;
    if (source && strcmp(source, "popular") == 0) printf("  (popular)");
    int k = 0;
    cJSON_ArrayForEach(r, reasons) {
      printf(k++ ? ", %s" : "  (from %s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "id")));
    }
    printf(k ? ")\n" : "\n");
  }
  const cJSON *fb = cJSON_GetObjectItemCaseSensitive(j, "fallback");
  if (cJSON_IsString(fb)) printf("(filled with %s popularity)\n", fb->valuestring);
  else if (cJSON_IsObject(fb))
    printf("(filled with the popularity in segment %s)\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fb, "segment")));
  if (!rank) printf("(nothing to recommend)\n");
  cJSON_Delete(j);
}

static void print_stats(const px_recs_stats *s) {
  printf("trained on %zu customers (%zu profiles): %zu items, %zu customer-item pairs, %zu neighbours kept\n",
         s->customers, s->profiles, s->items, s->pairs, s->neighbours);
  printf("catalog: %zu products read, %zu items excluded\n", s->catalog, s->excluded);
  printf("seconds: read %.3f, train %.3f, catalog %.3f, total %.3f\n", s->read_s, s->train_s, s->catalog_s,
         s->total_s);
}

int px_cmd_recommend_store(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *target = NULL, *n_s = NULL, *exclude = NULL, *segment = NULL;
  const char *cmd = argv[1];
  int json = 0, model_only = strcmp(cmd, "model") == 0;
  for (int i = 2; i < argc; i++) {
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--n", &n_s) ||
        px_cli_opt(argc, argv, &i, "--exclude", &exclude) || px_cli_opt(argc, argv, &i, "--segment", &segment))
      continue;
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    else if (argv[i][0] == '-' && argv[i][1])
      return px_cli_fail(PX_EXIT_USAGE, "recommend %s: unknown option %s", cmd, argv[i]);
    else if (!target && !model_only) target = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "recommend %s: unexpected argument %s", cmd, argv[i]);
  }
  if (!model_only && !target)
    return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "recommend %s: which %s?", cmd,
                                            strcmp(cmd, "user") == 0 ? "customer (REF)" : "item");
  char *end = NULL;
  long n = n_s ? strtol(n_s, &end, 10) : 10;
  if (n_s && (*end || n < 1 || n > PX_RECS_MAX_N))
    return px_cli_fail(PX_EXIT_USAGE, "recommend %s: --n must be a whole number from 1 to %d", cmd, PX_RECS_MAX_N);
  const char *ids[PX_RECS_MAX_EXCLUDE];
  px_recs_opts o = {.n = (size_t)n, .exclude = ids, .segment = segment, .now_ms = px_time_now_ms()};
  char *ex = exclude ? strdup(exclude) : NULL;
  if (ex && !px_recs_split_ids(ex, ids, &o.n_exclude)) {
    free(ex);
    return px_cli_fail(PX_EXIT_USAGE, "recommend %s: --exclude: at most %d items", cmd, PX_RECS_MAX_EXCLUDE);
  }
  px_store *st = px_cli_open(data);
  if (!st) return free(ex), PX_EXIT_FAIL;
  px_txn *txn = NULL;
  px_recs_model *m = NULL;
  px_reco_query *q = NULL;
  px_buf out;
  px_buf_init(&out, 0);
  px_error err;
  px_error_clear(&err);
  int rc = PX_EXIT_OK;
  px_status s = px_recs_train(st, o.now_ms, &m);
  if (s == PX_OK) s = px_store_begin(st, PX_TXN_READ, &txn); /* the queries' */
  if (s == PX_NOT_FOUND) {
    rc = px_cli_fail(PX_EXIT_FAIL, "recommend %s: not configured: apply {\"recommendations\": {\"interactions\": "
                                   "[...]}} first (pickaxe apply)", cmd);
  } else if (s != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "recommend %s: training: %s", cmd, px_status_str(s));
  } else if (model_only) {
    if (json) px_recs_stats_json(px_recs_model_stats(m), &out), printf("%s\n", out.data);
    else print_stats(px_recs_model_stats(m));
  } else if ((s = px_recs_query_new(m, &q)) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "recommend %s: %s", cmd, px_status_str(s));
  } else {
    if (strcmp(cmd, "similar") == 0) {
      s = px_recs_similar(m, q, txn, st, target, strlen(target), &o, &out, &err);
      if (s == PX_NOT_FOUND) px_error_set(&err, s, "item", "no customer has item %s", target);
    } else {
      uint64_t pid = 0;
      px_config cfg;
      if ((s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
        s = px_profile_find(txn, st, &cfg, target, &pid);
        px_config_free(&cfg);
      }
      if (s == PX_NOT_FOUND) px_error_set(&err, s, "ref", "no profile has id or identifier %s", target);
      else if (s == PX_OK) s = px_recs_for_profile(m, q, txn, st, pid, &o, &out, &err);
    }
    if (s == PX_OK && json) printf("%s\n", out.data);
    else if (s == PX_OK) print_items(out.data);
    else if (s == PX_NOT_FOUND || s == PX_INVALID)
      rc = px_cli_fail(s == PX_INVALID ? PX_EXIT_USAGE : PX_EXIT_FAIL, "recommend %s: %s: %s", cmd, err.field,
                       err.reason);
    else rc = px_cli_fail(PX_EXIT_FAIL, "recommend %s: %s", cmd, px_status_str(s));
  }
  px_buf_free(&out);
  px_reco_query_free(q);
  px_recs_model_free(m);
  px_store_abort(txn);
  px_store_close(st);
  free(ex);
  if (fflush(stdout) != 0 && rc == PX_EXIT_OK) rc = px_cli_fail(PX_EXIT_FAIL, "recommend %s: cannot write stdout", cmd);
  return rc;
}
