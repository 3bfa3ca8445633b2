/* The mapping of the commands that take --mapping: a mapping file, or a
 * mapping that pickaxe apply stored under a name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "segment/def.h"

/* Parses and checks a mapping's JSON (what names it in errors). */
static px_mapping *parse(const char *cmd, const char *what, const char *text, size_t n) {
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  px_error_clear(&err);
  px_status s = m ? px_mapping_parse(text, n, m, &err) : PX_NOMEM;
  if (s != PX_OK) {
    px_cli_fail(PX_EXIT_USAGE, "%s: mapping %s: %s%s%s", cmd, what, err.field, *err.field ? ": " : "",
                s == PX_INVALID ? err.reason : px_status_str(s));
    free(m);
    return NULL;
  }
  return m;
}

static px_mapping *load_file(const char *cmd, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return px_cli_fail(PX_EXIT_USAGE, "%s: cannot open the mapping %s", cmd, path), NULL;
  px_buf text;
  px_buf_init(&text, 1 << 20);
  char chunk[8192];
  size_t got;
  px_status s = PX_OK;
  while (s == PX_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0) s = px_buf_append(&text, chunk, got);
  fclose(f);
  px_mapping *m = NULL;
  if (s == PX_OK) m = parse(cmd, path, text.data ? text.data : "", text.len);
  else px_cli_fail(PX_EXIT_USAGE, "%s: mapping %s: %s", cmd, path, px_status_str(s));
  px_buf_free(&text);
  return m;
}

/* The mapping stored as name in st into *out (NULL after saying why it
 * does not parse); PX_NOT_FOUND when there is none. */
static px_status load_stored(const char *cmd, px_store *st, const char *name, px_mapping **out) {
  px_def d;
  px_status s = px_def_read(st, PX_DEF_MAPPING, name, &d);
  if (s == PX_OK) {
    char what[PX_DEF_NAME_MAX + 48];
    snprintf(what, sizeof what, "%s (stored, version %llu)", name, (unsigned long long)d.version);
    *out = parse(cmd, what, d.body, strlen(d.body));
    px_def_free(&d);
  } else if (s != PX_NOT_FOUND) {
    px_cli_fail(PX_EXIT_FAIL, "%s: mapping %s: %s", cmd, name, px_status_str(s));
  }
  return s;
}

px_mapping *px_cli_load_mapping(const char *cmd, const char *ref, const char *data, px_store *st) {
  struct stat sb;
  /* A file that exists, or one that cannot be looked at (its own error). */
  if (stat(ref, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR)) return load_file(cmd, ref);
  if (px_def_name_ok(ref)) {
    px_store *own = NULL;
    if (!st && stat(data, &sb) == 0) /* do not create an empty data directory just to find nothing */
      if (!(st = own = px_cli_open(data))) return NULL;
    px_mapping *m = NULL;
    px_status s = st ? load_stored(cmd, st, ref, &m) : PX_NOT_FOUND;
    px_store_close(own);
    if (s != PX_NOT_FOUND) return m; /* NULL after saying why */
  }
  px_cli_fail(PX_EXIT_USAGE, "%s: no mapping file %s and no mapping named %s in %s (pickaxe apply defines them)",
              cmd, ref, ref, data);
  return NULL;
}
