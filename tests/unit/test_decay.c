/* Decayed scores (function "decay", src/compute/decay.c): the definition,
 * values over simulated time, order and merges, and rules that compare one
 * with a bound flipping at the exact millisecond, in rule evaluation and in
 * segments kept current by the engine. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compute/compute.h"
#include "pipeline_env.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"
#include "segment/sweep.h"

#define E ((env *)*state)
#define DAY 86400000LL
#define ASSERT_NEAR(got, want, tol)                                                        \
  do {                                                                                     \
    double g_ = (got), w_ = (want);                                                        \
    if (!(fabs(g_ - w_) <= (tol))) fail_msg("%s: got %.12g, want %.12g", #got, g_, w_);     \
  } while (0)

static const char ENGAGEMENT[] =
    "{\"name\":\"engagement\",\"function\":\"decay\",\"events\":{\"Order Completed\":{\"weight\":10,"
    "\"half_life\":\"1d\"},\"Product Viewed\":{\"weight\":1,\"half_life\":\"2h\"},\"*\":{\"weight\":0.5,"
    "\"half_life\":\"1w\"}}}";

static px_ctrait parse_ok(const char *json) {
  cJSON *j = cJSON_Parse(json);
  px_ctrait t;
  px_error err;
  px_status s = px_ctrait_parse(j, &t, &err);
  cJSON_Delete(j);
  if (s != PX_OK) fail_msg("%s: %s %s", json, err.field, err.reason);
  return t;
}

static double value_at(const px_ctrait *t, const px_buf *state, int64_t now) {
  px_rule_value v;
  int64_t until = 0;
  PX_ASSERT_OK(px_agg_value(&t->agg, state->data, state->len, now, &v, &until, NULL));
  PX_ASSERT_INT_EQ(v.type, PX_RV_NUM);
  PX_ASSERT_INT_EQ(until, INT64_MAX);
  return v.n;
}

static void observe(const px_ctrait *t, px_buf *state, const char *event, int64_t ts, int64_t now) {
  PX_ASSERT_OK(px_agg_observe(&t->agg, state, event, ts, 1, NULL, now, NULL));
}

static void test_definition(void **state) {
  (void)state;
  px_ctrait t = parse_ok(ENGAGEMENT);
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_ctrait_print(&t, &b));
  PX_ASSERT_STR_EQ(b.data, "{\"name\":\"engagement\",\"function\":\"decay\",\"events\":{\"Order Completed\":{\"weight\":10,"
                           "\"half_life\":\"1d\"},\"Product Viewed\":{\"weight\":1,\"half_life\":\"2h\"},\"*\":{\"weight\":0.5,"
                           "\"half_life\":\"1w\"}}}");
  px_ctrait u = parse_ok(b.data); /* prints back to the same definition */
  PX_ASSERT_TRUE(px_rule_agg_equal(&t.agg, &u.agg));
  px_buf_free(&b);
  px_ctrait_free(&u);
  px_ctrait_free(&t);
  static const struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"{\"name\":\"e\",\"function\":\"decay\"}", "events", "required"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"events\":{}}", "events", "required"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":0,\"half_life\":\"1d\"}}}", "events.A",
       "above 0"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1y\"}}}", "events.A",
       "half_life"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":1}}}", "events.A", "must be"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\",\"x\":1}}}",
       "events.A", "must be"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"event\":\"A\",\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}}}",
       "event", "does not go with"},
      {"{\"name\":\"e\",\"function\":\"decay\",\"window\":\"1d\",\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}}}",
       "window", "does not go with"},
      {"{\"name\":\"e\",\"function\":\"count\",\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}}}", "events",
       "only with function decay"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *j = cJSON_Parse(bad[i].json);
    px_error err;
    PX_ASSERT_STATUS(px_ctrait_parse(j, &t, &err), PX_INVALID);
    px_ctrait_free(&t);
    cJSON_Delete(j);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
  }
}

/* Values over simulated time: each term halves every half-life. */
static void test_decay_over_time(void **state) {
  (void)state;
  px_ctrait t = parse_ok(ENGAGEMENT);
  px_buf s;
  px_buf_init(&s, 0);
  const int64_t t0 = 1700000000000LL;
  ASSERT_NEAR(value_at(&t, &s, t0), 0, 0); /* no events */
  observe(&t, &s, "Order Completed", t0, t0);
  observe(&t, &s, "Product Viewed", t0, t0);
  observe(&t, &s, "Signed In", t0, t0);   /* "*" */
  ASSERT_NEAR(value_at(&t, &s, t0), 11.5, 1e-12);
  ASSERT_NEAR(value_at(&t, &s, t0 + 2 * 3600000), 10 * pow(2, -1.0 / 12) + 0.5 + 0.5 * pow(2, -1.0 / 84), 1e-12);
  ASSERT_NEAR(value_at(&t, &s, t0 + DAY), 5 + pow(2, -12) + 0.5 * pow(2, -1.0 / 7), 1e-12);
  ASSERT_NEAR(value_at(&t, &s, t0 + 7 * DAY), 10.0 / 128 + pow(2, -84) + 0.25, 1e-12);
  /* A second order a day later: the first has halved. */
  observe(&t, &s, "Order Completed", t0 + DAY, t0 + DAY);
  ASSERT_NEAR(value_at(&t, &s, t0 + DAY), 15 + pow(2, -12) + 0.5 * pow(2, -1.0 / 7), 1e-12);
  /* A future-dated event counts from now. */
  observe(&t, &s, "Order Completed", t0 + 5 * DAY, t0 + DAY);
  ASSERT_NEAR(value_at(&t, &s, t0 + DAY), 25 + pow(2, -12) + 0.5 * pow(2, -1.0 / 7), 1e-12);
  px_buf_free(&s);
  /* Without a "*" term other events count for nothing. */
  px_ctrait o = parse_ok("{\"name\":\"o\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":2,\"half_life\":\"1h\"}}}");
  px_buf_init(&s, 0);
  observe(&o, &s, "B", t0, t0);
  PX_ASSERT_UINT_EQ(s.len, 0);
  ASSERT_NEAR(value_at(&o, &s, t0), 0, 0);
  px_buf_free(&s);
  px_ctrait_free(&o);
  px_ctrait_free(&t);
}

/* Events in any order, and two profiles' states merged, give the value of
 * observing all of them. */
static void test_order_and_merge(void **state) {
  (void)state;
  px_ctrait t = parse_ok(ENGAGEMENT);
  const char *names[] = {"Order Completed", "Product Viewed", "Other"};
  const int64_t t0 = 1700000000000LL, now = t0 + 30 * DAY;
  int64_t ts[40];
  for (int i = 0; i < 40; i++) ts[i] = t0 + (int64_t)((i * 7919) % 40) * (DAY / 2) + i;
  px_buf fwd, rev, a, b;
  px_buf_init(&fwd, 0), px_buf_init(&rev, 0), px_buf_init(&a, 0), px_buf_init(&b, 0);
  for (int i = 0; i < 40; i++) {
    observe(&t, &fwd, names[i % 3], ts[i], now);
    observe(&t, &rev, names[(39 - i) % 3], ts[39 - i], now);
    observe(&t, i % 2 ? &a : &b, names[i % 3], ts[i], now);
  }
  double want = value_at(&t, &fwd, now);
  ASSERT_NEAR(value_at(&t, &rev, now), want, 1e-12 * want);
  PX_ASSERT_OK(px_agg_merge(&t.agg, &a, b.data, b.len));
  ASSERT_NEAR(value_at(&t, &a, now), want, 1e-12 * want);
  ASSERT_NEAR(value_at(&t, &a, now + 3 * DAY), value_at(&t, &fwd, now + 3 * DAY), 1e-12 * want);
  PX_ASSERT_OK(px_agg_check(&t.agg, a.data, a.len));
  /* A state of other terms is refused, not misread. */
  px_ctrait o = parse_ok("{\"name\":\"o\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":2,\"half_life\":\"1h\"}}}");
  PX_ASSERT_STATUS(px_agg_check(&o.agg, a.data, a.len), PX_STORE);
  PX_ASSERT_STATUS(px_agg_merge(&o.agg, &b, a.data, a.len), PX_STORE);
  px_ctrait_free(&o);
  px_buf_free(&fwd), px_buf_free(&rev), px_buf_free(&a), px_buf_free(&b);
  px_ctrait_free(&t);
}

/* A rule comparing a decayed value with a bound says when it flips. */
typedef struct one_value {
  const px_ctrait *t;
  const px_buf *state;
  int64_t now;
} one_value;

static px_status get_value(void *arg, px_rule_ns ns, const char *name, px_rule_value *out, int64_t *until) {
  one_value *o = arg;
  (void)ns, (void)name;
  return px_agg_value(&o->t->agg, o->state->data, o->state->len, o->now, out, until, NULL);
}

static px_status no_segment(void *arg, const char *name, int *in) {
  (void)arg, (void)name;
  *in = 0;
  return PX_OK;
}

static px_status no_aggregate(void *arg, int i, px_rule_value *out, int64_t *until) {
  (void)arg, (void)i, (void)until;
  memset(out, 0, sizeof *out);
  return PX_OK;
}

static int eval_at(const char *src, one_value *o, int64_t now, int64_t *until) {
  px_rule *r;
  px_rule_error err;
  PX_ASSERT_OK(px_rule_compile(src, strlen(src), PX_RULE_PROFILE, &r, &err));
  o->now = now;
  px_rule_env env = {.arg = o, .now_ms = now, .get = get_value, .in_segment = no_segment, .aggregate = no_aggregate};
  int in = 0;
  PX_ASSERT_OK(px_rule_eval(r, &env, &in, until));
  px_rule_free(r);
  return in;
}

static void test_rules_flip_exactly(void **state) {
  (void)state;
  px_ctrait t = parse_ok("{\"name\":\"e\",\"function\":\"decay\",\"events\":{\"A\":{\"weight\":10,\"half_life\":\"1d\"}}}");
  px_buf s;
  px_buf_init(&s, 0);
  const int64_t t0 = 1700000000000LL;
  observe(&t, &s, "A", t0, t0);
  one_value o = {&t, &s, t0};
  int64_t until;
  /* 10 halves to 5 exactly at t0 + 1 day: ">= 5" holds through it and
   * fails the millisecond after; "> 5" fails at it. */
  PX_ASSERT_INT_EQ(eval_at("computed.e >= 5", &o, t0, &until), 1);
  PX_ASSERT_INT_EQ(until, t0 + DAY);
  PX_ASSERT_INT_EQ(eval_at("computed.e >= 5", &o, t0 + DAY, &until), 1);
  PX_ASSERT_INT_EQ(until, t0 + DAY + 1);
  PX_ASSERT_INT_EQ(eval_at("computed.e >= 5", &o, t0 + DAY + 1, &until), 0);
  PX_ASSERT_INT_EQ(until, INT64_MAX); /* lost for good: it only falls */
  PX_ASSERT_INT_EQ(eval_at("computed.e > 5", &o, t0, &until), 1);
  PX_ASSERT_INT_EQ(until, t0 + DAY);
  PX_ASSERT_INT_EQ(eval_at("computed.e > 5", &o, t0 + DAY, &until), 0);
  PX_ASSERT_INT_EQ(eval_at("computed.e < 2.5", &o, t0, &until), 0); /* becomes true after two days */
  PX_ASSERT_INT_EQ(until, t0 + 2 * DAY);
  PX_ASSERT_INT_EQ(eval_at("1 <= computed.e", &o, t0, &until), 1); /* the bound on the left */
  int64_t crossing = until;
  PX_ASSERT_TRUE(crossing > t0 + 3 * DAY && crossing < t0 + 4 * DAY);
  PX_ASSERT_INT_EQ(eval_at("1 <= computed.e", &o, crossing - 1, &until), 1);
  PX_ASSERT_INT_EQ(eval_at("1 <= computed.e", &o, crossing, &until), 0);
  /* Anywhere else, re-read after PX_RULE_DECAY_RECHECK_MS. */
  PX_ASSERT_INT_EQ(eval_at("computed.e * 2 >= 10", &o, t0, &until), 1);
  PX_ASSERT_INT_EQ(until, t0 + PX_RULE_DECAY_RECHECK_MS);
  px_buf_free(&s);
  px_ctrait_free(&t);
}

/* In the platform: a segment on a decayed score leaves at the exact
 * millisecond, by the sweep, with no new event; a new event brings the
 * profile back. */
static void test_segment_leaves_when_the_score_decays(void **state) {
  env *e = E;
  px_txn *txn;
  px_error err;
  px_rule_error rerr = {0};
  const char *trait =
      "{\"name\":\"engagement\",\"function\":\"decay\",\"events\":{\"Order Completed\":{\"weight\":10,\"half_life\":\"1d\"}}}";
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_ctrait_define(txn, e->st, &e->cfg, trait, strlen(trait), e->clock, NULL, NULL, &err));
  PX_ASSERT_OK(px_segment_define(txn, e->st, &e->cfg, "engaged", "computed.engagement >= 5", e->clock, NULL, NULL,
                                 &rerr));
  PX_ASSERT_OK(px_store_commit(txn));
  int64_t t0 = e->clock; /* the event's receivedAt, and its time */
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Order Completed\"}");
  uint64_t pid = env_pid(e, "user_id", "u1");
  px_def d;
  int in = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, "engaged", &d));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
  int64_t due;
  PX_ASSERT_OK(px_segment_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(in, 1);
  PX_ASSERT_INT_EQ(due, t0 + DAY); /* 5 at t0 + 1 day exactly (still in), below it the millisecond after */
  px_sweep_result r;
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, t0 + DAY, NULL, &r));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
  PX_ASSERT_OK(px_segment_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(in, 1);
  PX_ASSERT_INT_EQ(due, t0 + DAY + 1);
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, t0 + DAY + 1, NULL, &r));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
  PX_ASSERT_OK(px_segment_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(in, 0);
  PX_ASSERT_INT_EQ(due, INT64_MAX); /* below for good, with no new event */
  px_def_free(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_definition),
    cmocka_unit_test(test_decay_over_time),
    cmocka_unit_test(test_order_and_merge),
    cmocka_unit_test(test_rules_flip_exactly),
    cmocka_unit_test_setup_teardown(test_segment_leaves_when_the_score_decays, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
