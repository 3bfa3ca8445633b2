/* Interactions from a CSV file's bytes: see input.h. */
#include "reco/input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "csv/csv.h"

enum { C_USER, C_ITEM, C_TIME, C_WEIGHT, C_FIXED };

typedef struct reader {
  px_reco_data *d;
  const px_reco_input *in;
  int col[C_FIXED + PX_RECO_MAX_SKIPS]; /* 0-based; -1: not read */
  px_reco_bad_fn bad;
  void *arg;
  px_reco_read_stats st;
} reader;

static int digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

px_status px_reco_parse_time(const char *s, size_t n, int64_t *ms) {
  char buf[64];
  if (n == 8 && digits(s, 8)) {
    snprintf(buf, sizeof buf, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
  } else if (n && n < sizeof buf && !memchr(s, 0, n)) {
    memcpy(buf, s, n);
    buf[n] = 0;
  } else {
    return PX_INVALID;
  }
  return px_time_parse_iso(buf, ms) == PX_OK ? PX_OK : PX_INVALID;
}

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

static px_status resolve(reader *r, const px_csv_field *names, size_t n, px_error *err) {
  static const char *what[C_FIXED] = {"user", "item", "time", "weight"};
  const char *want[C_FIXED] = {r->in->user, r->in->item, r->in->time, r->in->weight};
  for (size_t k = 0; k < C_FIXED + r->in->n_skip; k++) {
    const char *w = k < C_FIXED ? want[k] : r->in->skip[k - C_FIXED].column;
    if (!w) {
      r->col[k] = -1;
      continue;
    }
    if ((r->col[k] = column(w, names, n, r->in->no_header)) < 0)
      return px_error_set(err, PX_NOT_FOUND, k < C_FIXED ? what[k] : "skip", "%s", w);
  }
  return PX_OK;
}

static void report(reader *r, long line, const char *why) {
  r->st.bad++;
  if (r->bad) r->bad(r->arg, line, why);
}

static int starts_with(const px_csv_field *f, const char *prefix) {
  size_t n = strlen(prefix);
  return f->n >= n && memcmp(f->s, prefix, n) == 0;
}

/* One record: an interaction, or a reason it is not one. */
static px_status add_record(reader *r, const px_csv_field *f, size_t nf, long line) {
  r->st.records++;
  for (size_t k = 0; k < C_FIXED + r->in->n_skip; k++)
    if (r->col[k] >= 0 && (size_t)r->col[k] >= nf) {
      char why[64];
      snprintf(why, sizeof why, "no column %d", r->col[k] + 1);
      report(r, line, why);
      return PX_OK;
    }
  for (size_t k = 0; k < r->in->n_skip; k++)
    if (starts_with(&f[r->col[C_FIXED + k]], r->in->skip[k].prefix)) {
      r->st.skipped++;
      return PX_OK;
    }
  const px_csv_field *u = &f[r->col[C_USER]], *it = &f[r->col[C_ITEM]];
  if (!u->n || !it->n) {
    r->st.no_id++;
    return PX_OK;
  }
  int64_t t = PX_RECO_NO_TIME;
  if (r->col[C_TIME] >= 0) {
    const px_csv_field *tf = &f[r->col[C_TIME]];
    if (px_reco_parse_time(tf->s, tf->n, &t) != PX_OK) {
      report(r, line, "not a time");
      return PX_OK;
    }
  }
  double w = 1;
  if (r->col[C_WEIGHT] >= 0) {
    const px_csv_field *wf = &f[r->col[C_WEIGHT]];
    char num[64], *end;
    w = NAN;
    if (wf->n && wf->n < sizeof num) {
      memcpy(num, wf->s, wf->n);
      num[wf->n] = 0;
      w = strtod(num, &end);
      if (*end) w = NAN;
    }
    if (!(w > 0) || !isfinite(w)) {
      report(r, line, "the weight is not a number > 0");
      return PX_OK;
    }
  }
  px_status st = px_reco_data_add(r->d, u->s, u->n, it->s, it->n, w, t);
  if (st == PX_INVALID) {
    report(r, line, "an id too long or holding a NUL byte");
    return PX_OK;
  }
  if (st == PX_OK) r->st.added++;
  return st;
}

px_status px_reco_read(px_reco_data *d, const px_reco_input *in, const char *data, size_t n, px_reco_bad_fn bad,
                       void *arg, px_reco_read_stats *stats, px_error *err) {
  if (!in->user || !in->item || in->n_skip > PX_RECO_MAX_SKIPS) return PX_INVALID;
  for (size_t k = 0; k < in->n_skip; k++)
    if (!in->skip[k].column || !in->skip[k].prefix || !*in->skip[k].prefix) return PX_INVALID;
  reader r = {.d = d, .in = in, .bad = bad, .arg = arg};
  px_csv_opts opts = {.delimiter = in->delimiter, .no_header = in->no_header};
  px_csv *csv;
  px_error cerr;
  px_error_clear(&cerr);
  px_status st = px_csv_open(n ? data : "", n, &opts, &csv, &cerr);
  if (st != PX_OK) {
    if (err) *err = cerr;
    return st;
  }
  const px_csv_field *names;
  size_t ncols = px_csv_columns(csv, &names);
  if ((st = resolve(&r, names, ncols, err)) != PX_OK) {
    px_csv_close(csv);
    return st;
  }
  const px_csv_field *f;
  size_t nf;
  long line;
  while ((st = px_csv_next(csv, &f, &nf, &line, &cerr)) != PX_NOT_FOUND) {
    if (st == PX_INVALID) {
      r.st.records++;
      report(&r, line, cerr.reason);
      continue;
    }
    if (st != PX_OK || (st = add_record(&r, f, nf, line)) != PX_OK) break;
  }
  px_csv_close(csv);
  if (stats) *stats = r.st;
  if (st == PX_NOT_FOUND) st = px_reco_data_sort_items(d); /* results independent of the file's order */
  return st;
}
