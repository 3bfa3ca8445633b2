/* profile: survivorship rules, the rendered single customer view, the event
 * feed, lossless merge at the module level. */
#include "pipeline_env.h"
#include "profile/profile_int.h"

#define E ((env *)*state)

static int rules_setup(void **state) {
  return env_setup_with(state, "{\"traits\":{\"default\":\"most_recent\",\"rules\":{"
                               "\"plan\":\"source_priority\",\"city\":\"most_frequent\","
                               "\"signup_channel\":\"first\"}}}");
}

static void test_survivorship_rules(void **state) {
  env *e = E;
  /* crm (priority 10) says enterprise first; web (priority 1) says free later. */
  PX_ASSERT_OK(env_ingest_from(e, e->crm,
                               "{\"type\":\"identify\",\"userId\":\"u\",\"timestamp\":\"2024-01-01T00:00:00Z\","
                               "\"traits\":{\"plan\":\"enterprise\",\"signup_channel\":\"sales\",\"city\":\"Oslo\","
                               "\"color\":\"blue\"}}",
                               NULL));
  PX_ASSERT_OK(env_ingest_from(e, e->web,
                               "{\"type\":\"identify\",\"userId\":\"u\",\"timestamp\":\"2024-02-01T00:00:00Z\","
                               "\"traits\":{\"plan\":\"free\",\"signup_channel\":\"web\",\"city\":\"Oslo\","
                               "\"color\":\"green\"}}",
                               NULL));
  PX_ASSERT_OK(env_ingest_from(e, e->web,
                               "{\"type\":\"identify\",\"userId\":\"u\",\"timestamp\":\"2024-03-01T00:00:00Z\","
                               "\"traits\":{\"city\":\"Bergen\"}}",
                               NULL));
  cJSON *p = env_render(e, env_pid(e, "user_id", "u"));
  const cJSON *t = jget(p, "traits");
  PX_ASSERT_STR_EQ(jstr(t, "plan"), "enterprise");   /* source_priority */
  PX_ASSERT_STR_EQ(jstr(t, "signup_channel"), "sales"); /* first */
  PX_ASSERT_STR_EQ(jstr(t, "city"), "Oslo");         /* most_frequent: 2 to 1 */
  PX_ASSERT_STR_EQ(jstr(t, "color"), "green");       /* default: most recent */
  /* History: newest first, with sources and counts. */
  const cJSON *city = jget(jget(p, "trait_history"), "city");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(city), 3); /* Oslo@crm, Oslo@web, Bergen@web */
  const cJSON *h0 = cJSON_GetArrayItem(city, 0);
  PX_ASSERT_STR_EQ(jstr(h0, "value"), "Bergen");
  PX_ASSERT_STR_EQ(jstr(h0, "source"), "web");
  PX_ASSERT_STR_EQ(jstr(h0, "first_observed"), "2024-03-01T00:00:00.000Z");
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(h0, "count")), 1);
  cJSON_Delete(p);
}

static void test_most_recent_uses_event_time_not_arrival(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u\",\"timestamp\":\"2024-05-01T00:00:00Z\",\"traits\":{\"tier\":\"gold\"}}");
  /* Arrives later, happened earlier (a late mobile batch). */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u\",\"timestamp\":\"2024-04-01T00:00:00Z\",\"traits\":{\"tier\":\"silver\"}}");
  cJSON *p = env_render(e, env_pid(e, "user_id", "u"));
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "tier"), "gold");
  PX_ASSERT_STR_EQ(jstr(p, "first_seen"), "2024-04-01T00:00:00.000Z");
  PX_ASSERT_STR_EQ(jstr(p, "last_seen"), "2024-05-01T00:00:00.000Z");
  PX_ASSERT_STR_EQ(jstr(p, "created_at"), "2024-05-01T10:00:00.000Z");
  cJSON_Delete(p);
  /* Same event time: the later event (higher seq) wins. */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"v\",\"timestamp\":\"2024-05-01T00:00:00Z\",\"traits\":{\"tier\":\"a\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"v\",\"timestamp\":\"2024-05-01T00:00:00Z\",\"traits\":{\"tier\":\"b\"}}");
  p = env_render(e, env_pid(e, "user_id", "v"));
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "tier"), "b");
  cJSON_Delete(p);
}

static void test_context_traits_and_identify_traits(void **state) {
  env *e = E;
  /* identify traits win over context.traits for the same key in one event. */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"name\":\"Ann\"},"
                "\"context\":{\"traits\":{\"name\":\"Old\",\"lang\":\"nb\"}}}");
  /* track events contribute context.traits only. */
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"properties\":{\"name\":\"prop\"},"
                "\"context\":{\"traits\":{\"device\":\"ios\"}}}");
  cJSON *p = env_render(e, env_pid(e, "user_id", "u"));
  const cJSON *t = jget(p, "traits");
  PX_ASSERT_STR_EQ(jstr(t, "name"), "Ann");
  PX_ASSERT_STR_EQ(jstr(t, "lang"), "nb");
  PX_ASSERT_STR_EQ(jstr(t, "device"), "ios");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(jget(jget(p, "trait_history"), "name")), 1);
  cJSON_Delete(p);
}

static void test_render_is_valid_json_for_awkward_values(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"q\\\"uote\\\\\",\"traits\":{\"we\\\"ird\\nkey\":\"v\\u0001\\\"\","
                "\"emoji\":\"\xf0\x9f\x98\x80\",\"nested\":{\"a\":[1,null,true,{\"b\":\"c\"}]},\"n\":-1.5e3,\"nul\":null}}");
  env_ingest(e, "{\"type\":\"group\",\"userId\":\"q\\\"uote\\\\\",\"groupId\":\"g\\\"1\",\"traits\":{\"x\\\\\":1}}");
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"q\\\"uote\\\\\",\"event\":\"ev\\\"\\n\"}");
  uint64_t pid = env_pid(e, "user_id", "q\"uote\\");
  PX_ASSERT_INT_NE(pid, 0);
  cJSON *p = env_render(e, pid); /* fails the test when not JSON */
  PX_ASSERT_INT_EQ(has_ident(p, "user_id", "q\"uote\\"), 1);
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "we\"ird\nkey"), "v\x01\"");
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "emoji"), "\xf0\x9f\x98\x80");
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "traits"), "n")), -1500);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(jget(p, "counts"), "by_event"), "ev\"\n")), 1);
  PX_ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(jget(p, "accounts"), 0), "group_id"), "g\"1");
  char id[17];
  px_profile_id_format(pid, id);
  PX_ASSERT_STR_EQ(jstr(p, "id"), id);
  cJSON_Delete(p);
}

static void test_render_unknown_profile(void **state) {
  env *e = E;
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_buf b;
  px_buf_init(&b, 0);
  PX_ASSERT_STATUS(px_profile_render(txn, e->st, &e->cfg, 42, NULL, &b), PX_NOT_FOUND);
  px_buf_free(&b);
  px_store_abort(txn);
}

/* The feed of a profile's events, newest first, in pages: each page starts
 * below the last event of the one before. */
typedef struct feed {
  env *e;
  char order[64];
  int n, limit;
  px_timeline_pos last;
} feed;

static int feed_cb(void *arg, int64_t time_ms, uint64_t seq) {
  feed *f = arg;
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(f->e->st, 0, &txn));
  char key[8];
  for (int i = 0; i < 8; i++) key[i] = (char)(seq >> (56 - 8 * i));
  MDB_val rec;
  PX_ASSERT_OK(px_store_get(txn, f->e->st, PX_DB_EVENTS, key, 8, &rec));
  px_event ev;
  PX_ASSERT_OK(px_event_decode(rec.mv_data, rec.mv_size, seq, &ev));
  strcat(f->order, ev.name ? ev.name : "?");
  px_event_free(&ev);
  px_store_abort(txn);
  f->last = (px_timeline_pos){time_ms, seq};
  return ++f->n == f->limit;
}

static void test_events_feed_pages(void **state) {
  env *e = E;
  for (int i = 0; i < 5; i++) {
    char json[256];
    snprintf(json, sizeof json,
             "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E%d\",\"timestamp\":\"2024-01-0%dT00:00:00Z\"}", i,
             i + 1);
    env_ingest(e, json);
  }
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"other\",\"event\":\"X\"}");
  uint64_t pid = env_pid(e, "user_id", "u");
  feed f = {.e = e, .limit = 2};
  int pages = 0;
  for (;;) {
    px_txn *txn;
    PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
    px_timeline_pos below = f.last;
    f.n = 0;
    PX_ASSERT_OK(px_profile_events_before(txn, e->st, pid, pages ? &below : NULL, 0, feed_cb, &f));
    px_store_abort(txn);
    pages++;
    if (f.n < f.limit) break;
    if (pages > 5) fail_msg("paging does not end: %s", f.order);
  }
  PX_ASSERT_STR_EQ(f.order, "E4E3E2E1E0");
  PX_ASSERT_INT_EQ(pages, 3);
  /* inclusive: the position itself comes first */
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  feed g = {.e = e, .limit = 1};
  PX_ASSERT_OK(px_profile_events_before(txn, e->st, pid, &f.last, 1, feed_cb, &g));
  px_store_abort(txn);
  PX_ASSERT_STR_EQ(g.order, "E0");
}

static void test_obs_observe_and_combine(void **state) {
  (void)state;
  px_obs a = {0}, b = {0};
  px_obs_observe(&a, 100, 1);
  px_obs_observe(&a, 50, 2);
  px_obs_observe(&a, 200, 3);
  PX_ASSERT_INT_EQ(a.first, 50);
  PX_ASSERT_INT_EQ(a.last, 200);
  PX_ASSERT_UINT_EQ(a.last_seq, 3);
  PX_ASSERT_UINT_EQ(a.count, 3);
  px_obs_observe(&b, 200, 9);
  px_obs_observe(&b, 10, 10);
  px_obs_combine(&a, &b);
  PX_ASSERT_INT_EQ(a.first, 10);
  PX_ASSERT_INT_EQ(a.last, 200);
  PX_ASSERT_UINT_EQ(a.last_seq, 9); /* same time, later event */
  PX_ASSERT_UINT_EQ(a.count, 5);
}

static void test_merge_module_level(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"a\",\"traits\":{\"x\":1,\"shared\":\"same\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"b\",\"traits\":{\"y\":2,\"shared\":\"same\"}}");
  uint64_t pa = env_pid(e, "user_id", "a"), pb = env_pid(e, "user_id", "b");
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_profile_merge(txn, e->st, pa, pb));
  PX_ASSERT_STATUS(px_profile_merge(txn, e->st, pa, 777), PX_NOT_FOUND);
  PX_ASSERT_OK(px_store_commit(txn));
  cJSON *p = env_render(e, pa);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "traits"), "x")), 1);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "traits"), "y")), 2);
  /* Same value from the same source: one observation seen twice. */
  const cJSON *shared = jget(jget(p, "trait_history"), "shared");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(shared), 1);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(cJSON_GetArrayItem(shared, 0), "count")), 2);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(jget(p, "counts"), "by_type"), "identify")), 2);
  cJSON_Delete(p);
  /* The loser renders empty. */
  cJSON *l = env_render(e, pb);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(jget(l, "timeline")), 0);
  PX_ASSERT_NULL(jget(jget(l, "traits"), "y"));
  cJSON_Delete(l);
}

/* Name counts live in the profile record until it is full, then in rows:
 * the rendered counts are the same either way, sorted by name, and a merge
 * adds both kinds of the loser's to the survivor's. */
static void track(env *e, const char *user, const char *name, int times) {
  char json[512];
  snprintf(json, sizeof json, "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"%s\"}", user, name);
  for (int i = 0; i < times; i++) env_ingest(e, json);
}

static void test_counts_in_record_and_rows(void **state) {
  env *e = E;
  char name[64];
  /* 120 distinct names of ~40 bytes: well past what the record holds. */
  for (int i = 0; i < 120; i++) {
    snprintf(name, sizeof name, "Event number %03d with a rather long name", i);
    track(e, "a", name, 1 + i % 3);
  }
  for (int i = 0; i < 120; i += 7) { /* again, later: some in the record, some in rows */
    snprintf(name, sizeof name, "Event number %03d with a rather long name", i);
    track(e, "a", name, 2);
  }
  track(e, "b", "Event number 005 with a rather long name", 4); /* b: in its record */
  track(e, "b", "Only b", 1);
  uint64_t pa = env_pid(e, "user_id", "a"), pb = env_pid(e, "user_id", "b");
  cJSON *p = env_render(e, pa);
  const cJSON *by = jget(jget(p, "counts"), "by_event");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(by), 120);
  const cJSON *prev = NULL;
  for (int i = 0; i < 120; i++) {
    snprintf(name, sizeof name, "Event number %03d with a rather long name", i);
    const cJSON *c = cJSON_GetArrayItem(by, i);
    PX_ASSERT_STR_EQ(c->string, name); /* in name order */
    PX_ASSERT_INT_EQ(cJSON_GetNumberValue(c), 1 + i % 3 + (i % 7 == 0 ? 2 : 0));
    prev = c;
  }
  (void)prev;
  cJSON_Delete(p);

  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_profile_merge(txn, e->st, pa, pb));
  PX_ASSERT_OK(px_store_commit(txn));
  p = env_render(e, pa);
  by = jget(jget(p, "counts"), "by_event");
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(by), 121);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(by, "Event number 005 with a rather long name")), 3 + 4);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(by, "Only b")), 1);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "counts"), "events")), 120 * 2 + 18 * 2 + 5);
  cJSON_Delete(p);
  cJSON *l = env_render(e, pb); /* the loser counts nothing any more */
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(jget(jget(l, "counts"), "by_event")), 0);
  cJSON_Delete(l);
}

/* px_profile_events_since through a walk kept across profiles (ids in
 * increasing order, some without rows, some with rows before from_ms, more
 * than the walk passes over before seeking) gives the same rows as a
 * fresh walk per profile. */
static void put_row(px_store *st, px_txn *txn, uint64_t pid, int64_t t, uint64_t seq) {
  px_key k;
  px_key_init(&k);
  px_key_u64(&k, pid);
  px_key_i64(&k, t);
  px_key_u64(&k, seq);
  unsigned char v[9] = {PX_EV_TRACK};
  uint64_t h = px_profile_name_hash("Order Completed");
  memcpy(v + 1, &h, sizeof h);
  PX_ASSERT_OK(px_store_put(txn, st, PX_DB_TIMELINE, k.b, k.n, v, sizeof v, 0));
}

typedef struct rows_seen {
  char text[4096];
} rows_seen;

static px_status see_row(void *arg, const px_timeline_row *row) {
  rows_seen *r = arg;
  size_t n = strlen(r->text);
  snprintf(r->text + n, sizeof r->text - n, "%lld/%llu ", (long long)row->time_ms, (unsigned long long)row->seq);
  return PX_OK;
}

static void test_events_since_walk(void **state) {
  env *e = E;
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  uint64_t seq = 1;
  for (uint64_t pid = 1000; pid <= 1012; pid++) {
    if (pid % 4 == 1) continue;                                          /* no rows */
    int n = pid % 4 == 2 ? 40 : (int)(pid % 5);                           /* 40: more than the walk skips */
    for (int i = 0; i < n; i++) put_row(e->st, txn, pid, 100 * i, seq++); /* times 0, 100, ... */
  }
  PX_ASSERT_OK(px_store_commit(txn));
  static const int64_t from[] = {INT64_MIN, 0, 150, 250, 3500, 100000};
  for (size_t f = 0; f < sizeof from / sizeof *from; f++) {
    PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
    px_timeline_walk w = {0};
    for (uint64_t pid = 999; pid <= 1014; pid += pid % 3 == 0 ? 2 : 1) { /* some ids skipped */
      rows_seen a = {""}, b = {""};
      PX_ASSERT_OK(px_profile_events_since(txn, e->st, pid, from[f], &w, see_row, &a));
      PX_ASSERT_OK(px_profile_events_since(txn, e->st, pid, from[f], NULL, see_row, &b));
      if (strcmp(a.text, b.text) != 0)
        fail_msg("profile %llu from %lld: walk gave \"%s\", a fresh seek \"%s\"", (unsigned long long)pid,
                 (long long)from[f], a.text, b.text);
    }
    px_timeline_walk_end(&w);
    px_store_abort(txn);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_survivorship_rules, rules_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_events_since_walk, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_most_recent_uses_event_time_not_arrival, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_context_traits_and_identify_traits, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_render_is_valid_json_for_awkward_values, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_render_unknown_profile, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_events_feed_pages, env_setup, env_teardown),
    cmocka_unit_test(test_obs_observe_and_combine),
    cmocka_unit_test_setup_teardown(test_merge_module_level, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_counts_in_record_and_rows, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
