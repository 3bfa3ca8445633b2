/* pickaxe source add|list, pickaxe token create */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "source/source.h"

static const char source_help[] =
    "usage: pickaxe source add NAME [--priority N] [--data DIR]\n"
    "       pickaxe source list [--data DIR]\n"
    "\n"
    "add prints the new source's write key on stdout (shown once; stored hashed).\n"
    "The priority (default 0, higher wins) serves the source_priority survivorship rule.\n";

static const char token_help[] =
    "usage: pickaxe token create [--data DIR]\n"
    "\n"
    "Prints a new admin token on stdout (shown once; stored hashed). Admin tokens\n"
    "read profiles (Authorization: Bearer TOKEN); write keys cannot.\n";

int px_cmd_source(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *prio = "0", *verb = NULL, *name = NULL;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(source_help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--priority", &prio))
      continue;
    if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "source: unknown option %s", argv[i]);
    if (!verb) verb = argv[i];
    else if (!name) name = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "source: unexpected argument %s", argv[i]);
  }
  if (!verb || (strcmp(verb, "add") && strcmp(verb, "list")))
    return fputs(source_help, stderr), PX_EXIT_USAGE;
  char *end;
  long p = strtol(prio, &end, 10);
  if (*end || p < -1000000 || p > 1000000)
    return px_cli_fail(PX_EXIT_USAGE, "source: --priority must be an integer");
  if (!strcmp(verb, "add") && !name) return px_cli_fail(PX_EXIT_USAGE, "source add: NAME is required");
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  px_txn *txn;
  int rc = PX_EXIT_FAIL;
  px_status s = px_store_begin(st, !strcmp(verb, "add"), &txn);
  if (s != PX_OK) goto out;
  if (!strcmp(verb, "add")) {
    px_source src;
    char key[PX_SECRET_MAX];
    px_error err;
    px_error_clear(&err);
    s = px_source_add(txn, st, name, (int32_t)p, &src, key, &err);
    if (s == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
    if (s == PX_OK) {
      printf("%s\n", key);
      fprintf(stderr, "source %s created (id %u, priority %ld); its write key is above\n", name, src.id, p);
      rc = PX_EXIT_OK;
    } else {
      rc = px_cli_fail(s == PX_INVALID || s == PX_EXISTS ? PX_EXIT_USAGE : PX_EXIT_FAIL,
                       "source add: %s", err.reason[0] ? err.reason : px_status_str(s));
    }
  } else {
    px_source *all;
    size_t n;
    s = px_source_list(txn, st, &all, &n);
    px_store_abort(txn);
    if (s == PX_OK) {
      printf("%-4s %-24s %8s  %s\n", "id", "name", "priority", "created");
      for (size_t i = 0; i < n; i++) {
        char t[32];
        px_time_format_iso(all[i].created_ms, t);
        printf("%-4u %-24s %8d  %s\n", all[i].id, all[i].name, all[i].priority, t);
      }
      free(all);
      rc = PX_EXIT_OK;
    }
  }
out:
  if (s != PX_OK && rc == PX_EXIT_FAIL) px_cli_fail(PX_EXIT_FAIL, "source: %s", px_status_str(s));
  px_store_close(st);
  return rc;
}

int px_cmd_token(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *verb = NULL;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(token_help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data)) continue;
    if (argv[i][0] == '-' || verb) return px_cli_fail(PX_EXIT_USAGE, "token: unexpected %s", argv[i]);
    verb = argv[i];
  }
  if (!verb || strcmp(verb, "create")) return fputs(token_help, stderr), PX_EXIT_USAGE;
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  px_txn *txn = NULL;
  char tok[PX_SECRET_MAX];
  px_status s = px_store_begin(st, 1, &txn);
  if (s == PX_OK) {
    if ((s = px_token_create(txn, st, tok)) == PX_OK) s = px_store_commit(txn);
    else px_store_abort(txn);
  }
  px_store_close(st);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "token create: %s", px_status_str(s));
  printf("%s\n", tok);
  return PX_EXIT_OK;
}
