/* Fuzz target: the CSV reader (file sources). The first byte picks the
 * options. Checks: reading ends, line numbers never go back, fields stay
 * within the limits, and the records read, written out again with every
 * field quoted, read back as the same fields. */
#include "base/buf.h"
#include "csv/csv.h"
#include "fuzz_common.h"

static const char delims[] = {0, ',', ';', '\t', '|'};

static void quote(px_buf *b, const char *s, size_t n) {
  px_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') px_buf_putc(b, '"');
    px_buf_putc(b, s[i]);
  }
  px_buf_putc(b, '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  px_csv_opts o = {.delimiter = delims[data[0] % 5], .no_header = (data[0] >> 3) & 1,
                   .keep_space = (data[0] >> 4) & 1};
  char *text = fuzz_copy(data + 1, size - 1, 0);
  px_csv *c;
  px_error err;
  if (px_csv_open(text, size - 1, &o, &c, &err) != PX_OK) {
    free(text);
    return 0;
  }
  char d = px_csv_delimiter(c);
  px_buf copy, want; /* the quoted copy; the fields expected back, each then a NUL */
  px_buf_init(&copy, 0);
  px_buf_init(&want, 0);
  const px_csv_field *f;
  size_t n, records = 0;
  long line, last = 0;
  px_status s;
  while ((s = px_csv_next(c, &f, &n, &line, &err)) != PX_NOT_FOUND) {
    FUZZ_CHECK(line >= last, "line %ld after %ld", line, last);
    FUZZ_CHECK(px_csv_offset(c) <= size - 1, "offset past the end");
    last = line;
    if (s != PX_OK) continue;
    FUZZ_CHECK(n >= 1 && n <= PX_CSV_MAX_FIELDS, "%zu fields", n);
    if (n == 1 && f[0].n == 0) continue; /* reads back as a blank line */
    for (size_t i = 0; i < n; i++) {
      FUZZ_CHECK(f[i].n <= PX_CSV_MAX_FIELD_BYTES, "field of %zu bytes", f[i].n);
      if (i) px_buf_putc(&copy, d);
      quote(&copy, f[i].s, f[i].n);
      px_buf_append(&want, f[i].s, f[i].n);
      px_buf_putc(&want, 0);
    }
    px_buf_putc(&copy, '\n');
    records++;
  }
  px_csv_close(c);
  if (records) {
    px_csv_opts back = {.delimiter = d, .no_header = 1, .keep_space = 1};
    px_csv *c2;
    FUZZ_CHECK(px_csv_open(copy.data, copy.len, &back, &c2, &err) == PX_OK, "re-open");
    size_t got = 0, at = 0;
    while ((s = px_csv_next(c2, &f, &n, &line, &err)) != PX_NOT_FOUND) {
      FUZZ_CHECK(s == PX_OK, "record %zu of the quoted copy is bad: %s", got, err.reason);
      for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(at + f[i].n < want.len && memcmp(want.data + at, f[i].s, f[i].n) == 0 &&
                       want.data[at + f[i].n] == 0,
                   "record %zu field %zu differs when read back", got, i);
        at += f[i].n + 1;
      }
      got++;
    }
    FUZZ_CHECK(got == records && at == want.len, "%zu records read back, %zu written", got, records);
    px_csv_close(c2);
  }
  px_buf_free(&copy);
  px_buf_free(&want);
  free(text);
  return 0;
}
