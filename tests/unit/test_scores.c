/* score/scores: per-profile score storage, its encoding and the rule-value form. */
#include <math.h>
#include <string.h>

#include "score/scores.h"
#include "store/key.h"
#include "store_env.h"

#define F ((fixture *)*state)

static px_score num(double n, int64_t since) { return (px_score){PX_SCORE_NUM, n, NULL, 0, since}; }
static px_score str(const char *s, int64_t since) { return (px_score){PX_SCORE_STR, 0, s, strlen(s), since}; }

static void test_put_read_keeps_since_when_equal(void **state) {
  int changed = -1;
  px_score v = num(4, 1000), got;
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 7, "rfm_r", &v, &changed));
  PX_ASSERT_INT_EQ(changed, 1);
  PX_ASSERT_OK(px_score_read(F->txn, F->st, 7, "rfm_r", &got));
  PX_ASSERT_INT_EQ(got.type, PX_SCORE_NUM);
  assert_true(got.n == 4);
  PX_ASSERT_INT_EQ(got.since_ms, 1000);
  /* The same value later: nothing written, the first since stays. */
  v.since_ms = 2000;
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 7, "rfm_r", &v, &changed));
  PX_ASSERT_INT_EQ(changed, 0);
  PX_ASSERT_OK(px_score_read(F->txn, F->st, 7, "rfm_r", &got));
  PX_ASSERT_INT_EQ(got.since_ms, 1000);
  /* Another value, or the same number as a string: written. */
  v = num(5, 3000);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 7, "rfm_r", &v, &changed));
  PX_ASSERT_INT_EQ(changed, 1);
  PX_ASSERT_OK(px_score_read(F->txn, F->st, 7, "rfm_r", &got));
  assert_true(got.n == 5);
  PX_ASSERT_INT_EQ(got.since_ms, 3000);
  v = str("5", 4000);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 7, "rfm_r", &v, &changed));
  PX_ASSERT_INT_EQ(changed, 1);
  PX_ASSERT_OK(px_score_read(F->txn, F->st, 7, "rfm_r", &got));
  PX_ASSERT_INT_EQ(got.type, PX_SCORE_STR);
  PX_ASSERT_INT_EQ(got.len, 1);
  assert_memory_equal(got.s, "5", 1);
  /* Negative times and -0.0 vs 0.0 are kept exactly. */
  v = num(-0.0, -86400000LL);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 8, "x", &v, &changed));
  PX_ASSERT_OK(px_score_read(F->txn, F->st, 8, "x", &got));
  PX_ASSERT_INT_EQ(got.since_ms, -86400000LL);
  assert_true(signbit(got.n));
  v = num(0.0, 0);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 8, "x", &v, &changed));
  PX_ASSERT_INT_EQ(changed, 1);
}

static void test_encoding(void **state) {
  /* type 'n', since i64 (sign flipped) big-endian, the double's bits big-endian. */
  px_score v = num(1.5, 1);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 1, "a", &v, NULL));
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, 1);
  px_key_bytes(&k, "a", 1);
  MDB_val got;
  PX_ASSERT_OK(px_store_get(F->txn, F->st, PX_DB_SCORES, k.b, k.n, &got));
  const unsigned char want[17] = {'n', 0x80, 0, 0, 0, 0, 0, 0, 1, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0};
  PX_ASSERT_INT_EQ(got.mv_size, sizeof want);
  assert_memory_equal(got.mv_data, want, sizeof want);
  v = str("ab", 0);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 1, "a", &v, NULL));
  PX_ASSERT_OK(px_store_get(F->txn, F->st, PX_DB_SCORES, k.b, k.n, &got));
  const unsigned char want_s[11] = {'s', 0x80, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'};
  PX_ASSERT_INT_EQ(got.mv_size, sizeof want_s);
  assert_memory_equal(got.mv_data, want_s, sizeof want_s);
  /* A malformed value is a store error, not a crash. */
  PX_ASSERT_OK(px_store_put(F->txn, F->st, PX_DB_SCORES, k.b, k.n, "n\x80", 2, 0));
  px_score sc;
  PX_ASSERT_STATUS(px_score_read(F->txn, F->st, 1, "a", &sc), PX_STORE);
}

static void test_refusals(void **state) {
  px_score v = num(NAN, 0);
  PX_ASSERT_STATUS(px_score_put(F->txn, F->st, 1, "a", &v, NULL), PX_INVALID);
  v = num(INFINITY, 0);
  PX_ASSERT_STATUS(px_score_put(F->txn, F->st, 1, "a", &v, NULL), PX_INVALID);
  v = num(1, 0);
  PX_ASSERT_STATUS(px_score_put(F->txn, F->st, 1, "", &v, NULL), PX_INVALID);
  char longname[PX_SCORE_NAME_MAX + 1];
  memset(longname, 'x', PX_SCORE_NAME_MAX);
  longname[PX_SCORE_NAME_MAX] = 0;
  PX_ASSERT_STATUS(px_score_put(F->txn, F->st, 1, longname, &v, NULL), PX_INVALID);
  longname[PX_SCORE_NAME_MAX - 1] = 0; /* 127 bytes: fine */
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 1, longname, &v, NULL));
  px_score sc;
  PX_ASSERT_STATUS(px_score_read(F->txn, F->st, 1, "nope", &sc), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_score_del(F->txn, F->st, 1, "nope"), PX_NOT_FOUND);
}

typedef struct seen {
  char names[8][PX_SCORE_NAME_MAX];
  int n, stop_at;
} seen;

static int each_cb(void *arg, const char *name, const px_score *v) {
  (void)v;
  seen *s = arg;
  strcpy(s->names[s->n++], name);
  return s->n == s->stop_at;
}

static void test_each_and_delete(void **state) {
  px_score v = num(1, 0);
  /* Neighbouring profiles (and the summaries' profile 0) do not leak in. */
  const char *names[] = {"rfm_r", "rfm_cell", "clv", "rfm_f"};
  for (int i = 0; i < 4; i++) PX_ASSERT_OK(px_score_put(F->txn, F->st, 5, names[i], &v, NULL));
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 4, "zzz", &v, NULL));
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 6, "aaa", &v, NULL));
  PX_ASSERT_OK(px_score_put(F->txn, F->st, PX_SCORE_GLOBAL, "rfm", &v, NULL));
  seen s = {.n = 0, .stop_at = 0};
  PX_ASSERT_OK(px_score_each(F->txn, F->st, 5, each_cb, &s));
  PX_ASSERT_INT_EQ(s.n, 4);
  PX_ASSERT_STR_EQ(s.names[0], "clv");
  PX_ASSERT_STR_EQ(s.names[1], "rfm_cell");
  PX_ASSERT_STR_EQ(s.names[2], "rfm_f");
  PX_ASSERT_STR_EQ(s.names[3], "rfm_r");
  s = (seen){.n = 0, .stop_at = 2};
  PX_ASSERT_OK(px_score_each(F->txn, F->st, 5, each_cb, &s));
  PX_ASSERT_INT_EQ(s.n, 2);
  PX_ASSERT_OK(px_score_del(F->txn, F->st, 5, "rfm_cell"));
  s = (seen){.n = 0, .stop_at = 0};
  PX_ASSERT_OK(px_score_each(F->txn, F->st, 5, each_cb, &s));
  PX_ASSERT_INT_EQ(s.n, 3);
  s = (seen){.n = 0, .stop_at = 0};
  PX_ASSERT_OK(px_score_each(F->txn, F->st, 99, each_cb, &s));
  PX_ASSERT_INT_EQ(s.n, 0);
}

static void test_rule_value(void **state) {
  px_score a = str("champions", 0), b = num(2.5, 0);
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 3, "rfm_cell", &a, NULL));
  PX_ASSERT_OK(px_score_put(F->txn, F->st, 3, "rfm_m", &b, NULL));
  px_buf scratch;
  px_buf_init(&scratch, 0);
  px_rule_value v;
  PX_ASSERT_OK(px_score_get(F->txn, F->st, 3, "rfm_cell", &v, &scratch));
  PX_ASSERT_INT_EQ(v.type, PX_RV_STR);
  PX_ASSERT_INT_EQ(v.len, 9);
  assert_ptr_equal(v.s, scratch.data);
  assert_memory_equal(v.s, "champions", 9);
  PX_ASSERT_OK(px_score_get(F->txn, F->st, 3, "rfm_cell", &v, NULL)); /* into the store */
  PX_ASSERT_INT_EQ(v.type, PX_RV_STR);
  assert_memory_equal(v.s, "champions", 9);
  PX_ASSERT_OK(px_score_get(F->txn, F->st, 3, "rfm_m", &v, &scratch));
  PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
  assert_true(v.n == 2.5);
  PX_ASSERT_OK(px_score_get(F->txn, F->st, 3, "nope", &v, &scratch));
  PX_ASSERT_INT_EQ(v.type, PX_RV_NULL);
  PX_ASSERT_OK(px_score_get(F->txn, F->st, 4, "rfm_m", &v, &scratch));
  PX_ASSERT_INT_EQ(v.type, PX_RV_NULL);
  px_buf_free(&scratch);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_put_read_keeps_since_when_equal, setup, teardown),
    cmocka_unit_test_setup_teardown(test_encoding, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_each_and_delete, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rule_value, setup, teardown),
};
PX_TEST_MAIN(tests)
