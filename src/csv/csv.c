#include "csv/csv.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"

struct px_csv {
  const char *p, *end, *start;
  long line;      /* of the cursor, 1-based */
  char delim;
  int trim;
  int broken;     /* the last record was bad: skip to the next line first */
  px_buf rec;     /* the current record's fields, unescaped, one after another */
  size_t *off;    /* each field's offset in rec ... */
  px_csv_field *fields; /* ... made pointers once the record is complete */
  size_t nfields, cap;
  px_csv_field *cols; /* the header, copied */
  char *colbuf;
  size_t ncols;
};

static int blank(char ch, char delim) { return ch == ' ' || (ch == '\t' && delim != '\t'); }

/* The most frequent of , ; TAB | outside quotes on the first line. */
static char detect(const char *p, const char *end) {
  static const char cands[] = {',', ';', '\t', '|'};
  size_t count[4] = {0};
  int quoted = 0;
  for (; p < end && (quoted || (*p != '\n' && *p != '\r')); p++) {
    if (*p == '"') quoted = !quoted;
    for (int i = 0; i < 4 && !quoted; i++) count[i] += *p == cands[i];
  }
  int best = 0;
  for (int i = 1; i < 4; i++)
    if (count[i] > count[best]) best = i;
  return cands[best];
}

static px_status bad(px_csv *c, px_error *err, const char *reason) {
  c->broken = 1;
  return px_error_set(err, PX_INVALID, "", "%s", reason);
}

static px_status add_field(px_csv *c, px_error *err) {
  if (c->nfields == PX_CSV_MAX_FIELDS) return bad(c, err, "more than 1024 fields");
  if (c->nfields == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    size_t *off = realloc(c->off, cap * sizeof *off);
    if (!off) return PX_NOMEM;
    c->off = off;
    px_csv_field *f = realloc(c->fields, cap * sizeof *f);
    if (!f) return PX_NOMEM;
    c->fields = f;
    c->cap = cap;
  }
  c->off[c->nfields++] = c->rec.len;
  return PX_OK;
}

/* Appends n bytes of field content, counting the line breaks in it. */
static px_status put(px_csv *c, const char *s, size_t n, size_t field_start, px_error *err) {
  if (c->rec.len - field_start + n > PX_CSV_MAX_FIELD_BYTES) return bad(c, err, "a field longer than 65536 bytes");
  for (const char *nl = s; (nl = memchr(nl, '\n', (size_t)(s + n - nl))) != NULL; nl++) c->line++;
  return px_buf_append(&c->rec, s, n) == PX_OK ? PX_OK : PX_NOMEM;
}

/* A quoted field, the cursor on its opening quote. */
static px_status quoted(px_csv *c, size_t start, px_error *err) {
  c->p++;
  for (;;) {
    const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
    if (!q) {
      c->p = c->end;
      return bad(c, err, "a quoted field is not closed");
    }
    px_status s = put(c, c->p, (size_t)(q - c->p), start, err);
    if (s != PX_OK) return s;
    c->p = q + 1;
    if (c->p < c->end && *c->p == '"') { /* "" is one quote */
      if ((s = put(c, "\"", 1, start, err)) != PX_OK) return s;
      c->p++;
      continue;
    }
    break;
  }
  if (c->trim)
    while (c->p < c->end && blank(*c->p, c->delim)) c->p++;
  if (c->p < c->end && *c->p != c->delim && *c->p != '\n' && *c->p != '\r')
    return bad(c, err, "text after a closing quote");
  return PX_OK;
}

/* An unquoted field: up to the delimiter or the end of the line. */
static px_status unquoted(px_csv *c, size_t start, px_error *err) {
  const char *s = c->p;
  while (c->p < c->end && *c->p != c->delim && *c->p != '\n' && *c->p != '\r') c->p++;
  const char *e = c->p;
  if (c->trim)
    while (e > s && blank(e[-1], c->delim)) e--;
  return put(c, s, (size_t)(e - s), start, err);
}

/* Past the end of the current line. */
static void skip_line(px_csv *c) {
  const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
  c->p = nl ? nl + 1 : c->end;
  if (nl) c->line++;
}

/* Reads one record into c->rec; PX_NOT_FOUND at the end. */
static px_status read_record(px_csv *c, long *line, px_error *err) {
  if (c->broken) {
    c->broken = 0;
    if (c->p > c->start && c->p < c->end && c->p[-1] != '\n') skip_line(c);
  }
  /* Empty lines are not records. */
  while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
    if (*c->p == '\n') c->line++;
    c->p++;
  }
  if (c->p >= c->end) return PX_NOT_FOUND;
  *line = c->line;
  px_buf_reset(&c->rec);
  c->nfields = 0;
  for (;;) {
    px_status s = add_field(c, err);
    if (s != PX_OK) return s;
    if (c->trim)
      while (c->p < c->end && blank(*c->p, c->delim)) c->p++;
    s = c->p < c->end && *c->p == '"' ? quoted(c, c->off[c->nfields - 1], err)
                                      : unquoted(c, c->off[c->nfields - 1], err);
    if (s != PX_OK) return s;
    if (c->p < c->end && *c->p == c->delim) {
      c->p++;
      continue;
    }
    if (c->p < c->end && *c->p == '\r') c->p++;
    if (c->p < c->end && *c->p == '\n') {
      c->p++;
      c->line++;
    }
    break;
  }
  if (c->rec.len && (memchr(c->rec.data, 0, c->rec.len) || px_utf8_invalid_at(c->rec.data, c->rec.len) >= 0))
    return px_error_set(err, PX_INVALID, "", "invalid UTF-8 or a NUL byte");
  for (size_t i = 0; i < c->nfields; i++) {
    size_t end = i + 1 < c->nfields ? c->off[i + 1] : c->rec.len;
    c->fields[i] = (px_csv_field){c->rec.data ? c->rec.data + c->off[i] : "", end - c->off[i]};
  }
  return PX_OK;
}

px_status px_csv_next(px_csv *c, const px_csv_field **fields, size_t *nfields, long *line, px_error *err) {
  for (;;) {
    long at = c->line;
    px_status s = read_record(c, &at, err);
    *line = at;
    if (s != PX_OK) return s;
    if (c->nfields == 1 && c->fields[0].n == 0 && c->ncols != 1) continue; /* a line of blanks */
    if (c->ncols && c->nfields != c->ncols)
      return px_error_set(err, PX_INVALID, "", "%zu fields where the header has %zu", c->nfields, c->ncols);
    *fields = c->fields;
    *nfields = c->nfields;
    return PX_OK;
  }
}

px_status px_csv_open(const char *data, size_t n, const px_csv_opts *opts, px_csv **out, px_error *err) {
  px_csv_opts def = {0};
  if (!opts) opts = &def;
  px_csv *c = calloc(1, sizeof *c);
  if (!c) return PX_NOMEM;
  c->start = c->p = data;
  c->end = data + n;
  c->line = 1;
  if (n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) c->p += 3; /* byte order mark */
  c->delim = opts->delimiter ? opts->delimiter : detect(c->p, c->end);
  c->trim = !opts->keep_space;
  px_buf_init(&c->rec, 0);
  *out = c;
  if (opts->no_header) return PX_OK;
  const px_csv_field *f;
  size_t nf;
  long line;
  px_status s = read_record(c, &line, err);
  if (s == PX_NOT_FOUND) return PX_OK; /* an empty file: no columns, no records */
  if (s != PX_OK) {
    px_csv_close(c);
    *out = NULL;
    return s;
  }
  f = c->fields;
  nf = c->nfields;
  if (!(c->cols = calloc(nf, sizeof *c->cols)) || !(c->colbuf = malloc(c->rec.len + 1))) {
    px_csv_close(c);
    *out = NULL;
    return PX_NOMEM;
  }
  if (c->rec.len) memcpy(c->colbuf, c->rec.data, c->rec.len);
  for (size_t i = 0; i < nf; i++) c->cols[i] = (px_csv_field){c->colbuf + (f[i].s - (c->rec.data ? c->rec.data : f[i].s)), f[i].n};
  c->ncols = nf;
  return PX_OK;
}

void px_csv_close(px_csv *c) {
  if (!c) return;
  px_buf_free(&c->rec);
  free(c->off);
  free(c->fields);
  free(c->cols);
  free(c->colbuf);
  free(c);
}

size_t px_csv_columns(const px_csv *c, const px_csv_field **names) {
  *names = c->cols;
  return c->ncols;
}

char px_csv_delimiter(const px_csv *c) { return c->delim; }

size_t px_csv_offset(const px_csv *c) { return (size_t)(c->p - c->start); }
