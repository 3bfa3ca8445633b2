/* The single writer: request threads hand it prepared events; it applies
 * everything queued in one store transaction, commits (fsync), and only then
 * wakes the submitters (group commit). The queue is bounded: submitters wait
 * for room up to a deadline, then get PX_OVERLOADED (HTTP 503). */
#ifndef PX_INGEST_WRITER_H
#define PX_INGEST_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "metrics/metrics.h"
#include "store/store.h"

typedef struct px_writer px_writer;

typedef struct px_writer_opts {
  size_t max_queue_events; /* events waiting for the writer; default 50,000 */
  int max_wait_ms;         /* how long a submitter waits for room; default 2,000 */
  size_t max_txn_events;   /* events per transaction; default 20,000 */
  uint64_t min_free_bytes; /* refuse writes (PX_DISK_FULL) below this much free disk; default 64 MiB */
} px_writer_opts;

px_status px_writer_start(px_store *st, px_metrics *m, const px_writer_opts *opts,
                          px_writer **out);
/* Drains the queue, stops the thread, frees. Accepts NULL. */
void px_writer_stop(px_writer *w);

/* The state is memory-mapped and grows into a sparse file: running out of
 * disk there would fault, so the writer keeps a reserve of free space.
 *
 * Blocks until events[0..n) are durable. dup[i] is set to 1 for events the
 * source had already sent. PX_OVERLOADED, PX_DISK_FULL, PX_SHUTDOWN: nothing
 * was stored. Any other failure: nothing was acknowledged; events may be in
 * the log (a retry then finds them as duplicates). */
px_status px_writer_submit(px_writer *w, px_event *events, size_t n, uint8_t *dup);

/* Events currently queued. */
size_t px_writer_queued(px_writer *w);
/* Events the writer has taken and not yet finished (its current transaction). */
size_t px_writer_in_flight(px_writer *w);

#endif
