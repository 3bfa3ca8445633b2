/* segment/engagement: the definition and its errors, one tier per profile,
 * and tiers moving as simulated time passes (sweeps at the exact
 * millisecond each boundary is crossed) and as events arrive. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipeline_env.h"
#include "segment/def.h"
#include "segment/engagement.h"
#include "segment/engine.h"
#include "segment/members.h"
#include "segment/sweep.h"

#define E ((env *)*state)
#define DAY 86400000LL

static const char DEF[] =
    "{\"events\":{\"Order Completed\":{\"weight\":10,\"half_life\":\"1d\"},\"Product Viewed\":{\"weight\":1,"
    "\"half_life\":\"2h\"}},\"tiers\":{\"high\":8,\"medium\":3,\"low\":1}}";

static px_status define(env *e, const char *json, px_error *err) {
  px_txn *txn;
  px_error_clear(err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_engagement_define(txn, e->st, &e->cfg, json, strlen(json), e->clock, NULL, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

/* The tier (0 high .. 3 dormant) of a user, checking it is in exactly one. */
static int tier_of(env *e, const char *user) {
  uint64_t pid = env_pid(e, "user_id", user);
  PX_ASSERT_INT_NE(pid, 0);
  px_txn *txn;
  int tier = -1;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  for (int k = 0; k < PX_ENGAGEMENT_TIERS; k++) {
    px_def d;
    int in = 0;
    PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, px_engagement_tier_segment(k), &d));
    PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
    px_def_free(&d);
    if (in && tier >= 0) fail_msg("%s in two tiers", user);
    if (in) tier = k;
  }
  px_store_abort(txn);
  if (tier < 0) fail_msg("%s in no tier", user);
  return tier;
}

static void sweep(env *e, int64_t now) {
  px_sweep_result r;
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, NULL, &r));
}

static int64_t next_due(env *e) {
  px_txn *txn;
  int64_t due;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_segment_next_due(txn, e->st, &due));
  px_store_abort(txn);
  return due;
}

/* The first millisecond after t0 at which 10 halving daily is below bound
 * (computed here, independently of the engine). */
static int64_t first_below(int64_t t0, double bound) {
  int64_t lo = t0, hi = t0 + 30 * DAY;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (10 * exp2(-((double)mid - (double)t0) / (double)DAY) < bound) hi = mid;
    else lo = mid;
  }
  return hi;
}

static void test_definition_errors(void **state) {
  env *e = E;
  px_error err;
  static const struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"[]", "engagement", "must be an object"},
      {"{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}},\"extra\":1}", "engagement", "unknown member"},
      {"{}", "engagement.events", "required"},
      {"{\"events\":{\"A\":{\"weight\":-1,\"half_life\":\"1d\"}}}", "engagement.events", "A: weight"},
      {"{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}},\"tiers\":{\"high\":1,\"medium\":2,\"low\":0.5}}",
       "engagement.tiers", "high > medium > low"},
      {"{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}},\"tiers\":{\"top\":1}}", "engagement.tiers.top",
       "unknown tier"},
      {"{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}},\"tiers\":{\"low\":0}}", "engagement.tiers.low",
       "above 0"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    PX_ASSERT_STATUS(define(e, bad[i].json, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
  }
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_STATUS(px_engagement_status(txn, e->st, &b), PX_NOT_FOUND);
  px_store_abort(txn);
  /* Tiers default to 20 / 5 / 1. */
  PX_ASSERT_OK(define(e, "{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}}}", &err));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_engagement_status(txn, e->st, &b));
  px_store_abort(txn);
  PX_ASSERT_STR_EQ(b.data, "{\"definition\":{\"events\":{\"A\":{\"weight\":1,\"half_life\":\"1d\"}},\"tiers\":{\"high\":20,"
                           "\"medium\":5,\"low\":1}},\"tiers\":{\"high\":0,\"medium\":0,\"low\":0,\"dormant\":0}}");
  px_buf_free(&b);
}

static void test_tiers_follow_time_and_events(void **state) {
  env *e = E;
  px_error err;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"quiet\",\"traits\":{\"plan\":\"free\"}}");
  PX_ASSERT_OK(define(e, DEF, &err));
  PX_ASSERT_INT_EQ(tier_of(e, "quiet"), 3); /* backfilled: no interaction is dormant */
  int64_t t0 = e->clock;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Order Completed\"}"); /* 10 at t0 */
  PX_ASSERT_INT_EQ(tier_of(e, "u"), 0);
  /* 10 halving daily passes 8, 3 and 1: each tier change at the exact
   * millisecond, found by the engine and swept then. */
  const double bounds[3] = {8, 3, 1};
  for (int k = 0; k < 3; k++) {
    int64_t t = first_below(t0, bounds[k]), due = next_due(e);
    PX_ASSERT_TRUE(due <= t); /* re-evaluated no later than the change */
    while (due < t) { /* early checks (the value equal to a bound) change nothing */
      sweep(e, due);
      PX_ASSERT_INT_EQ(tier_of(e, "u"), k);
      due = next_due(e);
    }
    PX_ASSERT_INT_EQ(due, t);
    sweep(e, t - 1);
    PX_ASSERT_INT_EQ(tier_of(e, "u"), k);
    sweep(e, t);
    PX_ASSERT_INT_EQ(tier_of(e, "u"), k + 1);
  }
  PX_ASSERT_INT_EQ(next_due(e), INT64_MAX);
  /* Events bring it back: three views (1 each, 2-hour half-life) on top
   * of the old order's 0.5 make it medium, an order high; a month later it
   * is dormant again. */
  int64_t now = first_below(t0, 1) + DAY;
  e->clock = now;
  for (int i = 0; i < 3; i++)
    env_ingest(e, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Product Viewed\"}");
  PX_ASSERT_INT_EQ(tier_of(e, "u"), 1);
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Order Completed\"}");
  PX_ASSERT_INT_EQ(tier_of(e, "u"), 0);
  sweep(e, now + 30 * DAY);
  PX_ASSERT_INT_EQ(tier_of(e, "u"), 3);
  PX_ASSERT_INT_EQ(tier_of(e, "quiet"), 3);
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_engagement_status(txn, e->st, &b));
  px_store_abort(txn);
  PX_ASSERT_STR_CONTAINS(b.data, "\"tiers\":{\"high\":0,\"medium\":0,\"low\":0,\"dormant\":2}");
  px_buf_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_definition_errors, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_tiers_follow_time_and_events, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
