/* pickaxe link: probabilistic identity resolution over the stored profiles.
 * Profiles that share no identifier but are the same person (the same name,
 * birth date and address written differently in a CRM and a POS export) are
 * found by the record-linkage engine (src/match/link.h) and joined by merge
 * events through the ordinary pipeline: logged (durable, replayed by
 * rebuild), deduplicated, bound by the identity rules and audited with cause
 * "probabilistic", the score and its explanation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "config/config.h"
#include "identity/identity.h"
#include "ingest/pipeline.h"
#include "match/link.h"
#include "profile/profile.h"
#include "store/key.h"

#define MAX_COLUMNS PX_EM_MAX_FIELDS
#define MERGES_PER_TXN 1000

static const char help[] =
    "usage: pickaxe link [--config MATCH.json] [--dry-run] [--explain N] [--json]\n"
    "                    [--print-config] [--data DIR]\n"
    "\n"
    "Finds stored profiles that are the same person although they share no\n"
    "identifier, by probabilistic matching over their traits (and identifiers\n"
    "such as email and phone), and merges them. Each merge is an event in the\n"
    "log: durable, replayed by rebuild, bound by the identity rules (a merge\n"
    "that would pass a per-kind maximum is refused and audited), and readable\n"
    "with its score and explanation under /v1/profiles/{ref}/merges (cause\n"
    "\"probabilistic\"). A pair decided once is never logged again; a later run\n"
    "over the merged profiles may find a few more.\n"
    "\n"
    "Without --config the configuration is inferred from the traits (see\n"
    "pickaxe resolve); --print-config prints it (a starting point for --config,\n"
    "whose \"column\"s name traits or identifier kinds). --dry-run decides\n"
    "without merging; --explain N prints the N strongest matches with their\n"
    "per-field levels and weights. --json prints {\"profiles\", \"pairs_compared\",\n"
    "\"matched_pairs\", \"merges_logged\", \"merged\", \"refused\", \"seconds\"}.\n";

/* The profiles as records: one row per live profile, one column per trait
 * or identifier kind that any profile has (or per configured column). */
typedef struct table {
  char *names[MAX_COLUMNS];
  int ncols;
  int fixed;      /* columns given by a configuration: no others are added */
  char **values;  /* n x MAX_COLUMNS, NULL when absent */
  char (*ref)[2][PX_IDENT_VALUE_MAX + 1]; /* per row: an identifier that names the profile (kind, value) */
  uint64_t *pid;
  size_t n, cap;
  size_t dropped_columns; /* names past MAX_COLUMNS, left out */
} table;

static int column(table *t, const char *name) {
  for (int c = 0; c < t->ncols; c++)
    if (strcmp(t->names[c], name) == 0) return c;
  if (t->fixed) return -1;
  if (t->ncols == MAX_COLUMNS) {
    t->dropped_columns++;
    return -1;
  }
  t->names[t->ncols] = strdup(name);
  return t->names[t->ncols] ? t->ncols++ : -1;
}

static void put(table *t, size_t row, const char *name, const cJSON *v) {
  char num[32];
  const char *text = cJSON_GetStringValue(v);
  if (cJSON_IsNumber(v)) snprintf(num, sizeof num, "%.15g", v->valuedouble), text = num;
  if (!text || !*text) return;
  int c = column(t, name);
  char **cell = c >= 0 ? &t->values[row * MAX_COLUMNS + (size_t)c] : NULL;
  if (cell && !*cell) *cell = strdup(text); /* traits first, then identifiers: the first wins */
}

/* One profile's render into a row. */
static px_status add_row(table *t, uint64_t pid, const cJSON *p) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **values = realloc(t->values, cap * MAX_COLUMNS * sizeof *values);
    if (values) t->values = values;
    void *ref = realloc(t->ref, cap * sizeof *t->ref);
    if (ref) t->ref = ref;
    uint64_t *pids = realloc(t->pid, cap * sizeof *pids);
    if (pids) t->pid = pids;
    if (!values || !ref || !pids) return PX_NOMEM;
    memset(t->values + t->cap * MAX_COLUMNS, 0, (cap - t->cap) * MAX_COLUMNS * sizeof *values);
    t->cap = cap;
  }
  size_t row = t->n;
  const cJSON *it, *ids = cJSON_GetObjectItemCaseSensitive(p, "identifiers");
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "traits")) put(t, row, it->string, it);
  const char *kind0 = NULL, *value0 = NULL;
  cJSON_ArrayForEach(it, ids) {
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "kind"));
    const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "value"));
    if (!kind || !value) continue;
    if (!kind0) kind0 = kind, value0 = value;
    put(t, row, kind, cJSON_GetObjectItemCaseSensitive(it, "value"));
  }
  if (!kind0 || strlen(kind0) > PX_IDENT_VALUE_MAX || strlen(value0) > PX_IDENT_VALUE_MAX) {
    char **cells = &t->values[row * MAX_COLUMNS]; /* nothing to name it by (not for a live profile): left out */
    for (int c = 0; c < MAX_COLUMNS; c++) free(cells[c]), cells[c] = NULL;
    return PX_OK;
  }
  strcpy(t->ref[row][0], kind0);
  strcpy(t->ref[row][1], value0);
  t->pid[row] = pid;
  t->n++;
  return PX_OK;
}

static void table_free(table *t) {
  for (size_t i = 0; i < t->n * MAX_COLUMNS && t->values; i++) free(t->values[i]);
  for (int c = 0; c < t->ncols; c++) free(t->names[c]);
  free(t->values), free(t->ref), free(t->pid);
}

/* Every live profile, rendered and read into the table. */
static px_status read_profiles(px_store *st, const px_config *cfg, table *t) {
  px_txn *txn;
  px_status s = px_store_begin(st, 0, &txn);
  if (s != PX_OK) return s;
  MDB_cursor *cur = NULL;
  s = px_store_status(mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(st, PX_DB_PROFILES), &cur));
  px_buf b;
  px_buf_init(&b, 0);
  MDB_val k, v;
  int rc = MDB_NOTFOUND;
  for (rc = s == PX_OK ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND; rc == 0 && s == PX_OK;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec r;
    if (k.mv_size != 8 || v.mv_size < sizeof r) continue;
    memcpy(&r, v.mv_data, sizeof r);
    if (r.merged_into) continue;
    uint64_t pid = px_get_u64(k.mv_data);
    px_buf_reset(&b);
    if ((s = px_profile_render(txn, st, cfg, pid, NULL, &b)) != PX_OK) break;
    cJSON *p = cJSON_ParseWithLength(b.data, b.len);
    s = p ? add_row(t, pid, p) : PX_STORE;
    cJSON_Delete(p);
  }
  if (s == PX_OK && rc != 0 && rc != MDB_NOTFOUND) s = px_store_status(rc);
  px_buf_free(&b);
  if (cur) mdb_cursor_close(cur);
  px_store_abort(txn);
  return s;
}

/* The values in the configuration's field order (n x nfields, borrowed). */
static const char **field_values(const table *t, const px_match_config *mc) {
  const char **vals = calloc(t->n * (size_t)mc->nfields + 1, sizeof *vals);
  if (!vals) return NULL;
  for (int f = 0; f < mc->nfields; f++) {
    int c = -1;
    for (int j = 0; j < t->ncols && c < 0; j++)
      if (strcmp(t->names[j], mc->fields[f].column) == 0) c = j;
    for (size_t r = 0; r < t->n && c >= 0; r++) vals[r * (size_t)mc->nfields + (size_t)f] = t->values[r * MAX_COLUMNS + (size_t)c];
  }
  return vals;
}

/* An identifier as {"kind", "value"}. */
static cJSON *ident_json(const char ref[2][PX_IDENT_VALUE_MAX + 1]) {
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "kind", ref[0]) || !cJSON_AddStringToObject(o, "value", ref[1])))
    cJSON_Delete(o), o = NULL;
  return o;
}

/* The merge event for matched pair i: the explanation of the match, its
 * "a" and "b" (record numbers) replaced by an identifier of each profile.
 * Its messageId is a hash of the two identifiers, so deciding the same
 * pair again is a duplicate. The caller deletes it. */
static cJSON *merge_message(const table *t, const px_match_config *mc, const px_link_result *lr, size_t i) {
  const char(*ra)[PX_IDENT_VALUE_MAX + 1] = t->ref[lr->a[i]], (*rb)[PX_IDENT_VALUE_MAX + 1] = t->ref[lr->b[i]];
  XXH3_state_t *h = XXH3_createState();
  if (!h) return NULL;
  XXH3_128bits_reset(h);
  const char *parts[4] = {ra[0], ra[1], rb[0], rb[1]};
  for (int k = 0; k < 4; k++) XXH3_128bits_update(h, parts[k], strlen(parts[k]) + 1);
  XXH128_hash_t d = XXH3_128bits_digest(h);
  XXH3_freeState(h);
  char mid[48];
  snprintf(mid, sizeof mid, "match-%016llx%016llx", (unsigned long long)d.high64, (unsigned long long)d.low64);
  px_buf why;
  px_buf_init(&why, 0);
  cJSON *merge = px_link_explain(mc, lr, i, &why) == PX_OK ? cJSON_ParseWithLength(why.data, why.len) : NULL;
  px_buf_free(&why);
  cJSON *msg = cJSON_CreateObject(), *a = ident_json(ra), *b = ident_json(rb);
  int ok = merge && msg && a && b && cJSON_AddStringToObject(msg, "messageId", mid);
  if (ok && (ok = cJSON_ReplaceItemInObjectCaseSensitive(merge, "a", a))) a = NULL; /* owned by merge now */
  if (ok && (ok = cJSON_ReplaceItemInObjectCaseSensitive(merge, "b", b))) b = NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(merge, "joined"); /* the linker's own bookkeeping */
  if (ok && (ok = cJSON_AddItemToObject(msg, "merge", merge))) merge = NULL;
  cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(merge);
  if (!ok) cJSON_Delete(msg), msg = NULL;
  return msg;
}

/* Logs and applies the merges of the pairs the clusterer joined, in
 * transactions of MERGES_PER_TXN. */
static px_status apply_merges(px_store *st, const px_config *cfg, const table *t, const px_match_config *mc,
                              const px_link_result *lr, uint64_t *logged) {
  px_status s = PX_OK;
  size_t i = 0;
  while (s == PX_OK && i < lr->npairs) {
    px_txn *txn;
    if ((s = px_store_begin(st, 1, &txn)) != PX_OK) break;
    for (size_t done = 0; s == PX_OK && i < lr->npairs && done < MERGES_PER_TXN; i++) {
      if (!lr->joined[i]) continue;
      cJSON *item = merge_message(t, mc, lr, i);
      if (!item) {
        s = PX_NOMEM;
        break;
      }
      px_event_ctx ctx = {.type = PX_EV_MERGE, .source_id = 0, .received_ms = px_time_now_ms()};
      px_event ev;
      px_error err;
      px_error_clear(&err);
      if ((s = px_pipeline_prepare(cfg, item, &ctx, &ev, &err)) != PX_OK) break;
      int dup = 0;
      s = px_pipeline_ingest(txn, st, cfg, &ev, &dup, NULL);
      px_event_free(&ev);
      if (s == PX_OK && !dup) ++*logged, done++;
    }
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  return s;
}

static uint64_t counter(px_store *st, const char *name) {
  px_txn *txn;
  uint64_t v = 0;
  if (px_store_begin(st, 0, &txn) == PX_OK) {
    px_store_counter(txn, st, name, &v);
    px_store_abort(txn);
  }
  return v;
}

static void print_explained(const table *t, const px_match_config *mc, const px_link_result *lr, size_t max) {
  px_buf b;
  px_buf_init(&b, 0);
  for (size_t i = 0; i < lr->npairs && i < max; i++) {
    char pa[17], pb[17];
    px_profile_id_format(t->pid[lr->a[i]], pa);
    px_profile_id_format(t->pid[lr->b[i]], pb);
    px_buf_reset(&b);
    if (px_link_explain(mc, lr, i, &b) != PX_OK) break;
    printf("{\"a\":\"%s\",\"b\":\"%s\",\"match\":%s}\n", pa, pb, b.data);
  }
  px_buf_free(&b);
}

int px_cmd_link(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *config_path = NULL, *explain = NULL;
  int json = 0, dry = 0, print_config = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--config", &config_path) ||
        px_cli_opt(argc, argv, &i, "--explain", &explain))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--dry-run")) dry = 1;
    else if (!strcmp(argv[i], "--print-config")) print_config = 1;
    else return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "link: unexpected argument %s", argv[i]);
  }
  char *end;
  long nexplain = explain ? strtol(explain, &end, 10) : 0;
  if (explain && (*end || nexplain < 0)) return px_cli_fail(PX_EXIT_USAGE, "link: --explain needs a count");
  px_match_config *mc = calloc(1, sizeof *mc);
  if (!mc) return px_cli_fail(PX_EXIT_FAIL, "link: out of memory");
  table t = {0};
  px_error err;
  px_error_clear(&err);
  if (config_path) {
    size_t n;
    char *text = px_cli_read_file(config_path, 1 << 20, &n);
    if (!text) return free(mc), PX_EXIT_FAIL;
    px_status s = px_match_config_parse(text, n, mc, &err);
    free(text);
    if (s != PX_OK) {
      free(mc);
      return px_cli_fail(PX_EXIT_USAGE, "link: %s: %s%s%s", config_path, err.field, *err.field ? ": " : "", err.reason);
    }
    for (int f = 0; f < mc->nfields; f++) column(&t, mc->fields[f].column);
    t.fixed = 1;
  }
  int rc = PX_EXIT_FAIL;
  const char **vals = NULL;
  px_link_result lr = {0};
  int have_lr = 0;
  px_config cfg;
  int have_cfg = 0;
  px_store *st = px_cli_open(data);
  if (!st) goto out;
  uint64_t t0 = px_time_mono_ns();
  px_txn *txn;
  px_status s = px_store_begin(st, 0, &txn);
  if (s == PX_OK) {
    s = px_config_load(txn, st, &cfg, NULL);
    have_cfg = s == PX_OK;
    px_store_abort(txn);
  }
  if (s == PX_OK) s = read_profiles(st, &cfg, &t);
  if (s != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "link: reading profiles: %s", px_status_str(s));
    goto out;
  }
  if (!config_path) {
    const char **sample = calloc(t.n * (size_t)t.ncols + 1, sizeof *sample);
    if (!sample) goto out;
    for (size_t r = 0; r < t.n; r++)
      for (int c = 0; c < t.ncols; c++) {
        const char *v = t.values[r * MAX_COLUMNS + (size_t)c];
        sample[r * (size_t)t.ncols + (size_t)c] = v ? v : "";
      }
    s = px_match_config_infer((const char *const *)t.names, t.ncols, sample, t.n, NULL, mc, &err);
    free(sample);
    if (s != PX_OK) {
      rc = px_cli_fail(PX_EXIT_FAIL, "link: cannot infer a configuration from %zu profiles: %s", t.n, err.reason);
      goto out;
    }
  }
  if (print_config) {
    px_buf b;
    px_buf_init(&b, 0);
    s = px_match_config_json(mc, &b);
    if (s == PX_OK) puts(b.data);
    px_buf_free(&b);
    rc = s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "link: %s", px_status_str(s));
    goto out;
  }
  if (!(vals = field_values(&t, mc))) goto out;
  if ((s = px_link_run(mc, vals, t.n, &lr)) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "link: matching: %s", px_status_str(s));
    goto out;
  }
  have_lr = 1;
  if (nexplain) print_explained(&t, mc, &lr, (size_t)nexplain);
  uint64_t logged = 0, merges0 = counter(st, "merges");
  if (!dry && (s = apply_merges(st, &cfg, &t, mc, &lr, &logged)) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "link: merging: %s (merges before it are stored)", px_status_str(s));
    goto out;
  }
  uint64_t merged = counter(st, "merges") - merges0;
  size_t joined = 0;
  for (size_t i = 0; i < lr.npairs; i++) joined += lr.joined[i];
  double secs = (double)(px_time_mono_ns() - t0) / 1e9;
  if (json) {
    printf("{\"profiles\":%zu,\"pairs_compared\":%zu,\"matched_pairs\":%zu,\"joined_pairs\":%zu,"
           "\"merges_logged\":%llu,\"merged\":%llu,\"refused\":%llu,\"dry_run\":%s,\"seconds\":%.3f}\n",
           t.n, lr.pairs_compared, lr.npairs, joined, (unsigned long long)logged, (unsigned long long)merged,
           (unsigned long long)(logged - merged), dry ? "true" : "false", secs);
  } else {
    printf("%zu profiles, %zu pairs compared, %zu matched (%zu to join)%s", t.n, lr.pairs_compared, lr.npairs,
           joined, dry ? ": dry run, nothing merged" : "");
    if (!dry)
      printf(": %llu merges logged, %llu merged, %llu refused by the identity rules", (unsigned long long)logged,
             (unsigned long long)merged, (unsigned long long)(logged - merged));
    printf(" in %.2f s\n", secs);
  }
  if (t.dropped_columns) fprintf(stderr, "pickaxe: link: only the first %d traits are compared\n", MAX_COLUMNS);
  rc = PX_EXIT_OK;
out:
  if (have_lr) px_link_free(&lr);
  free(vals);
  if (have_cfg) px_config_free(&cfg);
  table_free(&t);
  free(mc);
  if (st) px_store_close(st);
  return rc;
}
