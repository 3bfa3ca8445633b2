/* segment/journey: definitions and presets, one stage per profile (the
 * furthest whose rule holds), stage changes as events arrive and as time
 * passes (with the time in each stage), redefinition, and the funnel. */
#include <stdio.h>
#include <string.h>

#include "pipeline_env.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/journey.h"
#include "segment/members.h"
#include "segment/sweep.h"

#define E ((env *)*state)
#define DAY 86400000LL

static px_status define(env *e, const char *name, const char *json, px_error *err) {
  px_txn *txn;
  px_error_clear(err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_journey_define(txn, e->st, &e->cfg, name, json, strlen(json), e->clock, NULL, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

/* The profile's journey JSON for model (parsed; free with cJSON_Delete). */
static cJSON *journey_of(env *e, const char *user, int64_t now) {
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_journey_of(txn, e->st, env_pid(e, "user_id", user), now, &b));
  px_store_abort(txn);
  cJSON *j = cJSON_Parse(b.data);
  if (!j) fail_msg("not JSON: %s", b.data);
  px_buf_free(&b);
  return j;
}

static const char *stage_of(env *e, const char *model, const char *user) {
  static char out[64];
  cJSON *j = journey_of(e, user, e->clock);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, model), "stage"));
  snprintf(out, sizeof out, "%s", s ? s : "(none)");
  cJSON_Delete(j);
  return out;
}

static void track(env *e, const char *user, const char *event) {
  char msg[256];
  snprintf(msg, sizeof msg, "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"%s\"}", user, event);
  env_ingest(e, msg);
}

static void sweep(env *e, int64_t now) {
  px_sweep_result r;
  PX_ASSERT_OK(px_segment_sweep_run(e->st, &e->cfg, now, NULL, &r));
}

static void test_definitions(void **state) {
  env *e = E;
  px_error err;
  static const struct {
    const char *name, *json, *field, *reason;
  } bad[] = {
      {"Retail", "{\"preset\":\"retail\"}", "name", "a-z 0-9 _"},
      {"r", "{\"preset\":\"travel\"}", "journey.preset", "retail"},
      {"r", "{\"preset\":\"retail\",\"stages\":[]}", "journey.preset", "alone"},
      {"r", "{\"stages\":[{\"name\":\"a\",\"rule\":\"true\"}]}", "journey.stages", "2 to 16"},
      {"r", "{\"stages\":[{\"name\":\"a\",\"rule\":\"true\"},{\"name\":\"a\",\"rule\":\"true\"}]}", "journey.stages[1]",
       "twice"},
      {"r", "{\"stages\":[{\"name\":\"a\",\"rule\":\"true\"},{\"name\":\"B\",\"rule\":\"true\"}]}", "journey.stages[1]",
       "a-z 0-9 _"},
      {"r", "{\"stages\":[{\"name\":\"a\",\"rule\":\"true\"},{\"name\":\"b\"}]}", "journey.stages[1]", "must be"},
      {"r", "{\"stages\":[{\"name\":\"a\",\"rule\":\"true\"},{\"name\":\"b\",\"rule\":\"plan = \"}]}",
       "journey.stages[1].rule", "stage b: line 1"},
      {"r", "{\"stages\":[],\"x\":1}", "journey", "unknown member"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    PX_ASSERT_STATUS(define(e, bad[i].name, bad[i].json, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
  }
  /* Both presets compile and list their stages. */
  PX_ASSERT_OK(define(e, "retail", "{\"preset\":\"retail\"}", &err));
  PX_ASSERT_OK(define(e, "b2b", "{\"preset\":\"business\"}", &err));
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_journey_list(txn, e->st, &b));
  px_store_abort(txn);
  cJSON *j = cJSON_Parse(b.data);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "journeys");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(list), 2);
  const char *want[2][8] = {{"need", "research", "decide", "adopt", "use", "recommend"},
                            {"new_visitor", "browsing", "considering", "first_purchase", "repeat", "loyal", "lapsing", "lost"}};
  for (int m = 0; m < 2; m++) {
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, m), "stages");
    PX_ASSERT_INT_EQ(cJSON_GetArraySize(stages), m ? 8 : 6);
    for (int k = 0; k < cJSON_GetArraySize(stages); k++)
      PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(stages, k), "name")),
                       want[m][k]);
  }
  cJSON_Delete(j);
  px_buf_free(&b);
  /* Deleting a model takes its stage segments. */
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_journey_delete(txn, e->st, &e->cfg, "b2b", e->clock));
  px_def d;
  PX_ASSERT_STATUS(px_def_get(txn, e->st, PX_DEF_SEGMENT, "journey.b2b.need", &d), PX_NOT_FOUND);
  PX_ASSERT_STATUS(px_journey_delete(txn, e->st, &e->cfg, "b2b", e->clock), PX_NOT_FOUND);
  PX_ASSERT_OK(px_store_commit(txn));
}

/* The retail preset through a customer's life: the stage is the furthest
 * that holds, moving on events (browsing ... loyal) and with time passing
 * (lapsing after 90 days without an order, lost after 365). */
static void test_retail_stages(void **state) {
  env *e = E;
  px_error err;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"plan\":\"free\"}}");
  PX_ASSERT_OK(define(e, "retail", "{\"preset\":\"retail\"}", &err));
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "new_visitor");
  track(e, "u", "Product Viewed");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "browsing");
  track(e, "u", "Product Added");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "considering");
  track(e, "u", "Order Completed");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "first_purchase");
  track(e, "u", "Product Added"); /* browsing again after a purchase: still a customer */
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "first_purchase");
  track(e, "u", "Order Completed");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "repeat");
  for (int i = 0; i < 3; i++) track(e, "u", "Order Completed");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "loyal");
  int64_t last = e->clock - 1000; /* the last order's time */
  sweep(e, last + 90 * DAY - 1);
  e->clock = last + 90 * DAY - 1;
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "loyal");
  sweep(e, last + 90 * DAY);
  e->clock = last + 90 * DAY;
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "lapsing");
  sweep(e, last + 365 * DAY);
  e->clock = last + 365 * DAY;
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "lost");
  /* The stays: each stage once, in order, each ended where the next began;
   * loyal lasted exactly 90 days. */
  cJSON *j = journey_of(e, "u", last + 400 * DAY);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "retail");
  const cJSON *stays = cJSON_GetObjectItemCaseSensitive(r, "stays");
  const char *order[] = {"new_visitor", "browsing", "considering", "first_purchase", "repeat", "loyal", "lapsing", "lost"};
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(stays), 8);
  for (int k = 0; k < 8; k++) {
    const cJSON *y = cJSON_GetArrayItem(stays, k);
    PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, "stage")), order[k]);
    if (k < 7) {
      const char *left = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, "left_at"));
      const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(stays, k + 1), "entered_at"));
      PX_ASSERT_STR_EQ(left, next);
    }
  }
  PX_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(stays, 7), "left_at")));
  double loyal = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(stays, 5), "days"));
  PX_ASSERT_TRUE(loyal > 89.99999 && loyal < 90.00001);
  double lost = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(stays, 7), "days"));
  PX_ASSERT_TRUE(lost > 34.99999 && lost < 35.00001); /* to now: 400 - 365 days */
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "stage")), "lost");
  cJSON_Delete(j);
  /* A new order brings the customer back (to repeat: five orders, but only
   * one in the last 90 days... which is loyal's rule: loyal). */
  track(e, "u", "Order Completed");
  PX_ASSERT_STR_EQ(stage_of(e, "retail", "u"), "loyal");
}

/* A redefinition with fewer stages drops the others; the funnel counts
 * entries, advances and stays over a period. */
static void test_redefine_and_funnel(void **state) {
  env *e = E;
  px_error err;
  const char *three = "{\"stages\":[{\"name\":\"seen\",\"rule\":\"true\"},{\"name\":\"viewed\",\"rule\":\"at least 1 "
                      "event \\\"Product Viewed\\\"\"},{\"name\":\"bought\",\"rule\":\"at least 1 event \\\"Order "
                      "Completed\\\"\"},{\"name\":\"twice\",\"rule\":\"at least 2 events \\\"Order Completed\\\"\"}]}";
  PX_ASSERT_OK(define(e, "shop", three, &err));
  int64_t from = e->clock;
  /* a: seen -> viewed -> bought; b: seen -> bought (skips viewed); c: seen -> viewed; d: seen. */
  const char *users[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    char msg[128];
    snprintf(msg, sizeof msg, "{\"type\":\"identify\",\"userId\":\"%s\"}", users[i]);
    env_ingest(e, msg);
  }
  track(e, "a", "Product Viewed");
  track(e, "a", "Order Completed");
  track(e, "b", "Order Completed");
  track(e, "c", "Product Viewed");
  int64_t to = e->clock;
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_journey_funnel(txn, e->st, "shop", from, to, &b));
  PX_ASSERT_STATUS(px_journey_funnel(txn, e->st, "shop", to, from, &b), PX_INVALID);
  PX_ASSERT_STATUS(px_journey_funnel(txn, e->st, "nope", from, to, &b), PX_NOT_FOUND);
  px_store_abort(txn);
  cJSON *j = cJSON_Parse(b.data);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stages");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(st), 4);
  /*                          at_end entered advanced to_next left */
  const int want[4][5] = {{1, 4, 3, 2, 3}, {1, 2, 1, 1, 1}, {2, 2, 0, 0, 0}, {0, 0, 0, 0, 0}};
  const char *cols[5] = {"at_end", "entered", "advanced", "to_next", "left"};
  for (int k = 0; k < 4; k++)
    for (int c = 0; c < 5; c++) {
      double got = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(st, k), cols[c]));
      if (got != want[k][c]) fail_msg("stage %d %s: got %g, want %d (%s)", k, cols[c], got, want[k][c], b.data);
    }
  double conv = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(st, 0), "conversion"));
  PX_ASSERT_TRUE(conv == 0.75);
  PX_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(st, 3), "conversion")));
  cJSON_Delete(j);
  px_buf_free(&b);
  /* Three stages now: "twice" goes with its segment. */
  const char *fewer = "{\"stages\":[{\"name\":\"seen\",\"rule\":\"true\"},{\"name\":\"viewed\",\"rule\":\"at least 1 "
                      "event \\\"Product Viewed\\\"\"},{\"name\":\"bought\",\"rule\":\"at least 1 event \\\"Order "
                      "Completed\\\"\"}]}";
  PX_ASSERT_OK(define(e, "shop", fewer, &err));
  px_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_STATUS(px_def_get(txn, e->st, PX_DEF_SEGMENT, "journey.shop.twice", &d), PX_NOT_FOUND);
  px_store_abort(txn);
  PX_ASSERT_STR_EQ(stage_of(e, "shop", "a"), "bought");
  PX_ASSERT_STR_EQ(stage_of(e, "shop", "d"), "seen");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_definitions, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_retail_stages, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_redefine_and_funnel, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
