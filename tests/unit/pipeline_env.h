/* A store in a temp directory with two sources and the pipeline around it,
 * shared by the end-to-end tests (test_pipeline.c, test_profile.c). Header
 * only, static functions: each test file includes it once. */
#ifndef PX_PIPELINE_ENV_H
#define PX_PIPELINE_ENV_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "config/config.h"
#include "identity/identity.h"
#include "ingest/pipeline.h"
#include "metrics/metrics.h"
#include "profile/profile.h"
#include "px_test.h"
#include "source/source.h"
#include "store/key.h"

typedef struct env {
  char dir[4096];
  px_store *st;
  px_config cfg;
  px_metrics m;
  uint32_t web, crm; /* source ids; crm has the higher priority */
  int64_t clock;     /* receivedAt of the next event, advanced 1 s per event */
} env;

static inline int env_setup_with(void **state, const char *config_json) {
  env *e = calloc(1, sizeof *e);
  if (!e) return -1;
  snprintf(e->dir, sizeof e->dir, "%s", px_test_tmpdir());
  px_store_opts o = {.map_size = (size_t)256 << 20};
  if (px_store_open(e->dir, &o, &e->st) != PX_OK) return -1;
  px_txn *txn;
  px_source s;
  char key[PX_SECRET_MAX];
  px_error err;
  px_error_clear(&err);
  if (px_store_begin(e->st, 1, &txn) != PX_OK) return -1;
  if (px_source_add(txn, e->st, "web", 1, &s, key, &err) != PX_OK) return -1;
  e->web = s.id;
  if (px_source_add(txn, e->st, "crm", 10, &s, key, &err) != PX_OK) return -1;
  e->crm = s.id;
  if (config_json && px_config_store(txn, e->st, config_json, strlen(config_json), &err) != PX_OK) {
    print_error("config: %s %s\n", err.field, err.reason);
    return -1;
  }
  if (px_config_load(txn, e->st, &e->cfg, &err) != PX_OK) return -1;
  if (px_store_commit(txn) != PX_OK) return -1;
  px_metrics_init(&e->m);
  e->clock = 1714557600000LL; /* 2024-05-01T10:00:00Z */
  *state = e;
  return 0;
}

static inline int env_setup(void **state) { return env_setup_with(state, NULL); }

static inline int env_teardown(void **state) {
  env *e = *state;
  if (!e) return 0;
  px_config_free(&e->cfg);
  px_store_close(e->st);
  px_test_rmtree(e->dir);
  free(e);
  *state = NULL;
  return 0;
}

/* A story that exercises the whole pipeline: anonymous then identified,
 * a merge, a group, an alias, context traits, phones written two ways and a
 * repeated messageId. Message i, or NULL past the end. */
static inline const char *env_story(size_t i) {
  static const char *const story[] = {
      "{\"type\":\"page\",\"anonymousId\":\"a1\",\"name\":\"Home\",\"timestamp\":\"2024-01-01T00:00:00Z\"}",
      "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":\"free\",\"signup\":\"web\"}}",
      "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"U1@x.io\",\"plan\":\"pro\"}}",
      "{\"type\":\"track\",\"userId\":\"u1\",\"anonymousId\":\"a1\",\"event\":\"Paid\",\"properties\":{\"usd\":10}}",
      "{\"type\":\"identify\",\"userId\":\"u2\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":\"team\"}}",
      "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g1\",\"traits\":{\"name\":\"G\"}}",
      "{\"type\":\"screen\",\"userId\":\"u2\",\"name\":\"Settings\"}",
      "{\"type\":\"alias\",\"userId\":\"u3\",\"previousId\":\"a9\"}",
      "{\"type\":\"track\",\"anonymousId\":\"a9\",\"event\":\"Came back\",\"context\":{\"traits\":{\"city\":\"Oslo\"}}}",
      "{\"type\":\"identify\",\"userId\":\"u3\",\"traits\":{\"phone\":\"555-010-9999\",\"city\":\"Oslo\"}}",
      "{\"type\":\"identify\",\"anonymousId\":\"a7\",\"traits\":{\"phone\":\"(555) 010-9999\",\"city\":\"Bergen\"}}",
      "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"u1@x.io\"},\"messageId\":\"dup\"}",
      "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":\"u1@x.io\"},\"messageId\":\"dup\"}",
  };
  return i < sizeof story / sizeof *story ? story[i] : NULL;
}

/* Prepares and ingests one message from `source` in its own write
 * transaction. Returns the status; *dup (may be NULL) says it was a duplicate. */
static inline px_status env_ingest_typed(env *e, uint32_t source, px_event_type type, const char *json, int *dup) {
  cJSON *item = cJSON_Parse(json);
  if (!item) fail_msg("bad JSON in test: %.300s", json);
  px_event_ctx ctx = {.type = type, .source_id = source, .received_ms = e->clock};
  e->clock += 1000;
  px_event ev;
  px_error err;
  px_error_clear(&err);
  px_status s = px_pipeline_prepare(&e->cfg, item, &ctx, &ev, &err);
  if (s != PX_OK) {
    print_error("prepare %.300s: %s %s %s\n", json, px_status_str(s), err.field, err.reason);
    return s;
  }
  px_txn *txn;
  if ((s = px_store_begin(e->st, 1, &txn)) != PX_OK) {
    px_event_free(&ev);
    return s;
  }
  int d = 0;
  s = px_pipeline_ingest(txn, e->st, &e->cfg, &ev, &d, &e->m);
  if (s == PX_OK)
    s = px_store_commit(txn);
  else
    px_store_abort(txn);
  px_event_free(&ev);
  if (dup) *dup = d;
  return s;
}

/* The same, for a message that says its own type. */
static inline px_status env_ingest_from(env *e, uint32_t source, const char *json, int *dup) {
  return env_ingest_typed(e, source, PX_EV_NONE, json, dup);
}

/* Ingests from the web source and fails the test on any error. */
static inline void env_ingest(env *e, const char *json) {
  px_status s = env_ingest_from(e, e->web, json, NULL);
  if (s != PX_OK) fail_msg("ingest %.300s: %s", json, px_status_str(s));
}

/* The profile holding kind:value, or 0. */
static inline uint64_t env_pid(env *e, const char *kind, const char *value) {
  px_txn *txn;
  uint64_t pid = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_status s = px_identity_lookup(txn, e->st, &e->cfg, kind, value, &pid);
  px_store_abort(txn);
  if (s == PX_NOT_FOUND) return 0;
  PX_ASSERT_OK(s);
  return pid;
}

/* The single customer view of pid as text (malloc'd), with the timeline. */
static inline char *env_render_text(env *e, uint64_t pid) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  px_buf b;
  px_buf_init(&b, 0);
  px_render_opts o = {.with_timeline = 1};
  px_status s = px_profile_render(txn, e->st, &e->cfg, pid, &o, &b);
  px_store_abort(txn);
  if (s != PX_OK) {
    px_buf_free(&b);
    fail_msg("render %016llx: %s", (unsigned long long)pid, px_status_str(s));
  }
  return b.data;
}

/* The same, parsed (caller deletes). */
static inline cJSON *env_render(env *e, uint64_t pid) {
  char *text = env_render_text(e, pid);
  cJSON *j = cJSON_Parse(text);
  if (!j) fail_msg("render of %016llx is not JSON: %.500s", (unsigned long long)pid, text);
  free(text);
  return j;
}

static inline uint64_t env_counter(env *e, const char *name) {
  px_txn *txn;
  uint64_t v = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_store_counter(txn, e->st, name, &v));
  px_store_abort(txn);
  return v;
}

static inline uint64_t env_count(env *e, px_db db) {
  px_txn *txn;
  uint64_t v = 0;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  PX_ASSERT_OK(px_store_count(txn, e->st, db, &v));
  px_store_abort(txn);
  return v;
}

/* Entries of the dedup table (it is used in write transactions only). */
static inline uint64_t env_dedup_count(env *e) {
  px_txn *txn;
  px_dedup *d;
  PX_ASSERT_OK(px_store_begin(e->st, 1, &txn));
  PX_ASSERT_OK(px_store_dedup(txn, &d));
  uint64_t v = px_dedup_count(d);
  px_store_abort(txn);
  return v;
}

/* All profile ids (live and merged), ascending; *n set. Caller frees. */
static inline uint64_t *env_profiles(env *e, size_t *n) {
  px_txn *txn;
  PX_ASSERT_OK(px_store_begin(e->st, 0, &txn));
  MDB_cursor *cur;
  PX_ASSERT_INT_EQ(mdb_cursor_open(px_txn_mdb(txn, PX_DB_PROFILES), px_store_dbi(e->st, PX_DB_PROFILES), &cur), 0);
  size_t cap = 16;
  uint64_t *ids = malloc(cap * sizeof *ids);
  *n = 0;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (*n == cap) ids = realloc(ids, (cap *= 2) * sizeof *ids);
    ids[(*n)++] = px_get_u64(k.mv_data);
  }
  mdb_cursor_close(cur);
  px_store_abort(txn);
  return ids;
}

/* Field access on rendered JSON. */
static inline const cJSON *jget(const cJSON *j, const char *name) { return cJSON_GetObjectItemCaseSensitive(j, name); }
static inline const char *jstr(const cJSON *j, const char *name) { return cJSON_GetStringValue(jget(j, name)); }

/* How many identifiers of a kind a rendered profile lists. */
static inline int ident_count(const cJSON *profile, const char *kind) {
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, jget(profile, "identifiers")) {
    const char *k = jstr(it, "kind");
    if (k && strcmp(k, kind) == 0) n++;
  }
  return n;
}

static inline int has_ident(const cJSON *profile, const char *kind, const char *value) {
  const cJSON *it;
  cJSON_ArrayForEach(it, jget(profile, "identifiers")) {
    const char *k = jstr(it, "kind"), *v = jstr(it, "value");
    if (k && v && strcmp(k, kind) == 0 && strcmp(v, value) == 0) return 1;
  }
  return 0;
}

#endif
