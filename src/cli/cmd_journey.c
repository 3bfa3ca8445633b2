/* pickaxe journey define|list|show|delete|funnel|of: journey stage models
 * (segment/journey.h), with or without a server running. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "profile/profile.h"
#include "segment/journey.h"

#define DAY_MS 86400000LL

static const char help[] =
    "usage: pickaxe journey define NAME (--preset retail|business | --file FILE.json) [--data DIR]\n"
    "       pickaxe journey list [--data DIR] [--json]\n"
    "       pickaxe journey show NAME [--data DIR] [--json]\n"
    "       pickaxe journey delete NAME [--data DIR]\n"
    "       pickaxe journey funnel NAME [--from DATE] [--to DATE] [--data DIR] [--json]\n"
    "       pickaxe journey of REF [--data DIR]\n"
    "\n"
    "A journey is an ordered list of stages, each a rule ({\"stages\": [{\"name\", \"rule\"}...]});\n"
    "a profile's stage is the furthest stage whose rule holds, kept current as events arrive\n"
    "and as time passes. Presets: retail (new_visitor, browsing, considering, first_purchase,\n"
    "repeat, loyal, lapsing, lost) and business (need, research, decide, adopt, use, recommend).\n"
    "funnel: per stage, the profiles in it at --to, those that entered it between --from and\n"
    "--to, how many of them reached a later stage, and the mean days of the stays that ended\n"
    "(dates YYYY-MM-DD or ISO times; default the last 30 days). of: a profile's stages and\n"
    "the time it spent in each.\n";

static void progress(void *arg, uint64_t done, uint64_t total) {
  if (!isatty(2)) return;
  fprintf(stderr, "\rjourney %s: %llu/%llu profiles", (const char *)arg, (unsigned long long)done,
          (unsigned long long)total);
  if (done == total) fputc('\n', stderr);
}


static void print_model(const cJSON *m) {
  printf("journey %s:\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name")));
  const cJSON *k;
  cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(m, "stages")) {
    printf("  %-16s %8.0f profiles  %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "name")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "profiles")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "rule")));
  }
}

static void print_funnel(const cJSON *f) {
  printf("journey %s from %s to %s, %.0f profiles\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "journey")),
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "from")),
         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "to")),
         cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "profiles")));
  printf("  %-16s %9s %9s %9s %10s %9s\n", "stage", "at end", "entered", "advanced", "conversion", "mean days");
  const cJSON *k;
  cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(f, "stages")) {
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(k, "conversion"),
                *days = cJSON_GetObjectItemCaseSensitive(k, "mean_days");
    char c[16] = "-", d[16] = "-";
    if (cJSON_IsNumber(conv)) snprintf(c, sizeof c, "%.1f%%", 100 * conv->valuedouble);
    if (cJSON_IsNumber(days)) snprintf(d, sizeof d, "%.1f", days->valuedouble);
    printf("  %-16s %9.0f %9.0f %9.0f %10s %9s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "name")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "at_end")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "entered")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "advanced")), c, d);
  }
}

static int define(px_store *st, const char *name, const char *preset, const char *file) {
  char *text = NULL, *body = NULL;
  size_t n = 0;
  if (preset) { /* {"preset": NAME}, escaped as JSON */
    cJSON *j = cJSON_CreateObject();
    if (j && cJSON_AddStringToObject(j, "preset", preset)) body = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!body) return px_cli_fail(PX_EXIT_FAIL, "journey define: out of memory");
  } else if (!(text = px_cli_read_file(file, 1 << 20, &n))) {
    return PX_EXIT_FAIL;
  }
  px_txn *txn = NULL;
  px_config cfg;
  px_error err;
  px_error_clear(&err);
  px_status s = px_store_begin(st, PX_TXN_WRITE, &txn);
  int have_cfg = s == PX_OK && (s = px_config_load(txn, st, &cfg, NULL)) == PX_OK;
  if (s == PX_OK)
    s = px_journey_define(txn, st, &cfg, name, text ? text : body, text ? n : strlen(body), px_time_now_ms(), progress,
                          (void *)name, &err);
  px_buf out;
  px_buf_init(&out, 0);
  if (s == PX_OK) s = px_journey_get(txn, st, name, &out);
  if (s == PX_OK) s = px_store_commit(txn);
  else if (txn) px_store_abort(txn);
  if (have_cfg) px_config_free(&cfg);
  free(text);
  cJSON_free(body);
  int rc = PX_EXIT_OK;
  if (s == PX_INVALID) rc = px_cli_fail(PX_EXIT_USAGE, "journey define: %s: %s", err.field, err.reason);
  else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "journey define: %s", px_status_str(s));
  else {
    cJSON *j = cJSON_Parse(out.data);
    print_model(j);
    cJSON_Delete(j);
  }
  px_buf_free(&out);
  return rc;
}

static int del(px_store *st, const char *name) {
  px_txn *txn = NULL;
  px_config cfg;
  px_status s = px_store_begin(st, PX_TXN_WRITE, &txn);
  int have_cfg = s == PX_OK && (s = px_config_load(txn, st, &cfg, NULL)) == PX_OK;
  if (s == PX_OK) s = px_journey_delete(txn, st, &cfg, name, px_time_now_ms());
  if (s == PX_OK) s = px_store_commit(txn);
  else if (txn) px_store_abort(txn);
  if (have_cfg) px_config_free(&cfg);
  if (s == PX_NOT_FOUND) return px_cli_fail(3, "journey delete: no journey named %s", name);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "journey delete: %s", px_status_str(s));
  printf("journey %s deleted\n", name);
  return PX_EXIT_OK;
}

/* list, show, funnel, of: one read transaction. */
static int read_cmd(px_store *st, const char *cmd, const char *arg, int64_t from, int64_t to, int json) {
  px_txn *txn;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "journey: %s", px_status_str(s));
  px_buf out;
  px_buf_init(&out, 0);
  if (!strcmp(cmd, "list")) {
    s = px_journey_list(txn, st, &out);
  } else if (!strcmp(cmd, "show")) {
    s = px_journey_get(txn, st, arg, &out);
  } else if (!strcmp(cmd, "funnel")) {
    s = px_journey_funnel(txn, st, arg, from, to, &out);
  } else {
    px_config cfg;
    uint64_t pid = 0;
    if ((s = px_config_load(txn, st, &cfg, NULL)) == PX_OK) {
      s = px_profile_find(txn, st, &cfg, arg, &pid);
      px_config_free(&cfg);
    }
    if (s == PX_OK) s = px_journey_of(txn, st, pid, px_time_now_ms(), &out);
    json = 1; /* its stays are a table in JSON already */
  }
  px_store_abort(txn);
  int rc = PX_EXIT_OK;
  if (s == PX_NOT_FOUND) rc = px_cli_fail(3, "journey %s: no %s %s", cmd, strcmp(cmd, "of") ? "journey named" : "profile", arg);
  else if (s != PX_OK) rc = px_cli_fail(PX_EXIT_FAIL, "journey %s: %s", cmd, px_status_str(s));
  else if (json) printf("%s\n", out.data);
  else {
    cJSON *j = cJSON_Parse(out.data);
    if (!strcmp(cmd, "funnel")) print_funnel(j);
    else if (!strcmp(cmd, "show")) print_model(j);
    else {
      const cJSON *m;
      cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "journeys")) print_model(m);
    }
    cJSON_Delete(j);
  }
  px_buf_free(&out);
  return rc;
}

int px_cmd_journey(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *preset = NULL, *file = NULL, *from_s = NULL, *to_s = NULL;
  const char *words[3] = {NULL, NULL, NULL};
  int nwords = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--preset", &preset) ||
        px_cli_opt(argc, argv, &i, "--file", &file) || px_cli_opt(argc, argv, &i, "--from", &from_s) ||
        px_cli_opt(argc, argv, &i, "--to", &to_s))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "journey: unknown option %s", argv[i]);
    else if (nwords == 2) return px_cli_fail(PX_EXIT_USAGE, "journey: unexpected argument %s", argv[i]);
    else words[nwords++] = argv[i];
  }
  const char *cmd = words[0];
  if (!cmd) return fputs(help, stderr), PX_EXIT_USAGE;
  int needs_arg = strcmp(cmd, "list") != 0;
  if (strcmp(cmd, "define") && strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "delete") &&
      strcmp(cmd, "funnel") && strcmp(cmd, "of"))
    return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "journey: unknown command %s", cmd);
  if (needs_arg != (nwords == 2))
    return px_cli_fail(PX_EXIT_USAGE, "journey %s: %s", cmd, needs_arg ? "NAME or REF is required" : "takes no argument");
  if (!strcmp(cmd, "define") && !preset == !file)
    return px_cli_fail(PX_EXIT_USAGE, "journey define: give --preset retail|business or --file FILE.json");
  int64_t to = px_time_now_ms(), from;
  if (to_s && px_time_parse_iso(to_s, &to) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "journey funnel: --to: not a date: %s", to_s);
  from = to - 30 * DAY_MS;
  if (from_s && px_time_parse_iso(from_s, &from) != PX_OK)
    return px_cli_fail(PX_EXIT_USAGE, "journey funnel: --from: not a date: %s", from_s);
  if (from > to) return px_cli_fail(PX_EXIT_USAGE, "journey funnel: --from is after --to");
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  int rc;
  if (!strcmp(cmd, "define")) rc = define(st, words[1], preset, file);
  else if (!strcmp(cmd, "delete")) rc = del(st, words[1]);
  else rc = read_cmd(st, cmd, words[1], from, to, json);
  px_store_close(st);
  return rc;
}
