/* pickaxe import FILE: Segment-shaped JSON lines through the same pipeline
 * as HTTP (validation, deduplication, identity, durability). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "base/utf8.h"
#include "cli/cli.h"
#include "event/arena.h"
#include "ingest/bulk.h"
#include "ingest/pipeline.h"
#include "source/source.h"

#define MAX_LISTED_ERRORS 100

static const char help[] =
    "usage: pickaxe import FILE --source NAME [--data DIR] [--json]\n"
    "\n"
    "Loads FILE (\"-\" for stdin): one Segment message per line, each with its\n"
    "\"type\" (identify, track, page, screen, group, alias). Events are stored as\n"
    "if sent by the source NAME; repeated messageIds are counted as duplicates and\n"
    "stored once. Invalid lines are reported with their line number and reason;\n"
    "every valid line lands. Shows progress on a terminal; prints a summary\n"
    "(--json: {\"accepted\",\"rejected\",\"duplicates\",\"errors\":[{line,field,reason}]}).\n"
    "Exit status 0 when every line landed, 4 when some were rejected.\n";

typedef struct import_state {
  px_config cfg;
  uint32_t source_id;
  uint64_t rejected;
  px_buf errors; /* JSON array items */
  int listed;
  int json;
} import_state;

static void reject(import_state *s, long line, const char *field, const char *reason) {
  s->rejected++;
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

int px_cmd_import(int argc, char **argv) {
  const char *data = PX_DEFAULT_DATA, *file = NULL, *source = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (px_cli_is_help(argv[i])) return fputs(help, stdout), PX_EXIT_OK;
    if (px_cli_opt(argc, argv, &i, "--data", &data) || px_cli_opt(argc, argv, &i, "--source", &source))
      continue;
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (argv[i][0] == '-' && argv[i][1]) return px_cli_fail(PX_EXIT_USAGE, "import: unknown option %s", argv[i]);
    else if (!file) file = argv[i];
    else return px_cli_fail(PX_EXIT_USAGE, "import: unexpected argument %s", argv[i]);
  }
  if (!file) return fputs(help, stderr), px_cli_fail(PX_EXIT_USAGE, "import: FILE is required");
  if (!source) return px_cli_fail(PX_EXIT_USAGE, "import: --source NAME is required (see pickaxe source list)");
  FILE *in = strcmp(file, "-") ? fopen(file, "r") : stdin;
  if (!in) return px_cli_fail(PX_EXIT_FAIL, "import: cannot open %s", file);
  struct stat sb;
  long total = in != stdin && fstat(fileno(in), &sb) == 0 ? (long)sb.st_size : 0;
  px_store *st = px_cli_open(data);
  if (!st) return PX_EXIT_FAIL;
  import_state *s = calloc(1, sizeof *s);
  px_buf_init(&s->errors, 0);
  s->json = json;
  int rc = PX_EXIT_FAIL;
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
  int tty = isatty(2) && !json;
  uint64_t t0 = px_time_mono_ns(), accepted = 0, duplicates = 0, events = 0;
  lines input;
  lines_open(&input, in, total);
  const char *line;
  ssize_t len;
  long lineno = 0;
  px_json_span spans[64]; /* a message's top-level members (more: written, not copied) */
  px_json_info info = {.spans = spans, .max_spans = sizeof spans / sizeof *spans};
  while ((len = lines_next(&input, &line)) >= 0) {
    lineno++;
    if (len == 0) continue;
    px_error err;
    px_error_clear(&err);
    if ((size_t)len > PX_MAX_MESSAGE_BYTES) {
      reject(s, lineno, "", "message larger than 32768 bytes");
      continue;
    }
    if (memchr(line, 0, (size_t)len) || px_utf8_invalid_at(line, (size_t)len) >= 0) {
      reject(s, lineno, "", "invalid UTF-8 or a NUL byte");
      continue;
    }
    if (px_json_escaped_nul_at(line, (size_t)len) >= 0) {
      reject(s, lineno, "", "\\u0000 (NUL) in a string is not allowed");
      continue;
    }
    px_arena *arena;
    px_event *slot = px_bulk_slot(bulk, &arena);
    if (!slot) break; /* the loader failed: px_bulk_finish says why */
    px_arena *prev = px_arena_enter(arena);
    size_t stop;
    cJSON *item = px_json_parse_info(line, (size_t)len, &stop, &info);
    if (!item) {
      px_arena_enter(prev);
      char why[64];
      snprintf(why, sizeof why, "malformed JSON at byte %zu", stop);
      reject(s, lineno, "", why);
      continue;
    }
    px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = s->source_id, .received_ms = px_time_now_ms(),
                        .source_bytes = (size_t)len, .source_text = line, .source_info = &info};
    px_status prep = px_pipeline_prepare(&s->cfg, item, &ctx, slot, &err);
    px_arena_enter(prev);
    if (prep != PX_OK) {
      reject(s, lineno, err.field, err.reason);
      continue;
    }
    if (px_bulk_add(bulk) != PX_OK) break;
    if (tty && ++events % 8192 == 0) {
      px_bulk_counts(bulk, &accepted, &duplicates);
      show_progress(lines_pos(&input), total, accepted + duplicates, t0);
    }
  }
  lines_close(&input);
  ps = px_bulk_finish(bulk, &accepted, &duplicates);
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
  rc = s->rejected ? 4 : PX_EXIT_OK;
out:
  if (in != stdin) fclose(in);
  px_config_free(&s->cfg);
  px_buf_free(&s->errors);
  free(s);
  px_store_close(st);
  return rc;
}
