/* Purchases from a file's bytes: see input.h. */
#include "clv/input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv/csv.h"

typedef struct reader {
  px_clv_summary *s;
  const px_clv_input *in;
  int col[3]; /* customer, date, amount: 0-based */
  px_clv_bad_fn bad;
  void *arg;
} reader;

/* The column a name or number stands for (-1: none). */
static int column(const char *want, const px_csv_field *names, size_t n, int no_header) {
  char *end;
  long k = strtol(want, &end, 10);
  if (*want && !*end && k >= 1 && k <= PX_CSV_MAX_FIELDS) return (int)k - 1;
  if (no_header) return -1;
  for (size_t i = 0; i < n; i++)
    if (names[i].n == strlen(want) && memcmp(names[i].s, want, names[i].n) == 0) return (int)i;
  return -1;
}

static int resolve(reader *r, const px_csv_field *names, size_t n, int no_header) {
  const char *want[3] = {r->in->customer, r->in->date, r->in->amount};
  for (int k = 0; k < 3; k++)
    if ((r->col[k] = column(want[k], names, n, no_header)) < 0) return 0;
  return 1;
}

/* One record's purchase; a bad one is reported and skipped. */
static px_status add_record(reader *r, const px_csv_field *f, size_t nf, long line) {
  char why[64];
  for (int k = 0; k < 3; k++)
    if ((size_t)r->col[k] >= nf) {
      snprintf(why, sizeof why, "no column %d", r->col[k] + 1);
      r->bad(r->arg, line, why);
      return PX_OK;
    }
  const px_csv_field *c = &f[r->col[0]], *d = &f[r->col[1]], *a = &f[r->col[2]];
  int64_t day;
  char num[64];
  double amount = NAN;
  if (a->n && a->n < sizeof num) {
    char *end;
    memcpy(num, a->s, a->n);
    num[a->n] = 0;
    amount = strtod(num, &end);
    if (*end) amount = NAN;
  }
  if (!c->n || memchr(c->s, 0, c->n) || px_clv_parse_day(d->s, d->n, &day) != PX_OK || !isfinite(amount)) {
    r->bad(r->arg, line, "needs a customer, a date and a number");
    return PX_OK;
  }
  return px_clv_summary_add(r->s, c->s, c->n, day, amount);
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static px_status read_whitespace(reader *r, const char *data, size_t n) {
  px_csv_field f[PX_CSV_MAX_FIELDS];
  long line = 0;
  int header = !r->in->no_header;
  if (r->in->no_header && !resolve(r, NULL, 0, 1)) return PX_NOT_FOUND;
  for (size_t at = 0; at < n;) {
    size_t eol = at;
    while (eol < n && data[eol] != '\n') eol++;
    line++;
    size_t nf = 0;
    for (size_t i = at; i < eol && nf < PX_CSV_MAX_FIELDS;) {
      while (i < eol && blank(data[i])) i++;
      size_t b = i;
      while (i < eol && !blank(data[i])) i++;
      if (i > b) f[nf++] = (px_csv_field){data + b, i - b};
    }
    at = eol + 1;
    if (!nf) continue;
    if (header) {
      header = 0;
      if (!resolve(r, f, nf, 0)) return PX_NOT_FOUND;
      continue;
    }
    px_status st = add_record(r, f, nf, line);
    if (st != PX_OK) return st;
  }
  return header && !r->in->no_header && !resolve(r, NULL, 0, 0) ? PX_NOT_FOUND : PX_OK;
}

static px_status read_csv(reader *r, const char *data, size_t n) {
  px_csv_opts opts = {.delimiter = r->in->delimiter, .no_header = r->in->no_header};
  px_csv *csv;
  px_error err;
  px_error_clear(&err);
  px_status st = px_csv_open(n ? data : "", n, &opts, &csv, &err);
  if (st != PX_OK) return st;
  const px_csv_field *names;
  size_t ncols = px_csv_columns(csv, &names);
  if (!resolve(r, names, ncols, r->in->no_header)) {
    px_csv_close(csv);
    return PX_NOT_FOUND;
  }
  const px_csv_field *f;
  size_t nf;
  long line;
  while ((st = px_csv_next(csv, &f, &nf, &line, &err)) != PX_NOT_FOUND) {
    if (st == PX_INVALID) {
      r->bad(r->arg, line, err.reason);
      continue;
    }
    if (st != PX_OK || (st = add_record(r, f, nf, line)) != PX_OK) break;
  }
  px_csv_close(csv);
  return st == PX_NOT_FOUND ? PX_OK : st;
}

px_status px_clv_read(px_clv_summary *s, const px_clv_input *in, const char *data, size_t n, px_clv_bad_fn bad,
                      void *arg) {
  if (!in->customer || !in->date || !in->amount) return PX_INVALID;
  reader r = {s, in, {0, 0, 0}, bad, arg};
  return in->whitespace ? read_whitespace(&r, data, n) : read_csv(&r, data, n);
}
