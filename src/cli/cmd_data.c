/* pickaxe profile get, export profiles, rebuild, config set|get */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "base/timeutil.h"
#include "cli/cli.h"
#include "config/config.h"
#include "identity/identity.h"
#include "ingest/pipeline.h"
#include "profile/profile.h"

static int parse_common(int argc, char **argv, const char *help, const char **data,
                        const char **pos, int npos) {
  int got = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) {
      fputs(help, stdout);
      exit(PX_EXIT_OK);
    }
    if (px_cli_opt(argc, argv, &i, "--data", data)) continue;
    if (argv[i][0] == '-' || got >= npos) {
      fputs(help, stderr);
      exit(px_cli_fail(PX_EXIT_USAGE, "unexpected argument %s", argv[i]));
    }
    pos[got++] = argv[i];
  }
  return got;
}

static const char profile_help[] =
    "usage: pickaxe profile get REF [--data DIR]\n"
    "\n"
    "Prints the profile as JSON. REF is a profile id (16 hex digits) or kind:value,\n"
    "e.g. email:ann@example.com or user_id:42. Exit status 3 when there is none.\n";

int px_cmd_profile(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *pos[2] = {0};
  int n = parse_common(argc, argv, profile_help, &data, pos, 2);
  if (n != 2 || strcmp(pos[0], "get")) return fputs(profile_help, stderr), PX_EXIT_USAGE;
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  px_txn *txn;
  px_config cfg;
  px_buf out;
  px_buf_init(&out, 0);
  uint64_t pid = 0;
  px_status s = px_store_begin(st, 0, &txn);
  if (s != PX_OK) goto out;
  if ((s = px_config_load(txn, st, &cfg, NULL)) != PX_OK) goto abort;
  s = px_profile_find(txn, st, &cfg, pos[1], &pid);
  if (s == PX_OK) s = px_profile_render(txn, st, &cfg, pid, NULL, &out);
  if (s == PX_OK) s = px_api_profile_extras(txn, st, pid, px_time_now_ms(), &out); /* as the API shows it */
  px_config_free(&cfg);
abort:
  px_store_abort(txn);
out:
  px_store_close(st);
  if (s == PX_OK) printf("%s\n", out.data);
  px_buf_free(&out);
  if (s == PX_NOT_FOUND) return px_cli_fail(3, "profile %s not found", pos[1]);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "profile get: %s", px_status_str(s));
  return PX_EXIT_OK;
}

static const char export_help[] =
    "usage: pickaxe export profiles [--data DIR]\n"
    "\n"
    "Prints every live profile as one JSON object per line, in profile id order,\n"
    "with its timeline (event sequence numbers), segments and computed traits. The\n"
    "output is deterministic: two\n"
    "stores with the same profiles print the same bytes.\n";

int px_cmd_export(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *pos[1] = {0};
  int n = parse_common(argc, argv, export_help, &data, pos, 1);
  if (n != 1 || strcmp(pos[0], "profiles")) return fputs(export_help, stderr), PX_EXIT_USAGE;
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  px_txn *txn;
  MDB_cursor *cur = NULL;
  px_config cfg;
  int have_cfg = 0;
  px_status s = px_store_begin(st, 0, &txn);
  if (s != PX_OK) goto out;
  if ((s = px_config_load(txn, st, &cfg, NULL)) != PX_OK) goto done;
  have_cfg = 1;
  if ((s = px_store_status(mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(st, PX_DB_PROFILES), &cur))) != PX_OK)
    goto done;
  MDB_val k, v;
  px_buf line;
  px_buf_init(&line, 0);
  px_render_opts ro = {.with_timeline = 1};
  int64_t now = px_time_now_ms(); /* computed traits as of one instant for the whole export */
  px_api_extras *extras = NULL;
  int rc = 0;
  if ((s = px_api_extras_open(txn, st, &extras)) != PX_OK) goto lines;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    px_profile_rec r;
    if (v.mv_size < sizeof r) continue; /* the record, then its name counts */
    memcpy(&r, v.mv_data, sizeof r);
    if (r.merged_into) continue;
    px_buf_reset(&line);
    uint64_t pid = 0;
    for (int i = 0; i < 8; i++) pid = pid << 8 | ((unsigned char *)k.mv_data)[i];
    if ((s = px_profile_render(txn, st, &cfg, pid, &ro, &line)) != PX_OK ||
        (s = px_api_extras_write(extras, txn, st, pid, now, &line)) != PX_OK)
      break;
    fwrite(line.data, 1, line.len, stdout);
    fputc('\n', stdout);
  }
lines:
  px_api_extras_close(extras);
  px_buf_free(&line);
  if (s == PX_OK && rc != MDB_NOTFOUND) s = px_store_status(rc);
done:
  if (cur) mdb_cursor_close(cur);
  if (have_cfg) px_config_free(&cfg);
  px_store_abort(txn);
out:
  px_store_close(st);
  if (fflush(stdout) != 0) return px_cli_fail(PX_EXIT_FAIL, "export: cannot write output");
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "export: %s", px_status_str(s));
}

static const char rebuild_help[] =
    "usage: pickaxe rebuild [--data DIR]\n"
    "\n"
    "Clears every profile, identifier, merge and account, and rebuilds them by\n"
    "replaying the event log in order with the current configuration, in one\n"
    "transaction: readers see the old profiles until it commits, and a running\n"
    "server's writes wait for it.\n";

static void progress(void *arg, uint64_t done, uint64_t total) {
  (void)arg;
  if (isatty(2)) fprintf(stderr, "\rreplayed %llu/%llu events", (unsigned long long)done, (unsigned long long)total);
}

int px_cmd_rebuild(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *pos[1];
  if (parse_common(argc, argv, rebuild_help, &data, pos, 0) != 0) return PX_EXIT_USAGE;
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  px_error err;
  px_error_clear(&err);
  px_status s = px_pipeline_replay(st, progress, NULL, &err);
  px_store_close(st);
  if (isatty(2)) fputc('\n', stderr);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "rebuild: %s %s", px_status_str(s), err.reason);
  fprintf(stderr, "rebuild complete\n");
  return PX_EXIT_OK;
}

static const char config_help[] =
    "usage: pickaxe config set FILE [--data DIR]\n"
    "       pickaxe config get [--data DIR]\n"
    "\n"
    "set validates and stores a JSON configuration (see docs/CONFIG.md); every\n"
    "process on the directory, a running server included, picks it up at its\n"
    "next transaction. get prints the effective configuration.\n";

int px_cmd_config(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *pos[2] = {0};
  int n = parse_common(argc, argv, config_help, &data, pos, 2);
  int set = n == 2 && !strcmp(pos[0], "set"), get = n == 1 && !strcmp(pos[0], "get");
  if (!set && !get) return fputs(config_help, stderr), PX_EXIT_USAGE;
  size_t len = 0;
  char *json = set ? px_cli_read_file(pos[1], 1 << 20, &len) : NULL;
  if (set && !json) return PX_EXIT_FAIL;
  px_store *st = px_cli_open(data);
  if (!st) return free(json), PX_EXIT_FAIL;
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  px_config cfg;
  px_status s = px_store_begin(st, set, &txn);
  if (s == PX_OK && set) {
    s = px_config_store(txn, st, json, len, &err);
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  } else if (s == PX_OK) {
    s = px_config_load(txn, st, &cfg, &err);
    px_store_abort(txn);
    if (s == PX_OK) {
      char *out = px_config_to_json(&cfg);
      printf("%s\n", out);
      free(out);
      px_config_free(&cfg);
    }
  }
  px_store_close(st);
  free(json);
  if (s != PX_OK)
    return px_cli_fail(s == PX_INVALID || s == PX_BAD_JSON ? PX_EXIT_USAGE : PX_EXIT_FAIL,
                       "config: %s%s%s: %s", err.field, err.field[0] ? " " : "", px_status_str(s), err.reason);
  if (set) fprintf(stderr, "configuration stored\n");
  return PX_EXIT_OK;
}
