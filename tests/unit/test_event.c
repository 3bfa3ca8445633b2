/* event: validation and normalization of Segment messages, stored records. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/timeutil.h"
#include "event/event.h"
#include "px_test.h"

#define RECEIVED 1714557600000LL /* 2024-05-01T10:00:00Z */

static px_status from_json(const char *json, px_event_type type, px_event *ev, px_error *e) {
  cJSON *j = cJSON_Parse(json);
  if (!j) fail_msg("bad JSON in test: %.200s", json);
  px_event_ctx ctx = {.type = type, .source_id = 7, .received_ms = RECEIVED};
  px_error_clear(e);
  return px_event_from_json(j, &ctx, ev, e);
}

static void expect_ok(const char *json, px_event_type type, px_event *ev) {
  px_error e;
  px_status s = from_json(json, type, ev, &e);
  if (s != PX_OK) fail_msg("%.300s: %s field=%s reason=%s", json, px_status_str(s), e.field, e.reason);
}

/* Rejected with this status and field ("x*": a field starting with x). */
static void expect_reject(const char *json, px_event_type type, px_status want, const char *field) {
  px_event ev;
  px_error e;
  px_status s = from_json(json, type, &ev, &e);
  if (s == PX_OK) px_event_free(&ev);
  if (s != want)
    fail_msg("%.300s: %s (field=%s reason=%s), want %s", json, px_status_str(s), e.field, e.reason,
             px_status_str(want));
  size_t fl = field ? strlen(field) : 0;
  int prefix = fl && field[fl - 1] == '*';
  if (field && (prefix ? strncmp(e.field, field, fl - 1) : strcmp(e.field, field)) != 0)
    fail_msg("%.300s: field \"%s\" (reason=%s), want \"%s\"", json, e.field, e.reason, field);
  if (!e.reason[0]) fail_msg("%.300s: no reason", json);
  /* A rejected event holds nothing. */
  PX_ASSERT_NULL(ev.root);
  PX_ASSERT_NULL(ev.rec);
}

static const char *str_at(const cJSON *root, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, a);
  if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_type_names(void **state) {
  (void)state;
  static const char *names[] = {"identify", "track", "page", "screen", "group", "alias"};
  for (int i = 0; i < 6; i++) {
    PX_ASSERT_INT_EQ(px_event_type_parse(names[i]), i + 1);
    PX_ASSERT_STR_EQ(px_event_type_name((px_event_type)(i + 1)), names[i]);
  }
  PX_ASSERT_INT_EQ(px_event_type_parse("Track"), PX_EV_NONE);
  PX_ASSERT_INT_EQ(px_event_type_parse("none"), PX_EV_NONE);
  PX_ASSERT_INT_EQ(px_event_type_parse(""), PX_EV_NONE);
  PX_ASSERT_STR_EQ(px_event_type_name((px_event_type)99), "none");
}

static void test_each_type_accepted(void **state) {
  (void)state;
  px_event ev;
  expect_ok("{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":\"pro\"}}", PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.type, PX_EV_IDENTIFY);
  PX_ASSERT_STR_EQ(ev.user_id, "u1");
  PX_ASSERT_NULL(ev.anonymous_id);
  assert_non_null(ev.traits);
  PX_ASSERT_UINT_EQ(ev.source_id, 7);
  PX_ASSERT_INT_EQ(ev.received_ms, RECEIVED);
  px_event_free(&ev);

  expect_ok("{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"Signed Up\",\"properties\":{\"x\":1}}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.type, PX_EV_TRACK);
  PX_ASSERT_STR_EQ(ev.name, "Signed Up");
  assert_non_null(ev.properties);
  PX_ASSERT_NULL(ev.traits);
  px_event_free(&ev);

  expect_ok("{\"type\":\"page\",\"userId\":\"u1\",\"name\":\"Home\"}", PX_EV_NONE, &ev);
  PX_ASSERT_STR_EQ(ev.name, "Home");
  px_event_free(&ev);
  expect_ok("{\"type\":\"page\",\"userId\":\"u1\",\"name\":null}", PX_EV_NONE, &ev);
  PX_ASSERT_NULL(ev.name);
  px_event_free(&ev);
  expect_ok("{\"type\":\"screen\",\"userId\":\"u1\"}", PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.type, PX_EV_SCREEN);
  px_event_free(&ev);
  expect_ok("{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g1\",\"traits\":{\"name\":\"Acme\"}}",
            PX_EV_NONE, &ev);
  PX_ASSERT_STR_EQ(ev.group_id, "g1");
  assert_non_null(ev.traits);
  px_event_free(&ev);
  expect_ok("{\"type\":\"alias\",\"userId\":\"u2\",\"previousId\":\"u1\"}", PX_EV_NONE, &ev);
  PX_ASSERT_STR_EQ(ev.previous_id, "u1");
  px_event_free(&ev);
}

static void test_type_errors(void **state) {
  (void)state;
  expect_reject("{\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "type");
  expect_reject("{\"type\":\"purchase\",\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "type");
  expect_reject("{\"type\":\"Identify\",\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "type");
  expect_reject("{\"type\":2,\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "type");
  expect_reject("{\"type\":null,\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "type");
  /* An endpoint fixes the type; a contradicting "type" is an error. */
  expect_reject("{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"x\"}", PX_EV_IDENTIFY, PX_INVALID, "type");
  expect_reject("{\"type\":[],\"userId\":\"u1\"}", PX_EV_IDENTIFY, PX_INVALID, "type");
  expect_reject("[]", PX_EV_NONE, PX_INVALID, "");
  expect_reject("\"identify\"", PX_EV_NONE, PX_INVALID, "");
}

static void test_endpoint_type(void **state) {
  (void)state;
  px_event ev;
  expect_ok("{\"userId\":\"u1\",\"event\":\"Clicked\"}", PX_EV_TRACK, &ev);
  PX_ASSERT_INT_EQ(ev.type, PX_EV_TRACK);
  PX_ASSERT_STR_EQ(str_at(ev.root, "type", NULL), "track");
  px_event_free(&ev);
  expect_ok("{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Clicked\"}", PX_EV_TRACK, &ev);
  px_event_free(&ev);
}

static void test_missing_ids(void **state) {
  (void)state;
  expect_reject("{\"type\":\"identify\"}", PX_EV_NONE, PX_INVALID, "userId");
  expect_reject("{\"type\":\"identify\",\"userId\":\"\",\"anonymousId\":\"\"}", PX_EV_NONE, PX_INVALID, "userId");
  expect_reject("{\"type\":\"identify\",\"userId\":null,\"anonymousId\":null}", PX_EV_NONE, PX_INVALID, "userId");
  expect_reject("{\"type\":\"identify\",\"userId\":{\"id\":1}}", PX_EV_NONE, PX_INVALID, "userId");
  expect_reject("{\"type\":\"identify\",\"userId\":true}", PX_EV_NONE, PX_INVALID, "userId");
  expect_reject("{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":[\"a\"]}", PX_EV_NONE,
                PX_INVALID, "anonymousId");
  expect_reject("{\"type\":\"identify\",\"userId\":\"u1\",\"messageId\":{}}", PX_EV_NONE, PX_INVALID, "messageId");
}

static void test_id_lengths(void **state) {
  (void)state;
  char json[1024], id[300];
  memset(id, 'i', 257);
  id[257] = 0;
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "userId");
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"anonymousId\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "anonymousId");
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "messageId");
  snprintf(json, sizeof json, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "event");
  snprintf(json, sizeof json, "{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "groupId");
  snprintf(json, sizeof json, "{\"type\":\"page\",\"userId\":\"u\",\"name\":\"%s\"}", id);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "name");
  id[256] = 0; /* 256 bytes is allowed */
  px_event ev;
  snprintf(json, sizeof json, "{\"type\":\"track\",\"userId\":\"%s\",\"event\":\"%s\"}", id, id);
  expect_ok(json, PX_EV_NONE, &ev);
  px_event_free(&ev);
}

static void test_numeric_ids_become_strings(void **state) {
  (void)state;
  px_event ev;
  expect_ok("{\"type\":\"group\",\"userId\":42,\"anonymousId\":-7,\"groupId\":9007199254740991,"
            "\"messageId\":1.5}",
            PX_EV_NONE, &ev);
  PX_ASSERT_STR_EQ(ev.user_id, "42");
  PX_ASSERT_STR_EQ(ev.anonymous_id, "-7");
  PX_ASSERT_STR_EQ(ev.group_id, "9007199254740991");
  PX_ASSERT_STR_EQ(ev.message_id, "1.5");
  PX_ASSERT_STR_EQ(str_at(ev.root, "userId", NULL), "42");
  px_event_free(&ev);
}

static void test_track_needs_event(void **state) {
  (void)state;
  expect_reject("{\"type\":\"track\",\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "event");
  expect_reject("{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"\"}", PX_EV_NONE, PX_INVALID, "event");
  expect_reject("{\"type\":\"track\",\"userId\":\"u1\",\"event\":5}", PX_EV_NONE, PX_INVALID, "event");
  expect_reject("{\"type\":\"track\",\"userId\":\"u1\",\"event\":null}", PX_EV_NONE, PX_INVALID, "event");
  expect_reject("{\"userId\":\"u1\"}", PX_EV_TRACK, PX_INVALID, "event");
}

static void test_page_name_type(void **state) {
  (void)state;
  expect_reject("{\"type\":\"page\",\"userId\":\"u1\",\"name\":5}", PX_EV_NONE, PX_INVALID, "name");
  expect_reject("{\"type\":\"screen\",\"userId\":\"u1\",\"name\":{}}", PX_EV_NONE, PX_INVALID, "name");
}

static void test_group_needs_group_id(void **state) {
  (void)state;
  expect_reject("{\"type\":\"group\",\"userId\":\"u1\"}", PX_EV_NONE, PX_INVALID, "groupId");
  expect_reject("{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"\"}", PX_EV_NONE, PX_INVALID, "groupId");
  expect_reject("{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":null}", PX_EV_NONE, PX_INVALID, "groupId");
  expect_reject("{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":[1]}", PX_EV_NONE, PX_INVALID, "groupId");
}

static void test_alias_needs_both_ids(void **state) {
  (void)state;
  expect_reject("{\"type\":\"alias\",\"userId\":\"u2\"}", PX_EV_NONE, PX_INVALID, "previousId");
  expect_reject("{\"type\":\"alias\",\"userId\":\"u2\",\"previousId\":\"\"}", PX_EV_NONE, PX_INVALID,
                "previousId");
  expect_reject("{\"type\":\"alias\",\"userId\":\"u2\",\"previousId\":{}}", PX_EV_NONE, PX_INVALID,
                "previousId");
  expect_reject("{\"type\":\"alias\",\"anonymousId\":\"a1\",\"previousId\":\"u1\"}", PX_EV_NONE,
                PX_INVALID, "userId");
}

static void test_bad_timestamps(void **state) {
  (void)state;
  static const char *fields[] = {"timestamp", "sentAt", "originalTimestamp"};
  static const char *values[] = {"\"2023-02-29T00:00:00Z\"", "\"yesterday\"", "\"\"", "1714557600000",
                                 "\"2024-05-01T25:00:00Z\"", "{}", "true"};
  for (size_t f = 0; f < 3; f++)
    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
      char json[256];
      snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u\",\"%s\":%s}", fields[f], values[v]);
      expect_reject(json, PX_EV_NONE, PX_INVALID, fields[f]);
    }
}

static void test_non_object_parts(void **state) {
  (void)state;
  expect_reject("{\"type\":\"identify\",\"userId\":\"u\",\"context\":\"x\"}", PX_EV_NONE, PX_INVALID, "context");
  expect_reject("{\"type\":\"identify\",\"userId\":\"u\",\"traits\":[1]}", PX_EV_NONE, PX_INVALID, "traits");
  expect_reject("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":5}", PX_EV_NONE,
                PX_INVALID, "properties");
  expect_reject("{\"type\":\"identify\",\"userId\":\"u\",\"integrations\":true}", PX_EV_NONE,
                PX_INVALID, "integrations");
  expect_reject("{\"type\":\"identify\",\"userId\":\"u\",\"context\":{\"traits\":\"x\"}}", PX_EV_NONE,
                PX_INVALID, "context.traits");
  /* null parts are simply dropped. */
  px_event ev;
  expect_ok("{\"type\":\"identify\",\"userId\":\"u\",\"context\":null,\"traits\":null}", PX_EV_NONE, &ev);
  PX_ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(ev.root, "context"));
  PX_ASSERT_NULL(ev.traits);
  px_event_free(&ev);
}

/* {"type":"track",...,"properties":{"a":{"a":...{"a":1}}}} with `levels`
 * objects in all, the message itself included. */
static char *nested(int levels) {
  size_t cap = 200 + (size_t)levels * 8;
  char *s = malloc(cap);
  strcpy(s, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":");
  for (int i = 2; i < levels; i++) strcat(s, "{\"a\":");
  strcat(s, "{\"a\":1}");
  for (int i = 2; i < levels; i++) strcat(s, "}");
  strcat(s, "}");
  return s;
}

static void test_depth_limit(void **state) {
  (void)state;
  px_event ev;
  px_error e;
  char *deep = nested(PX_MAX_DEPTH + 1);
  px_status s = from_json(deep, PX_EV_NONE, &ev, &e);
  PX_ASSERT_STATUS(s, PX_INVALID);
  if (strncmp(e.field, "properties.a.a", 14) != 0) fail_msg("field \"%s\"", e.field);
  free(deep);
  /* Arrays count as levels too. */
  char arr[400] = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"l\":";
  for (int i = 0; i < PX_MAX_DEPTH; i++) strcat(arr, "[");
  for (int i = 0; i < PX_MAX_DEPTH; i++) strcat(arr, "]");
  strcat(arr, "}}");
  expect_reject(arr, PX_EV_NONE, PX_INVALID, NULL);
  /* 31 levels of objects holding values are fine. */
  char *ok = nested(PX_MAX_DEPTH - 1);
  expect_ok(ok, PX_EV_NONE, &ev);
  px_event_free(&ev);
  free(ok);
}

/* Regression (fixed; src/event/event.c, check_node): PX_MAX_DEPTH is the "nesting of
 * objects/arrays in a message", but scalar leaves are counted as a level too,
 * so a message with 32 nested objects is rejected as soon as the innermost one
 * holds a value ({"a":1} at level 32 fails, {} passes). Fixed: only objects and arrays count as a level. */
static void test_depth_limit_allows_32_levels(void **state) {
  (void)state;
  px_event ev;
  char *ok = nested(PX_MAX_DEPTH), json[1024];
  snprintf(json, sizeof json, "%s", ok);
  free(ok);
  expect_ok(json, PX_EV_NONE, &ev);
  px_event_free(&ev);
}

static void test_string_limit(void **state) {
  (void)state;
  char *big = malloc(PX_MAX_STRING_BYTES + 200);
  char *json = malloc(PX_MAX_STRING_BYTES + 400);
  memset(big, 's', PX_MAX_STRING_BYTES);
  big[PX_MAX_STRING_BYTES] = 0;
  snprintf(json, PX_MAX_STRING_BYTES + 400, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"bio\":\"%s\"}}", big);
  px_event ev;
  expect_ok(json, PX_EV_NONE, &ev);
  px_event_free(&ev);
  strcat(big, "s"); /* 8193 */
  snprintf(json, PX_MAX_STRING_BYTES + 400, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"bio\":\"%s\"}}", big);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "traits.bio");
  snprintf(json, PX_MAX_STRING_BYTES + 400, "{\"type\":\"identify\",\"userId\":\"u\",\"context\":{\"l\":[1,\"%s\"]}}", big);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "context.l[1]");
  free(big);
  free(json);
}

static void test_key_limit(void **state) {
  (void)state;
  char key[300], json[700];
  memset(key, 'k', PX_MAX_KEY_BYTES);
  key[PX_MAX_KEY_BYTES] = 0;
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"%s\":1}}", key);
  px_event ev;
  expect_ok(json, PX_EV_NONE, &ev);
  px_event_free(&ev);
  strcat(key, "k");
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"%s\":1}}", key);
  expect_reject(json, PX_EV_NONE, PX_INVALID, "traits*");
  snprintf(json, sizeof json, "{\"type\":\"identify\",\"userId\":\"u\",\"%s\":1}", key);
  expect_reject(json, PX_EV_NONE, PX_INVALID, NULL);
}

static void test_message_size_limit(void **state) {
  (void)state;
  /* Five 8000-byte strings: each is allowed, together they exceed 32 KB. */
  size_t cap = 5 * 8100 + 200;
  char *json = malloc(cap);
  char s[8001];
  memset(s, 'x', 8000);
  s[8000] = 0;
  snprintf(json, cap, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":{");
  for (int i = 0; i < 5; i++)
    snprintf(json + strlen(json), cap - strlen(json), "%s\"p%d\":\"%s\"", i ? "," : "", i, s);
  strcat(json, "}}");
  expect_reject(json, PX_EV_NONE, PX_TOO_LARGE, NULL);
  /* Three fit. */
  snprintf(json, cap, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":{");
  for (int i = 0; i < 3; i++)
    snprintf(json + strlen(json), cap - strlen(json), "%s\"p%d\":\"%s\"", i ? "," : "", i, s);
  strcat(json, "}}");
  px_event ev;
  expect_ok(json, PX_EV_NONE, &ev);
  PX_ASSERT_INT_CMP(ev.rec_len, <=, sizeof(px_event_rec) + PX_MAX_MESSAGE_BYTES);
  px_event_free(&ev);
  free(json);
}

static int64_t iso(const char *s) {
  int64_t v;
  if (px_time_parse_iso(s, &v) != PX_OK) fail_msg("bad time in test: %s", s);
  return v;
}

static void test_clock_skew_correction(void **state) {
  (void)state;
  px_event ev;
  /* The client's clock is 1 h 5 min fast: it created the event 30 s before it
   * sent it; we received it at RECEIVED. timestamp = receivedAt - (sentAt - originalTimestamp). */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
            "\"originalTimestamp\":\"2024-05-01T11:04:30Z\",\"sentAt\":\"2024-05-01T11:05:00Z\"}",
            PX_EV_NONE, &ev);
  int64_t want = RECEIVED - (iso("2024-05-01T11:05:00Z") - iso("2024-05-01T11:04:30Z"));
  PX_ASSERT_INT_EQ(ev.timestamp_ms, want);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, iso("2024-05-01T09:59:30Z"));
  PX_ASSERT_STR_EQ(str_at(ev.root, "timestamp", NULL), "2024-05-01T09:59:30.000Z");
  PX_ASSERT_STR_EQ(str_at(ev.root, "receivedAt", NULL), "2024-05-01T10:00:00.000Z");
  px_event_free(&ev);

  /* With offsets and milliseconds, and a client timestamp that the formula overrides. */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2020-01-01T00:00:00Z\","
            "\"originalTimestamp\":\"2024-05-01T08:00:00.250-02:00\",\"sentAt\":\"2024-05-01T10:00:01.000Z\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, RECEIVED - 750);
  px_event_free(&ev);

  /* A clock that is slow moves the event forward. */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
            "\"originalTimestamp\":\"2024-05-01T08:00:00Z\",\"sentAt\":\"2024-05-01T08:00:10Z\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, RECEIVED - 10000);
  px_event_free(&ev);
}

static void test_timestamp_precedence(void **state) {
  (void)state;
  px_event ev;
  /* timestamp alone (or with only sentAt) is taken as sent. */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-04-01T00:00:00+02:00\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, iso("2024-03-31T22:00:00Z"));
  PX_ASSERT_STR_EQ(str_at(ev.root, "timestamp", NULL), "2024-03-31T22:00:00.000Z");
  px_event_free(&ev);
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"2024-04-01T00:00:00Z\","
            "\"sentAt\":\"2024-05-01T00:00:00Z\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, iso("2024-04-01T00:00:00Z"));
  px_event_free(&ev);
  /* originalTimestamp without sentAt. */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"originalTimestamp\":\"2024-04-02\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, iso("2024-04-02"));
  px_event_free(&ev);
  /* Nothing: the time we received it. A client receivedAt is replaced. */
  expect_ok("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"receivedAt\":\"1999-01-01T00:00:00Z\","
            "\"timestamp\":null}",
            PX_EV_NONE, &ev);
  PX_ASSERT_INT_EQ(ev.timestamp_ms, RECEIVED);
  PX_ASSERT_STR_EQ(str_at(ev.root, "receivedAt", NULL), "2024-05-01T10:00:00.000Z");
  PX_ASSERT_STR_EQ(str_at(ev.root, "timestamp", NULL), "2024-05-01T10:00:00.000Z");
  px_event_free(&ev);
}

static void test_message_id(void **state) {
  (void)state;
  px_event a, b;
  expect_ok("{\"type\":\"identify\",\"userId\":\"u\"}", PX_EV_NONE, &a);
  expect_ok("{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"\"}", PX_EV_NONE, &b);
  assert_non_null(a.message_id);
  assert_non_null(b.message_id);
  PX_ASSERT_INT_EQ(strncmp(a.message_id, "px-", 3), 0);
  PX_ASSERT_INT_EQ(strlen(a.message_id), 3 + 36);
  PX_ASSERT_INT_NE(strcmp(a.message_id, b.message_id), 0);
  PX_ASSERT_STR_EQ(str_at(a.root, "messageId", NULL), a.message_id);
  px_event_free(&a);
  px_event_free(&b);
  expect_ok("{\"type\":\"identify\",\"userId\":\"u\",\"messageId\":\"m-1\"}", PX_EV_NONE, &a);
  PX_ASSERT_STR_EQ(a.message_id, "m-1");
  px_event_free(&a);
}

static void test_write_key_removed(void **state) {
  (void)state;
  px_event ev;
  expect_ok("{\"type\":\"identify\",\"userId\":\"u\",\"writeKey\":\"pkw_secret\"}", PX_EV_NONE, &ev);
  PX_ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(ev.root, "writeKey"));
  size_t jn;
  const char *json = px_event_rec_json(ev.rec, ev.rec_len, &jn);
  char *copy = strndup(json, jn);
  if (strstr(copy, "pkw_secret")) fail_msg("write key stored: %s", copy);
  free(copy);
  px_event_free(&ev);
}

/* How many members of obj are named name. */
static int count_key(const cJSON *obj, const char *name) {
  int n = 0;
  for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) n += c->string && strcmp(c->string, name) == 0;
  return n;
}

/* Regression (fixed; src/event/event.c, px_event_from_json; found by fuzz_batch): a message
 * may repeat a key (cJSON keeps both), and normalization deletes only the
 * first "writeKey" / "type" / "receivedAt" / "timestamp" / "messageId" with
 * cJSON_DeleteItemFromObjectCaseSensitive. The second copy is stored: a write
 * key ends up in the event log, and a client "receivedAt"/"timestamp" (even
 * an invalid one) comes BEFORE the server's value, so whoever reads the
 * stored JSON (the events feed) sees the client's. 
 * Fixed: every copy of a server-owned key is deleted before the server's
 * value is added. */
static void test_duplicate_keys_cannot_smuggle_fields(void **state) {
  (void)state;
  px_event ev;
  px_error e;
  px_status s = from_json("{\"type\":\"identify\",\"userId\":\"u\",\"writeKey\":\"pkw_a\",\"writeKey\":\"pkw_b\","
                          "\"receivedAt\":\"1999-01-01T00:00:00Z\",\"receivedAt\":\"1999-01-01T00:00:00Z\","
                          "\"timestamp\":\"2024-01-01T00:00:00Z\",\"timestamp\":\"not a time\"}",
                          PX_EV_NONE, &ev, &e);
  if (s != PX_OK) return; /* rejecting such a message is fine */
  int wk = count_key(ev.root, "writeKey"), ra = count_key(ev.root, "receivedAt"), ts = count_key(ev.root, "timestamp");
  const char *first_ra = str_at(ev.root, "receivedAt", NULL);
  int ra_ok = first_ra && strcmp(first_ra, "2024-05-01T10:00:00.000Z") == 0;
  char *json = cJSON_PrintUnformatted(ev.root), stored[1024];
  snprintf(stored, sizeof stored, "%s", json);
  free(json);
  px_event_free(&ev);
  if (wk || ra != 1 || ts != 1 || !ra_ok)
    fail_msg("stored: %s (writeKey x%d, receivedAt x%d, timestamp x%d)", stored, wk, ra, ts);
}

/* Regression (fixed; src/event/event.c, px_event_from_json time correction; found while
 * fuzzing): the skew correction receivedAt - (sentAt - originalTimestamp) is
 * not bounded, so it can land outside years 0000-9999; px_time_format_iso
 * then clamps the year and the stored "timestamp" string names another
 * instant than ev->timestamp_ms (here year ~12024 is written as 9999-...;
 * Feb 29 of such a year is even written as the impossible 9999-02-29).
 * Fixed: such a message is rejected (field "sentAt"). */
static void test_skew_correction_stays_representable(void **state) {
  (void)state;
  px_event ev;
  px_error e;
  px_status s = from_json("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
                          "\"originalTimestamp\":\"9999-12-31T00:00:00Z\",\"sentAt\":\"0000-01-01T00:00:00Z\"}",
                          PX_EV_NONE, &ev, &e);
  if (s != PX_OK) return; /* rejecting it is fine */
  int64_t back = 0;
  char ts[64];
  snprintf(ts, sizeof ts, "%s", str_at(ev.root, "timestamp", NULL));
  px_status ps = px_time_parse_iso(ts, &back);
  int64_t ms = ev.timestamp_ms;
  px_event_free(&ev);
  if (ps != PX_OK || back != ms)
    fail_msg("timestamp_ms %lld stored as \"%s\" (= %lld)", (long long)ms, ts, (long long)back);
}

/* Regression (found in review): 1e999 parses as infinity, was stored as the
 * non-JSON text "inf", and then no replay could decode the log. */
static void test_non_finite_numbers_are_rejected(void **state) {
  (void)state;
  px_event ev;
  px_error e;
  px_status s = from_json("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
                          "\"properties\":{\"big\":1e999}}",
                          PX_EV_NONE, &ev, &e);
  PX_ASSERT_STATUS(s, PX_INVALID);
  PX_ASSERT_STR_EQ(e.field, "properties.big");
  s = from_json("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"ok\":1e300}}",
                PX_EV_NONE, &ev, &e);
  PX_ASSERT_OK(s);
  px_event_free(&ev);
}

/* With its source text and spans (the import path), a record copies the
 * members the normalizer kept and writes the rest: the stored message must
 * read back exactly as the one written from the tree alone. */
static void expect_same_record(const char *json, const cJSON *batch_context, size_t max_spans) {
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = 7, .received_ms = RECEIVED,
                      .batch_context = batch_context};
  px_error e;
  px_event plain, spliced;
  PX_ASSERT_OK(px_event_from_json(cJSON_Parse(json), &ctx, &plain, &e));
  px_json_span spans[16]; /* past max_spans, the record is written, not copied */
  px_json_info info = {.spans = spans, .max_spans = max_spans};
  cJSON *item = px_json_parse_info(json, strlen(json), NULL, &info);
  assert_non_null(item);
  ctx.source_bytes = strlen(json);
  ctx.source_text = json;
  ctx.source_info = &info;
  PX_ASSERT_OK(px_event_from_json(item, &ctx, &spliced, &e));
  size_t an, bn;
  const char *a = px_event_rec_json(plain.rec, plain.rec_len, &an);
  const char *b = px_event_rec_json(spliced.rec, spliced.rec_len, &bn);
  cJSON *ta = cJSON_ParseWithLength(a, an), *tb = cJSON_ParseWithLength(b, bn);
  if (!ta || !tb) fail_msg("%s: a record does not parse: %.*s", json, (int)bn, b);
  char *ca = cJSON_PrintUnformatted(ta), *cb = cJSON_PrintUnformatted(tb);
  /* messageId may be generated: compare everything else. */
  cJSON *input = cJSON_Parse(json);
  int generated = !cJSON_GetObjectItemCaseSensitive(input, "messageId");
  cJSON_Delete(input);
  if (generated) {
    cJSON_DeleteItemFromObjectCaseSensitive(ta, "messageId");
    cJSON_DeleteItemFromObjectCaseSensitive(tb, "messageId");
    free(ca), free(cb);
    ca = cJSON_PrintUnformatted(ta), cb = cJSON_PrintUnformatted(tb);
  }
  if (strcmp(ca, cb) != 0) fail_msg("%s:\n written: %s\n spliced: %s", json, ca, cb);
  free(ca), free(cb);
  cJSON_Delete(ta), cJSON_Delete(tb);
  px_event_free(&plain);
  px_event_free(&spliced);
}

static void test_record_copies_source_text(void **state) {
  (void)state;
  expect_same_record("{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"E\",\"messageId\":\"m\","
                     "\"properties\":{\"a\" : [1, 2.50, \"caf\\u00e9\"]}}", NULL, 16);
  /* Everything the normalizer changes: writeKey and type dropped, ids given
   * as numbers, null objects, a null context.traits, client receivedAt and
   * timestamp replaced, a generated messageId. */
  expect_same_record("{\"writeKey\":\"k\",\"type\":\"identify\",\"userId\":42,\"anonymousId\":7.5,"
                     "\"receivedAt\":\"2020-01-01T00:00:00Z\",\"timestamp\":\"2024-04-30T10:00:00Z\","
                     "\"traits\":{\"email\":\"a@b.co\"},\"properties\":null,\"integrations\":null,"
                     "\"context\":{\"ip\":\"1.2.3.4\",\"traits\":null}}", NULL, 16);
  /* Duplicate members, and a batch context merged into the item's. */
  cJSON *bc = cJSON_Parse("{\"ip\":\"9.9.9.9\",\"locale\":\"en\"}");
  expect_same_record("{\"type\":\"page\",\"anonymousId\":\"a\",\"name\":\"Home\",\"type\":\"page\","
                     "\"context\":{\"ip\":\"1.2.3.4\"}}", bc, 16);
  expect_same_record("{\"type\":\"group\",\"userId\":\"u\",\"groupId\":12}", bc, 16);
  /* More members than spans: written from the tree. */
  expect_same_record("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"a\":1,\"b\":2}", NULL, 2);
  cJSON_Delete(bc);
}

static void test_batch_context_merged(void **state) {
  (void)state;
  cJSON *bc = cJSON_Parse("{\"ip\":\"1.1.1.1\",\"library\":{\"name\":\"batch-lib\"},\"locale\":\"en\","
                          "\"traits\":{\"email\":\"batch@x.io\"}}");
  cJSON *bi = cJSON_Parse("{\"All\":false,\"Mixpanel\":true}");
  px_event_ctx ctx = {.type = PX_EV_NONE, .source_id = 1, .received_ms = RECEIVED,
                      .batch_context = bc, .batch_integrations = bi};
  px_error e;
  px_event ev;
  /* The item's own keys win; missing ones come from the batch. */
  cJSON *item = cJSON_Parse("{\"type\":\"identify\",\"userId\":\"u\",\"context\":{\"ip\":\"2.2.2.2\","
                            "\"traits\":{\"name\":\"Item\"}},\"integrations\":{\"All\":true}}");
  PX_ASSERT_OK(px_event_from_json(item, &ctx, &ev, &e));
  PX_ASSERT_STR_EQ(str_at(ev.root, "context", "ip"), "2.2.2.2");
  PX_ASSERT_STR_EQ(str_at(ev.root, "context", "locale"), "en");
  const cJSON *lib = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev.root, "context"), "library");
  PX_ASSERT_STR_EQ(str_at(lib, "name", NULL), "batch-lib");
  /* context.traits is the item's (objects are not merged deeper). */
  assert_non_null(ev.context_traits);
  PX_ASSERT_STR_EQ(str_at(ev.context_traits, "name", NULL), "Item");
  const cJSON *integ = cJSON_GetObjectItemCaseSensitive(ev.root, "integrations");
  PX_ASSERT_INT_EQ(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(integ, "All")), 1);
  PX_ASSERT_INT_EQ(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(integ, "Mixpanel")), 1);
  px_event_free(&ev);

  /* An item without context gets a copy of the batch's. */
  item = cJSON_Parse("{\"type\":\"identify\",\"userId\":\"u\",\"context\":null}");
  PX_ASSERT_OK(px_event_from_json(item, &ctx, &ev, &e));
  PX_ASSERT_STR_EQ(str_at(ev.root, "context", "ip"), "1.1.1.1");
  PX_ASSERT_STR_EQ(str_at(ev.context_traits, "email", NULL), "batch@x.io");
  px_event_free(&ev);
  /* The batch objects are not changed. */
  char *after = cJSON_PrintUnformatted(bc);
  PX_ASSERT_STR_EQ(after, "{\"ip\":\"1.1.1.1\",\"library\":{\"name\":\"batch-lib\"},\"locale\":\"en\","
                          "\"traits\":{\"email\":\"batch@x.io\"}}");
  free(after);
  cJSON_Delete(bc);
  cJSON_Delete(bi);
}

static void test_record_round_trip(void **state) {
  (void)state;
  px_event ev, dec;
  expect_ok("{\"type\":\"page\",\"userId\":\"u\",\"anonymousId\":\"a\",\"name\":\"Pricing\","
            "\"context\":{\"traits\":{\"email\":\"e@x.io\"}},\"properties\":{\"path\":\"/p\"},"
            "\"timestamp\":\"2024-01-02T03:04:05.678Z\",\"messageId\":\"m1\"}",
            PX_EV_NONE, &ev);
  PX_ASSERT_OK(px_event_decode(ev.rec, ev.rec_len, 42, &dec));
  PX_ASSERT_INT_EQ(dec.type, PX_EV_PAGE);
  PX_ASSERT_UINT_EQ(dec.seq, 42);
  PX_ASSERT_UINT_EQ(dec.source_id, 7);
  PX_ASSERT_INT_EQ(dec.received_ms, RECEIVED);
  PX_ASSERT_INT_EQ(dec.timestamp_ms, ev.timestamp_ms);
  PX_ASSERT_STR_EQ(dec.user_id, "u");
  PX_ASSERT_STR_EQ(dec.anonymous_id, "a");
  PX_ASSERT_STR_EQ(dec.message_id, "m1");
  PX_ASSERT_STR_EQ(dec.name, "Pricing");
  assert_non_null(dec.context_traits);
  assert_non_null(dec.properties);
  char *a = cJSON_PrintUnformatted(ev.root), *b = cJSON_PrintUnformatted(dec.root);
  PX_ASSERT_STR_EQ(a, b);
  size_t jn;
  const char *json = px_event_rec_json(ev.rec, ev.rec_len, &jn);
  PX_ASSERT_INT_EQ(jn, strlen(a));
  PX_ASSERT_INT_EQ(memcmp(json, a, jn), 0);
  free(a);
  free(b);
  px_event_free(&dec);
  px_event_free(&ev);
  px_event_free(&ev);
  px_event_free(NULL);
}

static void test_decode_rejects_bad_records(void **state) {
  (void)state;
  px_event ev;
  char rec[sizeof(px_event_rec) + 16];
  memset(rec, 0, sizeof rec);
  PX_ASSERT_STATUS(px_event_decode(rec, sizeof(px_event_rec) - 1, 1, &ev), PX_STORE);
  px_event_rec h = {.version = 99, .type = PX_EV_TRACK}; /* an unknown record version */
  memcpy(rec, &h, sizeof h);
  memcpy(rec + sizeof h, "{}", 2);
  PX_ASSERT_STATUS(px_event_decode(rec, sizeof h + 2, 1, &ev), PX_STORE);
  h.version = 2;
  memcpy(rec, &h, sizeof h);
  memcpy(rec + sizeof h, "{\"a\":", 5);
  PX_ASSERT_STATUS(px_event_decode(rec, sizeof h + 5, 1, &ev), PX_STORE);
  size_t jn = 99;
  PX_ASSERT_STR_EQ(px_event_rec_json(rec, 3, &jn), "");
  PX_ASSERT_INT_EQ(jn, 0);
}

static void test_check_tree(void **state) {
  (void)state;
  px_error e;
  cJSON *j = cJSON_Parse("{\"a\":[1,{\"b\":\"c\"}]}");
  px_error_clear(&e);
  PX_ASSERT_OK(px_event_check_tree(j, &e));
  cJSON_Delete(j);
  cJSON *scalar = cJSON_CreateNumber(1);
  PX_ASSERT_OK(px_event_check_tree(scalar, NULL));
  cJSON_Delete(scalar);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_type_names),
    cmocka_unit_test(test_each_type_accepted),
    cmocka_unit_test(test_type_errors),
    cmocka_unit_test(test_endpoint_type),
    cmocka_unit_test(test_missing_ids),
    cmocka_unit_test(test_id_lengths),
    cmocka_unit_test(test_numeric_ids_become_strings),
    cmocka_unit_test(test_track_needs_event),
    cmocka_unit_test(test_page_name_type),
    cmocka_unit_test(test_group_needs_group_id),
    cmocka_unit_test(test_alias_needs_both_ids),
    cmocka_unit_test(test_bad_timestamps),
    cmocka_unit_test(test_non_object_parts),
    cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_depth_limit_allows_32_levels),
    cmocka_unit_test(test_string_limit),
    cmocka_unit_test(test_key_limit),
    cmocka_unit_test(test_message_size_limit),
    cmocka_unit_test(test_clock_skew_correction),
    cmocka_unit_test(test_timestamp_precedence),
    cmocka_unit_test(test_message_id),
    cmocka_unit_test(test_write_key_removed),
    cmocka_unit_test(test_duplicate_keys_cannot_smuggle_fields),
    cmocka_unit_test(test_skew_correction_stays_representable),
    cmocka_unit_test(test_non_finite_numbers_are_rejected),
    cmocka_unit_test(test_batch_context_merged),
    cmocka_unit_test(test_record_copies_source_text),
    cmocka_unit_test(test_record_round_trip),
    cmocka_unit_test(test_decode_rejects_bad_records),
    cmocka_unit_test(test_check_tree),
};

PX_TEST_MAIN(tests)
