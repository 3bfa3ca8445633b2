/* segment/engine: memberships kept in the event's transaction, time
 * passing (sweep), merges, "in segment" dependencies, backfill equal to
 * incremental, rebuilds, membership history. */
#include "pipeline_env.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/engine_int.h"
#include "segment/members.h"

#define E ((env *)*state)
#define DAY 86400000LL

static px_status define(env *e, const char *name, const char *rule, px_rule_error *err) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_segment_define(txn, e->st, &e->cfg, name, rule, e->clock, NULL, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

static void define_ok(env *e, const char *name, const char *rule) {
  px_rule_error err = {0};
  px_status s = define(e, name, rule, &err);
  if (s != PX_OK) fail_msg("define %s: %s: %d:%d %s", name, px_status_str(s), err.line, err.column, err.message);
}

static uint32_t seg_id(env *e, const char *name) {
  px_txn *txn;
  px_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, name, &d));
  px_store_abort(txn);
  px_def_free(&d);
  return d.id;
}

static int in_seg(env *e, const char *name, uint64_t pid) {
  px_txn *txn;
  int in = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_members_has(txn, e->st, seg_id(e, name), pid, &in));
  px_store_abort(txn);
  return in;
}

static uint64_t count_id(env *e, uint32_t seg) {
  px_txn *txn;
  uint64_t n = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_members_count(txn, e->st, seg, &n));
  px_store_abort(txn);
  return n;
}

static uint64_t count_of(env *e, const char *name) { return count_id(e, seg_id(e, name)); }

static uint64_t sweep(env *e, int64_t now) {
  px_txn *txn;
  uint64_t done = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_sweep(txn, e->st, &e->cfg, now, 0, &done));
  PX_ASSERT_OK(px_store_commit(txn));
  return done;
}

typedef struct hist {
  px_seg_change c[64];
  int n;
} hist;

static int hist_cb(void *arg, const px_seg_change *c) {
  hist *h = arg;
  if (h->n < 64) h->c[h->n++] = *c;
  return 0;
}

static hist history(env *e, uint64_t pid) {
  hist h = {.n = 0};
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_segment_history(txn, e->st, pid, hist_cb, &h));
  px_store_abort(txn);
  return h;
}

static void order(env *e, const char *user, double amount) {
  char msg[256];
  snprintf(msg, sizeof msg,
           "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"Order Completed\",\"properties\":{\"amount\":%g}}", user,
           amount);
  env_ingest(e, msg);
}

static void test_membership_changes_with_events(void **state) {
  env *e = E;
  define_ok(e, "uk2", "country = \"United Kingdom\" and at least 2 events \"Order Completed\" in last 90 days");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"country\":\"United Kingdom\"}}");
  uint64_t p = env_pid(e, "user_id", "u1");
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 0);
  order(e, "u1", 5);
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 0);
  order(e, "u1", 7);
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 1);
  PX_ASSERT_UINT_EQ(count_of(e, "uk2"), 1);
  /* A trait change takes it out, in the same transaction. */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"country\":\"France\"}}");
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 0);
  hist h = history(e, p);
  PX_ASSERT_INT_EQ(h.n, 2);
  PX_ASSERT_INT_EQ(h.c[0].entered, 1);
  PX_ASSERT_INT_EQ(h.c[0].cause, PX_SEG_CAUSE_EVENT);
  PX_ASSERT_UINT_EQ(h.c[0].seq, 3);
  PX_ASSERT_INT_EQ(h.c[1].entered, 0);
  PX_ASSERT_UINT_EQ(h.c[1].seq, 4);
  PX_ASSERT_UINT_EQ(h.c[1].segment, seg_id(e, "uk2"));
  /* The country comes back: in again (the orders are still within 90 days). */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"country\":\"United Kingdom\"}}");
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 1);
  /* 91 days on, the orders have left the window: out by time, with no event. */
  sweep(e, e->clock + 91 * DAY);
  PX_ASSERT_INT_EQ(in_seg(e, "uk2", p), 0);
  h = history(e, p);
  PX_ASSERT_INT_EQ(h.n, 4);
  PX_ASSERT_INT_EQ(h.c[3].entered, 0);
  PX_ASSERT_INT_EQ(h.c[3].cause, PX_SEG_CAUSE_TIME);
}

static void test_time_passing_flips_membership(void **state) {
  env *e = E;
  define_ok(e, "active30", "at least 1 event \"Visit\" in last 30 days");
  define_ok(e, "lapsed", "at least 1 event \"Order Completed\" and no event \"Order Completed\" in last 60 days");
  int64_t t0 = e->clock;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"c1\",\"event\":\"Visit\"}");
  order(e, "c1", 10); /* at t0 + 1 s */
  uint64_t p = env_pid(e, "user_id", "c1");
  PX_ASSERT_INT_EQ(in_seg(e, "active30", p), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "lapsed", p), 0);
  /* Day 30, one millisecond before the visit leaves the window: no change. */
  sweep(e, t0 + 30 * DAY - 1);
  PX_ASSERT_INT_EQ(in_seg(e, "active30", p), 1);
  /* Day 31 without any event: out. */
  PX_ASSERT_UINT_EQ(sweep(e, t0 + 31 * DAY), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "active30", p), 0);
  PX_ASSERT_INT_EQ(in_seg(e, "lapsed", p), 0);
  sweep(e, t0 + 1000 + 60 * DAY - 1);
  PX_ASSERT_INT_EQ(in_seg(e, "lapsed", p), 0);
  sweep(e, t0 + 1000 + 60 * DAY);
  PX_ASSERT_INT_EQ(in_seg(e, "lapsed", p), 1);
  hist h = history(e, p);
  PX_ASSERT_INT_EQ(h.n, 3); /* entered active30, left it (time), entered lapsed (time) */
  PX_ASSERT_INT_EQ(h.c[1].entered, 0);
  PX_ASSERT_INT_EQ(h.c[1].cause, PX_SEG_CAUSE_TIME);
  PX_ASSERT_INT_EQ(h.c[1].time_ms, t0 + 30 * DAY);
  PX_ASSERT_INT_EQ(h.c[2].entered, 1);
  PX_ASSERT_INT_EQ(h.c[2].time_ms, t0 + 1000 + 60 * DAY);
  /* Nothing more is due. */
  PX_ASSERT_UINT_EQ(sweep(e, t0 + 400 * DAY), 0);
  /* A new order: out of "lapsed" at once. */
  e->clock = t0 + 401 * DAY;
  order(e, "c1", 1);
  PX_ASSERT_INT_EQ(in_seg(e, "lapsed", p), 0);
}

static void test_due_changes_come_before_the_next_event(void **state) {
  env *e = E;
  define_ok(e, "active30", "at least 1 event \"Visit\" in last 30 days");
  int64_t t0 = e->clock;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"c1\",\"event\":\"Visit\"}");
  uint64_t p = env_pid(e, "user_id", "c1");
  e->clock = t0 + 40 * DAY; /* no sweep ran; the next event comes late */
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"c1\",\"event\":\"Visit\"}");
  PX_ASSERT_INT_EQ(in_seg(e, "active30", p), 1);
  hist h = history(e, p);
  PX_ASSERT_INT_EQ(h.n, 3); /* entered, left at day 30 (time), entered again */
  PX_ASSERT_INT_EQ(h.c[1].cause, PX_SEG_CAUSE_TIME);
  PX_ASSERT_INT_EQ(h.c[1].time_ms, t0 + 30 * DAY);
  PX_ASSERT_INT_EQ(h.c[2].cause, PX_SEG_CAUSE_EVENT);
}

static void test_in_segment_dependencies(void **state) {
  env *e = E;
  /* Defined before the segment it reads: that one is empty until defined. */
  define_ok(e, "vip_uk", "in segment \"buyers\" and country = \"UK\"");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"country\":\"UK\"}}");
  order(e, "u1", 3);
  uint64_t p = env_pid(e, "user_id", "u1");
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", p), 0);
  define_ok(e, "buyers", "at least 1 event \"Order Completed\"");
  PX_ASSERT_INT_EQ(in_seg(e, "buyers", p), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", p), 1); /* its readers were recomputed */
  /* Incrementally: a new buyer enters both in one event. */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u2\",\"traits\":{\"country\":\"UK\"}}");
  uint64_t q = env_pid(e, "user_id", "u2");
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", q), 0);
  order(e, "u2", 3);
  PX_ASSERT_INT_EQ(in_seg(e, "buyers", q), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", q), 1);
  /* Cycles are refused. */
  px_rule_error err = {0};
  PX_ASSERT_STATUS(define(e, "buyers", "in segment \"vip_uk\"", &err), PX_INVALID);
  PX_ASSERT_TRUE(strstr(err.message, "cycle") != NULL);
  PX_ASSERT_STATUS(define(e, "selfish", "in segment \"selfish\"", &err), PX_INVALID);
  /* Deleting the segment read empties its readers. */
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_delete(txn, e->st, &e->cfg, "buyers", e->clock));
  PX_ASSERT_OK(px_store_commit(txn));
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", p), 0);
  PX_ASSERT_INT_EQ(in_seg(e, "vip_uk", q), 0);
}

static void test_invalid_rule_reports_line_and_column(void **state) {
  env *e = E;
  px_rule_error err = {0};
  PX_ASSERT_STATUS(define(e, "bad", "country = \"UK\" and\n  orders >= and x", &err), PX_INVALID);
  PX_ASSERT_INT_EQ(err.line, 2);
  PX_ASSERT_INT_EQ(err.column, 13);
  PX_ASSERT_TRUE(strstr(err.message, "expected") != NULL);
  PX_ASSERT_STATUS(define(e, "bad name!", "country = \"UK\"", &err), PX_INVALID);
  /* Nothing was stored. */
  px_txn *txn;
  px_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_STATUS(px_def_get(txn, e->st, PX_DEF_SEGMENT, "bad", &d), PX_NOT_FOUND);
  px_store_abort(txn);
}

static void test_merge_counts_both_histories(void **state) {
  env *e = E;
  define_ok(e, "two_orders", "at least 2 events \"Order Completed\"");
  define_ok(e, "any_order", "at least 1 event \"Order Completed\"");
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Order Completed\"}");
  order(e, "u1", 4);
  uint64_t older = env_pid(e, "anonymous_id", "a1"), newer = env_pid(e, "user_id", "u1");
  PX_ASSERT_INT_NE(older, newer);
  PX_ASSERT_INT_EQ(in_seg(e, "two_orders", older), 0);
  PX_ASSERT_INT_EQ(in_seg(e, "any_order", newer), 1);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a1\"}");
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "u1"), older);
  PX_ASSERT_INT_EQ(in_seg(e, "two_orders", older), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "any_order", newer), 0); /* the loser left */
  PX_ASSERT_UINT_EQ(count_of(e, "any_order"), 1);
  hist h = history(e, newer);
  PX_ASSERT_INT_EQ(h.n, 2);
  PX_ASSERT_INT_EQ(h.c[1].entered, 0);
  PX_ASSERT_UINT_EQ(h.c[1].seq, 3);
}

/* The live set (what backfills walk) follows creations and merges, with or
 * without definitions. */
static void test_live_profiles_set(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Order Completed\"}");
  order(e, "u1", 4);
  order(e, "u2", 4);
  PX_ASSERT_UINT_EQ(count_id(e, PX_MEMBERS_LIVE), 3);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a1\"}");
  PX_ASSERT_UINT_EQ(count_id(e, PX_MEMBERS_LIVE), 2);
  PX_ASSERT_UINT_EQ(count_id(e, PX_MEMBERS_LIVE), env_counter(e, "profiles"));
  /* A new segment's backfill sees exactly the live profiles. */
  define_ok(e, "everyone", "profile.events >= 0");
  PX_ASSERT_UINT_EQ(count_of(e, "everyone"), 2);
  PX_ASSERT_INT_EQ(in_seg(e, "everyone", env_pid(e, "user_id", "u1")), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "everyone", env_pid(e, "user_id", "u2")), 1);
}

/* A new profile is evaluated against every segment, not only those its
 * first event touches: "no order" holds for a visitor at once. */
static void test_new_profile_is_evaluated_fully(void **state) {
  env *e = E;
  define_ok(e, "no_orders", "no event \"Order Completed\"");
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"v1\",\"event\":\"Visit\"}");
  uint64_t pid = env_pid(e, "user_id", "v1");
  PX_ASSERT_INT_EQ(in_seg(e, "no_orders", pid), 1);
  order(e, "v1", 10);
  PX_ASSERT_INT_EQ(in_seg(e, "no_orders", pid), 0);
}

static void test_nothing_defined_writes_nothing(void **state) {
  env *e = E;
  for (size_t i = 0; env_story(i); i++) env_ingest(e, env_story(i));
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_AGGS), 0);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_DUE), 0);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_SEGHIST), 0);
}

static void test_computed_trait_in_rule(void **state) {
  env *e = E;
  order(e, "u1", 60);
  order(e, "u1", 50);
  order(e, "u2", 20);
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  const char *def = "{\"name\":\"revenue_30d\",\"function\":\"sum\",\"event\":\"Order Completed\","
                    "\"property\":\"amount\",\"window\":\"30d\"}";
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_ctrait_define(txn, e->st, &e->cfg, def, strlen(def), e->clock, NULL, NULL, &err));
  PX_ASSERT_OK(px_store_commit(txn));
  define_ok(e, "big", "computed.revenue_30d > 100");
  uint64_t p1 = env_pid(e, "user_id", "u1"), p2 = env_pid(e, "user_id", "u2");
  PX_ASSERT_INT_EQ(in_seg(e, "big", p1), 1);
  PX_ASSERT_INT_EQ(in_seg(e, "big", p2), 0);
  order(e, "u2", 90);
  PX_ASSERT_INT_EQ(in_seg(e, "big", p2), 1);
  px_rule_value v;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_ctrait_value(txn, e->st, p2, "revenue_30d", e->clock, NULL, &v));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
  PX_ASSERT_INT_EQ((int)v.n, 110);
  sweep(e, e->clock + 31 * DAY);
  PX_ASSERT_INT_EQ(in_seg(e, "big", p1), 0);
  PX_ASSERT_INT_EQ(in_seg(e, "big", p2), 0);
}

/* A profile's states are one record: a write merges the given states into
 * it (replacing, adding, deleting by key) and keeps the others; when none
 * is left the record goes. */
static px_buf state_of(const char *text) {
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_buf_append(&b, text, strlen(text)));
  return b;
}

static void expect_states(env *e, uint64_t pid, const char *want) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  MDB_val rec;
  PX_ASSERT_OK(eng_states_get(txn, e->st, pid, &rec));
  char got[256] = "";
  const unsigned char *p = rec.mv_data, *end = p + rec.mv_size;
  uint64_t key;
  MDB_val v;
  while (rec.mv_size && eng_states_next(&p, end, &key, &v))
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu=%.*s", got[0] ? " " : "", (unsigned long long)key,
             (int)v.mv_size, (const char *)v.mv_data);
  PX_ASSERT_STR_EQ(got, want);
  PX_ASSERT_INT_EQ(p == end, 1); /* read to its end: nothing damaged */
  MDB_val one;
  PX_ASSERT_OK(eng_state_get(txn, e->st, pid, 7, &one));
  PX_ASSERT_INT_EQ(one.mv_size != 0, strstr(want, "7=") != NULL);
  px_store_abort(txn);
}

static void write_states(env *e, uint64_t pid, eng_state_put *puts, size_t n) {
  px_txn *txn;
  px_buf scratch;
  px_buf_init(&scratch, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(eng_states_write(txn, e->st, pid, puts, n, &scratch));
  PX_ASSERT_OK(px_store_commit(txn));
  px_buf_free(&scratch);
}

static void test_states_record(void **state) {
  env *e = E;
  px_buf a = state_of("aa"), b = state_of("bbb"), c = state_of("c"), none = state_of("");
  eng_state_put first[] = {{9, &b}, {7, &a}, {1, &c}}; /* any order */
  write_states(e, 42, first, 3);
  expect_states(e, 42, "1=c 7=aa 9=bbb");
  eng_state_put change[] = {{7, &none}, {5, &a}, {9, &c}}; /* delete 7, add 5, replace 9; 1 kept */
  write_states(e, 42, change, 3);
  expect_states(e, 42, "1=c 5=aa 9=c");
  expect_states(e, 43, ""); /* another profile's record is its own */
  eng_state_put clear[] = {{1, &none}, {5, &none}, {9, &none}, {11, &none}};
  write_states(e, 42, clear, 4);
  expect_states(e, 42, "");
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_AGGS), 0);
  /* Dropping aggregations rewrites the records that hold them. */
  write_states(e, 42, first, 3);
  eng_state_put other[] = {{7, &b}};
  write_states(e, 43, other, 1);
  px_txn *txn;
  px_buf scratch;
  px_buf_init(&scratch, 0);
  uint64_t dropped[] = {7, 9};
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(eng_states_drop(txn, e->st, dropped, 2, &scratch));
  PX_ASSERT_OK(px_store_commit(txn));
  px_buf_free(&scratch);
  expect_states(e, 42, "1=c");
  expect_states(e, 43, "");
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_AGGS), 1);
  px_buf_free(&a);
  px_buf_free(&b);
  px_buf_free(&c);
  px_buf_free(&none);
}

/* Aggregation states stored, over all profiles: each profile's record
 * holds entries of key u64 + length u32 + bytes (store.h, PX_DB_AGGS). */
static uint64_t state_count(env *e) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  MDB_cursor *cur;
  assert_int_equal(mdb_cursor_open(px_txn_mdb(txn, PX_DB_AGGS), px_store_dbi(e->st, PX_DB_AGGS), &cur), 0);
  MDB_val k, v;
  uint64_t n = 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    assert_int_equal(k.mv_size, 8);
    const unsigned char *p = v.mv_data;
    size_t left = v.mv_size;
    while (left) {
      assert_true(left >= 12);
      uint32_t len = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
      assert_true(left - 12 >= len);
      p += 12 + len, left -= 12 + len;
      n++;
    }
  }
  mdb_cursor_close(cur);
  px_store_abort(txn);
  return n;
}

static void test_dropped_aggregations_leave_no_states(void **state) {
  env *e = E;
  define_ok(e, "buyers", "at least 1 event \"Order Completed\"");
  define_ok(e, "big", "sum(amount of event \"Order Completed\") > 50");
  order(e, "u1", 60);
  order(e, "u2", 20);
  PX_ASSERT_UINT_EQ(state_count(e), 4); /* two profiles, two aggregations */
  /* A changed rule whose aggregation no other rule reads drops its states. */
  define_ok(e, "big", "computed.nothing_yet is null and at least 2 events \"Order Completed\"");
  PX_ASSERT_UINT_EQ(state_count(e), 2);
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_delete(txn, e->st, &e->cfg, "buyers", e->clock));
  PX_ASSERT_OK(px_store_commit(txn));
  PX_ASSERT_UINT_EQ(state_count(e), 2); /* "big" still counts orders */
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_delete(txn, e->st, &e->cfg, "big", e->clock));
  PX_ASSERT_OK(px_store_commit(txn));
  PX_ASSERT_UINT_EQ(state_count(e), 0);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_AGGS), 0); /* no empty records left */
  /* Defined again: the backfill rebuilds the states from the events. */
  define_ok(e, "big", "sum(amount of event \"Order Completed\") > 50");
  PX_ASSERT_UINT_EQ(state_count(e), 2);
  PX_ASSERT_INT_EQ(in_seg(e, "big", env_pid(e, "user_id", "u1")), 1);
  PX_ASSERT_UINT_EQ(count_of(e, "big"), 1);
}

/* The engine keeps profiles run lately between transactions; another
 * writer coming between, or an abort, must make it read the store again. */
static void ingest_and_abort(env *e, const char *json) {
  cJSON *item = cJSON_Parse(json);
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
  e->clock += 1000;
  px_event ev;
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_pipeline_prepare(&e->cfg, item, &ctx, &ev, &err));
  px_txn *txn;
  int dup = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_pipeline_ingest(txn, e->st, &e->cfg, &ev, &dup, &e->m));
  px_store_abort(txn);
  px_event_free(&ev);
}

static void test_cache_follows_other_writers_and_aborts(void **state) {
  env *e = E;
  define_ok(e, "over10", "sum(amount of event \"Order Completed\") > 10");
  order(e, "u1", 6);
  uint64_t p = env_pid(e, "user_id", "u1");
  /* An aborted order leaves nothing behind, in the store or in memory. */
  ingest_and_abort(e, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Order Completed\","
                      "\"properties\":{\"amount\":5}}");
  order(e, "u1", 1);
  PX_ASSERT_INT_EQ(in_seg(e, "over10", p), 0); /* 7, not 12 */
  order(e, "u1", 4);
  PX_ASSERT_INT_EQ(in_seg(e, "over10", p), 1); /* 11 */
  /* Another writer (here: a bare transaction) empties the profile's states. */
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  MDB_cursor *cur;
  PX_ASSERT_INT_EQ(mdb_cursor_open(px_txn_mdb(txn, PX_DB_AGGS), px_store_dbi(e->st, PX_DB_AGGS), &cur), 0);
  MDB_val k, v;
  while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) PX_ASSERT_INT_EQ(mdb_cursor_del(cur, 0), 0);
  mdb_cursor_close(cur);
  PX_ASSERT_OK(px_store_commit(txn));
  order(e, "u1", 2);
  /* Read from the store (nothing) plus this order: 2, out. Held from before: 13, in. */
  PX_ASSERT_INT_EQ(in_seg(e, "over10", p), 0);
}

/* ---- backfill = incremental = rebuild, over random streams ---- */

static const char *const seg_names[] = {"uk2",         "lapsed", "big30",  "vip",    "emailable",
                                        "recent_seen", "quiet",  "spender", "regular"};
static const char *const seg_rules[] = {
    "country = \"UK\" and at least 2 events \"Order Completed\" in last 90 days",
    "at least 1 event \"Order Completed\" and no event \"Order Completed\" in last 20 days",
    "sum(amount of event \"Order Completed\" in last 30 days) > 90",
    "in segment \"uk2\" or (in segment \"big30\" and plan = \"pro\")",
    "has email and consented to \"email\"",
    "last_seen after 10 days ago and profile.events >= 3",
    "no event \"Order Completed\" in last 5 days", /* holds for a new profile whose first event is another */
    "computed.spend30 > 60",
    "computed.orders >= 3 and computed.last_amount < 40",
};
/* Computed traits the rules above read. */
static const char *const ctrait_defs[] = {
    "{\"name\":\"spend30\",\"function\":\"sum\",\"event\":\"Order Completed\",\"property\":\"amount\","
    "\"window\":\"30d\"}",
    "{\"name\":\"orders\",\"function\":\"count\",\"event\":\"Order Completed\"}",
    "{\"name\":\"last_amount\",\"function\":\"last\",\"event\":\"Order Completed\",\"property\":\"amount\"}",
};

static void define_ctraits(env *e) {
  for (size_t i = 0; i < sizeof ctrait_defs / sizeof *ctrait_defs; i++) {
    px_txn *txn;
    px_error err;
    px_error_clear(&err);
    PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
    px_status s = px_ctrait_define(txn, e->st, &e->cfg, ctrait_defs[i], strlen(ctrait_defs[i]), e->clock, NULL, NULL, &err);
    if (s != PX_OK) fail_msg("computed trait %zu: %s: %s", i, px_status_str(s), err.reason);
    PX_ASSERT_OK(px_store_commit(txn));
  }
}
#define NSEGS (sizeof seg_names / sizeof *seg_names)

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* One random message of the stream. */
static void random_event(env *e, uint64_t *rng) {
  char msg[512];
  unsigned u = (unsigned)(rng_next(rng) % 12), a = (unsigned)(rng_next(rng) % 12);
  switch (rng_next(rng) % 8) {
    case 0:
    case 1:
    case 2:
      snprintf(msg, sizeof msg,
               "{\"type\":\"track\",\"%s\":\"%c%u\",\"event\":\"Order Completed\",\"properties\":{\"amount\":%u}}",
               u % 3 ? "userId" : "anonymousId", u % 3 ? 'u' : 'a', u, (unsigned)(rng_next(rng) % 80));
      break;
    case 3:
      snprintf(msg, sizeof msg,
               "{\"type\":\"identify\",\"userId\":\"u%u\",\"traits\":{\"country\":\"%s\",\"plan\":\"%s\"}}", u,
               rng_next(rng) % 2 ? "UK" : "FR", rng_next(rng) % 2 ? "pro" : "free");
      break;
    case 4: /* links an anonymous id to a user: merges */
      snprintf(msg, sizeof msg, "{\"type\":\"identify\",\"userId\":\"u%u\",\"anonymousId\":\"a%u\"}", u, a);
      break;
    case 5:
      snprintf(msg, sizeof msg,
               "{\"type\":\"identify\",\"userId\":\"u%u\",\"traits\":{\"email\":\"u%u@x.io\",\"consent\":{\"email\":%s}}}",
               u, u, rng_next(rng) % 2 ? "true" : "false");
      break;
    case 6:
      snprintf(msg, sizeof msg, "{\"type\":\"page\",\"anonymousId\":\"a%u\",\"name\":\"Home\"}", a);
      break;
    default:
      snprintf(msg, sizeof msg, "{\"type\":\"track\",\"userId\":\"u%u\",\"event\":\"Viewed\"}", u);
      break;
  }
  env_ingest(e, msg);
  /* Time passes: mostly minutes, sometimes days. */
  e->clock += rng_next(rng) % 5 == 0 ? (int64_t)(rng_next(rng) % (15 * DAY)) : (int64_t)(rng_next(rng) % 600000);
}

/* How many (profile, segment) pairs the per-profile lists hold. */
static uint64_t listed_pairs(env *e, px_txn *txn) {
  MDB_cursor *cur;
  PX_ASSERT_INT_EQ(mdb_cursor_open(px_txn_mdb(txn, PX_DB_PSEGS), px_store_dbi(e->st, PX_DB_PSEGS), &cur), 0);
  MDB_val k, v;
  uint64_t n = 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    n += v.mv_size / 4;
  mdb_cursor_close(cur);
  return n;
}

/* Members of every segment, as text, for comparing; checks on the way that
 * the per-profile lists hold exactly the bitmaps' memberships. */
static char *snapshot(env *e) {
  px_buf b;
  px_buf_init(&b, 0);
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  uint64_t pairs = 0;
  px_psegs list = {0};
  for (size_t i = 0; i < NSEGS; i++) {
    px_def d;
    PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, seg_names[i], &d));
    px_def_free(&d);
    uint64_t ids[4096];
    size_t n;
    PX_ASSERT_OK(px_members_page(txn, e->st, d.id, 0, ids, 4096, &n));
    px_buf_printf(&b, "%s:", seg_names[i]);
    for (size_t k = 0; k < n; k++) {
      px_buf_printf(&b, " %llu", (unsigned long long)ids[k]);
      PX_ASSERT_OK(px_psegs_load(txn, e->st, ids[k], &list));
      if (!px_psegs_has(&list, d.id)) fail_msg("profile %llu is in %s but not listed", (unsigned long long)ids[k], d.name);
    }
    pairs += n;
    px_buf_putc(&b, '\n');
  }
  PX_ASSERT_INT_EQ(listed_pairs(e, txn), pairs);
  px_psegs_free(&list);
  px_store_abort(txn);
  return b.data ? b.data : strdup("");
}

static void run_stream(env *e, uint64_t seed, int define_first, int nevents) {
  uint64_t rng = seed * 2654435761u + 1;
  if (define_first) {
    define_ctraits(e);
    for (size_t i = 0; i < NSEGS; i++) define_ok(e, seg_names[i], seg_rules[i]);
  }
  for (int i = 0; i < nevents; i++) {
    random_event(e, &rng);
    if (define_first && i % 17 == 0) sweep(e, e->clock); /* time passes with no event */
  }
  if (!define_first) { /* defined in an order other than dependencies first; computed traits backfilled too */
    define_ctraits(e);
    for (size_t i = NSEGS; i-- > 0;) define_ok(e, seg_names[i], seg_rules[i]);
  }
  sweep(e, e->clock);
}

static void test_backfill_equals_incremental(void **state) {
  env *a = E;
  int filled[NSEGS] = {0};
  for (uint64_t seed = 1; seed <= 8; seed++) {
    void *bs = NULL;
    PX_ASSERT_INT_EQ(env_setup(&bs), 0);
    env *b = bs;
    void *cs = NULL;
    PX_ASSERT_INT_EQ(env_setup(&cs), 0);
    env *c = cs;
    run_stream(b, seed, 1, 300);
    run_stream(c, seed, 0, 300);
    PX_ASSERT_INT_EQ(b->clock == c->clock, 1);
    char *sb = snapshot(b), *sc = snapshot(c);
    if (getenv("PX_TEST_VERBOSE")) print_message("seed %llu:\n%s", (unsigned long long)seed, sb);
    int k = 0;
    for (const char *line = sb; *line; line = strchr(line, '\n') + 1, k++) filled[k] |= strchr(line, ':')[1] == ' ';
    if (strcmp(sb, sc) != 0) fail_msg("seed %llu: incremental\n%s\nbackfill\n%s", (unsigned long long)seed, sb, sc);
    /* A rebuild from the log gives the same members (after time passes the same way). */
    PX_ASSERT_OK(px_pipeline_replay(b->st, NULL, NULL, NULL));
    sweep(b, b->clock);
    char *sr = snapshot(b);
    if (strcmp(sb, sr) != 0) fail_msg("seed %llu: live\n%s\nrebuilt\n%s", (unsigned long long)seed, sb, sr);
    free(sb);
    free(sc);
    free(sr);
    env_teardown(&bs);
    env_teardown(&cs);
  }
  for (size_t i = 0; i < NSEGS; i++) /* the streams put someone in every segment */
    if (!filled[i]) fail_msg("segment %s was empty for every seed", seg_names[i]);
  (void)a;
}

/* Deleting a segment drops its aggregations from every profile's states
 * record, shortening the records in place: the other aggregations of every
 * profile stay whole (the rewrite once used the key as LMDB's page held it,
 * which the shorter put moved, and corrupted the next records). */
static void test_drop_keeps_other_states(void **state) {
  env *e = E;
  define_ok(e, "s1", "at least 1 event \"A\"");
  define_ok(e, "s2", "at least 1 event \"B\"");
  for (int i = 0; i < 4; i++) {
    char msg[128];
    snprintf(msg, sizeof msg, "{\"type\":\"track\",\"userId\":\"u%d\",\"event\":\"A\"}", i);
    env_ingest(e, msg);
    snprintf(msg, sizeof msg, "{\"type\":\"track\",\"userId\":\"u%d\",\"event\":\"B\"}", i);
    env_ingest(e, msg);
  }
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_delete(txn, e->st, &e->cfg, "s2", e->clock));
  PX_ASSERT_OK(px_store_commit(txn));
  define_ok(e, "s3", "at least 1 event \"A\"");
  PX_ASSERT_UINT_EQ(count_of(e, "s1"), 4);
  PX_ASSERT_UINT_EQ(count_of(e, "s3"), 4);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_membership_changes_with_events, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_time_passing_flips_membership, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_due_changes_come_before_the_next_event, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_in_segment_dependencies, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_invalid_rule_reports_line_and_column, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merge_counts_both_histories, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_nothing_defined_writes_nothing, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_new_profile_is_evaluated_fully, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_computed_trait_in_rule, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_dropped_aggregations_leave_no_states, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_states_record, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_drop_keeps_other_states, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_live_profiles_set, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_cache_follows_other_writers_and_aborts, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_backfill_equals_incremental, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
