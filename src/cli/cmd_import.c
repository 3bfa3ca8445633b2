/* pickaxe import FILE: Segment-shaped JSON lines through the same pipeline
 * as HTTP (validation, deduplication, identity, durability); with a
 * product mapping, rows into the catalog instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "base/utf8.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "event/arena.h"
#include "ingest/bulk.h"
#include "ingest/pipeline.h"
#include "mapping/mapping.h"
#include "segment/sweep.h"
#include "source/source.h"

#define MAX_LISTED_ERRORS 100
#define PRODUCT_TXN_ROWS 1000 /* products written per transaction (each commit is fsynced) */

static const char help[] =
    "usage: pickaxe import FILE --source NAME [--mapping MAP] [--rejects FILE]\n"
    "                          [--data DIR] [--json]\n"
    "       pickaxe import FILE --mapping PRODUCT_MAP [--rejects FILE] [--data DIR] [--json]\n"
    "\n"
    "Loads FILE (\"-\" for stdin). Without --mapping: one Segment message per\n"
    "line, each with its \"type\" (identify, track, page, screen, group, alias).\n"
    "With --mapping: a CSV export (or JSON lines, with \"format\": \"jsonl\") whose\n"
    "columns the mapping turns into identify or track messages\n"
    "(docs/internals/mapping.md). MAP is a mapping file (MAP.json), or when no\n"
    "such file exists the name of a mapping pickaxe apply stored in the data\n"
    "directory (pickaxe mapping list). Events are stored as if sent by\n"
    "the source NAME; repeated messageIds are counted as duplicates and stored\n"
    "once. Invalid lines or rows are reported with their line number and reason,\n"
    "and written to --rejects (with --mapping: FILE.rejects.csv by default) as\n"
    "CSV (line, field, reason); every valid one lands. Shows progress on a\n"
    "terminal; prints a summary (--json: {\"accepted\",\"rejected\",\"duplicates\",\n"
    "\"errors\":[{line,field,reason}]}). Exit status 0 when everything landed, 4\n"
    "when some were rejected.\n"
    "\n"
    "With a product mapping (\"type\": \"product\"), each row is a product of the\n"
    "catalog (docs/internals/catalog.md), created or replaced by its id; --source\n"
    "is not needed (and ignored). A row equal to the stored product is counted as\n"
    "unchanged and not written. Products are committed 1,000 at a time; the summary\n"
    "(--json) is {\"accepted\",\"created\",\"replaced\",\"unchanged\",\"rejected\",\n"
    "\"seconds\",\"errors\"}, rejected rows name the column.\n";

/* Where the rows of a product mapping go: the catalog, PRODUCT_TXN_ROWS a
 * transaction (the log's lock only: the catalog is in the log). */
typedef struct product_sink {
  px_store *st;
  const px_mapping *m;
  px_txn *txn;
  size_t in_txn;
  uint64_t created, replaced, unchanged;
  px_status failed; /* what stopped the import, or PX_OK */
  px_product p;
} product_sink;

typedef struct import_state {
  px_config cfg;
  uint32_t source_id;
  uint64_t rejected;
  px_buf errors; /* JSON array items */
  int listed;
  int json;
  px_bulk *bulk;
  px_json_info info;
  px_json_span spans[64];    /* a message's top-level members (more: written, not copied) */
  const char *rejects_path;  /* where rejected lines are written (CSV), or NULL */
  FILE *rejects;             /* opened at the first one */
  product_sink *products;    /* a product mapping's rows go here, not to bulk */
} import_state;

static void csv_cell(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void reject(import_state *s, long line, const char *field, const char *reason) {
  s->rejected++;
  if (s->rejects_path && !s->rejects && (s->rejects = fopen(s->rejects_path, "w")))
    fputs("line,field,reason\n", s->rejects);
  if (s->rejects) {
    fprintf(s->rejects, "%ld,", line);
    csv_cell(s->rejects, field);
    fputc(',', s->rejects);
    csv_cell(s->rejects, reason);
    fputc('\n', s->rejects);
  }
  if (s->listed >= MAX_LISTED_ERRORS) return;
  if (s->listed++) px_buf_putc(&s->errors, ',');
  px_buf_printf(&s->errors, "{\"line\":%ld,\"field\":", line);
  px_buf_json_str(&s->errors, field, strlen(field));
  px_buf_puts(&s->errors, ",\"reason\":");
  px_buf_json_str(&s->errors, reason, strlen(reason));
  px_buf_putc(&s->errors, '}');
  if (!s->json) fprintf(stderr, "line %ld: %s%s%s\n", line, field, *field ? ": " : "", reason);
}

/* Lines of the input: from a memory map of a regular file (no copy through
 * read(2)), else with getline (stdin, pipes). */
typedef struct lines {
  FILE *in;
  char *buf;
  size_t cap;
  const char *map;
  size_t size, off;
} lines;

static void lines_open(lines *l, FILE *in, long size) {
  memset(l, 0, sizeof *l);
  l->in = in;
  if (size > 0) {
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fileno(in), 0);
    if (m != MAP_FAILED) {
      madvise(m, (size_t)size, MADV_SEQUENTIAL);
      l->map = m;
      l->size = (size_t)size;
    }
  }
}

/* The next line without its end (\n, \r\n), or -1 at the end. */
static ssize_t lines_next(lines *l, const char **line) {
  ssize_t n;
  if (l->map) {
    if (l->off >= l->size) return -1;
    const char *p = l->map + l->off, *nl = memchr(p, '\n', l->size - l->off);
    n = nl ? nl - p : (ssize_t)(l->size - l->off);
    l->off += (size_t)n + (nl ? 1 : 0);
    *line = p;
  } else {
    if ((n = getline(&l->buf, &l->cap, l->in)) < 0) return -1;
    *line = l->buf;
  }
  while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r')) n--;
  return n;
}

static long lines_pos(lines *l) { return l->map ? (long)l->off : ftell(l->in); }

static void lines_close(lines *l) {
  if (l->map) munmap((void *)l->map, l->size);
  free(l->buf);
}

/* One message's JSON text into the loader: 1 added, 0 rejected (and
 * reported), -1 the loader stopped (px_bulk_finish says why). */
static int add_message(import_state *s, const char *text, size_t len, long lineno) {
  px_error err;
  px_error_clear(&err);
  if (len > PX_MAX_MESSAGE_BYTES) {
    reject(s, lineno, "", "message larger than 32768 bytes");
    return 0;
  }
  if (memchr(text, 0, len) || px_utf8_invalid_at(text, len) >= 0) {
    reject(s, lineno, "", "invalid UTF-8 or a NUL byte");
    return 0;
  }
  if (px_json_escaped_nul_at(text, len) >= 0) {
    reject(s, lineno, "", "\\u0000 (NUL) in a string is not allowed");
    return 0;
  }
  px_arena *arena;
  px_event *slot = px_bulk_slot(s->bulk, &arena);
  if (!slot) return -1;
  px_arena *prev = px_arena_enter(arena);
  size_t stop;
  cJSON *item = px_json_parse_info(text, len, &stop, &s->info);
  if (!item) {
    px_arena_enter(prev);
    char why[64];
    snprintf(why, sizeof why, "malformed JSON at byte %zu", stop);
    reject(s, lineno, "", why);
    return 0;
  }
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = s->source_id, .received_ms = px_time_now_ms(),
                      .source_bytes = len, .source_text = text, .source_info = &s->info};
  px_status prep = px_pipeline_prepare(&s->cfg, item, &ctx, slot, &err);
  px_arena_enter(prev);
  if (prep != PX_OK) {
    reject(s, lineno, err.field, err.reason);
    return 0;
  }
  return px_bulk_add(s->bulk) == PX_OK ? 1 : -1;
}

static px_status products_commit(product_sink *ps) {
  px_status s = ps->txn ? px_store_commit(ps->txn) : PX_OK;
  ps->txn = NULL;
  ps->in_txn = 0;
  return s;
}

/* One product row's JSON (from the mapping) into the catalog: 1 stored (or
 * unchanged), 0 rejected (and reported, naming the column), -1 the import
 * stops (ps->failed says why). */
static int add_product(import_state *s, const char *text, size_t len, long lineno) {
  product_sink *ps = s->products;
  px_error err;
  px_error_clear(&err);
  px_status st = px_product_parse(text, len, NULL, 0, &ps->p, &err);
  if (st != PX_OK) {
    reject(s, lineno, px_mapping_product_column(ps->m, err.field), err.reason);
    return 0;
  }
  px_catalog_outcome o = PX_CATALOG_UNCHANGED;
  if (!ps->txn) st = px_store_begin(ps->st, PX_TXN_LOG, &ps->txn);
  if (st == PX_OK) st = px_catalog_write(ps->txn, ps->st, &ps->p, px_time_now_ms(), &o);
  if (st == PX_OK && ++ps->in_txn == PRODUCT_TXN_ROWS) st = products_commit(ps);
  if (st != PX_OK) {
    ps->failed = st;
    return -1;
  }
  if (o == PX_CATALOG_CREATED) ps->created++;
  else if (o == PX_CATALOG_REPLACED) ps->replaced++;
  else ps->unchanged++;
  return 1;
}

/* A mapped row's JSON to where it goes: the catalog or the bulk loader. */
static int add_row(import_state *s, const char *text, size_t len, long lineno) {
  return s->products ? add_product(s, text, len, lineno) : add_message(s, text, len, lineno);
}

/* Rows stored so far: events (with duplicates) or products. */
static uint64_t stored_count(const import_state *s) {
  if (s->products) return s->products->created + s->products->replaced + s->products->unchanged;
  uint64_t accepted, duplicates;
  px_bulk_counts(s->bulk, &accepted, &duplicates);
  return accepted + duplicates;
}

static void show_progress(long bytes, long total, uint64_t events, uint64_t t0) {
  double secs = (double)(px_time_mono_ns() - t0) / 1e9;
  int pct = total > 0 ? (int)(100.0 * (double)bytes / (double)total) : 0;
  char bar[31];
  int fill = pct * 30 / 100;
  for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
  bar[30] = 0;
  fprintf(stderr, "\r[%s] %3d%%  %llu events  %.0f/s ", bar, pct, (unsigned long long)events,
          secs > 0 ? (double)events / secs : 0.0);
}

/* The whole input in memory: the map of a regular file, else read. */
static const char *whole(lines *in, px_buf *copy, size_t *n) {
  if (in->map) {
    *n = in->size;
    return in->map;
  }
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, in->in)) > 0)
    if (px_buf_append(copy, chunk, got) != PX_OK) return NULL;
  *n = copy->len;
  return copy->data ? copy->data : "";
}

/* A CSV export through a mapping: each record becomes a message. A bad
 * header or a missing column stops it (PX_INVALID, said on stderr); a bad
 * record or a value that does not convert rejects its row only. */
static px_status import_csv(import_state *s, lines *in, px_mapping *m, int tty, long total, uint64_t t0,
                            long *lineno) {
  px_buf copy, msg;
  px_buf_init(&copy, 0);
  px_buf_init(&msg, 0);
  size_t n;
  const char *data = whole(in, &copy, &n);
  px_csv *csv = NULL;
  px_error err;
  px_error_clear(&err);
  px_status st = data ? px_csv_open(data, n, &m->csv, &csv, &err) : PX_NOMEM;
  const px_csv_field *cols;
  if (st == PX_INVALID) fprintf(stderr, "pickaxe: import: the header: %s\n", err.reason);
  if (st == PX_OK && m->csv.no_header) st = px_error_set(&err, PX_INVALID, "csv.header", "must be true: columns are named");
  size_t ncols = st == PX_OK ? px_csv_columns(csv, &cols) : 0;
  if (st == PX_OK && (st = px_mapping_bind(m, cols, ncols, &err)) != PX_OK)
    fprintf(stderr, "pickaxe: import: mapping %s%s%s\n", err.field, *err.field ? ": " : "", err.reason);
  const px_csv_field *f;
  size_t nf;
  uint64_t rows = 0;
  while (st == PX_OK) {
    px_status r = px_csv_next(csv, &f, &nf, lineno, &err);
    if (r == PX_NOT_FOUND) break;
    if (r == PX_OK) {
      px_buf_reset(&msg);
      r = px_mapping_row(m, f, nf, &msg, &err);
    }
    if (r == PX_INVALID) {
      reject(s, *lineno, err.field, err.reason);
      continue;
    }
    if (r != PX_OK) {
      st = r;
      break;
    }
    if (add_row(s, msg.data, msg.len, *lineno) < 0) break;
    if (tty && ++rows % 8192 == 0) show_progress((long)px_csv_offset(csv), total, stored_count(s), t0);
  }
  px_csv_close(csv);
  px_buf_free(&copy);
  px_buf_free(&msg);
  return st;
}

/* JSON lines through a mapping: each line is one record (an object) whose
 * members the mapping names. A line that is not JSON, or a value that does
 * not convert, rejects that line only. */
static px_status import_jsonl(import_state *s, lines *in, px_mapping *m, int tty, long total, uint64_t t0,
                              long *lineno) {
  px_buf text, msg;
  px_buf_init(&text, 0);
  px_buf_init(&msg, 0);
  px_csv_field *fields = calloc((size_t)m->nfields, sizeof *fields);
  px_status st = fields ? PX_OK : PX_NOMEM;
  const char *line;
  ssize_t len;
  uint64_t rows = 0;
  while (st == PX_OK && (len = lines_next(in, &line)) >= 0) {
    ++*lineno;
    if (len == 0) continue;
    px_error err;
    px_error_clear(&err);
    cJSON *obj = cJSON_ParseWithLength(line, (size_t)len);
    px_status r = obj ? px_mapping_json_record(m, obj, fields, &text, &err)
                      : px_error_set(&err, PX_INVALID, "", "malformed JSON");
    if (r == PX_OK) {
      px_buf_reset(&msg);
      r = px_mapping_row(m, fields, (size_t)m->nfields, &msg, &err);
    }
    cJSON_Delete(obj);
    if (r == PX_INVALID) {
      reject(s, *lineno, err.field, err.reason);
      continue;
    }
    if ((st = r) != PX_OK) break;
    if (add_row(s, msg.data, msg.len, *lineno) < 0) break;
    if (tty && ++rows % 8192 == 0) show_progress(lines_pos(in), total, stored_count(s), t0);
  }
  free(fields);
  px_buf_free(&text);
  px_buf_free(&msg);
  return st;
}

/* At the end of an import: the membership changes time has brought by now
 * (old data, a long import), as pickaxe segment sweep makes them. Said, not
 * fatal, when it fails: the events are stored. */
static void sweep_after_import(px_store *st, const px_config *cfg) {
  px_status s = px_segment_sweep_run(st, cfg, px_time_now_ms(), NULL, NULL);
  if (s != PX_OK)
    fprintf(stderr, "pickaxe: import: time passing not processed for segments (%s; run pickaxe segment sweep)\n",
            px_status_str(s));
}

/* A product mapping's rows into the catalog (s: rejects and errors set up). */
static int import_products(import_state *s, px_store *st, const char *file, FILE *in, long total, px_mapping *m) {
  product_sink ps = {.st = st, .m = m};
  px_product_init(&ps.p);
  s->products = &ps;
  int tty = isatty(2) && !s->json;
  uint64_t t0 = px_time_mono_ns();
  lines input;
  lines_open(&input, in, total);
  long lineno = 0;
  px_status setup = m->jsonl ? import_jsonl(s, &input, m, tty, total, t0, &lineno)
                             : import_csv(s, &input, m, tty, total, t0, &lineno);
  lines_close(&input);
  px_status ps_end = ps.failed;
  if (ps_end == PX_OK) ps_end = products_commit(&ps);
  else px_store_abort(ps.txn);
  px_product_free(&ps.p);
  s->products = NULL;
  if (tty) {
    show_progress(total, total, ps.created + ps.replaced + ps.unchanged, t0);
    fputc('\n', stderr);
  }
  if (setup == PX_INVALID) return PX_EXIT_USAGE; /* said why already */
  if (ps_end == PX_OK) ps_end = setup;
  if (ps_end != PX_OK)
    return px_cli_fail(PX_EXIT_FAIL, "import stopped at line %ld: %s (products committed before it are stored)",
                       lineno, px_status_str(ps_end));
  double secs = (double)(px_time_mono_ns() - t0) / 1e9;
  unsigned long long accepted = ps.created + ps.replaced + ps.unchanged;
  if (s->json)
    printf("{\"accepted\":%llu,\"created\":%llu,\"replaced\":%llu,\"unchanged\":%llu,\"rejected\":%llu,"
           "\"seconds\":%.3f,\"errors\":[%s]}\n",
           accepted, (unsigned long long)ps.created, (unsigned long long)ps.replaced, (unsigned long long)ps.unchanged,
           (unsigned long long)s->rejected, secs, s->errors.data ? s->errors.data : "");
  else
    printf("imported %s: %llu products (%llu created, %llu replaced, %llu unchanged), %llu rejected in %.2f s\n", file,
           accepted, (unsigned long long)ps.created, (unsigned long long)ps.replaced, (unsigned long long)ps.unchanged,
           (unsigned long long)s->rejected, secs);
  return s->rejected ? 4 : PX_EXIT_OK;
}

int px_cmd_import(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *file = NULL, *source = NULL, *mapping_path = NULL, *rejects = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--source", &source) ||
        px_cli_opt(argc, argv, &i, "--mapping", &mapping_path) || px_cli_opt(argc, argv, &i, "--rejects", &rejects))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "import: unknown option %s", argv[i]);
    else if (!file) file = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "import: unexpected argument %s", argv[i]);
  }
  if (!file) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "import: FILE is required");
  /* A product mapping needs no source: checked once the mapping is read. */
  if (!source && !mapping_path)
    return px_cli_fail(PX_EXIT_USAGE, "import: --source NAME is required (see pickaxe source list)");
  FILE *in = strcmp(file, "-") ? fopen(file, "r") : stdin;
  if (!in) return px_cli_fail(PX_EXIT_FAIL, "import: cannot open %s", file);
  struct stat sb;
  long total = in != stdin && fstat(fileno(in), &sb) == 0 ? (long)sb.st_size : 0;
  px_store *st = px_cli_open(data);
  /* --mapping: a mapping file, else a mapping stored by pickaxe apply. */
  px_mapping *mapping = st && mapping_path ? px_cli_load_mapping("import", mapping_path, data, st) : NULL;
  int usage = mapping && !source && !mapping->product; /* no --source: only a product mapping */
  if (!st || (mapping_path && !mapping) || usage) {
    if (usage) px_cli_fail(PX_EXIT_USAGE, "import: --source NAME is required (see pickaxe source list)");
    if (in != stdin) fclose(in);
    free(mapping);
    px_store_close(st);
    return st ? PX_EXIT_USAGE : PX_EXIT_FAIL;
  }
  char default_rejects[4200];
  if (mapping && !rejects && strcmp(file, "-") && strlen(file) < 4000) {
    snprintf(default_rejects, sizeof default_rejects, "%s.rejects.csv", file);
    rejects = default_rejects;
  }
  import_state *s = calloc(1, sizeof *s);
  px_buf_init(&s->errors, 0);
  s->json = json;
  s->rejects_path = rejects;
  int rc = PX_EXIT_FAIL;
  if (mapping && mapping->product) {
    rc = import_products(s, st, file, in, total, mapping);
    goto out;
  }
  px_txn *txn;
  px_source src;
  px_status ps = px_store_begin(st, 0, &txn);
  if (ps == PX_OK) {
    ps = px_source_find(txn, st, source, &src);
    if (ps == PX_OK) ps = px_config_load(txn, st, &s->cfg, NULL);
    px_store_abort(txn);
  }
  if (ps == PX_NOT_FOUND) {
    rc = px_cli_fail(PX_EXIT_USAGE, "import: no source named %s (create it: pickaxe source add %s)", source, source);
    goto out;
  }
  px_bulk *bulk = NULL;
  px_bulk_opts bo = {.min_free_bytes = px_cli_min_free()};
  if (ps != PX_OK || (ps = px_bulk_start(st, &s->cfg, &bo, &bulk)) != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "import: %s", px_status_str(ps));
    goto out;
  }
  s->source_id = src.id;
  s->bulk = bulk;
  int tty = isatty(2) && !json;
  uint64_t t0 = px_time_mono_ns(), accepted = 0, duplicates = 0, events = 0;
  lines input;
  lines_open(&input, in, total);
  const char *line;
  ssize_t len;
  long lineno = 0;
  s->info = (px_json_info){.spans = s->spans, .max_spans = sizeof s->spans / sizeof *s->spans};
  px_status setup = PX_OK;
  if (mapping) {
    setup = mapping->jsonl ? import_jsonl(s, &input, mapping, tty, total, t0, &lineno)
                           : import_csv(s, &input, mapping, tty, total, t0, &lineno);
  } else {
    while ((len = lines_next(&input, &line)) >= 0) {
      lineno++;
      if (len == 0) continue;
      if (add_message(s, line, (size_t)len, lineno) < 0) break;
      if (tty && ++events % 8192 == 0) {
        px_bulk_counts(s->bulk, &accepted, &duplicates);
        show_progress(lines_pos(&input), total, accepted + duplicates, t0);
      }
    }
  }
  lines_close(&input);
  ps = px_bulk_finish(bulk, &accepted, &duplicates);
  if (setup == PX_INVALID) {
    rc = PX_EXIT_USAGE; /* said why already */
    goto out;
  }
  if (ps == PX_OK) ps = setup;
  if (tty) {
    show_progress(total, total, accepted + duplicates, t0);
    fputc('\n', stderr);
  }
  if (ps != PX_OK) {
    px_cli_fail(PX_EXIT_FAIL, "import stopped at line %ld: %s (events before it are stored)", lineno,
                px_status_str(ps));
    goto out;
  }
  double secs = (double)(px_time_mono_ns() - t0) / 1e9;
  if (json) {
    printf("{\"accepted\":%llu,\"rejected\":%llu,\"duplicates\":%llu,\"seconds\":%.3f,\"errors\":[%s]}\n",
           (unsigned long long)accepted, (unsigned long long)s->rejected,
           (unsigned long long)duplicates, secs, s->errors.data ? s->errors.data : "");
  } else {
    printf("imported %s: %llu accepted, %llu duplicates, %llu rejected in %.2f s\n", file,
           (unsigned long long)accepted, (unsigned long long)duplicates,
           (unsigned long long)s->rejected, secs);
  }
  sweep_after_import(st, &s->cfg);
  rc = s->rejected ? 4 : PX_EXIT_OK;
out:
  if (s->rejects) fclose(s->rejects);
  free(mapping);
  if (in != stdin) fclose(in);
  px_config_free(&s->cfg);
  px_buf_free(&s->errors);
  free(s);
  px_store_close(st);
  return rc;
}
