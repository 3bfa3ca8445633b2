/* store: the LMDB environment, counters, derived-data reset; store/key.h. */
#include <stdio.h>
#include <stdlib.h>

#include "px_test.h"
#include "store/key.h"
#include "store/store.h"

#define FX ((px_test_store *)*state)

static void test_open_creates_and_reopens(void **state) {
  const char *dir = *state;
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/data", dir); /* does not exist yet */
  px_store *st = NULL;
  PX_ASSERT_OK(px_store_open(sub, NULL, &st));
  PX_ASSERT_STR_EQ(px_store_path(st), sub);
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_EVENTS, "k", 1, "v", 1, 0));
  PX_ASSERT_OK(px_store_commit(txn));
  px_store_close(st);

  /* Committed data survives, and a read-only open sees it. */
  px_store_opts ro = {.read_only = 1};
  PX_ASSERT_OK(px_store_open(sub, &ro, &st));
  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  MDB_val v;
  PX_ASSERT_OK(px_store_get(txn, st, PX_DB_EVENTS, "k", 1, &v));
  PX_ASSERT_INT_EQ(v.mv_size, 1);
  PX_ASSERT_INT_EQ(*(char *)v.mv_data, 'v');
  px_store_abort(txn);
  px_store_close(st);
  px_store_close(NULL);
  px_store_abort(NULL);
}

static void test_open_fails_cleanly(void **state) {
  (void)state;
  px_store *st = (px_store *)0x1;
  px_status s = px_store_open("/proc/pickaxe-cannot-exist/x", NULL, &st);
  PX_ASSERT_INT_NE(s, PX_OK);
  PX_ASSERT_NULL(st);
}

static void test_schema_version_mismatch(void **state) {
  const char *dir = *state;
  px_store *st;
  PX_ASSERT_OK(px_store_open(dir, NULL, &st));
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  uint32_t future = 99;
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_META, "schema", 6, &future, sizeof future, 0));
  PX_ASSERT_OK(px_store_commit(txn));
  px_store_close(st);
  st = (px_store *)0x1;
  PX_ASSERT_INT_NE(px_store_open(dir, NULL, &st), PX_OK);
  PX_ASSERT_NULL(st);
}

static void test_get_put_del(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  MDB_val v;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_STATUS(px_store_get(txn, st, PX_DB_PROFILES, "a", 1, &v), PX_NOT_FOUND);
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_PROFILES, "a", 1, "one", 3, 0));
  PX_ASSERT_STATUS(px_store_put(txn, st, PX_DB_PROFILES, "a", 1, "two", 3, MDB_NOOVERWRITE),
                   PX_EXISTS);
  PX_ASSERT_OK(px_store_get(txn, st, PX_DB_PROFILES, "a", 1, &v));
  PX_ASSERT_INT_EQ(v.mv_size, 3);
  PX_ASSERT_INT_EQ(memcmp(v.mv_data, "one", 3), 0);
  /* Databases are separate namespaces. */
  PX_ASSERT_STATUS(px_store_get(txn, st, PX_DB_TRAITS, "a", 1, &v), PX_NOT_FOUND);
  PX_ASSERT_OK(px_store_del(txn, st, PX_DB_PROFILES, "a", 1));
  PX_ASSERT_STATUS(px_store_del(txn, st, PX_DB_PROFILES, "a", 1), PX_NOT_FOUND);
  px_store_abort(txn);
}

static void test_abort_discards(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  MDB_val v;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_EVENTS, "x", 1, "1", 1, 0));
  px_store_abort(txn);
  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  PX_ASSERT_STATUS(px_store_get(txn, st, PX_DB_EVENTS, "x", 1, &v), PX_NOT_FOUND);
  px_store_abort(txn);
}

static void test_counters(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  uint64_t v;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_counter(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 0);
  PX_ASSERT_OK(px_store_next_id(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 1);
  PX_ASSERT_OK(px_store_next_id(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 2);
  PX_ASSERT_OK(px_store_next_id(txn, st, "other", &v));
  PX_ASSERT_UINT_EQ(v, 1);
  PX_ASSERT_OK(px_store_set_counter(txn, st, "seq", 1000));
  PX_ASSERT_OK(px_store_next_id(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 1001);
  PX_ASSERT_OK(px_store_counter(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 1001);
  /* A malformed counter is a store error, not a silent zero. */
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_META, "bad", 3, "xyz", 3, 0));
  PX_ASSERT_STATUS(px_store_counter(txn, st, "bad", &v), PX_STORE);
  PX_ASSERT_OK(px_store_commit(txn));
}

static void test_count_and_clear_derived(void **state) {
  px_store *st = FX->st;
  px_txn *txn;
  uint64_t v;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  static const px_db all[] = {PX_DB_EVENTS,  PX_DB_IDENT,    PX_DB_PROFILES,
                              PX_DB_PIDENTS, PX_DB_TRAITS,  PX_DB_TIMELINE, PX_DB_COUNTS,
                              PX_DB_MERGES, PX_DB_PMERGES,  PX_DB_ACCOUNTS, PX_DB_LINKS,
                              PX_DB_SOURCES, PX_DB_KEYS,    PX_DB_CONFIG};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    PX_ASSERT_OK(px_store_put(txn, st, all[i], "k1", 2, "v", 1, 0));
    PX_ASSERT_OK(px_store_put(txn, st, all[i], "k2", 2, "v", 1, 0));
  }
  PX_ASSERT_OK(px_store_count(txn, st, PX_DB_TRAITS, &v));
  PX_ASSERT_UINT_EQ(v, 2);
  const char *derived_counters[] = {"pid", "merge", "account", "profiles", "merges"};
  for (size_t i = 0; i < 5; i++) PX_ASSERT_OK(px_store_set_counter(txn, st, derived_counters[i], 7));
  PX_ASSERT_OK(px_store_set_counter(txn, st, "seq", 7));
  PX_ASSERT_OK(px_store_set_counter(txn, st, "source", 3));

  PX_ASSERT_OK(px_store_clear_derived(txn, st));
  static const px_db kept[] = {PX_DB_EVENTS, PX_DB_SOURCES, PX_DB_KEYS, PX_DB_CONFIG};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    int keep = 0;
    for (size_t j = 0; j < sizeof kept / sizeof *kept; j++) keep |= kept[j] == all[i];
    PX_ASSERT_OK(px_store_count(txn, st, all[i], &v));
    if (v != (keep ? 2u : 0u)) fail_msg("db %d: %llu entries after clear (keep=%d)", (int)all[i], (unsigned long long)v, keep);
  }
  for (size_t i = 0; i < 5; i++) {
    PX_ASSERT_OK(px_store_counter(txn, st, derived_counters[i], &v));
    PX_ASSERT_UINT_EQ(v, 0);
  }
  PX_ASSERT_OK(px_store_counter(txn, st, "seq", &v));
  PX_ASSERT_UINT_EQ(v, 7);
  PX_ASSERT_OK(px_store_counter(txn, st, "source", &v));
  PX_ASSERT_UINT_EQ(v, 3);
  /* The schema marker is not derived data. */
  MDB_val sv;
  PX_ASSERT_OK(px_store_get(txn, st, PX_DB_META, "schema", 6, &sv));
  PX_ASSERT_OK(px_store_commit(txn));
}

static void test_map_full(void **state) {
  const char *dir = *state;
  px_store *st;
  px_store_opts o = {.map_size = (size_t)1 << 20};
  PX_ASSERT_OK(px_store_open(dir, &o, &st));
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  static char big[4000];
  px_status s = PX_OK;
  for (uint32_t i = 0; i < 10000 && s == PX_OK; i++) {
    px_key k;
    px_key_init(&k);
    px_key_u32(&k, i);
    s = px_store_put(txn, st, PX_DB_EVENTS, k.b, k.n, big, sizeof big, 0);
  }
  PX_ASSERT_STATUS(s, PX_STORE_FULL);
  px_store_abort(txn);
  px_store_close(st);
}

static void test_status_mapping(void **state) {
  (void)state;
  PX_ASSERT_STATUS(px_store_status(MDB_SUCCESS), PX_OK);
  PX_ASSERT_STATUS(px_store_status(MDB_NOTFOUND), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_store_status(MDB_KEYEXIST), PX_EXISTS);
  PX_ASSERT_STATUS(px_store_status(MDB_MAP_FULL), PX_STORE_FULL);
  PX_ASSERT_STATUS(px_store_status(MDB_CORRUPTED), PX_STORE);
}

static void test_key_builders(void **state) {
  (void)state;
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, 0x0102030405060708ull);
  px_key_u32(&k, 0xdeadbeef);
  px_key_u8(&k, 0x7f);
  px_key_str(&k, "ab", 2);
  PX_ASSERT_INT_EQ(k.n, 8 + 4 + 1 + 3);
  PX_ASSERT_INT_EQ(k.overflow, 0);
  PX_ASSERT_UINT_EQ(px_get_u64(k.b), 0x0102030405060708ull);
  PX_ASSERT_UINT_EQ(px_get_u32(k.b + 8), 0xdeadbeef);
  PX_ASSERT_INT_EQ(k.b[12], 0x7f);
  PX_ASSERT_INT_EQ(memcmp(k.b + 13, "ab\0", 3), 0);
}

static void test_key_overflow(void **state) {
  (void)state;
  px_key k;
  px_key_init(&k);
  char big[PX_KEY_MAX];
  memset(big, 'x', sizeof big);
  px_key_bytes(&k, big, PX_KEY_MAX - 1);
  PX_ASSERT_INT_EQ(k.overflow, 0);
  px_key_u8(&k, 1);
  PX_ASSERT_INT_EQ(k.overflow, 0);
  PX_ASSERT_INT_EQ(k.n, PX_KEY_MAX);
  px_key_u8(&k, 1);
  PX_ASSERT_INT_EQ(k.overflow, 1);
  PX_ASSERT_INT_EQ(k.n, PX_KEY_MAX);
  /* Once overflowed, nothing more is added even if it would fit. */
  px_key_init(&k);
  px_key_bytes(&k, big, PX_KEY_MAX + 1);
  PX_ASSERT_INT_EQ(k.overflow, 1);
  px_key_u8(&k, 1);
  PX_ASSERT_INT_EQ(k.n, 0);
}

static int keycmp(const px_key *a, const px_key *b) {
  size_t n = a->n < b->n ? a->n : b->n;
  int c = memcmp(a->b, b->b, n);
  return c ? c : (a->n > b->n) - (a->n < b->n);
}

static void test_i64_keys_sort(void **state) {
  (void)state;
  static const int64_t v[] = {INT64_MIN, -86400000LL, -1, 0, 1, 1714557600000LL, INT64_MAX};
  for (size_t i = 0; i + 1 < sizeof v / sizeof *v; i++) {
    px_key a, b;
    px_key_init(&a);
    px_key_init(&b);
    px_key_i64(&a, v[i]);
    px_key_i64(&b, v[i + 1]);
    if (keycmp(&a, &b) >= 0) fail_msg("key(%lld) does not sort before key(%lld)", (long long)v[i], (long long)v[i + 1]);
    PX_ASSERT_INT_EQ(px_get_i64(a.b), v[i]);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_open_creates_and_reopens, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test(test_open_fails_cleanly),
    cmocka_unit_test_setup_teardown(test_schema_version_mismatch, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_get_put_del, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_abort_discards, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_counters, px_test_store_setup, px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_count_and_clear_derived, px_test_store_setup,
                                    px_test_store_teardown),
    cmocka_unit_test_setup_teardown(test_map_full, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test(test_status_mapping),
    cmocka_unit_test(test_key_builders),
    cmocka_unit_test(test_key_overflow),
    cmocka_unit_test(test_i64_keys_sort),
};

PX_TEST_MAIN(tests)
