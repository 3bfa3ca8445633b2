/* segment/rfm_refresh: the RFM definition, the refresh over a small store
 * (scores of every customer, removals, summary, schedule) and the segments
 * that read score.NAME. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "pipeline_env.h"
#include "score/scores.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"
#include "segment/rfm_refresh.h"

#define E ((env *)*state)
#define DAY 86400000LL
#define HOUR 3600000LL

static const char *const traits[] = {
    "{\"name\":\"last_purchase\",\"function\":\"last\",\"event\":\"Order Completed\"}",
    "{\"name\":\"orders\",\"function\":\"distinct\",\"event\":\"Order Completed\",\"property\":\"order_id\"}",
    "{\"name\":\"revenue\",\"function\":\"sum\",\"event\":\"Order Completed\",\"property\":\"revenue\"}",
    "{\"name\":\"last_purchase_5d\",\"function\":\"last\",\"event\":\"Order Completed\",\"window\":\"5d\"}",
};

static void define_traits(env *e, int64_t now) {
  px_txn *txn;
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  for (size_t i = 0; i < sizeof traits / sizeof *traits; i++)
    PX_ASSERT_OK(px_ctrait_define(txn, e->st, &e->cfg, traits[i], strlen(traits[i]), now, NULL, NULL, &err));
  PX_ASSERT_OK(px_store_commit(txn));
}

static px_status define_rfm(env *e, const char *json, int64_t now, px_error *err) {
  px_txn *txn;
  px_error_clear(err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_rfm_define(txn, e->st, json, strlen(json), now, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

static void define_segment(env *e, const char *name, const char *rule, int64_t now) {
  px_txn *txn;
  px_rule_error err = {0};
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_segment_define(txn, e->st, &e->cfg, name, rule, now, NULL, NULL, &err);
  if (s != PX_OK) fail_msg("segment %s: %s %s", name, px_status_str(s), err.message);
  PX_ASSERT_OK(px_store_commit(txn));
}

static px_rfm_summary refresh(env *e, int64_t now) {
  px_txn *txn;
  px_rfm_summary m;
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_rfm_refresh(txn, e->st, &e->cfg, now, NULL, NULL, &m, &err);
  if (s != PX_OK) fail_msg("refresh: %s %s %s", px_status_str(s), err.field, err.reason);
  PX_ASSERT_OK(px_store_commit(txn));
  return m;
}

/* Customer ci (i = 1..10): i orders of 10 each, the last one i days and an
 * hour before now: recency i days, frequency i, monetary 10 i. The same
 * ranks as test_rfm.c's ten customers. Plus c0, who never ordered. */
static int64_t load_customers(env *e) {
  int64_t now = e->clock + HOUR;
  char msg[512], ts[32];
  for (int i = 1; i <= 10; i++) {
    for (int k = 0; k < i; k++) {
      px_time_format_iso(now - i * DAY - HOUR - k * HOUR, ts);
      snprintf(msg, sizeof msg,
               "{\"type\":\"track\",\"userId\":\"c%d\",\"event\":\"Order Completed\",\"timestamp\":\"%s\","
               "\"properties\":{\"order_id\":\"o%d-%d\",\"revenue\":10}}",
               i, ts, i, k);
      env_ingest(e, msg);
    }
  }
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"c0\",\"traits\":{\"plan\":\"free\"}}");
  return now;
}

static double score_num(env *e, uint64_t pid, const char *name) {
  px_txn *txn;
  px_score v;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_status s = px_score_read(txn, e->st, pid, name, &v);
  px_store_abort(txn);
  if (s == PX_NOT_FOUND) return NAN;
  PX_ASSERT_OK(s);
  PX_ASSERT_INT_EQ(v.type, PX_SCORE_NUM);
  return v.n;
}

static void score_str(env *e, uint64_t pid, const char *name, char *out, size_t n) {
  px_txn *txn;
  px_score v;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_status s = px_score_read(txn, e->st, pid, name, &v);
  if (s == PX_OK) snprintf(out, n, "%.*s", (int)v.len, v.s);
  else snprintf(out, n, "(none)");
  px_store_abort(txn);
}

static int in_seg(env *e, const char *name, uint64_t pid) {
  px_txn *txn;
  px_def d;
  int in = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, name, &d));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
  px_def_free(&d);
  px_store_abort(txn);
  return in;
}

static uint64_t customer(env *e, int i) {
  char id[16];
  snprintf(id, sizeof id, "c%d", i);
  uint64_t pid = env_pid(e, "user_id", id);
  PX_ASSERT_INT_NE(pid, 0);
  return pid;
}

static void test_definition_checks(void **state) {
  env *e = E;
  px_error err;
  /* Names of traits that do not exist (yet): the member is named. */
  PX_ASSERT_STATUS(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}",
                              e->clock, &err),
                   PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "rfm.recency");
  PX_ASSERT_STR_CONTAINS(err.reason, "last_purchase");
  define_traits(e, e->clock);
  static const struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"{\"recency\":\"last_purchase\",\"frequency\":\"orders\"}", "rfm.monetary", "required"},
      {"{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"nope\"}", "rfm.monetary", "\"nope\""},
      {"{\"recency\":\"orders\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}", "rfm.recency", "is a distinct"},
      {"{\"recency\":\"last_purchase\",\"frequency\":\"last_purchase\",\"monetary\":\"revenue\"}", "rfm.frequency",
       "needs a number"},
      {"{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\",\"refresh_every\":\"1y\"}",
       "rfm.refresh_every", "unit"},
      {"{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\",\"refresh_every\":\"0h\"}",
       "rfm.refresh_every", "unit"},
      {"{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\",\"extra\":1}", "rfm",
       "unknown member \"extra\""},
      {"{\"recency\":1,\"frequency\":\"orders\",\"monetary\":\"revenue\"}", "rfm.recency", "required"},
      {"[]", "rfm", "must be an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    PX_ASSERT_STATUS(define_rfm(e, bad[i].json, e->clock, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
  }
  /* Not configured: no schedule, and a refresh says so. */
  px_txn *txn;
  int64_t due = 0;
  px_rfm_summary m;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_rfm_next_due(txn, e->st, &due));
  PX_ASSERT_INT_EQ(due, INT64_MAX);
  PX_ASSERT_STATUS(px_rfm_refresh(txn, e->st, &e->cfg, e->clock, NULL, NULL, &m, &err), PX_NOT_FOUND);
  px_store_abort(txn);
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\","
                             "\"refresh_every\":\"36h\"}",
                          e->clock, &err));
  px_rfm_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_rfm_def_get(txn, e->st, &d, NULL));
  PX_ASSERT_OK(px_rfm_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_STR_EQ(d.recency, "last_purchase");
  PX_ASSERT_INT_EQ(d.every_ms, 36 * HOUR);
  PX_ASSERT_INT_EQ(due, INT64_MIN); /* never refreshed: at once */
}

static void test_refresh_scores_every_customer(void **state) {
  env *e = E;
  int64_t now = load_customers(e);
  define_traits(e, now);
  px_error err;
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}", now,
                          &err));
  define_segment(e, "keep_close", "score.rfm_cell = \"cannot_lose\"", now);
  define_segment(e, "recent", "score.rfm_r >= 4", now);
  PX_ASSERT_INT_EQ(in_seg(e, "keep_close", customer(e, 10)), 0);

  px_rfm_summary m = refresh(e, now);
  PX_ASSERT_UINT_EQ(m.profiles, 11);
  PX_ASSERT_UINT_EQ(m.population, 10);
  PX_ASSERT_UINT_EQ(m.changed, 10);
  PX_ASSERT_UINT_EQ(m.removed, 0);
  const double rcut[4] = {-8, -6, -4, -2}, fcut[4] = {3, 5, 7, 9};
  for (int k = 0; k < 4; k++) {
    if (m.cuts.r[k] != rcut[k] || m.cuts.f[k] != fcut[k] || m.cuts.m[k] != 10 * fcut[k])
      fail_msg("cut %d: r %g f %g m %g", k, m.cuts.r[k], m.cuts.f[k], m.cuts.m[k]);
  }
  const int want_r[10] = {5, 4, 4, 3, 3, 2, 2, 1, 1, 1}, want_f[10] = {1, 1, 1, 2, 2, 3, 3, 4, 4, 5};
  const char *want_cell[10] = {"new",     "promising", "promising",   "about_to_sleep", "about_to_sleep",
                               "at_risk", "at_risk",   "cannot_lose", "cannot_lose",    "cannot_lose"};
  for (int i = 1; i <= 10; i++) {
    uint64_t p = customer(e, i);
    char cell[64];
    score_str(e, p, "rfm_cell", cell, sizeof cell);
    double r = score_num(e, p, "rfm_r"), f = score_num(e, p, "rfm_f"), mm = score_num(e, p, "rfm_m");
    if (r != want_r[i - 1] || f != want_f[i - 1] || mm != want_f[i - 1] || strcmp(cell, want_cell[i - 1]) != 0)
      fail_msg("c%d: r%g f%g m%g %s, want r%d f%d m%d %s", i, r, f, mm, cell, want_r[i - 1], want_f[i - 1],
               want_f[i - 1], want_cell[i - 1]);
    assert_true(score_num(e, p, "rfm_recency_days") == i);
    assert_true(score_num(e, p, "rfm_frequency") == i);
    assert_true(score_num(e, p, "rfm_monetary") == 10 * i);
    PX_ASSERT_INT_EQ(in_seg(e, "keep_close", p), i >= 8);
    PX_ASSERT_INT_EQ(in_seg(e, "recent", p), i <= 3);
  }
  assert_true(isnan(score_num(e, customer(e, 0), "rfm_r"))); /* never ordered: no score */
  PX_ASSERT_INT_EQ(in_seg(e, "keep_close", customer(e, 0)), 0);
  const uint64_t want_cells[PX_RFM_NCELLS] = {0, 0, 0, 1, 2, 0, 2, 2, 3, 0, 0};
  for (int i = 0; i < PX_RFM_NCELLS; i++)
    if (m.cells[i] != want_cells[i]) fail_msg("cell %s: %llu", px_rfm_cell_at(i), (unsigned long long)m.cells[i]);

  PX_ASSERT_STR_EQ(px_seg_cause_name(PX_SEG_CAUSE_SCORE), "score");

  /* Again at the same time: nothing changes. A day later: every recency moved. */
  m = refresh(e, now);
  PX_ASSERT_UINT_EQ(m.changed, 0);
  m = refresh(e, now + DAY);
  PX_ASSERT_UINT_EQ(m.changed, 10);
  assert_true(score_num(e, customer(e, 4), "rfm_recency_days") == 5);
  PX_ASSERT_INT_EQ(in_seg(e, "keep_close", customer(e, 10)), 1);
}

typedef struct causes {
  int score_entered, score_left;
  uint32_t seg;
} causes;

static int cause_cb(void *arg, const px_seg_change *c) {
  causes *k = arg;
  if (c->segment == k->seg && c->cause == PX_SEG_CAUSE_SCORE) {
    if (c->entered) k->score_entered++;
    else k->score_left++;
  }
  return 0;
}

static void test_customers_that_stop_qualifying_lose_their_scores(void **state) {
  env *e = E;
  int64_t now = load_customers(e);
  define_traits(e, now);
  px_error err;
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}", now,
                          &err));
  define_segment(e, "keep_close", "score.rfm_cell = \"cannot_lose\"", now);
  refresh(e, now);
  PX_ASSERT_INT_EQ(in_seg(e, "keep_close", customer(e, 9)), 1);
  /* Recency from purchases of the last 5 days: c1..c4 only. */
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase_5d\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}",
                          now, &err));
  px_rfm_summary m = refresh(e, now + HOUR); /* (history is keyed by time: a later refresh) */
  PX_ASSERT_UINT_EQ(m.population, 4);
  PX_ASSERT_UINT_EQ(m.removed, 6);
  for (int i = 1; i <= 10; i++) {
    uint64_t p = customer(e, i);
    PX_ASSERT_INT_EQ(isnan(score_num(e, p, "rfm_r")), i > 4);
    char cell[64];
    score_str(e, p, "rfm_cell", cell, sizeof cell);
    PX_ASSERT_INT_EQ(strcmp(cell, "(none)") == 0, i > 4);
    PX_ASSERT_INT_EQ(in_seg(e, "keep_close", p), i == 4);
  }
  /* Among c1..c4 (recency 1..4, frequency 1..4): c4 buys most but longest ago. */
  char cell[64];
  score_str(e, customer(e, 4), "rfm_cell", cell, sizeof cell);
  PX_ASSERT_STR_EQ(cell, "cannot_lose");
  PX_ASSERT_INT_EQ(in_seg(e, "keep_close", customer(e, 4)), 1);
  /* c9 entered and left because of scores. */
  px_txn *txn;
  px_def seg;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, "keep_close", &seg));
  causes k = {0, 0, seg.id};
  PX_ASSERT_OK(px_segment_history(txn, e->st, customer(e, 9), cause_cb, &k));
  px_store_abort(txn);
  px_def_free(&seg);
  PX_ASSERT_INT_EQ(k.score_entered, 1);
  PX_ASSERT_INT_EQ(k.score_left, 1);
}

static void test_summary_and_schedule(void **state) {
  env *e = E;
  int64_t now = load_customers(e);
  define_traits(e, now);
  px_error err;
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\","
                             "\"refresh_every\":\"90s\"}",
                          now, &err));
  refresh(e, now);
  px_txn *txn;
  int64_t due;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_rfm_next_due(txn, e->st, &due));
  PX_ASSERT_OK(px_rfm_status(txn, e->st, &b));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(due, now + 90000);
  cJSON *j = cJSON_Parse(b.data);
  if (!j) fail_msg("status is not JSON: %s", b.data);
  const cJSON *last = jget(j, "last_refresh"), *cuts = jget(last, "cuts");
  PX_ASSERT_STR_EQ(jstr(jget(j, "definition"), "refresh_every"), "90s");
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(jget(last, "population")), 10);
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(jget(last, "profiles")), 11);
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(cJSON_GetArrayItem(jget(cuts, "recency_days"), 0)), 8);
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(cJSON_GetArrayItem(jget(cuts, "monetary"), 3)), 90);
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(jget(jget(last, "cells"), "cannot_lose")), 3);
  PX_ASSERT_INT_EQ((int)cJSON_GetNumberValue(cJSON_GetArrayItem(jget(jget(last, "scores"), "r"), 0)), 3);
  char at[32];
  px_time_format_iso(now, at);
  PX_ASSERT_STR_EQ(jstr(last, "refreshed_at"), at);
  px_time_format_iso(now + 90000, at);
  PX_ASSERT_STR_EQ(jstr(j, "next_refresh_at"), at);
  cJSON_Delete(j);
  px_buf_free(&b);
  /* A changed definition is due at once; "never" is not scheduled. */
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\","
                             "\"refresh_every\":\"2m\"}",
                          now + 1000, &err));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_rfm_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(due, INT64_MIN);
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase\",\"frequency\":\"orders\",\"monetary\":\"revenue\","
                             "\"refresh_every\":\"never\"}",
                          now + 2000, &err));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_rfm_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(due, INT64_MAX);
  /* Nobody to score: the summary says so, cuts null. */
  PX_ASSERT_OK(define_rfm(e, "{\"recency\":\"last_purchase_5d\",\"frequency\":\"orders\",\"monetary\":\"revenue\"}",
                          now, &err));
  px_rfm_summary m = refresh(e, now + 30 * DAY);
  PX_ASSERT_UINT_EQ(m.population, 0);
  PX_ASSERT_UINT_EQ(m.removed, 10);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_definition_checks, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_refresh_scores_every_customer, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_customers_that_stop_qualifying_lose_their_scores, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_summary_and_schedule, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
