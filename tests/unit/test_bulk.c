/* ingest/bulk: the three-thread loader of pickaxe import. What it leaves
 * behind must be what a replay of the log gives, also when other writers
 * log events between its chunks, and duplicates must be found across
 * chunks and against what was there before. */
#include "ingest/bulk.h"
#include "pipeline_env.h"

#define E ((env *)*state)

/* The pipeline tests' story, and one more track event with its own messageId. */
static const char *event(size_t i) {
  return env_story(i) ? env_story(i) : "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"Paid\",\"messageId\":\"m-1\"}";
}
#define NEVENTS 14

/* Loads every event `rounds` times through a loader with chunks of `chunk`
 * events (messageIds repeat across rounds: duplicates after the first).
 * With `interleave`, another writer ingests an event of its own after every
 * event handed to the loader. */
static void load(env *e, int rounds, size_t chunk, int interleave, uint64_t *accepted, uint64_t *dups) {
  px_bulk_opts o = {.chunk_events = chunk};
  px_bulk *b;
  PX_ASSERT_OK(px_bulk_start(e->st, &e->cfg, &o, &b));
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < NEVENTS; i++) {
      px_arena *arena;
      px_event *slot = px_bulk_slot(b, &arena);
      assert_non_null(slot);
      px_arena *prev = px_arena_enter(arena);
      cJSON *item = px_json_parse(event(i), strlen(event(i)), NULL);
      char mid[32];
      snprintf(mid, sizeof mid, "r%d-%zu", r % 2, i); /* rounds 2, 3.. repeat 0, 1 */
      if (!cJSON_GetObjectItemCaseSensitive(item, "messageId")) cJSON_AddStringToObject(item, "messageId", mid);
      px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
      e->clock += 1000;
      px_error err;
      px_error_clear(&err);
      px_status s = px_pipeline_prepare(&e->cfg, item, &ctx, slot, &err);
      px_arena_enter(prev);
      PX_ASSERT_OK(s);
      PX_ASSERT_OK(px_bulk_add(b));
      if (interleave) {
        char other[128];
        snprintf(other, sizeof other, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Other\",\"messageId\":\"o%d-%zu\"}", r, i);
        PX_ASSERT_OK(env_ingest_from(e, e->crm, other, NULL));
      }
    }
  }
  PX_ASSERT_OK(px_bulk_finish(b, accepted, dups));
}

/* Every profile renders the same before and after a replay of the log. */
static void expect_replay_identical(env *e) {
  size_t n;
  uint64_t *ids = env_profiles(e, &n);
  PX_ASSERT_INT_CMP(n, >=, 4);
  char **before = calloc(n, sizeof *before);
  for (size_t i = 0; i < n; i++) before[i] = env_render_text(e, ids[i]);
  px_error err;
  px_error_clear(&err);
  PX_ASSERT_OK(px_pipeline_replay(e->st, NULL, NULL, &err));
  for (size_t i = 0; i < n; i++) {
    char *after = env_render_text(e, ids[i]);
    if (strcmp(before[i], after) != 0)
      fail_msg("profile %016llx differs after replay:\nbulk   %s\nreplay %s", (unsigned long long)ids[i], before[i],
               after);
    free(after);
    free(before[i]);
  }
  free(before);
  free(ids);
}

static void test_bulk_equals_replay(void **state) {
  env *e = E;
  PX_ASSERT_NULL(env_story(NEVENTS - 1)); /* the story has NEVENTS - 1 messages */
  PX_ASSERT_TRUE(env_story(NEVENTS - 2) != NULL);
  uint64_t accepted, dups;
  load(e, 4, 3, 0, &accepted, &dups); /* chunks of 3: many transactions, groups of two */
  /* New: 11 generated messageIds in each of rounds 0 and 1, and "dup" and
   * "m-1" once; everything else is a duplicate. */
  PX_ASSERT_UINT_EQ(accepted, 2 * (NEVENTS - 3) + 2);
  PX_ASSERT_UINT_EQ(dups, 4 * NEVENTS - accepted);
  expect_replay_identical(e);
  /* Loaded again: all duplicates, also of what the first load stored. */
  load(e, 1, 5, 0, &accepted, &dups);
  PX_ASSERT_UINT_EQ(accepted, 0);
  PX_ASSERT_UINT_EQ(dups, NEVENTS);
}

static void test_bulk_with_another_writer_between_chunks(void **state) {
  env *e = E;
  uint64_t accepted, dups;
  load(e, 2, 2, 1, &accepted, &dups);
  PX_ASSERT_UINT_EQ(accepted, 2 * (NEVENTS - 3) + 2);
  /* The other writer's events are applied too, and nothing twice. */
  cJSON *p = env_render(e, env_pid(e, "user_id", "u1"));
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(jget(p, "counts"), "by_event"), "Other")), 2 * NEVENTS);
  cJSON_Delete(p);
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), env_counter(e, "seq"));
  expect_replay_identical(e);
}

/* Prepares event(i) with messageId mid into ev. */
static void prepare(env *e, size_t i, const char *mid, px_event *ev) {
  cJSON *item = cJSON_Parse(event(i));
  cJSON_DeleteItemFromObjectCaseSensitive(item, "messageId");
  cJSON_AddStringToObject(item, "messageId", mid);
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = e->web, .received_ms = e->clock};
  e->clock += 1000;
  px_error err;
  PX_ASSERT_OK(px_pipeline_prepare(&e->cfg, item, &ctx, ev, &err));
}

static void log_one(env *e, px_event *ev, uint8_t *dup) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, PX_TXN_LOG, &txn));
  PX_ASSERT_OK(px_pipeline_log_many(txn, e->st, &e->cfg, ev, 1, dup));
  PX_ASSERT_OK(px_store_commit(txn));
}

static px_status apply_one(env *e, px_event *ev, uint8_t *dup) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, PX_TXN_STATE, &txn));
  px_status s = px_pipeline_apply_logged(txn, e->st, &e->cfg, ev, 1, dup);
  if (s == PX_OK) PX_ASSERT_OK(px_store_commit(txn));
  else px_store_abort(txn);
  return s;
}

/* The state half applies only what directly follows the state, once. */
static void test_apply_logged_in_order_only(void **state) {
  env *e = E;
  px_event a, b;
  uint8_t da = 0, db = 0;
  prepare(e, 0, "A", &a);
  prepare(e, 2, "B", &b);
  log_one(e, &a, &da);
  log_one(e, &b, &db);
  PX_ASSERT_UINT_EQ(a.seq + 1, b.seq);
  PX_ASSERT_STATUS(apply_one(e, &b, &db), PX_BEHIND); /* a comes first */
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), 0);
  PX_ASSERT_OK(apply_one(e, &a, &da));
  PX_ASSERT_OK(apply_one(e, &b, &db));
  PX_ASSERT_OK(apply_one(e, &b, &db)); /* again: already applied, nothing happens */
  PX_ASSERT_UINT_EQ(env_counter(e, "applied"), b.seq);
  cJSON *p = env_render(e, env_pid(e, "anonymous_id", "a1"));
  PX_ASSERT_INT_EQ(cJSON_GetNumberValue(jget(jget(p, "counts"), "events")), 1);
  cJSON_Delete(p);
  /* A state transaction cannot touch the dedup table (the log's lock guards it). */
  px_txn *txn;
  px_dedup *d;
  PX_ASSERT_OK(px_store_begin(e->st, PX_TXN_STATE, &txn));
  PX_ASSERT_STATUS(px_store_dedup(txn, &d), PX_INVALID);
  px_store_abort(txn);
  px_event_free(&a);
  px_event_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_apply_logged_in_order_only, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_bulk_equals_replay, env_setup, env_teardown),
    cmocka_unit_test_setup_teardown(test_bulk_with_another_writer_between_chunks, env_setup, env_teardown),
};

PX_TEST_MAIN(tests)
