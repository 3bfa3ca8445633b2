/* store/prefault: pages ahead of an LMDB environment's last page are
 * brought into memory by the thread, and never written. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "px_test.h"
#include "store/prefault.h"

#define MAP ((size_t)256 << 20)

/* The environment is opened with MDB_FIXEDMAP so that the test knows the
 * map's address (mdb_env_info) without the module's own search. */
static MDB_env *open_env(const char *dir, unsigned flags) {
  MDB_env *env;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_mapsize(env, MAP), 0);
  assert_int_equal(mdb_env_open(env, dir, flags | MDB_FIXEDMAP | MDB_NOSYNC, 0640), 0);
  return env;
}

/* Writes n values of 1 KB (keys 0..n-1) in txn. */
static void write_values(MDB_txn *txn, int n) {
  MDB_dbi dbi;
  assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
  char buf[1024];
  for (int i = 0; i < n; i++) {
    memset(buf, 'a' + i % 26, sizeof buf);
    unsigned key = (unsigned)i;
    MDB_val k = {sizeof key, &key}, v = {sizeof buf, buf};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
}

/* Resident pages of [from, from + len) of the map. */
static size_t resident(char *map, size_t from, size_t len) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE), n = len / ps, in = 0;
  unsigned char *vec = malloc(n);
  assert_non_null(vec);
  assert_int_equal(mincore(map + from, len, vec), 0);
  for (size_t i = 0; i < n; i++) in += vec[i] & 1;
  free(vec);
  return in;
}

/* Waits up to 10 s for `len` bytes from `skip` bytes after the last
 * committed page to be resident. */
static int ahead_resident(MDB_env *env, size_t skip, size_t len) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  for (int tries = 0; tries < 1000; tries++) {
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(env, &info), 0);
    size_t used = ((size_t)info.me_last_pgno + 1) * ps;
    if (resident(info.me_mapaddr, used + skip, len) == len / ps) return 1;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void test_pages_ahead_are_brought_in(void **state) {
  (void)state;
  const char *dir = px_test_tmpdir();
  MDB_env *env = open_env(dir, MDB_WRITEMAP);
  MDB_envinfo info;
  assert_int_equal(mdb_env_info(env, &info), 0);
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  /* Before the thread: the file past its last page is a hole. */
  assert_int_equal(resident(info.me_mapaddr, ((size_t)info.me_last_pgno + 1) * ps, (size_t)2 << 20), 0);

  px_prefault *p = px_prefault_start(env);
  assert_non_null(p);
  if (!ahead_resident(env, 0, (size_t)2 << 20)) fail_msg("2 MB after the last page not resident after the start");

  /* A transaction (announced at its start, as the store does) takes about
   * 20 MB from the end of the file: while it is still open, the thread
   * sees it move and keeps four times that ahead of it (at most 64 MB). */
  px_prefault_begin(p);
  MDB_txn *txn;
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  write_values(txn, 20000);
  size_t want = (size_t)32 << 20;
  if (!ahead_resident(env, want, (size_t)16 << 20))
    fail_msg("16 MB from %zu MB after the last committed page not resident in an open transaction", want >> 20);
  assert_int_equal(mdb_txn_commit(txn), 0);
  px_prefault_end(p);
  assert_int_equal(mdb_env_info(env, &info), 0);
  size_t used = ((size_t)info.me_last_pgno + 1) * ps;
  assert_true(used > ((size_t)16 << 20));

  /* What was written is intact, and what the thread brought in reads as
   * zeros: it never writes. */
  MDB_dbi dbi;
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
  for (unsigned i = 0; i < 20000; i += 997) {
    MDB_val k = {sizeof i, &i}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 1024);
    assert_int_equal(((char *)v.mv_data)[1023], 'a' + i % 26);
  }
  mdb_txn_abort(txn);
  const char *ahead = (const char *)info.me_mapaddr + used;
  for (size_t i = 0; i < ((size_t)16 << 20); i++)
    if (ahead[i]) fail_msg("byte %zu after the last page is %d", i, ahead[i]);

  px_prefault_stop(p);
  px_prefault_stop(NULL);
  px_prefault_begin(NULL);
  px_prefault_end(NULL);
  mdb_env_close(env);
  px_test_rmtree(dir);
}

/* Without a writable map (no MDB_WRITEMAP) there is nothing to bring in. */
static void test_no_writable_map_no_thread(void **state) {
  (void)state;
  const char *dir = px_test_tmpdir();
  MDB_env *env = open_env(dir, 0);
  assert_null(px_prefault_start(env));
  mdb_env_close(env);
  px_test_rmtree(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pages_ahead_are_brought_in),
    cmocka_unit_test(test_no_writable_map_no_thread),
};

PX_TEST_MAIN(tests)
