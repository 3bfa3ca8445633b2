/* pickaxe resolve FILE [FILE2]: probabilistic record linkage of CSV files
 * (issue 3 §5): the records of one file deduplicated, or of two files
 * linked (and each deduplicated), with a configuration inferred from the
 * data or given; cluster ids written out, and with --truth the pairwise
 * precision, recall and F1 against a known entity key. */
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli/cli.h"
#include "csv/csv.h"
#include "match/config.h"
#include "match/link.h"

static const char help[] =
    "usage: pickaxe resolve FILE [FILE2] [--config MATCH.json] [--out clusters.csv]\n"
    "                       [--truth COLUMN [--truth-regex REGEX]] [--key COLUMN]\n"
    "                       [--json] [--explain N] [--print-config]\n"
    "\n"
    "Finds the records of the CSV file FILE that describe the same person (or,\n"
    "with FILE2, links the records of both files, each also deduplicated):\n"
    "Fellegi-Sunter matching with m learned by EM and u from random pairs, blocking\n"
    "rules OR-ed, clusters under a size limit. Without --config the configuration\n"
    "is inferred: field types from column names and values, blocking rules from\n"
    "how selective each field is (see docs/internals/match.md).\n"
    "\n"
    "  --config MATCH.json  the fields, levels, blocking rules and limits to use\n"
    "                       (with two files, columns are matched by name)\n"
    "  --out FILE           per record: file,line,key,cluster (CSV)\n"
    "  --key COLUMN         the column written as each record's key (default: the\n"
    "                       --truth column, else the file's first column)\n"
    "  --truth COLUMN       the column holding each record's true entity: prints\n"
    "                       pairwise precision, recall and F1 (and leaves it out of\n"
    "                       the inferred configuration)\n"
    "  --truth-regex RE     the entity is RE's first group on that column (POSIX ERE)\n"
    "  --json               {\"records\",\"pairs_compared\",\"clusters\",\"precision\",\n"
    "                       \"recall\",\"f1\",\"seconds\",...} on one line\n"
    "  --explain N          the N strongest matched pairs, field by field\n"
    "  --print-config       the configuration used, with the learned model, as JSON\n"
    "                       (reusable with --config); with --json, as \"config\"\n";

#define MAX_CONFIG (1 << 20)

typedef struct input {
  const char *path;
  int fd;
  void *map;
  size_t size;
  px_csv *csv;
  const px_csv_field *cols;
  size_t ncols;
  int *col; /* the file's column for each used column (then key, truth); -1: none */
} input;

/* The records of all files: their values (the used columns, then key and
 * truth) as offsets into one block of text, then pointers. */
typedef struct table {
  px_buf text;
  size_t *at;      /* n x width offsets (0: empty) */
  size_t n, cap;
  int width;       /* used columns + 2 */
  uint8_t *file;
  long *line;
  size_t bad;
} table;

static int open_input(input *in, const char *path) {
  memset(in, 0, sizeof *in);
  in->path = path;
  in->map = MAP_FAILED;
  struct stat sb;
  if ((in->fd = open(path, O_RDONLY)) < 0 || fstat(in->fd, &sb) != 0)
    return px_cli_fail(PX_EXIT_FAIL, "resolve: cannot open %s", path);
  in->size = (size_t)sb.st_size;
  if (in->size && (in->map = mmap(NULL, in->size, PROT_READ, MAP_PRIVATE, in->fd, 0)) == MAP_FAILED)
    return px_cli_fail(PX_EXIT_FAIL, "resolve: cannot read %s", path);
  px_error err;
  px_error_clear(&err);
  px_csv_opts opts = {0};
  if (px_csv_open(in->size ? in->map : "", in->size, &opts, &in->csv, &err) != PX_OK)
    return px_cli_fail(PX_EXIT_FAIL, "resolve: %s: the header: %s", path, err.reason);
  in->ncols = px_csv_columns(in->csv, &in->cols);
  return PX_EXIT_OK;
}

static void close_input(input *in) {
  free(in->col);
  px_csv_close(in->csv);
  if (in->map != MAP_FAILED) munmap(in->map, in->size);
  if (in->fd >= 0) close(in->fd);
}

static int column_of(const input *in, const char *name) {
  for (size_t c = 0; c < in->ncols; c++)
    if (strlen(name) == in->cols[c].n && memcmp(in->cols[c].s, name, in->cols[c].n) == 0) return (int)c;
  return -1;
}

/* Reads every record of in into t (columns in->col). */
static int read_records(input *in, int file, table *t) {
  const px_csv_field *f;
  size_t nf;
  long line;
  px_error err;
  px_status s;
  while ((s = px_csv_next(in->csv, &f, &nf, &line, &err)) != PX_NOT_FOUND) {
    if (s == PX_INVALID) {
      if (t->bad++ < 5) fprintf(stderr, "pickaxe: resolve: %s line %ld: %s (skipped)\n", in->path, line, err.reason);
      continue;
    }
    if (s != PX_OK) return px_cli_fail(PX_EXIT_FAIL, "resolve: %s: %s", in->path, px_status_str(s));
    if (t->n == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 4096;
      size_t *at = realloc(t->at, cap * (size_t)t->width * sizeof *at);
      uint8_t *fi = realloc(t->file, cap);
      long *li = fi ? realloc(t->line, cap * sizeof *li) : NULL;
      if (at) t->at = at;
      if (fi) t->file = fi;
      if (li) t->line = li;
      if (!at || !fi || !li) return px_cli_fail(PX_EXIT_FAIL, "resolve: out of memory");
      t->cap = cap;
    }
    for (int c = 0; c < t->width; c++) {
      int k = in->col[c];
      size_t *at = &t->at[t->n * (size_t)t->width + (size_t)c];
      *at = 0;
      if (k < 0 || (size_t)k >= nf || !f[k].n) continue;
      *at = t->text.len;
      if (px_buf_append(&t->text, f[k].s, f[k].n) != PX_OK || px_buf_putc(&t->text, 0) != PX_OK)
        return px_cli_fail(PX_EXIT_FAIL, "resolve: out of memory");
    }
    t->file[t->n] = (uint8_t)file;
    t->line[t->n++] = line;
  }
  return PX_EXIT_OK;
}

static const char *value(const table *t, size_t i, int c) {
  size_t at = t->at[i * (size_t)t->width + (size_t)c];
  return at ? t->text.data + at : "";
}

/* ---- truth ---- */

typedef struct cell {
  uint64_t cluster, entity;
} cell;

static int by_cell(const void *x, const void *y) {
  const cell *a = x, *b = y;
  if (a->cluster != b->cluster) return a->cluster < b->cluster ? -1 : 1;
  return (a->entity > b->entity) - (a->entity < b->entity);
}

static int by_entity(const void *x, const void *y) {
  const cell *a = x, *b = y;
  return (a->entity > b->entity) - (a->entity < b->entity);
}

/* An entity of its own for record i. */
static uint64_t mix_unique(size_t i) { return XXH3_64bits_withSeed(&i, sizeof i, 0x5eedULL); }

static double pairs_of(double k) { return k * (k - 1) / 2; }

/* Pairwise precision and recall from the cluster x entity contingency
 * table: true positives are pairs sharing both, never enumerated. */
static int score(const table *t, int truth_col, const regex_t *re, const px_link_result *r, double *precision,
                 double *recall, double *tp_out, double *pred_out, double *true_out) {
  cell *c = malloc((t->n ? t->n : 1) * sizeof *c);
  if (!c) return px_cli_fail(PX_EXIT_FAIL, "resolve: out of memory");
  for (size_t i = 0; i < t->n; i++) {
    const char *v = value(t, i, truth_col);
    size_t off = 0, len = strlen(v);
    regmatch_t m[2];
    if (re && regexec(re, v, 2, m, 0) == 0 && m[1].rm_so >= 0) off = (size_t)m[1].rm_so, len = (size_t)(m[1].rm_eo - m[1].rm_so);
    else if (re) len = 0;
    /* No key (empty, or the regex does not match): an entity of its own. */
    uint64_t e = len ? XXH3_64bits(v + off, len) : mix_unique(i);
    c[i] = (cell){r->clusters.id[i], e};
  }
  double tp = 0, pred = 0, truth = 0;
  qsort(c, t->n, sizeof *c, by_cell);
  for (size_t s = 0, e; s < t->n; s = e) { /* runs of a cluster, and of a cell within it */
    for (e = s + 1; e < t->n && c[e].cluster == c[s].cluster; e++) {}
    pred += pairs_of((double)(e - s));
    for (size_t a = s, b; a < e; a = b) {
      for (b = a + 1; b < e && c[b].entity == c[a].entity; b++) {}
      tp += pairs_of((double)(b - a));
    }
  }
  qsort(c, t->n, sizeof *c, by_entity);
  for (size_t s = 0, e; s < t->n; s = e) {
    for (e = s + 1; e < t->n && c[e].entity == c[s].entity; e++) {}
    truth += pairs_of((double)(e - s));
  }
  free(c);
  *precision = pred > 0 ? tp / pred : 1;
  *recall = truth > 0 ? tp / truth : 1;
  *tp_out = tp, *pred_out = pred, *true_out = truth;
  return PX_EXIT_OK;
}

/* ---- output ---- */

static void csv_value(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static int write_out(const char *path, const table *t, const input *inputs, const px_link_result *r) {
  FILE *f = fopen(path, "w");
  if (!f) return px_cli_fail(PX_EXIT_FAIL, "resolve: cannot write %s", path);
  fputs("file,line,key,cluster\n", f);
  for (size_t i = 0; i < t->n; i++) {
    csv_value(f, inputs[t->file[i]].path);
    fprintf(f, ",%ld,", t->line[i]);
    csv_value(f, value(t, i, t->width - 2));
    fprintf(f, ",%u\n", r->clusters.id[i] + 1);
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return px_cli_fail(PX_EXIT_FAIL, "resolve: cannot write %s", path);
  return PX_EXIT_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void explain_text(px_buf *out, const px_match_config *cfg, const px_link_result *r, size_t k,
                         const table *t, const input *inputs) {
  char lv[64];
  size_t F = (size_t)cfg->nfields;
  px_buf_printf(out, "%s:%ld ~ %s:%ld  weight %.2f  probability %.6f%s\n", inputs[t->file[r->a[k]]].path,
                t->line[r->a[k]], inputs[t->file[r->b[k]]].path, t->line[r->b[k]], r->weight[k], r->probability[k],
                r->joined[k] ? "" : "  (not joined)");
  for (size_t f = 0; f < F; f++)
    px_buf_printf(out, "    %-20s %-22s %+7.2f\n", cfg->fields[f].name,
                  px_match_level_name(&cfg->fields[f], r->vectors[k * F + f], lv, sizeof lv), r->parts[k * F + f]);
  size_t G = (size_t)r->model.ngroups;
  for (size_t g = 0; g < G && g < (size_t)cfg->ngroups; g++) /* a group's one part (its members then weigh 0) */
    px_buf_printf(out, "    %-20s %-22s %+7.2f\n", cfg->groups[g].name,
                  px_link_group_level_name(r->group_levels[k * G + g]), r->group_parts[k * G + g]);
}

int px_cmd_resolve(int argc, char **argv) {
  const char *files[2], *config_path = NULL, *out_path = NULL, *truth = NULL, *truth_re = NULL, *key = NULL,
             *explain_arg = NULL;
  int nfiles = 0, json = 0, print_config = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--config", &config_path) || px_cli_opt(argc, argv, &i, "--out", &out_path) ||
        px_cli_opt(argc, argv, &i, "--truth", &truth) || px_cli_opt(argc, argv, &i, "--truth-regex", &truth_re) ||
        px_cli_opt(argc, argv, &i, "--key", &key) || px_cli_opt(argc, argv, &i, "--explain", &explain_arg))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--print-config")) print_config = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "resolve: unknown option %s", argv[i]);
    else if (nfiles < 2) files[nfiles++] = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "resolve: at most two files");
  }
  if (!nfiles) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "resolve: FILE is required");
  if (truth_re && !truth) return px_cli_fail(PX_EXIT_USAGE, "resolve: --truth-regex goes with --truth");
  long explain = 0;
  if (explain_arg) {
    char *end;
    explain = strtol(explain_arg, &end, 10);
    if (*end || end == explain_arg || explain < 0)
      return px_cli_fail(PX_EXIT_USAGE, "resolve: --explain needs a number of pairs");
  }
  regex_t re;
  int have_re = 0;
  if (truth_re) {
    int e = regcomp(&re, truth_re, REG_EXTENDED);
    if (e) {
      char msg[128];
      regerror(e, &re, msg, sizeof msg);
      return px_cli_fail(PX_EXIT_USAGE, "resolve: --truth-regex: %s", msg);
    }
    if (re.re_nsub < 1) {
      regfree(&re);
      return px_cli_fail(PX_EXIT_USAGE, "resolve: --truth-regex needs a group: (...)");
    }
    have_re = 1;
  }
  double t0 = now();
  int rc = PX_EXIT_FAIL;
  px_match_config *cfg = calloc(1, sizeof *cfg);
  input inputs[2];
  int opened = 0;
  table t = {0};
  px_buf_init(&t.text, 0);
  const char **vals = NULL;
  px_link_result res = {0};
  px_buf out;
  px_buf_init(&out, 0);
  px_error err;
  px_error_clear(&err);
  if (!cfg) goto done;
  if (config_path) {
    size_t n;
    char *text = px_cli_read_file(config_path, MAX_CONFIG, &n);
    if (!text) goto done;
    px_status s = px_match_config_parse(text, n, cfg, &err);
    free(text);
    if (s != PX_OK) {
      rc = px_cli_fail(PX_EXIT_USAGE, "resolve: %s: %s%s%s", config_path, err.field, err.field[0] ? ": " : "",
                       err.reason);
      goto done;
    }
  }
  for (; opened < nfiles; opened++)
    if ((rc = open_input(&inputs[opened], files[opened])) != PX_EXIT_OK) {
      opened++;
      goto done;
    }
  rc = PX_EXIT_USAGE;
  /* The columns used: the configuration's, else those of the first file (that every file has). */
  const char *names[PX_CSV_MAX_FIELDS];
  char *owned[PX_CSV_MAX_FIELDS];
  int ncols = 0;
  if (config_path) {
    for (int f = 0; f < cfg->nfields; f++) owned[ncols] = NULL, names[ncols++] = cfg->fields[f].column;
  } else {
    for (size_t c = 0; c < inputs[0].ncols && ncols < PX_CSV_MAX_FIELDS; c++) {
      char *name = strndup(inputs[0].cols[c].s, inputs[0].cols[c].n);
      if (!name) {
        rc = px_cli_fail(PX_EXIT_FAIL, "resolve: out of memory");
        goto cols_done;
      }
      int everywhere = 1;
      for (int k = 1; k < nfiles; k++) everywhere = everywhere && column_of(&inputs[k], name) >= 0;
      if (!everywhere) {
        free(name);
        continue;
      }
      owned[ncols] = name, names[ncols++] = name;
    }
  }
  t.width = ncols + 2;
  if (px_buf_putc(&t.text, 0) != PX_OK) goto cols_done; /* offset 0: an empty value */
  for (int k = 0; k < nfiles; k++) {
    int *col = inputs[k].col = malloc((size_t)t.width * sizeof *col);
    if (!col) goto cols_done;
    for (int c = 0; c < ncols; c++) {
      col[c] = column_of(&inputs[k], names[c]);
      if (col[c] < 0) {
        rc = px_cli_fail(PX_EXIT_USAGE, "resolve: %s has no column %s (from the configuration)", files[k], names[c]);
        goto cols_done;
      }
    }
    col[ncols] = key ? column_of(&inputs[k], key) : truth ? column_of(&inputs[k], truth) : 0;
    col[ncols + 1] = truth ? column_of(&inputs[k], truth) : -1;
    if ((key && col[ncols] < 0) || (truth && col[ncols + 1] < 0)) {
      rc = px_cli_fail(PX_EXIT_USAGE, "resolve: %s has no column %s", files[k], key && col[ncols] < 0 ? key : truth);
      goto cols_done;
    }
    if ((rc = read_records(&inputs[k], k, &t)) != PX_EXIT_OK) goto cols_done;
    px_csv_close(inputs[k].csv); /* every value needed is copied: let the file's pages go */
    inputs[k].csv = NULL;
    if (inputs[k].map != MAP_FAILED) munmap(inputs[k].map, inputs[k].size);
    inputs[k].map = MAP_FAILED;
  }
  rc = PX_EXIT_FAIL;
  if (t.bad) fprintf(stderr, "pickaxe: resolve: %zu bad records skipped\n", t.bad);
  vals = malloc((t.n ? t.n : 1) * (size_t)ncols * sizeof *vals);
  if (!vals) goto cols_done;
  for (size_t i = 0; i < t.n; i++)
    for (int c = 0; c < ncols; c++) vals[i * (size_t)ncols + (size_t)c] = value(&t, i, c);
  if (!config_path) {
    px_match_config *inferred = calloc(1, sizeof *inferred);
    if (!inferred) goto cols_done;
    px_status s = px_match_config_infer(names, ncols, vals, t.n, truth, inferred, &err);
    if (s != PX_OK) {
      free(inferred);
      rc = px_cli_fail(PX_EXIT_USAGE, "resolve: cannot infer a configuration: %s", err.reason);
      goto cols_done;
    }
    /* Values in the inferred configuration's order. */
    const char **fv = malloc((t.n ? t.n : 1) * (size_t)inferred->nfields * sizeof *fv);
    int map[PX_EM_MAX_FIELDS];
    for (int f = 0; f < inferred->nfields; f++)
      for (int c = 0; c < ncols; c++)
        if (strcmp(inferred->fields[f].column, names[c]) == 0) map[f] = c;
    if (!fv) {
      free(inferred);
      goto cols_done;
    }
    for (size_t i = 0; i < t.n; i++)
      for (int f = 0; f < inferred->nfields; f++)
        fv[i * (size_t)inferred->nfields + (size_t)f] = vals[i * (size_t)ncols + (size_t)map[f]];
    free(vals);
    vals = fv;
    free(cfg);
    cfg = inferred;
  } else if (!cfg->nrules && px_match_config_infer_rules(cfg, vals, t.n, &err) != PX_OK) {
    rc = px_cli_fail(PX_EXIT_USAGE, "resolve: %s: no blocking rules given, and %s", config_path, err.reason);
    goto cols_done;
  }
  px_status s = px_link_run(cfg, vals, t.n, &res);
  if (s != PX_OK) {
    rc = px_cli_fail(PX_EXIT_FAIL, "resolve: linkage failed: %s", px_status_str(s));
    goto cols_done;
  }
  if (out_path && (rc = write_out(out_path, &t, inputs, &res)) != PX_EXIT_OK) goto cols_done;
  double precision = 0, recall = 0, f1 = 0, tp = 0, pred = 0, truth_pairs = 0;
  if (truth) {
    if ((rc = score(&t, ncols + 1, have_re ? &re : NULL, &res, &precision, &recall, &tp, &pred, &truth_pairs)) !=
        PX_EXIT_OK)
      goto cols_done;
    f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
  }
  double seconds = now() - t0;
  px_match_config *used_cfg = cfg;
  used_cfg->have_model = 1; /* printed with what was learned, so a run can be repeated */
  used_cfg->model = res.model;
  size_t nexplain = (size_t)explain < res.npairs ? (size_t)explain : res.npairs;
  if (json) {
    px_buf_printf(&out, "{\"records\":%zu,\"pairs_compared\":%zu,\"clusters\":%zu", res.n, res.pairs_compared,
                  res.clusters.clusters);
    if (truth)
      px_buf_printf(&out, ",\"precision\":%.6f,\"recall\":%.6f,\"f1\":%.6f,\"true_pairs\":%.0f,\"found_pairs\":%.0f",
                    precision, recall, f1, truth_pairs, tp);
    px_buf_printf(&out, ",\"seconds\":%.3f,\"matched_pairs\":%zu,\"skipped_blocks\":%zu,\"refused\":%zu", seconds,
                  res.npairs, res.skipped_blocks, res.clusters.refused);
    px_buf_printf(&out, ",\"bad_records\":%zu,\"u_sampled\":%zu,\"em_iterations\":%d", t.bad, res.u_sampled,
                  res.em_iterations);
    if (nexplain) {
      px_buf_puts(&out, ",\"explanations\":[");
      for (size_t k = 0; k < nexplain; k++) {
        if (k) px_buf_putc(&out, ',');
        px_link_explain(used_cfg, &res, k, &out);
      }
      px_buf_putc(&out, ']');
    }
    if (print_config) {
      px_buf cj;
      px_buf_init(&cj, 0);
      px_match_config_json(used_cfg, &cj);
      px_buf_puts(&out, ",\"config\":");
      for (size_t k = 0; k < cj.len; k++)
        if (cj.data[k] != '\n') px_buf_putc(&out, cj.data[k]);
      px_buf_free(&cj);
    }
    px_buf_puts(&out, "}\n");
  } else if (print_config) {
    px_match_config_json(used_cfg, &out);
  } else {
    px_buf_printf(&out, "records          %zu%s\n", res.n, t.bad ? " (bad records skipped, see above)" : "");
    px_buf_printf(&out, "pairs compared   %zu (blocking rules: %d, blocks too large to use: %zu)\n",
                  res.pairs_compared, cfg->nrules, res.skipped_blocks);
    px_buf_printf(&out, "matched pairs    %zu (probability >= %g)\n", res.npairs, cfg->threshold);
    px_buf_printf(&out, "clusters         %zu (joins refused by the size limit of %zu: %zu)\n",
                  res.clusters.clusters, cfg->max_cluster, res.clusters.refused);
    if (truth)
      px_buf_printf(&out, "precision        %.4f\nrecall           %.4f\nf1               %.4f\n", precision, recall,
                    f1);
    px_buf_printf(&out, "seconds          %.3f\n", seconds);
    for (size_t k = 0; k < nexplain; k++) {
      px_buf_putc(&out, '\n');
      explain_text(&out, used_cfg, &res, k, &t, inputs);
    }
  }
  if (out.len) fwrite(out.data, 1, out.len, stdout);
  rc = PX_EXIT_OK;
cols_done:
  for (int c = 0; c < ncols; c++) free(owned[c]);
done:
  px_buf_free(&out);
  px_link_free(&res);
  free(vals);
  free(t.at);
  free(t.file);
  free(t.line);
  px_buf_free(&t.text);
  for (int k = 0; k < opened; k++) close_input(&inputs[k]);
  if (have_re) regfree(&re);
  free(cfg);
  return rc;
}
