/* pickaxe quality FILE | --source NAME: the data quality of a CSV export, or
 * of the events a source stored, column by column. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "csv/csv.h"
#include "event/event.h"
#include "mapping/mapping.h"
#include "quality/quality.h"
#include "source/source.h"
#include "store/key.h"

static const char help[] =
    "usage: pickaxe quality FILE [FILE...] [--mapping MAP] [--data DIR] [--json]\n"
    "       pickaxe quality [FILE...] --source NAME [--source NAME...] [--data DIR]\n"
    "                       [--limit N] [--json]\n"
    "\n"
    "Reports, for each column of the CSV file FILE: how many rows fill it, how\n"
    "many distinct values it has, its most common values and value patterns\n"
    "(letters as A/a, digits as 9: \"Aaaa 999\"), and with --mapping how many\n"
    "values fail the mapping's type or standardization for that column. The\n"
    "file is read as the mapping says (delimiter, header), else with a header\n"
    "and a detected delimiter. MAP is a mapping file, or when no such file exists\n"
    "the name of a mapping pickaxe apply stored in --data DIR (pickaxe mapping\n"
    "list). --json prints {\"rows\",\"bad_records\",\"columns_capped\",\"columns\":[...]}.\n"
    "\n"
    "--source NAME reports the same on the events the source NAME stored in the\n"
    "data directory (with or without a server running). Its fields: \"type\",\n"
    "\"event\" (a track's), \"userId\", \"anonymousId\", \"name\" (a page's or\n"
    "screen's), \"groupId\", \"previousId\", and the members of traits (identify,\n"
    "group), properties (track, page, screen) and context.traits by path:\n"
    "\"traits.address.city\", \"properties.products[].sku\" (at most 256 fields).\n"
    "Fill rates are over all the source's events (\"events\" instead of \"rows\").\n"
    "--limit N reads only its newest N events.\n"
    "\n"
    "With several inputs (files, sources; --mapping goes with one file): each\n"
    "one's report, then the candidate join keys: pairs of columns of different\n"
    "inputs whose values overlap (the same customer number in POS and CRM\n"
    "exports, e-mails in two systems, a CRM export's customer number and a\n"
    "source's userId), with how many values they share; a source is named\n"
    "source:NAME (--json: {\"files\":[{\"file\"|\"source\",\"report\"}],\"overlaps\":[...]}).\n";

/* Profiles one file into *out; an exit code. */
static int profile_file(const char *file, px_mapping *m, int keys, px_quality **out) {
  int rc = PX_EXIT_FAIL, fd = open(file, O_RDONLY);
  struct stat sb;
  void *map = MAP_FAILED;
  px_csv *csv = NULL;
  px_quality *q = NULL;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    px_cli_fail(PX_EXIT_FAIL, "quality: cannot open %s", file);
    goto done;
  }
  if (sb.st_size > 0 && (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
    px_cli_fail(PX_EXIT_FAIL, "quality: cannot read %s", file);
    goto done;
  }
  px_error err;
  px_error_clear(&err);
  px_csv_opts def = {0};
  if (px_csv_open(sb.st_size > 0 ? map : "", (size_t)sb.st_size, m ? &m->csv : &def, &csv, &err) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "quality: %s: the header: %s", file, err.reason);
    goto done;
  }
  const px_csv_field *cols;
  size_t ncols = px_csv_columns(csv, &cols);
  if (m && px_mapping_bind(m, cols, ncols, &err) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_USAGE, "quality: mapping %s: %s", err.field, err.reason);
    goto done;
  }
  if (!(q = px_quality_create(cols, ncols, m, keys))) goto done;
  const px_csv_field *f;
  size_t nf;
  long line;
  px_status s;
  while ((s = px_csv_next(csv, &f, &nf, &line, &err)) != PX_NOT_FOUND) {
    if (s == PX_OK) px_quality_add(q, f, nf);
    else if (s == PX_INVALID) px_quality_bad_record(q);
    else goto done;
  }
  *out = q;
  q = NULL;
  rc = PX_EXIT_OK;
done:
  px_quality_destroy(q);
  px_csv_close(csv);
  if (map != MAP_FAILED) munmap(map, (size_t)sb.st_size);
  if (fd >= 0) close(fd);
  return rc;
}

/* One stored event as a record: its identifiers, names and flattened
 * traits and properties. */
static px_status add_event(px_quality *q, const px_event *ev) {
  const struct {
    const char *name, *value;
  } fixed[] = {{"type", px_event_type_name(ev->type)},
               {"event", ev->type == PX_EV_TRACK ? ev->name : NULL},
               {"name", ev->type != PX_EV_TRACK ? ev->name : NULL},
               {"userId", ev->user_id},
               {"anonymousId", ev->anonymous_id},
               {"groupId", ev->group_id},
               {"previousId", ev->previous_id}};
  px_quality_begin(q);
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
    if (!fixed[i].value) continue;
    long col = px_quality_column(q, fixed[i].name, strlen(fixed[i].name));
    if (col >= 0) px_quality_value(q, (size_t)col, fixed[i].value, strlen(fixed[i].value));
  }
  int props = ev->type == PX_EV_TRACK || ev->type == PX_EV_PAGE || ev->type == PX_EV_SCREEN;
  px_status s = px_quality_add_json(q, "traits", ev->traits);
  if (s == PX_OK && props) s = px_quality_add_json(q, "properties", ev->properties);
  if (s == PX_OK) s = px_quality_add_json(q, "context.traits", ev->context_traits);
  return s;
}

#define FIXED_COLUMNS 4 /* always listed, in this order; the others by name */
static const char *const fixed_columns[FIXED_COLUMNS] = {"type", "event", "userId", "anonymousId"};

static void progress(const char *name, uint64_t read, uint64_t total, int done) {
  if (!isatty(2)) return;
  fprintf(stderr, "\rquality: source %s: %llu/%llu log entries read%s", name, (unsigned long long)read,
          (unsigned long long)total, done ? "\n" : "");
}

/* Profiles the events source name stored, newest first (the newest limit
 * of them; 0: all), into *out; an exit code. One read transaction: a
 * running server's writes are not waited for, nor seen. */
static int profile_source(px_store *st, const char *name, uint64_t limit, int keys, px_quality **out) {
  px_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  px_quality *q = NULL;
  px_source src;
  uint64_t total = 0, read = 0, taken = 0;
  int rc = PX_EXIT_FAIL, shown = 0;
  px_status s = px_store_begin(st, PX_TXN_READ, &txn);
  if (s == PX_OK) s = px_source_find(txn, st, name, &src);
  if (s == PX_NOT_FOUND) {
    rc = px_cli_fail(PX_EXIT_USAGE, "quality: no source named %s", name);
    goto done;
  }
  if (s == PX_OK) s = px_store_count(txn, st, PX_DB_EVENTS, &total);
  if (s != PX_OK) goto fail;
  if (!(q = px_quality_create(NULL, 0, NULL, keys))) goto fail_nomem;
  px_quality_set_unit(q, "events");
  if ((s = px_store_status(mdb_cursor_open(px_txn_mdb(txn, PX_DB_EVENTS), px_store_dbi(st, PX_DB_EVENTS), &cur))) !=
      PX_OK)
    goto fail;
  MDB_val k, v;
  int mrc;
  for (mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST); mrc == 0 && (!limit || taken < limit);
       mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
    if (++read % 65536 == 0) progress(name, read, total, 0), shown = 1;
    px_event_rec h;
    if (v.mv_size < sizeof h || k.mv_size != 8) continue;
    memcpy(&h, v.mv_data, sizeof h);
    if (h.source_id != src.id) continue;
    if (++taken == 1) /* a source without events has an empty report */
      for (int i = 0; i < FIXED_COLUMNS; i++) px_quality_column(q, fixed_columns[i], strlen(fixed_columns[i]));
    px_event ev;
    if (px_event_decode(v.mv_data, v.mv_size, px_get_u64(k.mv_data), &ev) != PX_OK) px_quality_bad_record(q);
    else s = add_event(q, &ev);
    px_event_free(&ev);
    if (s != PX_OK) goto fail;
  }
  if (mrc != 0 && mrc != MDB_NOTFOUND) {
    s = px_store_status(mrc);
    goto fail;
  }
  if (shown) progress(name, read, total, 1);
  if ((s = px_quality_sort_columns(q, taken ? FIXED_COLUMNS : 0)) != PX_OK) goto fail;
  *out = q;
  q = NULL;
  rc = PX_EXIT_OK;
  goto done;
fail_nomem:
  s = PX_NOMEM;
fail:
  if (shown) fputc('\n', stderr);
  rc = px_cli_fail(PX_EXIT_FAIL, "quality: source %s: %s", name, px_status_str(s));
done:
  if (cur) mdb_cursor_close(cur);
  px_store_abort(txn);
  px_quality_destroy(q);
  return rc;
}

#define MAX_FILES 16

int px_cmd_quality(int argc, char **argv) {
  /* The inputs: files first, then sources; labels[i] names qs[i]. */
  const char *files[MAX_FILES], *sources[MAX_FILES], *mapping_path = NULL, *data = PX_DEFAULT_DATA, *limit_arg = NULL;
  char *labels[MAX_FILES] = {0};
  size_t nfiles = 0, nsources = 0;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *src;
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--mapping", &mapping_path) || px_cli_opt(argc, argv, &i, "--data", &data) ||
        px_cli_opt(argc, argv, &i, "--limit", &limit_arg))
      continue;
    if (px_cli_opt(argc, argv, &i, "--source", &src)) {
      if (nfiles + nsources >= MAX_FILES) return px_cli_fail(PX_EXIT_USAGE, "quality: at most %d inputs", MAX_FILES);
      sources[nsources++] = src;
    } else if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "quality: unknown option %s", argv[i]);
    else if (nfiles + nsources < MAX_FILES) files[nfiles++] = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "quality: at most %d inputs", MAX_FILES);
  }
  if (!nfiles && !nsources)
    return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "quality: FILE or --source NAME is required");
  if (mapping_path && nfiles != 1) return px_cli_fail(PX_EXIT_USAGE, "quality: --mapping goes with one file");
  uint64_t limit = 0;
  if (limit_arg) {
    char *end;
    errno = 0;
    unsigned long long l = strtoull(limit_arg, &end, 10);
    if (!nsources) return px_cli_fail(PX_EXIT_USAGE, "quality: --limit goes with --source");
    if (errno || *end || end == limit_arg || limit_arg[0] == '-' || l == 0)
      return px_cli_fail(PX_EXIT_USAGE, "quality: --limit wants a positive number, not %s", limit_arg);
    limit = l;
  }
  struct stat sb;
  if (nsources && stat(data, &sb) != 0) /* do not create an empty directory just to find no source */
    return px_cli_fail(PX_EXIT_USAGE, "quality: no data directory %s (so no source %s)", data, sources[0]);
  px_store *st = nsources ? px_cli_open(data) : NULL;
  if (nsources && !st) return PX_EXIT_FAIL;
  /* --mapping: a mapping file, else a mapping stored by pickaxe apply. */
  px_mapping *m = mapping_path ? px_cli_load_mapping("quality", mapping_path, data, st) : NULL;
  if (mapping_path && !m) return px_store_close(st), PX_EXIT_USAGE;
  size_t n = nfiles + nsources;
  px_quality *qs[MAX_FILES] = {0};
  int rc = PX_EXIT_OK;
  for (size_t i = 0; i < nfiles && rc == PX_EXIT_OK; i++) rc = profile_file(files[i], m, n > 1, &qs[i]);
  for (size_t i = 0; i < nsources && rc == PX_EXIT_OK; i++)
    rc = profile_source(st, sources[i], limit, n > 1, &qs[nfiles + i]);
  px_store_close(st);
  for (size_t i = 0; i < n && rc == PX_EXIT_OK; i++) {
    const char *name = i < nfiles ? files[i] : sources[i - nfiles];
    size_t len = strlen(name) + 8;
    if (!(labels[i] = malloc(len))) rc = px_cli_fail(PX_EXIT_FAIL, "quality: out of memory");
    else snprintf(labels[i], len, "%s%s", i < nfiles ? "" : "source:", name);
  }
  px_buf out;
  px_buf_init(&out, 0);
  if (rc == PX_EXIT_OK && n == 1) {
    if (json) px_quality_json(qs[0], &out), px_buf_putc(&out, '\n');
    else px_quality_text(qs[0], &out);
  } else if (rc == PX_EXIT_OK && json) {
    px_buf_puts(&out, "{\"files\":[");
    for (size_t i = 0; i < n; i++) {
      px_buf_puts(&out, i ? ",{" : "{");
      const char *name = i < nfiles ? files[i] : sources[i - nfiles];
      px_buf_puts(&out, i < nfiles ? "\"file\":" : "\"source\":");
      px_buf_json_str(&out, name, strlen(name));
      px_buf_puts(&out, ",\"report\":");
      px_quality_json(qs[i], &out);
      px_buf_putc(&out, '}');
    }
    px_buf_puts(&out, "],\"overlaps\":");
    px_quality_overlaps((const px_quality *const *)qs, (const char *const *)labels, n, 0, &out);
    px_buf_puts(&out, "}\n");
  } else if (rc == PX_EXIT_OK) {
    for (size_t i = 0; i < n; i++) {
      px_buf_printf(&out, "== %s ==\n", labels[i]);
      px_quality_text(qs[i], &out);
      px_buf_putc(&out, '\n');
    }
    px_buf_puts(&out, nsources ? "candidate join keys (values shared between files and sources):\n"
                               : "candidate join keys (values shared between files):\n");
    px_quality_overlaps((const px_quality *const *)qs, (const char *const *)labels, n, 1, &out);
  }
  if (out.len) fwrite(out.data, 1, out.len, stdout);
  px_buf_free(&out);
  for (size_t i = 0; i < n; i++) px_quality_destroy(qs[i]), free(labels[i]);
  free(m);
  if (fflush(stdout) != 0 && rc == PX_EXIT_OK) rc = px_cli_fail(PX_EXIT_FAIL, "quality: cannot write output");
  return rc;
}
