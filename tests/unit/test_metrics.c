/* metrics: histograms and the Prometheus text exposition. */
#include <stdio.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "px_test.h"

static void test_histogram_buckets(void **state) {
  (void)state;
  px_metrics m;
  px_metrics_init(&m);
  px_histogram *h = &m.commit_latency;
  px_histogram_observe(h, 0);       /* <= 100 us */
  px_histogram_observe(h, 100);     /* <= 100 us: bounds are inclusive */
  px_histogram_observe(h, 101);     /* <= 250 us */
  px_histogram_observe(h, 5000000); /* <= 5 s */
  px_histogram_observe(h, 5000001); /* +Inf */
  PX_ASSERT_UINT_EQ(atomic_load(&h->buckets[0]), 2);
  PX_ASSERT_UINT_EQ(atomic_load(&h->buckets[1]), 1);
  PX_ASSERT_UINT_EQ(atomic_load(&h->buckets[PX_LATENCY_BUCKETS - 1]), 1);
  PX_ASSERT_UINT_EQ(atomic_load(&h->buckets[PX_LATENCY_BUCKETS]), 1);
  PX_ASSERT_UINT_EQ(atomic_load(&h->count), 5);
  PX_ASSERT_UINT_EQ(atomic_load(&h->sum_us), 0 + 100 + 101 + 5000000 + 5000001);
}

/* The value on the line that starts with `prefix` (followed by a space). */
static double value_of(const char *text, const char *prefix) {
  size_t pl = strlen(prefix);
  for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, prefix, pl) == 0 && line[pl] == ' ') return strtod(line + pl + 1, NULL);
  }
  fail_msg("no line \"%s ...\" in the exposition (%zu bytes)", prefix, strlen(text));
  return -1;
}

static void test_render(void **state) {
  (void)state;
  px_metrics m;
  px_metrics_init(&m);
  atomic_fetch_add(&m.events_accepted, 12);
  atomic_fetch_add(&m.events_duplicate, 3);
  atomic_fetch_add(&m.http_requests[2], 40);
  atomic_fetch_add(&m.http_requests[4], 5);
  atomic_store(&m.queue_events, 17);
  px_histogram_observe(&m.request_latency, 300);
  px_histogram_observe(&m.request_latency, 2000000);
  px_buf b;
  px_buf_init(&b, 0);
  px_metrics_render(&m, 99, 7, &b);
  const char *t = b.data;
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_events_accepted_total"), 12);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_events_duplicate_total"), 3);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_http_requests_total{code=\"2xx\"}"), 40);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_http_requests_total{code=\"4xx\"}"), 5);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_queue_events"), 17);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_profiles"), 99);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_merges"), 7);
  /* Cumulative buckets in seconds. */
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_ack_latency_seconds_bucket{le=\"0.0001\"}"), 0);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_ack_latency_seconds_bucket{le=\"0.0005\"}"), 1);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_ack_latency_seconds_bucket{le=\"5\"}"), 2);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_ack_latency_seconds_bucket{le=\"+Inf\"}"), 2);
  PX_ASSERT_INT_EQ(value_of(t, "pickaxe_ack_latency_seconds_count"), 2);
  double sum = value_of(t, "pickaxe_ack_latency_seconds_sum");
  if (sum < 2.000299 || sum > 2.000301) fail_msg("sum %f, want 2.0003", sum);
  /* Every metric has HELP and TYPE lines. */
  PX_ASSERT_STR_CONTAINS(t, "# TYPE pickaxe_events_accepted_total counter\n");
  PX_ASSERT_STR_CONTAINS(t, "# TYPE pickaxe_queue_events gauge\n");
  PX_ASSERT_STR_CONTAINS(t, "# TYPE pickaxe_ack_latency_seconds histogram\n");
  px_buf_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_histogram_buckets),
    cmocka_unit_test(test_render),
};

PX_TEST_MAIN(tests)
