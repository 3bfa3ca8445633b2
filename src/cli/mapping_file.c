/* Reading a mapping file for the commands that take --mapping. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

px_mapping *px_cli_load_mapping(const char *cmd, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return px_cli_fail(PX_EXIT_USAGE, "%s: cannot open the mapping %s", cmd, path), NULL;
  px_buf text;
  px_buf_init(&text, 1 << 20);
  char chunk[8192];
  size_t got;
  px_status s = PX_OK;
  while (s == PX_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0) s = px_buf_append(&text, chunk, got);
  fclose(f);
  px_mapping *m = malloc(sizeof *m);
  px_error err;
  px_error_clear(&err);
  if (s == PX_OK && m) s = px_mapping_parse(text.data ? text.data : "", text.len, m, &err);
  px_buf_free(&text);
  if (s != PX_OK || !m) {
    px_cli_fail(PX_EXIT_USAGE, "%s: mapping %s: %s%s%s", cmd, path, err.field, *err.field ? ": " : "",
                s == PX_INVALID ? err.reason : px_status_str(s));
    free(m);
    return NULL;
  }
  return m;
}
