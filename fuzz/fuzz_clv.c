/* Fuzz target: px_clv_read and the BTYD summary (src/clv), which read
 * purchases files. The first byte picks the reading (whitespace or CSV,
 * header or numbered columns); the rest is the file. Checks: every
 * customer's summary is finite with 0 <= t_x <= T, x a whole number, m 0
 * exactly when x is 0 (unless repeat amounts sum to 0), and bad records are
 * reported with a line number within the file. */
#include <math.h>

#include "clv/input.h"
#include "fuzz_common.h"

typedef struct bad_seen {
  size_t n;
  long lines;
} bad_seen;

static void on_bad(void *arg, long line, const char *reason) {
  bad_seen *b = arg;
  FUZZ_CHECK(line >= 1 && line <= b->lines + 1, "line %ld of %ld", line, b->lines);
  FUZZ_CHECK(reason && *reason, "no reason");
  b->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  uint8_t mode = data[0];
  char *s = fuzz_copy(data + 1, size - 1, 0);
  px_clv_input in = {.whitespace = mode & 1, .no_header = (mode >> 1) & 1};
  in.customer = in.no_header ? "1" : "c";
  in.date = in.no_header ? "2" : "d";
  in.amount = in.no_header ? "3" : "a";
  bad_seen bad = {0, 0};
  for (size_t i = 0; i < size - 1; i++) bad.lines += s[i] == '\n';
  px_clv_summary *sum = px_clv_summary_new(20000, (mode >> 2) & 1 ? 7 : 1); /* 2024-10-04 */
  FUZZ_CHECK(sum, "no summary");
  px_status st = px_clv_read(sum, &in, s, size - 1, on_bad, &bad);
  FUZZ_CHECK(st == PX_OK || st == PX_NOT_FOUND || st == PX_INVALID || st == PX_TOO_LARGE, "status %s",
             px_status_str(st));
  const px_btyd_customer *c;
  const char *const *ids;
  size_t n;
  FUZZ_CHECK(px_clv_summary_build(sum, &c, &ids, &n) == PX_OK, "build");
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(ids[i] && *ids[i], "customer %zu has no id", i);
    FUZZ_CHECK(c[i].x >= 0 && c[i].x == floor(c[i].x), "x %g", c[i].x);
    FUZZ_CHECK(c[i].t_x >= 0 && c[i].t_x <= c[i].T && isfinite(c[i].T), "t_x %g T %g", c[i].t_x, c[i].T);
    FUZZ_CHECK(c[i].x > 0 || c[i].m == 0, "m %g without repeats", c[i].m);
  }
  px_clv_summary_free(sum);
  free(s);
  return 0;
}
