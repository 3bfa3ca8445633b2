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
    "usage: pickaxe quality FILE [--mapping MAP.json] [--json]\n"
    "\n"
    "Reports, for each column of the CSV file FILE: how many rows fill it, how\n"
    "many distinct values it has, its most common values and value patterns\n"
    "(letters as A/a, digits as 9: \"Aaaa 999\"), and with --mapping how many\n"
    "values fail the mapping's type or standardization for that column. The\n"
    "file is read as the mapping says (delimiter, header), else with a header\n"
    "and a detected delimiter. --json prints {\"rows\",\"bad_records\",\"columns\":[...]}.\n";


int px_cmd_quality(int argc, char **argv) {
  const char *file = NULL, *mapping_path = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--mapping", &mapping_path)) continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-') return px_cli_fail(PX_EXIT_USAGE, "quality: unknown option %s", argv[i]);
    else if (!file) file = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "quality: unexpected argument %s", argv[i]);
  }
  if (!file) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "quality: FILE is required");
  px_mapping *m = mapping_path ? px_cli_load_mapping("quality", mapping_path) : NULL;
  if (mapping_path && !m) return PX_EXIT_USAGE;
  int rc = PX_EXIT_FAIL, fd = open(file, O_RDONLY);
  struct stat sb;
  void *map = MAP_FAILED;
  px_csv *csv = NULL;
  px_quality *q = NULL;
  px_buf out;
  px_buf_init(&out, 0);
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
  if (!(q = px_quality_create(cols, ncols, m))) goto done;
  const px_csv_field *f;
  size_t nf;
  long line;
  px_status s;
  while ((s = px_csv_next(csv, &f, &nf, &line, &err)) != PX_NOT_FOUND) {
    if (s == PX_OK) px_quality_add(q, f, nf);
    else if (s == PX_INVALID) px_quality_bad_record(q);
    else goto done;
  }
  if (json) px_quality_json(q, &out), px_buf_putc(&out, '\n');
  else px_quality_text(q, &out);
  fwrite(out.data, 1, out.len, stdout);
  rc = PX_EXIT_OK;
done:
  px_quality_destroy(q);
  px_csv_close(csv);
  if (map != MAP_FAILED) munmap(map, (size_t)sb.st_size);
  if (fd >= 0) close(fd);
  px_buf_free(&out);
  free(m);
  return rc;
}
