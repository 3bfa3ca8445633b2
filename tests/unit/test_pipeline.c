/* ingest/pipeline end to end: store + identity resolution + profiles in a
 * temporary data directory. */
#include "pipeline_env.h"

#define E ((env *)*state)

static void test_dedup_by_source_and_message_id(void **state) {
  env *e = E;
  const char *msg = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Paid\",\"messageId\":\"m-1\"}";
  int dup = -1;
  PX_ASSERT_OK(env_ingest_from(e, e->web, msg, &dup));
  PX_ASSERT_INT_EQ(dup, 0);
  PX_ASSERT_OK(env_ingest_from(e, e->web, msg, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  /* Same messageId with a different body from the same source: still a duplicate. */
  PX_ASSERT_OK(env_ingest_from(e, e->web,
                               "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"Other\",\"messageId\":\"m-1\"}",
                               &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  /* Another source may use the same messageId. */
  PX_ASSERT_OK(env_ingest_from(e, e->crm, msg, &dup));
  PX_ASSERT_INT_EQ(dup, 0);
  /* Generated messageIds never collide. */
  PX_ASSERT_OK(env_ingest_from(e, e->web, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Paid\"}", &dup));
  PX_ASSERT_INT_EQ(dup, 0);
  PX_ASSERT_OK(env_ingest_from(e, e->web, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Paid\"}", &dup));
  PX_ASSERT_INT_EQ(dup, 0);

  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 4);
  PX_ASSERT_UINT_EQ(env_dedup_count(e), 4);
  PX_ASSERT_UINT_EQ(env_counter(e, "seq"), 4);
  /* Duplicates changed nothing on the profile: 4 events, no u2. */
  cJSON *p = env_render(e, env_pid(e, "user_id", "u1"));
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "counts"), "events")), 4);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(jget(p, "timeline")), 4);
  cJSON_Delete(p);
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "u2"), 0);
}

static void test_anonymous_then_identified_is_one_profile(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"page\",\"anonymousId\":\"anon-1\",\"name\":\"Home\"}");
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"anon-1\",\"event\":\"Added to Cart\"}");
  uint64_t anon = env_pid(e, "anonymous_id", "anon-1");
  PX_ASSERT_INT_NE(anon, 0);
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"anon-1\",\"userId\":\"user-1\","
                "\"traits\":{\"email\":\"Jane@Example.com\"}}");
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "user-1"), anon);
  PX_ASSERT_UINT_EQ(env_pid(e, "email", "jane@example.com"), anon);
  PX_ASSERT_UINT_EQ(env_pid(e, "email", " JANE@example.COM "), anon);
  /* Later events by either identifier land on it. */
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"user-1\",\"event\":\"Order Completed\"}");
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"anon-1\",\"event\":\"Viewed\"}");
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 1);
  PX_ASSERT_UINT_EQ(env_counter(e, "merges"), 0);
  cJSON *p = env_render(e, anon);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "counts"), "events")), 5);
  PX_ASSERT_INT_EQ(has_ident(p, "user_id", "user-1"), 1);
  PX_ASSERT_INT_EQ(has_ident(p, "anonymous_id", "anon-1"), 1);
  PX_ASSERT_INT_EQ(has_ident(p, "email", "jane@example.com"), 1);
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "email"), "Jane@Example.com"); /* traits keep what was sent */
  const cJSON *by_event = jget(jget(p, "counts"), "by_event");
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(by_event, "Added to Cart")), 1);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(jget(p, "counts"), "by_page"), "Home")), 1);
  cJSON_Delete(p);
}

static void test_merge_survivor_is_older_profile(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"dev-a\",\"event\":\"Opened\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u-1\",\"traits\":{\"email\":\"u1@x.io\"}}");
  uint64_t older = env_pid(e, "anonymous_id", "dev-a");
  uint64_t newer = env_pid(e, "user_id", "u-1");
  PX_ASSERT_INT_NE(older, 0);
  PX_ASSERT_INT_NE(newer, 0);
  PX_ASSERT_INT_NE(older, newer);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 2);

  /* The event names the newer profile first; the older one still survives. */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u-1\",\"anonymousId\":\"dev-a\"}");
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "u-1"), older);
  PX_ASSERT_UINT_EQ(env_pid(e, "email", "u1@x.io"), older);
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "dev-a"), older);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 1);
  PX_ASSERT_UINT_EQ(env_counter(e, "merges"), 1);

  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_profile_rec a, b;
  PX_ASSERT_OK(px_profile_get(txn, e->st, older, &a));
  PX_ASSERT_OK(px_profile_get(txn, e->st, newer, &b));
  PX_ASSERT_UINT_EQ(a.merged_into, 0);
  PX_ASSERT_UINT_EQ(b.merged_into, older);
  PX_ASSERT_UINT_EQ(a.events, 3);
  uint64_t live = 0;
  PX_ASSERT_OK(px_profile_live(txn, e->st, newer, &live));
  PX_ASSERT_UINT_EQ(live, older);
  PX_ASSERT_OK(px_profile_live(txn, e->st, older, &live));
  PX_ASSERT_UINT_EQ(live, older);
  PX_ASSERT_STATUS(px_profile_live(txn, e->st, 9999, &live), PX_NOT_FOUND);
  px_store_abort(txn);
}

typedef struct merges {
  int n, refused, merged;
  char last[2048];
} merges;

static int merge_cb(void *arg, uint64_t id, const char *json, size_t n) {
  merges *m = arg;
  (void)id;
  m->n++;
  snprintf(m->last, sizeof m->last, "%.*s", (int)n, json);
  cJSON *j = cJSON_ParseWithLength(json, n);
  if (!j) fail_msg("merge record is not JSON: %.*s", (int)n, json);
  const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
  if (st && strcmp(st, "refused") == 0) m->refused++;
  if (st && strcmp(st, "merged") == 0) m->merged++;
  cJSON_Delete(j);
  return 0;
}

static merges env_merges(env *e, uint64_t pid) {
  merges m = {0};
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_identity_merges(txn, e->st, pid, merge_cb, &m));
  px_store_abort(txn);
  return m;
}

static void test_shared_device_refuses_merge(void **state) {
  env *e = E;
  /* Two people sign in on one device (same anonymousId). */
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"alice\",\"anonymousId\":\"kiosk\","
                "\"traits\":{\"name\":\"Alice\"}}");
  uint64_t alice = env_pid(e, "user_id", "alice");
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "kiosk"), alice);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"bob\",\"anonymousId\":\"kiosk\","
                "\"traits\":{\"name\":\"Bob\"}}");
  uint64_t bob = env_pid(e, "user_id", "bob");
  PX_ASSERT_INT_NE(bob, 0);
  PX_ASSERT_INT_NE(bob, alice);
  /* The device stays with the first profile; nothing merged. */
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "kiosk"), alice);
  PX_ASSERT_UINT_EQ(env_counter(e, "merges"), 0);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 2);
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.merges_refused), 1);

  cJSON *a = env_render(e, alice), *b = env_render(e, bob);
  PX_ASSERT_STR_EQ(jstr(jget(a, "traits"), "name"), "Alice");
  PX_ASSERT_STR_EQ(jstr(jget(b, "traits"), "name"), "Bob");
  PX_ASSERT_INT_EQ(ident_count(a, "user_id"), 1);
  PX_ASSERT_INT_EQ(ident_count(b, "user_id"), 1);
  PX_ASSERT_INT_EQ(has_ident(b, "anonymous_id", "kiosk"), 0);
  cJSON_Delete(a);
  cJSON_Delete(b);

  /* The refusal is on record for both profiles, with its reason. */
  merges ma = env_merges(e, alice), mb = env_merges(e, bob);
  PX_ASSERT_INT_EQ(ma.refused, 1);
  PX_ASSERT_INT_EQ(ma.merged, 0);
  PX_ASSERT_INT_EQ(mb.refused, 1);
  PX_ASSERT_STR_CONTAINS(ma.last, "max_per_profile");
  PX_ASSERT_STR_CONTAINS(ma.last, "user_id");
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_MERGES), 1);

  /* Later anonymous events on the device still go to the first profile. */
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"kiosk\",\"event\":\"Idle\"}");
  cJSON *a2 = env_render(e, alice);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(a2, "counts"), "events")), 2);
  cJSON_Delete(a2);
}

static void test_merges_are_recorded(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"x\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\"}");
  uint64_t p1 = env_pid(e, "anonymous_id", "a1"), p2 = env_pid(e, "user_id", "u1");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a1\",\"messageId\":\"merge-msg\"}");
  merges m = env_merges(e, p1);
  PX_ASSERT_INT_EQ(m.merged, 1);
  PX_ASSERT_INT_EQ(m.refused, 0);
  cJSON *j = cJSON_Parse(m.last);
  char s1[17], s2[17];
  px_profile_id_format(p1, s1);
  px_profile_id_format(p2, s2);
  PX_ASSERT_STR_EQ(jstr(j, "survivor"), s1);
  PX_ASSERT_STR_EQ(jstr(j, "loser"), s2);
  PX_ASSERT_STR_EQ(jstr(jget(j, "event"), "messageId"), "merge-msg");
  PX_ASSERT_STR_EQ(jstr(jget(j, "event"), "type"), "identify");
  cJSON_Delete(j);
  /* The loser's id still finds the record. */
  PX_ASSERT_INT_EQ(env_merges(e, p2).merged, 1);
  PX_ASSERT_INT_EQ(env_merges(e, 12345).n, 0);
}

/* A probabilistic merge (pickaxe link's event) joins two profiles that
 * share no identifier, is audited with its score and explanation, counts
 * like other merges, obeys the per-kind maxima and replays the same. */
static void test_probabilistic_merge(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"crm-1\",\"traits\":{\"first_name\":\"Ann\",\"dob\":\"1980-02-03\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"pos-9\",\"traits\":{\"first_name\":\"Anne\",\"dob\":\"1980-02-03\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"crm-2\"}");
  uint64_t p1 = env_pid(e, "user_id", "crm-1"), p2 = env_pid(e, "anonymous_id", "pos-9");
  assert_true(p1 != p2);
  const char *merge =
      "{\"messageId\":\"match-1\",\"merge\":{\"a\":{\"kind\":\"anonymous_id\",\"value\":\"pos-9\"},"
      "\"b\":{\"kind\":\"user_id\",\"value\":\"crm-1\"},\"probability\":0.998,\"weight\":9.1,"
      "\"fields\":[{\"field\":\"first_name\",\"level\":\"jaro_winkler>=0.92\",\"weight\":3.2}]}}";
  PX_ASSERT_OK(env_ingest_typed(e, 0, PX_EV_MERGE, merge, NULL));
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "pos-9"), p1);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 2);
  PX_ASSERT_UINT_EQ(env_counter(e, "merges"), 1);
  merges m = env_merges(e, p1);
  PX_ASSERT_INT_EQ(m.merged, 1);
  cJSON *j = cJSON_Parse(m.last);
  PX_ASSERT_STR_EQ(jstr(j, "cause"), "probabilistic");
  PX_ASSERT_STR_EQ(jstr(jget(j, "event"), "type"), "merge");
  assert_true(cJSON_GetNumberValue(jget(jget(j, "match"), "probability")) == 0.998);
  PX_ASSERT_STR_EQ(jstr(cJSON_GetArrayItem(jget(jget(j, "match"), "fields"), 0), "level"), "jaro_winkler>=0.92");
  cJSON_Delete(j);
  cJSON *p = env_render(e, p1);
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "first_name"), "Anne"); /* the newer value, both kept in history */
  cJSON_Delete(p);
  /* The same decision again: deduplicated by messageId; on one profile: nothing. */
  int dup = 0;
  PX_ASSERT_OK(env_ingest_typed(e, 0, PX_EV_MERGE, merge, &dup));
  PX_ASSERT_INT_EQ(dup, 1);
  /* An identifier no profile holds: logged, nothing merged. */
  PX_ASSERT_OK(env_ingest_typed(e, 0, PX_EV_MERGE,
                                "{\"merge\":{\"a\":{\"kind\":\"user_id\",\"value\":\"nobody\"},"
                                "\"b\":{\"kind\":\"user_id\",\"value\":\"crm-1\"},\"probability\":1}}", NULL));
  /* user_id allows one per profile: crm-1 and crm-2 may not join, and that is audited. */
  PX_ASSERT_OK(env_ingest_typed(e, 0, PX_EV_MERGE,
                                "{\"merge\":{\"a\":{\"kind\":\"user_id\",\"value\":\"crm-2\"},"
                                "\"b\":{\"kind\":\"user_id\",\"value\":\"crm-1\"},\"probability\":0.99}}", NULL));
  assert_true(env_pid(e, "user_id", "crm-2") != p1);
  PX_ASSERT_INT_EQ(env_merges(e, p1).refused, 1);
  PX_ASSERT_UINT_EQ(env_counter(e, "merges"), 1);
  /* Bad merges are refused before they are logged, naming the member. */
  cJSON *bad = cJSON_Parse("{\"merge\":{\"a\":{\"kind\":\"user_id\"},\"b\":{},\"probability\":2}}");
  px_event_ctx ctx = {.type = PX_EV_MERGE, .received_ms = e->clock};
  px_event ev;
  px_error err;
  PX_ASSERT_STATUS(px_pipeline_prepare(&e->cfg, bad, &ctx, &ev, &err), PX_INVALID);
  PX_ASSERT_STR_EQ(err.field, "merge.a");
  /* And a client cannot send one: "merge" is not a message type. */
  PX_ASSERT_STATUS(env_ingest_from(e, e->web, "{\"type\":\"merge\",\"userId\":\"x\"}", NULL), PX_INVALID);
  /* Replaying the log gives the same profiles and audit. */
  uint64_t audits = env_count(e, PX_DB_MERGES);
  char *before = env_render_text(e, p1);
  px_error_clear(&err);
  PX_ASSERT_OK(px_pipeline_replay(e->st, NULL, NULL, &err));
  char *after = env_render_text(e, p1);
  PX_ASSERT_STR_EQ(after, before);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_MERGES), audits);
  PX_ASSERT_UINT_EQ(env_pid(e, "anonymous_id", "pos-9"), p1);
  free(before);
  free(after);
}

/* Whether a string value was ever observed for a trait. */
static int history_has(const cJSON *p, const char *trait, const char *value) {
  const cJSON *it;
  cJSON_ArrayForEach(it, jget(jget(p, "trait_history"), trait)) {
    const cJSON *v = jget(it, "value");
    if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0) return 1;
  }
  return 0;
}

static void test_merge_loses_no_trait_values(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"timestamp\":\"2024-01-01T00:00:00Z\","
                "\"traits\":{\"plan\":\"free\",\"color\":\"red\",\"tags\":[\"x\"]}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"timestamp\":\"2024-02-01T00:00:00Z\","
                "\"traits\":{\"plan\":\"pro\",\"city\":\"Paris\"}}");
  env_ingest(e, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Paid\",\"timestamp\":\"2024-02-02T00:00:00Z\"}");
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Paid\",\"timestamp\":\"2023-12-31T00:00:00Z\"}");
  uint64_t p1 = env_pid(e, "anonymous_id", "a1"), p2 = env_pid(e, "user_id", "u1");
  cJSON *before1 = env_render(e, p1), *before2 = env_render(e, p2);

  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a1\",\"timestamp\":\"2024-03-01T00:00:00Z\"}");
  uint64_t live = env_pid(e, "user_id", "u1");
  PX_ASSERT_UINT_EQ(live, p1);
  cJSON *p = env_render(e, live);

  /* Every trait of both sides, every historical value. */
  const cJSON *traits = jget(p, "traits");
  PX_ASSERT_STR_EQ(jstr(traits, "plan"), "pro"); /* most recent */
  PX_ASSERT_STR_EQ(jstr(traits, "color"), "red");
  PX_ASSERT_STR_EQ(jstr(traits, "city"), "Paris");
  assert_true(cJSON_IsArray(jget(traits, "tags")));
  PX_ASSERT_INT_EQ(history_has(p, "plan", "free"), 1);
  PX_ASSERT_INT_EQ(history_has(p, "plan", "pro"), 1);
  const cJSON *side[2] = {before1, before2};
  for (int s = 0; s < 2; s++) {
    const cJSON *t;
    cJSON_ArrayForEach(t, jget(side[s], "trait_history")) {
      const cJSON *obs;
      cJSON_ArrayForEach(obs, t) {
        char *want = cJSON_PrintUnformatted(jget(obs, "value"));
        int found = 0;
        const cJSON *o2;
        cJSON_ArrayForEach(o2, jget(jget(p, "trait_history"), t->string)) {
          char *got = cJSON_PrintUnformatted(jget(o2, "value"));
          found |= strcmp(got, want) == 0;
          free(got);
        }
        if (!found) fail_msg("trait %s value %s lost in the merge", t->string, want);
        free(want);
      }
    }
  }
  /* Counts and timelines add up; first/last seen span both. */
  const cJSON *counts = jget(p, "counts");
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(counts, "events")), 5);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(counts, "by_event"), "Paid")), 2);
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(counts, "by_type"), "identify")), 3);
  PX_ASSERT_INT_EQ(cJSON_GetArraySize(jget(p, "timeline")), 5);
  PX_ASSERT_STR_EQ(jstr(p, "first_seen"), "2023-12-31T00:00:00.000Z");
  PX_ASSERT_STR_EQ(jstr(p, "last_seen"), "2024-03-01T00:00:00.000Z");
  PX_ASSERT_INT_EQ(has_ident(p, "user_id", "u1"), 1);
  PX_ASSERT_INT_EQ(has_ident(p, "anonymous_id", "a1"), 1);
  /* The timeline is in event-time order. */
  const cJSON *seq;
  int i = 0;
  static const int want_seq[] = {4, 1, 2, 3, 5};
  cJSON_ArrayForEach(seq, jget(p, "timeline")) PX_ASSERT_INT_EQ(cJSON_GetNumberValue(seq), want_seq[i++]);
  cJSON_Delete(p);
  cJSON_Delete(before1);
  cJSON_Delete(before2);
}

/* Regression (fixed; src/identity/resolve.c, allowed()/count_kind() called from
 * px_identity_resolve): when an event's new identifiers first join an
 * existing profile (redirect NEW_PROFILE -> P1), they are not yet stored, so
 * the next allowed(P1, P2) check counts P1's user_id identifiers from the
 * store only and misses the pending one. Here u2 (new) joins P1 (via the
 * e-mail), then P1 is merged with P2 (via a3) which already holds u3: the
 * result holds two user_ids despite max_per_profile 1. Fixed: count_kind also counts the event's identifiers
 * heading to that profile that are not stored yet. */
static void test_max_per_profile_holds_across_joins(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"a0\",\"traits\":{\"email\":\"e1@x.io\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u3\",\"anonymousId\":\"a3\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u2\",\"anonymousId\":\"a3\",\"traits\":{\"email\":\"e1@x.io\"}}");
  uint64_t p2 = env_pid(e, "user_id", "u2"), p3 = env_pid(e, "user_id", "u3");
  PX_ASSERT_INT_NE(p2, 0);
  PX_ASSERT_INT_NE(p3, 0);
  cJSON *p = env_render(e, p2);
  int n = ident_count(p, "user_id");
  char *text = cJSON_PrintUnformatted(jget(p, "identifiers")), idents[2048];
  snprintf(idents, sizeof idents, "%s", text);
  free(text);
  cJSON_Delete(p);
  if (n > 1 || p2 == p3) fail_msg("a profile holds %d user_ids (max 1): %s", n, idents);
}

/* Regression (found in review): an event whose identifiers were all new made
 * a profile without checking the maxima against its own identifiers. */
static int email_max_1(void **state) {
  return env_setup_with(state, "{\"identity\":{\"kinds\":[{\"kind\":\"email\",\"max_per_profile\":1}]}}");
}

static void test_new_profile_obeys_maxima(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"a@x.io\"},"
                "\"context\":{\"traits\":{\"email\":\"b@x.io\"}}}");
  uint64_t p = env_pid(e, "user_id", "u1");
  PX_ASSERT_INT_NE(p, 0);
  cJSON *j = env_render(e, p);
  PX_ASSERT_INT_EQ(ident_count(j, "email"), 1);
  cJSON_Delete(j);
  PX_ASSERT_UINT_EQ(env_pid(e, "email", "a@x.io"), p); /* the first in priority order stays */
  PX_ASSERT_UINT_EQ(env_pid(e, "email", "b@x.io"), 0);
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.merges_refused), 1); /* and the refusal is on record */
}

static void test_alias_links_previous_anonymous_id(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"anon9\",\"event\":\"Visited\"}");
  uint64_t p = env_pid(e, "anonymous_id", "anon9");
  env_ingest(e, "{\"type\":\"alias\",\"userId\":\"u9\",\"previousId\":\"anon9\"}");
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "u9"), p);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 1);
}

static void test_alias_merges_anonymous_profile_into_user(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"track\",\"anonymousId\":\"anon\",\"event\":\"Visited\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"user\",\"traits\":{\"name\":\"Aliased\"}}");
  uint64_t pa = env_pid(e, "anonymous_id", "anon"), pu = env_pid(e, "user_id", "user");
  PX_ASSERT_INT_NE(pa, pu);
  env_ingest(e, "{\"type\":\"alias\",\"userId\":\"user\",\"previousId\":\"anon\"}");
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "user"), pa);
  cJSON *p = env_render(e, pa);
  PX_ASSERT_STR_EQ(jstr(jget(p, "traits"), "name"), "Aliased");
  cJSON_Delete(p);
  merges m = env_merges(e, pa);
  PX_ASSERT_INT_EQ(m.merged, 1);
  PX_ASSERT_STR_CONTAINS(m.last, "\"cause\":\"alias\"");
}

static void test_blocked_values_never_link(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"userId\":\"undefined\",\"traits\":{\"email\":\"test@test.com\"}}");
  env_ingest(e, "{\"type\":\"identify\",\"anonymousId\":\"a2\",\"userId\":\"undefined\",\"traits\":{\"email\":\"test@test.com\"}}");
  PX_ASSERT_INT_NE(env_pid(e, "anonymous_id", "a1"), env_pid(e, "anonymous_id", "a2"));
  PX_ASSERT_UINT_EQ(env_pid(e, "user_id", "undefined"), 0);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 2);
  PX_ASSERT_UINT_EQ(atomic_load(&e->m.identifiers_blocked), 4);
  /* An event with only junk identifiers is refused before it is logged. */
  PX_ASSERT_STATUS(env_ingest_from(e, e->web, "{\"type\":\"identify\",\"userId\":\"null\",\"anonymousId\":\"0000\"}", NULL),
                   PX_INVALID);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_EVENTS), 2);
}

static void test_group_links_an_account(void **state) {
  env *e = E;
  env_ingest(e, "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"acme\",\"traits\":{\"name\":\"Acme Inc\","
                "\"email\":\"billing@acme.io\"}}");
  env_ingest(e, "{\"type\":\"group\",\"userId\":\"u2\",\"groupId\":\"acme\",\"traits\":{\"plan\":\"enterprise\"}}");
  uint64_t p = env_pid(e, "user_id", "u1");
  cJSON *j = env_render(e, p);
  /* The group's traits are the account's, not the person's. */
  PX_ASSERT_NULL(jget(jget(j, "traits"), "name"));
  PX_ASSERT_UINT_EQ(env_pid(e, "email", "billing@acme.io"), 0);
  const cJSON *acc = cJSON_GetArrayItem(jget(j, "accounts"), 0);
  assert_non_null(acc);
  PX_ASSERT_STR_EQ(jstr(acc, "group_id"), "acme");
  PX_ASSERT_STR_EQ(jstr(jget(acc, "traits"), "name"), "Acme Inc");
  PX_ASSERT_STR_EQ(jstr(jget(acc, "traits"), "plan"), "enterprise"); /* shared by both members */
  cJSON_Delete(j);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_LINKS), 2);
}

static void test_replay_gives_identical_renders(void **state) {
  env *e = E;
  for (size_t i = 0; env_story(i); i++) PX_ASSERT_OK(env_ingest_from(e, i % 3 == 2 ? e->crm : e->web, env_story(i), NULL));
  size_t n;
  uint64_t *ids = env_profiles(e, &n);
  PX_ASSERT_INT_CMP(n, >=, 4);
  char **before = calloc(n, sizeof *before);
  for (size_t i = 0; i < n; i++) before[i] = env_render_text(e, ids[i]);
  uint64_t merges = env_count(e, PX_DB_MERGES), idents = env_count(e, PX_DB_IDENT);
  uint64_t profiles = env_counter(e, "profiles");

  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_pipeline_replay(e->st, NULL, NULL, &err));

  size_t n2;
  uint64_t *ids2 = env_profiles(e, &n2);
  PX_ASSERT_INT_EQ(n2, n);
  for (size_t i = 0; i < n; i++) {
    PX_ASSERT_UINT_EQ(ids2[i], ids[i]);
    char *after = env_render_text(e, ids[i]);
    if (strcmp(before[i], after) != 0)
      fail_msg("profile %016llx differs after replay:\nbefore %s\nafter  %s", (unsigned long long)ids[i],
               before[i], after);
    free(after);
    free(before[i]);
  }
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_MERGES), merges);
  PX_ASSERT_UINT_EQ(env_count(e, PX_DB_IDENT), idents);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), profiles);
  free(before);
  free(ids);
  free(ids2);
}

typedef struct progress {
  int calls;
  uint64_t done, total;
} progress;

static void on_progress(void *arg, uint64_t done, uint64_t total) {
  progress *p = arg;
  p->calls++;
  p->done = done;
  p->total = total;
}

static void test_replay_progress_and_empty_log(void **state) {
  env *e = E;
  progress p = {0};
  PX_ASSERT_OK(px_pipeline_replay(e->st, on_progress, &p, NULL));
  PX_ASSERT_INT_EQ(p.calls, 1);
  PX_ASSERT_UINT_EQ(p.done, 0);
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u1\"}");
  env_ingest(e, "{\"type\":\"identify\",\"userId\":\"u2\"}");
  memset(&p, 0, sizeof p);
  PX_ASSERT_OK(px_pipeline_replay(e->st, on_progress, &p, NULL));
  PX_ASSERT_UINT_EQ(p.done, 2);
  PX_ASSERT_UINT_EQ(p.total, 2);
  PX_ASSERT_UINT_EQ(env_counter(e, "profiles"), 2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_dedup_by_source_and_message_id, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_anonymous_then_identified_is_one_profile, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merge_survivor_is_older_profile, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_shared_device_refuses_merge, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merges_are_recorded, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_probabilistic_merge, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_merge_loses_no_trait_values, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_max_per_profile_holds_across_joins, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_new_profile_obeys_maxima, email_max_1, env_teardown),
    cmocka_unit_test_setup_teardown(test_alias_links_previous_anonymous_id, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_alias_merges_anonymous_profile_into_user, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_blocked_values_never_link, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_group_links_an_account, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_replay_gives_identical_renders, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_replay_progress_and_empty_log, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
