/* The pickaxe command line. Each command parses its own options. */
#ifndef PX_CLI_CLI_H
#define PX_CLI_CLI_H

#include "base/status.h"
#include "mapping/mapping.h"
#include "store/store.h"

#define PX_DEFAULT_DATA "./pickaxe-data"
#define PX_DEFAULT_LISTEN "127.0.0.1:8080"

/* Exit codes. */
enum { PX_EXIT_OK = 0, PX_EXIT_FAIL = 1, PX_EXIT_USAGE = 2 };

int px_cmd_serve(int argc, char **argv);
int px_cmd_source(int argc, char **argv);
int px_cmd_token(int argc, char **argv);
int px_cmd_import(int argc, char **argv);
int px_cmd_profile(int argc, char **argv);
int px_cmd_export(int argc, char **argv);
int px_cmd_rebuild(int argc, char **argv);
int px_cmd_config(int argc, char **argv);
int px_cmd_quality(int argc, char **argv);
int px_cmd_resolve(int argc, char **argv);
int px_cmd_link(int argc, char **argv);
int px_cmd_rule(int argc, char **argv);
int px_cmd_segment(int argc, char **argv);
int px_cmd_apply(int argc, char **argv);
int px_cmd_rfm(int argc, char **argv);
int px_cmd_clv(int argc, char **argv);
int px_cmd_clv_store(int argc, char **argv); /* clv refresh|show|models (argv[1]) */
int px_cmd_journey(int argc, char **argv);
int px_cmd_discover(int argc, char **argv);
int px_cmd_mapping(int argc, char **argv);
int px_cmd_recommend(int argc, char **argv);
int px_cmd_recommend_store(int argc, char **argv); /* recommend user|similar|model without --csv (argv[1]) */
int px_cmd_product(int argc, char **argv);

/* The mapping --mapping ref names, read and checked: the mapping file at
 * ref when there is one, else the mapping named ref that pickaxe apply
 * stored in the data directory data (read through st when it is open; else
 * data is opened for the read, and not created when it does not exist).
 * malloc'd (free); NULL after saying why (as cmd). */
px_mapping *px_cli_load_mapping(const char *cmd, const char *ref, const char *data, px_store *st);

/* Option helpers: argv[*i] is the option; its value is argv[*i + 1]. */
int px_cli_is_help(const char *a);
/* When argv[*i] is opt, stores its value, advances *i and returns 1. Exits
 * with a usage error when the value is missing. */
int px_cli_opt(int argc, char **argv, int *i, const char *opt, const char **val);
/* Prints "pickaxe: msg" to stderr and returns code. */
int px_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens the data directory's store, or prints why not. */
px_store *px_cli_open(const char *dir);
/* PICKAXE_MIN_FREE (bytes, K/M/G suffixes): the free-disk reserve; 0 = default. */
uint64_t px_cli_min_free(void);
/* Reads a whole file (max bytes); NULL with a message on failure. */
char *px_cli_read_file(const char *path, size_t max, size_t *n);

#endif
