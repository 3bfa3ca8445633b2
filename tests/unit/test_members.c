/* segment/members: membership bitmaps in the store, against a plain array
 * kept alongside (sets, counts, pages, replacement, set algebra). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"
#include "store_env.h"
#include "segment/members.h"

static uint64_t count(fixture *f, uint32_t seg) {
  uint64_t n;
  PX_ASSERT_OK(px_members_count(f->txn, f->st, seg, &n));
  return n;
}

static int has(fixture *f, uint32_t seg, uint64_t pid) {
  int in;
  PX_ASSERT_OK(px_members_has(f->txn, f->st, seg, pid, &in));
  return in;
}

/* Every member, paged max at a time. Caller frees. */
static uint64_t *all(fixture *f, uint32_t seg, size_t max, size_t *n) {
  size_t cap = 1024, got;
  uint64_t *out = malloc(cap * sizeof *out), after = 0;
  *n = 0;
  for (;;) {
    if (*n + max > cap) out = realloc(out, (cap = 2 * (*n + max)) * sizeof *out);
    PX_ASSERT_OK(px_members_page(f->txn, f->st, seg, after, out + *n, max, &got));
    if (!got) break;
    *n += got;
    after = out[*n - 1];
  }
  return out;
}

static void test_set_has_count(void **state) {
  fixture *f = *state;
  const uint64_t ids[] = {1, 65535, 65536, 200000, (uint64_t)1 << 40, PX_MEMBERS_MAX_PID};
  int changed;
  for (size_t i = 0; i < 6; i++) {
    PX_ASSERT_OK(px_members_set(f->txn, f->st, 7, ids[i], 1, &changed));
    PX_ASSERT_INT_EQ(changed, 1);
  }
  PX_ASSERT_OK(px_members_set(f->txn, f->st, 7, 65536, 1, &changed)); /* already in */
  PX_ASSERT_INT_EQ(changed, 0);
  PX_ASSERT_UINT_EQ(count(f, 7), 6);
  PX_ASSERT_UINT_EQ(count(f, 8), 0); /* another segment: untouched */
  for (size_t i = 0; i < 6; i++) assert_true(has(f, 7, ids[i]));
  assert_false(has(f, 7, 2));
  assert_false(has(f, 7, 65537));
  assert_false(has(f, 8, 1));
  PX_ASSERT_OK(px_members_set(f->txn, f->st, 7, 200000, 0, &changed));
  PX_ASSERT_INT_EQ(changed, 1);
  PX_ASSERT_OK(px_members_set(f->txn, f->st, 7, 200000, 0, &changed)); /* already out */
  PX_ASSERT_INT_EQ(changed, 0);
  PX_ASSERT_UINT_EQ(count(f, 7), 5);
  assert_false(has(f, 7, 200000));
  PX_ASSERT_STATUS(px_members_set(f->txn, f->st, 7, PX_MEMBERS_MAX_PID + 1, 1, NULL), PX_INVALID);
  /* Pages in order, across chunks, from any point. */
  uint64_t page[4];
  size_t n;
  PX_ASSERT_OK(px_members_page(f->txn, f->st, 7, 0, page, 2, &n));
  PX_ASSERT_INT_EQ(n, 2);
  PX_ASSERT_UINT_EQ(page[0], 1);
  PX_ASSERT_UINT_EQ(page[1], 65535);
  PX_ASSERT_OK(px_members_page(f->txn, f->st, 7, 65535, page, 4, &n));
  PX_ASSERT_INT_EQ(n, 3);
  PX_ASSERT_UINT_EQ(page[0], 65536);
  PX_ASSERT_UINT_EQ(page[1], (uint64_t)1 << 40);
  PX_ASSERT_UINT_EQ(page[2], PX_MEMBERS_MAX_PID);
  PX_ASSERT_OK(px_members_page(f->txn, f->st, 7, 131071, page, 4, &n)); /* the last id of a chunk */
  PX_ASSERT_UINT_EQ(page[0], (uint64_t)1 << 40);
  PX_ASSERT_OK(px_members_page(f->txn, f->st, 7, PX_MEMBERS_MAX_PID, page, 4, &n));
  PX_ASSERT_INT_EQ(n, 0);
  /* Cleared: nothing left, the neighbour untouched. */
  PX_ASSERT_OK(px_members_set(f->txn, f->st, 8, 3, 1, NULL));
  PX_ASSERT_OK(px_members_clear(f->txn, f->st, 7));
  PX_ASSERT_UINT_EQ(count(f, 7), 0);
  assert_false(has(f, 7, 1));
  PX_ASSERT_OK(px_members_page(f->txn, f->st, 7, 0, page, 4, &n));
  PX_ASSERT_INT_EQ(n, 0);
  assert_true(has(f, 8, 3));
}

/* Random changes to three segments over ids spanning several chunks, then
 * checks against plain arrays: membership, counts, pages, replacement and
 * every set operation. */
static void test_against_arrays(void **state) {
  fixture *f = *state;
  enum { RANGE = 300000, SEGS = 3 };
  unsigned char *want = calloc((size_t)SEGS * RANGE, 1);
  uint64_t x = 12345;
  for (int step = 0; step < 30000; step++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t seg = (uint32_t)((x >> 20) % SEGS);
    uint64_t pid = 1 + (x >> 33) % (RANGE - 1);
    int in = (x >> 10) % 4 != 0, changed;
    PX_ASSERT_OK(px_members_set(f->txn, f->st, seg, pid, in, &changed));
    PX_ASSERT_INT_EQ(changed, want[seg * RANGE + pid] != in);
    want[seg * RANGE + pid] = (unsigned char)in;
  }
  for (uint32_t seg = 0; seg < SEGS; seg++) {
    uint64_t expect = 0;
    for (uint64_t p = 0; p < RANGE; p++) expect += want[seg * RANGE + p];
    PX_ASSERT_UINT_EQ(count(f, seg), expect);
    size_t n;
    uint64_t *got = all(f, seg, 777, &n);
    PX_ASSERT_UINT_EQ(n, expect);
    for (size_t i = 0; i < n; i++) {
      assert_true(want[seg * RANGE + got[i]]);
      if (i) assert_true(got[i] > got[i - 1]);
    }
    free(got);
  }
  /* (0 op 1) op2 2 for every pair of operations. */
  for (int op1 = 0; op1 < 3; op1++)
    for (int op2 = 0; op2 < 3; op2++) {
      const uint32_t segs[] = {0, 1, 2};
      const px_set_op ops[] = {(px_set_op)op1, (px_set_op)op2};
      uint64_t expect = 0, got;
      for (uint64_t p = 0; p < RANGE; p++) {
        int a = want[p], b = want[RANGE + p], c = want[2 * RANGE + p];
        int ab = op1 == PX_SET_UNION ? a | b : op1 == PX_SET_INTERSECT ? a & b : a & !b;
        expect += op2 == PX_SET_UNION ? ab | c : op2 == PX_SET_INTERSECT ? ab & c : ab & !c;
      }
      PX_ASSERT_OK(px_members_combine(f->txn, f->st, segs, ops, 3, NULL, NULL, &got));
      if (got != expect) fail_msg("(0 op%d 1) op%d 2: %llu members, want %llu", op1, op2, (unsigned long long)got,
                                  (unsigned long long)expect);
    }
  /* Replacing segment 0 by segment 1's members: equal afterwards. */
  size_t n;
  uint64_t *ones = all(f, 1, 5000, &n);
  PX_ASSERT_OK(px_members_replace(f->txn, f->st, 0, ones, n));
  PX_ASSERT_UINT_EQ(count(f, 0), n);
  const uint32_t segs[] = {0, 1};
  const px_set_op minus[] = {PX_SET_MINUS};
  uint64_t diff;
  PX_ASSERT_OK(px_members_combine(f->txn, f->st, segs, minus, 2, NULL, NULL, &diff));
  PX_ASSERT_UINT_EQ(diff, 0);
  const uint32_t rev[] = {1, 0};
  PX_ASSERT_OK(px_members_combine(f->txn, f->st, rev, minus, 2, NULL, NULL, &diff));
  PX_ASSERT_UINT_EQ(diff, 0);
  if (n > 2) {
    uint64_t swapped[2] = {ones[1], ones[0]};
    PX_ASSERT_STATUS(px_members_replace(f->txn, f->st, 0, swapped, 2), PX_INVALID); /* not ascending */
  }
  free(ones);
  free(want);
}

typedef struct collect {
  uint64_t seen, last;
  int calls, ordered;
} collect;

static int take_one_chunk(void *arg, const uint64_t *pids, size_t n) {
  collect *c = arg;
  for (size_t i = 0; i < n; i++) {
    c->ordered &= pids[i] > c->last;
    c->last = pids[i];
  }
  c->seen += n;
  return ++c->calls == 1; /* stop after the first chunk */
}

static void test_combine_streams_in_order(void **state) {
  fixture *f = *state;
  uint64_t pids[1000];
  for (int i = 0; i < 1000; i++) pids[i] = 1 + (uint64_t)i * 500; /* spans 8 chunks */
  PX_ASSERT_OK(px_members_replace(f->txn, f->st, 4, pids, 1000));
  const uint32_t one[] = {4};
  collect c = {0, 0, 0, 1};
  uint64_t n;
  PX_ASSERT_OK(px_members_combine(f->txn, f->st, one, NULL, 1, take_one_chunk, &c, &n));
  PX_ASSERT_INT_EQ(c.calls, 1);
  PX_ASSERT_UINT_EQ(n, c.seen); /* stopped early: the count of what was given */
  PX_ASSERT_UINT_EQ(c.seen, 132); /* ids 1..65501 in steps of 500 */
  assert_true(c.ordered);
  PX_ASSERT_STATUS(px_members_combine(f->txn, f->st, one, NULL, 0, NULL, NULL, &n), PX_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_set_has_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_against_arrays, setup, teardown),
      cmocka_unit_test_setup_teardown(test_combine_streams_in_order, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
