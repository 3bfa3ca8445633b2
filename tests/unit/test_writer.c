/* ingest/writer: the group-commit writer thread. */
#include <pthread.h>
#include <time.h>

#include "ingest/writer.h"
#include "pipeline_env.h"

#define E ((env *)*state)

#define THREADS 4
#define PER_THREAD 60
#define PER_SUBMIT 12

/* Prepares one message as the HTTP layer would. */
static void prepare(env *e, const char *json, px_event *ev) {
  cJSON *item = cJSON_Parse(json);
  if (!item) fail_msg("bad JSON in test: %s", json);
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
  px_error err;
  px_error_clear(&err);
  px_status s = px_pipeline_prepare(&e->cfg, item, &ctx, ev, &err);
  if (s != PX_OK) fail_msg("prepare %s: %s %s", json, px_status_str(s), err.reason);
}

typedef struct worker {
  px_writer *w;
  px_event events[PER_THREAD];
  px_event again[PER_SUBMIT]; /* the first submit, sent a second time */
  uint8_t dup[PER_THREAD], dup_again[PER_SUBMIT];
  px_status status[PER_THREAD / PER_SUBMIT + 1];
} worker;

static void *work(void *arg) {
  worker *k = arg;
  int i = 0;
  for (int at = 0; at < PER_THREAD; at += PER_SUBMIT, i++)
    k->status[i] = px_writer_submit(k->w, k->events + at, PER_SUBMIT, k->dup + at);
  k->status[i] = px_writer_submit(k->w, k->again, PER_SUBMIT, k->dup_again);
  return NULL;
}

static void test_concurrent_submits_are_durable(void **state) {
  env *e = E;
  px_writer *w;
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, NULL, &w));
  static worker k[THREADS];
  memset(k, 0, sizeof k);
  for (int t = 0; t < THREADS; t++) {
    k[t].w = w;
    for (int i = 0; i < PER_THREAD; i++) {
      char json[256];
      snprintf(json, sizeof json,
               "{\"type\":\"track\",\"userId\":\"user-%d\",\"event\":\"E\",\"messageId\":\"t%d-m%d\"}", i % 7, t, i);
      prepare(e, json, &k[t].events[i]);
      if (i < PER_SUBMIT) prepare(e, json, &k[t].again[i]);
    }
    memset(k[t].dup, 0xee, sizeof k[t].dup);
  }
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) PX_ASSERT_INT_EQ(pthread_create(&th[t], NULL, work, &k[t]), 0);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  px_writer_stop(w);

  for (int t = 0; t < THREADS; t++) {
    for (size_t i = 0; i < sizeof k[t].status / sizeof *k[t].status; i++) PX_ASSERT_OK(k[t].status[i]);
    for (int i = 0; i < PER_THREAD; i++) {
      if (k[t].dup[i] != 0) fail_msg("thread %d event %d flagged dup=%d", t, i, k[t].dup[i]);
      PX_ASSERT_INT_CMP(k[t].events[i].seq, >, 0);
    }
    for (int i = 0; i < PER_SUBMIT; i++)
      if (k[t].dup_again[i] != 1) fail_msg("thread %d resent event %d: dup=%d", t, i, k[t].dup_again[i]);
  }
  /* Every seq distinct. */
  static uint8_t seen[THREADS * PER_THREAD + 1];
  memset(seen, 0, sizeof seen);
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < PER_THREAD; i++) {
      uint64_t s = k[t].events[i].seq;
      PX_ASSERT_INT_CMP(s, <=, THREADS * PER_THREAD);
      if (seen[s]++) fail_msg("seq %llu used twice", (unsigned long long)s);
    }
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.events_accepted), THREADS * PER_THREAD);
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.events_duplicate), THREADS * PER_SUBMIT);
  PX_ASSERT_INT_CMP(atomic_load(&e->m.commits), >=, 1);
  PX_ASSERT_INT_CMP(atomic_load(&e->m.commits), <=, THREADS * (PER_THREAD / PER_SUBMIT + 1));
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.commit_latency.count), atomic_load(&e->m.commits));
  for (int t = 0; t < THREADS; t++) {
    for (int i = 0; i < PER_THREAD; i++) px_event_free(&k[t].events[i]);
    for (int i = 0; i < PER_SUBMIT; i++) px_event_free(&k[t].again[i]);
  }

  /* Durable: a fresh open of the directory sees everything. */
  px_store_close(e->st);
  e->st = NULL;
  px_store_opts o = {.map_size = (size_t)256 << 20};
  PX_ASSERT_OK(px_store_open(e->dir, &o, &e->st));
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), THREADS * PER_THREAD);
  PX_ASSERT_UINT_EQ(env_dedup_count(e), THREADS * PER_THREAD);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 7);
  cJSON *p = env_render(e, env_pid(e, "user_id", "user-0"));
  /* i % 7 == 0 for i in 0..59: 9 events per thread. */
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "counts"), "events")), THREADS * 9);
  cJSON_Delete(p);
}

static void test_duplicates_within_one_submit(void **state) {
  env *e = E;
  px_writer *w;
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, NULL, &w));
  px_event ev[3];
  prepare(e, "{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"same\"}", &ev[0]);
  prepare(e, "{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"same\"}", &ev[1]);
  prepare(e, "{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"other\"}", &ev[2]);
  uint8_t dup[3] = {9, 9, 9};
  PX_ASSERT_OK(px_writer_submit(w, ev, 3, dup));
  PX_ASSERT_INT_EQ(dup[0], 0);
  PX_ASSERT_INT_EQ(dup[1], 1);
  PX_ASSERT_INT_EQ(dup[2], 0);
  PX_ASSERT_OK(px_writer_submit(w, ev, 0, dup)); /* nothing to do */
  PX_ASSERT_INT_EQ(px_writer_queued(w), 0);
  px_writer_stop(w);
  px_writer_stop(NULL);
  for (int i = 0; i < 3; i++) px_event_free(&ev[i]);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 2);
}

typedef struct submit_arg {
  px_writer *w;
  px_event *ev;
  size_t n;
  uint8_t dup[8];
  px_status status;
} submit_arg;

static void *submit_thread(void *arg) {
  submit_arg *a = arg;
  a->status = px_writer_submit(a->w, a->ev, a->n, a->dup);
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int wait_queued(px_writer *w, size_t want) {
  for (int i = 0; i < 2000; i++) {
    if (px_writer_queued(w) == want) return 1;
    sleep_ms(1);
  }
  return 0;
}

static int wait_in_flight(px_writer *w, size_t want) {
  for (int i = 0; i < 5000; i++) {
    if (px_writer_in_flight(w) == want) return 1;
    sleep_ms(1);
  }
  return 0;
}

/* With the store's write lock held elsewhere the writer stalls; a full queue
 * turns submitters away after max_wait_ms, and all is applied once the lock
 * is released. */
static void test_overload(void **state) {
  env *e = E;
  px_writer *w;
  px_writer_opts o = {.max_queue_events = 8, .max_wait_ms = 100};
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, &o, &w));
  px_event a[5], b[5], c[5];
  for (int i = 0; i < 5; i++) {
    char json[128];
    snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"a%d\"}", i);
    prepare(e, json, &a[i]);
    snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"b%d\"}", i);
    prepare(e, json, &b[i]);
    snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"c%d\"}", i);
    prepare(e, json, &c[i]);
  }
  px_txn *blocker;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &blocker));
  submit_arg sa = {.w = w, .ev = a, .n = 5}, sb = {.w = w, .ev = b, .n = 5};
  pthread_t ta, tb;
  PX_ASSERT_INT_EQ(pthread_create(&ta, NULL, submit_thread, &sa), 0);
  /* The writer takes job A and then waits for the lock. */
  int taken = wait_in_flight(w, 5) && px_writer_queued(w) == 0;
  PX_ASSERT_INT_EQ(pthread_create(&tb, NULL, submit_thread, &sb), 0);
  int queued = wait_queued(w, 5); /* B waits in the queue (only one job of 5 fits) */
  uint8_t dup[5];
  px_status sc = px_writer_submit(w, c, 5, dup);
  px_store_abort(blocker);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  px_writer_stop(w);
  PX_ASSERT_INT_EQ(taken, 1);
  PX_ASSERT_INT_EQ(queued, 1);
  PX_ASSERT_STATUS(sc, PX_OVERLOADED);
  PX_ASSERT_OK(sa.status);
  PX_ASSERT_OK(sb.status);
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.requests_overloaded), 1);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 10);
  for (int i = 0; i < 5; i++) {
    px_event_free(&a[i]);
    px_event_free(&b[i]);
    px_event_free(&c[i]);
  }
}

/* A request larger than the whole queue still gets in when the queue is empty. */
static void test_big_request_fits_empty_queue(void **state) {
  env *e = E;
  px_writer *w;
  px_writer_opts o = {.max_queue_events = 2, .max_wait_ms = 50, .max_txn_events = 2};
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, &o, &w));
  px_event ev[6];
  uint8_t dup[6];
  for (int i = 0; i < 6; i++) {
    char json[128];
    snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u%d\"}", i);
    prepare(e, json, &ev[i]);
  }
  PX_ASSERT_OK(px_writer_submit(w, ev, 6, dup));
  px_writer_stop(w);
  for (int i = 0; i < 6; i++) px_event_free(&ev[i]);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 6);
}

/* The writer picks up a configuration stored while it runs. */
static void test_config_change_is_picked_up(void **state) {
  env *e = E;
  px_writer *w;
  PX_ASSERT_OK(px_writer_start(e->st, &e->m, NULL, &w));
  px_event ev;
  uint8_t dup;
  prepare(e, "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"crm_id\":\"C1\"}}", &ev);
  PX_ASSERT_OK(px_writer_submit(w, &ev, 1, &dup));
  px_event_free(&ev);
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "a1") != 0, 1);

  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  const char *cfg = "{\"identity\":{\"kinds\":[{\"kind\":\"crm_id\"}]}}";
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_config_store(txn, e->st, cfg, strlen(cfg), &err));
  PX_ASSERT_OK(px_store_commit(txn));

  prepare(e, "{\"type\":\"identify\",\"anonymousId\":\"a2\",\"traits\":{\"crm_id\":\"C2\"}}", &ev);
  PX_ASSERT_OK(px_writer_submit(w, &ev, 1, &dup));
  px_event_free(&ev);
  px_writer_stop(w);
  /* The new kind was used for the second event. */
  px_config_free(&e->cfg);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_config_load(txn, e->st, &e->cfg, &err));
  px_store_abort(txn);
  PX_ASSERT_UINT_EQ(env_pid(e, "crm_id", "C2"), env_pid(e, "anonymous_id", "a2"));
  PX_ASSERT_UINT_EQ(env_pid(e, "crm_id", "C1"), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_concurrent_submits_are_durable, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_duplicates_within_one_submit, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_overload, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_big_request_fits_empty_queue, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_config_change_is_picked_up, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
