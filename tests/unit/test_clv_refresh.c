/* segment/clv_refresh: the CLV definition, the refresh over stored purchase
 * events (the published CDNOW fit from the events themselves, each
 * customer's scores against the models, model versions, merges, segments
 * reading the scores) and the schedule. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "clv/btyd.h"
#include "clv/input.h"
#include "clv/summary.h"
#include "clv/value.h"
#include "pipeline_env.h"
#include "score/scores.h"
#include "segment/clv_refresh.h"
#include "segment/def.h"
#include "segment/engine.h"
#include "segment/members.h"

#ifndef PX_SHARED_DATA
#define PX_SHARED_DATA "../shared/data"
#endif

#define E ((env *)*state)
#define ASSERT_NEAR(got, want, tol)                                                        \
  do {                                                                                     \
    double g_ = (got), w_ = (want);                                                        \
    if (!(fabs(g_ - w_) <= (tol))) fail_msg("%s: got %.10g, want %.10g", #got, g_, w_);     \
  } while (0)
#define DAY 86400000LL
#define CDNOW_END_MS 875663999000LL /* 1997-09-30T23:59:59Z: the published calibration end */

static px_status define_clv(env *e, const char *json, int64_t now, px_error *err) {
  px_txn *txn;
  px_error_clear(err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_clv_define(txn, e->st, &e->cfg, json, strlen(json), now, NULL, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

static px_clv_summary_out refresh(env *e, int64_t now) {
  px_txn *txn;
  px_clv_summary_out m;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_clv_refresh(txn, e->st, &e->cfg, now, NULL, NULL, &m));
  PX_ASSERT_OK(px_store_commit(txn));
  return m;
}

static double score_num(env *e, uint64_t pid, const char *name) {
  px_txn *txn;
  px_score v;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_status s = px_score_read(txn, e->st, pid, name, &v);
  px_store_abort(txn);
  if (s == PX_NOT_FOUND) return NAN;
  PX_ASSERT_OK(s);
  return v.n;
}

/* The status or model list as parsed JSON. */
static cJSON *status_json(env *e, int models) {
  px_txn *txn;
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(models ? px_clv_models(txn, e->st, &b) : px_clv_status(txn, e->st, &b));
  px_store_abort(txn);
  cJSON *j = cJSON_Parse(b.data);
  if (!j) fail_msg("not JSON: %s", b.data);
  px_buf_free(&b);
  return j;
}

static double jnum(const cJSON *o, const char *path) {
  char p[128];
  snprintf(p, sizeof p, "%s", path);
  const cJSON *c = o;
  for (char *tok = strtok(p, "."); tok; tok = strtok(NULL, ".")) c = cJSON_GetObjectItemCaseSensitive(c, tok);
  if (!cJSON_IsNumber(c)) fail_msg("%s: not a number", path);
  return c->valuedouble;
}

/* Ingests messages in one write transaction (the CDNOW file is 6,919). */
static void ingest_all(env *e, char **msgs, size_t n) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  for (size_t i = 0; i < n; i++) {
    cJSON *item = cJSON_Parse(msgs[i]);
    px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
    px_event ev;
    px_error err;
    px_error_clear(&err);
    if (!item) fail_msg("bad JSON: %s", msgs[i]);
    px_status s = px_pipeline_prepare(&e->cfg, item, &ctx, &ev, &err);
    if (s != PX_OK) fail_msg("prepare %s: %s %s", msgs[i], err.field, err.reason);
    int dup = 0;
    PX_ASSERT_OK(px_pipeline_ingest(txn, e->st, &e->cfg, &ev, &dup, &e->m));
    px_event_free(&ev);
  }
  PX_ASSERT_OK(px_store_commit(txn));
}

/* A purchase by userId user (or anonymousId, for "a-" ids). */
static void purchase(env *e, const char *user, int64_t t, double revenue) {
  char ts[32], msg[256];
  px_time_format_iso(t, ts);
  snprintf(msg, sizeof msg,
           "{\"type\":\"track\",\"%s\":\"%s\",\"event\":\"Order Completed\",\"timestamp\":\"%s\","
           "\"properties\":{\"revenue\":%.2f}}",
           strncmp(user, "a-", 2) ? "userId" : "anonymousId", user, ts, revenue);
  env_ingest(e, msg);
}

static void test_definition(void **state) {
  env *e = E;
  px_error err;
  static const struct {
    const char *json, *field, *reason;
  } bad[] = {
      {"{}", "clv.event", "required"},
      {"{\"event\":\"\"}", "clv.event", "string"},
      {"{\"event\":\"Order Completed\",\"unit\":\"month\"}", "clv.unit", "week"},
      {"{\"event\":\"Order Completed\",\"horizon\":\"12h\"}", "clv.horizon", "days"},
      {"{\"event\":\"Order Completed\",\"horizon\":\"3651d\"}", "clv.horizon", "10 years"},
      {"{\"event\":\"Order Completed\",\"discount_rate\":1.5}", "clv.discount_rate", "0 to 1"},
      {"{\"event\":\"Order Completed\",\"discount_rate\":\"10%\"}", "clv.discount_rate", "0 to 1"},
      {"{\"event\":\"Order Completed\",\"refresh_every\":\"1y\"}", "clv.refresh_every", "unit"},
      {"{\"event\":\"Order Completed\",\"revenue\":7}", "clv.revenue", "string"},
      {"{\"event\":\"Order Completed\",\"extra\":1}", "clv", "unknown member \"extra\""},
      {"[]", "clv", "must be an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    PX_ASSERT_STATUS(define_clv(e, bad[i].json, e->clock, &err), PX_INVALID);
    PX_ASSERT_STR_EQ(err.field, bad[i].field);
    PX_ASSERT_STR_CONTAINS(err.reason, bad[i].reason);
  }
  /* Not configured: no schedule, and a refresh says so. */
  px_txn *txn;
  int64_t due = 0;
  px_clv_summary_out m;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_clv_next_due(txn, e->st, &due));
  PX_ASSERT_INT_EQ(due, INT64_MAX);
  PX_ASSERT_STATUS(px_clv_refresh(txn, e->st, &e->cfg, e->clock, NULL, NULL, &m), PX_NOT_FOUND);
  px_store_abort(txn);
  /* Defaults, and the stored form. */
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\"}", e->clock, &err));
  px_clv_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_clv_def_get(txn, e->st, &d, NULL));
  PX_ASSERT_OK(px_clv_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_STR_EQ(d.revenue, "revenue");
  ASSERT_NEAR(d.unit_days, 7, 0);
  PX_ASSERT_INT_EQ(d.horizon_ms, 365 * DAY);
  ASSERT_NEAR(d.discount, 0.1, 0);
  PX_ASSERT_INT_EQ(d.every_ms, 24 * 3600000LL);
  PX_ASSERT_INT_EQ(due, INT64_MIN); /* never refreshed: at once */
  cJSON *j = status_json(e, 0);
  char *def = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "definition"));
  PX_ASSERT_STR_EQ(def, "{\"event\":\"Order Completed\",\"revenue\":\"revenue\",\"unit\":\"week\",\"horizon\":\"365d\","
                        "\"discount_rate\":0.1,\"refresh_every\":\"1d\"}");
  PX_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "model")));
  cJSON_free(def);
  cJSON_Delete(j);
}

/* No repeat purchase anywhere: nothing to fit, and the summary says so;
 * then the schedule waits refresh_every. */
static void test_nothing_to_fit(void **state) {
  env *e = E;
  px_error err;
  int64_t now = e->clock + 30 * DAY;
  purchase(e, "a", now - 10 * DAY, 20);
  purchase(e, "b", now - 5 * DAY, 30);
  purchase(e, "b", now - 5 * DAY + 3600000, 5); /* the same day: one purchase */
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\",\"refresh_every\":\"6h\"}", now, &err));
  px_clv_summary_out m = refresh(e, now);
  PX_ASSERT_INT_EQ(m.fitted, 0);
  PX_ASSERT_INT_EQ(m.fit_status, PX_INVALID);
  PX_ASSERT_UINT_EQ(m.customers, 2);
  PX_ASSERT_UINT_EQ(m.purchases, 3);
  PX_ASSERT_UINT_EQ(m.repeat_customers, 0);
  PX_ASSERT_TRUE(isnan(score_num(e, env_pid(e, "user_id", "a"), "p_alive")));
  cJSON *j = status_json(e, 0);
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(j, "last_refresh");
  PX_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(last, "fitted")));
  PX_ASSERT_STR_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "reason")), "repeat purchase");
  PX_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "model")));
  cJSON_Delete(j);
  px_txn *txn;
  int64_t due;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_clv_next_due(txn, e->st, &due));
  px_store_abort(txn);
  PX_ASSERT_INT_EQ(due, now + 6 * 3600000LL);
  /* The purchase days it reads, deleted by hand: the refresh says so (and
   * applying the definition again brings them back). */
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_ctrait_delete(txn, e->st, &e->cfg, PX_CLV_TRAIT, now));
  PX_ASSERT_STATUS(px_clv_refresh(txn, e->st, &e->cfg, now, NULL, NULL, &m), PX_INVALID);
  px_store_abort(txn);
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\",\"refresh_every\":\"6h\"}", now, &err));
  m = refresh(e, now);
  PX_ASSERT_UINT_EQ(m.purchases, 3);
}

/* The CDNOW purchases as events; the line's sample customer id ("0001") is
 * the user id, the date noon UTC, the dollar value the revenue. */
static char **cdnow_events(size_t *n) {
  const char *dir = getenv("PX_SHARED_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/cdnow/CDNOW_sample.txt", dir && *dir ? dir : PX_SHARED_DATA);
  FILE *f = fopen(path, "r");
  if (!f) {
    print_message("no %s: skipped\n", path);
    skip();
  }
  char **msgs = calloc(8000, sizeof *msgs), line[256];
  *n = 0;
  char orig[16], id[16];
  long date, cds;
  double value;
  while (fgets(line, sizeof line, f) && *n < 8000) {
    if (sscanf(line, "%15s %15s %ld %ld %lf", orig, id, &date, &cds, &value) != 5) fail_msg("bad line %s", line);
    msgs[*n] = malloc(256);
    snprintf(msgs[*n], 256,
             "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"Order Completed\",\"timestamp\":"
             "\"%04ld-%02ld-%02ldT12:00:00Z\",\"properties\":{\"revenue\":%.2f,\"cds\":%ld}}",
             id, date / 10000, date / 100 % 100, date % 100, value, cds);
    (*n)++;
  }
  fclose(f);
  PX_ASSERT_UINT_EQ(*n, 6919);
  return msgs;
}

/* The same customers summarized straight from the file (clv/input.h), by
 * sample id: what every profile's scores must come from. */
static px_clv_summary *cdnow_summary(const px_btyd_customer **c, const char *const **ids, size_t *n) {
  const char *dir = getenv("PX_SHARED_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/cdnow/CDNOW_sample.txt", dir && *dir ? dir : PX_SHARED_DATA);
  FILE *f = fopen(path, "rb");
  PX_ASSERT_TRUE(f != NULL);
  static char data[1 << 20];
  size_t len = fread(data, 1, sizeof data, f);
  fclose(f);
  px_clv_summary *s = px_clv_summary_new(CDNOW_END_MS / DAY, 7);
  px_clv_input in = {.customer = "2", .date = "3", .amount = "5", .whitespace = 1, .no_header = 1};
  PX_ASSERT_OK(px_clv_read(s, &in, data, len, NULL, NULL));
  PX_ASSERT_OK(px_clv_summary_build(s, c, ids, n));
  return s;
}

static void test_cdnow_from_events(void **state) {
  env *e = E;
  size_t n;
  char **msgs = cdnow_events(&n);
  ingest_all(e, msgs, n);
  for (size_t i = 0; i < n; i++) free(msgs[i]);
  free(msgs);
  px_error err;
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\",\"unit\":\"week\",\"horizon\":\"52w\",\"discount_rate\":0.1}",
                          CDNOW_END_MS, &err));
  /* "Now" is the calibration end: later purchases are in the future. */
  px_clv_summary_out m = refresh(e, CDNOW_END_MS);
  PX_ASSERT_INT_EQ(m.fitted, 1);
  PX_ASSERT_UINT_EQ(m.model, 1);
  PX_ASSERT_UINT_EQ(m.profiles, 2357);
  PX_ASSERT_UINT_EQ(m.customers, 2357);
  PX_ASSERT_UINT_EQ(m.repeat_customers, 946);
  PX_ASSERT_UINT_EQ(m.no_amount, 0);
  PX_ASSERT_UINT_EQ(m.changed, 2357);

  /* The published fit, to its printed precision (the summary file it was
   * published from rounds t_x and T to two decimals, which moves the
   * fourth decimal of alpha and b: docs/internals/clv.md), and exactly the
   * fit of the same purchases read straight from the file. */
  const px_btyd_customer *c;
  const char *const *ids;
  size_t nc;
  px_clv_summary *s = cdnow_summary(&c, &ids, &nc);
  PX_ASSERT_UINT_EQ(nc, 2357);
  px_bgnbd bg;
  px_gamma_gamma gg;
  PX_ASSERT_OK(px_bgnbd_fit(c, nc, &bg));
  PX_ASSERT_OK(px_gamma_gamma_fit(c, nc, &gg));
  cJSON *j = status_json(e, 0);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
  static const struct {
    const char *path;
    double published, tol;
  } pub[] = {{"bgnbd.r", 0.243, 5e-4},      {"bgnbd.alpha", 4.414, 5e-4},      {"bgnbd.a", 0.793, 5e-4},
             {"bgnbd.b", 2.426, 5e-4},      {"bgnbd.loglik", -9582.4, 0.05},   {"gamma_gamma.p", 6.25, 0.005},
             {"gamma_gamma.q", 3.74, 0.005}, {"gamma_gamma.gamma", 15.44, 0.005}};
  const double exact[8] = {bg.r, bg.alpha, bg.a, bg.b, bg.loglik, gg.p, gg.q, gg.gamma};
  for (size_t i = 0; i < 8; i++) {
    ASSERT_NEAR(jnum(model, pub[i].path), pub[i].published, pub[i].tol);
    ASSERT_NEAR(jnum(model, pub[i].path), exact[i], 1e-9 * fabs(exact[i]));
  }
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "calibration_end")), "1997-09-30");
  cJSON_Delete(j);

  /* Every customer's scores are the models' numbers for that customer's
   * summary of the file. */
  double total = 0;
  for (size_t i = 0; i < nc; i++) {
    uint64_t pid = env_pid(e, "user_id", ids[i]);
    PX_ASSERT_INT_NE(pid, 0);
    const px_btyd_customer *k = &c[i];
    double want[4] = {px_bgnbd_p_alive(&bg, k->x, k->t_x, k->T), px_bgnbd_expected(&bg, k->x, k->t_x, k->T, 90.0 / 7),
                      px_gamma_gamma_expected_spend(&gg, k->x, k->m),
                      px_clv_value(&bg, &gg, k->x, k->t_x, k->T, k->m, 364, 7, 0.1)};
    static const char *const names[4] = {"p_alive", "expected_purchases_90d", "expected_spend", "clv"};
    for (int q = 0; q < 4; q++) {
      double got = score_num(e, pid, names[q]);
      if (!(fabs(got - want[q]) <= 1e-9 * fmax(1, fabs(want[q]))))
        fail_msg("customer %s: %s %.12g, want %.12g", ids[i], names[q], got, want[q]);
    }
    ASSERT_NEAR(score_num(e, pid, "clv_model"), 1, 0);
    total += want[3];
  }
  px_clv_summary_free(s);
  j = status_json(e, 0);
  ASSERT_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(j, "last_refresh"), "totals.clv"), total, 1e-6 * total);
  cJSON_Delete(j);

  /* The published conditional spend of the file's first customers (the
   * summary file's rounded zbar moves the last digit: within a cent). */
  static const double spend[3] = {24.65, 18.91, 35.17};
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "%04d", i + 1);
    ASSERT_NEAR(score_num(e, env_pid(e, "user_id", id), "expected_spend"), spend[i], 0.011);
  }
}

/* n customers drawn from the BG/NBD story (rates Gamma(0.6, 12 days),
 * drop-out Beta(0.8, 2.5), first purchases over the first 150 of the last
 * 365 days, amounts 10-60) as purchase messages into msgs. */
static size_t simulate(int64_t now, int n, char **msgs, size_t cap) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 42);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    double lambda = gsl_ran_gamma(rng, 0.6, 1.0 / 12), p = gsl_ran_beta(rng, 0.8, 2.5);
    double t = 365 - gsl_rng_uniform(rng) * 150; /* days before now */
    for (;;) {
      char ts[32];
      px_time_format_iso(now - (int64_t)(t * DAY), ts);
      if (k == cap) fail_msg("more than %zu purchases", cap);
      msgs[k] = malloc(256);
      snprintf(msgs[k++], 256,
               "{\"type\":\"track\",\"userId\":\"u%d\",\"event\":\"Order Completed\",\"timestamp\":\"%s\","
               "\"properties\":{\"revenue\":%.2f}}",
               i, ts, 10 + 50 * gsl_rng_uniform(rng));
      if (gsl_rng_uniform(rng) < p) break; /* dropped out after this purchase */
      t -= gsl_ran_exponential(rng, 1 / lambda);
      if (t < 0) break;
    }
  }
  gsl_rng_free(rng);
  return k;
}

/* Versions, merges, and segments that read the scores. */
static void test_versions_merges_segments(void **state) {
  env *e = E;
  px_error err;
  int64_t now = e->clock + 400 * DAY;
  static char *msgs[20000];
  size_t n = simulate(now, 400, msgs, sizeof msgs / sizeof *msgs);
  ingest_all(e, msgs, n);
  for (size_t i = 0; i < n; i++) free(msgs[i]);
  for (int p = 0; p < 8; p++) purchase(e, "late", now - (360 - p * 4) * DAY, 25); /* eight, then nothing */
  purchase(e, "a-anon", now - 20 * DAY, 50); /* turns out to be u1 */
  purchase(e, "a-anon", now - 10 * DAY, 60);
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\",\"unit\":\"day\"}", now, &err));
  px_txn *txn;
  px_rule_error rerr = {0};
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_define(txn, e->st, &e->cfg, "slipping", "score.p_alive < 0.5", now, NULL, NULL, &rerr));
  PX_ASSERT_OK(px_store_commit(txn));

  px_clv_summary_out m = refresh(e, now);
  PX_ASSERT_INT_EQ(m.fitted, 1);
  PX_ASSERT_UINT_EQ(m.customers, 402);
  uint64_t late = env_pid(e, "user_id", "late"), u1 = env_pid(e, "user_id", "u1"), anon = env_pid(e, "anonymous_id", "a-anon");
  double p_late = score_num(e, late, "p_alive");
  PX_ASSERT_TRUE(p_late < 0.5);
  /* Segment membership agrees with every customer's score. */
  px_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, "slipping", &d));
  px_store_abort(txn);
  const char *users[] = {"late", "u0", "u3", "u17", "u39"};
  for (size_t i = 0; i < sizeof users / sizeof *users; i++) {
    uint64_t pid = env_pid(e, "user_id", users[i]);
    int in = 0;
    PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
    PX_ASSERT_OK(px_members_has(txn, e->st, d.id, pid, &in));
    px_store_abort(txn);
    PX_ASSERT_INT_EQ(in, score_num(e, pid, "p_alive") < 0.5);
  }
  px_def_free(&d);

  /* anon turns out to be u1: the merged-away profile loses its scores and
   * the survivor is scored on both customers' purchases. */
  double before = score_num(e, u1, "clv");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a-anon\"}");
  m = refresh(e, now + DAY);
  PX_ASSERT_UINT_EQ(m.model, 2);
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "a-anon"), env_pid(e, "user_id", "u1"));
  uint64_t survivor = env_pid(e, "user_id", "u1"), loser = survivor == u1 ? anon : u1;
  PX_ASSERT_UINT_EQ(m.customers, 401);
  PX_ASSERT_UINT_EQ(m.removed, 1);
  PX_ASSERT_TRUE(isnan(score_num(e, loser, "clv")));
  PX_ASSERT_TRUE(isnan(score_num(e, loser, "clv_model")));
  ASSERT_NEAR(score_num(e, survivor, "clv_model"), 2, 0);
  PX_ASSERT_TRUE(score_num(e, survivor, "clv") > before); /* two recent purchases more */

  /* Both models are kept, newest first. */
  cJSON *j = status_json(e, 1);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "models");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(list), 2);
  ASSERT_NEAR(jnum(cJSON_GetArrayItem(list, 0), "version"), 2, 0);
  ASSERT_NEAR(jnum(cJSON_GetArrayItem(list, 1), "version"), 1, 0);
  ASSERT_NEAR(jnum(cJSON_GetArrayItem(list, 1), "customers"), 402, 0);
  cJSON_Delete(j);
}

/* Prepared, then a merge, then applied: the merged-away profile gets no
 * scores and no segment (it had left them all at the merge), and segments
 * are re-evaluated at the time of the writes. */
static void test_merge_between_prepare_and_apply(void **state) {
  env *e = E;
  px_error err;
  int64_t now = e->clock + 400 * DAY;
  static char *msgs[20000];
  size_t n = simulate(now, 400, msgs, sizeof msgs / sizeof *msgs);
  ingest_all(e, msgs, n);
  for (size_t i = 0; i < n; i++) free(msgs[i]);
  purchase(e, "a-anon", now - 20 * DAY, 50);
  purchase(e, "a-anon", now - 10 * DAY, 60);
  PX_ASSERT_OK(define_clv(e, "{\"event\":\"Order Completed\",\"unit\":\"day\"}", now, &err));
  px_txn *txn;
  px_rule_error rerr = {0};
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_define(txn, e->st, &e->cfg, "scored", "score.clv_model >= 1", now, NULL, NULL, &rerr));
  PX_ASSERT_OK(px_store_commit(txn));
  uint64_t anon = env_pid(e, "anonymous_id", "a-anon"), u1 = env_pid(e, "user_id", "u1");
  px_clv_run *run;
  px_clv_summary_out m;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_clv_prepare(txn, e->st, now, NULL, NULL, &run, &m));
  px_store_abort(txn);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a-anon\"}");
  uint64_t survivor = env_pid(e, "user_id", "u1"), loser = survivor == u1 ? anon : u1;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_clv_apply(txn, e->st, &e->cfg, run, e->clock, &m));
  PX_ASSERT_OK(px_store_commit(txn));
  px_clv_run_free(run);
  PX_ASSERT_TRUE(isnan(score_num(e, loser, "clv_model")));
  px_def d;
  int in = 1;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_def_get(txn, e->st, PX_DEF_SEGMENT, "scored", &d));
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, loser, &in));
  PX_ASSERT_INT_EQ(in, 0);
  PX_ASSERT_OK(px_members_has(txn, e->st, d.id, survivor, &in));
  px_store_abort(txn);
  px_def_free(&d);
  PX_ASSERT_INT_EQ(in, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_definition, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_nothing_to_fit, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_cdnow_from_events, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_versions_merges_segments, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merge_between_prepare_and_apply, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
