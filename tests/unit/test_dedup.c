/* store/dedup: the persistent hash table of (source, messageId) pairs, its
 * life in the store (open, reset, migration from the LMDB index) and its
 * verification against the event log in the pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline_env.h"
#include "store/dedup.h"

/* A stand-in for the event log: msg[seq] is the message logged at seq (0:
 * nothing there); want is the message being looked up. */
typedef struct fake_log {
  uint64_t *msg;
  uint64_t n;
  uint64_t want;
  int calls;
} fake_log;

static px_status verify_log(void *arg, uint64_t seq, int *same) {
  fake_log *l = arg;
  l->calls++;
  *same = seq < l->n && l->msg[seq] == l->want;
  return PX_OK;
}

static px_status verify_fails(void *arg, uint64_t seq, int *same) {
  (void)arg;
  (void)seq;
  *same = 0;
  return PX_IO;
}

static uint64_t hash_of(uint64_t message) { return px_dedup_hash(1, &message, sizeof message); }

static fake_log *log_new(uint64_t n) {
  fake_log *l = calloc(1, sizeof *l);
  l->msg = calloc(n, sizeof *l->msg);
  l->n = n;
  return l;
}

static void log_free(fake_log *l) {
  free(l->msg);
  free(l);
}

/* Check and insert of `message` as the event about to be logged at seq;
 * returns the seq of the earlier event found, or 0 when it was recorded. */
static uint64_t check(px_dedup *d, fake_log *l, uint64_t hash, uint64_t message, uint64_t seq) {
  uint64_t earlier = 99;
  l->want = message;
  PX_ASSERT_OK(px_dedup_check_insert(d, hash, seq, verify_log, l, &earlier));
  return earlier;
}

/* check() then "log" the message at seq when it was new. */
static uint64_t ingest(px_dedup *d, fake_log *l, uint64_t message, uint64_t seq) {
  uint64_t earlier = check(d, l, hash_of(message), message, seq);
  if (!earlier) l->msg[seq] = message;
  return earlier;
}

static const char *table_path(void **state) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/" PX_DEDUP_FILE, (const char *)*state);
  return path;
}

static void test_hash_is_never_zero_and_depends_on_source(void **state) {
  (void)state;
  PX_ASSERT_INT_EQ(px_dedup_hash(1, "", 0) & 1, 1);
  PX_ASSERT_INT_EQ(px_dedup_hash(0, "m-1", 3) & 1, 1);
  PX_ASSERT_INT_NE(px_dedup_hash(1, "m-1", 3), px_dedup_hash(2, "m-1", 3));
  PX_ASSERT_INT_NE(px_dedup_hash(1, "m-1", 3), px_dedup_hash(1, "m-2", 3));
  PX_ASSERT_UINT_EQ(px_dedup_hash(7, "m-1", 3), px_dedup_hash(7, "m-1", 3));
}

static void test_open_missing_or_invalid(void **state) {
  const char *path = table_path(state);
  px_dedup *d = (px_dedup *)0x1;
  PX_ASSERT_STATUS(px_dedup_open(path, &d), PX_NOT_FOUND);
  PX_ASSERT_NULL(d);
  FILE *f = fopen(path, "w");
  fputs("not a table", f);
  fclose(f);
  PX_ASSERT_STATUS(px_dedup_open(path, &d), PX_STORE);
  /* A real table cut short is refused too. */
  PX_ASSERT_OK(px_dedup_create(path, &d));
  px_dedup_close(d);
  PX_ASSERT_INT_EQ(truncate(path, 8192), 0);
  PX_ASSERT_STATUS(px_dedup_open(path, &d), PX_STORE);
  px_dedup_close(NULL);
}

static void test_insert_and_find(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  PX_ASSERT_UINT_EQ(px_dedup_capacity(d), PX_DEDUP_INITIAL_SLOTS);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 0);
  fake_log *l = log_new(16);
  for (uint64_t seq = 1; seq <= 3; seq++) PX_ASSERT_UINT_EQ(ingest(d, l, 100 + seq, seq), 0);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 3);
  /* Each message again, as the event that would be logged at 4: found. */
  for (uint64_t seq = 1; seq <= 3; seq++) PX_ASSERT_UINT_EQ(ingest(d, l, 100 + seq, 4), seq);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 3);
  /* A new message is not. */
  PX_ASSERT_UINT_EQ(ingest(d, l, 200, 4), 0);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 4);
  log_free(l);
  px_dedup_close(d);
}

static void test_collisions_keep_both(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  fake_log *l = log_new(16);
  const uint64_t h = hash_of(1); /* messages 10 and 20 share this hash */
  PX_ASSERT_UINT_EQ(check(d, l, h, 10, 1), 0);
  l->msg[1] = 10;
  PX_ASSERT_UINT_EQ(check(d, l, h, 20, 2), 0); /* the log says seq 1 is another message */
  l->msg[2] = 20;
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 2);
  PX_ASSERT_UINT_EQ(check(d, l, h, 20, 3), 2);
  PX_ASSERT_UINT_EQ(check(d, l, h, 10, 3), 1);
  PX_ASSERT_UINT_EQ(check(d, l, h, 30, 3), 0);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 3);
  log_free(l);
  px_dedup_close(d);
}

static void test_growth_keeps_every_entry(void **state) {
  enum { N = 300000 }; /* four doublings: 2^16 -> 2^20 slots */
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  fake_log *l = log_new(N + 2);
  uint64_t cap = px_dedup_capacity(d);
  int doublings = 0;
  for (uint64_t seq = 1; seq <= N; seq++) {
    if (ingest(d, l, seq, seq) != 0) fail_msg("message %llu reported as a duplicate", (unsigned long long)seq);
    if (px_dedup_capacity(d) != cap) {
      PX_ASSERT_UINT_EQ(px_dedup_capacity(d), cap * 2);
      cap *= 2;
      doublings++;
    }
    if (px_dedup_count(d) > px_dedup_capacity(d) / 2) fail_msg("more than half full at %llu", (unsigned long long)seq);
  }
  PX_ASSERT_INT_EQ(doublings, 4);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), N);
  for (uint64_t seq = 1; seq <= N; seq++)
    if (ingest(d, l, seq, N + 1) != seq) fail_msg("message %llu lost by growth", (unsigned long long)seq);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), N);
  /* The table file is replaced (not left beside). */
  struct stat sb;
  PX_ASSERT_INT_EQ(stat(table_path(state), &sb), 0);
  PX_ASSERT_UINT_EQ(sb.st_size, 4096 + px_dedup_capacity(d) * 16);
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", table_path(state));
  PX_ASSERT_INT_NE(access(tmp, F_OK), 0);
  log_free(l);
  px_dedup_close(d);
}

static void test_stale_entries_are_skipped(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  fake_log *l = log_new(4096);
  /* A transaction recorded message 7 at seq 5, then aborted: seq 5 went to
   * message 8 instead. */
  PX_ASSERT_UINT_EQ(check(d, l, hash_of(7), 7, 5), 0);
  PX_ASSERT_UINT_EQ(ingest(d, l, 8, 5), 0);
  /* Message 7 is new: the stale slot is verified, skipped, not in the way. */
  PX_ASSERT_UINT_EQ(ingest(d, l, 7, 6), 0);
  PX_ASSERT_UINT_EQ(ingest(d, l, 7, 7), 6);
  PX_ASSERT_UINT_EQ(ingest(d, l, 8, 7), 5);

  /* A long run of stale slots with one hash blocks nothing. */
  const uint64_t h = hash_of(9);
  for (uint64_t seq = 1000; seq < 1100; seq++) PX_ASSERT_UINT_EQ(check(d, l, h, 9, seq), 0);
  uint64_t before = px_dedup_count(d);
  l->calls = 0;
  PX_ASSERT_UINT_EQ(check(d, l, h, 9, 2000), 0);
  PX_ASSERT_INT_EQ(l->calls, 100);
  l->msg[2000] = 9;
  PX_ASSERT_UINT_EQ(px_dedup_count(d), before + 1);
  PX_ASSERT_UINT_EQ(check(d, l, h, 9, 2001), 2000);

  /* The same event retried at the same seq reuses its slot. */
  before = px_dedup_count(d);
  PX_ASSERT_UINT_EQ(check(d, l, hash_of(11), 11, 3000), 0);
  PX_ASSERT_UINT_EQ(check(d, l, hash_of(11), 11, 3000), 0);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), before + 1);
  log_free(l);
  px_dedup_close(d);
}

static void test_verify_error_is_returned(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  PX_ASSERT_OK(px_dedup_insert(d, hash_of(1), 1));
  uint64_t earlier = 99;
  PX_ASSERT_STATUS(px_dedup_check_insert(d, hash_of(1), 2, verify_fails, NULL, &earlier), PX_IO);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 1);
  px_dedup_close(d);
}

static void test_insert_of_logged_event_is_idempotent(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  PX_ASSERT_OK(px_dedup_insert(d, hash_of(1), 1));
  PX_ASSERT_OK(px_dedup_insert(d, hash_of(1), 1));
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 1);
  PX_ASSERT_OK(px_dedup_insert(d, hash_of(1), 2)); /* another seq: another slot */
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 2);
  /* Entries recorded by check-and-insert count as the same. */
  fake_log *l = log_new(8);
  PX_ASSERT_UINT_EQ(ingest(d, l, 5, 3), 0);
  PX_ASSERT_OK(px_dedup_insert(d, hash_of(5), 3));
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 3);
  log_free(l);
  px_dedup_close(d);
}

static void test_clear(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  fake_log *l = log_new(40000);
  for (uint64_t seq = 1; seq < 40000; seq++) ingest(d, l, seq, seq);
  uint64_t cap = px_dedup_capacity(d);
  PX_ASSERT_UINT_EQ(cap, PX_DEDUP_INITIAL_SLOTS * 2);
  px_dedup_clear(d);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 0);
  PX_ASSERT_UINT_EQ(px_dedup_capacity(d), cap);
  l->calls = 0;
  PX_ASSERT_UINT_EQ(check(d, l, hash_of(1), 1, 1), 0);
  PX_ASSERT_INT_EQ(l->calls, 0); /* nothing left to verify */
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 1);
  log_free(l);
  px_dedup_close(d);
}

static void test_reopen_keeps_entries(void **state) {
  px_dedup *d;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &d));
  fake_log *l = log_new(70002);
  for (uint64_t seq = 1; seq <= 70000; seq++) ingest(d, l, seq, seq);
  uint64_t cap = px_dedup_capacity(d);
  px_dedup_close(d);
  PX_ASSERT_OK(px_dedup_open(table_path(state), &d));
  PX_ASSERT_UINT_EQ(px_dedup_capacity(d), cap);
  PX_ASSERT_UINT_EQ(px_dedup_count(d), 70000);
  for (uint64_t seq = 1; seq <= 70000; seq++)
    if (ingest(d, l, seq, 70001) != seq) fail_msg("message %llu lost by reopening", (unsigned long long)seq);
  log_free(l);
  px_dedup_close(d);
}

static void test_second_handle_remaps_after_growth(void **state) {
  px_dedup *a, *b;
  PX_ASSERT_OK(px_dedup_create(table_path(state), &a));
  PX_ASSERT_OK(px_dedup_open(table_path(state), &b));
  fake_log *l = log_new(40002);
  /* Inserts through one handle show through the other (one shared file)... */
  PX_ASSERT_UINT_EQ(ingest(a, l, 1, 1), 0);
  PX_ASSERT_OK(px_dedup_refresh(b));
  PX_ASSERT_UINT_EQ(ingest(b, l, 1, 2), 1);
  /* ...until a grows it: b still maps the old file until it refreshes. */
  for (uint64_t seq = 2; seq <= 40000; seq++) ingest(a, l, seq, seq);
  PX_ASSERT_UINT_EQ(px_dedup_capacity(a), PX_DEDUP_INITIAL_SLOTS * 2);
  PX_ASSERT_UINT_EQ(px_dedup_capacity(b), PX_DEDUP_INITIAL_SLOTS);
  PX_ASSERT_OK(px_dedup_refresh(b));
  PX_ASSERT_UINT_EQ(px_dedup_capacity(b), PX_DEDUP_INITIAL_SLOTS * 2);
  PX_ASSERT_UINT_EQ(px_dedup_count(b), 40000);
  for (uint64_t seq = 1; seq <= 40000; seq++)
    if (ingest(b, l, seq, 40001) != seq) fail_msg("message %llu not seen by the second handle", (unsigned long long)seq);
  PX_ASSERT_UINT_EQ(ingest(b, l, 40001, 40001), 0);
  PX_ASSERT_OK(px_dedup_refresh(a)); /* same file: nothing to do */
  PX_ASSERT_UINT_EQ(ingest(a, l, 40001, 40002), 40001);
  /* The file gone, a handle keeps what it maps. */
  PX_ASSERT_INT_EQ(unlink(table_path(state)), 0);
  PX_ASSERT_OK(px_dedup_refresh(a));
  PX_ASSERT_UINT_EQ(px_dedup_count(a), 40001);
  log_free(l);
  px_dedup_close(a);
  px_dedup_close(b);
}

/* ---- in the store ---- */

static const px_store_opts small = {.map_size = (size_t)64 << 20};

static void set_counters(px_store *st, uint64_t seq, uint64_t applied) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_set_counter(txn, st, "seq", seq));
  PX_ASSERT_OK(px_store_set_counter(txn, st, "applied", applied));
  PX_ASSERT_OK(px_store_commit(txn));
}

static uint64_t applied_of(px_store *st) {
  px_txn *txn;
  uint64_t v;
  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  PX_ASSERT_OK(px_store_counter(txn, st, "applied", &v));
  px_store_abort(txn);
  return v;
}

static uint64_t table_count(px_store *st) {
  px_txn *txn;
  px_dedup *d;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_dedup(txn, &d));
  uint64_t v = px_dedup_count(d);
  px_store_abort(txn);
  return v;
}

static void table_add(px_store *st, uint64_t hash, uint64_t seq) {
  px_txn *txn;
  px_dedup *d;
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_dedup(txn, &d));
  PX_ASSERT_OK(px_dedup_insert(d, hash, seq));
  PX_ASSERT_OK(px_store_commit(txn));
}

static char *state_file(void **state, const char *name) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/state/%s", (const char *)*state, name);
  return path;
}

static void test_store_opens_table_for_writers_only(void **state) {
  px_store *st;
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_INT_EQ(access(state_file(state, PX_DEDUP_FILE), F_OK), 0);
  px_txn *txn;
  px_dedup *d;
  PX_ASSERT_OK(px_store_begin(st, 0, &txn));
  PX_ASSERT_STATUS(px_store_dedup(txn, &d), PX_INVALID);
  px_store_abort(txn);
  PX_ASSERT_OK(px_store_begin(st, 1, &txn));
  PX_ASSERT_OK(px_store_dedup(txn, &d));
  PX_ASSERT_UINT_EQ(px_dedup_capacity(d), PX_DEDUP_INITIAL_SLOTS);
  px_store_abort(txn);
  px_store_close(st);
  /* A read-only store neither needs nor creates it. */
  PX_ASSERT_INT_EQ(unlink(state_file(state, PX_DEDUP_FILE)), 0);
  px_store_opts ro = {.map_size = small.map_size, .read_only = 1};
  PX_ASSERT_OK(px_store_open(*state, &ro, &st));
  PX_ASSERT_INT_NE(access(state_file(state, PX_DEDUP_FILE), F_OK), 0);
  px_store_close(st);
}

static void test_store_keeps_table_and_state(void **state) {
  px_store *st;
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  set_counters(st, 3, 3);
  table_add(st, hash_of(1), 1);
  px_store_close(st);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_UINT_EQ(applied_of(st), 3);
  PX_ASSERT_UINT_EQ(table_count(st), 1);
  PX_ASSERT_INT_EQ(px_store_state_was_reset(st), 0);
  px_store_close(st);
}

static void test_store_without_table_rebuilds_state(void **state) {
  px_store *st;
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  set_counters(st, 3, 3);
  px_store_close(st);
  /* Applied events without their table entries: the state is emptied. */
  PX_ASSERT_INT_EQ(unlink(state_file(state, PX_DEDUP_FILE)), 0);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_UINT_EQ(applied_of(st), 0);
  PX_ASSERT_UINT_EQ(table_count(st), 0);
  set_counters(st, 3, 3);
  px_store_close(st);
  /* A damaged table likewise. */
  PX_ASSERT_INT_EQ(truncate(state_file(state, PX_DEDUP_FILE), 100), 0);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_UINT_EQ(applied_of(st), 0);
  PX_ASSERT_UINT_EQ(table_count(st), 0);
  px_store_close(st);
}

static void test_store_with_legacy_index_rebuilds_state(void **state) {
  px_store *st;
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  set_counters(st, 3, 3);
  table_add(st, hash_of(1), 1);
  px_store_close(st);
  /* What an earlier version left: the index as an LMDB database. */
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  PX_ASSERT_INT_EQ(mdb_env_create(&env), 0);
  PX_ASSERT_INT_EQ(mdb_env_set_maxdbs(env, 64), 0);
  PX_ASSERT_INT_EQ(mdb_env_set_mapsize(env, small.map_size), 0);
  PX_ASSERT_INT_EQ(mdb_env_open(env, state_file(state, ""), 0, 0640), 0);
  PX_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
  PX_ASSERT_INT_EQ(mdb_dbi_open(txn, "dedup", MDB_CREATE, &dbi), 0);
  MDB_val k = {5, "\0\0\0\1m"}, v = {8, "\0\0\0\0\0\0\0\1"};
  PX_ASSERT_INT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  PX_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);

  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_UINT_EQ(applied_of(st), 0);
  PX_ASSERT_UINT_EQ(table_count(st), 0); /* replaced by a fresh one */
  px_store_close(st);
  /* The old database is gone, so the next open keeps the state. */
  PX_ASSERT_INT_EQ(mdb_env_create(&env), 0);
  PX_ASSERT_INT_EQ(mdb_env_set_maxdbs(env, 64), 0);
  PX_ASSERT_INT_EQ(mdb_env_set_mapsize(env, small.map_size), 0);
  PX_ASSERT_INT_EQ(mdb_env_open(env, state_file(state, ""), MDB_RDONLY, 0640), 0);
  PX_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  PX_ASSERT_INT_EQ(mdb_dbi_open(txn, "dedup", 0, &dbi), MDB_NOTFOUND);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  set_counters(st, 3, 3);
  px_store_close(st);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_UINT_EQ(applied_of(st), 3);
  px_store_close(st);
}

static void test_store_reboot_or_restored_log_replaces_table(void **state) {
  px_store *st;
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  table_add(st, hash_of(1), 1);
  px_store_close(st);
  FILE *f = fopen(state_file(state, "boot_id"), "w");
  fputs("a-previous-boot\n", f);
  fclose(f);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_INT_EQ(px_store_state_was_reset(st), 1);
  PX_ASSERT_UINT_EQ(table_count(st), 0);
  /* A state ahead of its log (an older log restored). */
  table_add(st, hash_of(1), 1);
  set_counters(st, 2, 5);
  px_store_close(st);
  PX_ASSERT_OK(px_store_open(*state, &small, &st));
  PX_ASSERT_INT_EQ(px_store_state_was_reset(st), 1);
  PX_ASSERT_UINT_EQ(applied_of(st), 0);
  PX_ASSERT_UINT_EQ(table_count(st), 0);
  px_store_close(st);
}

/* ---- in the pipeline ---- */

#define E ((env *)*state)

/* Ingests json from the web source in a transaction that is aborted. */
static void ingest_then_abort(env *e, const char *json) {
  px_event ev;
  px_error err;
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
  PX_ASSERT_OK(px_pipeline_prepare(&e->cfg, cJSON_Parse(json), &ctx, &ev, &err));
  px_txn *txn;
  int dup;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_pipeline_ingest(txn, e->st, &e->cfg, &ev, &dup, &e->m));
  PX_ASSERT_INT_EQ(dup, 0);
  px_store_abort(txn);
  px_event_free(&ev);
}

static void test_pipeline_skips_entries_of_aborted_transactions(void **state) {
  env *e = E;
  const char *a = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"messageId\":\"m-a\"}";
  const char *b = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"B\",\"messageId\":\"m-b\"}";
  ingest_then_abort(e, a); /* leaves (m-a, seq 1) in the table */
  PX_ASSERT_UINT_EQ(env_dedup_count(e), 1);
  int dup = -1;
  PX_ASSERT_OK(env_ingest_from(e, e->web, b, &dup)); /* seq 1 is m-b now */
  PX_ASSERT_INT_EQ(dup, 0);
  PX_ASSERT_OK(env_ingest_from(e, e->web, a, &dup));
  PX_ASSERT_INT_EQ(dup, 0);
  PX_ASSERT_OK(env_ingest_from(e, e->web, a, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  PX_ASSERT_OK(env_ingest_from(e, e->web, b, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 2);
  /* The same event retried at the same position reuses its slot. */
  const char *c = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"C\",\"messageId\":\"m-c\"}";
  ingest_then_abort(e, c);
  uint64_t n = env_dedup_count(e);
  PX_ASSERT_OK(env_ingest_from(e, e->web, c, &dup));
  PX_ASSERT_INT_EQ(dup, 0);
  PX_ASSERT_UINT_EQ(env_dedup_count(e), n);
}

static void test_pipeline_replay_keeps_table(void **state) {
  env *e = E;
  const char *a = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"messageId\":\"m-a\"}";
  env_ingest(e, a);
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"B\",\"messageId\":\"m-b\"}");
  PX_ASSERT_UINT_EQ(env_dedup_count(e), 2);
  px_error err;
  PX_ASSERT_OK(px_pipeline_replay(e->st, NULL, NULL, &err));
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), 2);
  PX_ASSERT_UINT_EQ(env_dedup_count(e), 2); /* every entry found in place */
  int dup = -1;
  PX_ASSERT_OK(env_ingest_from(e, e->web, a, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
}

static void test_pipeline_state_rebuilt_without_table(void **state) {
  env *e = E;
  const char *a = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"messageId\":\"m-a\"}";
  env_ingest(e, a);
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"B\",\"messageId\":\"m-b\"}");
  px_store_close(e->st);
  char path[4200];
  snprintf(path, sizeof path, "%s/state/" PX_DEDUP_FILE, e->dir);
  PX_ASSERT_INT_EQ(unlink(path), 0);
  px_store_opts o = {.map_size = (size_t)256 << 20};
  PX_ASSERT_OK(px_store_open(e->dir, &o, &e->st));
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), 0);
  px_error err;
  PX_ASSERT_OK(px_pipeline_catch_up_all(e->st, NULL, NULL, &err));
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), 2);
  PX_ASSERT_UINT_EQ(env_dedup_count(e), 2);
  int dup = -1;
  PX_ASSERT_OK(env_ingest_from(e, e->web, a, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hash_is_never_zero_and_depends_on_source),
    cmocka_unit_test_setup_teardown(test_open_missing_or_invalid, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_insert_and_find, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_collisions_keep_both, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_growth_keeps_every_entry, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_stale_entries_are_skipped, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_verify_error_is_returned, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_insert_of_logged_event_is_idempotent, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_clear, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_reopen_keeps_entries, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_second_handle_remaps_after_growth, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_store_opens_table_for_writers_only, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_store_keeps_table_and_state, px_test_dir_setup, px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_store_without_table_rebuilds_state, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_store_with_legacy_index_rebuilds_state, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_store_reboot_or_restored_log_replaces_table, px_test_dir_setup,
                                    px_test_dir_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_skips_entries_of_aborted_transactions, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_replay_keeps_table, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_state_rebuilt_without_table, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
