/* pickaxe mapping list|show: the mappings pickaxe apply stored (named
 * definitions, src/segment/def.h), which import and quality read with
 * --mapping NAME. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "segment/def.h"

static const char mapping_help[] =
    "usage: pickaxe mapping list [--data DIR] [--json]   every stored mapping with its version\n"
    "       pickaxe mapping show NAME [--data DIR] [--json]\n"
    "                                                   the mapping NAME as stored (JSON)\n"
    "\n"
    "Mappings are stored by pickaxe apply FILE.json holding {\"mappings\": {\"NAME\": MAPPING}}\n"
    "(docs/internals/mapping.md); a changed one gets the next version. pickaxe import\n"
    "FILE --source S --mapping NAME and pickaxe quality FILE --mapping NAME use the\n"
    "stored mapping NAME when no file of that name exists. show prints the mapping\n"
    "itself, usable as a mapping file; --json adds its name, id, version and times:\n"
    "{\"name\",\"id\",\"version\",\"created\",\"updated\",\"mapping\"} (list: {\"mappings\":[...]}).\n";

/* One definition as {"name","id","version","created","updated","mapping"}. */
static void def_json(px_buf *out, const px_def *d) {
  char created[32], updated[32];
  px_time_format_iso(d->created_ms, created);
  px_time_format_iso(d->updated_ms, updated);
  px_buf_puts(out, "{\"name\":");
  px_buf_json_str(out, d->name, strlen(d->name));
  px_buf_printf(out, ",\"id\":%u,\"version\":%llu,\"created\":\"%s\",\"updated\":\"%s\",\"mapping\":%s}", d->id,
                (unsigned long long)d->version, created, updated, d->body);
}

/* One definition as a line: name, version, what it makes, from what, when changed. */
static void def_line(px_buf *out, const px_def *d) {
  cJSON *body = cJSON_Parse(d->body);
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "type"));
  const char *format = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "format"));
  char updated[32];
  px_time_format_iso(d->updated_ms, updated);
  px_buf_printf(out, "%-24s %8llu  %-8s %-6s  %s\n", d->name, (unsigned long long)d->version,
                type ? type : "identify", format ? format : "csv", updated);
  cJSON_Delete(body);
}

static int list(px_store *st, int json) {
  px_txn *txn;
  px_def *defs = NULL;
  size_t n = 0;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s == PX_OK) {
    s = px_def_list(txn, st, PX_DEF_MAPPING, &defs, &n);
    px_store_abort(txn);
  }
  px_buf out;
  px_buf_init(&out, 0);
  if (json) px_buf_puts(&out, "{\"mappings\":[");
  else if (n) px_buf_printf(&out, "%-24s %8s  %-8s %-6s  %s\n", "NAME", "VERSION", "TYPE", "FORMAT", "UPDATED");
  for (size_t i = 0; i < n; i++) {
    if (json && i) px_buf_putc(&out, ',');
    if (json) def_json(&out, &defs[i]);
    else def_line(&out, &defs[i]);
  }
  if (json) px_buf_puts(&out, "]}\n");
  for (size_t i = 0; i < n; i++) px_def_free(&defs[i]);
  free(defs);
  if (s == PX_OK && out.data) fputs(out.data, stdout);
  px_buf_free(&out);
  return s == PX_OK ? PX_EXIT_OK : px_cli_fail(PX_EXIT_FAIL, "mapping: %s", px_status_str(s));
}

static int show(px_store *st, const char *data, const char *name, int json) {
  px_def d;
  px_status s = px_def_read(st, PX_DEF_MAPPING, name, &d);
  if (s == PX_NOT_FOUND)
    return px_cli_fail(3, "mapping: no mapping named %s in %s (pickaxe apply defines them)", name, data);
  if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "mapping: %s", px_status_str(s));
  px_buf out;
  px_buf_init(&out, 0);
  if (json) def_json(&out, &d);
  else px_buf_puts(&out, d.body);
  px_buf_putc(&out, '\n');
  fputs(out.data, stdout);
  px_buf_free(&out);
  px_def_free(&d);
  return PX_EXIT_OK;
}

int px_cmd_mapping(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *words[2];
  int nwords = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(mapping_help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "mapping: unknown option %s", argv[i]);
    else if (nwords < 2) words[nwords++] = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "mapping: unexpected argument %s", argv[i]);
  }
  if (!nwords) return fputs(mapping_help, stderr), PX_EXIT_USAGE;
  const char *cmd = words[0];
  if (!strcmp(cmd, "list")) {
    if (nwords != 1) return px_cli_fail(PX_EXIT_USAGE, "mapping list takes no names");
  } else if (!strcmp(cmd, "show")) {
    if (nwords != 2) return px_cli_fail(PX_EXIT_USAGE, "mapping show NAME");
    if (!px_def_name_ok(words[1]))
      return px_cli_fail(PX_EXIT_USAGE, "mapping: bad name \"%s\" (1-127 of A-Z a-z 0-9 _ - .)", words[1]);
  } else {
    return fputs(mapping_help, stderr), px_cli_fail(PX_EXIT_USAGE, "mapping: unknown command %s", cmd);
  }
  struct stat sb;
  if (stat(data, &sb) != 0) /* do not create an empty directory just to list nothing */
    return px_cli_fail(PX_EXIT_USAGE, "mapping: no data directory %s", data);
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  int rc = !strcmp(cmd, "list") ? list(st, json) : show(st, data, words[1], json);
  px_store_close(st);
  return rc;
}
