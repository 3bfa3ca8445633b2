/* Reading interactions (user, item, optional time and weight) from a CSV
 * file's bytes (src/csv: a header or numbered columns, a given or detected
 * delimiter) into px_reco_data.
 *
 * - A record with an empty user or item is skipped and counted (no_id):
 *   sales without a customer, as in retail exports.
 * - skip rules leave out records whose column starts with a prefix (e.g.
 *   cancelled invoices: InvoiceNo starting with "C"), counted (skipped).
 * - A record whose time (ISO 8601, or YYYY-MM-DD, or YYYYMMDD) or weight
 *   (a number > 0) cannot be read, or a record the CSV reader rejects, is
 *   reported through bad with its line and skipped (bad). */
#ifndef PX_RECO_INPUT_H
#define PX_RECO_INPUT_H

#include <stddef.h>

#include "base/status.h"
#include "reco/data.h"

#define PX_RECO_MAX_SKIPS 8

typedef struct px_reco_skip {
  const char *column; /* name or number from 1 */
  const char *prefix; /* non-empty */
} px_reco_skip;

typedef struct px_reco_input {
  const char *user, *item; /* column names, or numbers from 1 */
  const char *time;        /* NULL: no times (PX_RECO_NO_TIME) */
  const char *weight;      /* NULL: every interaction weighs 1 */
  int no_header;           /* the first line is data: columns by number */
  char delimiter;          /* 0 detects it */
  px_reco_skip skip[PX_RECO_MAX_SKIPS];
  size_t n_skip;
} px_reco_input;

typedef struct px_reco_read_stats {
  size_t records; /* data records read (good and bad) */
  size_t added;   /* interactions added */
  size_t no_id;   /* skipped: empty user or item */
  size_t skipped; /* skipped by a skip rule */
  size_t bad;     /* reported through bad */
} px_reco_read_stats;

typedef void (*px_reco_bad_fn)(void *arg, long line, const char *reason);

/* PX_NOT_FOUND when a column is not in the header (or not a number
 * without one): err->field names the option ("user", "item", "time",
 * "weight", "skip") and err->reason the column. A CSV header that cannot
 * be read is PX_INVALID; running out of memory or the limits of data.h
 * stop the reading (PX_NOMEM, PX_TOO_LARGE). stats and bad may be NULL. */
px_status px_reco_read(px_reco_data *d, const px_reco_input *in, const char *data, size_t n, px_reco_bad_fn bad,
                       void *arg, px_reco_read_stats *stats, px_error *err);

/* A time as the reader takes it: an ISO 8601 time (no zone: UTC; a space
 * for the T), YYYY-MM-DD or YYYYMMDD (midnight UTC). */
px_status px_reco_parse_time(const char *s, size_t n, int64_t *ms);

#endif
