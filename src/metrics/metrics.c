#include "metrics/metrics.h"

#include <string.h>

/* Bucket upper bounds in microseconds. */
static const uint64_t bounds_us[PX_LATENCY_BUCKETS] = {100,   250,    500,    1000,   2500,
                                                       5000,  10000,  25000,  50000,  100000,
                                                       250000, 500000, 1000000, 5000000};

void px_metrics_init(px_metrics *m) { memset(m, 0, sizeof *m); }

void px_histogram_observe(px_histogram *h, uint64_t us) {
  int i = 0;
  while (i < PX_LATENCY_BUCKETS && us > bounds_us[i]) i++;
  atomic_fetch_add(&h->buckets[i], 1);
  atomic_fetch_add(&h->count, 1);
  atomic_fetch_add(&h->sum_us, us);
}

static void counter(px_buf *b, const char *name, const char *help, uint64_t v) {
  px_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                (unsigned long long)v);
}

static void gauge(px_buf *b, const char *name, const char *help, int64_t v) {
  px_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, (long long)v);
}

static void histogram(px_buf *b, const char *name, const char *help, const px_histogram *h) {
  px_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0;
  for (int i = 0; i <= PX_LATENCY_BUCKETS; i++) {
    cum += atomic_load(&h->buckets[i]);
    if (i < PX_LATENCY_BUCKETS)
      px_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
                    (unsigned long long)cum);
    else
      px_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
  }
  px_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&h->sum_us) / 1e6, name,
                (unsigned long long)atomic_load(&h->count));
}

void px_metrics_render(const px_metrics *m, uint64_t profiles, uint64_t merges_total, px_buf *out) {
  counter(out, "pickaxe_events_received_total", "Messages received in requests.",
          atomic_load(&m->events_received));
  counter(out, "pickaxe_events_accepted_total", "Messages stored durably.",
          atomic_load(&m->events_accepted));
  counter(out, "pickaxe_events_duplicate_total",
          "Messages acknowledged but not stored again (repeated messageId).",
          atomic_load(&m->events_duplicate));
  counter(out, "pickaxe_events_rejected_total", "Messages rejected as invalid.",
          atomic_load(&m->events_rejected));
  counter(out, "pickaxe_identifiers_blocked_total", "Identifier values ignored as junk or invalid.",
          atomic_load(&m->identifiers_blocked));
  counter(out, "pickaxe_identity_refusals_total", "Merges refused by identity rules (this process).",
          atomic_load(&m->merges_refused));
  counter(out, "pickaxe_requests_overloaded_total", "Requests answered 503 because the queue was full.",
          atomic_load(&m->requests_overloaded));
  counter(out, "pickaxe_commits_total", "Store transactions committed by the writer.",
          atomic_load(&m->commits));
  px_buf_puts(out, "# HELP pickaxe_http_requests_total HTTP requests by status class.\n"
                   "# TYPE pickaxe_http_requests_total counter\n");
  for (int i = 1; i <= 5; i++)
    px_buf_printf(out, "pickaxe_http_requests_total{code=\"%dxx\"} %llu\n", i,
                  (unsigned long long)atomic_load(&m->http_requests[i]));
  gauge(out, "pickaxe_queue_events", "Events waiting for the writer.", atomic_load(&m->queue_events));
  gauge(out, "pickaxe_backfill_done", "Profiles done by the running or last segment or computed-trait backfill.",
        (int64_t)atomic_load(&m->backfill_done));
  gauge(out, "pickaxe_backfill_size", "Profiles the running or last segment or computed-trait backfill walks.",
        (int64_t)atomic_load(&m->backfill_size));
  gauge(out, "pickaxe_profiles", "Live profiles in the store.", (int64_t)profiles);
  gauge(out, "pickaxe_merges", "Profile merges recorded in the store.", (int64_t)merges_total);
  histogram(out, "pickaxe_commit_latency_seconds", "Writer transaction time, fsync included.",
            &m->commit_latency);
  histogram(out, "pickaxe_ack_latency_seconds", "Time from enqueue to durable acknowledgement.",
            &m->request_latency);
}
