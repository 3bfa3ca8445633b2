/* How often a scheduled refresh runs (RFM, CLV): a positive whole number
 * and a unit s, m, h, d or w ("24h"), or "never" (only on demand, 0 ms). */
#ifndef PX_SEGMENT_EVERY_H
#define PX_SEGMENT_EVERY_H

#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

/* 1 when s is such an interval (*out_ms: 0 for "never"); at most 100 years. */
int px_every_parse(const char *s, int64_t *out_ms);
/* The interval in its largest whole unit ("1d"), or "never" for 0. */
void px_every_format(int64_t ms, char out[32]);

/* When a refresh that keeps its summary under (PX_SCORE_GLOBAL, summary)
 * is next due, given its definition's last change and interval: at once
 * (INT64_MIN) when it never ran or the definition changed since; else the
 * last run + every_ms; INT64_MAX when every_ms is 0 (on demand only). */
px_status px_every_next_due(px_txn *txn, const px_store *st, const char *summary, int64_t updated_ms,
                            int64_t every_ms, int64_t *due_ms);

#endif
