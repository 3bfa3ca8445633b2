/* segment/history: px_segment_history_before (newest first from any
 * position, exclusive or inclusive) and px_seg_change_cmp, against a plain
 * array of the changes written, sorted in memory. */
#include <stdlib.h>

#include "px_test.h"
#include "store_env.h"
#include "segment/engine.h"
#include "segment/engine_int.h" /* eng_history_put: how the engine writes history */

#define NCH 40

typedef struct got {
  px_seg_change c[NCH + 8];
  size_t n, stop_after; /* stop_after 0: never stop */
} got;

static int collect(void *arg, const px_seg_change *c) {
  got *g = arg;
  g->c[g->n++] = *c;
  return g->stop_after && g->n == g->stop_after;
}

static int desc(const void *a, const void *b) { return -px_seg_change_cmp(a, b); }

/* Writes a mix of changes for profiles 1, 2 and 4 (3 has none, 5 is past
 * the last): equal times, every cause, negative times, seq and segment
 * ties broken by the next field. Returns how many, into all. */
static size_t write_changes(fixture *f, px_seg_change *all) {
  static const int64_t times[] = {-5000, 0, 1000, 1000, 1000, 2000, 2000, 3000};
  size_t n = 0;
  for (uint64_t pid = 1; pid <= 4; pid++) {
    if (pid == 3) continue;
    for (size_t i = 0; i < NCH / 3; i++) {
      px_seg_cause cause = (px_seg_cause)(i % 5);
      uint64_t seq = cause == PX_SEG_CAUSE_EVENT ? 10 + i / 2 : 0;
      px_seg_change c = {pid, times[i % 8], (uint32_t)(1 + i % 3), (int)(i % 2), cause, seq};
      PX_ASSERT_OK(eng_history_put(f->txn, f->st, pid, c.time_ms, c.cause, c.seq, c.segment, c.entered));
      all[n++] = c;
    }
  }
  return n;
}

/* The changes of pid in all before at (or at it when inclusive), newest first. */
static size_t expected(const px_seg_change *all, size_t n, uint64_t pid, const px_seg_change *at, int inclusive,
                       px_seg_change *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (all[i].pid != pid) continue;
    int c = at ? px_seg_change_cmp(&all[i], at) : -1;
    if (c < 0 || (c == 0 && inclusive)) out[k++] = all[i];
  }
  qsort(out, k, sizeof *out, desc);
  return k;
}

static void assert_same(const px_seg_change *a, size_t na, const px_seg_change *b, size_t nb) {
  PX_ASSERT_UINT_EQ(na, nb);
  for (size_t i = 0; i < na; i++) {
    PX_ASSERT_UINT_EQ(a[i].pid, b[i].pid);
    PX_ASSERT_INT_EQ(a[i].time_ms, b[i].time_ms);
    PX_ASSERT_UINT_EQ(a[i].segment, b[i].segment);
    PX_ASSERT_INT_EQ(a[i].entered, b[i].entered);
    PX_ASSERT_INT_EQ(a[i].cause, b[i].cause);
    PX_ASSERT_UINT_EQ(a[i].seq, b[i].seq);
  }
}

static void test_cmp_is_history_order(void **state) {
  fixture *f = *state;
  px_seg_change all[NCH], want[NCH];
  size_t n = write_changes(f, all);
  for (uint64_t pid = 1; pid <= 2; pid++) {
    /* px_segment_history gives the stored order, oldest first. */
    got g = {.n = 0};
    PX_ASSERT_OK(px_segment_history(f->txn, f->st, pid, collect, &g));
    size_t k = expected(all, n, pid, NULL, 0, want);
    PX_ASSERT_UINT_EQ(g.n, k);
    for (size_t i = 1; i < g.n; i++) PX_ASSERT_INT_CMP(px_seg_change_cmp(&g.c[i - 1], &g.c[i]), <, 0);
    for (size_t i = 0; i < g.n; i++) PX_ASSERT_INT_EQ(px_seg_change_cmp(&g.c[i], &want[k - 1 - i]), 0);
  }
  px_seg_change a = {1, -1, 9, 1, PX_SEG_CAUSE_SCORE, 0}, b = {1, 0, 1, 1, PX_SEG_CAUSE_EVENT, 1};
  PX_ASSERT_INT_CMP(px_seg_change_cmp(&a, &b), <, 0); /* time first, negative before zero */
  b.time_ms = -1;
  PX_ASSERT_INT_CMP(px_seg_change_cmp(&a, &b), >, 0); /* then cause */
  a.cause = b.cause = PX_SEG_CAUSE_EVENT, a.seq = 2;
  PX_ASSERT_INT_CMP(px_seg_change_cmp(&a, &b), >, 0); /* then seq */
  a.seq = 1;
  PX_ASSERT_INT_CMP(px_seg_change_cmp(&a, &b), >, 0); /* then segment */
  a.segment = 1, a.entered = 0, a.pid = 7;
  PX_ASSERT_INT_EQ(px_seg_change_cmp(&a, &b), 0); /* entered and pid are not part of the order */
}

static void test_before_every_position(void **state) {
  fixture *f = *state;
  px_seg_change all[NCH], want[NCH];
  size_t n = write_changes(f, all);
  /* Probes: every change written, and positions between and around them. */
  px_seg_change probes[NCH + 6];
  size_t np = 0;
  for (size_t i = 0; i < n; i++) probes[np++] = all[i];
  probes[np++] = (px_seg_change){0, -6000, 0, 0, PX_SEG_CAUSE_EVENT, 0};  /* before everything */
  probes[np++] = (px_seg_change){0, 1000, 0, 0, PX_SEG_CAUSE_EVENT, 0};   /* the start of a time */
  probes[np++] = (px_seg_change){0, 1000, 99, 0, PX_SEG_CAUSE_SCORE, 0};  /* the end of a time */
  probes[np++] = (px_seg_change){0, 1500, 0, 0, PX_SEG_CAUSE_EVENT, 0};   /* between times */
  probes[np++] = (px_seg_change){0, INT64_MAX, 0, 0, PX_SEG_CAUSE_EVENT, 0};
  probes[np++] = (px_seg_change){0, INT64_MIN, 0, 0, PX_SEG_CAUSE_EVENT, 0};
  for (uint64_t pid = 1; pid <= 5; pid++) {
    got g = {.n = 0};
    PX_ASSERT_OK(px_segment_history_before(f->txn, f->st, pid, NULL, 0, collect, &g));
    size_t k = expected(all, n, pid, NULL, 0, want);
    assert_same(g.c, g.n, want, k);
    for (size_t p = 0; p < np; p++) {
      for (int inclusive = 0; inclusive <= 1; inclusive++) {
        g.n = 0;
        PX_ASSERT_OK(px_segment_history_before(f->txn, f->st, pid, &probes[p], inclusive, collect, &g));
        k = expected(all, n, pid, &probes[p], inclusive, want);
        assert_same(g.c, g.n, want, k);
      }
    }
  }
}

static void test_before_stops_and_empty(void **state) {
  fixture *f = *state;
  got g = {.n = 0};
  PX_ASSERT_OK(px_segment_history_before(f->txn, f->st, 1, NULL, 0, collect, &g));
  PX_ASSERT_UINT_EQ(g.n, 0); /* no history at all */
  px_seg_change all[NCH];
  write_changes(f, all);
  g = (got){.n = 0, .stop_after = 3};
  PX_ASSERT_OK(px_segment_history_before(f->txn, f->st, 2, NULL, 0, collect, &g));
  PX_ASSERT_UINT_EQ(g.n, 3);
  /* Paging by hand with the last change seen gives each change once. */
  px_seg_change seen[NCH];
  size_t ns = 0;
  for (;;) {
    g = (got){.n = 0, .stop_after = 2};
    PX_ASSERT_OK(px_segment_history_before(f->txn, f->st, 2, ns ? &seen[ns - 1] : NULL, 0, collect, &g));
    if (!g.n) break;
    for (size_t i = 0; i < g.n; i++) seen[ns++] = g.c[i];
  }
  PX_ASSERT_UINT_EQ(ns, NCH / 3);
  for (size_t i = 1; i < ns; i++) PX_ASSERT_INT_CMP(px_seg_change_cmp(&seen[i - 1], &seen[i]), >, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cmp_is_history_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_before_every_position, setup, teardown),
    cmocka_unit_test_setup_teardown(test_before_stops_and_empty, setup, teardown),
};

PX_TEST_MAIN(tests)
