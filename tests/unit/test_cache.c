/* store/cache: the identifier cache, and the rule that makes it safe: a
 * state write transaction trusts it only while every state transaction
 * since its last commit was this process's own. */
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "store/cache.h"
#include "store/store.h"

static void test_put_get_del(void **state) {
  (void)state;
  px_cache *c = px_cache_create(4);
  uint64_t v = 0;
  PX_ASSERT_INT_EQ(px_cache_get(c, "a", 1, &v), 0);
  px_cache_put(c, "a", 1, 7);
  px_cache_put(c, "ab", 2, 8);
  PX_ASSERT_INT_EQ(px_cache_get(c, "a", 1, &v), 1);
  PX_ASSERT_UINT_EQ(v, 7);
  px_cache_put(c, "a", 1, 9); /* replaced */
  PX_ASSERT_INT_EQ(px_cache_get(c, "a", 1, &v), 1);
  PX_ASSERT_UINT_EQ(v, 9);
  px_cache_del(c, "a", 1);
  PX_ASSERT_INT_EQ(px_cache_get(c, "a", 1, &v), 0);
  PX_ASSERT_INT_EQ(px_cache_get(c, "ab", 2, &v), 1); /* probing past the tombstone */
  px_cache_put(c, "a", 1, 10);                       /* back to life */
  PX_ASSERT_INT_EQ(px_cache_get(c, "a", 1, &v), 1);
  PX_ASSERT_UINT_EQ(v, 10);
  px_cache_clear(c);
  PX_ASSERT_INT_EQ(px_cache_get(c, "ab", 2, &v), 0);
  px_cache_destroy(c);
}

static void test_starts_afresh_when_full(void **state) {
  (void)state;
  px_cache *c = px_cache_create(100);
  char k[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "k%d", i);
    px_cache_put(c, k, strlen(k), (uint64_t)i);
    uint64_t v;
    PX_ASSERT_INT_EQ(px_cache_get(c, k, strlen(k), &v), 1); /* the newest is always there */
    PX_ASSERT_UINT_EQ(v, (uint64_t)i);
  }
  int found = 0;
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "k%d", i);
    uint64_t v;
    found += px_cache_get(c, k, strlen(k), &v);
  }
  PX_ASSERT_INT_CMP(found, <=, 100);
  px_cache_destroy(c);
}

static px_status put_ident(px_store *st, const char *key, uint64_t v) {
  px_txn *t;
  px_status s = px_store_begin(st, PX_TXN_WRITE, &t);
  if (s != PX_OK) return s;
  if ((s = px_store_put(t, st, PX_DB_IDENT, key, strlen(key), &v, 8, 0)) != PX_OK) {
    px_store_abort(t);
    return s;
  }
  return px_store_commit(t);
}

static uint64_t get_ident(px_store *st, const char *key) {
  px_txn *t;
  PX_ASSERT_OK(px_store_begin(st, PX_TXN_WRITE, &t));
  MDB_val v;
  uint64_t out = 0;
  px_status s = px_store_get(t, st, PX_DB_IDENT, key, strlen(key), &v);
  if (s == PX_OK) memcpy(&out, v.mv_data, 8);
  px_store_commit(t);
  return out;
}

/* Two handles on one directory behave as two processes: each has its own
 * cache, and neither may answer from it after the other wrote. */
static void test_store_cache_follows_other_writers_and_aborts(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", px_test_tmpdir());
  px_store_opts o = {.map_size = (size_t)64 << 20};
  px_store *a, *b;
  PX_ASSERT_OK(px_store_open(dir, &o, &a));
  PX_ASSERT_OK(px_store_open(dir, &o, &b));
  PX_ASSERT_OK(put_ident(a, "user_id\0u1", 5));
  PX_ASSERT_UINT_EQ(get_ident(a, "user_id\0u1"), 5); /* now cached in a */
  PX_ASSERT_UINT_EQ(get_ident(b, "user_id\0u1"), 5);
  PX_ASSERT_OK(put_ident(b, "user_id\0u1", 6)); /* b moves it (a merge, say) */
  PX_ASSERT_UINT_EQ(get_ident(a, "user_id\0u1"), 6);
  /* A value put by a transaction that is then aborted is forgotten. */
  px_txn *t;
  uint64_t seven = 7;
  PX_ASSERT_OK(px_store_begin(a, PX_TXN_WRITE, &t));
  PX_ASSERT_OK(px_store_put(t, a, PX_DB_IDENT, "user_id\0u1", 10, &seven, 8, 0));
  px_store_abort(t);
  PX_ASSERT_UINT_EQ(get_ident(a, "user_id\0u1"), 6);
  px_store_close(a);
  px_store_close(b);
  px_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_del),
      cmocka_unit_test(test_starts_afresh_when_full),
      cmocka_unit_test(test_store_cache_follows_other_writers_and_aborts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
