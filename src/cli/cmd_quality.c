/* pickaxe quality FILE: the data quality of a CSV export, column by column. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "csv/csv.h"
#include "mapping/mapping.h"
#include "quality/quality.h"

static const char help[] =
    "usage: pickaxe quality FILE [FILE...] [--mapping MAP.json] [--json]\n"
    "\n"
    "Reports, for each column of the CSV file FILE: how many rows fill it, how\n"
    "many distinct values it has, its most common values and value patterns\n"
    "(letters as A/a, digits as 9: \"Aaaa 999\"), and with --mapping how many\n"
    "values fail the mapping's type or standardization for that column. The\n"
    "file is read as the mapping says (delimiter, header), else with a header\n"
    "and a detected delimiter. --json prints {\"rows\",\"bad_records\",\"columns\":[...]}.\n"
    "\n"
    "With several files (no mapping): each file's report, then the candidate join\n"
    "keys: pairs of columns of different files whose values overlap (the same\n"
    "customer number in POS and CRM exports, e-mails in two systems), with how\n"
    "many values they share (--json: {\"files\":[{file,report}],\"overlaps\":[...]}).\n";


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

#define MAX_FILES 16

int px_cmd_quality(int argc, char **argv) {
  const char *files[MAX_FILES], *mapping_path = NULL;
  size_t nfiles = 0;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--mapping", &mapping_path)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "quality: unknown option %s", argv[i]);
    else if (nfiles < MAX_FILES) files[nfiles++] = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "quality: at most %d files", MAX_FILES);
  }
  if (!nfiles) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "quality: FILE is required");
  if (mapping_path && nfiles > 1) return px_cli_fail(PX_EXIT_USAGE, "quality: --mapping goes with one file");
  px_mapping *m = mapping_path ? px_cli_load_mapping("quality", mapping_path) : NULL;
  if (mapping_path && !m) return PX_EXIT_USAGE;
  px_quality *qs[MAX_FILES] = {0};
  int rc = PX_EXIT_OK;
  for (size_t i = 0; i < nfiles && rc == PX_EXIT_OK; i++) rc = profile_file(files[i], m, nfiles > 1, &qs[i]);
  px_buf out;
  px_buf_init(&out, 0);
  if (rc == PX_EXIT_OK && nfiles == 1) {
    if (json) px_quality_json(qs[0], &out), px_buf_putc(&out, '\n');
    else px_quality_text(qs[0], &out);
  } else if (rc == PX_EXIT_OK && json) {
    px_buf_puts(&out, "{\"files\":[");
    for (size_t i = 0; i < nfiles; i++) {
      px_buf_puts(&out, i ? ",{\"file\":" : "{\"file\":");
      px_buf_json_str(&out, files[i], strlen(files[i]));
      px_buf_puts(&out, ",\"report\":");
      px_quality_json(qs[i], &out);
      px_buf_putc(&out, '}');
    }
    px_buf_puts(&out, "],\"overlaps\":");
    px_quality_overlaps((const px_quality *const *)qs, files, nfiles, 0, &out);
    px_buf_puts(&out, "}\n");
  } else if (rc == PX_EXIT_OK) {
    for (size_t i = 0; i < nfiles; i++) {
      px_buf_printf(&out, "== %s ==\n", files[i]);
      px_quality_text(qs[i], &out);
      px_buf_putc(&out, '\n');
    }
    px_buf_puts(&out, "candidate join keys (values shared between files):\n");
    px_quality_overlaps((const px_quality *const *)qs, files, nfiles, 1, &out);
  }
  if (out.len) fwrite(out.data, 1, out.len, stdout);
  px_buf_free(&out);
  for (size_t i = 0; i < nfiles; i++) px_quality_destroy(qs[i]);
  free(m);
  return rc;
}
