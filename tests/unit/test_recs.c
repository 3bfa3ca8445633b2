/* recs: the platform's recommendations on a real store fed through the
 * pipeline: the definition and its errors, similarities on hand-made
 * baskets (computed by hand), owned and viewed items, stock read at query
 * time, merges, the segment fallback, and incremental ingestion plus a
 * retrain giving exactly the model of one load of everything. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "pipeline_env.h"
#include "recs/recs.h"
#include "segment/engine.h"

#define E ((env *)*state)

/* Purchases in Order Completed's products, views of one product, shrinkage 0
 * so that similarities are plain cosines. */
static const char DEF[] =
    "{\"interactions\":[{\"event\":\"Order Completed\",\"item\":\"products[].product_id\"},"
    "{\"event\":\"Product Viewed\",\"item\":\"product_id\",\"kind\":\"view\",\"weight\":0.5}],"
    "\"shrinkage\":0,\"locality\":1,\"refresh_every\":\"never\"}";

static px_status define(env *e, const char *json, px_error *err) {
  px_txn *txn;
  px_error_clear(err);
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  px_status s = px_recs_define(txn, e->st, &e->cfg, json, strlen(json), e->clock, NULL, NULL, err);
  if (s == PX_OK) return px_store_commit(txn);
  px_store_abort(txn);
  return s;
}

static void order(env *e, const char *user, const char *items, const char *ts) {
  char json[1024], products[512] = "";
  size_t w = 0;
  for (const char *p = items; *p; p++) /* "A,B" -> [{"product_id":"A"},{"product_id":"B"}] */
    w += (size_t)snprintf(products + w, sizeof products - w, "%s{\"product_id\":\"%c\"}", p == items ? "" : ",", *p),
        p += p[1] == ',';
  snprintf(json, sizeof json,
           "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"Order Completed\",\"timestamp\":\"%s\","
           "\"properties\":{\"products\":[%s]}}",
           user, ts, products);
  env_ingest(e, json);
}

static void view(env *e, const char *user, const char *item, const char *ts) {
  char json[512];
  snprintf(json, sizeof json,
           "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"Product Viewed\",\"timestamp\":\"%s\","
           "\"properties\":{\"product_id\":\"%s\"}}",
           user, ts, item);
  env_ingest(e, json);
}

static void put_products(env *e, const char *const *json, size_t n) {
  px_txn *txn;
  px_error err;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  for (size_t i = 0; i < n; i++) {
    px_product p;
    px_product_init(&p);
    PX_ASSERT_OK(px_product_parse(json[i], strlen(json[i]), NULL, 0, &p, &err));
    PX_ASSERT_OK(px_catalog_write(txn, e->st, &p, e->clock, NULL));
    px_product_free(&p);
  }
  PX_ASSERT_OK(px_store_commit(txn));
}

static px_recs_model *train(env *e, int64_t now) {
  px_recs_model *m = NULL;
  PX_ASSERT_OK(px_recs_train(e->st, now, &m));
  return m;
}

/* The JSON of a query (item: similar; else the user's recommendations). */
static cJSON *ask(env *e, const px_recs_model *m, const char *user, const char *item, size_t n, char **text) {
  px_txn *txn;
  px_reco_query *q;
  px_buf out;
  px_buf_init(&out, 0);
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_recs_query_new(m, &q));
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_recs_opts o = {.n = n, .now_ms = e->clock};
  if (item) PX_ASSERT_OK(px_recs_similar(m, q, txn, e->st, item, strlen(item), &o, &out, &err));
  else PX_ASSERT_OK(px_recs_for_profile(m, q, txn, e->st, env_pid(e, "user_id", user), &o, &out, &err));
  px_store_abort(txn);
  px_reco_query_free(q);
  cJSON *j = cJSON_Parse(out.data);
  PX_ASSERT_TRUE(j != NULL);
  if (text) *text = strdup(out.data);
  px_buf_free(&out);
  return j;
}

static const cJSON *nth(const cJSON *j, int i) { return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), i); }
static const char *id_of(const cJSON *it) { return cJSON_GetStringValue(cJSON_GetObjectItem(it, "id")); }
static double score_of(const cJSON *it) { return cJSON_GetNumberValue(cJSON_GetObjectItem(it, "score")); }
static int count_of(const cJSON *j) { return cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")); }

static void test_definition_errors(void **state) {
  env *e = E;
  px_error err;
  static const struct {
    const char *json, *field;
  } bad[] = {
      {"{}", "recommendations.interactions"},
      {"{\"interactions\":[]}", "recommendations.interactions"},
      {"{\"interactions\":[{\"item\":\"sku\"}]}", "recommendations.interactions[0].event"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\",\"kind\":\"wish\"}]}",
       "recommendations.interactions[0].kind"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\",\"weight\":0}]}", "recommendations.interactions[0].weight"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\",\"where\":\"price >\"}]}",
       "recommendations.interactions[0].where"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"a[][]\"}]}", "recommendations.interactions[0].item"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\"}],\"locality\":0}", "recommendations.locality"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\"}],\"half_life\":\"soon\"}", "recommendations.half_life"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\"}],\"exclude\":\"name ==\"}", "recommendations.exclude"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\"}],\"fallback_segments\":[\"a b\"]}",
       "recommendations.fallback_segments[0]"},
      {"{\"interactions\":[{\"event\":\"X\",\"item\":\"sku\"}],\"colour\":1}", "recommendations"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    px_status s = define(e, bad[i].json, &err);
    if (s != PX_INVALID || strcmp(err.field, bad[i].field) != 0)
      fail_msg("%s: got %s %s (%s), want %s", bad[i].json, px_status_str(s), err.field, err.reason, bad[i].field);
  }
  /* Nothing was stored. */
  px_txn *txn;
  px_recs_def d;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_STATUS(px_recs_def_get(txn, e->st, &d, NULL), PX_NOT_FOUND);
  px_store_abort(txn);
  px_recs_model *m = NULL;
  PX_ASSERT_STATUS(px_recs_train(e->st, e->clock, &m), PX_NOT_FOUND);
}

static void test_definition_prints_back(void **state) {
  env *e = E;
  px_error err;
  PX_ASSERT_OK(define(e, "{\"interactions\":[{\"event\":\"Order Line\",\"item\":\"stock_code\"}],"
                         "\"repurchase_after\":\"30d\",\"max_per_category\":2,\"exclude\":\"price < 1\","
                         "\"fallback_segments\":[\"uk\"],\"half_life\":\"90d\"}",
                     &err));
  px_txn *txn;
  px_recs_def d, d2;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_recs_def_get(txn, e->st, &d, NULL));
  px_store_abort(txn);
  px_buf a, b;
  px_buf_init(&a, 0);
  px_buf_init(&b, 0);
  PX_ASSERT_OK(px_recs_def_print(&d, &a));
  PX_ASSERT_STR_EQ(a.data,
                   "{\"interactions\":[{\"event\":\"Order Line\",\"item\":\"stock_code\",\"kind\":\"purchase\","
                   "\"weight\":1}],\"neighbours\":50,\"shrinkage\":5,\"locality\":3,\"half_life\":\"90d\","
                   "\"recent_items\":100,\"repurchase_after\":\"30d\",\"max_per_category\":2,\"catalog_only\":false,"
                   "\"exclude\":\"price < 1\",\"fallback_segments\":[\"uk\"],\"refresh_every\":\"1m\"}");
  cJSON *j = cJSON_Parse(a.data);
  PX_ASSERT_OK(px_recs_def_parse(j, &d2, NULL));
  PX_ASSERT_OK(px_recs_def_print(&d2, &b));
  PX_ASSERT_STR_EQ(a.data, b.data);
  cJSON_Delete(j);
  px_recs_def_free(&d);
  px_recs_def_free(&d2);
  px_buf_free(&a);
  px_buf_free(&b);
}

/* u1 {A,B}, u2 {A,B,C}, u3 {A,C}, u4 {B}: n_A = n_B = 3, n_C = 2,
 * co(A,B) = 2, co(A,C) = 2, co(B,C) = 1, so sim(A,C) = 2/sqrt(6),
 * sim(A,B) = 2/3, sim(B,C) = 1/sqrt(6). */
static void baskets(env *e) {
  order(e, "u1", "A,B", "2024-01-01T10:00:00Z");
  order(e, "u2", "A,B", "2024-01-02T10:00:00Z");
  order(e, "u2", "C", "2024-01-03T10:00:00Z");
  order(e, "u3", "A,C", "2024-01-04T10:00:00Z");
  order(e, "u4", "B", "2024-01-05T10:00:00Z");
}

static void test_similar_by_hand(void **state) {
  env *e = E;
  px_error err;
  PX_ASSERT_OK(define(e, DEF, &err));
  baskets(e);
  px_recs_model *m = train(e, e->clock);
  const px_recs_stats *s = px_recs_model_stats(m);
  PX_ASSERT_UINT_EQ(s->customers, 4);
  PX_ASSERT_UINT_EQ(s->items, 3);
  PX_ASSERT_UINT_EQ(s->pairs, 8);
  cJSON *j = ask(e, m, NULL, "A", 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 2);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "C");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 0)) - 2 / sqrt(6)) < 1e-6);
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "B");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 1)) - 2.0 / 3) < 1e-6);
  cJSON_Delete(j);
  /* u4 has B: C scores sim(B,C) = 1/sqrt(6) (from B), A 2/3; B itself is owned. */
  j = ask(e, m, "u4", NULL, 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 2);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 0)) - 2.0 / 3) < 1e-6);
  const cJSON *reasons = cJSON_GetObjectItem(nth(j, 0), "reasons");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(reasons), 1);
  PX_ASSERT_STR_EQ(id_of(cJSON_GetArrayItem(reasons, 0)), "B");
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "C");
  PX_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(j, "fallback")));
  cJSON_Delete(j);
  /* u2 has everything: nothing to recommend, nothing owned comes back. */
  j = ask(e, m, "u2", NULL, 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 0);
  cJSON_Delete(j);
  px_recs_model_free(m);
}

/* A viewed item is scored from (weight 0.5) and may be recommended; a
 * bought one is not. Stock is read at query time. */
static void test_views_owned_and_stock(void **state) {
  env *e = E;
  px_error err;
  PX_ASSERT_OK(define(e, DEF, &err));
  baskets(e);
  view(e, "u5", "C", "2024-01-06T10:00:00Z");
  order(e, "u5", "B", "2024-01-07T10:00:00Z");
  px_recs_model *m = train(e, e->clock);
  /* u5 (B bought, C viewed: weight 0.5) changes the model: n_B = 4, n_C = 2 + 0.5^2,
   * co(B,C) = 1 + 0.5. u5 gets A = 1 sim(B,A) + 0.5 sim(C,A) and C = 1 sim(B,C): viewed, not owned. */
  cJSON *j = ask(e, m, "u5", NULL, 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 2);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 0)) - (2 / sqrt(3 * 4) + 0.5 * 2 / sqrt(3 * 2.25))) < 1e-6);
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "C");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 1)) - 1.5 / sqrt(4 * 2.25)) < 1e-6);
  cJSON_Delete(j);
  /* A goes out of stock: gone from the next answer, without retraining. */
  put_products(e, (const char *[]){"{\"id\":\"A\",\"name\":\"Apple\",\"stock\":\"out_of_stock\"}"}, 1);
  j = ask(e, m, "u5", NULL, 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 1);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "C");
  cJSON_Delete(j);
  j = ask(e, m, NULL, "B", 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 1);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "C");
  cJSON_Delete(j);
  /* Back in stock: back, with the product's catalog record. */
  put_products(e, (const char *[]){"{\"id\":\"A\",\"name\":\"Apple\",\"quantity\":3}"}, 1);
  j = ask(e, m, "u5", NULL, 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 2);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(nth(j, 0), "product"), "name")),
                   "Apple");
  cJSON_Delete(j);
  px_recs_model_free(m);
}

/* An owned item comes back once its last purchase is older than the
 * repurchase window, as of the query's time. */
static void test_repurchase_window(void **state) {
  env *e = E;
  px_error err;
  char def[512];
  snprintf(def, sizeof def, "%.*s,\"repurchase_after\":\"7d\"}", (int)strlen(DEF) - 1, DEF);
  PX_ASSERT_OK(define(e, def, &err));
  baskets(e); /* u4 bought B on 2024-01-05T10:00:00Z */
  px_recs_model *m = train(e, e->clock);
  int64_t bought = 1704448800000LL;
  static const struct {
    int64_t at;
    int back;
  } cases[] = {{7 * 86400000LL, 0}, {7 * 86400000LL + 1, 1}};
  for (int pass = 0; pass < 2; pass++) {
    for (int k = 0; k < 2; k++) {
      e->clock = bought + cases[k].at; /* ask() queries at e->clock */
      cJSON *j = ask(e, m, "u4", NULL, 10, NULL);
      int found = 0;
      for (int i = 0; i < count_of(j); i++) found |= strcmp(id_of(nth(j, i)), "B") == 0;
      PX_ASSERT_INT_EQ(found, cases[k].back);
      cJSON_Delete(j);
    }
    /* A later view of B does not restart the window: it counts from the purchase. */
    view(e, "u4", "B", "2024-01-11T10:00:00Z");
    px_recs_model_free(m);
    m = train(e, e->clock);
  }
  px_recs_model_free(m);
}

/* Definitions applied after the events (backfilled) and events arriving in
 * two parts with a training between give exactly the model of one load. */
static void test_incremental_equals_full(void **state) {
  env *e = E, *full = NULL;
  px_error err;
  /* This store: the definition first, events in two parts. */
  PX_ASSERT_OK(define(e, DEF, &err));
  order(e, "u1", "A,B", "2024-01-01T10:00:00Z");
  order(e, "u2", "A,B", "2024-01-02T10:00:00Z");
  view(e, "u3", "D", "2024-01-02T11:00:00Z");
  px_recs_model *first = train(e, e->clock);
  order(e, "u2", "C", "2024-01-03T10:00:00Z");
  order(e, "u3", "A,C,D", "2024-01-04T10:00:00Z");
  order(e, "u4", "B,D", "2024-01-05T10:00:00Z");
  view(e, "u1", "C", "2024-01-06T10:00:00Z");
  /* Another store: every event, then the definition (backfilled). */
  PX_ASSERT_INT_EQ(env_setup((void **)&full), 0);
  full->clock = e->clock;
  order(full, "u1", "A,B", "2024-01-01T10:00:00Z");
  order(full, "u2", "A,B", "2024-01-02T10:00:00Z");
  view(full, "u3", "D", "2024-01-02T11:00:00Z");
  order(full, "u2", "C", "2024-01-03T10:00:00Z");
  order(full, "u3", "A,C,D", "2024-01-04T10:00:00Z");
  order(full, "u4", "B,D", "2024-01-05T10:00:00Z");
  view(full, "u1", "C", "2024-01-06T10:00:00Z");
  PX_ASSERT_OK(define(full, DEF, &err));
  int64_t now = e->clock + 1000;
  full->clock = e->clock;
  px_recs_model *m = train(e, now), *f = train(full, now);
  PX_ASSERT_UINT_EQ(px_recs_model_stats(first)->pairs, 5);
  PX_ASSERT_UINT_EQ(px_recs_model_stats(m)->pairs, px_recs_model_stats(f)->pairs);
  PX_ASSERT_UINT_EQ(px_recs_model_stats(m)->neighbours, px_recs_model_stats(f)->neighbours);
  static const char *const items[] = {"A", "B", "C", "D"}, *const users[] = {"u1", "u2", "u3", "u4"};
  for (int i = 0; i < 4; i++) {
    char *a, *b;
    cJSON_Delete(ask(e, m, NULL, items[i], 10, &a));
    cJSON_Delete(ask(full, f, NULL, items[i], 10, &b));
    PX_ASSERT_STR_EQ(a, b);
    free(a), free(b);
    cJSON_Delete(ask(e, m, users[i], NULL, 10, &a));
    cJSON_Delete(ask(full, f, users[i], NULL, 10, &b));
    PX_ASSERT_STR_EQ(a, b);
    free(a), free(b);
  }
  px_recs_model_free(first);
  px_recs_model_free(m);
  px_recs_model_free(f);
  env_teardown((void **)&full);
}

/* An anonymous visitor's views follow them into the profile they merge into. */
static void test_merge_keeps_items(void **state) {
  env *e = E;
  px_error err;
  PX_ASSERT_OK(define(e, DEF, &err));
  baskets(e);
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"anon9\",\"event\":\"Product Viewed\","
                "\"timestamp\":\"2024-01-08T10:00:00Z\",\"properties\":{\"product_id\":\"B\"}}");
  order(e, "u9", "C", "2024-01-08T11:00:00Z");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u9\",\"anonymousId\":\"anon9\"}");
  px_recs_model *m = train(e, e->clock);
  /* u9 holds both: C bought, B viewed (0.5), so n_B = 3 + 0.25, n_C = 3, co(B,C) = 1 + 0.5.
   * A = 1 sim(C,A) + 0.5 sim(B,A); B = 1 sim(C,B) may come back (viewed only). */
  cJSON *j = ask(e, m, "u9", NULL, 10, NULL);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 0)) - (2 / sqrt(3 * 3) + 0.5 * 2 / sqrt(3 * 3.25))) < 1e-6);
  PX_ASSERT_INT_EQ(count_of(j), 2);
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "B");
  PX_ASSERT_TRUE(fabs(score_of(nth(j, 1)) - 1.5 / sqrt(3.25 * 3)) < 1e-6);
  /* The anonymous profile was merged: five customers, not six. */
  PX_ASSERT_UINT_EQ(px_recs_model_stats(m)->customers, 5);
  cJSON_Delete(j);
  px_recs_model_free(m);
}

/* A customer with nothing gets the popularity of their fallback segment,
 * or overall popularity outside it. */
static void test_segment_fallback(void **state) {
  env *e = E;
  px_error err;
  baskets(e);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"club\":\"gold\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u3\",\"traits\":{\"club\":\"gold\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"new\",\"traits\":{\"club\":\"gold\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"other\",\"traits\":{\"club\":\"none\"}}");
  px_txn *txn;
  px_rule_error re;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_segment_define(txn, e->st, &e->cfg, "gold", "club = \"gold\"", e->clock, NULL, NULL, &re));
  PX_ASSERT_OK(px_store_commit(txn));
  char def[512];
  snprintf(def, sizeof def, "%.*s,\"fallback_segments\":[\"gold\"]}", (int)strlen(DEF) - 1, DEF);
  PX_ASSERT_OK(define(e, def, &err));
  px_recs_model *m = train(e, e->clock);
  /* gold members u1 {A,B} and u3 {A,C}: A (2), then B and C (1 each: lower index first, B). */
  cJSON *j = ask(e, m, "new", NULL, 3, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 3);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "B");
  PX_ASSERT_STR_EQ(id_of(nth(j, 2)), "C");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(nth(j, 0), "source")), "popular");
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "fallback"), "segment")), "gold");
  cJSON_Delete(j);
  /* Outside it: overall popularity, A and B 3 users each (A first), then C. */
  j = ask(e, m, "other", NULL, 3, NULL);
  PX_ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "fallback")), "overall");
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "A");
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "B");
  PX_ASSERT_STR_EQ(id_of(nth(j, 2)), "C");
  cJSON_Delete(j);
  px_recs_model_free(m);
}

/* An exclude rule over the catalog, and the category cap. */
static void test_exclude_rule_and_categories(void **state) {
  env *e = E;
  px_error err;
  baskets(e);
  order(e, "u6", "B,D", "2024-01-09T10:00:00Z");
  order(e, "u7", "B,D", "2024-01-09T11:00:00Z");
  static const char *const products[] = {
      "{\"id\":\"A\",\"category\":[\"Fruit\"],\"price\":2}", "{\"id\":\"B\",\"category\":[\"Fruit\"],\"price\":3}",
      "{\"id\":\"C\",\"category\":[\"Veg\"],\"price\":0.5}", "{\"id\":\"D\",\"category\":[\"Fruit\"],\"price\":1}"};
  put_products(e, products, 4);
  char def[512];
  snprintf(def, sizeof def, "%.*s,\"exclude\":\"price < 1\"}", (int)strlen(DEF) - 1, DEF);
  PX_ASSERT_OK(define(e, def, &err));
  px_recs_model *m = train(e, e->clock);
  PX_ASSERT_UINT_EQ(px_recs_model_stats(m)->excluded, 1); /* C */
  cJSON *j = ask(e, m, NULL, "A", 10, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 1);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "B");
  cJSON_Delete(j);
  px_recs_model_free(m);
  /* B's neighbours: D 2/sqrt(8), A 2/sqrt(12), C 1/sqrt(8). At most one Fruit while something else is
   * left: u4 {B} gets D (Fruit), C (Veg), then A (Fruit, held back); without the cap C would be last. */
  snprintf(def, sizeof def, "%.*s,\"max_per_category\":1}", (int)strlen(DEF) - 1, DEF);
  PX_ASSERT_OK(define(e, def, &err));
  m = train(e, e->clock);
  j = ask(e, m, "u4", NULL, 3, NULL);
  PX_ASSERT_INT_EQ(count_of(j), 3);
  PX_ASSERT_STR_EQ(id_of(nth(j, 0)), "D");
  PX_ASSERT_STR_EQ(id_of(nth(j, 1)), "C");
  PX_ASSERT_STR_EQ(id_of(nth(j, 2)), "A");
  cJSON_Delete(j);
  px_recs_model_free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_definition_errors, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_definition_prints_back, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_similar_by_hand, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_views_owned_and_stock, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_repurchase_window, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_incremental_equals_full, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merge_keeps_items, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_segment_fallback, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_exclude_rule_and_categories, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
