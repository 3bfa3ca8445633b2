/* Process-wide counters and histograms, rendered in Prometheus text format.
 * Passed around as a context (no global). */
#ifndef PX_METRICS_METRICS_H
#define PX_METRICS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"

#define PX_LATENCY_BUCKETS 14

typedef struct px_histogram {
  atomic_uint_fast64_t buckets[PX_LATENCY_BUCKETS + 1]; /* last is +Inf */
  atomic_uint_fast64_t count;
  atomic_uint_fast64_t sum_us;
} px_histogram;

typedef struct px_metrics {
  atomic_uint_fast64_t events_received;   /* messages parsed from requests */
  atomic_uint_fast64_t events_accepted;   /* durable and new */
  atomic_uint_fast64_t events_duplicate;  /* durable, already stored (same source + messageId) */
  atomic_uint_fast64_t events_rejected;   /* invalid */
  atomic_uint_fast64_t identifiers_blocked;
  atomic_uint_fast64_t merges;
  atomic_uint_fast64_t merges_refused;
  atomic_uint_fast64_t requests_overloaded;
  atomic_uint_fast64_t commits;
  atomic_int_fast64_t queue_events;       /* gauge: events waiting for the writer */
  atomic_uint_fast64_t backfill_done;     /* gauge: profiles the running (or last) backfill has done */
  atomic_uint_fast64_t backfill_size;     /* gauge: ... and walks in all */
  atomic_uint_fast64_t http_requests[6];  /* by status class: 1xx..5xx (index 1-5) */
  px_histogram commit_latency;            /* writer transaction, seconds */
  px_histogram request_latency;           /* enqueue to durable ack, seconds */
} px_metrics;

void px_metrics_init(px_metrics *m);
void px_histogram_observe(px_histogram *h, uint64_t micros);
/* Appends the Prometheus exposition; profiles and merges come from the store. */
void px_metrics_render(const px_metrics *m, uint64_t profiles, uint64_t merges_total, px_buf *out);

#endif
