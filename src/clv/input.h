/* Reading purchases (customer, date, amount) from a file's bytes into a
 * BTYD summary (summary.h): CSV (csv.h: a header or numbered columns, a
 * given or detected delimiter) or whitespace-separated fields (as in the
 * CDNOW sample). A record without a customer, a date (px_clv_parse_day) or
 * a number is reported through bad, with its line, and skipped. */
#ifndef PX_CLV_INPUT_H
#define PX_CLV_INPUT_H

#include <stddef.h>

#include "clv/summary.h"

typedef struct px_clv_input {
  const char *customer, *date, *amount; /* column names, or numbers from 1 */
  int whitespace;                       /* fields are runs of non-blank bytes */
  int no_header;                        /* the first line is data: columns by number */
  char delimiter;                       /* CSV: 0 detects it */
} px_clv_input;

typedef void (*px_clv_bad_fn)(void *arg, long line, const char *reason);

/* PX_NOT_FOUND when a column is not in the header (or not a number
 * without one); a CSV header that cannot be read is PX_INVALID. */
px_status px_clv_read(px_clv_summary *s, const px_clv_input *in, const char *data, size_t n, px_clv_bad_fn bad,
                      void *arg);

#endif
