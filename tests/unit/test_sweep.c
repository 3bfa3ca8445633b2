/* segment/sweep: time passing over a whole store in bounded transactions
 * (px_segment_sweep_run): everything due is processed at its due time
 * whatever the chunking, bounds stop a run with "more", nothing due takes
 * no write. And the server's writer (ingest/writer.c) sweeps while its
 * queue is never empty. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "ingest/writer.h"
#include "pipeline_env.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"
#include "segment/sweep.h"

#define E ((env *)*state)
#define DAY 86400000LL
#define CUSTOMERS 7

static void define_ok(env *e, const char *name, const char *rule) {
  px_txn *txn;
  px_rule_error err = {0};
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_segment_define(txn, e->st, &e->cfg, name, rule, e->clock, NULL, NULL, &err);
  if (s != PX_OK) fail_msg("define %s: %s: %d:%d %s", name, px_status_str(s), err.line, err.column, err.message);
  PX_ASSERT_OK(px_store_commit(txn));
}

static uint64_t count_of(env *e, const char *name) {
  px_txn *txn;
  px_def d;
  uint64_t n = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, name, &d));
  PX_ASSERT_OK(px_members_count(txn, e->st, d.id, &n));
  px_def_free(&d);
  px_store_abort(txn);
  return n;
}

static int64_t next_due(env *e) {
  px_txn *txn;
  int64_t due = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_segment_next_due(txn, e->st, &due));
  px_store_abort(txn);
  return due;
}

typedef struct left {
  int64_t at;
  int n;
} left;

/* The time of the profile's last "left (time)" change. */
static int last_left(void *arg, const px_seg_change *c) {
  left *l = arg;
  if (!c->entered && c->cause == PX_SEG_CAUSE_TIME) l->at = c->time_ms, l->n++;
  return 0;
}

static left left_of(env *e, const char *user) {
  left l = {0, 0};
  px_txn *txn;
  uint64_t pid = env_pid(e, "user_id", user);
  PX_ASSERT_INT_NE(pid, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_segment_history(txn, e->st, pid, last_left, &l));
  px_store_abort(txn);
  return l;
}

/* CUSTOMERS customers with one order each, a second apart, in a 30-day
 * window: customer i leaves at t0 + i s + 30 days. Returns t0. */
static int64_t customers(env *e) {
  define_ok(e, "active", "at least 1 event \"Order Completed\" in last 30 days");
  int64_t t0 = e->clock;
  for (int i = 0; i < CUSTOMERS; i++) {
    char msg[160];
    snprintf(msg, sizeof msg, "{\"type\":\"track\",\"userId\":\"c%d\",\"event\":\"Order Completed\"}", i);
    env_ingest(e, msg); /* receivedAt (and timestamp) t0 + i s */
  }
  PX_ASSERT_UINT_EQ(count_of(e, "active"), CUSTOMERS);
  return t0;
}

static void check_left_at_due(env *e, int64_t t0, int n) {
  for (int i = 0; i < n; i++) {
    char user[16];
    snprintf(user, sizeof user, "c%d", i);
    left l = left_of(e, user);
    PX_ASSERT_INT_EQ(l.n, 1);
    PX_ASSERT_INT_EQ(l.at, t0 + i * 1000 + 30 * DAY);
  }
}

static void test_small_transactions_process_everything_at_its_due_time(void **state) {
  env *e = E;
  int64_t t0 = customers(e);
  px_sweep_limits lim = {.per_txn = 2};
  px_sweep_result r = {99, 99};
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, t0 + 31 * DAY, &lim, &r));
  PX_ASSERT_UINT_EQ(r.done, CUSTOMERS);
  PX_ASSERT_INT_EQ(r.more, 0);
  PX_ASSERT_UINT_EQ(count_of(e, "active"), 0);
  check_left_at_due(e, t0, CUSTOMERS);
  PX_ASSERT_INT_EQ(next_due(e), INT64_MAX);
}

static void test_only_what_is_due_at_now(void **state) {
  env *e = E;
  int64_t t0 = customers(e);
  px_sweep_result r;
  /* A millisecond before the first leaves: nothing. */
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, t0 + 30 * DAY - 1, NULL, &r));
  PX_ASSERT_UINT_EQ(r.done, 0);
  PX_ASSERT_INT_EQ(r.more, 0);
  PX_ASSERT_UINT_EQ(count_of(e, "active"), CUSTOMERS);
  /* Exactly when the third leaves: three. */
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, t0 + 2000 + 30 * DAY, NULL, &r));
  PX_ASSERT_UINT_EQ(r.done, 3);
  PX_ASSERT_UINT_EQ(count_of(e, "active"), CUSTOMERS - 3);
  check_left_at_due(e, t0, 3);
  PX_ASSERT_INT_EQ(next_due(e), t0 + 3000 + 30 * DAY);
}

static void test_a_bound_stops_with_more(void **state) {
  env *e = E;
  int64_t t0 = customers(e), now = t0 + 40 * DAY;
  px_sweep_limits lim = {.per_txn = 2, .max = 3};
  px_sweep_result r;
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, &lim, &r));
  PX_ASSERT_UINT_EQ(r.done, 3);
  PX_ASSERT_INT_EQ(r.more, 1);
  PX_ASSERT_UINT_EQ(count_of(e, "active"), CUSTOMERS - 3);
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, &lim, &r));
  PX_ASSERT_UINT_EQ(r.done, 3);
  PX_ASSERT_INT_EQ(r.more, 1);
  /* The last one: done, and "more" only when something is still due. */
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, &lim, &r));
  PX_ASSERT_UINT_EQ(r.done, 1);
  PX_ASSERT_INT_EQ(r.more, 0);
  check_left_at_due(e, t0, CUSTOMERS);
  /* A bound of exactly what was due: no "more". */
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, &lim, &r));
  PX_ASSERT_UINT_EQ(r.done, 0);
  PX_ASSERT_INT_EQ(r.more, 0);
}

static void test_a_time_bound_still_makes_progress(void **state) {
  env *e = E;
  int64_t t0 = customers(e), now = t0 + 40 * DAY;
  /* 1 ns: spent at once, yet every run processes a slice before it stops. */
  px_sweep_limits lim = {.per_txn = 1, .max_ns = 1};
  px_sweep_result r;
  uint64_t total = 0;
  int runs = 0;
  do {
    PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, &lim, &r));
    PX_ASSERT_UINT_EQ(r.done, 1);
    total += r.done;
    runs++;
  } while (r.more && runs < 100);
  PX_ASSERT_UINT_EQ(total, CUSTOMERS);
  PX_ASSERT_INT_EQ(r.more, 0);
  check_left_at_due(e, t0, CUSTOMERS);
}

static void test_nothing_defined_nothing_due(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"c1\",\"event\":\"Order Completed\"}");
  px_sweep_result r = {5, 5};
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, e->clock + 400 * DAY, NULL, &r));
  PX_ASSERT_UINT_EQ(r.done, 0);
  PX_ASSERT_INT_EQ(r.more, 0);
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, e->clock, NULL, NULL)); /* out may be NULL */
}

/* ---- the writer, busy ---- */

#define SUBMITTERS 6

typedef struct busy {
  env *e;
  px_writer *w;
  atomic_int stop;
  atomic_long submits;
  int id;
  px_status failed;
} busy;

/* One event a submit, received now, back as soon as it is acknowledged:
 * with one event a transaction the writer's queue is never empty. */
static void *submitter(void *arg) {
  busy *b = arg;
  for (long i = 0; !atomic_load(&b->stop); i++) {
    char json[160];
    snprintf(json, sizeof json, "{\"type\":\"track\",\"userId\":\"load-%d\",\"event\":\"Browse\",\"messageId\":\"%d-%ld\"}",
             b->id, b->id, i);
    cJSON *item = cJSON_Parse(json);
    px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = b->e->web, .received_ms = px_time_now_ms()};
    px_event ev;
    uint8_t dup = 0;
    px_status s = item ? px_pipeline_prepare(&b->e->cfg, item, &ctx, &ev, NULL) : PX_NOMEM;
    if (s == PX_OK) {
      s = px_writer_submit(b->w, &ev, 1, &dup);
      px_event_free(&ev);
    }
    if (s != PX_OK) {
      b->failed = s;
      break;
    }
    atomic_fetch_add(&b->submits, 1);
  }
  return NULL;
}

static void test_the_writer_sweeps_while_busy(void **state) {
  env *e = E;
  define_ok(e, "pinged", "at least 1 event \"Ping\" in last 1 minute");
  /* Received 59.4 s ago (the writer's clock is the wall clock): due in 0.6 s. */
  int64_t received = px_time_now_ms() - 59400;
  e->clock = received;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"p1\",\"event\":\"Ping\"}");
  PX_ASSERT_UINT_EQ(count_of(e, "pinged"), 1);
  px_writer_opts o = {.max_txn_events = 1};
  px_writer *w;
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, &o, &w));
  static busy b[SUBMITTERS];
  pthread_t th[SUBMITTERS];
  for (int i = 0; i < SUBMITTERS; i++) {
    b[i] = (busy){.e = e, .w = w, .id = i, .failed = PX_OK};
    PX_ASSERT_INT_EQ(pthread_create(&th[i], NULL, submitter, &b[i]), 0);
  }
  uint64_t gone = 0, t0 = px_time_mono_ns();
  while (!gone && px_time_mono_ns() - t0 < 4000000000ull) {
    if (count_of(e, "pinged") == 0) gone = px_time_mono_ns();
    else usleep(20000);
  }
  for (int i = 0; i < SUBMITTERS; i++) atomic_store(&b[i].stop, 1);
  long submits = 0;
  for (int i = 0; i < SUBMITTERS; i++) {
    pthread_join(th[i], NULL);
    PX_ASSERT_OK(b[i].failed);
    submits += atomic_load(&b[i].submits);
  }
  px_writer_stop(w);
  if (!gone) fail_msg("still a member 4 s on, after %ld submits (the due time was 0.6 s on)", submits);
  PX_ASSERT_INT_CMP(submits, >, 0);
  left l = left_of(e, "p1");
  PX_ASSERT_INT_EQ(l.n, 1);
  PX_ASSERT_INT_EQ(l.at, received + 60000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_small_transactions_process_everything_at_its_due_time, env_setup,
                                    env_teardown),
    cmocka_unit_test_setup_teardown(test_only_what_is_due_at_now, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_a_bound_stops_with_more, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_a_time_bound_still_makes_progress, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_nothing_defined_nothing_due, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_the_writer_sweeps_while_busy, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
