/* segment/features: discover's feature list (parsing, checking against the
 * definitions) and reading every live profile's values; and days_since in
 * a segment, re-evaluated by the sweep at the next whole day. */
#include <math.h>

#include "pipeline_env.h"
#include "segment/engine.h"
#include "score/scores.h"
#include "segment/features.h"
#include "segment/members.h"
#include "segment/def.h"

#define E ((env *)*state)
#define DAY 86400000LL

static void test_parse(void **state) {
  (void)state;
  px_feature *f;
  int n;
  px_error err;
  PX_ASSERT_OK(px_features_parse(" computed.orders ,trait.\"a, b\",days_since( signup ),last_seen,profile.events", &f,
                                 &n, &err));
  PX_ASSERT_INT_EQ(n, 5);
  PX_ASSERT_STR_EQ(f[0].ref, "computed.orders");
  PX_ASSERT_INT_EQ(f[0].ns, PX_NS_COMPUTED);
  PX_ASSERT_STR_EQ(f[0].name, "orders");
  PX_ASSERT_STR_EQ(f[1].ref, "trait.\"a, b\""); /* a comma inside quotes belongs to the name */
  PX_ASSERT_STR_EQ(f[1].name, "a, b");
  PX_ASSERT_STR_EQ(f[2].ref, "signup");
  PX_ASSERT_INT_EQ(f[2].days, 1);
  PX_ASSERT_INT_EQ(f[3].days, 1); /* a time */
  PX_ASSERT_INT_EQ(f[4].days, 0);
  char term[PX_FEATURE_TEXT + 32];
  PX_ASSERT_OK(px_feature_term(&f[2], 1, term, sizeof term));
  PX_ASSERT_STR_EQ(term, "log1p(days_since(signup))");
  PX_ASSERT_OK(px_feature_term(&f[0], 0, term, sizeof term));
  PX_ASSERT_STR_EQ(term, "computed.orders");
  PX_ASSERT_STATUS(px_feature_term(&f[2], 1, term, 10), PX_TOO_LARGE);
  free(f);

  static const struct {
    const char *list, *field, *reason;
  } bad[] = {
      {"a,,b", "", "an empty feature (two commas, or one at an end)"},
      {"a,", "", "an empty feature (two commas, or one at an end)"},
      {"a, trait.a", "trait.a", "listed twice"},
      {"consent.email", "consent.email", "consent is not a number (features are numbers)"},
      {"identifier.email", "identifier.email", "an identifier is not a number (features are numbers)"},
      {"a + 1", "a + 1", "column 3: expected the end of the reference after 'a', found '+'"},
      {"days_since(x y)", "x y", "column 14: expected the end of the reference after 'x', found 'y'"},
      {"sum(x of event)", "sum(x of event)", "column 1: expected a trait, computed.NAME, score.NAME, account.NAME, "
                                             "first_seen, last_seen or profile.events, found 'sum'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    px_error_clear(&err);
    PX_ASSERT_STATUS(px_features_parse(bad[i].list, &f, &n, &err), PX_INVALID);
    PX_ASSERT_NULL(f);
    if (strcmp(err.field, bad[i].field) || strcmp(err.reason, bad[i].reason))
      fail_msg("%s:\n got  %s: %s\n want %s: %s", bad[i].list, err.field, err.reason, bad[i].field, bad[i].reason);
  }
  char many[2048] = "";
  for (int i = 0; i <= PX_FEATURES_MAX; i++) sprintf(many + strlen(many), "%sf%d", i ? "," : "", i);
  PX_ASSERT_STATUS(px_features_parse(many, &f, &n, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.reason, "at most 64 features");
}

static void define_ctrait(env *e, const char *json) {
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_ctrait_define(txn, e->st, &e->cfg, json, strlen(json), e->clock, NULL, NULL, &err);
  if (s != PX_OK) fail_msg("%s: %s %s", json, err.field, err.reason);
  PX_ASSERT_OK(px_store_commit(txn));
}

static px_status prepare(env *e, const char *list, px_feature **f, int *n, px_error *err) {
  PX_ASSERT_OK(px_features_parse(list, f, n, err));
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_status s = px_features_prepare(txn, e->st, *f, *n, err);
  px_store_abort(txn);
  return s;
}

static void test_prepare_and_read(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"age\":30,\"signup\":\"2024-04-01\","
                "\"address\":{\"lat\":51.5}},\"timestamp\":\"2024-04-21T10:00:00Z\"}");
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Order\",\"properties\":{\"amount\":-5},"
                "\"timestamp\":\"2024-04-26T10:00:00Z\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u2\",\"traits\":{\"age\":\"old\",\"address\":{\"lat\":1}},"
                "\"timestamp\":\"2024-04-30T10:00:00Z\"}");
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"Order\",\"properties\":{\"amount\":7}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u3\",\"traits\":{\"age\":52}}");
  define_ctrait(e, "{\"name\":\"spent\",\"function\":\"sum\",\"event\":\"Order\",\"property\":\"amount\"}");
  define_ctrait(e, "{\"name\":\"last_order\",\"function\":\"last\",\"event\":\"Order\"}");
  define_ctrait(e, "{\"name\":\"orders\",\"function\":\"count\",\"event\":\"Order\"}");
  uint64_t u1 = env_pid(e, "user_id", "u1"), u2 = env_pid(e, "user_id", "u2"), u3 = env_pid(e, "user_id", "u3");

  px_feature *f;
  int n;
  px_error err;
  PX_ASSERT_OK(prepare(e, "computed.orders,computed.last_order,profile.events,last_seen,age,address.lat,"
                          "days_since(signup)", &f, &n, &err));
  PX_ASSERT_INT_EQ(f[0].count, 1);
  PX_ASSERT_STR_EQ(f[0].high, "many orders");
  PX_ASSERT_INT_EQ(f[1].days, 1); /* a computed last of no property is a time */
  PX_ASSERT_STR_EQ(f[1].label, "days since last order");
  PX_ASSERT_STR_EQ(f[1].low, "last order recently");
  PX_ASSERT_STR_EQ(f[1].unit, "days");
  PX_ASSERT_STR_EQ(f[3].label, "days since last seen");
  PX_ASSERT_STR_EQ(f[4].high, "high age");
  PX_ASSERT_STR_EQ(f[5].label, "address.lat");
  int64_t now = 1714557600000LL + 10 * DAY + 3600000; /* 2024-05-11T11:00:00Z */
  px_txn *txn;
  px_feature_rows rows;
  memset(&rows, 0, sizeof rows);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_features_read(txn, e->st, &e->cfg, f, n, NULL, now, &rows));
  px_store_abort(txn);
  PX_ASSERT_UINT_EQ(rows.profiles, 3);
  PX_ASSERT_UINT_EQ(rows.n, 1); /* u2's age is a string, u3 has no orders or signup */
  PX_ASSERT_UINT_EQ(rows.left_out, 2);
  PX_ASSERT_UINT_EQ(rows.pids[0], u1);
  /* u1: 1 order, last order 2024-04-26T10:00 (15 days 1 hour ago), 2 events, last seen the same,
   * age 30, address.lat 51.5, signup 2024-04-01 (40 days 11 hours ago) */
  double want[] = {1, 15, 2, 15, 30, 51.5, 40};
  for (int i = 0; i < n; i++)
    if (rows.x[i] != want[i]) fail_msg("feature %s: %g, want %g", f[i].ref, rows.x[i], want[i]);
  PX_ASSERT_UINT_EQ(rows.missing[0], 0);
  PX_ASSERT_UINT_EQ(rows.missing[1], 1); /* u3 */
  PX_ASSERT_UINT_EQ(rows.missing[4], 1); /* u2 */
  PX_ASSERT_UINT_EQ(rows.missing[6], 2); /* u2, u3 */
  px_feature_rows_free(&rows);
  free(f);

  /* log1p: a negative value leaves the profile out, counted apart. */
  PX_ASSERT_OK(prepare(e, "computed.spent", &f, &n, &err));
  unsigned char log1p[1] = {1};
  memset(&rows, 0, sizeof rows);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_features_read(txn, e->st, &e->cfg, f, n, log1p, now, &rows));
  px_store_abort(txn);
  PX_ASSERT_UINT_EQ(rows.n, 2); /* u2 (7) and u3 (0: a sum over nothing) */
  PX_ASSERT_UINT_EQ(rows.pids[0], u2);
  PX_ASSERT_UINT_EQ(rows.pids[1], u3);
  PX_ASSERT_UINT_EQ(rows.negative[0], 1);
  PX_ASSERT_UINT_EQ(rows.missing[0], 0);
  px_feature_rows_free(&rows);
  free(f);

  /* Scores (score.NAME) are read as stored: numbers; a string or none is missing. */
  PX_ASSERT_OK(prepare(e, "score.rfm_r", &f, &n, &err));
  PX_ASSERT_OK(px_store_begin(e->st, PX_TXN_WRITE, &txn));
  px_score sc = {.type = PX_SCORE_NUM, .n = 4, .since_ms = now};
  PX_ASSERT_OK(px_score_put(txn, e->st, u1, "rfm_r", &sc, NULL));
  px_score cell = {.type = PX_SCORE_STR, .s = "loyal", .len = 5, .since_ms = now};
  PX_ASSERT_OK(px_score_put(txn, e->st, u2, "rfm_r", &cell, NULL));
  memset(&rows, 0, sizeof rows);
  PX_ASSERT_OK(px_features_read(txn, e->st, &e->cfg, f, n, NULL, now, &rows));
  px_store_abort(txn);
  PX_ASSERT_UINT_EQ(rows.n, 1);
  PX_ASSERT_UINT_EQ(rows.pids[0], u1);
  PX_ASSERT_TRUE(rows.x[0] == 4);
  PX_ASSERT_UINT_EQ(rows.missing[0], 2);
  px_feature_rows_free(&rows);
  free(f);

  /* Checked against the definitions. */
  static const struct {
    const char *list, *reason;
  } bad[] = {
      {"computed.nope", "no computed trait named \"nope\" (define it with pickaxe apply)"},
      {"days_since(computed.orders)", "days_since needs a time, and computed.orders is a number"},
      {"days_since(profile.events)", "days_since needs a time, and profile.events is a number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    px_error_clear(&err);
    PX_ASSERT_STATUS(prepare(e, bad[i].list, &f, &n, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.reason, bad[i].reason);
    free(f);
  }
}

/* days_since in a segment: in from the first instant the whole day is
 * reached, by the sweep, and out again with a new event. */
static void test_days_since_segment(void **state) {
  env *e = E;
  px_txn *txn;
  px_rule_error re;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_define(txn, e->st, &e->cfg, "quiet", "days_since(last_seen) >= 2", e->clock, NULL, NULL, &re));
  PX_ASSERT_OK(px_store_commit(txn));
  int64_t t0 = e->clock;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"q\",\"event\":\"Visit\"}"); /* timestamp = receivedAt = t0 */
  uint64_t p = env_pid(e, "user_id", "q");
  px_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, "quiet", &d));
  px_store_abort(txn);
  int in = -1;
  uint64_t done;
  for (int step = 0; step < 3; step++) {
    int64_t at = step == 0 ? t0 + DAY : step == 1 ? t0 + 2 * DAY - 1 : t0 + 2 * DAY;
    PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
    PX_ASSERT_OK(px_segment_sweep(txn, e->st, &e->cfg, at, 0, &done));
    PX_ASSERT_OK(px_members_has(txn, e->st, d.id, p, &in));
    PX_ASSERT_OK(px_store_commit(txn));
    PX_ASSERT_INT_EQ(in, step == 2);
  }
  e->clock = t0 + 3 * DAY;
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"q\",\"event\":\"Visit\"}");
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, p, &in));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(in, 0);
  px_def_free(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse),
    cmocka_unit_test_setup_teardown(test_prepare_and_read, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_days_since_segment, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
