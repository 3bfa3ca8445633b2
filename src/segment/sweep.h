/* Time passing for a whole store: px_segment_sweep (engine.h) run in
 * state-only transactions of bounded size, each committed before the next
 * begins, so a large backlog never holds one giant transaction and another
 * writer of the state gets its turn between them. Used by the CLI before it
 * reads memberships and after an import, and by the server's writer a
 * bounded turn at a time. The sweep's writes are derived state (the state
 * store, committed without fsync): the log is not touched. */
#ifndef PX_SEGMENT_SWEEP_H
#define PX_SEGMENT_SWEEP_H

#include <stdint.h>

#include "base/status.h"
#include "config/config.h"
#include "store/store.h"

#define PX_SWEEP_PER_TXN 10000 /* default profiles per transaction */

/* Bounds of one px_segment_sweep_run; zeros mean the default or no bound. */
typedef struct px_sweep_limits {
  uint64_t per_txn; /* profiles per transaction (0: PX_SWEEP_PER_TXN) */
  uint64_t max;     /* stop after this many profiles (0: when nothing is due) */
  uint64_t max_ns;  /* stop after this much monotonic time (0: no bound), checked every 256 profiles */
} px_sweep_limits;

typedef struct px_sweep_result {
  uint64_t done; /* profiles processed (each at one due time) */
  int more;      /* 1: stopped at a bound with something still due at now_ms */
} px_sweep_result;

/* Processes what is due at or before now_ms, oldest first, as
 * px_segment_sweep does, within lim (NULL: everything, in transactions of
 * PX_SWEEP_PER_TXN). Looks at the due index in a read transaction first:
 * with nothing due no write lock is taken. Transactions committed before a
 * failure stay committed; out (may be NULL) counts them. */
px_status px_segment_sweep_run(px_store *st, const px_config *cfg, int64_t now_ms, const px_sweep_limits *lim,
                               px_sweep_result *out);

#endif
